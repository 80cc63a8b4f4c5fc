# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`netpol-lab observe`, the probe of Molecule's verify step: real packets on a lab that is already
up, which it leaves as it is, and a refusal when the lab was built for another topology."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from netpol_lab import netns

pytestmark = [pytest.mark.root, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

ROOT = Path(__file__).resolve().parents[3]
NETPOL_LAB = str(ROOT / "tests" / "lab" / "netpol-lab")
SCENARIO = ROOT / "extensions" / "molecule" / "enforce" / "files" / "scenario.yaml"
OTHER_TOPOLOGY = ROOT / "tests" / "scenarios" / "ports-tcp-and-udp.yaml"


def netpol_lab(*args):
    return subprocess.run([NETPOL_LAB] + list(args), capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def lab_dir():
    """A lab up for SCENARIO with nothing enforced, torn down whatever happens."""
    parent = tempfile.mkdtemp(prefix="npo-")
    path = os.path.join(parent, "lab")
    try:
        up = netpol_lab("up", str(SCENARIO), "--run-dir", path)
        assert up.returncode == 0, up.stderr
        yield path
    finally:
        if os.path.exists(os.path.join(path, "lab.json")):
            netpol_lab("down", path)
        shutil.rmtree(parent, ignore_errors=True)


def every_row(raw):
    """The 24 rows of SCENARIO, from its text: 4 endpoints, 12 ordered pairs, two probes."""
    ends = list(raw["pods"]) + list(raw["externals"])
    return sorted([source, destination, probe["protocol"], probe["port"]]
                  for probe in raw["probes"] for source in ends for destination in ends
                  if source != destination)


def test_observe_sends_real_packets_and_leaves_the_lab_up(lab_dir):
    with open(SCENARIO, encoding="utf-8") as handle:
        rows = every_row(yaml.safe_load(handle))
    observed = netpol_lab("observe", lab_dir)
    assert observed.returncode == 0, observed.stderr
    table = json.loads(observed.stdout)
    # Nothing enforced yet: every pair of the scenario answers.
    assert len(rows) == 24
    assert table["allowed"] == rows
    assert table["denied"] == []
    with open(os.path.join(lab_dir, "lab.json"), encoding="utf-8") as handle:
        run = json.load(handle)["run"]
    assert len([name for name in netns.namespaces() if name.startswith(run + "-")]) == 7  # underlay, 2 nodes, 3 pods, 1 external
    again = netpol_lab("observe", run)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == table


def test_observe_refuses_a_lab_built_for_another_topology(lab_dir):
    shutil.copyfile(OTHER_TOPOLOGY, os.path.join(lab_dir, "scenario.yaml"))
    observed = netpol_lab("observe", lab_dir)
    assert observed.returncode == 1
    assert "was not built for its current scenario" in observed.stderr
    assert observed.stdout == ""
