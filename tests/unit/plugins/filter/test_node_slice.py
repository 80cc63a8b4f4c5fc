# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""node_slice: a node's slice of a real netpol_resolve plan, and clear errors for anything else."""

from __future__ import annotations

import os

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.kubenet.netpol.plugins.filter.node_slice import FilterModule, node_slice
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import PLAN_VERSION
from netpol_lab.scenario import load_scenario
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.planner import build_plan

SCENARIOS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "scenarios")


@pytest.fixture(scope="module")
def plan():
    """The seed's section 2 example: test-network-policy isolates the db pods both ways."""
    scenario = load_scenario(os.path.join(SCENARIOS, "seed-2-test-network-policy.yaml"))
    return build_plan(scenario.cluster, scenario.policies)


def test_every_node_gets_exactly_its_own_pods(plan):
    assert plan["policies"], "the scenario must isolate some pod for this test to mean anything"
    for name, node in plan["nodes"].items():
        found = node_slice(plan, name)
        assert found["node"] == name
        assert found["pods"] == node["pods"]
        isolated = {(policy, direction) for pod in node["pods"] for direction in ("ingress", "egress")
                    for policy in pod[direction]}
        assert {(item["policy"], item["direction"]) for item in found["policies"]} == isolated


def test_the_filter_is_registered_under_its_name():
    assert FilterModule().filters() == {"node_slice": node_slice}


@pytest.mark.parametrize("data, node, message", [
    ({"version": PLAN_VERSION, "nodes": {}, "policies": {}, "peer_sets": {}}, "node-1", "no node node-1 in the plan"),
    ("plan", "node-1", "not a plan of netpol_resolve"),
    ({"version": PLAN_VERSION, "nodes": {"n": {"pods": [{"pod": "x/a"}]}}, "policies": {}, "peer_sets": {}}, "n",
     "the plan is malformed"),
    ({"nodes": {}, "policies": {}, "peer_sets": {}}, "n", "has plan version None"),
    ({"nodes": {}, "policies": {}, "peer_sets": {}}, 7, "must be a node name"),
])
def test_bad_input_is_an_ansible_error_naming_the_problem(data, node, message):
    with pytest.raises(AnsibleFilterError, match=message):
        node_slice(data, node)
