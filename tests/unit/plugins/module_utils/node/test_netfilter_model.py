# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The netfilter model itself, on tiny hand-made tables: each test can fail if a semantic is wrong
(call vs goto, nomatch, negation, ports, the mark), and anything unreadable raises. The last tests
run it on render()'s output for a slice whose verdicts are reasoned by hand.
"""

from __future__ import annotations

import pytest

from ansible_collections.kubenet.netpol.plugins.module_utils.node.render import Desired, IpSet, RenderOptions, Table, render
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import PLAN_VERSION
from netfilter_model import NetfilterModelError, forward_trace, forward_verdict

JUMP = '-m comment --comment "kubenet-netpol: network policies" -j KUBENET-FORWARD'
A, B = "10.244.1.10", "10.244.2.20"


def desired(chains, sets=(), family=4, jump=JUMP):
    """A Desired of one family's table; chains maps name -> rule specs (KUBENET-FORWARD first)."""
    table = Table(family, tuple((name, tuple(rules)) for name, rules in sorted(chains.items())), jump)
    return Desired((table,), tuple(sets))


def verdict(state, source=A, destination=B, protocol="TCP", port=80):
    return forward_verdict(state, source, destination, protocol, port)


def test_falling_off_the_end_passes_and_reject_or_drop_denies():
    assert verdict(desired({"KUBENET-FORWARD": []})) == "pass"
    state = desired({"KUBENET-FORWARD": ["-p udp -j REJECT --reject-with icmp-port-unreachable", "-p sctp -j DROP"]})
    assert verdict(state, protocol="TCP") == "pass"
    assert verdict(state, protocol="UDP") == "deny"
    assert verdict(state, protocol="SCTP") == "deny"


def test_return_and_nflog_do_not_deny_and_a_rule_without_target_continues():
    state = desired({"KUBENET-FORWARD": ['-m limit --limit 10/min -j NFLOG --nflog-prefix "a b" --nflog-group 5',
                                         '-m comment --comment "no target"', "-p tcp -j RETURN", "-j DROP"]})
    assert verdict(state, protocol="TCP") == "pass"  # NFLOG and the bare rule went on to the RETURN
    assert verdict(state, protocol="UDP") == "deny"


def test_a_called_chain_returns_to_the_next_rule_of_its_caller():
    state = desired({"KUBENET-FORWARD": ["-j X"], "X": ["-j Y", "-j DROP"], "Y": ["-j RETURN"]})
    assert verdict(state) == "deny"
    state = desired({"KUBENET-FORWARD": ["-j X"], "X": ["-j Y", "-j DROP"], "Y": []})  # falling off Y: the same
    assert verdict(state) == "deny"


def test_a_goto_replaces_the_frame_so_return_goes_to_the_caller_of_the_goto_chain():
    state = desired({"KUBENET-FORWARD": ["-j X"], "X": ["-g Y", "-j DROP"], "Y": ["-j RETURN"]})
    assert verdict(state) == "pass"  # back in KUBENET-FORWARD, past -j X; X's DROP is never reached
    state = desired({"KUBENET-FORWARD": ["-j X", "-p tcp -j DROP"], "X": ["-g Y", "-j DROP"], "Y": []})
    assert verdict(state, protocol="TCP") == "deny"  # resumed in KUBENET-FORWARD
    assert verdict(state, protocol="UDP") == "pass"
    state = desired({"KUBENET-FORWARD": ["-g Y", "-j DROP"], "Y": []})
    assert verdict(state) == "pass"  # a goto from the top chain returns straight to FORWARD


def test_hash_net_longest_prefix_decides_with_nomatch_holes_and_bare_addresses():
    nets = IpSet("N", 4, "hash:net", ("10.0.0.0/8", "10.1.0.0/16 nomatch", "10.1.2.0/24", "192.168.1.7"))
    state = desired({"KUBENET-FORWARD": ["-m set --match-set N src -j DROP"]}, [nets])
    assert verdict(state, source="10.9.9.9") == "deny"
    assert verdict(state, source="10.1.9.9") == "pass"  # the nomatch /16 is more specific than the /8
    assert verdict(state, source="10.1.2.3") == "deny"  # the /24 inside the hole is more specific still
    assert verdict(state, source="192.168.1.7") == "deny"  # a bare address is a /32
    assert verdict(state, source="192.168.1.8") == "pass"
    assert verdict(state, source="11.0.0.1") == "pass"


