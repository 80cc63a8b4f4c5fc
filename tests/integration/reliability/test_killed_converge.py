# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A converge killed at random points (issue #13, point 2), on the pod lab's node (needs root).

The converge runs in a child process, as netpol_chains runs it on a node, from one state of
cluster_states to another; it is killed with SIGKILL (the whole process group, or only the
Python process so that a restore command it was feeding sees its input end) at a seeded
random instant inside a seeded random write (ipset restore, iptables-nft-restore,
ip6tables-nft-restore). After each kill, every packet of a grid (every pair of the lab's and the
plan's addresses, five ports, TCP and UDP) is walked through the live rules with the netfilter
interpreter: each must get the old state's verdict or the new one's, never one that neither
gives. Every tenth kill, real packets check the interpreter against the kernel. Then an
uninterrupted run converges: the live state equals the desired one, and a rerun writes nothing.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from cluster_states import ADDRESSES, grid, live_desired, plan_of, rendered, verdicts, walk

from ansible_collections.kubenet.netpol.plugins.module_utils.node.dataplane import converge
from ansible_collections.kubenet.netpol.plugins.module_utils.node.render import RenderOptions, fingerprint

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, netfilter)")]

KILLS = 50
SEED = 1302
CHILD = r"""
import json, subprocess, sys
from cluster_states import plan_of, rendered
from ansible_collections.kubenet.netpol.plugins.module_utils.node.dataplane import converge
from ansible_collections.kubenet.netpol.plugins.module_utils.node.render import RenderOptions, fingerprint

netns, state_dir, state = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
desired, marker = rendered(state), fingerprint(plan_of(state), RenderOptions())

def run(argv, stdin=None):
    if stdin is not None:  # a write: announce it, so the parent can kill inside it
        print("step %s" % " ".join(argv[:1] + [word for word in argv[1:] if word == "restore"]), flush=True)
    done = subprocess.run(["ip", "netns", "exec", netns] + list(argv), input=stdin, capture_output=True, text=True)
    return done.returncode, done.stdout, done.stderr

print("ready", flush=True)
sys.stdin.readline()
converge(desired, run, backend="nft", state_dir=state_dir, fingerprint=marker)
print("done", flush=True)
"""


def read_live(node):
    return live_desired(node.run("iptables-save", "-t", "filter"), node.run("ip6tables-save", "-t", "filter"),
                        node.run("ipset", "save"))


def comparable(state_of_rules):
    return ({table.family: table for table in state_of_rules.tables},
            {item.name: (item.type, item.family, frozenset(item.members)) for item in state_of_rules.sets})


def run_converge(node, state, state_dir):
    """As the child runs it; the backend named, so no run spends commands choosing it."""
    return converge(rendered(state), node, backend="nft", state_dir=state_dir,
                    fingerprint=fingerprint(plan_of(state), RenderOptions()))


