# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hypothesis strategies for small clusters and policy sets, shared by the property tests.

Two namespaces on two nodes, pods with few labels (so selectors often overlap), hostNetwork and
finished pods, named ports that differ per pod, ipBlocks that cover pod addresses, node
addresses and outside hosts, and both outside hosts as sources and destinations.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import strategies as st

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.explain import Endpoint
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import (
    Cluster, ContainerPort, IPBlockPeer, Namespace, Node, Pod, frozen_labels, peer_from_manifest, policy_from_manifest)
from netpol_lab.scenario import Probe

NAMESPACES = ("x", "y")
NODES = ("n1", "n2")
KEYS = ("app", "tier")
VALUES = ("1", "2")
PROBES = (Probe("TCP", 80), Probe("TCP", 81), Probe("UDP", 80))
EXTERNALS = (Endpoint("ext", ("172.17.0.5",)), Endpoint("ext-pod-range", ("10.244.3.7",)))
IP_BLOCKS = ({"cidr": "10.244.1.0/24"}, {"cidr": "10.244.0.0/16", "except": ["10.244.2.0/24"]},
             {"cidr": "172.17.0.0/16"}, {"cidr": "10.10.0.0/24"}, {"cidr": "0.0.0.0/0", "except": ["10.244.1.0/25"]})
PORTS = ({"port": 80}, {"port": 81, "protocol": "UDP"}, {"port": "http"}, {"protocol": "UDP"},
         {"port": 80, "endPort": 81}, {"port": "http", "protocol": "UDP"})


@st.composite
def selectors(draw):
    selector = {}
    labels = draw(st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=1))
    if labels:
        selector["matchLabels"] = labels
    operator = draw(st.sampled_from((None, "In", "NotIn", "Exists", "DoesNotExist")))
    if operator is not None:
        expression = {"key": draw(st.sampled_from(KEYS)), "operator": operator}
        if operator in ("In", "NotIn"):
            expression["values"] = sorted(draw(st.sets(st.sampled_from(VALUES), min_size=1)))
        selector["matchExpressions"] = [expression]
    return selector


@st.composite
def peers(draw):
    kind = draw(st.sampled_from(("pods", "namespaces", "both", "block")))
    if kind == "block":
        return {"ipBlock": draw(st.sampled_from(IP_BLOCKS))}
    peer = {}
    if kind in ("pods", "both"):
        peer["podSelector"] = draw(selectors())
    if kind in ("namespaces", "both"):
        peer["namespaceSelector"] = draw(selectors())
    return peer


@st.composite
def rules(draw, peers_field):
    rule = {}
    if draw(st.booleans()):
        rule[peers_field] = draw(st.lists(peers(), min_size=1, max_size=2))
    if draw(st.booleans()):
        rule["ports"] = draw(st.lists(st.sampled_from(PORTS), min_size=1, max_size=2))
    return rule


@st.composite
def policies(draw, name, pod_selector=None):
    spec = {"podSelector": draw(selectors()) if pod_selector is None else pod_selector}
    types = draw(st.sampled_from((None, ["Ingress"], ["Egress"], ["Ingress", "Egress"])))
    if types is not None:
        spec["policyTypes"] = types
    if draw(st.booleans()):
        spec["ingress"] = draw(st.lists(rules("from"), max_size=2))
    if draw(st.booleans()):
        spec["egress"] = draw(st.lists(rules("to"), max_size=2))
    return policy_from_manifest({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                                 "metadata": {"name": name, "namespace": draw(st.sampled_from(NAMESPACES))},
                                 "spec": spec})


def policy_sets(min_size=0, max_size=4):
    return st.integers(min_size, max_size).flatmap(
        lambda count: st.tuples(*(policies("p%d" % number) for number in range(count))))


@st.composite
def pods(draw, number):
    node = draw(st.sampled_from(range(1, len(NODES) + 1)))
    host_network = draw(st.integers(0, 9)) == 0
    if host_network:
        ips = ("10.10.0.%d" % node,)
    else:
        ips = ("10.244.%d.%d" % (node, 10 + number),)
    http = draw(st.sampled_from((None, 80, 81)))
    ports = () if http is None else (ContainerPort("http", http, draw(st.sampled_from(("TCP", "UDP")))),)
    return Pod(draw(st.sampled_from(NAMESPACES)), "pod%d" % number,
               frozen_labels(draw(st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES)))),
               "n%d" % node, ips, host_network, draw(st.sampled_from(("Running",) * 5 + ("Succeeded",))), ports)


