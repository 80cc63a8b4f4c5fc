# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rendering a node's plan slice into chains and sets; every expected rule is written by hand.

Names are hashes of identities, so the tests compute them with naming's functions (whose
format and limits are tested here too); everything else is literal iptables-save text.
"""

from __future__ import annotations

import copy
import dataclasses
import random

import pytest

from ansible_collections.kubenet.netpol.plugins.module_utils.node import naming
from ansible_collections.kubenet.netpol.plugins.module_utils.node.render import (
    RENDER_VERSION, RenderOptions, block_members, fingerprint, port_matchers, render)
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import PLAN_VERSION, PlanError

MARK_ON = "-j MARK --set-xmark 0x100000/0x100000"
CLEAR = "-j MARK --set-xmark 0x0/0x100000"
REPLIES = "-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN"
INVALID = "-m conntrack --ctstate INVALID -j DROP"
TO_ALLOW = "-m mark --mark 0x100000/0x100000 -g KUBENET-ALLOW"
REJECT4 = '-m comment --comment "deny %s" -j REJECT --reject-with icmp-port-unreachable'
REJECT6 = '-m comment --comment "deny %s" -j REJECT --reject-with icmp6-port-unreachable'
ND = ["-p ipv6-icmp -m icmp6 --icmpv6-type %d -j RETURN" % kind for kind in (133, 134, 135, 136)]
JUMP = '-m comment --comment "kubenet-netpol: network policies" -j KUBENET-FORWARD'


def pod(key, ips, ingress=(), egress=()):
    return {"pod": key, "ips": list(ips), "ingress": list(ingress), "egress": list(egress)}


def policy(key, direction, targets, *clauses_by_rule):
    rules = [{"index": index, "clauses": list(clauses)} for index, clauses in enumerate(clauses_by_rule)]
    return {"policy": key, "direction": direction, "targets": list(targets), "rules": rules}


def clause(pod_set=None, ip_blocks=(), ports=None, targets=None, any_peer=False):
    peers = None if any_peer else {"pod_set": pod_set, "ip_blocks": [dict(block) for block in ip_blocks]}
    return {"peers": peers, "ports": ports, "targets": targets}


def tcp(port, end=None):
    return {"protocol": "TCP", "port": port, "end_port": port if end is None else end}


def plan_slice(pods, policies, peer_sets=None):
    return {"version": PLAN_VERSION, "node": "n1", "pods": pods, "policies": policies, "peer_sets": peer_sets or {}}


def table(desired, family):
    return next(item for item in desired.tables if item.family == family)


def chains(desired, family):
    return table(desired, family).chain_map


def members(desired):
    return {item.name: list(item.members) for item in desired.sets}


# The seed's example on one node: default/db (role=db) isolated both ways by
# default/test-network-policy; its ingress rule allows 172.17.0.0/16 except 172.17.1.0/24,
# pods of namespaces with project=myproject and default pods with role=frontend, on TCP 6379;
# its egress rule allows 10.0.0.0/24 on TCP 5978.
SEED_POLICY = "default/test-network-policy"
SEED = plan_slice(
    [pod("default/db", ["10.244.1.10"], ingress=[SEED_POLICY], egress=[SEED_POLICY]),
     pod("default/web", ["10.244.1.11"])],
    [policy(SEED_POLICY, "ingress", ["default/db"],
            [clause("peers1", [{"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}], [tcp(6379)])]),
     policy(SEED_POLICY, "egress", ["default/db"], [clause(None, [{"cidr": "10.0.0.0/24", "except": []}], [tcp(5978)])])],
    {"peers1": ["10.244.2.20", "10.244.3.30"]},
)


def test_seed_example_renders_every_chain_and_set_by_hand():
    # These expectations are output format 4. Whoever changes them changes what nodes hold for
    # an unchanged plan: bump RENDER_VERSION (here and in render.py) so nodes compare in full again.
    assert RENDER_VERSION == 4
    desired = render(SEED, RenderOptions(families=(4,)))
    ingress_chain = naming.pod_chain("ingress", [SEED_POLICY])
    egress_chain = naming.pod_chain("egress", [SEED_POLICY])
    pi = naming.policy_chain(SEED_POLICY, "ingress")
    pe = naming.policy_chain(SEED_POLICY, "egress")
    # db is dispatched both ways through one set of its address: the two users hold the same
    # members, so they share the set, named after the smaller user ("egress" < "ingress").
    db = naming.set_name("hash:ip", 4, "D", "egress", SEED_POLICY)
    peers = naming.set_name("hash:ip", 4, "P", SEED_POLICY, "ingress", 0, 0)
    block_in = naming.set_name("hash:net", 4, "N", SEED_POLICY, "ingress", 0, 0, "block", 0)
    block_out = naming.set_name("hash:net", 4, "N", SEED_POLICY, "egress", 0, 0, "block", 0)
    rule_in = '-m comment --comment "default/test-network-policy ingress rule 0"'
    rule_out = '-m comment --comment "default/test-network-policy egress rule 0"'
    assert chains(desired, 4) == {
        "KUBENET-ALLOW": (CLEAR,),
        "KUBENET-FORWARD": (
            REPLIES,
            '-m set --match-set %s src -m comment --comment "egress isolated by %s" -j %s' % (db, SEED_POLICY, egress_chain),
            '-m set --match-set %s dst -m comment --comment "ingress isolated by %s" -g %s' % (db, SEED_POLICY, ingress_chain),
        ),
        egress_chain: (INVALID, CLEAR, '-m comment --comment "%s egress" -j %s' % (SEED_POLICY, pe), TO_ALLOW,
                       REJECT4 % "egress"),
        ingress_chain: (INVALID, CLEAR, '-m comment --comment "%s ingress" -j %s' % (SEED_POLICY, pi), TO_ALLOW,
                        REJECT4 % "ingress"),
        pi: ("-p tcp -m tcp --dport 6379 -m set --match-set %s src %s %s" % (peers, rule_in, MARK_ON),
             "-p tcp -m tcp --dport 6379 -m set --match-set %s src %s %s" % (block_in, rule_in, MARK_ON)),
        pe: ("-p tcp -m tcp --dport 5978 -m set --match-set %s dst %s %s" % (block_out, rule_out, MARK_ON),),
    }
    assert table(desired, 4).jump == JUMP
    assert members(desired) == {
        db: ["10.244.1.10"],
        peers: ["10.244.2.20", "10.244.3.30"],
        block_in: ["172.17.0.0/16", "172.17.1.0/24 nomatch"],
        block_out: ["10.0.0.0/24"],
    }
    assert {item.name: item.type for item in desired.sets}[block_in] == "hash:net"
    assert {item.name: item.type for item in desired.sets}[peers] == "hash:ip"
    # rules: ALLOW 1 + FORWARD 3 + two pod chains of 5 + PI 2 + PE 1, and the FORWARD jump.
    assert desired.counts() == {"chains": 6, "rules": 18, "sets": 4, "members": 6}


def test_family_without_isolated_pods_only_returns_replies_and_neighbour_discovery():
    desired = render(SEED)  # the seed's pods have no IPv6 address
    assert chains(desired, 6) == {"KUBENET-ALLOW": (CLEAR,), "KUBENET-FORWARD": tuple([REPLIES] + ND)}
    assert table(desired, 6).jump == JUMP
    assert not [item for item in desired.sets if item.family == 6]


def test_pods_isolated_by_the_same_policies_share_one_chain_and_dispatch_set():
    deny = "x/deny"
    slice_ = plan_slice([pod("x/a", ["10.244.1.10"], ingress=[deny]), pod("x/b", ["10.244.1.11"], ingress=[deny]),
                         pod("x/c", ["10.244.1.12"])],
                        [policy(deny, "ingress", ["x/a", "x/b"])])
    desired = render(slice_, RenderOptions(families=(4,)))
    group = naming.pod_chain("ingress", [deny])
    dispatch = naming.set_name("hash:ip", 4, "D", "ingress", deny)
    # deny-all: no policy chain at all, the pod chain goes straight to the deny.
    assert chains(desired, 4)[group] == (INVALID, CLEAR, REJECT4 % "ingress")
    assert chains(desired, 4)["KUBENET-FORWARD"][1:] == (
        '-m set --match-set %s dst -m comment --comment "ingress isolated by x/deny" -g %s' % (dispatch, group),)
    assert members(desired) == {dispatch: ["10.244.1.10", "10.244.1.11"]}


def test_several_isolation_groups_are_entered_through_one_lookup_of_all_their_pods():
    # Three ingress groups (a: x/p1; b: x/p1 and x/p2; c: x/p2) and two egress groups (a, c): a
    # packet of a pod no policy isolates meets one set lookup per direction, not one per group.
    slice_ = plan_slice(
        [pod("x/a", ["10.244.1.10"], ingress=["x/p1"], egress=["x/p1"]),
         pod("x/b", ["10.244.1.11"], ingress=["x/p1", "x/p2"]),
         pod("x/c", ["10.244.1.12"], ingress=["x/p2"], egress=["x/p2"]), pod("x/d", ["10.244.1.13"])],
        [policy("x/p1", "ingress", ["x/a", "x/b"]), policy("x/p2", "ingress", ["x/b", "x/c"]),
         policy("x/p1", "egress", ["x/a"]), policy("x/p2", "egress", ["x/c"])])
    desired = render(slice_, RenderOptions(families=(4,)))
    every_in, every_out = (naming.set_name("hash:ip", 4, "I", direction) for direction in ("ingress", "egress"))
    assert chains(desired, 4)["KUBENET-FORWARD"] == (
        REPLIES,
        '-m set --match-set %s src -m comment --comment "egress isolated by any policy" -j KUBENET-EGRESS' % every_out,
        '-m set --match-set %s dst -m comment --comment "ingress isolated by any policy" -g KUBENET-INGRESS' % every_in)
    assert members(desired)[every_in] == ["10.244.1.10", "10.244.1.11", "10.244.1.12"]
    assert members(desired)[every_out] == ["10.244.1.10", "10.244.1.12"]
    # x/a and x/c are dispatched alone both ways: each pair of equal lists shares the egress name.
    named = {"x/p1": ("egress", "x/p1"), "x/p1, x/p2": ("ingress", "x/p1", "x/p2"), "x/p2": ("egress", "x/p2")}
    groups = {"ingress": ("x/p1", "x/p1, x/p2", "x/p2"), "egress": ("x/p1", "x/p2")}
    for direction, chain, side in (("ingress", "KUBENET-INGRESS", "dst"), ("egress", "KUBENET-EGRESS", "src")):
        assert chains(desired, 4)[chain] == tuple(
            '-m set --match-set %s %s -m comment --comment "%s isolated by %s" -g %s' % (
                naming.set_name("hash:ip", 4, "D", *named[group]), side, direction, group,
                naming.pod_chain(direction, group.split(", ")))
            for group in groups[direction])


def test_egress_dispatch_comes_before_ingress_and_directions_never_share_a_chain():
    both = "x/both"
    slice_ = plan_slice([pod("x/a", ["10.244.1.10"], ingress=[both], egress=[both])],
                        [policy(both, "ingress", ["x/a"], [clause(any_peer=True, ports=[tcp(80)])]),
                         policy(both, "egress", ["x/a"], [clause(any_peer=True, ports=[tcp(443)])])])
    found = chains(render(slice_, RenderOptions(families=(4,))), 4)
    top = found["KUBENET-FORWARD"]
    # egress jumps (its pod chain returns for the ingress check); ingress, the last check, goes.
    assert [rule.split()[-2:] for rule in top[1:]] == [
        ["-j", naming.pod_chain("egress", [both])], ["-g", naming.pod_chain("ingress", [both])]]
    assert found[naming.policy_chain(both, "ingress")] == (
        '-p tcp -m tcp --dport 80 -m comment --comment "x/both ingress rule 0" ' + MARK_ON,)
    assert found[naming.policy_chain(both, "egress")] == (
        '-p tcp -m tcp --dport 443 -m comment --comment "x/both egress rule 0" ' + MARK_ON,)
    assert naming.policy_chain(both, "ingress") != naming.policy_chain(both, "egress")


def test_null_peers_and_ports_allow_everything_with_one_bare_rule():
    slice_ = plan_slice([pod("x/a", ["10.244.1.10"], ingress=["x/all"])],
                        [policy("x/all", "ingress", ["x/a"], [clause(any_peer=True)])])
    found = chains(render(slice_, RenderOptions(families=(4,))), 4)
    assert found[naming.policy_chain("x/all", "ingress")] == ('-m comment --comment "x/all ingress rule 0" ' + MARK_ON,)


def test_ipv4_zero_prefix_is_split_into_halves_with_excepts_as_nomatch():
    block = {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12"]}
    assert sorted(block_members(block, 4)) == sorted(
        ["0.0.0.0/1", "128.0.0.0/1", "10.0.0.0/8 nomatch", "172.16.0.0/12 nomatch"])
    assert block_members(block, 6) == ()


def test_ipv6_zero_prefix_is_split_into_halves_without_a_gap():
    block = {"cidr": "::/0", "except": ["fd00::/8"]}
    assert sorted(block_members(block, 6)) == sorted(["::/1", "8000::/1", "fd00::/8 nomatch"])


def test_excepts_that_cover_a_whole_entry_remove_it():
    assert block_members({"cidr": "0.0.0.0/0", "except": ["128.0.0.0/1"]}, 4) == ("0.0.0.0/1",)
    assert block_members({"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]}, 4) == ()
    assert block_members({"cidr": "10.0.0.7/32", "except": []}, 4) == ("10.0.0.7",)  # as ipset prints a host
    assert block_members({"cidr": "10.1.2.3/8", "except": ["10.1.2.3/24"]}, 4) == ("10.0.0.0/8", "10.1.2.0/24 nomatch")


def test_a_block_that_matches_nothing_in_a_family_renders_no_rule_there():
    slice_ = plan_slice([pod("x/a", ["10.244.1.10"], ingress=["x/p"])],
                        [policy("x/p", "ingress", ["x/a"], [clause(None, [{"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]}])])])
    found = chains(render(slice_, RenderOptions(families=(4,))), 4)
    assert naming.policy_chain("x/p", "ingress") not in found
    assert found[naming.pod_chain("ingress", ["x/p"])] == (INVALID, CLEAR, REJECT4 % "ingress")


def test_peers_are_split_by_family():
    key = "x/p"
    slice_ = plan_slice(
        [pod("x/a", ["10.244.1.10", "fd00::10"], ingress=[key])],
        [policy(key, "ingress", ["x/a"],
                [clause("mixed", [{"cidr": "192.168.0.0/16", "except": []}, {"cidr": "2001:db8::/32", "except": []}],
                        [tcp(80)])],
                [clause("only4", ports=[tcp(81)])])],
        {"mixed": ["10.244.2.2", "fd00::22"], "only4": ["10.244.2.3"]})
    desired = render(slice_)
    text = '-m comment --comment "x/p ingress rule %d" '
    chain = naming.policy_chain(key, "ingress")
    assert chains(desired, 4)[chain] == (
        "-p tcp -m tcp --dport 80 -m set --match-set %s src " % naming.set_name("hash:ip", 4, "P", key, "ingress", 0, 0)
        + text % 0 + MARK_ON,
        "-p tcp -m tcp --dport 80 -m set --match-set %s src " % naming.set_name("hash:net", 4, "N", key, "ingress", 0, 0, "block", 0)
        + text % 0 + MARK_ON,
        "-p tcp -m tcp --dport 81 -m set --match-set %s src " % naming.set_name("hash:ip", 4, "P", key, "ingress", 1, 0)
        + text % 1 + MARK_ON,
    )
    # IPv6: the v4-only pod set of rule 1 allows nothing there; the v6 block is block 1 of the clause.
    assert chains(desired, 6)[chain] == (
        "-p tcp -m tcp --dport 80 -m set --match-set %s src " % naming.set_name("hash:ip", 6, "P", key, "ingress", 0, 0)
        + text % 0 + MARK_ON,
        "-p tcp -m tcp --dport 80 -m set --match-set %s src " % naming.set_name("hash:net", 6, "N", key, "ingress", 0, 0, "block", 1)
        + text % 0 + MARK_ON,
    )
    assert members(desired)[naming.set_name("hash:ip", 6, "P", key, "ingress", 0, 0)] == ["fd00::22"]
    assert members(desired)[naming.set_name("hash:net", 6, "N", key, "ingress", 0, 0, "block", 1)] == ["2001:db8::/32"]
    assert chains(desired, 6)[naming.pod_chain("ingress", [key])] == (
        INVALID, CLEAR, '-m comment --comment "x/p ingress" -j %s' % chain, TO_ALLOW, REJECT6 % "ingress")


def test_policy_with_no_rule_in_a_family_gets_no_jump_there():
    key = "x/p"
    slice_ = plan_slice([pod("x/a", ["10.244.1.10", "fd00::10"], ingress=[key])],
                        [policy(key, "ingress", ["x/a"], [clause("only4", ports=[tcp(81)])])],
                        {"only4": ["10.244.2.3"]})
    desired = render(slice_)
    assert naming.policy_chain(key, "ingress") not in chains(desired, 6)
    assert chains(desired, 6)[naming.pod_chain("ingress", [key])] == (INVALID, CLEAR, REJECT6 % "ingress")


def test_named_port_clause_with_a_targets_subset_also_matches_the_destination():
    # x/web selects a (http=8080) and b (http=9000): two clauses, each for its own target.
    key = "x/web"
    slice_ = plan_slice(
        [pod("x/a", ["10.244.1.10"], ingress=[key]), pod("x/b", ["10.244.1.11"], ingress=[key])],
        [policy(key, "ingress", ["x/a", "x/b"],
                [clause("c", ports=[tcp(8080)], targets=["x/a"]), clause("c", ports=[tcp(9000)], targets=["x/b"])])],
        {"c": ["10.244.2.5"]})
    desired = render(slice_, RenderOptions(families=(4,)))
    target_a = naming.set_name("hash:ip", 4, "T", key, "ingress", 0, 0)
    target_b = naming.set_name("hash:ip", 4, "T", key, "ingress", 0, 1)
    # Both clauses have the same peers: one set, named after clause 0, the smaller user.
    peers = naming.set_name("hash:ip", 4, "P", key, "ingress", 0, 0)
    text = '-m comment --comment "x/web ingress rule 0" '
    assert chains(desired, 4)[naming.policy_chain(key, "ingress")] == (
        "-p tcp -m tcp --dport 8080 -m set --match-set %s dst -m set --match-set %s src " % (target_a, peers)
        + text + MARK_ON,
        "-p tcp -m tcp --dport 9000 -m set --match-set %s dst -m set --match-set %s src " % (target_b, peers)
        + text + MARK_ON,
    )
    assert members(desired)[target_a] == ["10.244.1.10"]
    assert members(desired)[target_b] == ["10.244.1.11"]
    assert members(desired)[peers] == ["10.244.2.5"]


def test_named_port_clause_for_every_target_needs_no_target_match():
    key = "x/web"
    slice_ = plan_slice([pod("x/a", ["10.244.1.10"], ingress=[key])],
                        [policy(key, "ingress", ["x/a"], [clause(any_peer=True, ports=[tcp(8080)], targets=["x/a"])])])
    desired = render(slice_, RenderOptions(families=(4,)))
    assert chains(desired, 4)[naming.policy_chain(key, "ingress")] == (
        '-p tcp -m tcp --dport 8080 -m comment --comment "x/web ingress rule 0" ' + MARK_ON,)
    assert [item.name for item in desired.sets] == [naming.set_name("hash:ip", 4, "D", "ingress", key)]


def test_end_port_becomes_a_range_and_a_single_port_stays_single():
    assert port_matchers([tcp(8000, 8080), tcp(22, 22)]) == [
        ("-p tcp", "-m tcp --dport 22"), ("-p tcp", "-m tcp --dport 8000:8080")]
    assert port_matchers([{"protocol": "SCTP", "port": 30000, "end_port": 32767}]) == [
        ("-p sctp", "-m sctp --dport 30000:32767")]


def test_single_ports_share_multiport_rules_of_at_most_fifteen():
    ports = [tcp(port) for port in range(1016, 1000, -1)]  # 16 ports, given in reverse
    assert port_matchers(ports) == [
        ("-p tcp", "-m multiport --dports 1001,1002,1003,1004,1005,1006,1007,1008,1009,1010,1011,1012,1013,1014,1015"),
        ("-p tcp", "-m tcp --dport 1016"),
    ]
    thirty = port_matchers([tcp(port) for port in range(1, 31)])
    assert [matcher[1].count(",") + 1 for matcher in thirty] == [15, 15]


def test_protocol_only_port_matches_the_whole_protocol_and_absorbs_its_numbers():
    ports = [{"protocol": "UDP", "port": None, "end_port": None}, {"protocol": "UDP", "port": 53, "end_port": 53},
             tcp(80), tcp(80)]
    assert port_matchers(ports) == [("-p tcp", "-m tcp --dport 80"), ("-p udp", "")]
    assert port_matchers(None) == [("", "")]


def test_unknown_protocol_and_bad_ranges_are_plan_errors():
    with pytest.raises(PlanError, match="protocol"):
        port_matchers([{"protocol": "tcp", "port": 80, "end_port": 80}])
    with pytest.raises(PlanError, match="range"):
        port_matchers([tcp(90, 80)])


@pytest.mark.parametrize("port", [True, 80.7, "80", "80 -j ACCEPT", [80]])
def test_a_port_of_a_hand_made_plan_that_is_not_a_whole_number_is_a_plan_error(port):
    # never read as a number it is not (True as 1, 80.7 as 80) nor a traceback
    with pytest.raises(PlanError, match="whole number"):
        port_matchers([tcp(port)])
    with pytest.raises(PlanError, match="whole number"):
        port_matchers([{"protocol": "TCP", "port": 80, "end_port": port}])


def test_an_unspecified_pod_address_or_a_block_without_cidr_is_a_plan_error():
    # ipset refuses 0.0.0.0 and :: in a set of addresses: the restore would stop halfway on the node
    for address in ("0.0.0.0", "::"):
        with pytest.raises(PlanError, match="unspecified"):
            render(plan_slice([pod("x/a", ["10.244.1.10", address], ingress=["x/p"])],
                              [policy("x/p", "ingress", ["x/a"])]))
        with pytest.raises(PlanError, match="unspecified"):
            render(plan_slice([pod("x/a", ["10.244.1.10"], ingress=["x/p"])],
                              [policy("x/p", "ingress", ["x/a"], [clause("s1")])], {"s1": [address]}))
    with pytest.raises(PlanError, match="cidr"):
        render(plan_slice([pod("x/a", ["10.244.1.10"], ingress=["x/p"])],
                          [policy("x/p", "ingress", ["x/a"], [clause(ip_blocks=[{"except": []}])])]))


def test_missing_peer_set_or_policy_is_a_plan_error():
    broken = plan_slice([pod("x/a", ["10.244.1.10"], ingress=["x/p"])],
                        [policy("x/p", "ingress", ["x/a"], [clause("nope")])])
    with pytest.raises(PlanError, match="peer set nope"):
        render(broken)
    orphan = plan_slice([pod("x/a", ["10.244.1.10"], ingress=["x/gone"])], [])
    with pytest.raises(PlanError, match="x/gone"):
        render(orphan)
    with pytest.raises(PlanError, match="pods"):
        render({"version": PLAN_VERSION, "node": "n1"})
    with pytest.raises(PlanError, match="plan version"):
        render(dict(plan_slice([], []), version=PLAN_VERSION + 1))


def test_drop_and_nflog_options():
    options = RenderOptions(deny_action="DROP", log_denied=True, log_group=5, families=(4,))
    group = naming.pod_chain("ingress", ["x/deny"])
    slice_ = plan_slice([pod("x/a", ["10.244.1.10"], ingress=["x/deny"])], [policy("x/deny", "ingress", ["x/a"])])
    prefix = '--nflog-prefix "kubenet-netpol denied %s"' % group  # the chain: denials.json says what it stands for
    assert chains(render(slice_, options), 4)[group] == (
        INVALID, CLEAR,
        "-m limit --limit 10/min -j NFLOG %s --nflog-group 5" % prefix,
        '-m comment --comment "deny ingress" -j DROP')
    # iptables-save omits group 0 and burst 5 (the defaults), so we must too.
    zero = RenderOptions(log_denied=True, log_group=0, families=(4,))
    assert chains(render(slice_, zero), 4)[group][2] == "-m limit --limit 10/min -j NFLOG %s" % prefix
    # A rate is written as iptables-save prints it back: in the largest unit that keeps it whole.
    fast = RenderOptions(log_denied=True, log_limit="120/minute", log_burst=20, families=(4,))
    assert chains(render(slice_, fast), 4)[group][2] == (
        "-m limit --limit 2/sec --limit-burst 20 -j NFLOG %s --nflog-group 100" % prefix)


@pytest.mark.parametrize("given, printed", [
    ("10/minute", "10/min"), ("10/m", "10/min"), ("600/hour", "10/min"), ("60/min", "1/sec"), ("3/s", "3/sec"),
    ("7/min", "7/min"), ("7/hour", "7/hour"), ("1000/day", "1000/day"), ("13/second", "13/sec"), ("24/d", "1/hour")])
def test_log_limit_is_normalized_as_iptables_prints_it(given, printed):
    # Printed forms checked against iptables-save 1.8.9 (nft and legacy) by hand.
    assert RenderOptions(log_limit=given).log_limit == printed


def test_custom_mark_bit_is_used_everywhere():
    slice_ = plan_slice([pod("x/a", ["10.244.1.10"], ingress=["x/all"])],
                        [policy("x/all", "ingress", ["x/a"], [clause(any_peer=True)])])
    found = chains(render(slice_, RenderOptions(mark=0x4000000, families=(4,))), 4)
    assert found["KUBENET-ALLOW"] == ("-j MARK --set-xmark 0x0/0x4000000",)
    assert "-m mark --mark 0x4000000/0x4000000 -g KUBENET-ALLOW" in found[naming.pod_chain("ingress", ["x/all"])]
    assert found[naming.policy_chain("x/all", "ingress")][0].endswith("-j MARK --set-xmark 0x4000000/0x4000000")


def test_fail_closed_mode_denies_pod_cidr_addresses_the_plan_does_not_know():
    options = RenderOptions(fail_closed_cidrs=("10.244.1.0/24", "fd00:1::/64"))
    desired = render(SEED, options)
    cidrs4, known4 = naming.set_name("hash:net", 4, "C", "fail-closed"), naming.set_name("hash:ip", 4, "K", "fail-closed")
    cidrs6 = naming.set_name("hash:net", 6, "C", "fail-closed")
    text = '-m comment --comment "fail closed: pod not in the plan yet"'
    assert chains(desired, 4)["KUBENET-FORWARD"][:3] == (
        REPLIES,
        "-m set --match-set %s src -m set ! --match-set %s src %s -j REJECT --reject-with icmp-port-unreachable"
        % (cidrs4, known4, text),
        "-m set --match-set %s dst -m set ! --match-set %s dst %s -j REJECT --reject-with icmp-port-unreachable"
        % (cidrs4, known4, text))
    # No pod of the plan has an IPv6 address: every address of the IPv6 pod CIDR is unknown.
    assert chains(desired, 6)["KUBENET-FORWARD"] == tuple([REPLIES] + ND + [
        "-m set --match-set %s src %s -j REJECT --reject-with icmp6-port-unreachable" % (cidrs6, text),
        "-m set --match-set %s dst %s -j REJECT --reject-with icmp6-port-unreachable" % (cidrs6, text)])
    assert members(desired)[cidrs4] == ["10.244.1.0/24"]
    assert members(desired)[known4] == ["10.244.1.10", "10.244.1.11"]  # isolated or not, every pod of the plan
    assert members(desired)[cidrs6] == ["fd00:1::/64"]


def test_cut_connections_deny_marked_connections_before_replies_pass():
    desired = render(SEED, RenderOptions(cut_connections=True, deny_action="DROP", families=(4,)))
    assert chains(desired, 4)["KUBENET-FORWARD"][:2] == (
        '-m connmark --mark 0x100000/0x100000 -m comment --comment "connection no longer allowed" -j DROP', REPLIES)


@pytest.mark.parametrize("options", [{"mark": 0x300000}, {"mark": 0}, {"deny_action": "ACCEPT"},
                                     {"log_group": 70000}, {"families": (5,)}, {"families": ()},
                                     {"log_limit": "10"}, {"log_limit": "0/min"}, {"log_limit": "5/week"},
                                     {"log_limit": "20000/second"}, {"log_burst": 0}, {"log_burst": 10001},
                                     {"fail_closed_cidrs": ("0.0.0.0/0",)}, {"fail_closed_cidrs": ("pods",)}])
def test_bad_options_are_refused(options):
    with pytest.raises(ValueError):
        RenderOptions(**options)


def test_rendering_is_deterministic_whatever_the_input_order():
    first = render(SEED)
    shuffled = copy.deepcopy(SEED)
    rng = random.Random(7)
    rng.shuffle(shuffled["pods"])
    rng.shuffle(shuffled["policies"])
    shuffled["peer_sets"]["peers1"].reverse()
    assert render(shuffled) == first
    assert render(copy.deepcopy(SEED)) == first


def test_fingerprint_changes_with_the_plan_and_the_options_only():
    same = copy.deepcopy(SEED)
    assert fingerprint(same) == fingerprint(SEED)
    same["peer_sets"]["peers1"] = ["10.244.9.9"]
    assert fingerprint(same) != fingerprint(SEED)
    assert fingerprint(SEED, RenderOptions(mark=0x200000)) != fingerprint(SEED)
    assert fingerprint(SEED, RenderOptions(families=(6, 4))) == fingerprint(SEED)


@pytest.mark.parametrize("option", [item.name for item in dataclasses.fields(RenderOptions)])
def test_every_render_option_is_in_the_fingerprint(option):
    """A new option cannot be forgotten: the no-op shortcut would skip a converge it needs."""
    changed = {"deny_action": "DROP", "log_denied": True, "log_group": 7, "mark": 0x200000, "families": (4,),
               "fail_closed_cidrs": ("10.244.1.0/24",), "cut_connections": True, "log_limit": "1/sec", "log_burst": 9}
    assert set(changed) == {item.name for item in dataclasses.fields(RenderOptions)}
    assert fingerprint(SEED, RenderOptions(**{option: changed[option]})) != fingerprint(SEED)


def test_set_names_follow_identity_not_members():
    changed = copy.deepcopy(SEED)
    changed["peer_sets"]["peers1"] = ["10.244.9.9"]
    before = {item.name for item in render(SEED).sets}
    after = render(changed)
    assert {item.name for item in after.sets} == before
    assert members(after)[naming.set_name("hash:ip", 4, "P", SEED_POLICY, "ingress", 0, 0)] == ["10.244.9.9"]


SHARING = plan_slice(
    [pod("x/a", ["10.244.1.10"], ingress=["x/p1"]), pod("x/c", ["10.244.1.12"], ingress=["x/p2"])],
    [policy("x/p1", "ingress", ["x/a"], [clause("s1", [{"cidr": "192.168.0.0/16", "except": []}], [tcp(80)])]),
     policy("x/p2", "ingress", ["x/c"], [clause("s2", [{"cidr": "192.168.0.0/16", "except": []}], [tcp(81)])])],
    {"s1": ["10.244.2.10", "10.244.2.11"], "s2": ["10.244.2.11", "10.244.2.10"]})


def test_equal_member_lists_of_different_policies_render_one_set_of_each_type():
    desired = render(SHARING, RenderOptions(families=(4,)))
    peers = naming.set_name("hash:ip", 4, "P", "x/p1", "ingress", 0, 0)  # x/p1's clause is the smaller user
    block = naming.set_name("hash:net", 4, "N", "x/p1", "ingress", 0, 0, "block", 0)
    dispatch = [naming.set_name("hash:ip", 4, "D", "ingress", key) for key in ("x/p1", "x/p2")]
    isolated = naming.set_name("hash:ip", 4, "I", "ingress")  # two ingress groups: the set of both
    assert members(desired) == {peers: ["10.244.2.10", "10.244.2.11"], block: ["192.168.0.0/16"],
                                dispatch[0]: ["10.244.1.10"], dispatch[1]: ["10.244.1.12"],
                                isolated: ["10.244.1.10", "10.244.1.12"]}
    for key, port in (("x/p1", 80), ("x/p2", 81)):
        text = '-m comment --comment "%s ingress rule 0" ' % key
        assert chains(desired, 4)[naming.policy_chain(key, "ingress")] == tuple(
            "-p tcp -m tcp --dport %d -m set --match-set %s src " % (port, name) + text + MARK_ON for name in (peers, block))


def test_dispatch_and_peer_users_of_equal_addresses_share_a_set_across_kinds():
    changed = copy.deepcopy(SHARING)
    changed["peer_sets"]["s2"] = ["10.244.1.10"]  # x/p2 allows exactly the pod x/p1 isolates
    desired = render(changed, RenderOptions(families=(4,)))
    shared = naming.set_name("hash:ip", 4, "D", "ingress", "x/p1")  # "D..." sorts before "P..."
    assert members(desired)[shared] == ["10.244.1.10"]
    assert "-m set --match-set %s src" % shared in chains(desired, 4)[naming.policy_chain("x/p2", "ingress")][0]
    assert "-m set --match-set %s dst" % shared in chains(desired, 4)["KUBENET-INGRESS"][0]
    assert len(desired.sets) == 5  # the shared one, x/p1's peers, the block, x/p2's dispatch, both pods


def test_a_change_every_user_follows_keeps_the_name_and_a_divergence_splits_off_the_others():
    names = {item.name for item in render(SHARING).sets}
    peers = naming.set_name("hash:ip", 4, "P", "x/p1", "ingress", 0, 0)
    both = copy.deepcopy(SHARING)
    both["peer_sets"] = {"s1": ["10.244.2.12"], "s2": ["10.244.2.12"]}
    desired = render(both)
    assert {item.name for item in desired.sets} == names and members(desired)[peers] == ["10.244.2.12"]
    assert table(desired, 4) == table(render(SHARING), 4)  # no rule changes: only the members are swapped

    for diverging, keeps, moves in (("s1", "x/p1", "x/p2"), ("s2", "x/p1", "x/p2")):
        split = copy.deepcopy(SHARING)
        split["peer_sets"][diverging] = ["10.244.2.99"]
        found = render(split, RenderOptions(families=(4,)))
        own = naming.set_name("hash:ip", 4, "P", moves, "ingress", 0, 0)
        assert {item.name for item in found.sets} == names | {own}
        assert "--match-set %s src" % peers in chains(found, 4)[naming.policy_chain(keeps, "ingress")][0]
        assert "--match-set %s src" % own in chains(found, 4)[naming.policy_chain(moves, "ingress")][0]
        assert sorted([members(found)[peers], members(found)[own]]) == sorted(
            [["10.244.2.10", "10.244.2.11"], ["10.244.2.99"]])


def test_names_stay_within_kernel_limits_and_are_stable():
    long_key = "%s/%s" % ("n" * 63, "p" * 253)
    for direction in ("ingress", "egress"):
        assert len(naming.policy_chain(long_key, direction)) <= naming.MAX_CHAIN_NAME
        assert len(naming.pod_chain(direction, [long_key] * 50)) <= naming.MAX_CHAIN_NAME
    assert len(naming.TOP_CHAIN) <= naming.MAX_CHAIN_NAME
    for set_type in naming.SET_TYPE_CODES:
        for kind in naming.SET_KINDS:
            for family in (4, 6):
                name = naming.set_name(set_type, family, kind, long_key, "ingress", 99, 99, "block", 99)
                assert len(naming.temp_set(name)) <= naming.MAX_SET_NAME
                assert len(naming.temp_set(naming.bridge_set(name))) <= naming.MAX_SET_NAME
                assert naming.is_ours(name) and not naming.is_temp_set(name)
                assert naming.is_temp_set(naming.temp_set(name)) and not naming.is_temp_set(naming.bridge_set(name))
    assert naming.policy_chain("x/a", "ingress") == naming.policy_chain("x/a", "ingress")
    assert naming.policy_chain("x/a", "ingress") != naming.policy_chain("x/b", "ingress")
    assert naming.set_name("hash:ip", 4, "P", "x/a", "ingress", 0, 0) != naming.set_name("hash:ip", 6, "P", "x/a", "ingress", 0, 0)


def test_comments_are_sanitized_and_bounded():
    assert naming.comment('a "quoted"\nname\\x') == "a quoted name x"
    assert len(naming.comment("x" * 400)) == naming.MAX_COMMENT
    assert naming.comment_match("plain_name-1") == "-m comment --comment plain_name-1"
    assert naming.comment_match("x/a ingress rule 0") == '-m comment --comment "x/a ingress rule 0"'
    assert naming.comment("\n\t") == "kubenet-netpol"
