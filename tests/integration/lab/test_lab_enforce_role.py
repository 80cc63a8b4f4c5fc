# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The enforce playbook over real SSH: --check writes nothing, a rerun changes nothing,
netpol_state=absent removes all of ours."""

from __future__ import annotations

import re
import subprocess

from lab_testing import scenario_path

from netpol_lab import lab as lab_life
from netpol_lab.enforce import RECAP, ansible_environment, playbook_command, run_playbook
from netpol_lab.netns import in_netns


SKIPPED = re.compile(r"^(\S+)\s+:\s+ok=(\d+).*\sskipped=(\d+)", re.MULTILINE)
INSTALL = "TASK [kubenet.netpol.enforce : Install the netfilter tools]"


def _ours(node):
    """Every line of our state on a node: chains, rules and jumps, and set names."""
    lines = []
    for argv in (["iptables-save", "-t", "filter"], ["ip6tables-save", "-t", "filter"], ["ipset", "list", "-n"]):
        output = subprocess.run(in_netns(node.netns, argv), capture_output=True, text=True, check=True).stdout
        lines.extend(line for line in output.splitlines() if "KUBENET" in line)
    return lines


def test_check_writes_nothing_rerun_changes_nothing_absent_removes_everything_ours(build_lab):
    path = scenario_path("three-nodes-policies.yaml")
    lab = build_lab(path)
    lab_life.set_scenario(lab, path)
    dry, output = run_playbook(lab, ["--check", "--diff"])
    assert all(dry.values()), "check mode reports what would change: %s" % dry
    assert "+:KUBENET-FORWARD" in output, "--diff shows the chains that would be written"
    assert {node.name: _ours(node) for node in lab.nodes} == {node.name: [] for node in lab.nodes}
    first, _output = run_playbook(lab)
    assert all(first.values()), "the first run converges every node: %s" % first
    assert all(any(line.startswith("-A FORWARD") for line in _ours(node)) for node in lab.nodes)
    again, output = run_playbook(lab)
    assert not any(again.values()), "a rerun with the same input must report no change: %s" % again
    # The lab's nodes want no installation (netpol_install_packages false): no install task runs and
    # none is skipped on a node either (end_role is decided on the controller, tasks/install.yml).
    assert INSTALL not in output, output
    assert {host: skipped for host, _ok, skipped in SKIPPED.findall(output)} == {
        **{node.name: "0" for node in lab.nodes}, "localhost": "0"}, output
    removed, _output = run_playbook(lab, ["-e", "netpol_state=absent"])
    assert all(removed.values())
    assert {node.name: _ours(node) for node in lab.nodes} == {node.name: [] for node in lab.nodes}


def test_an_unreachable_node_is_named_and_never_stops_the_others(build_lab, tmp_path):
    """A node the run cannot reach (node-3's SSH port made wrong): every other node converges, the summary
    names it, the exit is non-zero."""
    path = scenario_path("three-nodes-policies.yaml")
    lab = build_lab(path)
    lab_life.set_scenario(lab, path)
    broken = tmp_path / "broken.yml"
    broken.write_text('{"all": {"children": {"netpol_nodes": {"hosts": {"node-3": {"ansible_port": 1}}}}}}')
    result = subprocess.run(playbook_command(lab, ["-i", str(broken)]), env=ansible_environment(lab),
                            capture_output=True, text=True, check=False, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    recap = {host: (int(changed), int(unreachable), int(failed)) for host, changed, unreachable, failed
             in RECAP.findall(output)}
    assert recap["node-3"][1] == 1, output
    reached = [node for node in lab.nodes if node.name != "node-3"]
    assert all(recap[node.name][0] > 0 and recap[node.name][1:] == (0, 0) for node in reached), recap
    assert all(any(line.startswith("-A FORWARD") for line in _ours(node)) for node in reached)
    assert not _ours(lab.node("node-3"))
    assert '"failed_or_unreachable": [\n            "node-3"\n        ]' in output, output
    assert '"converged": 2' in output, output


def test_the_install_task_runs_on_the_nodes_that_want_it(build_lab, tmp_path):
    """netpol_install_packages true on node-2 only, in check mode (apt only reads the package database,
    which the lab nodes share with this machine): the install task runs on node-2 and no other node."""
    path = scenario_path("three-nodes-policies.yaml")
    lab = build_lab(path)
    lab_life.set_scenario(lab, path)
    wanted = tmp_path / "wanted.yml"
    wanted.write_text('{"all": {"children": {"netpol_nodes": {"hosts": {"node-2": {"netpol_install_packages": true}}}}}}')
    _changed, output = run_playbook(lab, ["-i", str(wanted), "--check"])
    install = output[output.index(INSTALL):].split("\nTASK [", 1)[0]
    assert re.findall(r"^(?:ok|changed): \[(\S+)\]", install, re.MULTILINE) == ["node-2"], install
