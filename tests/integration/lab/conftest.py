# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Labs for the lab's own tests, always torn down (the helpers live in lab_testing.py)."""

from __future__ import annotations

import os

import pytest
from lab_testing import scenario_path

from netpol_lab.scenario import load_scenario
from netpol_lab import lab as lab_life
from netpol_lab.topology import probed_ports


def _up(path):
    scenario = load_scenario(path)
    return lab_life.up(scenario, path, probed_ports([scenario])), scenario


@pytest.fixture
def build_lab():
    """build_lab(path) -> Lab, torn down after the test whatever happens."""
    labs = []

    def build(path):
        lab = _up(path)[0]
        labs.append(lab)
        return lab

    yield build
    for lab in labs:
        if os.path.exists(lab.run_dir):
            lab_life.down(lab)


def _shared(name):
    path = scenario_path(name)
    lab, scenario = _up(path)
    yield lab, scenario, path
    lab_life.down(lab)


@pytest.fixture(scope="session")
def three_nodes():
    """The reference lab (three-nodes.yaml): (lab, scenario, path). Tests that add rules remove them."""
    yield from _shared("three-nodes.yaml")


@pytest.fixture(scope="session")
def dual_stack():
    yield from _shared("dual-stack.yaml")
