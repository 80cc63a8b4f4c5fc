# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""netpol_persist on the lab: a node whose netfilter state is gone (as after a reboot) gets the
policies back from its boot command alone, before any run; packets show it (root).

The expected table is the scenario's hand-written `expected`; the real reboot is the VM scenario's.
"""

from __future__ import annotations

import os
import subprocess

import pytest
from lab_testing import scenario_path

from netpol_lab import lab as lab_life
from netpol_lab.enforce import run_playbook
from netpol_lab.expected import parse_expected, probed_rows
from netpol_lab.netns import in_netns
from netpol_lab.prober import probe
from netpol_lab.scenario import load_scenario

from ansible_collections.kubenet.netpol.plugins.module_utils.node.dataplane import converge

pytestmark = [pytest.mark.root, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

UNIT = "kubenet-netpol-restore.service"


def in_node(node):
    def run(argv, stdin=None):
        done = subprocess.run(in_netns(node.netns, list(argv)), input=stdin, capture_output=True, text=True, check=False)
        return done.returncode, done.stdout, done.stderr
    return run


def test_a_wiped_node_gets_its_policies_back_from_the_boot_command(build_lab):
    path = scenario_path("three-nodes-policies.yaml")
    scenario = load_scenario(path)
    expected = parse_expected(scenario.expected).table(probed_rows(scenario))
    lab = build_lab(path)
    lab_life.set_scenario(lab, path)
    changed, _output = run_playbook(lab, ["-e", "netpol_persist=true"])
    assert all(changed.values())
    assert {key: probe(lab, scenario, path)[key] for key in ("allowed", "denied")} == expected

    node = lab.node("node-2")  # holds y/b and z/b, which policies isolate
    converge(None, in_node(node), state_dir=node.state_dir)  # the reboot: none of our rules or sets left
    wiped = probe(lab, scenario, path)
    assert ["ext-a", "y/b", "TCP", 80] in wiped["allowed"] and ["x/c", "z/b", "UDP", 81] in wiped["allowed"]

    unit = os.path.join(node.dir, "units", UNIT)
    with open(unit, encoding="utf-8") as handle:
        command = [line[len("ExecStart="):] for line in handle.read().splitlines() if line.startswith("ExecStart=")]
    booted = subprocess.run(in_netns(node.netns, command[0].split()), capture_output=True, text=True, check=False)
    assert booted.returncode == 0, booted.stderr
    assert {key: probe(lab, scenario, path)[key] for key in ("allowed", "denied")} == expected

    again, _output = run_playbook(lab, ["-e", "netpol_persist=true"])
    assert not any(again.values()), "the restored state is exactly the converged one: %s" % again
