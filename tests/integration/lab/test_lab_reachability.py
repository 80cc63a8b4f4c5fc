# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real packets: with nothing enforced everything answers; one hand-written FORWARD rule in one node
denies exactly the pairs whose packets cross that node's FORWARD chain.

Which pairs those are follows from the topology (tests/lab/README.md): traffic to a pod crosses its
node's FORWARD chain whether it is bridged from a pod on the same node (br_netfilter), routed from
another node, or routed from an external; traffic the node sends itself (its hostNetwork pods) leaves
through OUTPUT and never meets FORWARD. The rules match only NEW connections, so replies pass.
"""

from __future__ import annotations

import os

import pytest
from lab_testing import every_pair, forward_rule, raw_scenario, truth

from netpol_lab.prober import probe

pytestmark = [pytest.mark.root, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

NEW = ["-m", "conntrack", "--ctstate", "NEW"]


def ip_of(lab, name, family=4):
    return next(ip for ip in lab.endpoint(name).ips if (":" in ip) == (family == 6))


def test_with_nothing_enforced_every_pair_answers(three_nodes):
    lab, scenario, path = three_nodes
    table = probe(lab, scenario, path)
    assert table["denied"] == []
    assert table["allowed"] == every_pair(raw_scenario(path))
    assert table == truth(path)


def test_a_tcp_reject_on_node_1_denies_every_new_connection_to_its_pod(three_nodes):
    lab, scenario, path = three_nodes
    target = ip_of(lab, "x/a")
    assert target == "10.244.1.10"  # the first pod placed on node-1
    with forward_rule(lab, "node-1", ["-d", target, "-p", "tcp"] + NEW + ["-j", "REJECT"]):
        table = probe(lab, scenario, path)
    # Bridged from node-1's pods, routed from node-2/node-3 and the externals; not from node-1 itself.
    sources = ["y/a", "z/a", "x/b", "y/b", "z/b", "x/c", "y/c", "z/c", "ext-a", "ext-b"]
    expected = sorted([source, "x/a", "TCP", 80] for source in sources)
    assert table["denied"] == expected
    assert ["x/host", "x/a", "TCP", 80] in table["allowed"]
    assert sorted(table["allowed"] + table["denied"]) == every_pair(raw_scenario(path))


def test_a_udp_drop_on_node_2_denies_every_request_to_its_pod(three_nodes):
    lab, scenario, path = three_nodes
    target = ip_of(lab, "x/b")
    assert target == "10.244.2.10"
    with forward_rule(lab, "node-2", ["-d", target, "-p", "udp"] + NEW + ["-j", "DROP"]):
        table = probe(lab, scenario, path)
    # node-1's hostNetwork pod is routed through node-2's FORWARD like any other remote source.
    sources = ["x/a", "y/a", "z/a", "x/host", "y/b", "z/b", "x/c", "y/c", "z/c", "ext-a", "ext-b"]
    assert table["denied"] == sorted([source, "x/b", "UDP", 81] for source in sources)
    assert ["x/b", "x/a", "UDP", 81] in table["allowed"]  # x/b's own requests are NEW elsewhere, replies pass
    assert sorted(table["allowed"] + table["denied"]) == every_pair(raw_scenario(path))


def test_a_rule_on_the_source_node_denies_egress_of_one_pod(three_nodes):
    """Egress seen at the source's node: z/c's TCP to everyone leaves through node-3's FORWARD."""
    lab, scenario, path = three_nodes
    with forward_rule(lab, "node-3", ["-s", ip_of(lab, "z/c"), "-p", "tcp"] + NEW + ["-j", "REJECT"]):
        table = probe(lab, scenario, path)
    destinations = ["x/a", "y/a", "z/a", "x/host", "x/b", "y/b", "z/b", "x/c", "y/c", "ext-a", "ext-b"]
    assert table["denied"] == sorted(["z/c", destination, "TCP", 80] for destination in destinations)


def test_dual_stack_with_nothing_enforced_every_pair_answers_and_sctp_is_unprobed(dual_stack):
    lab, scenario, path = dual_stack
    raw = raw_scenario(path)
    table = probe(lab, scenario, path)
    assert table["denied"] == []
    assert table["allowed"] == every_pair(raw, ("TCP", "UDP"))
    assert table["unprobed"] == every_pair(raw, ("SCTP",))
    engine = truth(path)
    assert engine["denied"] == []
    assert sorted(table["allowed"] + table["unprobed"]) == engine["allowed"]


def test_an_ip6tables_reject_denies_only_ipv6_connections(dual_stack):
    lab, scenario, path = dual_stack
    target = ip_of(lab, "x/a", 6)
    assert target == "fd00:10:244:1::10"
    with forward_rule(lab, "node-1", ["-d", target, "-p", "tcp"] + NEW + ["-j", "REJECT"], command="ip6tables"):
        table = probe(lab, scenario, path)
    # Every IPv6 source: x/b bridged, y/a and node-2's hostNetwork pod routed, both IPv6 externals.
    # y/v4 has no IPv6 address (no row); the IPv4 probe (TCP 80) and UDP are untouched.
    sources = ["x/b", "y/a", "y/host", "ext-6", "ext-46"]
    assert table["denied"] == sorted([source, "x/a", "TCP", 8080] for source in sources)
    assert ["y/v4", "x/a", "TCP", 80] in table["allowed"]
    assert ["ext-46", "x/a", "TCP", 80] in table["allowed"]
    assert ["ext-6", "x/a", "UDP", 53] in table["allowed"]