@st.composite
def namespace_sets(draw):
    """NAMESPACES, each with its implied name label and a tier label selectors may read."""
    return {name: Namespace(name, frozen_labels({"kubernetes.io/metadata.name": name, "tier": draw(st.sampled_from(VALUES))}))
            for name in NAMESPACES}


@st.composite
def clusters(draw):
    count = draw(st.integers(1, 5))
    namespaces = draw(namespace_sets())
    nodes = tuple(Node(name, ("10.10.0.%d" % number,)) for number, name in enumerate(NODES, start=1))
    return Cluster(namespaces, tuple(draw(pods(number)) for number in range(count)), nodes)


def endpoints(cluster):
    return [Endpoint(pod.key, pod.ips, pod) for pod in cluster.pods if pod.active] + list(EXTERNALS)


# Dual-stack clusters, for the class-based analysis (engine/analysis.py): pods with IPv4, IPv6 or
# both in either order (the first address of a family is the probed one), hostNetwork pods on a node
# address of either family or an address the Node object does not list, pods on a node the facts do
# not list, IPv6 ipBlocks, outside hosts of both families and one on a node's own address, and probes
# of both families, of SCTP and of ports on either side of the policies' port boundaries.
DUAL_STACK_NODES = ("n1", "n2", "n3")  # the facts list n1 and n2 only
DUAL_STACK_IP_BLOCKS = IP_BLOCKS + (
    {"cidr": "fd00:10:244::/48"}, {"cidr": "fd00:10:244::/48", "except": ["fd00:10:244:2::/64"]},
    {"cidr": "::/0", "except": ["fd00:10:244:1::c/126"]}, {"cidr": "2001:db8::/32"}, {"cidr": "fd00:10:10::/64"})
WIDE_PROBES = PROBES + (Probe("TCP", 79), Probe("SCTP", 80), Probe("TCP", 65535), Probe("TCP", 80, 6),
                        Probe("UDP", 81, 6), Probe("TCP", 82, 6))
DUAL_STACK_EXTERNALS = EXTERNALS + (Endpoint("ext6", ("2001:db8::5",)), Endpoint("ext-dual", ("fd00:10:244:3::7", "172.17.1.5")),
                                    Endpoint("ext-node", ("10.10.0.1",)))


def _node_addresses(number):
    return ("10.10.0.%d" % number, "fd00:10:10::%d" % number)


@st.composite
def dual_stack_pods(draw, number):
    """pods(), placed on any of DUAL_STACK_NODES, with addresses of one family, both, or two IPv4."""
    pod = draw(pods(number))
    node = draw(st.sampled_from(range(1, len(DUAL_STACK_NODES) + 1)))
    if pod.host_network:
        node_v4, node_v6 = _node_addresses(node)
        layouts = ((node_v4,), (node_v4, node_v6), (node_v6,), ("10.10.0.%d" % (node + 4),))
    else:
        v4, v6 = "10.244.%d.%d" % (node, 10 + number), "fd00:10:244:%d::%x" % (node, 10 + number)
        layouts = ((v4,), (v6,), (v4, v6), (v6, v4), (v4, "10.244.%d.%d" % (node, 100 + number), v6))
    return replace(pod, node=DUAL_STACK_NODES[node - 1], ips=draw(st.sampled_from(layouts)))


@st.composite
def dual_stack_clusters(draw):
    count = draw(st.integers(1, 6))
    namespaces = draw(namespace_sets())
    nodes = tuple(Node(name, _node_addresses(number)) for number, name in enumerate(NODES, start=1))
    return Cluster(namespaces, tuple(draw(dual_stack_pods(number)) for number in range(count)), nodes)


@st.composite
def dual_stack_policies(draw, name):
    """policies(), each ipBlock peer drawn again from the blocks of both families."""
    policy = draw(policies(name))

    def redrawn(rules):
        return tuple(rule if rule.peers is None else replace(rule, peers=tuple(
            peer_from_manifest({"ipBlock": draw(st.sampled_from(DUAL_STACK_IP_BLOCKS))}) if isinstance(peer, IPBlockPeer)
            else peer for peer in rule.peers)) for rule in rules)
    return replace(policy, ingress=redrawn(policy.ingress), egress=redrawn(policy.egress))


def dual_stack_policy_sets(min_size=0, max_size=4):
    return st.integers(min_size, max_size).flatmap(
        lambda count: st.tuples(*(dual_stack_policies("p%d" % number) for number in range(count))))


def dual_stack_endpoints(cluster):
    return [Endpoint(pod.key, pod.ips, pod) for pod in cluster.pods if pod.active] + list(DUAL_STACK_EXTERNALS)
