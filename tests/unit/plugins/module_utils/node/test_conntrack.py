# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judging tracked connections against a plan slice, and reading `conntrack -L -o extended`.

The slice: x/a (10.244.1.10) isolated for ingress by x/web (TCP 8080 from the peer set
{10.244.2.5}; TCP 9000-9100 from 192.168.0.0/16 except 192.168.1.0/24), x/b (10.244.1.11)
isolated for egress by x/out (UDP 53 to anything), x/c (10.244.1.12) not isolated.
"""

from __future__ import annotations

from ansible_collections.kubenet.netpol.plugins.module_utils.node.conntrack import (
    ConnectionCutter, PlanVerdict, parse_conntrack)
from ansible_collections.kubenet.netpol.plugins.module_utils.node.dataplane import Shell

SLICE = {
    "node": "n1",
    "pods": [{"pod": "x/a", "ips": ["10.244.1.10"], "ingress": ["x/web"], "egress": []},
             {"pod": "x/b", "ips": ["10.244.1.11"], "ingress": [], "egress": ["x/out"]},
             {"pod": "x/c", "ips": ["10.244.1.12"], "ingress": [], "egress": []}],
    "policies": [
        {"policy": "x/web", "direction": "ingress", "targets": ["x/a"], "rules": [{"index": 0, "clauses": [
            {"peers": {"pod_set": "s", "ip_blocks": []}, "ports": [{"protocol": "TCP", "port": 8080, "end_port": 8080}],
             "targets": None},
            {"peers": {"pod_set": None, "ip_blocks": [{"cidr": "192.168.0.0/16", "except": ["192.168.1.0/24"]}]},
             "ports": [{"protocol": "TCP", "port": 9000, "end_port": 9100}], "targets": ["x/a"]}]}]},
        {"policy": "x/out", "direction": "egress", "targets": ["x/b"], "rules": [{"index": 0, "clauses": [
            {"peers": None, "ports": [{"protocol": "UDP", "port": None, "end_port": None}], "targets": None}]}]},
    ],
    "peer_sets": {"s": ["10.244.2.5"]},
}


def test_ingress_of_an_isolated_pod_needs_a_matching_clause():
    verdict = PlanVerdict(SLICE)
    assert verdict.allows("10.244.2.5", "10.244.1.10", "TCP", 8080)
    assert not verdict.allows("10.244.2.5", "10.244.1.10", "TCP", 8081)
    assert not verdict.allows("10.244.2.6", "10.244.1.10", "TCP", 8080)
    assert verdict.allows("192.168.7.7", "10.244.1.10", "TCP", 9100)
    assert not verdict.allows("192.168.1.7", "10.244.1.10", "TCP", 9100)  # the except
    assert not verdict.allows("192.168.7.7", "10.244.1.10", "UDP", 9100)
    assert not verdict.allows("10.244.2.5", "10.244.1.10", "ICMP", None)


def test_egress_of_an_isolated_pod_and_pods_that_are_not_isolated():
    verdict = PlanVerdict(SLICE)
    assert verdict.allows("10.244.1.11", "8.8.8.8", "UDP", 53)
    assert not verdict.allows("10.244.1.11", "8.8.8.8", "TCP", 53)
    assert verdict.allows("10.244.1.12", "8.8.8.8", "TCP", 443)
    # b -> a needs b's egress (UDP only) and a's ingress: TCP 8080 from b is denied twice over.
    assert not verdict.allows("10.244.1.11", "10.244.1.10", "TCP", 8080)


LISTING = """\
ipv4     2 tcp      6 431999 ESTABLISHED src=10.244.2.5 dst=10.96.0.20 sport=41000 dport=80 \
src=10.244.1.10 dst=10.244.2.5 sport=8080 dport=41000 [ASSURED] mark=0 use=1
ipv4     2 udp      17 29 src=10.244.1.11 dst=8.8.8.8 sport=5353 dport=53 [UNREPLIED] \
src=8.8.8.8 dst=10.244.1.11 sport=53 dport=5353 mark=0 use=1
ipv4     2 icmp     1 29 src=10.244.2.5 dst=10.244.1.10 type=8 code=0 id=7 \
src=10.244.1.10 dst=10.244.2.5 type=0 code=0 id=7 mark=1048576 use=1
"""


def test_conntrack_listing_gives_the_destination_the_pod_saw():
    flows = parse_conntrack(LISTING)
    # The first flow went through a Service (DNAT): the pod and port are the reply's source.
    assert flows[0] == {"protocol": "tcp", "source": "10.244.2.5", "original_destination": "10.96.0.20",
                        "destination": "10.244.1.10", "sport": "41000", "original_dport": "80", "dport": 8080,
                        "mark": 0}
    assert (flows[1]["destination"], flows[1]["dport"]) == ("8.8.8.8", 53)
    assert (flows[2]["protocol"], flows[2]["dport"], flows[2]["mark"]) == ("icmp", None, 0x100000)


class Listing:
    """A runner that lists LISTING for IPv4 and records the updates."""

    def __init__(self):
        self.calls = []

    def __call__(self, argv, stdin=None):
        self.calls.append(list(argv))
        return 0, LISTING if argv[:2] == ["conntrack", "-L"] and "ipv4" in argv else "", ""


def test_cutter_marks_what_is_denied_now_and_leaves_allowed_connections_alone():
    runner = Listing()
    narrower = dict(SLICE, peer_sets={"s": ["10.244.2.99"]})  # 10.244.2.5 is no peer any more
    cut = ConnectionCutter(narrower, 0x100000).run(Shell(runner), (4,))
    assert cut == ["tcp 10.244.2.5:41000 -> 10.244.1.10:8080"]
    # The ICMP flow is still denied and already marked: no update; the DNS flow is allowed.
    assert runner.calls[1:] == [["conntrack", "-U", "-p", "tcp", "-s", "10.244.2.5", "-d", "10.96.0.20",
                                 "--sport", "41000", "--dport", "80", "--mark", "0x100000/0x100000"]]


def test_cutter_unmarks_a_connection_allowed_again_and_check_mode_changes_nothing():
    everything = dict(SLICE, pods=[dict(pod, ingress=[], egress=[]) for pod in SLICE["pods"]])
    runner = Listing()
    shell = Shell(runner)
    assert ConnectionCutter(everything, 0x100000).run(shell, (4,)) == []
    assert runner.calls[1:] == [["conntrack", "-U", "-p", "icmp", "-s", "10.244.2.5", "-d", "10.244.1.10",
                                 "--mark", "0x0/0x100000"]]
    runner = Listing()
    shell = Shell(runner, check_mode=True)
    assert ConnectionCutter(dict(SLICE, peer_sets={"s": []}), 0x100000).run(shell, (4,)) != []
    assert [call[:2] for call in runner.calls] == [["conntrack", "-L"]]
    assert [command for command in shell.commands if command.startswith("conntrack -U")][0].endswith("(check mode: not run)")
