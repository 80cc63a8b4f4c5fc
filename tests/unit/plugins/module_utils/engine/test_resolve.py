# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-node plan (docs/plan-format.md) of a small cluster, every expected value worked out by hand.

Cluster: namespaces x and y (team=blue); nodes n1 and n2.
  n1: x/a (tier=web, http=80), x/b (tier=web, http=8080)
  n2: x/c (tier=db, no ports), y/d (dual-stack, http=80), x/e (tier=web, http=9000),
      x/host (hostNetwork, tier=web), x/old (Succeeded, tier=web)
"""

from __future__ import annotations

import pytest

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import (
    Cluster, ContainerPort, Namespace, Node, Pod, frozen_labels, policy_from_manifest)
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.slicing import node_slice
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.planner import build_plan
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import PLAN_VERSION


def pod(key, node, ips, labels, http=None, **extra):
    namespace, name = key.split("/")
    ports = () if http is None else (ContainerPort("http", http, "TCP"),)
    return Pod(namespace, name, frozen_labels(labels), node, tuple(ips), ports=ports, **extra)


def namespace(name, **labels):
    return Namespace(name, frozen_labels(dict(labels, **{"kubernetes.io/metadata.name": name})))


def manifest(key, spec):
    namespace_name, name = key.split("/")
    return policy_from_manifest({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                                 "metadata": {"name": name, "namespace": namespace_name}, "spec": spec})


CLUSTER = Cluster(
    {"x": namespace("x"), "y": namespace("y", team="blue")},
    (
        pod("x/a", "n1", ["10.244.1.10"], {"app": "a", "tier": "web"}, http=80),
        pod("x/b", "n1", ["10.244.1.11"], {"app": "b", "tier": "web"}, http=8080),
        pod("x/c", "n2", ["10.244.2.10"], {"app": "c", "tier": "db"}),
        pod("y/d", "n2", ["10.244.2.11", "fd00:10:244:2::b"], {"app": "d"}, http=80),
        pod("x/e", "n2", ["10.244.2.13"], {"app": "e", "tier": "web"}, http=9000),
        pod("x/host", "n2", ["10.10.0.2"], {"app": "a", "tier": "web"}, http=80, host_network=True),
        pod("x/old", "n2", ["10.244.2.12"], {"app": "a", "tier": "web"}, http=80, phase="Succeeded"),
    ),
    (Node("n1", ("10.10.0.1",)), Node("n2", ("10.10.0.2",))),
)

POLICIES = (
    manifest("x/deny-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]}),
    manifest("x/web-ports", {
        "podSelector": {"matchLabels": {"tier": "web"}},
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "c"}}}],
                     "ports": [{"port": 80}, {"protocol": "UDP", "port": 5000, "endPort": 5010},
                               {"protocol": "SCTP"}, {"port": "http"}]}]}),
    manifest("x/egress-named", {
        "podSelector": {"matchLabels": {"app": "c"}}, "policyTypes": ["Egress"],
        "egress": [
            {"to": [{"podSelector": {"matchLabels": {"tier": "web"}}},
                    {"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}}],
             "ports": [{"port": "http"}]},
            {"to": [{"namespaceSelector": {"matchLabels": {"team": "blue"}},
                     "podSelector": {"matchLabels": {"app": "d"}}}]},
            {}]}),
    manifest("x/from-blocks", {
        "podSelector": {"matchLabels": {"app": "a"}},
        "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.244.0.0/16"]}},
                              {"ipBlock": {"cidr": "fd00::/8"}}]}]}),
    manifest("x/also-from-c", {
        "podSelector": {"matchLabels": {"app": "b"}},
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"tier": "db"}}}], "ports": [{"port": 443}]}]}),
    manifest("x/bad-named", {"podSelector": {"matchLabels": {"app": "c"}}, "ingress": [{"ports": [{"port": "metrics"}]}]}),
    manifest("x/nothing", {"podSelector": {"matchLabels": {"app": "zzz"}}, "policyTypes": ["Ingress"]}),
    manifest("y/deny-all-d", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
    manifest("z/ghost", {"podSelector": {}}),
)


@pytest.fixture(scope="module")
def plan():
    return build_plan(CLUSTER, POLICIES)


def entry(plan, node, key, direction):
    """The plan entry of one policy direction on one node, or None."""
    found = [item for item in node_slice(plan, node)["policies"]
             if item["policy"] == key and item["direction"] == direction]
    assert len(found) <= 1
    return found[0] if found else None


def expanded(plan, node, clause):
    """A clause with its pod_set id replaced by the addresses it names, for comparison."""
    peers = clause["peers"]
    if peers is not None and peers["pod_set"] is not None:
        peers = dict(peers, pod_set=node_slice(plan, node)["peer_sets"][peers["pod_set"]])
    return dict(clause, peers=peers)


def clauses(plan, node, key, direction, index):
    rule = entry(plan, node, key, direction)["rules"][index]
    assert rule["index"] == index
    return [expanded(plan, node, clause) for clause in rule["clauses"]]


def tcp(port):
    return {"protocol": "TCP", "port": port, "end_port": port}


def pods_peer(*ips):
    return {"pod_set": list(ips), "ip_blocks": []}


class TestPods:
    def test_each_node_lists_only_its_selectable_pods(self, plan):
        assert [item["pod"] for item in plan["nodes"]["n1"]["pods"]] == ["x/a", "x/b"]
        # x/host (hostNetwork) and x/old (Succeeded) are on n2 but never selectable.
        assert [item["pod"] for item in plan["nodes"]["n2"]["pods"]] == ["x/c", "x/e", "y/d"]

    def test_pod_entries_carry_addresses_and_isolation(self, plan):
        n1 = {item["pod"]: item for item in plan["nodes"]["n1"]["pods"]}
        n2 = {item["pod"]: item for item in plan["nodes"]["n2"]["pods"]}
        assert n1["x/a"] == {"pod": "x/a", "ips": ["10.244.1.10"],
                             "ingress": ["x/deny-ingress", "x/from-blocks", "x/web-ports"], "egress": []}
        assert n1["x/b"]["ingress"] == ["x/also-from-c", "x/deny-ingress", "x/web-ports"]
        assert n2["x/c"]["ingress"] == ["x/bad-named", "x/deny-ingress"]
        assert n2["x/c"]["egress"] == ["x/egress-named"]
        assert n2["x/e"]["ingress"] == ["x/deny-ingress", "x/web-ports"]
        # A policy only ever isolates pods of its own namespace.
        assert n2["y/d"] == {"pod": "y/d", "ips": ["10.244.2.11", "fd00:10:244:2::b"],
                             "ingress": ["y/deny-all-d"], "egress": ["y/deny-all-d"]}

    def test_counts(self, plan):
        assert plan["counts"] == {"policies": 9, "pods": 5, "nodes": 2, "isolated_ingress": 5, "isolated_egress": 2}


class TestPoliciesPerNode:
    def test_a_policy_appears_only_where_it_selects_a_pod(self, plan):
        on_n1 = [(item["policy"], item["direction"], item["targets"]) for item in node_slice(plan, "n1")["policies"]]
        assert on_n1 == [("x/also-from-c", "ingress", ["x/b"]), ("x/deny-ingress", "ingress", ["x/a", "x/b"]),
                         ("x/from-blocks", "ingress", ["x/a"]), ("x/web-ports", "ingress", ["x/a", "x/b"])]
        on_n2 = [(item["policy"], item["direction"], item["targets"]) for item in node_slice(plan, "n2")["policies"]]
        assert on_n2 == [("x/bad-named", "ingress", ["x/c"]), ("x/deny-ingress", "ingress", ["x/c", "x/e"]),
                         ("x/egress-named", "egress", ["x/c"]), ("x/web-ports", "ingress", ["x/e"]),
                         ("y/deny-all-d", "ingress", ["y/d"]), ("y/deny-all-d", "egress", ["y/d"])]

    def test_hostnetwork_and_finished_pods_bring_no_policy(self, plan):
        # x/from-blocks selects app=a: on n2 only x/host and x/old carry it.
        assert entry(plan, "n2", "x/from-blocks", "ingress") is None

    def test_deny_policies_have_no_rules(self, plan):
        assert entry(plan, "n1", "x/deny-ingress", "ingress")["rules"] == []
        assert entry(plan, "n2", "y/deny-all-d", "egress")["rules"] == []


class TestClusterPlan:
    """The plan itself lists each policy once; the slices above are projections of it."""

    def test_only_policies_that_select_a_pod_are_listed_with_their_policy_types(self, plan):
        # x/nothing and z/ghost select no pod; x/from-blocks selects x/a (its other app=a pods are
        # hostNetwork or finished); y/deny-all-d has both types, x/egress-named only Egress.
        assert {key: sorted(directions) for key, directions in plan["policies"].items()} == {
            "x/also-from-c": ["ingress"], "x/bad-named": ["ingress"], "x/deny-ingress": ["ingress"],
            "x/egress-named": ["egress"], "x/from-blocks": ["ingress"], "x/web-ports": ["ingress"],
            "y/deny-all-d": ["egress", "ingress"]}

    def test_named_port_clauses_name_their_targets_across_the_cluster(self, plan):
        rule = plan["policies"]["x/web-ports"]["ingress"][0]
        assert [(clause["ports"], clause["targets"]) for clause in rule["clauses"][1:]] == [
            ([tcp(80)], ["x/a"]), ([tcp(8080)], ["x/b"]), ([tcp(9000)], ["x/e"])]

    def test_peer_sets_hold_every_distinct_peer_address_list_once(self, plan):
        # x/c (web-ports, also-from-c); y/d (egress rule 1); x/a, x/b, x/e (egress http, one each).
        assert sorted(plan["peer_sets"].values()) == [
            ["10.244.1.10"], ["10.244.1.11"], ["10.244.2.10"], ["10.244.2.11", "fd00:10:244:2::b"],
            ["10.244.2.13"]]

    def test_nodes_hold_only_their_addresses_pods_and_pod_cidrs(self, plan):
        assert all(sorted(node) == ["addresses", "node", "pod_cidrs", "pods"] for node in plan["nodes"].values())
        assert plan["nodes"]["n1"]["addresses"] == ["10.10.0.1"] and plan["version"] == PLAN_VERSION


class TestClauses:
    NUMERIC = {"peers": pods_peer("10.244.2.10"),
               "ports": [tcp(80), {"protocol": "UDP", "port": 5000, "end_port": 5010},
                         {"protocol": "SCTP", "port": None, "end_port": None}],
               "targets": None}

    def test_numeric_range_and_protocol_only_ports_share_one_clause_and_named_ports_split(self, plan):
        assert clauses(plan, "n1", "x/web-ports", "ingress", 0) == [
            self.NUMERIC,
            {"peers": pods_peer("10.244.2.10"), "ports": [tcp(80)], "targets": ["x/a"]},
            {"peers": pods_peer("10.244.2.10"), "ports": [tcp(8080)], "targets": ["x/b"]},
        ]

    def test_ingress_named_port_clauses_keep_only_local_targets(self, plan):
        assert clauses(plan, "n2", "x/web-ports", "ingress", 0) == [
            self.NUMERIC,
            {"peers": pods_peer("10.244.2.10"), "ports": [tcp(9000)], "targets": ["x/e"]},
        ]

    def test_egress_named_port_resolves_on_each_peer_and_drops_ip_blocks(self, plan):
        assert clauses(plan, "n2", "x/egress-named", "egress", 0) == [
            {"peers": pods_peer("10.244.1.10"), "ports": [tcp(80)], "targets": None},
            {"peers": pods_peer("10.244.1.11"), "ports": [tcp(8080)], "targets": None},
            {"peers": pods_peer("10.244.2.13"), "ports": [tcp(9000)], "targets": None},
        ]

    def test_egress_named_port_towards_an_ip_block_resolves_on_the_pods_inside_it(self):
        # 10.244.1.0/24 holds x/a (http 80) and x/b (http 8080) on n1; x/host (hostNetwork, 10.10.0.2) and
        # x/old (finished) are no destinations with port names; x/c and y/d (10.244.2.x) are outside.
        policy = manifest("x/to-n1-pods", {"podSelector": {"matchLabels": {"app": "c"}}, "policyTypes": ["Egress"],
                                           "egress": [{"to": [{"ipBlock": {"cidr": "10.244.1.0/24"}}],
                                                       "ports": [{"port": "http"}]}]})
        plan = build_plan(CLUSTER, (policy,))
        assert clauses(plan, "n2", "x/to-n1-pods", "egress", 0) == [
            {"peers": pods_peer("10.244.1.10"), "ports": [tcp(80)], "targets": None},
            {"peers": pods_peer("10.244.1.11"), "ports": [tcp(8080)], "targets": None},
        ]
        assert plan["warnings"] == []

    def test_namespace_and_pod_selector_in_one_peer_are_anded(self, plan):
        # team=blue is y; app=d there is y/d alone (x has no app=d anyway): both its addresses.
        assert clauses(plan, "n2", "x/egress-named", "egress", 1) == [
            {"peers": pods_peer("10.244.2.11", "fd00:10:244:2::b"), "ports": None, "targets": None}]

    def test_empty_rule_allows_any_peer_on_any_port(self, plan):
        assert clauses(plan, "n2", "x/egress-named", "egress", 2) == [{"peers": None, "ports": None, "targets": None}]

    def test_ip_blocks_keep_their_own_excepts(self, plan):
        assert clauses(plan, "n1", "x/from-blocks", "ingress", 0) == [
            {"peers": {"pod_set": None, "ip_blocks": [{"cidr": "10.0.0.0/8", "except": ["10.244.0.0/16"]},
                                                      {"cidr": "fd00::/8", "except": []}]},
             "ports": None, "targets": None}]

    def test_unresolvable_named_port_leaves_a_rule_that_allows_nothing(self, plan):
        assert entry(plan, "n2", "x/bad-named", "ingress")["rules"] == [{"index": 0, "clauses": []}]


class TestPeerSets:
    def test_equal_peer_pods_share_one_set(self, plan):
        n1 = node_slice(plan, "n1")
        first = entry(plan, "n1", "x/web-ports", "ingress")["rules"][0]["clauses"][0]["peers"]["pod_set"]
        second = entry(plan, "n1", "x/also-from-c", "ingress")["rules"][0]["clauses"][0]["peers"]["pod_set"]
        assert first == second
        assert n1["peer_sets"] == {first: ["10.244.2.10"]}

    def test_a_node_holds_exactly_the_sets_its_clauses_use(self, plan):
        for node in (node_slice(plan, name) for name in plan["nodes"]):
            used = {clause["peers"]["pod_set"] for item in node["policies"] for rule in item["rules"]
                    for clause in rule["clauses"] if clause["peers"] is not None and clause["peers"]["pod_set"]}
            assert set(node["peer_sets"]) == used

    def test_the_same_addresses_have_the_same_id_on_every_node(self, plan):
        on_n1 = entry(plan, "n1", "x/web-ports", "ingress")["rules"][0]["clauses"][0]["peers"]["pod_set"]
        on_n2 = entry(plan, "n2", "x/web-ports", "ingress")["rules"][0]["clauses"][0]["peers"]["pod_set"]
        assert on_n1 == on_n2


class TestWarnings:
    def test_each_suspicious_policy_is_named(self, plan):
        assert sorted(plan["warnings"]) == sorted([
            "policy x/bad-named ingress rule 0: named port metrics/TCP resolves on no pod",
            "policy x/nothing selects no pod",
            "policy z/ghost: namespace z does not exist in the cluster",
            "policy z/ghost selects no pod",
        ])

    def test_a_named_port_of_another_protocol_does_not_resolve(self):
        policy = manifest("x/udp-http", {"podSelector": {"matchLabels": {"app": "a"}},
                                         "ingress": [{"ports": [{"port": "http", "protocol": "UDP"}]}]})
        assert build_plan(CLUSTER, (policy,))["warnings"] == [
            "policy x/udp-http ingress rule 0: named port http/UDP resolves on no pod"]

    def test_egress_named_port_resolves_against_peers_not_targets(self):
        # x/a gives http a number, but as the source: the destinations (app=c) have no http.
        policy = manifest("x/to-c", {"podSelector": {"matchLabels": {"app": "a"}}, "policyTypes": ["Egress"],
                                     "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "c"}}}],
                                                 "ports": [{"port": "http"}]}]})
        plan = build_plan(CLUSTER, (policy,))
        assert plan["warnings"] == ["policy x/to-c egress rule 0: named port http/TCP resolves on no pod"]
        assert entry(plan, "n1", "x/to-c", "egress")["rules"] == [{"index": 0, "clauses": []}]

    def test_a_clean_policy_set_has_no_warning(self):
        policy = manifest("x/ok", {"podSelector": {}, "ingress": [{"ports": [{"port": "http"}]}]})
        assert build_plan(CLUSTER, (policy,))["warnings"] == []
