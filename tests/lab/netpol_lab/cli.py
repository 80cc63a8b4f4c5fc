"""netpol-lab subcommands. Exit 0: done; 1: the lab failed; 2: the input is invalid (every problem printed)."""

import argparse
import json
import signal
import sys
import time

from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import InputError
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.analysis import class_matrix, truth_table
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.explain import ClusterVerdicts, explain
from netpol_lab.scenario import load_scenario, scenario_endpoints
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.manifests import load_policies
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.slicing import node_slice
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.planner import build_plan
from netpol_lab import lab as lab_life
from netpol_lab.enforce import enforce
from netpol_lab.observe import observe
from netpol_lab.session import probe_scenarios, skip_enforce
from netpol_lab.table import render_grid
from netpol_lab.topology import LabError, probed_ports

EXIT_LAB = 1
EXIT_INVALID = 2


def cmd_check(args):
    warnings = []
    policies = load_policies(args.paths, strict=args.strict, warnings=warnings)
    for warning in warnings:
        print(str(warning), file=sys.stderr)
    print("%d NetworkPolicies valid%s" % (len(policies), ", %d warning(s)" % len(warnings) if warnings else ""))
    return 0


def cmd_truth(args):
    scenario = load_scenario(args.scenario)
    endpoints = scenario_endpoints(scenario)
    table = truth_table(class_matrix(scenario.cluster, scenario.policies, endpoints), endpoints, scenario.probes, args.scenario)
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
        policies = node_slice(plan, name)["policies"]
        rules = sum(len(policy["rules"]) for policy in policies)
        lines.append("  (%d pods, %d policy/direction slices, %d rules)" % (len(node["pods"]), len(policies), rules))
    lines.extend("warning: %s" % warning for warning in plan["warnings"])
    return "\n".join(lines)


def cmd_plan(args):
    scenario = load_scenario(args.scenario)
    plan = build_plan(scenario.cluster, scenario.policies)
    print(plan_summary(plan) if args.summary else json.dumps(plan, indent=1, sort_keys=True))
    return 0


def parse_probe(text):
    protocol, _slash, port = text.partition("/")
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
    verdict = explain(ClusterVerdicts(scenario.cluster, scenario.policies), endpoints[args.source],
                      endpoints[args.destination], protocol, port, args.family)
    print("%s -> %s %s/%d (IPv%d): %s"
          % (args.source, args.destination, protocol, port, args.family, verdict.describe()))
    return 0


def _terminate(signum, frame):
    """SIGTERM unwinds like Ctrl-C, so the lab is torn down on the way out."""
    raise KeyboardInterrupt


def cmd_up(args):
    lab_life.require_root()
    signal.signal(signal.SIGTERM, _terminate)
    scenario = load_scenario(args.scenario)
    start = time.monotonic()
    lab = lab_life.up(scenario, args.scenario, probed_ports([scenario]), args.run_dir)
    kinds = [endpoint.kind for endpoint in lab.endpoints]
    print("lab %s up in %.1f s: %d nodes, %d pods, %d hostNetwork pods, %d externals"
          % (lab.run, time.monotonic() - start, len(lab.nodes), kinds.count("pod"), kinds.count("host"),
             kinds.count("external")))
    print("run dir:   %s" % lab.run_dir)
    print("inventory: %s" % lab.inventory)
    print("ansible:   ip netns exec %s ansible -i %s netpol_nodes -m ansible.builtin.ping" % (lab.underlay, lab.inventory))
    print("down:      netpol-lab down %s" % lab.run)
    return 0


def cmd_down(args):
    lab_life.require_root()
    stopped, swept = lab_life.down_runs(args.runs, args.all)
    print("stopped: %s" % (", ".join(stopped) or "no recorded run"))
    if args.all:
        print("removed leftovers: %s" % (", ".join(swept) or "none"))
    return 0