def test_hash_ip_is_exact_address_equality_in_canonical_form():
    pods = IpSet("I", 6, "hash:ip", ("fd00::10",))
    state = desired({"KUBENET-FORWARD": ["-m set --match-set I dst -j DROP"]}, [pods], family=6)
    assert verdict(state, source="fd00::1", destination="fd00:0:0::0:10") == "deny"
    assert verdict(state, source="fd00::1", destination="fd00::11") == "pass"
    assert verdict(state, source="fd00::10", destination="fd00::1") == "pass"  # dst, not src
    assert verdict(state, source="10.0.0.1", destination="10.0.0.2") == "pass"  # no IPv4 table


def test_negated_set_match_and_two_set_matches_in_one_rule():
    cidr = IpSet("C", 4, "hash:net", ("10.244.1.0/24",))
    known = IpSet("K", 4, "hash:ip", (A,))
    state = desired({"KUBENET-FORWARD": ["-m set --match-set C dst -m set ! --match-set K dst -j DROP"]}, [cidr, known])
    assert verdict(state, destination=A) == "pass"  # known
    assert verdict(state, destination="10.244.1.99") == "deny"  # in the CIDR, unknown
    assert verdict(state, destination="10.244.2.99") == "pass"  # outside the CIDR


def test_multiport_and_port_ranges_are_inclusive_and_per_protocol():
    state = desired({"KUBENET-FORWARD": ["-p tcp -m multiport --dports 80,443,8000:8080 -j DROP",
                                         "-p udp -m udp --dport 53:54 -j DROP", "-p sctp -m sctp --dport 9 -j DROP"]})
    for port in (80, 443, 8000, 8042, 8080):
        assert verdict(state, port=port) == "deny", port
    for port in (79, 81, 442, 7999, 8081):
        assert verdict(state, port=port) == "pass", port
    assert verdict(state, protocol="UDP", port=80) == "pass"
    assert [verdict(state, protocol="UDP", port=port) for port in (52, 53, 54, 55)] == ["pass", "deny", "deny", "pass"]
    assert verdict(state, protocol="SCTP", port=9) == "deny"
    assert verdict(state, protocol="SCTP", port=53) == "pass"


def test_set_xmark_xors_into_the_masked_mark_and_the_mark_survives_a_return():
    # mark = (mark & ~M) ^ V: 0 -> 0x3 -> 0x2 (an OR would leave 0x3).
    state = desired({"KUBENET-FORWARD": ["-j X", "-m mark --mark 0x2/0x3 -j RETURN", "-j DROP"],
                     "X": ["-j MARK --set-xmark 0x3/0x1", "-j MARK --set-xmark 0x1/0x0"]})
    assert verdict(state) == "pass"
    state = desired({"KUBENET-FORWARD": ["-j MARK --set-xmark 0x3/0xffffffff", "-m mark --mark 0x2/0x3 -j RETURN", "-j DROP"]})
    assert verdict(state) == "deny"
    state = desired({"KUBENET-FORWARD": ["-j MARK --set-xmark 0x3/0xffffffff", "-m mark --mark 0x2/0x2 -j RETURN", "-j DROP"]})
    assert verdict(state) == "pass"  # only the masked bits are compared
    # The pod chain pattern: a policy chain marks, the pod chain leaves through ALLOW, which clears the mark.
    state = desired({"KUBENET-FORWARD": ["-j P", "-m mark --mark 0x100000/0x100000 -j DROP"],
                     "P": ["-j MARK --set-xmark 0x0/0x100000", "-j Q", "-m mark --mark 0x100000/0x100000 -g KUBENET-ALLOW",
                           "-j DROP"],
                     "Q": ["-p tcp -m tcp --dport 80 -j MARK --set-xmark 0x100000/0x100000"],
                     "KUBENET-ALLOW": ["-j MARK --set-xmark 0x0/0x100000"]})
    assert verdict(state, port=80) == "pass"
    assert verdict(state, port=81) == "deny"
    assert forward_trace(desired({"KUBENET-FORWARD": ["-j X"], "X": ["-p udp -j DROP"]}), A, B, "UDP", 1) == (
        "deny", [("KUBENET-FORWARD", "-j X"), ("X", "-p udp -j DROP")])


def test_a_new_packet_with_connmark_zero_matches_only_new_states_and_zero_marks():
    # The packet mark set first must not be read as the connmark.
    state = desired({"KUBENET-FORWARD": ["-j MARK --set-xmark 0x100000/0x100000", "-m connmark --mark 0x100000/0x100000 -j DROP",
                                         "-m conntrack --ctstate RELATED,ESTABLISHED -j DROP",
                                         "-m conntrack --ctstate INVALID -j DROP",
                                         "-m connmark --mark 0x0/0x100000 -m conntrack --ctstate NEW,INVALID -j RETURN",
                                         "-j DROP"]})
    assert verdict(state) == "pass"


