# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long reading and validating policy manifests takes, and how that grows with their number.

Goal: 10,000 policies in any form (one `---` document each, a `kind: List`, a NetworkPolicyList)
loaded and validated in at most 3 s and 200 MB, and 10x the policies costing about 10x the time
(linear). Each measurement runs in a fresh process, so its peak memory is its own. A benchmark
reports, it does not fail: it always exits 0.

    python bench/load_bench.py [--seed 1] [--sizes 1000 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import yaml

from generate import generate

GOAL_SECONDS = 3.0
GOAL_MEGABYTES = 200
FORMS = ("documents", "List", "NetworkPolicyList")


def write_policies(policies, form, path):
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    with open(path, "w", encoding="utf-8") as handle:
        if form == "documents":
            yaml.dump_all(policies, handle, Dumper=dumper, sort_keys=False)
        else:
            kind = "List" if form == "List" else "NetworkPolicyList"
            api_version = "v1" if form == "List" else "networking.k8s.io/v1"
            yaml.dump({"apiVersion": api_version, "kind": kind, "items": policies}, handle, Dumper=dumper,
                      sort_keys=False)


def peak_megabytes():
    """This process's peak resident memory. ru_maxrss would do, but Linux keeps it across exec, so a
    child would report its parent's peak; VmHWM belongs to the new address space alone."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure_in_child(path):
    """Load the file in this (fresh) process: wall seconds, peak RSS in MB, policies loaded."""
    from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.manifests import load_policies  # noqa: E501 pylint: disable=import-outside-toplevel
    started = time.perf_counter()
    policies = load_policies([path])
    seconds = time.perf_counter() - started
    peak = peak_megabytes()
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "policies": len(policies)}))


def measure(path, repeat):
    """Best time and its peak memory over fresh processes."""
    runs = []
    for _attempt in range(repeat):
        output = subprocess.run([sys.executable, __file__, "--child", path], capture_output=True, text=True,
                                check=True).stdout
        runs.append(json.loads(output))
    return min(runs, key=lambda run: run["seconds"])


def hostile_inputs():
    """About 1 KB each: the shapes that once crashed or stalled, and the most expansion aliases may still add."""
    bomb = "".join("%s: &%s [%s]\n" % (name, name, ", ".join([("*%s" % previous) if previous else "x"] * 9))
                   for previous, name in zip([""] + list("abcdefgh"), "abcdefghi"))
    within_budget = "a: &a [%s]\nb: [%s]\n" % (", ".join(["x"] * 60), ", ".join(["*a"] * 165))
    return {
        "alias bomb (9 levels of 9)": bomb,
        "aliases up to the budget": within_budget,
        "alias cycle": "spec: &a {ingress: [*a]}\n" * 40,
        "nesting 500 deep": "spec: " + "[" * 500 + "]" * 500 + "\n",
        "a List of 8 policies": "kind: List\nitems:\n" + "".join(
            "- {apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: p%d}, spec: {podSelector: {}}}\n"
            % number for number in range(8)),
    }


def measure_hostile(scratch, repeat):
    """Each hostile input loaded in this process: its size and the worst of repeat runs."""
    from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.manifests import load_policies  # noqa: E501 pylint: disable=import-outside-toplevel
    from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import InputError  # noqa: E501 pylint: disable=import-outside-toplevel
    worst = 0.0
    for name, text in hostile_inputs().items():
        path = os.path.join(scratch, "hostile.yaml")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        times = []
        for _attempt in range(repeat):
            started = time.perf_counter()
            try:
                load_policies([path])
                result = "loaded"
            except InputError as exc:
                result = "refused: %s" % exc.problems[0].message[:60]
            times.append(time.perf_counter() - started)
        worst = max(worst, *times)
        print("  %-28s %5d bytes: %.3f s (%s)" % (name, len(text), max(times), result))
    print("  worst: %.3f s (goal: a fraction of a second)" % worst)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sizes", type=int, nargs=2, default=(1000, 10000), metavar=("SMALL", "LARGE"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        measure_in_child(args.child)
        return 0
    small, large = args.sizes
    policies = generate(args.seed, pods=1000, policies=large, namespaces=100, nodes=10).policies
    print("baseline: an interpreter with the collection imported and nothing loaded, for comparison:")
    empty = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    empty.close()
    base = measure(empty.name, 1)
    os.unlink(empty.name)
    print("  %.0f MB peak" % base["peak_mb"])
    with tempfile.TemporaryDirectory() as scratch:
        print("hostile inputs of about 1 KB, loaded and validated:")
        measure_hostile(scratch, args.repeat)
        for form in FORMS:
            figures = {}
            for size in (small, large):
                path = os.path.join(scratch, "%s-%d.yaml" % (form, size))
                write_policies(policies[:size], form, path)
                figures[size] = measure(path, args.repeat)
                megabytes = os.path.getsize(path) / 1e6
                print("%-17s %6d policies (%5.1f MB of YAML): %.2f s, peak %.0f MB (%d loaded)"
                      % (form, size, megabytes, figures[size]["seconds"], figures[size]["peak_mb"],
                         figures[size]["policies"]))
            ratio = figures[large]["seconds"] / figures[small]["seconds"]
            met_time = figures[large]["seconds"] <= GOAL_SECONDS
            met_memory = figures[large]["peak_mb"] <= GOAL_MEGABYTES
            print("%-17s %dx the policies: %.1fx the time; %d: %s (goal <= %.0f s), %s (goal <= %d MB)"
                  % ("", large // small, ratio, large, "met" if met_time else "NOT met", GOAL_SECONDS,
                     "met" if met_memory else "NOT met", GOAL_MEGABYTES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
