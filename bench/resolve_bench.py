# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long the planner's build_plan takes, and how that time grows with the cluster.

Goals: the plan of 10,000 pods, 1,000 policies, 100 namespaces and 100 nodes, resolved for
every node, in at most 2 s, and at most 11 times that for ten times every size (the work
should grow linearly, with a margin). A benchmark reports, it does not fail: it always
exits 0.

Both workloads are generated first, then timed in alternating rounds (x1, x10, x1, x10...),
and the best run of each counts: a slow spell of a shared machine then hits both sides
instead of skewing the ratio.

    python bench/resolve_bench.py [--seed 1] [--scale 10] [--repeat 3] [--planner COPY.py]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import sys
import time

from generate import generate, to_engine

from ansible_collections.kubenet.netpol.plugins.module_utils.engine import planner
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.slicing import node_slice

BASE_SIZES = {"pods": 10000, "policies": 1000, "namespaces": 100, "nodes": 100}
GOAL_SECONDS = 2.0
GOAL_RATIO = 11.0
SLICE_SAMPLE = 50
REFERENCE_PASSES = 5  # per round: the pass is short, so it takes more tries to find a quiet one


def load_planner(path):
    """A copy of planner.py to measure instead of the installed one (to try a fix)."""
    spec = importlib.util.spec_from_file_location("planner_under_test", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def workload(seed, scale):
    sizes = {name: value * scale for name, value in BASE_SIZES.items()}
    started = time.perf_counter()
    cluster, policies = to_engine(generate(seed, **sizes))
    described = ", ".join("%d %s" % (value, name) for name, value in sizes.items())
    print("x%-3d %s; generated in %.2f s" % (scale, described, time.perf_counter() - started))
    return cluster, policies


def timed(function, *args):
    """One run: (wall seconds, CPU seconds, result)."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def reference_pass(cluster, _policies):
    """No algorithm at all: each pod's addresses filed under its node and name, one pass. How much
    this grows from x1 to x10 is what the machine (caches, memory) adds to any linear work, the
    yardstick for the build_plan ratio. The cycle collector is off, as in build_plan."""
    gc.disable()
    by_node = {}
    for pod in cluster.pods:
        by_node.setdefault(pod.node, {})[pod.key] = list(pod.ips)
    gc.enable()
    return by_node


def plan_size(plan):
    """How much the plan holds: the work that no engine can skip, to judge the time ratio against."""
    rules = [rule for directions in plan["policies"].values() for rules in directions.values() for rule in rules]
    return {
        "pod entries": sum(len(node["pods"]) for node in plan["nodes"].values()),
        "policy directions": sum(len(directions) for directions in plan["policies"].values()),
        "clauses": sum(len(rule["clauses"]) for rule in rules),
        "peer sets": len(plan["peer_sets"]),
        "peer set addresses": sum(len(ips) for ips in plan["peer_sets"].values()),
        "JSON bytes": len(json.dumps(plan, separators=(",", ":"))),
    }


def slice_cost(plan):
    """CPU seconds to make one node's slice (done for each node as it converges), on average over
    SLICE_SAMPLE nodes spread over the cluster; and the slices' (node, policy direction) entries."""
    names = sorted(plan["nodes"])[::max(1, len(plan["nodes"]) // SLICE_SAMPLE)]
    started = time.process_time()
    entries = sum(len(node_slice(plan, name)["policies"]) for name in names)
    return (time.process_time() - started) / len(names), entries * len(plan["nodes"]) / len(names)


def report(scale, best, runs, plan):
    per_node, entries = slice_cost(plan)
    print("x%-3d build_plan %.3f s wall, %.3f s CPU (best of %d: %s s CPU)"
          % (scale, best[0], best[1], len(runs), ", ".join("%.2f" % run[1] for run in runs)))
    print("     plan: %s; %d warnings" % (plan["counts"], len(plan["warnings"])))
    print("     plan holds: %s" % ", ".join("%d %s" % (value, name) for name, value in plan_size(plan).items()))
    print("     a node's slice: %.2f ms CPU on average; about %d (node, policy direction) entries in all slices"
          % (per_node * 1000, entries))
    return entries


def verdict(value, goal, unit):
    return "%.2f%s (goal <= %g%s: %s)" % (value, unit, goal, unit, "met" if value <= goal else "MISSED")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=int, default=10, help="the factor of the large run (default 10)")
    parser.add_argument("--repeat", type=int, default=3, help="alternating rounds; the best run of each size counts")
    parser.add_argument("--planner", metavar="COPY.py", help="measure this copy of planner.py instead")
    args = parser.parse_args(argv)
    engine = load_planner(args.planner) if args.planner else planner
    print("engine: %s" % engine.__file__)
    scales = (1, args.scale)
    workloads = {scale: workload(args.seed, scale) for scale in scales}
    runs = {scale: [] for scale in scales}
    reference = {scale: [] for scale in scales}
    plans = {}
    for _round in range(args.repeat):
        for scale in scales:
            plans[scale] = None  # the previous plan is freed before the clock starts
            wall, cpu, plans[scale] = timed(engine.build_plan, *workloads[scale])
            runs[scale].append((wall, cpu))
            reference[scale].extend(timed(reference_pass, *workloads[scale])[1] for _pass in range(REFERENCE_PASSES))
    best = {scale: tuple(min(run[part] for run in runs[scale]) for part in (0, 1)) for scale in scales}
    entries = {scale: report(scale, best[scale], runs[scale], plans[scale]) for scale in scales}
    base, large = best[1], best[args.scale]
    goal_ratio = GOAL_RATIO if args.scale == 10 else args.scale * 1.1
    print("base time:  %s; CPU %.2f s (wall time suffers when other work shares the machine)"
          % (verdict(base[0], GOAL_SECONDS, " s"), base[1]))
    print("x%d / x1:   wall %s; CPU %s" % (args.scale, verdict(large[0] / base[0], goal_ratio, "x"),
                                           verdict(large[1] / base[1], goal_ratio, "x")))
    print("            (the slices' entries grew %.2fx, as pods of a namespace reach more nodes when there are"
          " more; the plan lists each policy once)" % (entries[args.scale] / entries[1]))
    print("reference:  a bare pass filing each pod's addresses by node grew %.2fx (CPU, best of %d: %.4f s, %.4f s):"
          " what this machine adds to any linear work" % (min(reference[args.scale]) / min(reference[1]),
                                                          len(reference[1]), min(reference[1]), min(reference[args.scale])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
