# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Updates without a window (issue #13, point 1), with real packets (needs root).

The node of test_dataplane_packets' lab converges 100 times, each time to another state of
cluster_states (policies, labels and pods change), exactly as netpol_chains does it (plan ->
render -> converge in the node's namespace). Meanwhile every source host probes the STABLE
pairs without pause over fresh connections and keeps long-lived connections of pairs allowed
in every state busy: no probe may see a wrong verdict, no long-lived connection may break.
"""

from __future__ import annotations

import os
import time

import pytest

from cluster_states import ADDRESSES, CHANGING, SESSIONS, STABLE, expected, rendered, walk
from probing import Prober, start_udp_echo

from ansible_collections.kubenet.netpol.plugins.module_utils.node.dataplane import converge

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, netfilter)")]

RUNS = 100
SEED = 1313


def source_address(host, address):
    """The host's address of the destination's family (probes bind to it)."""
    return next(ip for ip in ADDRESSES[host] if (":" in ip) == (":" in address))


def probers(lab):
    by_host = {}
    for (host, address, protocol, port), allowed in STABLE.items():
        by_host.setdefault(host, []).append([source_address(host, address), address, protocol, port, allowed])
    sessions = {}
    for host, address, port in SESSIONS:
        sessions.setdefault(host, []).append([source_address(host, address), address, port])
    return [Prober(lab, host, pairs, sessions.get(host, [])) for host, pairs in sorted(by_host.items())]


def probe_once(lab, pair):
    host, address, protocol, port = pair
    assert protocol == "TCP"
    return lab.connect(host, address, port, bind=source_address(host, address)) == "ok"


def test_a_hundred_converges_never_change_a_stable_verdict_nor_break_a_connection(lab, runner_in, state_dir):
    # REJECT answers with ICMP errors, which the node rate-limits per peer: unlimited, a denied probe is instant.
    runner_in(lab.node).run("sysctl", "-qw", "net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0")
    start_udp_echo(lab, "a", [(ADDRESSES["a"][0], 8080)])
    start_udp_echo(lab, "outside", [(ADDRESSES["outside"][0], 53)])
    node = runner_in(lab.node)
    states = walk(SEED, RUNS + 1)
    converge(rendered(states[0]), node, state_dir=state_dir)
    running = probers(lab)
    changed = 0
    began = time.monotonic()
    try:
        for state in states[1:]:
            changed += converge(rendered(state), node, state_dir=state_dir).changed
    finally:
        converging = time.monotonic() - began
        seen = {prober.host: prober.finish() for prober in running}
    probes = sum(result["probes"] for result in seen.values())
    exchanges = sum(record["exchanges"] for result in seen.values() for record in result["sessions"].values())
    print("\n%d converges in %.1f s; %d probes of %d stable pairs from %d hosts; %d exchanges over %d "
          "long-lived connections" % (changed, converging, probes, len(STABLE), len(seen), exchanges, len(SESSIONS)))
    assert changed == RUNS, "every state differs from the one before: every run must write"
    assert {host: result["wrong"] for host, result in seen.items()} == {host: [] for host in seen}
    assert {target: record["errors"] for result in seen.values() for target, record in result["sessions"].items()} \
        == {"%s:%d" % (address, port): [] for _host, address, port in SESSIONS}
    assert probes >= 5 * len(STABLE), "the probes ran during the runs"
    assert all(record["exchanges"] >= 2 for result in seen.values() for record in result["sessions"].values())
    # The pairs that follow the switches have the last state's verdict: the runs did change something.
    assert {pair: probe_once(lab, pair) for pair in CHANGING} == {pair: expected(pair, states[-1]) for pair in CHANGING}
