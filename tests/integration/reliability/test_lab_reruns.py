# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real enforce.yml over SSH on the lab (issue #13, points 1 and 2), needs root.

enforce.yml re-runs, alternating between scenarios rerun-a and rerun-b (labels and policies
change, one verdict does), while every pair of the lab is probed again and again with real
TCP and UDP packets: the pairs whose hand-written expectation is the same in both scenarios
never get another verdict. Then node-3's sshd is stopped: the run converges the other nodes,
leaves node-3's rules as they were, and its summary names node-3; with sshd back, the next
run converges node-3 too.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

from netpol_lab import lab as lab_life
from netpol_lab import prober, sshd
from netpol_lab.enforce import RECAP, ansible_environment, playbook_command, run_playbook
from netpol_lab.expected import parse_expected, probed_rows
from netpol_lab.netns import in_netns, netns_pids, running, stop, wait_for_files
from netpol_lab.scenario import load_scenario
from netpol_lab.topology import probed_ports

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, sshd)")]

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
PATHS = {name: str(SCENARIOS / ("rerun-%s.yaml" % name)) for name in "ab"}
RERUNS = ("b", "a", "b")
SUMMARY_NAMES = re.compile(r'"failed_or_unreachable": \[\s*"node-3"\s*\]')


@pytest.fixture
def rerun_lab():
    scenarios = [load_scenario(path) for path in PATHS.values()]
    lab = lab_life.up(scenarios[0], PATHS["a"], probed_ports(scenarios))
    try:
        yield lab
    finally:
        lab_life.down(lab)


def stable_rows():
    """Rows whose hand-written verdict is the same in both scenarios: row -> allowed."""
    expectations = {name: (load_scenario(path), parse_expected(load_scenario(path).expected))
                    for name, path in PATHS.items()}
    rows = probed_rows(expectations["a"][0])
    assert sorted(rows) == sorted(probed_rows(expectations["b"][0])), "both scenarios probe the same rows"
    verdicts = {name: {row: expectation.allowed(row) for row in rows} for name, (_s, expectation) in expectations.items()}
    return {row: verdicts["a"][row] for row in rows if verdicts["a"][row] == verdicts["b"][row]}


class Probing:
    """Every row of the lab probed round after round in a thread, until stopped."""

    def __init__(self, lab):
        self.scenario = load_scenario(PATHS["a"])
        self.lab = lab
        self.tables = []
        self.error = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop)
        self.thread.start()

    def _loop(self):
        try:
            while not self.stop.is_set():
                self.tables.append(prober.probe(self.lab, self.scenario, "rerun"))
        except Exception as error:  # pylint: disable=broad-except
            self.error = error  # raised again by finish(), in the test's thread

    def finish(self):
        self.stop.set()
        self.thread.join(timeout=300)
        assert self.error is None, "a probe round failed: %s" % self.error
        return self.tables


def ours(node):
    lines = []
    for argv in (["iptables-save", "-t", "filter"], ["ip6tables-save", "-t", "filter"], ["ipset", "save"]):
        output = subprocess.run(in_netns(node.netns, argv), capture_output=True, text=True, check=True).stdout
        lines.extend(line for line in output.splitlines() if "KUBENET" in line and not line.startswith("#"))
    return lines


def stop_sshd(node):
    """Stop the node's sshd and every session it serves (Ansible's persistent connection included)."""
    pids = []
    for pid in netns_pids([node.netns]):
        try:
            with open("/proc/%d/comm" % pid, encoding="utf-8") as handle:
                if handle.read().strip().startswith("sshd"):
                    pids.append(pid)
        except FileNotFoundError:
            continue
    assert pids, "no sshd runs in %s" % node.netns
    stop(pids)
    assert not [pid for pid in pids if running(pid)]
    pidfile = os.path.join(node.dir, "sshd.pid")
    if os.path.exists(pidfile):
        os.unlink(pidfile)


def start_sshd(node):
    subprocess.run(in_netns(node.netns, [sshd.SSHD, "-f", os.path.join(node.dir, "sshd_config"),
                                         "-E", os.path.join(node.dir, "sshd.log")]), check=True)
    wait_for_files([os.path.join(node.dir, "sshd.pid")], sshd.READY_TIMEOUT, {})


def test_enforce_reruns_keep_stable_verdicts_and_an_unreachable_node_is_named(rerun_lab, monkeypatch):
    lab = rerun_lab
    # Denied probes are refused at once (REJECT, ICMP unthrottled below): longer waits cost nothing but keep
    # an allowed probe starved of CPU by the playbook from counting as denied.
    monkeypatch.setitem(prober.TIMEOUTS, "tcp", 3.0)
    monkeypatch.setitem(prober.TIMEOUTS, "udp", 1.5)
    for node in lab.nodes:  # REJECT's ICMP errors unthrottled: a denied probe is answered at once
        subprocess.run(in_netns(node.netns, ["sysctl", "-qw", "net.ipv4.icmp_ratelimit=0",
                                             "net.ipv6.icmp.ratelimit=0"]), check=True)
    stable = stable_rows()
    assert 0 < len(stable) < len(probed_rows(load_scenario(PATHS["a"])))
    assert all(changed for changed in run_playbook(lab)[0].values())
    probing = Probing(lab)
    began = time.monotonic()
    try:
        for name in RERUNS:
            lab_life.set_scenario(lab, PATHS[name])
            changed, _output = run_playbook(lab)
            assert all(changed.values()), "every node's chains change with the scenario: %s" % changed
    finally:
        tables = probing.finish()
    wrong = [(row, verdict) for table in tables for verdict in ("allowed", "denied") for row in table[verdict]
             if tuple(row) in stable and stable[tuple(row)] != (verdict == "allowed")]
    print("\n%d enforce.yml runs in %.0f s; %d probe rounds, %d probes of %d stable rows"
          % (len(RERUNS), time.monotonic() - began, len(tables), len(tables) * len(stable), len(stable)))
    assert wrong == []
    assert len(tables) >= len(RERUNS), "the probes ran during the runs"

    node3 = lab.node("node-3")
    kept = ours(node3)
    stop_sshd(node3)
    lab_life.set_scenario(lab, PATHS["a"])
    result = subprocess.run(playbook_command(lab), env=ansible_environment(lab), capture_output=True, text=True,
                            check=False, timeout=600)
    output = result.stdout + result.stderr
    recap = {host: (int(changed), int(unreachable), int(failed)) for host, changed, unreachable, failed
             in RECAP.findall(output)}
    assert result.returncode != 0 and recap["node-3"][1] == 1, output
    assert all(recap[name][0] > 0 and recap[name][1:] == (0, 0) for name in ("node-1", "node-2")), recap
    assert SUMMARY_NAMES.search(output), output
    assert ours(node3) == kept, "an unreachable node keeps its rules as they were"
    start_sshd(node3)
    changed, _output = run_playbook(lab)
    assert changed == {"node-1": False, "node-2": False, "node-3": True}
