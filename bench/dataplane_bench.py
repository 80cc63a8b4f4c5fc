# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the node dataplane scales: rule count against pods, converge time, no-op rerun time.

Goals: (a) the same policies render the same number of rules with 100 and with 10,000 pods, and
each distinct member list is loaded once (members loaded / distinct members = 1.0);
(b) converging 1,000 policies onto an empty node takes at most 1.5 times a raw `ipset restore`
plus `iptables-restore` of the same (deduplicated) content; (c) a rerun with nothing to do writes nothing and
takes at most 1.3 times a plain `iptables-save` plus `ipset save` (both families, as we read
both). A benchmark reports, it does not fail: it always exits 0. Needs root: it runs itself
inside a network namespace it creates and removes.

    python bench/dataplane_bench.py [--policies 1000] [--pods 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid

from ansible_collections.kubenet.netpol.plugins.module_utils.node.dataplane import (
    RECORD_FILE, LiveState, LiveTable, converge, plan_present)
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import (
    Cluster, ContainerPort, Namespace, Node, Pod, frozen_labels, policy_from_manifest)
from ansible_collections.kubenet.netpol.plugins.module_utils.node.render import RenderOptions, fingerprint, render
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.slicing import node_slice as slice_of
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.planner import build_plan

NAMESPACES = 10
APPS = 10  # per namespace: the node under test holds pods of every (namespace, app)
NODES = 10
GOAL_CONVERGE = 1.5
GOAL_NOOP = 1.3


def workload(pods, policies, local_per_app=1):
    """A cluster of `pods` pods and `policies` policies; node n1 holds local_per_app pods per app.

    Every pod is dual-stack. Policies select one app of their namespace each; their rules mix
    pod and namespace selectors, named and numeric ports, ranges and ipBlocks with excepts.
    """
    namespaces = {}
    for number in range(NAMESPACES):
        name = "ns-%d" % number
        namespaces[name] = Namespace(name, frozen_labels({"team": "t%d" % (number % 3),
                                                          "kubernetes.io/metadata.name": name}))
    local = NAMESPACES * APPS * local_per_app
    members = []
    for number in range(pods):
        combo = number % (NAMESPACES * APPS)
        namespace, app = "ns-%d" % (combo // APPS), "app-%d" % (combo % APPS)
        node = "n1" if number < local else "n%d" % (2 + number % (NODES - 1))
        http = 8080 if combo % 2 else 8000
        ips = ("10.%d.%d.%d" % (64 + number // 65536, (number // 256) % 256, number % 256), "fd00:64::%x" % (number + 1))
        members.append(Pod(namespace, "pod-%d" % number, frozen_labels({"app": app}), node, ips,
                           ports=(ContainerPort("http", http, "TCP"),)))
    cluster = Cluster(namespaces, tuple(members), tuple(Node("n%d" % number) for number in range(1, NODES + 1)))
    return cluster, tuple(policy_from_manifest(manifest(number)) for number in range(policies))


def manifest(number):
    namespace = "ns-%d" % (number % NAMESPACES)
    app = "app-%d" % ((number // NAMESPACES) % APPS)
    other = "app-%d" % ((number // NAMESPACES + 1) % APPS)
    kind = number % 5
    if kind == 0:
        spec = {"ingress": [{"from": [{"podSelector": {"matchLabels": {"app": other}}}],
                             "ports": [{"port": 8080}, {"port": 8443}]}]}
    elif kind == 1:
        spec = {"ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "t%d" % (number % 3)}},
                                       "podSelector": {"matchLabels": {"app": other}}}],
                             "ports": [{"port": "http"}]}]}
    elif kind == 2:
        spec = {"ingress": [{"from": [{"ipBlock": {"cidr": "192.168.0.0/16", "except": ["192.168.%d.0/24" % (number % 256)]}}],
                             "ports": [{"port": 30000, "endPort": 32767}]}]}
    elif kind == 3:
        spec = {"policyTypes": ["Egress"],
                "egress": [{"to": [{"podSelector": {"matchLabels": {"app": other}}}], "ports": [{"port": 5432}]},
                           {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}},
                                   {"ipBlock": {"cidr": "::/0", "except": ["fd00::/8"]}}],
                            "ports": [{"port": 443}]}]}
    else:
        spec = {"policyTypes": ["Egress"],
                "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ns-0"}},
                                    "podSelector": {"matchLabels": {"app": "app-0"}}}],
                            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]}
    spec["podSelector"] = {"matchLabels": {"app": app}}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "policy-%d" % number, "namespace": namespace}, "spec": spec}


def node_slice(pods, policies, local_per_app=1):
    return slice_of(build_plan(*workload(pods, policies, local_per_app)), "n1")


def run(argv, stdin=None):
    """The dataplane's runner: plain subprocesses (this process already is in the namespace)."""
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout, done.stderr


class Recorder:
    def __init__(self):
        self.writes = 0

    def __call__(self, argv, stdin=None):
        if stdin is not None:
            self.writes += 1
        return run(argv, stdin)


def checked(argv, stdin=None):
    rc, out, err = run(argv, stdin)
    if rc != 0:
        raise SystemExit("%s failed: %s" % (" ".join(argv), err))
    return out