@pytest.mark.parametrize("rule", [
    "-s 10.0.0.0/8 -j DROP",  # address matches are not modelled
    "-p tcp -m tcp --sport 80 -j DROP",
    "-m tcp --dport 80 -j DROP",  # the kernel needs -p tcp first
    "-p tcp -m tcp ! --dport 80 -j DROP",
    "-p tcp -m tcp --dport 90:80 -j DROP",
    "-p tcp -m multiport --sports 80,81 -j DROP",
    "-p tcp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16 -j DROP",
    "-m set --match-set MISSING src -j DROP",
    "-m set --match-set N src,dst -j DROP",
    "-m set --match-set N src --return-nomatch -j DROP",
    "-m set --match-set N6 src -j DROP",  # a set of the other family
    "-m conntrack ! --ctstate NEW -j DROP",
    "-m conntrack --ctstate NEW --ctproto tcp -j DROP",
    "-m mark --mark 0x1/0x1 extra -j DROP",
    "-m physdev --physdev-in eth0 -j DROP",
    "! -p tcp -j DROP",
    "-j ACCEPT",
    "-j NOCHAIN",
    "-j MARK --set-mark 0x1",
    "-j REJECT --reject-with icmp6-port-unreachable",  # an IPv6 type in the IPv4 table
    "-j DROP -m comment --comment late",
    '-m comment --comment "unterminated -j DROP',
])
def test_anything_not_understood_raises_even_in_a_rule_never_reached(rule):
    sets = [IpSet("N", 4, "hash:net", ("10.0.0.0/8",)), IpSet("N6", 6, "hash:net", ("fd00::/8",))]
    state = desired({"KUBENET-FORWARD": ["-j DROP", rule]}, sets)
    with pytest.raises(NetfilterModelError):
        verdict(state)


@pytest.mark.parametrize("chains, sets", [
    ({"KUBENET-FORWARD": ["-j X"], "X": ["-g KUBENET-FORWARD"]}, ()),  # a loop
    ({"OTHER": []}, ()),  # no top chain
    ({"KUBENET-FORWARD": []}, (IpSet("N", 4, "hash:net", ("10.0.0.1/8",)),)),  # host bits: ipset never prints that
    ({"KUBENET-FORWARD": []}, (IpSet("N", 4, "hash:net", ("0.0.0.0/0",)),)),  # hash:net cannot hold a /0
    ({"KUBENET-FORWARD": []}, (IpSet("N", 4, "hash:net", ("10.0.0.0/8 timeout 5",)),)),
    ({"KUBENET-FORWARD": []}, (IpSet("I", 4, "hash:ip", ("10.0.0.0/8",)),)),
    ({"KUBENET-FORWARD": []}, (IpSet("I", 4, "list:set", ()),)),
])
def test_unreadable_tables_and_sets_raise(chains, sets):
    with pytest.raises(NetfilterModelError):
        verdict(desired(chains, sets))


def test_the_forward_jump_must_be_a_plain_call_of_the_top_chain_and_packets_must_be_sane():
    with pytest.raises(NetfilterModelError):
        verdict(desired({"KUBENET-FORWARD": []}, jump="-g KUBENET-FORWARD"))
    with pytest.raises(NetfilterModelError):
        verdict(desired({"KUBENET-FORWARD": []}, jump="-i cni0 -j KUBENET-FORWARD"))
    only_tcp = desired({"KUBENET-FORWARD": ["-j DROP"]}, jump="-p tcp -j KUBENET-FORWARD")
    assert verdict(only_tcp, protocol="TCP") == "deny"
    assert verdict(only_tcp, protocol="UDP") == "pass"  # never entered our chain
    state = desired({"KUBENET-FORWARD": []})
    for args in [(A, "fd00::1", "TCP", 80), (A, B, "tcp", 80), (A, B, "ICMP", 0), (A, B, "TCP", 70000), (A, B, "TCP", "80")]:
        with pytest.raises(NetfilterModelError):
            forward_verdict(state, *args)


