# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`molecule test` of extensions/molecule/enforce through scripts/molecule, as CI runs it: it must
pass, converge twice with no change the second time, agree with real packets, and leave no lab
behind, also when converge fails."""

from __future__ import annotations

import os
import re

import pytest
from molecule_runs import molecule, processes_naming

from netpol_lab import netns

pytestmark = [pytest.mark.root, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

RUN_ID = re.compile(r"lab (npl[0-9a-f]{4}) up in")
TIMEOUT = 600


def assert_no_lab_left(output, ephemeral):
    runs = RUN_ID.findall(output)
    assert len(runs) == 1, "expected one lab in the create step:\n" + output[-3000:]
    run = runs[0]
    lab_dir = os.path.join(ephemeral, "lab")
    assert [name for name in netns.namespaces() if name.startswith(run + "-")] == []
    assert not os.path.lexists(os.path.join("/tmp/netpol-lab", run))
    assert not os.path.lexists(lab_dir)
    assert processes_naming(lab_dir) == []
    assert "molecule: tearing down the lab" not in output, "molecule's destroy step must have removed the lab"


def step_results(output):
    """step -> result line of Molecule's summary, e.g. {'idempotence': 'Executed: Successful'}."""
    return dict(re.findall(r"^enforce > (\w+): (.+)$", output, re.MULTILINE))


def test_molecule_test_passes_and_leaves_nothing(ephemeral):
    code, output = molecule("enforce", ephemeral, timeout=TIMEOUT)
    assert code == 0, output[-6000:]
    steps = step_results(output)
    for step in ("create", "converge", "idempotence", "verify", "destroy"):
        assert steps.get(step) == "Executed: Successful", (step, steps)
    # The first converge changes both nodes; the idempotence step has already failed on any change.
    assert re.search(r"^node-1\s+: ok=\d+\s+changed=1", output, re.MULTILINE), output[-6000:]
    assert re.search(r"^node-2\s+: ok=\d+\s+changed=1", output, re.MULTILINE), output[-6000:]
    # 24 rows: 4 endpoints, 12 ordered pairs, TCP 80 and UDP 53; 8 allowed by hand in scenario.yaml.
    assert "lab, engine and expectation agree on 8 allowed and 16 denied rows" in output
    assert_no_lab_left(output, ephemeral)


def test_a_failed_converge_still_destroys_the_lab(ephemeral):
    code, output = molecule("enforce", ephemeral, "--", "-e", "netpol_deny_action=BOGUS", timeout=TIMEOUT)
    assert code != 0
    assert "value of netpol_deny_action must be one of" in output, output[-6000:]
    steps = step_results(output)
    assert steps.get("converge", "").startswith("Executed: Failed"), steps
    assert "verify" not in steps, steps
    assert steps.get("destroy") == "Executed: Successful", steps
    assert_no_lab_left(output, ephemeral)