def best_of(repeat, setup, *actions):
    """The best wall time of each action over `repeat` rounds, each run after an untimed `setup`.

    The actions alternate within a round, so a slow spell of the machine hits them alike.
    """
    times = [[] for action in actions]
    for round_number in range(repeat):
        for action, found in zip(actions, times):
            setup()
            started = time.perf_counter()
            action()
            found.append(time.perf_counter() - started)
    return [min(found) for found in times]


def distinct_members(desired):
    """(distinct member lists, their members): what loading each list once costs."""
    lists = {(item.family, item.type, item.members) for item in desired.sets}
    return len(lists), sum(len(members) for _family, _type, members in lists)


def rule_counts(args):
    print("(a) rules for the same %d policies as the pods grow (node n1's slice)" % args.policies)
    counts = []
    ratios = []
    for pods, local in ((100, 1), (args.pods, 1), (args.pods, 10)):
        desired = render(node_slice(pods, args.policies, local))
        figures = desired.counts()
        counts.append(figures["rules"])
        lists, distinct = distinct_members(desired)
        ratios.append(figures["members"] / distinct)
        print("    %6d pods, %5d on the node: %6d rules, %4d chains, %5d sets, %7d set members loaded, "
              "%5d distinct lists of %7d members: ratio %.2f"
              % (pods, NAMESPACES * APPS * local, figures["rules"], figures["chains"], figures["sets"],
                 figures["members"], lists, distinct, ratios[-1]))
    print("    rules equal: %s" % ("yes (goal met)" if len(set(counts)) == 1 else "NO (goal missed)"))
    print("    members loaded = distinct members: %s" % ("yes (goal met)" if set(ratios) == {1.0} else "NO (goal missed)"))


def converge_times(args, state_dir):
    slice_ = node_slice(args.pods, args.policies)
    desired = render(slice_)
    empty = LiveState({4: LiveTable(4), 6: LiveTable(6)}, {}, frozenset())
    payload = plan_present(desired, empty, (4, 6))
    figures = desired.counts()
    print("(b) converge %d policies, %d pods onto an empty node: %d rules, %d chains, %d sets, %d members"
          % (args.policies, args.pods, figures["rules"], figures["chains"], figures["sets"], figures["members"]))

    def clean():
        converge(None, run, state_dir=state_dir)

    def ours():
        """What the module does: fingerprint the plan, render (the record is stale), converge."""
        marker = fingerprint(slice_, RenderOptions())
        converge(lambda: render(slice_), run, state_dir=state_dir, fingerprint=marker)

    def raw():
        checked(["ipset", "restore"], "\n".join(payload.set_lines) + "\n")
        checked(["iptables-restore", "--noflush", "--wait"], "\n".join(payload.table_lines[4]) + "\n")
        checked(["ip6tables-restore", "--noflush", "--wait"], "\n".join(payload.table_lines[6]) + "\n")

    raw_time, ours_time = best_of(args.repeat, clean, raw, ours)
    ratio = ours_time / raw_time
    print("    raw ipset restore + iptables-restore x2 (deduplicated content): %.3f s" % raw_time)
    print("    netpol render + converge:                                      %.3f s  ratio %.2f (goal <= %.1f: %s)"
          % (ours_time, ratio, GOAL_CONVERGE, "met" if ratio <= GOAL_CONVERGE else "MISSED"))

    print("(c) no-op rerun on that node")
    recorder = Recorder()

    def nothing():
        """Nothing to prepare: the node stays converged."""

    def rerun():
        marker = fingerprint(slice_, RenderOptions())
        result = converge(lambda: render(slice_), recorder, state_dir=state_dir, fingerprint=marker)
        assert not result.changed

    def plain_save():
        checked(["iptables-save", "-t", "filter"])
        checked(["ip6tables-save", "-t", "filter"])
        checked(["ipset", "save"])

    def forget():
        if os.path.exists(os.path.join(state_dir, RECORD_FILE)):
            os.unlink(os.path.join(state_dir, RECORD_FILE))

    rerun()  # leaves the record a converged node has
    save_time, rerun_time = best_of(args.repeat, nothing, plain_save, rerun)
    full_time = best_of(args.repeat, forget, rerun)[0]
    print("    plain iptables-save + ip6tables-save + ipset save: %.3f s" % save_time)
    print("    netpol read + render + full compare (no record):   %.3f s  ratio %.2f"
          % (full_time, full_time / save_time))
    ratio = rerun_time / save_time
    print("    netpol read + record check (the usual rerun):      %.3f s  ratio %.2f (goal <= %.1f: %s); writes: %d"
          % (rerun_time, ratio, GOAL_NOOP, "met" if ratio <= GOAL_NOOP else "MISSED", recorder.writes))
    clean()


def inside(args):
    with tempfile.TemporaryDirectory() as state_dir:
        rule_counts(args)
        converge_times(args, state_dir)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--policies", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure; the best counts")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inside:
        inside(args)
        return 0
    if os.geteuid() != 0:
        print("needs root (it creates a network namespace)")
        return 0
    netns = "kn-bench-%s" % uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        command = ["ip", "netns", "exec", netns, sys.executable, os.path.abspath(__file__), "--inside",
                   "--policies", str(args.policies), "--pods", str(args.pods), "--repeat", str(args.repeat)]
        subprocess.run(command, check=False)
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