def cmd_probe(args):
    lab_life.require_root()
    signal.signal(signal.SIGTERM, _terminate)
    tables = probe_scenarios(args.scenarios, skip_enforce if args.no_enforce else enforce, args.run_dir)
    if args.grid:
        for path, table in zip(args.scenarios, tables):
            print(observed_summary(path, table))
        return 0
    result = tables[0] if len(tables) == 1 else tables
    print(json.dumps(result, indent=1 if args.pretty else None))
    return 0


def observed_summary(path, table):
    """What the playbook changed on each node, and the table real packets produced, as a grid."""
    lines = ["== %s" % path]
    for node, result in sorted(table.get("converge", {}).items()):
        lines.append("enforce.yml on %s: %s" % (node, "changed" if result["changed"] else "no change"))
    scenario = load_scenario(path)
    endpoints = scenario_endpoints(scenario)
    names = [endpoint.name for endpoint in endpoints]
    truth = truth_table(class_matrix(scenario.cluster, scenario.policies, endpoints), endpoints, scenario.probes, path)
    differ = sorted(set(map(tuple, truth["allowed"])) ^ set(map(tuple, table["allowed"]))
                    - set(map(tuple, table.get("unprobed", ()))))
    lines.append("real packets agree with the engine on every probed row" if not differ else
                 "real packets DISAGREE with the engine on: %s" % ", ".join("%s->%s %s/%s" % row for row in differ))
    lines.append("observed with real packets:")
    lines.append(render_grid(table, names))
    for row in table.get("unprobed", ()):
        lines.append("not probed (no kernel sockets for it): %s -> %s %s/%s" % tuple(row))
    return "\n".join(lines)


def cmd_observe(args):
    lab_life.require_root()
    print(json.dumps(observe(args.run), indent=1 if args.pretty else None))
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="netpol-lab",
                                     description="kubenet.netpol lab: check, truth, plan, explain; up, down, probe, observe")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate NetworkPolicy manifest files or directories")
    check.add_argument("paths", nargs="+")
    check.add_argument("--strict", action="store_true", help="make every warning an error")
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
    lab_up = commands.add_parser("up", help="build the lab for a scenario and leave it running (root)")
    lab_up.add_argument("scenario")
    lab_up.add_argument("--run-dir", help="state dir of the run (default /tmp/netpol-lab/<run>); must be new or empty")
    lab_up.set_defaults(func=cmd_up)
    lab_down = commands.add_parser("down", help="tear labs down (root)")
    lab_down.add_argument("runs", nargs="*", metavar="RUN",
                          help="run ids or run dirs (default: every run recorded under /tmp/netpol-lab)")
    lab_down.add_argument("--all", action="store_true",
                          help="also remove every netns, process and dir with the lab prefix that killed runs left")
    lab_down.set_defaults(func=cmd_down)
    lab_probe = commands.add_parser("probe", help="the observed truth table(s), with real packets in the lab (root)")
    lab_probe.add_argument("scenarios", nargs="+", metavar="SCENARIO")
    lab_probe.add_argument("--no-enforce", action="store_true", help="probe without enforcing any policy")
    lab_probe.add_argument("--run-dir", help="state dir of the run (default /tmp/netpol-lab/<run>)")
    lab_probe.add_argument("--pretty", action="store_true", help="indent the JSON")
    lab_probe.add_argument("--grid", action="store_true", help="print what was enforced and readable grids, not JSON")
    lab_probe.set_defaults(func=cmd_probe)
    lab_observe = commands.add_parser("observe", help="the observed truth table of a running lab, for its current scenario (root)")
    lab_observe.add_argument("run", metavar="RUN", help="run id or run dir of a lab that is up")
    lab_observe.add_argument("--pretty", action="store_true", help="indent the JSON")
    lab_observe.set_defaults(func=cmd_observe)
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
    except LabError as exc:
        print("netpol-lab: %s" % exc, file=sys.stderr)
        return EXIT_LAB