# render() on a slice in the shape of test_render.py's: x/db (10.244.1.10) isolated for ingress by
# x/db-in (TCP 6379 from the peer set {10.244.2.20} or from 172.17.0.0/16 except 172.17.1.0/24);
# x/client (10.244.1.12) isolated for egress by x/out (UDP 53 anywhere); x/web (10.244.1.11) not isolated.
DB, WEB, CLIENT = "10.244.1.10", "10.244.1.11", "10.244.1.12"
SLICE = {
    "version": PLAN_VERSION,
    "node": "n1",
    "pods": [{"pod": "x/db", "ips": [DB], "ingress": ["x/db-in"], "egress": []},
             {"pod": "x/web", "ips": [WEB], "ingress": [], "egress": []},
             {"pod": "x/client", "ips": [CLIENT, "fd00::12"], "ingress": [], "egress": ["x/out"]}],
    "policies": [
        {"policy": "x/db-in", "direction": "ingress", "targets": ["x/db"], "rules": [{"index": 0, "clauses": [
            {"peers": {"pod_set": "front", "ip_blocks": [{"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}]},
             "ports": [{"protocol": "TCP", "port": 6379, "end_port": 6379}], "targets": None}]}]},
        {"policy": "x/out", "direction": "egress", "targets": ["x/client"], "rules": [{"index": 0, "clauses": [
            {"peers": None, "ports": [{"protocol": "UDP", "port": 53, "end_port": 53}], "targets": None}]}]},
    ],
    "peer_sets": {"front": ["10.244.2.20"]},
}
EXPECTED = [
    ("10.244.2.20", DB, "TCP", 6379, "pass"),  # a peer pod on the allowed port
    ("10.244.2.20", DB, "TCP", 6380, "deny"),  # wrong port
    ("10.244.2.20", DB, "UDP", 6379, "deny"),  # wrong protocol
    ("10.244.2.21", DB, "TCP", 6379, "deny"),  # not a peer
    ("172.17.9.9", DB, "TCP", 6379, "pass"),  # in the block
    ("172.17.1.9", DB, "TCP", 6379, "deny"),  # in its except
    ("10.244.2.21", WEB, "TCP", 80, "pass"),  # x/web is not isolated
    (DB, "8.8.8.8", "TCP", 443, "pass"),  # x/db is not isolated for egress
    (CLIENT, "8.8.8.8", "UDP", 53, "pass"),
    (CLIENT, "8.8.8.8", "TCP", 53, "deny"),
    (CLIENT, DB, "TCP", 6379, "deny"),  # x/client's egress allows only UDP 53
    ("fd00::12", "fd00::99", "UDP", 53, "pass"),
    ("fd00::12", "fd00::99", "TCP", 80, "deny"),
    ("fd00::99", "fd00::12", "TCP", 80, "pass"),  # x/client is not isolated for ingress
]


@pytest.mark.parametrize("options", [
    RenderOptions(), RenderOptions(deny_action="DROP", log_denied=True), RenderOptions(cut_connections=True, mark=0x4000000)],
    ids=["default", "drop-log", "cut-connections"])
def test_rendered_slice_gives_the_verdicts_reasoned_by_hand(options):
    state = render(SLICE, options)
    for source, destination, protocol, port, expected in EXPECTED:
        assert forward_verdict(state, source, destination, protocol, port) == expected, (source, destination, protocol, port)
    result, trace = forward_trace(state, "10.244.2.20", DB, "TCP", 6379)
    assert result == "pass" and trace[-1] == ("KUBENET-ALLOW", "-j MARK --set-xmark 0x0/%#x" % options.mark)


def test_rendered_log_rule_sees_every_denied_first_packet_and_no_allowed_one():
    # The limit is the kernel's business (the model ignores it); where the rule sits is ours.
    state = render(SLICE, RenderOptions(log_denied=True, log_limit="1/day", log_burst=3))
    for source, destination, protocol, port, expected in EXPECTED:
        result, trace = forward_trace(state, source, destination, protocol, port)
        logged = [rule for _chain, rule in trace if "-j NFLOG" in rule]
        assert len(logged) == (1 if expected == "deny" else 0), (source, destination, protocol, port, trace)


def test_rendered_fail_closed_mode_denies_pods_the_plan_does_not_know():
    state = render(SLICE, RenderOptions(fail_closed_cidrs=("10.244.1.0/24",), families=(4,)))
    assert forward_verdict(state, "10.244.2.21", WEB, "TCP", 80) == "pass"
    assert forward_verdict(state, "10.244.2.21", "10.244.1.99", "TCP", 80) == "deny"  # started since the plan
    assert forward_verdict(state, "10.244.1.99", "8.8.8.8", "UDP", 53) == "deny"
    assert forward_verdict(state, "fd00::12", "fd00::99", "TCP", 80) == "pass"  # no IPv6 table rendered
