# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one verdict over a node's slice, on the slice written by hand in ../conftest.py."""

from __future__ import annotations

import pytest

from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import PlanError
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.verdict import NodeView, Side, judge


@pytest.fixture
def view(sample_slice):
    return NodeView(sample_slice)


def allows(view, source, destination, protocol, port):
    return judge(view, view, source, destination, protocol, port).allowed


def test_ingress_of_an_isolated_pod_needs_a_matching_clause(view):
    assert allows(view, "10.244.2.5", "10.244.1.10", "TCP", 8080)
    assert not allows(view, "10.244.2.5", "10.244.1.10", "TCP", 8081)
    assert not allows(view, "10.244.2.6", "10.244.1.10", "TCP", 8080)
    assert allows(view, "192.168.7.7", "10.244.1.10", "TCP", 9100)
    assert not allows(view, "192.168.1.7", "10.244.1.10", "TCP", 9100)  # the except
    assert not allows(view, "192.168.7.7", "10.244.1.10", "UDP", 9100)
    assert not allows(view, "10.244.2.5", "10.244.1.10", "ICMP", None)


def test_egress_of_an_isolated_pod_and_pods_that_are_not_isolated(view):
    assert allows(view, "10.244.1.11", "8.8.8.8", "UDP", 53)
    assert not allows(view, "10.244.1.11", "8.8.8.8", "TCP", 53)
    assert allows(view, "10.244.1.12", "8.8.8.8", "TCP", 443)
    # b -> a needs b's egress (UDP only) and a's ingress: TCP 8080 from b is denied twice over.
    assert not allows(view, "10.244.1.11", "10.244.1.10", "TCP", 8080)


def test_the_verdict_names_each_side_and_the_rule_that_decided(view):
    found = judge(view, view, "10.244.1.11", "10.244.1.10", "UDP", 8080)
    assert found.sides == (Side("egress", "x/b", ("x/out",), ("x/out", 0)), Side("ingress", "x/a", ("x/web",)))
    assert not found.allowed and not found.node_local
    found = judge(None, view, "192.168.7.7", "10.244.1.10", "TCP", 9000)
    assert found.sides == (Side("ingress", "x/a", ("x/web",), ("x/web", 0)),)
    assert found.allowed


def test_ends_on_other_nodes_are_judged_by_their_own_node(view):
    # Only this node's pods are known here: the other node checks the other end.
    assert judge(view, None, "10.244.1.12", "10.244.9.9", "TCP", 1).sides == (Side("egress", "x/c"),)
    assert judge(None, None, "10.244.1.10", "10.244.1.11", "TCP", 1) == judge(None, None, "1.1.1.1", "2.2.2.2", "TCP", 1)


def test_a_pod_and_its_own_node_are_never_filtered(view):
    # The kubelet's probes and a pod's calls to its node's host-network pods go through INPUT/OUTPUT.
    for source, destination in (("10.10.0.1", "10.244.1.10"), ("10.244.1.11", "10.10.0.1")):
        found = judge(view, view, source, destination, "TCP", 10250)
        assert found.allowed and found.node_local and found.sides == ()


def test_addresses_are_compared_in_canonical_form(sample_slice):
    six = dict(sample_slice, pods=[dict(sample_slice["pods"][0], ips=["fd00:10:244:1::a"])],
               peer_sets={"s": ["FD00:10:244:2:0::5"]})
    assert allows(NodeView(six), "fd00:10:244:2::5", "fd00:10:244:1:0:0:0:a", "TCP", 8080)


def test_a_slice_of_another_plan_version_is_refused(sample_slice):
    with pytest.raises(PlanError, match="plan version 0"):
        NodeView(dict(sample_slice, version=0))
