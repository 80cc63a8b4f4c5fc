# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The netpol_chains module end to end, run inside a namespace (needs root).

Most runs execute the module file the way Ansible does (a JSON arguments file, check and
diff mode as `_ansible_*` arguments); one goes through the `ansible` command itself.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from chains_module import run_module
from dataplane_plans import desired, node_slice

from ansible_collections.kubenet.netpol.plugins.module_utils.node import denials, naming
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import PLAN_VERSION

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, netfilter)")]


def test_check_diff_then_apply_then_nothing_to_do(runner, tmp_path, state_dir):
    plan = node_slice()
    check = run_module(runner.netns, tmp_path, check=True, diff=True, plan=plan, state_dir=state_dir)
    assert check["changed"] and not check.get("failed")
    assert "-A KUBENET-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN" in check["diff"]["after"]
    assert naming.PREFIX not in check["diff"]["before"]
    assert [command for command in check["commands"] if command.endswith("(check mode: not run)")]
    assert runner.run("ipset", "list", "-n") == ""
    assert naming.PREFIX not in runner.run("iptables-save")

    applied = run_module(runner.netns, tmp_path, plan=plan, state_dir=state_dir)
    assert applied["changed"] and applied["backend"] == "default"
    assert applied["counts"] == desired().counts()
    assert applied["summary"]["jumps_fixed"] == [4, 6]
    assert sorted(runner.run("ipset", "list", "-n").split()) == sorted(item.name for item in desired().sets)

    again = run_module(runner.netns, tmp_path, plan=plan, state_dir=state_dir)
    assert not again["changed"]
    assert not [command for command in again["commands"] if "restore" in command]


def test_options_reach_the_rules(runner, tmp_path, state_dir):
    options = {"deny_action": "DROP", "log_denied": True, "log_group": 7, "mark": "0x200000", "ip_families": [4],
               "fail_closed_cidrs": ["10.244.1.0/24"], "cut_denied_connections": True, "log_limit": "120/minute",
               "log_burst": 9}
    result = run_module(runner.netns, tmp_path, plan=node_slice(), state_dir=state_dir, **options)
    assert result["changed"] and result["summary"]["connections_cut"] == []
    rules = runner.run("iptables-save", "-t", "filter")
    deny_only = naming.pod_chain("ingress", ["x/deny-ingress"])  # x/b's ingress chain
    assert ('-m limit --limit 2/sec --limit-burst 9 -j NFLOG --nflog-prefix "kubenet-netpol denied %s" --nflog-group 7'
            % deny_only) in rules
    assert denials.load_lookup(state_dir)["chains"][deny_only] == {"direction": "ingress", "policies": ["x/deny-ingress"]}
    assert "-m mark --mark 0x200000/0x200000 -g KUBENET-ALLOW" in rules
    assert '-m connmark --mark 0x200000/0x200000 -m comment --comment "connection no longer allowed" -j DROP' in rules
    assert "-m set --match-set %s src" % naming.set_name("hash:net", 4, "C", "fail-closed") in rules
    assert "REJECT" not in rules
    assert naming.PREFIX not in runner.run("ip6tables-save")
    assert not run_module(runner.netns, tmp_path, plan=node_slice(), state_dir=state_dir, **options)["changed"]


@pytest.mark.parametrize("args, message", [
    ({"plan": {"version": PLAN_VERSION, "node": "n1"}}, "missing 'pods'"),
    ({"plan": {"node": "n1", "pods": [], "policies": []}}, "has plan version None"),
    ({"plan": {"node": "n1", "pods": [], "policies": []}, "mark": "0x3"}, "single bit"),
    ({"plan": {"node": "n1", "pods": [], "policies": []}, "mark": "lots"}, "mark must be a number"),
    ({}, "plan"),
])
def test_bad_input_fails_before_touching_the_node(runner, tmp_path, state_dir, args, message):
    result = run_module(runner.netns, tmp_path, state_dir=state_dir, **args)
    assert result["failed"] and message in result["msg"]
    assert naming.PREFIX not in runner.run("iptables-save")


def test_state_absent_through_the_ansible_command(runner, tmp_path, state_dir):
    run_module(runner.netns, tmp_path, plan=node_slice(), state_dir=state_dir)
    command = ["ip", "netns", "exec", runner.netns, "ansible", "localhost", "-c", "local", "-o",
               "-e", "ansible_python_interpreter=%s" % sys.executable,
               "-m", "kubenet.netpol.netpol_chains", "-a", "state=absent state_dir=%s" % state_dir]
    first = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    assert "CHANGED" in first.stdout, first.stdout + first.stderr
    assert naming.PREFIX not in runner.run("iptables-save") + runner.run("ip6tables-save") + runner.run("ipset", "save")
    second = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    assert "SUCCESS" in second.stdout, second.stdout + second.stderr
