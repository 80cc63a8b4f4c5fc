# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A node's slice and the plan cut down to some nodes, on a plan written by hand.

The plan (docs/plan-format.md): x/web isolates x/a (n1) and x/b (n2) for ingress, with a
numeric clause for everyone and a named-port clause per target; x/egress isolates x/b for
egress; x/idle selects no pod and so is not in the plan. n3 has one pod no policy isolates.
"""

from __future__ import annotations

import copy

import pytest

from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import PLAN_VERSION, PlanError
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.slicing import node_slice, restrict_nodes

FROM_C = {"pod_set": "set-c", "ip_blocks": []}
NUMERIC = {"peers": FROM_C, "ports": [{"protocol": "TCP", "port": 443, "end_port": 443}], "targets": None}
HTTP_ON_A = {"peers": FROM_C, "ports": [{"protocol": "TCP", "port": 80, "end_port": 80}], "targets": ["x/a"]}
HTTP_ON_B = {"peers": FROM_C, "ports": [{"protocol": "TCP", "port": 8080, "end_port": 8080}], "targets": ["x/b"]}
TO_D = {"peers": {"pod_set": "set-d", "ip_blocks": [{"cidr": "172.17.0.0/16", "except": []}]}, "ports": None,
        "targets": None}
PLAN = {
    "version": PLAN_VERSION,
    "counts": {"policies": 3, "pods": 4, "nodes": 3, "isolated_ingress": 2, "isolated_egress": 1},
    "warnings": ["policy x/idle selects no pod"],
    "policies": {
        "x/web": {"ingress": [{"index": 0, "clauses": [NUMERIC, HTTP_ON_A, HTTP_ON_B]}]},
        "x/egress": {"egress": [{"index": 0, "clauses": [TO_D]}, {"index": 1, "clauses": []}]},
    },
    "peer_sets": {"set-c": ["10.244.3.10"], "set-d": ["10.244.3.11", "fd00::b"]},
    "nodes": {
        "n1": {"node": "n1", "pod_cidrs": ["10.244.1.0/24"],
               "pods": [{"pod": "x/a", "ips": ["10.244.1.10"], "ingress": ["x/web"], "egress": []}]},
        "n2": {"node": "n2", "pod_cidrs": ["10.244.2.0/24"],
               "pods": [{"pod": "x/b", "ips": ["10.244.2.10"], "ingress": ["x/web"], "egress": ["x/egress"]}]},
        "n3": {"node": "n3", "pod_cidrs": ["10.244.3.0/24"],
               "pods": [{"pod": "x/c", "ips": ["10.244.3.10"], "ingress": [], "egress": []},
                        {"pod": "x/d", "ips": ["10.244.3.11", "fd00::b"], "ingress": [], "egress": []}]},
    },
}


def test_a_slice_keeps_named_port_clauses_of_local_targets_only():
    assert node_slice(PLAN, "n1") == {
        "version": PLAN_VERSION, "node": "n1", "pod_cidrs": ["10.244.1.0/24"], "pods": PLAN["nodes"]["n1"]["pods"],
        "policies": [{"policy": "x/web", "direction": "ingress", "targets": ["x/a"],
                      "rules": [{"index": 0, "clauses": [NUMERIC, HTTP_ON_A]}]}],
        "peer_sets": {"set-c": ["10.244.3.10"]},
    }


def test_a_slice_lists_policies_by_name_then_ingress_before_egress_with_the_sets_they_use():
    found = node_slice(PLAN, "n2")
    assert [(item["policy"], item["direction"], item["targets"]) for item in found["policies"]] == [
        ("x/egress", "egress", ["x/b"]), ("x/web", "ingress", ["x/b"])]
    assert found["policies"][0]["rules"] == PLAN["policies"]["x/egress"]["egress"]
    assert found["policies"][1]["rules"] == [{"index": 0, "clauses": [NUMERIC, HTTP_ON_B]}]
    assert found["peer_sets"] == PLAN["peer_sets"]


def test_a_node_without_isolated_pods_gets_its_pods_and_nothing_else():
    found = node_slice(PLAN, "n3")
    assert found["pods"] == PLAN["nodes"]["n3"]["pods"]
    assert found["policies"] == []
    assert found["peer_sets"] == {}


def test_a_named_port_clause_with_no_local_target_leaves_its_rule_empty_but_present():
    plan = copy.deepcopy(PLAN)
    plan["policies"]["x/web"]["ingress"][0]["clauses"] = [HTTP_ON_B]
    [entry] = node_slice(plan, "n1")["policies"]
    # The rule stays (it still exists and allows nothing here), so rule indexes keep their meaning.
    assert entry["rules"] == [{"index": 0, "clauses": []}]


def test_slicing_leaves_the_plan_unchanged():
    before = copy.deepcopy(PLAN)
    for name in PLAN["nodes"]:
        node_slice(PLAN, name)
    assert PLAN == before


def test_restricting_keeps_the_named_nodes_and_only_what_they_need():
    found = restrict_nodes(PLAN, ["n1", "n3"])
    assert list(found["nodes"]) == ["n1", "n3"]
    assert found["policies"] == {"x/web": PLAN["policies"]["x/web"]}
    assert found["peer_sets"] == {"set-c": ["10.244.3.10"]}
    assert found["counts"] == PLAN["counts"] and found["warnings"] == PLAN["warnings"]
    for name in ("n1", "n3"):
        assert node_slice(found, name) == node_slice(PLAN, name)


@pytest.mark.parametrize("plan, message", [
    (None, "not a plan of netpol_resolve"),
    ({"nodes": {}}, "expected a mapping with nodes, policies, peer_sets"),
    (dict(PLAN, nodes={}), "no node n1 in the plan (its nodes: none)"),
    (PLAN["nodes"]["n1"], "not a plan of netpol_resolve"),  # a node's entry is not the plan
    (dict(PLAN, version=PLAN_VERSION + 1), "has plan version %d" % (PLAN_VERSION + 1)),  # a newer controller's
])
def test_what_is_not_a_plan_or_lacks_the_node_is_named(plan, message):
    with pytest.raises(PlanError) as raised:
        node_slice(plan, "n1")
    assert message in str(raised.value)


def test_an_unknown_node_lists_the_plans_nodes():
    with pytest.raises(PlanError, match=r"no node n9 in the plan \(its nodes: n1, n2, n3\)"):
        node_slice(PLAN, "n9")
    with pytest.raises(PlanError, match="no node n8, n9 in the plan"):
        restrict_nodes(PLAN, ["n1", "n8", "n9"])
