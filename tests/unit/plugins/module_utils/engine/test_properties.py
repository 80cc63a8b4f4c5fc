# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Laws of NetworkPolicy that must hold for any cluster and policy set (hypothesis).

Isolation is decided here independently of the resolver, straight from the API rule: a pod is
isolated in a direction when a policy of its namespace selects it and has that policyType.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.explain import Endpoint, explain, truth_table
from netpol_lab.scenario import Probe
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import (
    EGRESS, INGRESS, Cluster, ContainerPort, Namespace, Node, Pod, frozen_labels, policy_from_manifest)
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.slicing import node_slice, restrict_nodes
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.resolve import Resolver, build_plan
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.selectors import selector_matches

SETTINGS = settings(max_examples=60, deadline=None)
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
def clusters(draw):
    count = draw(st.integers(1, 5))
    namespaces = {name: Namespace(name, frozen_labels({"kubernetes.io/metadata.name": name,
                                                       "tier": draw(st.sampled_from(VALUES))}))
                  for name in NAMESPACES}
    nodes = tuple(Node(name, ("10.10.0.%d" % number,)) for number, name in enumerate(NODES, start=1))
    return Cluster(namespaces, tuple(draw(pods(number)) for number in range(count)), nodes)


def endpoints(cluster):
    return [Endpoint(pod.key, pod.ips, pod) for pod in cluster.pods if pod.active] + list(EXTERNALS)


def table(cluster, policy_set):
    return truth_table(Resolver(cluster, policy_set), endpoints(cluster), PROBES, "case")


def selects(policy, pod, direction):
    return (pod.selectable and policy.namespace == pod.namespace and direction in policy.policy_types
            and selector_matches(policy.pod_selector, pod.label_map))


def isolated(pod, direction, policy_set):
    return pod is not None and any(selects(policy, pod, direction) for policy in policy_set)


@SETTINGS
@given(cluster=clusters(), policy_set=policy_sets())
def test_an_unisolated_pod_admits_every_source_that_may_send(cluster, policy_set):
    resolver = Resolver(cluster, policy_set)
    for destination in endpoints(cluster):
        if destination.pod is None or isolated(destination.pod, INGRESS, policy_set):
            continue
        for source in endpoints(cluster):
            if source is destination or isolated(source.pod, EGRESS, policy_set):
                continue
            for probe in PROBES:
                assert explain(resolver, source, destination, probe.protocol, probe.port).allowed, \
                    (source.name, destination.name, probe)


@SETTINGS
@given(cluster=clusters(), policy_set=policy_sets(), idle=policies("idle", pod_selector={"matchLabels": {"app": "none"}}))
def test_a_policy_that_selects_no_pod_changes_no_verdict(cluster, policy_set, idle):
    assert table(cluster, policy_set + (idle,)) == table(cluster, policy_set)


@SETTINGS
@given(cluster=clusters(), policy_set=policy_sets(min_size=2), data=st.data())
def test_the_order_of_policies_changes_nothing(cluster, policy_set, data):
    shuffled = tuple(data.draw(st.permutations(policy_set)))
    assert table(cluster, shuffled) == table(cluster, policy_set)
    assert build_plan(cluster, shuffled) == build_plan(cluster, policy_set)


@SETTINGS
@given(cluster=clusters(), policy_set=policy_sets(max_size=3), extra=policies("extra"))
def test_adding_a_policy_denies_only_by_newly_isolating_an_end(cluster, policy_set, extra):
    pods = {pod.key: pod for pod in cluster.pods}
    before = table(cluster, policy_set)
    after = table(cluster, policy_set + (extra,))
    for source, destination, protocol, port in before["allowed"]:
        if [source, destination, protocol, port] in after["allowed"]:
            continue
        source_pod, destination_pod = pods.get(source), pods.get(destination)
        newly_egress = (source_pod is not None and selects(extra, source_pod, EGRESS)
                        and not isolated(source_pod, EGRESS, policy_set))
        newly_ingress = (destination_pod is not None and selects(extra, destination_pod, INGRESS)
                         and not isolated(destination_pod, INGRESS, policy_set))
        assert newly_egress or newly_ingress, (source, destination, protocol, port)


@SETTINGS
@given(cluster=clusters(), policy_set=policy_sets())
def test_the_plan_lists_each_selectable_pod_on_its_own_node_only(cluster, policy_set):
    plan = build_plan(cluster, policy_set)
    listed = {}
    for node_name, node in plan["nodes"].items():
        for item in node["pods"]:
            listed.setdefault(item["pod"], []).append((node_name, item))
    assert set(listed) == {pod.key for pod in cluster.pods if pod.selectable}
    for pod in cluster.pods:
        if not pod.selectable:
            continue
        [(node_name, item)] = listed[pod.key]
        assert node_name == pod.node
        assert item["ips"] == list(pod.ips)
        for direction in (INGRESS, EGRESS):
            expected = sorted(policy.key for policy in policy_set if selects(policy, pod, direction))
            assert item[direction.lower()] == expected


@SETTINGS
@given(cluster=clusters(), policy_set=policy_sets())
def test_a_node_slice_holds_exactly_the_policies_its_pods_need(cluster, policy_set):
    plan = build_plan(cluster, policy_set)
    for node_name in plan["nodes"]:
        found = node_slice(plan, node_name)
        local = sorted(pod.key for pod in cluster.pods if pod.selectable and pod.node == node_name)
        pods = {pod.key: pod for pod in cluster.pods}
        expected = {}
        for policy in policy_set:
            for direction in (INGRESS, EGRESS):
                targets = [key for key in local if selects(policy, pods[key], direction)]
                if targets:
                    expected[(policy.key, direction.lower())] = targets
        assert {(item["policy"], item["direction"]): item["targets"] for item in found["policies"]} == expected
        for item in found["policies"]:
            for rule in item["rules"]:
                for clause in rule["clauses"]:
                    assert clause["targets"] is None or 0 < len(clause["targets"]) <= len(set(clause["targets"]) & set(item["targets"]))
        # Cutting the plan down to this node changes nothing the node sees.
        assert node_slice(restrict_nodes(plan, [node_name]), node_name) == found
