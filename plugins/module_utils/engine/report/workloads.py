# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Workloads: the running pods of a namespace grouped by what a person deploys, so that a matrix
of a thousand pods reads as a matrix of tens of workloads.

- A pod with a controller (its owner reference with controller: true) belongs to that controller.
  A ReplicaSet that a Deployment made is named <deployment>-<pod-template-hash>, and its pods carry
  that hash as their pod-template-hash label: such a pod belongs to the Deployment. A Node as
  controller (the mirror pod of a static pod) counts as no controller.
- Pods without a controller are grouped by their labels (pod-specific labels such as
  pod-template-hash left out): equal labels, one workload, of kind Pod.
- Names: the controller's name; for pods without one, their app.kubernetes.io/name or app label,
  else the pod's name when the group has one pod, else their labels (k=v,...). When two workloads
  of a namespace would share a name, a controller's becomes Kind/name and a label group's its labels.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.explain import Endpoint

POD_KIND = "Pod"
DEPLOYMENT = "Deployment"
REPLICA_SET = "ReplicaSet"
NODE = "Node"
TEMPLATE_HASH_LABEL = "pod-template-hash"
# Labels controllers set per pod or per revision: they tell pods of one workload apart, not workloads.
PER_POD_LABELS = frozenset((TEMPLATE_HASH_LABEL, "controller-revision-hash", "pod-template-generation",
                            "statefulset.kubernetes.io/pod-name", "apps.kubernetes.io/pod-index",
                            "batch.kubernetes.io/job-completion-index", "controller-uid", "batch.kubernetes.io/controller-uid"))
NAME_LABELS = ("app.kubernetes.io/name", "app")
NO_LABELS = "(no labels)"


@dataclass(frozen=True)
class Workload:
    """The running pods of one workload, each as an Endpoint (what the verdicts take)."""

    namespace: str
    name: str
    kind: str
    endpoints: tuple
    labels: tuple = ()  # the labels every pod of it has (pod-specific ones left out)

    @property
    def id(self):
        return "%s/%s" % (self.namespace, self.name)

    @property
    def host_network(self):
        return any(endpoint.pod.host_network for endpoint in self.endpoints)

    def to_dict(self):
        return {"id": self.id, "namespace": self.namespace, "name": self.name, "kind": self.kind,
                "pods": [endpoint.name for endpoint in self.endpoints], "labels": dict(self.labels),
                "host_network": self.host_network}


def controller_of(pod, owner):
    """(kind, name) of the workload a pod's controller stands for, or None without one."""
    if owner is None or owner.kind == NODE:
        return None
    template_hash = dict(pod.labels).get(TEMPLATE_HASH_LABEL)
    if owner.kind == REPLICA_SET and template_hash and owner.name.endswith("-" + template_hash):
        return DEPLOYMENT, owner.name[:-len(template_hash) - 1]
    return owner.kind, owner.name


def workload_labels(pod):
    return tuple(pair for pair in pod.labels if pair[0] not in PER_POD_LABELS)


def labels_text(labels):
    return ",".join("%s=%s" % pair for pair in labels) or NO_LABELS


class _Group:
    """Pods of one namespace that form one workload, before it is named."""

    def __init__(self, namespace, controller, labels):
        self.namespace = namespace
        self.controller = controller  # (kind, name) or None
        self.labels = labels  # for a group without a controller: the labels that group it
        self.pods = []

    def preferred_name(self):
        if self.controller is not None:
            return self.controller[1]
        found = dict(self.labels)
        for key in NAME_LABELS:
            if found.get(key):
                return found[key]
        return self.pods[0].name if len(self.pods) == 1 else labels_text(self.labels)

    def distinct_name(self):
        """A name no other group of the namespace can have: Kind/name (a name has no '/') or the labels."""
        if self.controller is not None:
            return "%s/%s" % self.controller
        return labels_text(self.labels)

    def common_labels(self):
        shared = set(workload_labels(self.pods[0]))
        for pod in self.pods[1:]:
            shared &= set(workload_labels(pod))
        return tuple(sorted(shared))


def group_workloads(cluster, owners):
    """The running pods of the cluster (hostNetwork ones included) as workloads, sorted by namespace
    and name. owners: {namespace/name: Owner} of the pods that have a controller."""
    groups = {}
    for pod in cluster.pods:
        if not pod.active:
            continue
        controller = controller_of(pod, owners.get(pod.key))
        key = (pod.namespace, controller, None if controller is not None else workload_labels(pod))
        if key not in groups:
            groups[key] = _Group(pod.namespace, controller, key[2])
        groups[key].pods.append(pod)
    taken = {}
    for group in groups.values():
        taken.setdefault((group.namespace, group.preferred_name()), []).append(group)
    workloads = []
    for (namespace, name), sharing in taken.items():
        for group in sharing:
            kind = group.controller[0] if group.controller is not None else POD_KIND
            endpoints = tuple(Endpoint(pod.key, pod.ips, pod) for pod in sorted(group.pods, key=lambda pod: pod.key))
            workloads.append(Workload(namespace, name if len(sharing) == 1 else group.distinct_name(), kind, endpoints,
                                      group.common_labels()))
    return tuple(sorted(workloads, key=lambda workload: (workload.namespace, workload.name)))
