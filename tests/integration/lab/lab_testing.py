# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers of the lab's tests: scenario files, rows reasoned from the scenario text, rules, leftovers."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

LAB_DIR = Path(__file__).resolve().parents[2] / "lab"
if str(LAB_DIR) not in sys.path:
    sys.path.insert(0, str(LAB_DIR))

from netpol_lab import netns  # noqa: E402  (tests/lab is not a package on the default path)

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
NETPOL_LAB = str(LAB_DIR / "netpol-lab")
INACTIVE = ("Succeeded", "Failed")


def scenario_path(name):
    return str(SCENARIOS / name)


def raw_scenario(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def families(ips):
    return {ipaddress.ip_address(ip).version for ip in ips}


def endpoint_families(raw):
    """name -> IP families, read from the scenario text: a pod without `ips` gets one IPv4 address."""
    found = {}
    for key, spec in raw["pods"].items():
        if spec.get("phase") not in INACTIVE:
            found[key] = families(spec["ips"]) if "ips" in spec else {4}
    for name, spec in (raw.get("externals") or {}).items():
        found[name] = families(spec["ips"])
    return found


def every_pair(raw, protocols=("TCP", "UDP", "SCTP")):
    """Every row the table must hold (tests/scenarios/README.md): all sources x destinations of each probe,
    minus self, external to external, and ends without an address of the probe's family."""
    ends = endpoint_families(raw)
    externals = set(raw.get("externals") or ())
    rows = []
    for probe in raw["probes"]:
        if probe["protocol"] not in protocols:
            continue
        family = probe.get("family", 4)
        for source, source_families in ends.items():
            for destination, destination_families in ends.items():
                if source == destination or (source in externals and destination in externals):
                    continue
                if family in source_families and family in destination_families:
                    rows.append([source, destination, probe["protocol"], probe["port"]])
    return sorted(rows)


@contextlib.contextmanager
def forward_rule(lab, node, rule, command="iptables"):
    """One rule at the top of a node netns's FORWARD chain, removed on the way out."""
    namespace = lab.node(node).netns
    subprocess.run(netns.in_netns(namespace, [command, "-w", "-I", "FORWARD"] + rule), check=True)
    try:
        yield
    finally:
        subprocess.run(netns.in_netns(namespace, [command, "-w", "-D", "FORWARD"] + rule), check=True)


def lab_processes(run_dir):
    """Pids of running processes whose command line names the run dir (agents, sshd)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as handle:
                named = run_dir.encode() in handle.read()
        except OSError:
            continue
        if named and netns.running(int(entry)):
            pids.append(int(entry))
    return pids


def assert_gone(run, run_dir, pids=()):
    """No netns, no process and no dir of that run is left."""
    assert [name for name in netns.namespaces() if name.startswith(run + "-")] == []
    assert [pid for pid in pids if netns.running(pid)] == []
    assert lab_processes(run_dir) == []
    assert not os.path.lexists(run_dir)
    assert not os.path.lexists(os.path.join("/tmp/netpol-lab", run))


def netpol_lab(*args, timeout=300):
    """Run the netpol-lab command as a user would."""
    return subprocess.run([NETPOL_LAB] + list(args), capture_output=True, text=True, timeout=timeout, check=False)


def truth(path):
    """`netpol-lab truth`: the engine's table."""
    result = netpol_lab("truth", path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
