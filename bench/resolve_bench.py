# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long resolve.build_plan takes, and how that time grows with the cluster.

Goals: the whole per-node plan of 10,000 pods, 1,000 policies, 100 namespaces and
100 nodes in at most 2 s, and at most 11 times that for ten times every size (the
work should grow linearly, with a margin). A benchmark reports, it does not fail:
it always exits 0.

    python bench/resolve_bench.py [--seed 1] [--scale 10] [--repeat 3] [--resolve COPY.py]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import sys
import time

from generate import generate, to_engine

from ansible_collections.kubenet.netpol.plugins.module_utils import resolve

BASE_SIZES = {"pods": 10000, "policies": 1000, "namespaces": 100, "nodes": 100}
GOAL_SECONDS = 2.0
GOAL_RATIO = 11.0


def load_resolve(path):
    """A copy of resolve.py to measure instead of the installed one (to try a fix)."""
    spec = importlib.util.spec_from_file_location("resolve_under_test", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def measure(engine, seed, scale, repeat):
    """The best of `repeat` build_plan runs at one size: (wall seconds, CPU seconds, plan policy entries)."""
    sizes = {name: value * scale for name, value in BASE_SIZES.items()}
    started = time.perf_counter()
    cluster, policies = to_engine(generate(seed, **sizes))
    generated = time.perf_counter() - started
    best = None
    for run in range(repeat):
        plan = None  # the previous run's plan is freed before the clock starts
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        plan = engine.build_plan(cluster, policies)
        elapsed = (time.perf_counter() - wall, time.process_time() - cpu)
        best = elapsed if best is None else min(best, elapsed)
    size = plan_size(plan)
    print("x%-3d %s" % (scale, ", ".join("%d %s" % (value, name) for name, value in sizes.items())))
    print("     generated in %.2f s; build_plan %.3f s wall, %.3f s CPU (best of %d)"
          % (generated, best[0], best[1], repeat))
    print("     plan: %s; %d warnings" % (plan["counts"], len(plan["warnings"])))
    print("     over all nodes: %s" % ", ".join("%d %s" % (value, name) for name, value in size.items()))
    sys.stdout.flush()
    return best + (size["policy entries"],)


def plan_size(plan):
    """How much the plan holds: the work that no engine can skip, to judge the time ratio against."""
    nodes = plan["nodes"].values()
    entries = [entry for node in nodes for entry in node["policies"]]
    return {
        "pod entries": sum(len(node["pods"]) for node in nodes),
        "policy entries": len(entries),
        "clauses": sum(len(rule["clauses"]) for entry in entries for rule in entry["rules"]),
        "peer set references": sum(len(node["peer_sets"]) for node in nodes),
        "peer set addresses": sum(len(ips) for node in nodes for ips in node["peer_sets"].values()),
    }


def verdict(value, goal, unit):
    return "%.2f%s (goal <= %g%s: %s)" % (value, unit, goal, unit, "met" if value <= goal else "MISSED")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=int, default=10, help="the factor of the large run (default 10)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the base size; the best counts")
    parser.add_argument("--resolve", metavar="COPY.py", help="measure this copy of resolve.py instead")
    args = parser.parse_args(argv)
    engine = load_resolve(args.resolve) if args.resolve else resolve
    print("engine: %s" % engine.__file__)
    base = measure(engine, args.seed, 1, args.repeat)
    large = measure(engine, args.seed, args.scale, 1)
    goal_ratio = GOAL_RATIO if args.scale == 10 else args.scale * 1.1
    print("base time:  %s; CPU %.2f s (wall time suffers when other work shares the machine)"
          % (verdict(base[0], GOAL_SECONDS, " s"), base[1]))
    print("x%d / x1:   wall %s; CPU %s" % (args.scale, verdict(large[0] / base[0], goal_ratio, "x"),
                                           verdict(large[1] / base[1], goal_ratio, "x")))
    print("            (the plan's policy entries grew %.2fx: pods of a namespace reach more nodes when there are more)"
          % (large[2] / base[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
