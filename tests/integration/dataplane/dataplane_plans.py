# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan slices for the dataplane tests, made by the real resolver from small clusters.

Node n1 is the node under test; n2 holds remote peers.
  x (team=red):  x/a app=a (http=8080) 10.244.1.10 fd00:1::10 on n1
                 x/b app=b             10.244.1.11 fd00:1::11 on n1
                 x/c app=c             10.244.1.12            on n1
                 x/e app=a (http=8080) 10.244.2.11            on n2
  y (team=blue): y/d app=d             10.244.2.10 fd00:2::10 on n2
"""

from __future__ import annotations

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import (
    Cluster, ContainerPort, Namespace, Node, Pod, frozen_labels, policy_from_manifest)
from ansible_collections.kubenet.netpol.plugins.module_utils.node.render import RenderOptions, render
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.slicing import node_slice as slice_of
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.planner import build_plan

NAMESPACES = {"x": {"team": "red"}, "y": {"team": "blue"}}


def pod(key, node, ips, app, http=None):
    namespace, name = key.split("/")
    ports = () if http is None else (ContainerPort("http", http, "TCP"),)
    return Pod(namespace, name, frozen_labels({"app": app}), node, tuple(ips), ports=ports)


STANDARD_PODS = (
    pod("x/a", "n1", ["10.244.1.10", "fd00:1::10"], "a", http=8080),
    pod("x/b", "n1", ["10.244.1.11", "fd00:1::11"], "b"),
    pod("x/c", "n1", ["10.244.1.12"], "c"),
    pod("x/e", "n2", ["10.244.2.11"], "a", http=8080),
    pod("y/d", "n2", ["10.244.2.10", "fd00:2::10"], "d"),
)


def netpol(key, spec):
    namespace, name = key.split("/")
    return policy_from_manifest({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                                 "metadata": {"name": name, "namespace": namespace}, "spec": spec})


STANDARD_POLICIES = (
    netpol("x/deny-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]}),
    netpol("x/allow-b-to-a", {"podSelector": {"matchLabels": {"app": "a"}},
                              "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "b"}}}],
                                           "ports": [{"port": "http"}, {"port": 9000, "endPort": 9100},
                                                     {"port": 8443}, {"port": 8444},
                                                     {"protocol": "SCTP", "port": 9000}]}]}),
    netpol("x/egress-b", {"podSelector": {"matchLabels": {"app": "b"}}, "policyTypes": ["Egress"],
                          "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "a"}}}], "ports": [{"port": 8080}]},
                                     {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}},
                                             {"ipBlock": {"cidr": "::/0", "except": ["fd00::/8"]}}],
                                      "ports": [{"port": 443}, {"protocol": "UDP", "port": 53}]}]}),
    netpol("x/from-blue", {"podSelector": {"matchLabels": {"app": "c"}},
                           "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "blue"}}}]}]}),
)


def cluster(pods):
    namespaces = {name: Namespace(name, frozen_labels(dict(labels, **{"kubernetes.io/metadata.name": name})))
                  for name, labels in NAMESPACES.items()}
    return Cluster(namespaces, tuple(pods), (Node("n1", ("10.10.0.1",)), Node("n2", ("10.10.0.2",))))


def node_slice(pods=STANDARD_PODS, policies=STANDARD_POLICIES, node="n1"):
    """The node's slice of the plan, as netpol_resolve hands it to netpol_chains."""
    return slice_of(build_plan(cluster(pods), policies), node)


def desired(pods=STANDARD_PODS, policies=STANDARD_POLICIES, families=(4, 6), **options):
    return render(node_slice(pods, policies), RenderOptions(families=families, **options))


def without(policies, key):
    return tuple(policy for policy in policies if policy.key != key)


def remote_pods(count, app="d", namespace="y"):
    """Many peers on n2 (10.244.20.0/22 and fd00:20::/64), to give sets real work."""
    return tuple(pod("%s/peer-%d" % (namespace, number), "n2",
                     ["10.244.%d.%d" % (20 + number // 250, 1 + number % 250), "fd00:20::%x" % (number + 1)], app)
                 for number in range(count))
