# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the enforce playbook costs a fleet, against the cheapest thing Ansible can do on it.

A lab of 24 nodes (network namespaces with an sshd each, real SSH), one pod per node and a policy
isolating every pod. Timed, in alternating rounds, best of each: an `ansible.builtin.ping` playbook
on the nodes; the first converge of `playbooks/enforce.yml` (every node starts without our state);
and a rerun that finds nothing to do. Goals (issue "GitOps flow"): no-op rerun <= 1.5x ping, first
converge <= 2x ping. Needs root; always exits 0 and tears the lab down.

Beside the wall times it prints the CPU time of each kind on the controller (ansible-playbook, its
workers and their ssh clients; the nodes' side is not in it), the least of the rounds: on a machine
shared with other work the wall times swing with the load, the controller's CPU time much less.

    python bench/fleet_bench.py [--nodes 24] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

import yaml

from netpol_lab import lab as lab_life
from netpol_lab.enforce import ansible_environment, playbook_command
from netpol_lab.netns import in_netns
from netpol_lab.scenario import load_scenario
from netpol_lab.topology import probed_ports

GOALS = {"no-op rerun": 1.5, "first converge": 2.0}


def scenario_text(nodes):
    names = ["node-%d" % number for number in range(1, nodes + 1)]
    pods = {"x/p%d" % number: {"node": name, "labels": {"app": "p%d" % (number % 3)}} for number, name in enumerate(names, 1)}
    policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "web", "namespace": "x"},
              "spec": {"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "p1"}}}],
                                                       "ports": [{"protocol": "TCP", "port": 80}]}]}}
    return yaml.safe_dump({"name": "fleet", "nodes": names, "namespaces": {"x": {}}, "pods": pods,
                           "policies": [policy], "probes": [{"protocol": "TCP", "port": 80}]})


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command, env, cpu=None):
    """Wall seconds of the command; its CPU seconds (with its children's) appended to cpu."""
    started, cpu_before = time.perf_counter(), children_cpu()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError("%s failed:\n%s" % (" ".join(command[-6:]), (result.stdout + result.stderr)[-3000:]))
    if cpu is not None:
        cpu.append(children_cpu() - cpu_before)
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "fleet.yaml")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(scenario_text(args.nodes))
        ping = os.path.join(scratch, "ping.yml")
        with open(ping, "w", encoding="utf-8") as handle:
            handle.write("- {name: ping, hosts: netpol_nodes, gather_facts: false, tasks: [{name: ping, ansible.builtin.ping: {}}]}\n")
        scenario = load_scenario(path)
        started = time.perf_counter()
        lab = lab_life.up(scenario, path, probed_ports([scenario]))
        print("lab of %d nodes up in %.1f s" % (args.nodes, time.perf_counter() - started))
        try:
            env = ansible_environment(lab)
            ping_command = in_netns(lab.underlay, ["ansible-playbook", "-i", lab.inventory, ping])
            absent = playbook_command(lab, ["-e", "netpol_state=absent"])
            enforce = playbook_command(lab)
            best = {"ping": [], "first converge": [], "no-op rerun": []}
            cpu = {name: [] for name in best}
            timed(ping_command, env)  # SSH masters and caches warm for every kind alike
            for _round in range(args.repeat):
                best["ping"].append(timed(ping_command, env, cpu["ping"]))
                timed(absent, env)
                best["first converge"].append(timed(enforce, env, cpu["first converge"]))
                best["no-op rerun"].append(timed(enforce, env, cpu["no-op rerun"]))
            base = min(best["ping"])
            print("ansible.builtin.ping playbook: %.2f s (best of %d; all: %s)"
                  % (base, args.repeat, ", ".join("%.2f" % value for value in best["ping"])))
            for name, goal in GOALS.items():
                value = min(best[name])
                print("%-15s %.2f s = %.2fx ping (goal <= %.1fx: %s; all: %s)"
                      % (name, value, value / base, goal, "met" if value / base <= goal else "NOT met",
                         ", ".join("%.2f" % item for item in best[name])))
            print("controller CPU: ping %.2f s, %s" % (min(cpu["ping"]), ", ".join(
                "%s %.2f s = %.2fx" % (name, min(cpu[name]), min(cpu[name]) / min(cpu["ping"])) for name in GOALS)))
        finally:
            lab_life.down(lab)
    return 0


if __name__ == "__main__":
    sys.exit(main())
