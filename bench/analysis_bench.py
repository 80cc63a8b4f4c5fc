# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long all-pairs analysis by equivalence classes (engine/analysis.py) takes, against the
pair-by-pair evaluator, and how its cost grows: with classes, not with pods squared.

Goals: the full truth table of 1,000 pods, 100 policies and 10 namespaces on 8 probed ports in at
most 3 s, loading included (the plan and the classes; generating the workload is not loading);
the class matrix of 10,000 pods, 1,000 policies and 100 namespaces in at most 10 s and 2 GB. A
benchmark reports, it does not fail: it always exits 0.

Each figure is the best of --repeat runs. The pair-by-pair evaluator (explain.truth_table's
explain) is timed on a random sample of the table's rows and extrapolated to the whole table;
the sampled verdicts are checked against the class table on the way. --full also makes the whole
table pair by pair, and compares the two tables row for row.

    python bench/analysis_bench.py [--seed 1] [--repeat 3] [--sample 4000] [--full]
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import sys
import time

from generate import generate, to_engine

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.analysis import ClassMatrix, truth_table
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.explain import ClusterVerdicts, Endpoint, explain
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.explain import truth_table as explain_table
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.planner import build_plan
from netpol_lab.scenario import Probe

SMALL = {"pods": 1000, "policies": 100, "namespaces": 10, "nodes": 10}
LARGE = {"pods": 10000, "policies": 1000, "namespaces": 100, "nodes": 100}
# Ports the generated policies name: DNS, web and TLS, postgres (db), 8080 (http on web pods), 9000
# (grpc on api pods), the start of the NodePort-like range.
PROBES = tuple(Probe(protocol, port) for protocol, port in (
    ("TCP", 53), ("TCP", 80), ("TCP", 443), ("TCP", 5432), ("TCP", 8080), ("TCP", 9000), ("TCP", 30000), ("UDP", 53)))
# Outside hosts for the ipBlock policies: in 192.168.0.0/16, on the internet, in 2001:db8::/32.
EXTERNALS = (Endpoint("ext-lan", ("192.168.7.1",)), Endpoint("ext-internet", ("8.8.8.8", "2001:4860::8888")),
             Endpoint("ext-docs", ("2001:db8:5::1",)))
GOAL_TABLE_SECONDS = 3.0
GOAL_MATRIX_SECONDS = 10.0
GOAL_MATRIX_MB = 2048.0


def workload(seed, sizes):
    """(cluster, policies, endpoints): running pods, then the outside hosts, as scenarios list them."""
    started = time.perf_counter()
    cluster, policies = to_engine(generate(seed, **sizes))
    endpoints = [Endpoint(pod.key, pod.ips, pod) for pod in cluster.pods if pod.active] + list(EXTERNALS)
    print("%s; generated in %.2f s" % (", ".join("%d %s" % (value, name) for name, value in sizes.items()),
                                       time.perf_counter() - started))
    return cluster, policies, endpoints


def timed(function, *args):
    """One run: (wall seconds, result)."""
    gc.collect()
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def load(cluster, policies, endpoints):
    """The class matrix from the facts and policies: (build_plan seconds, ClassMatrix seconds, matrix);
    ClassMatrix makes the classes and every port class's rows."""
    plan_seconds, plan = timed(build_plan, cluster, policies)
    matrix_seconds, matrix = timed(ClassMatrix, plan, endpoints)
    return plan_seconds, matrix_seconds, matrix


def table_run(cluster, policies, endpoints):
    """One full table, loading included: (seconds of build_plan, ClassMatrix and truth_table, which
    ends with the cycle collector's one pass over the new rows), the matrix and the table."""
    plan_seconds, matrix_seconds, matrix = load(cluster, policies, endpoints)
    table_seconds, table = timed(truth_table, matrix, endpoints, PROBES, "bench")
    return (plan_seconds, matrix_seconds, table_seconds), matrix, table


def per_pair_estimate(cluster, policies, endpoints, table, sample, seed):
    """Seconds the pair-by-pair evaluator would take for the whole table: ClusterVerdicts once, then
    explain per row, timed on a random sample of rows; and whether the sample agrees with the table."""
    load_seconds, verdicts = timed(ClusterVerdicts, cluster, policies)
    by_name = {endpoint.name: endpoint for endpoint in endpoints}
    rows = [(row, True) for row in table["allowed"]] + [(row, False) for row in table["denied"]]
    picked = random.Random(seed).sample(rows, min(sample, len(rows)))
    probes = {(probe.protocol, probe.port): probe for probe in PROBES}
    started = time.perf_counter()
    found = [explain(verdicts, by_name[source], by_name[destination], protocol, port, probes[(protocol, port)].family).allowed
             for (source, destination, protocol, port), _expected in picked]
    per_row = (time.perf_counter() - started) / len(picked)
    agrees = found == [expected for _row, expected in picked]
    return load_seconds + per_row * len(rows), per_row, load_seconds, agrees