class KilledRun:
    """One child converge towards `state`, killed inside write number `target` after `delay` seconds."""

    def __init__(self, node, state_dir, state):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
        self.child = subprocess.Popen([sys.executable, "-c", CHILD, node.netns, state_dir, json.dumps(state)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
                                      start_new_session=True)

    def kill_inside(self, target, delay, whole_group):
        """Start the run and kill it; the step it was killed in, or None when it finished first."""
        assert self.child.stdout.readline().strip() == "ready"
        self.child.stdin.write("go\n")
        self.child.stdin.flush()
        writes, step = 0, None
        for line in self.child.stdout:
            if line.startswith("step "):
                writes += 1
                step = line.strip()[len("step "):]
                if writes == target:
                    time.sleep(delay)
                    break
        else:
            self.child.wait(timeout=60)
            return None
        if whole_group:
            os.killpg(self.child.pid, signal.SIGKILL)
        else:
            os.kill(self.child.pid, signal.SIGKILL)
        self.child.wait(timeout=60)
        self.child.stdout.close()
        self.child.stdin.close()
        _wait_group_gone(self.child.pid)
        return step

    def discard(self):
        """A child that was started ahead and not used (it waits for "go" and holds no lock)."""
        if self.child.poll() is None:
            os.killpg(self.child.pid, signal.SIGKILL)
            self.child.wait(timeout=60)
        self.child.stdout.close()
        self.child.stdin.close()


def _wait_group_gone(group, timeout=60.0):
    """A restore command outliving the killed Python process finishes on its own; wait for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)
    os.killpg(group, signal.SIGKILL)
    raise AssertionError("a command of the killed run still ran after %.0f s" % timeout)


def probe(lab, source, destination, port):
    """A real TCP connection from a lab host: True when the server greeted it."""
    source_ip = next(ip for ip in ADDRESSES[source] if (":" in ip) == (":" in destination))
    return lab.connect(source, destination, port, bind=source_ip) == "ok"


PACKET_CHECKS = (("c", ADDRESSES["a"][0], 8080), ("outside", ADDRESSES["c"][0], 9090), ("b", ADDRESSES["outside"][0], 8080),
                 ("b", ADDRESSES["a"][0], 8080), ("a", ADDRESSES["c"][0], 9090))


class Tally:
    """What the kills did: where they landed, runs that finished first, real packets sent."""

    def __init__(self):
        self.kills, self.finished, self.packets = 0, 0, 0
        self.steps = {}


def kill_and_check(lab, node, state_dir, chooser, packets, run, old, new, tally):
    """Kill one run from `old` to `new`, check the verdicts left, then converge and check that."""
    whole_group = chooser.random() < 0.5
    step = run.kill_inside(chooser.randint(1, 4), chooser.uniform(0, 0.02), whole_group)
    if step is None:
        tally.finished += 1  # the run had fewer writes than the target: it completed, like an uninterrupted one
    else:
        tally.kills += 1
        tally.steps[step] = tally.steps.get(step, 0) + 1
    live = read_live(node)
    before, after, now = verdicts(rendered(old), packets), verdicts(rendered(new), packets), verdicts(live, packets)
    mixed = [(packet, now[packet], before[packet]) for packet in packets if now[packet] not in (before[packet], after[packet])]
    assert mixed == [], "killed in %s (%s): a verdict neither state gives: %s" % (
        step, "process group" if whole_group else "python only", mixed[:5])
    if step is not None and tally.kills % 10 == 0:
        for source, destination, port in PACKET_CHECKS:
            packet = (next(ip for ip in ADDRESSES[source] if (":" in ip) == (":" in destination)), destination, "TCP", port)
            assert probe(lab, source, destination, port) == (now[packet] == "pass"), (step, source, destination, port)
            tally.packets += 1
    run_converge(node, new, state_dir)
    assert comparable(read_live(node)) == comparable(rendered(new)), "the run after the kill converges"
    node.calls.clear()
    assert not run_converge(node, new, state_dir).changed and node.writes() == []


def test_a_converge_killed_anywhere_leaves_the_old_or_the_new_verdicts_and_the_next_run_converges(
        lab, runner_in, state_dir):
    node = runner_in(lab.node)
    node.run("sysctl", "-qw", "net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0")
    chooser, packets, tally = random.Random(SEED), grid(), Tally()
    states = iter(walk(SEED, 10 * KILLS))
    old, new = next(states), next(states)
    run_converge(node, old, state_dir)
    began = time.monotonic()
    ahead = KilledRun(node, state_dir, new)  # each child starts while the kill before it is checked
    try:
        while tally.kills < KILLS:
            run, upcoming = ahead, next(states)
            ahead = KilledRun(node, state_dir, upcoming)
            kill_and_check(lab, node, state_dir, chooser, packets, run, old, new, tally)
            old, new = new, upcoming
    finally:
        ahead.discard()
    print("\n%d kills in %.0f s (%d runs finished before their kill point), %d packets walked after each, "
          "%d real packets; killed in: %s" % (tally.kills, time.monotonic() - began, tally.finished, len(packets),
                                              tally.packets, json.dumps(tally.steps, sort_keys=True)))
    assert tally.kills == KILLS
    assert tally.steps.get("ipset restore", 0) >= 5
    assert sum(count for step, count in tally.steps.items() if "tables-" in step) >= 5  # ip(6)tables-nft-restore
