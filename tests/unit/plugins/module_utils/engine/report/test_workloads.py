# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pods grouped into workloads: by controller (a Deployment through its ReplicaSet's
pod-template-hash), else by labels, with names unique in each namespace; and the owner references
read from a snapshot or from API objects, their problems located."""

from __future__ import annotations

import json

import pytest

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.owners import Owner, owners_from_cluster, owners_from_snapshot
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.workloads import group_workloads
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import InputError
from report_cases import cluster, namespaces, pod, write

SPACE = namespaces(shop={}, kube={})


def grouped(pods, owners):
    """{workload id: (kind, [pod keys])}."""
    return {workload.id: (workload.kind, [endpoint.name for endpoint in workload.endpoints])
            for workload in group_workloads(cluster(SPACE, pods), owners)}


def test_a_replicaset_named_after_the_pods_template_hash_stands_for_its_deployment():
    pods = [pod("shop/web-7c9-a", {"app": "web", "pod-template-hash": "7c9"}, "10.244.1.10"),
            pod("shop/web-7c9-b", {"app": "web", "pod-template-hash": "7c9"}, "10.244.1.11"),
            # During a rollout the new ReplicaSet's pods belong to the same Deployment.
            pod("shop/web-4b2-a", {"app": "web", "pod-template-hash": "4b2"}, "10.244.1.12"),
            # A ReplicaSet of its own: its name does not end with the pods' hash.
            pod("shop/cache-x", {"app": "cache", "pod-template-hash": "99"}, "10.244.1.13")]
    owners = {"shop/web-7c9-a": Owner("ReplicaSet", "web-7c9"), "shop/web-7c9-b": Owner("ReplicaSet", "web-7c9"),
              "shop/web-4b2-a": Owner("ReplicaSet", "web-4b2"), "shop/cache-x": Owner("ReplicaSet", "cache")}
    assert grouped(pods, owners) == {"shop/cache": ("ReplicaSet", ["shop/cache-x"]),
                                     "shop/web": ("Deployment", ["shop/web-4b2-a", "shop/web-7c9-a", "shop/web-7c9-b"])}


def test_other_controllers_are_the_workload():
    pods = [pod("shop/db-0", {"app": "db", "statefulset.kubernetes.io/pod-name": "db-0"}, "10.244.1.10"),
            pod("shop/db-1", {"app": "db", "statefulset.kubernetes.io/pod-name": "db-1"}, "10.244.1.11"),
            pod("kube/proxy-a", {"k8s-app": "proxy"}, "10.10.0.1", host_network=True)]
    owners = {"shop/db-0": Owner("StatefulSet", "db"), "shop/db-1": Owner("StatefulSet", "db"),
              "kube/proxy-a": Owner("DaemonSet", "kube-proxy")}
    workloads = group_workloads(cluster(SPACE, pods), owners)
    assert [(item.id, item.kind, item.host_network) for item in workloads] == [
        ("kube/kube-proxy", "DaemonSet", True), ("shop/db", "StatefulSet", False)]
    assert workloads[1].labels == (("app", "db"),)  # the per-pod statefulset label is not the workload's


def test_pods_without_a_controller_are_grouped_by_their_labels():
    pods = [pod("shop/a", {"app": "web", "tier": "front"}, "10.244.1.10"),
            pod("shop/b", {"app": "web", "tier": "front"}, "10.244.1.11"),
            pod("shop/c", {"role": "batch"}, "10.244.1.12"),
            pod("shop/d", {"role": "worker"}, "10.244.1.13"),
            pod("shop/e", {"role": "worker"}, "10.244.1.14"),
            # Static pods: their mirror pods' controller is the Node, which is no workload.
            pod("kube/apiserver-n1", {"component": "kube-apiserver"}, "10.10.0.1", host_network=True),
            pod("kube/apiserver-n2", {"component": "kube-apiserver"}, "10.10.0.2", "n2", host_network=True)]
    owners = {"kube/apiserver-n1": Owner("Node", "n1"), "kube/apiserver-n2": Owner("Node", "n2")}
    assert grouped(pods, owners) == {
        "kube/component=kube-apiserver": ("Pod", ["kube/apiserver-n1", "kube/apiserver-n2"]),
        "shop/web": ("Pod", ["shop/a", "shop/b"]),  # named by their app label
        "shop/c": ("Pod", ["shop/c"]),  # one pod: its name
        "shop/role=worker": ("Pod", ["shop/d", "shop/e"]),  # several, no name label: their labels
    }


def test_names_shared_in_a_namespace_are_made_distinct():
    pods = [pod("shop/web-1", {"app": "web"}, "10.244.1.10"),
            pod("shop/web-x", {"app": "web", "version": "2"}, "10.244.1.11"),
            pod("shop/web-0", {"app": "web", "tier": "db"}, "10.244.1.12")]
    owners = {"shop/web-0": Owner("StatefulSet", "web")}
    # The StatefulSet "web" and two label groups with app=web would all be "web".
    assert grouped(pods, owners) == {"shop/StatefulSet/web": ("StatefulSet", ["shop/web-0"]),
                                     "shop/app=web": ("Pod", ["shop/web-1"]),
                                     "shop/app=web,version=2": ("Pod", ["shop/web-x"])}


def test_pods_that_do_not_run_are_left_out():
    pods = [pod("shop/done", {"app": "job"}, "10.244.1.10", phase="Succeeded"), pod("shop/pending", {"app": "new"}, ())]
    assert not group_workloads(cluster(SPACE, pods), {})


SNAPSHOT = {"apiVersion": "v1", "kind": "List", "items": [
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-7c9-a", "namespace": "shop", "ownerReferences": [
        {"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "1"},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7c9", "uid": "2", "controller": True}]}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare", "namespace": "shop"}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
]}


def test_owners_are_the_controller_references_of_a_snapshot(tmp_path):
    path = write(tmp_path, "cluster.json", json.dumps(SNAPSHOT))
    assert owners_from_snapshot(path) == {"shop/web-7c9-a": Owner("ReplicaSet", "web-7c9")}


def test_owners_of_api_objects():
    pods = [{"metadata": {"name": "db-0", "namespace": "shop",
                          "ownerReferences": [{"kind": "StatefulSet", "name": "db", "controller": True}]}}]
    assert owners_from_cluster({"pods": pods}) == {"shop/db-0": Owner("StatefulSet", "db")}


def test_owner_references_of_the_wrong_shape_are_located(tmp_path):
    path = write(tmp_path, "cluster.yaml", """\
apiVersion: v1
kind: List
items:
  - kind: Pod
    metadata:
      name: a
      namespace: shop
      ownerReferences: {kind: ReplicaSet}
  - kind: Pod
    metadata:
      name: b
      namespace: shop
      ownerReferences:
        - {kind: ReplicaSet, name: b-1, controller: true}
        - {kind: 7, name: b-2, controller: true}
        - {kind: DaemonSet, name: b-3, controller: true}
""")
    with pytest.raises(InputError) as raised:
        owners_from_snapshot(path)
    assert [(problem.line, problem.obj, problem.field, problem.message) for problem in raised.value.problems] == [
        (8, "Pod shop/a", "metadata.ownerReferences", "must be a list of owner references"),
        (15, "Pod shop/b", "metadata.ownerReferences[1].kind", "must be a non-empty string"),
        (16, "Pod shop/b", "metadata.ownerReferences[2]", "a pod has at most one controller reference"),
    ]
    assert all(problem.file == path for problem in raised.value.problems)
