# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""netpol_chains persist: the saved state, its boot unit, and the boot command in a namespace (root).

A reboot is stood in for by removing every chain and set of ours from the node's namespace (what a
fresh kernel has), then running the unit's ExecStart command there. The packets of a restored node
are in test_dataplane_packets.py.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from chains_module import run_module
from dataplane_plans import STANDARD_POLICIES, node_slice, without

from ansible_collections.kubenet.netpol.plugins.module_utils.node import naming
from ansible_collections.kubenet.netpol.plugins.module_utils.node.dataplane import converge

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, netfilter)")]

UNIT = "kubenet-netpol-restore.service"


@pytest.fixture
def places(tmp_path, state_dir):
    """The module's directories for one node, all under the test's own folder."""
    return {"state_dir": state_dir, "persist_dir": str(tmp_path / "persist"), "persist_unit_dir": str(tmp_path / "units")}


def boot_command(unit_dir):
    """The unit's ExecStart, as systemd would run it at boot."""
    with open(os.path.join(unit_dir, UNIT), encoding="utf-8") as handle:
        lines = [line for line in handle.read().splitlines() if line.startswith("ExecStart=")]
    assert len(lines) == 1
    return lines[0][len("ExecStart="):].split()


def run_boot(runner, unit_dir):
    return subprocess.run(["ip", "netns", "exec", runner.netns] + boot_command(unit_dir),
                          capture_output=True, text=True, check=False, timeout=60)


def wipe(runner, state_dir):
    """What a reboot does to our netfilter state: gone (through our own removal, touching nothing else)."""
    converge(None, runner, state_dir=state_dir)
    assert naming.PREFIX not in runner.run("iptables-save") + runner.run("ip6tables-save") + runner.run("ipset", "save")


def ours(runner):
    return runner.filter_lines(4), runner.filter_lines(6), runner.ipset_lines()


def test_the_boot_command_restores_exactly_the_converged_state(runner, tmp_path, places):
    result = run_module(runner.netns, tmp_path, plan=node_slice(), persist=True, bridge_netfilter=False, **places)
    assert result["changed"] and result["persist_changed"], result
    converged = ours(runner)
    unit_dir = places["persist_unit_dir"]
    unit = open(os.path.join(unit_dir, UNIT), encoding="utf-8").read()
    assert "WantedBy=multi-user.target" in unit
    assert "Before=network-pre.target" in unit and "kubelet.service" in unit and "containerd.service" in unit
    link = os.path.join(unit_dir, "multi-user.target.wants", UNIT)
    assert os.path.realpath(link) == os.path.join(unit_dir, UNIT)  # enabled

    wipe(runner, places["state_dir"])
    booted = run_boot(runner, unit_dir)
    assert booted.returncode == 0, booted.stderr
    assert ours(runner) == converged

    again = run_boot(runner, unit_dir)  # run by hand on a live node: it leaves our chains to the next run
    assert again.returncode == 0 and "present" in again.stdout
    assert ours(runner) == converged
    rerun = run_module(runner.netns, tmp_path, plan=node_slice(), persist=True, bridge_netfilter=False, **places)
    assert not rerun["changed"] and not rerun["persist_changed"]


def test_a_changed_plan_is_saved_after_it_converged_and_check_mode_saves_nothing(runner, tmp_path, places):
    run_module(runner.netns, tmp_path, plan=node_slice(), persist=True, **places)
    first = os.readlink(os.path.join(places["persist_dir"], "current"))
    tighter = node_slice(policies=without(STANDARD_POLICIES, "x/allow-b-to-a"))

    check = run_module(runner.netns, tmp_path, check=True, plan=tighter, persist=True, **places)
    assert check["changed"] and check["persist_changed"]
    assert os.readlink(os.path.join(places["persist_dir"], "current")) == first

    applied = run_module(runner.netns, tmp_path, plan=tighter, persist=True, **places)
    assert applied["persist_changed"]
    second = os.readlink(os.path.join(places["persist_dir"], "current"))
    assert second != first
    assert sorted(os.listdir(places["persist_dir"])) == ["current", second]  # the old state is gone
    converged = ours(runner)
    wipe(runner, places["state_dir"])
    assert run_boot(runner, places["persist_unit_dir"]).returncode == 0
    assert ours(runner) == converged  # the tighter state, not the first


def test_the_boot_state_can_fail_closed_for_pods_the_plan_did_not_know(runner, tmp_path, places):
    run_module(runner.netns, tmp_path, plan=node_slice(), persist=True,
               persist_fail_closed_cidrs=["10.244.1.0/24"], **places)
    live = runner.run("iptables-save", "-t", "filter")
    assert "fail closed" not in live  # the live mode is unchanged ...
    wipe(runner, places["state_dir"])
    assert run_boot(runner, places["persist_unit_dir"]).returncode == 0
    assert "fail closed: pod not in the plan yet" in runner.run("iptables-save", "-t", "filter")  # ... the boot one is


def test_persistence_turned_off_or_absent_removes_only_our_files(runner, tmp_path, places):
    unit_dir = places["persist_unit_dir"]
    run_module(runner.netns, tmp_path, plan=node_slice(), persist=True, **places)
    foreign = os.path.join(unit_dir, "multi-user.target.wants", "other.service")
    os.symlink("/dev/null", foreign)
    off = run_module(runner.netns, tmp_path, plan=node_slice(), persist=False, **places)
    assert off["changed"] and off["persist_changed"]
    assert not os.path.exists(os.path.join(unit_dir, UNIT))
    assert os.listdir(places["persist_dir"]) == []
    assert os.path.islink(foreign)
    assert not run_module(runner.netns, tmp_path, plan=node_slice(), persist=False, **places)["changed"]

    run_module(runner.netns, tmp_path, plan=node_slice(), persist=True, **places)
    gone = run_module(runner.netns, tmp_path, state="absent", persist=True, **places)
    assert gone["changed"] and gone["persist_changed"]
    assert not os.path.exists(os.path.join(unit_dir, UNIT))
    assert naming.PREFIX not in runner.run("iptables-save") + runner.run("ipset", "save")


def test_a_unit_file_not_written_by_us_is_never_removed(runner, tmp_path, places):
    unit_dir = places["persist_unit_dir"]
    os.makedirs(unit_dir)
    path = os.path.join(unit_dir, UNIT)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("[Unit]\nDescription=the admin's own\n")
    result = run_module(runner.netns, tmp_path, plan=node_slice(), persist=False, **places)
    assert not result["persist_changed"]
    assert open(path, encoding="utf-8").read().startswith("[Unit]\nDescription=the admin's own")


def test_a_save_interrupted_before_the_switch_leaves_the_previous_state_whole(runner, tmp_path, places):
    run_module(runner.netns, tmp_path, plan=node_slice(), persist=True, **places)
    converged = ours(runner)
    current = os.readlink(os.path.join(places["persist_dir"], "current"))
    # A run killed while writing its new state leaves a half-written directory beside `current`.
    half = os.path.join(places["persist_dir"], "state-0123456789abcdef")
    os.mkdir(half)
    with open(os.path.join(half, "sets.restore"), "w", encoding="utf-8") as handle:
        handle.write("create KUBENET-half")
    assert os.readlink(os.path.join(places["persist_dir"], "current")) == current
    wipe(runner, places["state_dir"])
    assert run_boot(runner, places["persist_unit_dir"]).returncode == 0
    assert ours(runner) == converged
    # The next run that saves cleans the leftover up.
    run_module(runner.netns, tmp_path, plan=node_slice(policies=STANDARD_POLICIES[:2]), persist=True, **places)
    assert not os.path.exists(half)
