# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small clusters and policies written by hand for the report's tests, and the report's parts made
from them the way build_report makes them."""

from __future__ import annotations

import os

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import (
    Cluster, ContainerPort, Namespace, Node, Pod, frozen_labels, policy_from_manifest)
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.connections import Judged
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.owners import Owner
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.workloads import group_workloads
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.facts import namespace_labels

NODES = (Node("n1", ("10.10.0.1",)), Node("n2", ("10.10.0.2",)))


def namespaces(**labels):
    """Namespaces by name with their labels (kubernetes.io/metadata.name added, as the facts loader adds it)."""
    return {name: Namespace(name, namespace_labels(name, found)) for name, found in labels.items()}


def pod(key, labels, ip, node="n1", ports=(), host_network=False, phase="Running"):
    namespace, name = key.split("/")
    return Pod(namespace, name, frozen_labels(labels), node, tuple(ip) if isinstance(ip, tuple) else (ip,), host_network, phase,
               tuple(ContainerPort(*port) for port in ports))


def policy(key, spec, source=""):
    namespace, name = key.split("/")
    return policy_from_manifest({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                                 "metadata": {"name": name, "namespace": namespace}, "spec": spec}, source=source)


def cluster(space, pods):
    return Cluster(space, tuple(sorted(pods, key=lambda item: item.key)), NODES)


def judged_with(facts, policies, owners=None):
    """(workloads, Judged) of a cluster and policy set, over the workloads' pods."""
    workloads = group_workloads(facts, owners or {})
    return workloads, Judged(facts, policies, [endpoint for workload in workloads for endpoint in workload.endpoints])


def texts(reasons):
    """Reasons (dicts or Reasons) as their texts, in order."""
    return [reason["text"] if isinstance(reason, dict) else reason.text() for reason in reasons]


# The shop: a Deployment "web" of two pods (only web-1 is a canary), a StatefulSet "db" of one pod,
# and a bare pod in ops. Reasoned by hand in test_matrix.py.
SHOP_NAMESPACES = namespaces(shop={"team": "shop"}, ops={"team": "ops"})
WEB_1 = pod("shop/web-5d8f-a", {"app": "web", "pod-template-hash": "5d8f", "canary": "true"}, "10.244.1.10", "n1")
WEB_2 = pod("shop/web-5d8f-b", {"app": "web", "pod-template-hash": "5d8f"}, "10.244.2.10", "n2")
DB = pod("shop/db-0", {"app": "db", "statefulset.kubernetes.io/pod-name": "db-0"}, "10.244.1.11", "n1")
PROBE = pod("ops/probe", {"app": "probe"}, "10.244.2.11", "n2")
SHOP = cluster(SHOP_NAMESPACES, [WEB_1, WEB_2, DB, PROBE])
SHOP_OWNERS = {WEB_1.key: Owner("ReplicaSet", "web-5d8f"), WEB_2.key: Owner("ReplicaSet", "web-5d8f"),
               DB.key: Owner("StatefulSet", "db")}
FROM_OPS = {"namespaceSelector": {"matchLabels": {"team": "ops"}}}
SHOP_POLICIES = (
    policy("shop/db-ingress", {"podSelector": {"matchLabels": {"app": "db"}},
                               "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                                            "ports": [{"port": 5432}]}]}),
    policy("shop/web-ingress", {"podSelector": {"matchLabels": {"app": "web"}},
                                "ingress": [{"from": [FROM_OPS], "ports": [{"port": 80}]}]}),
    policy("shop/canary-extra", {"podSelector": {"matchLabels": {"canary": "true"}},
                                 "ingress": [{"from": [FROM_OPS], "ports": [{"port": 8080}]}]}),
)


def write(directory, name, text):
    """A file under directory (made if missing) with this text; its path."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(str(directory), name)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path
