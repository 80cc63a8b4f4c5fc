"""netpol-lab subcommands. Exit 0: done; 2: the input is invalid (every problem printed)."""

import argparse
import json
import sys

from ansible_collections.kubenet.netpol.plugins.module_utils.errors import InputError
from ansible_collections.kubenet.netpol.plugins.module_utils.explain import explain, truth_table
from ansible_collections.kubenet.netpol.plugins.module_utils.facts import load_scenario, scenario_endpoints
from ansible_collections.kubenet.netpol.plugins.module_utils.load import load_policies
from ansible_collections.kubenet.netpol.plugins.module_utils.resolve import Resolver, build_plan
from netpol_lab.table import render_grid

EXIT_INVALID = 2


def cmd_check(args):
    policies = load_policies(args.paths)
    print("%d NetworkPolicies valid" % len(policies))
    return 0


def cmd_truth(args):
    scenario = load_scenario(args.scenario)
    endpoints = scenario_endpoints(scenario)
    table = truth_table(Resolver(scenario.cluster, scenario.policies), endpoints, scenario.probes, args.scenario)
    if args.grid:
        print(render_grid(table, [endpoint.name for endpoint in endpoints]))
    else:
        print(json.dumps(table, indent=1 if args.pretty else None))
    return 0


def plan_summary(plan):
    """Per node: each isolated pod and the policies that isolate it, per direction."""
    lines = []
    for name, node in sorted(plan["nodes"].items()):
        lines.append("%s:" % name)
        for pod in node["pods"]:
            for direction in ("ingress", "egress"):
                if pod[direction]:
                    lines.append("  %-24s %-7s isolated by %s" % (pod["pod"], direction, ", ".join(pod[direction])))
        rules = sum(len(policy["rules"]) for policy in node["policies"])
        lines.append("  (%d pods, %d policy/direction slices, %d rules)" % (len(node["pods"]), len(node["policies"]), rules))
    lines.extend("warning: %s" % warning for warning in plan["warnings"])
    return "\n".join(lines)


def cmd_plan(args):
    scenario = load_scenario(args.scenario)
    plan = build_plan(scenario.cluster, scenario.policies)
    print(plan_summary(plan) if args.summary else json.dumps(plan, indent=1, sort_keys=True))
    return 0


def parse_probe(text):
    protocol, _, port = text.partition("/")
    if protocol not in ("TCP", "UDP", "SCTP") or not port.isdigit():
        raise argparse.ArgumentTypeError("expected PROTOCOL/PORT, e.g. TCP/80 (protocol TCP, UDP or SCTP)")
    return protocol, int(port)


def cmd_explain(args):
    scenario = load_scenario(args.scenario)
    endpoints = {endpoint.name: endpoint for endpoint in scenario_endpoints(scenario)}
    for name in (args.source, args.destination):
        if name not in endpoints:
            print("netpol-lab: %s is not a running pod or external of %s (known: %s)"
                  % (name, args.scenario, ", ".join(sorted(endpoints))), file=sys.stderr)
            return EXIT_INVALID
    protocol, port = args.probe
    verdict = explain(Resolver(scenario.cluster, scenario.policies), endpoints[args.source],
                      endpoints[args.destination], protocol, port, args.family)
    print("%s -> %s %s/%d (IPv%d): %s" % (args.source, args.destination, protocol, port, args.family,
                                           verdict.describe()))
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="netpol-lab", description="kubenet.netpol lab: check, truth, explain")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate NetworkPolicy manifest files or directories")
    check.add_argument("paths", nargs="+")
    check.set_defaults(func=cmd_check)
    truth = commands.add_parser("truth", help="the engine's truth table for a scenario (JSON)")
    truth.add_argument("scenario")
    truth.add_argument("--grid", action="store_true", help="print a readable grid instead of JSON")
    truth.add_argument("--pretty", action="store_true", help="indent the JSON")
    truth.set_defaults(func=cmd_truth)
    plan = commands.add_parser("plan", help="the per-node plan the engine resolves for a scenario (JSON)")
    plan.add_argument("scenario")
    plan.add_argument("--summary", action="store_true", help="print who is isolated, per node, instead of JSON")
    plan.set_defaults(func=cmd_plan)
    why = commands.add_parser("explain", help="may SOURCE reach DESTINATION on PROTOCOL/PORT, and why")
    why.add_argument("scenario")
    why.add_argument("source")
    why.add_argument("destination")
    why.add_argument("probe", type=parse_probe, metavar="PROTOCOL/PORT")
    why.add_argument("--family", type=int, choices=(4, 6), default=4)
    why.set_defaults(func=cmd_explain)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except InputError as exc:
        for problem in exc.problems:
            print(str(problem), file=sys.stderr)
        print("netpol-lab: %d problem(s) found; nothing was done" % len(exc.problems), file=sys.stderr)
        return EXIT_INVALID
