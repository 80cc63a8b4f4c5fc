# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cutting tracked connections the plan slice no longer allows, and reading `conntrack -L -o extended`.

The slice (sample_slice of ../conftest.py): x/a (10.244.1.10) isolated for ingress
by x/web (TCP 8080 from the peer set {10.244.2.5}), x/b isolated for egress, on node n1 whose
own address is 10.10.0.1.
"""

from __future__ import annotations

from ansible_collections.kubenet.netpol.plugins.module_utils.node.conntrack import ConnectionCutter, parse_conntrack
from ansible_collections.kubenet.netpol.plugins.module_utils.node.dataplane import Shell

LISTING = """\
ipv4     2 tcp      6 431999 ESTABLISHED src=10.244.2.5 dst=10.96.0.20 sport=41000 dport=80 \
src=10.244.1.10 dst=10.244.2.5 sport=8080 dport=41000 [ASSURED] mark=0 use=1
ipv4     2 udp      17 29 src=10.244.1.11 dst=8.8.8.8 sport=5353 dport=53 [UNREPLIED] \
src=8.8.8.8 dst=10.244.1.11 sport=53 dport=5353 mark=0 use=1
ipv4     2 icmp     1 29 src=10.244.2.5 dst=10.244.1.10 type=8 code=0 id=7 \
src=10.244.1.10 dst=10.244.2.5 type=0 code=0 id=7 mark=1048576 use=1
ipv4     2 tcp      6 119 TIME_WAIT src=10.10.0.1 dst=10.244.1.10 sport=52000 dport=8080 \
src=10.244.1.10 dst=10.10.0.1 sport=8080 dport=52000 [ASSURED] mark=0 use=1
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


def test_cutter_marks_what_is_denied_now_and_leaves_allowed_connections_alone(sample_slice):
    runner = Listing()
    narrower = dict(sample_slice, peer_sets={"s": ["10.244.2.99"]})  # 10.244.2.5 is no peer any more
    cut = ConnectionCutter(narrower, 0x100000).run(Shell(runner), (4,))
    assert cut == ["tcp 10.244.2.5:41000 -> 10.244.1.10:8080"]
    # The ICMP flow is still denied and already marked: no update; the DNS flow is allowed; the
    # kubelet's probe from the node's own address never crosses FORWARD, so no policy applies.
    assert runner.calls[1:] == [["conntrack", "-U", "-p", "tcp", "-s", "10.244.2.5", "-d", "10.96.0.20",
                                 "--sport", "41000", "--dport", "80", "--mark", "0x100000/0x100000"]]


def test_cutter_unmarks_a_connection_allowed_again_and_check_mode_changes_nothing(sample_slice):
    everything = dict(sample_slice, pods=[dict(pod, ingress=[], egress=[]) for pod in sample_slice["pods"]])
    runner = Listing()
    shell = Shell(runner)
    assert ConnectionCutter(everything, 0x100000).run(shell, (4,)) == []
    assert runner.calls[1:] == [["conntrack", "-U", "-p", "icmp", "-s", "10.244.2.5", "-d", "10.244.1.10",
                                 "--mark", "0x0/0x100000"]]
    runner = Listing()
    shell = Shell(runner, check_mode=True)
    assert ConnectionCutter(dict(sample_slice, peer_sets={"s": []}), 0x100000).run(shell, (4,)) != []
    assert [call[:2] for call in runner.calls] == [["conntrack", "-L"]]
    assert [command for command in shell.commands if command.startswith("conntrack -U")][0].endswith("(check mode: not run)")