def describe_classes(matrix, endpoints):
    pods = sum(1 for endpoint in endpoints if endpoint.pod is not None)
    ranges = {protocol: len(matrix.port_ranges(protocol)) for protocol in ("TCP", "UDP", "SCTP")}
    print("  %d endpoints (%d pods, %d outside hosts); IPv4: %d classes over %d profiles; IPv6: %d classes over %d"
          " profiles; port ranges the policies tell apart: %s"
          % (len(endpoints), pods, len(endpoints) - pods, len(matrix.classes(4)), matrix.profile_count(4),
             len(matrix.classes(6)), matrix.profile_count(6), ", ".join("%s %d" % item for item in ranges.items())))
    return {"endpoints": len(endpoints), "classes": len(matrix.classes(4)) + len(matrix.classes(6)),
            "profiles": matrix.profile_count(4) + matrix.profile_count(6)}


def verdict(value, goal, unit):
    return "%.2f%s (goal <= %g%s: %s)" % (value, unit, goal, unit, "met" if value <= goal else "MISSED")


def large_matrix(args):
    """The 10,000-pod class matrix first, while the process holds nothing else: its peak RSS is its own."""
    print("== class matrix, large")
    cluster, policies, endpoints = workload(args.seed, LARGE)
    before = peak_rss_mb()
    runs = []
    matrix = None
    for _run in range(args.repeat):
        matrix = None  # the previous matrix is freed before the clock starts
        plan_seconds, matrix_seconds, matrix = load(cluster, policies, endpoints)
        runs.append((plan_seconds + matrix_seconds, plan_seconds, matrix_seconds))
    best = min(runs)
    print("  load (build_plan + ClassMatrix): %s; build_plan %.3f s, ClassMatrix %.3f s (runs: %s s)"
          % (verdict(best[0], GOAL_MATRIX_SECONDS, " s"), best[1], best[2], ", ".join("%.2f" % run[0] for run in runs)))
    print("  peak RSS %s (the workload alone: %.0f MB)" % (verdict(peak_rss_mb(), GOAL_MATRIX_MB, " MB"), before))
    return best[2], describe_classes(matrix, endpoints)


def small_table(args):
    print("== full truth table, small: %d probes (%s)"
          % (len(PROBES), ", ".join("%s/%d" % (probe.protocol, probe.port) for probe in PROBES)))
    cluster, policies, endpoints = workload(args.seed, SMALL)
    runs = []
    matrix = table = None
    for _run in range(args.repeat):
        matrix = table = None  # the previous table is freed before the clock starts
        seconds, matrix, table = table_run(cluster, policies, endpoints)
        runs.append((sum(seconds),) + seconds)
    best = min(runs)
    rows = len(table["allowed"]) + len(table["denied"])
    print("  %d rows (%d allowed); total %s: build_plan %.3f s, ClassMatrix %.3f s, truth_table %.3f s (runs: %s s);"
          " peak RSS now %.0f MB, nearly all of it the rows"
          % (rows, len(table["allowed"]), verdict(best[0], GOAL_TABLE_SECONDS, " s"), best[1], best[2], best[3],
             ", ".join("%.2f" % run[0] for run in runs), peak_rss_mb()))
    sizes = describe_classes(matrix, endpoints)
    per_pair, per_row, verdicts_seconds, agrees = per_pair_estimate(cluster, policies, endpoints, table, args.sample, args.seed)
    print("  pair by pair (explain per row, timed on %d random rows): %.1f us a row, ClusterVerdicts %.3f s: about %.0f s"
          " for the table; the sample %s the class table"
          % (min(args.sample, rows), per_row * 1e6, verdicts_seconds, per_pair, "agrees with" if agrees else "DISAGREES with"))
    print("  speedup: %.0fx" % (per_pair / best[0]))
    if args.full:
        seconds, pair_table = timed(explain_table, ClusterVerdicts(cluster, policies), endpoints, PROBES, "bench")
        print("  pair by pair, the whole table (explain.truth_table, ClusterVerdicts not counted): %.1f s, %.0fx the class"
              " table's total; row for row %s" % (seconds, seconds / best[0], "the same" if pair_table == table else "DIFFERENT"))
    return min(run[2] for run in runs), sizes


def growth(small, large):
    """ClassMatrix time, large over small, beside the ratios of endpoints, classes, profiles and their squares."""
    (small_seconds, small_sizes), (large_seconds, large_sizes) = small, large
    ratio = {name: large_sizes[name] / small_sizes[name] for name in small_sizes}
    print("== growth, large / small (ClassMatrix, best runs)")
    print("  time %.1fx; endpoints %.1fx, endpoints^2 %.0fx; classes %.1fx, classes^2 %.0fx; profiles %.1fx, profiles^2 %.0fx"
          % (large_seconds / small_seconds, ratio["endpoints"], ratio["endpoints"] ** 2, ratio["classes"],
             ratio["classes"] ** 2, ratio["profiles"], ratio["profiles"] ** 2))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the best counts")
    parser.add_argument("--sample", type=int, default=4000, help="rows the pair-by-pair evaluator is timed on")
    parser.add_argument("--full", action="store_true",
                        help="also make the whole small table pair by pair (minutes) and compare it row for row")
    args = parser.parse_args(argv)
    large = large_matrix(args)
    small = small_table(args)
    growth(small, large)
    return 0


if __name__ == "__main__":
    sys.exit(main())
