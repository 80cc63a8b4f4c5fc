# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""enforce.yml checks every node's settings once, on the controller, before any node is touched.

The nodes of these inventories are addresses of TEST-NET-1 (RFC 5737), which nothing answers: a run
that tried to reach one would report it unreachable. Settings come from where users put them: host
variables, group variables and extra vars.
"""

from __future__ import annotations

import os
import subprocess

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PLAYBOOK = os.path.join(ROOT, "playbooks", "enforce.yml")
CONVERGE_TASK = "Converge this node's chains and sets"


def run_enforce(tmp_path, node_vars, group_vars=None, *extra):
    hosts = {name: dict(settings, ansible_host="192.0.2.%d" % number, ansible_connection="ssh")
             for number, (name, settings) in enumerate(sorted(node_vars.items()), 1)}
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"netpol_nodes": {"hosts": hosts,
                                                                               "vars": group_vars or {}}}}}))
    return subprocess.run(["ansible-playbook", "-i", str(inventory), PLAYBOOK] + list(extra), capture_output=True,
                          text=True, check=False, timeout=300, env=dict(os.environ, ANSIBLE_NOCOLOR="1"))


def test_bad_settings_of_some_nodes_stop_the_run_before_any_node_is_touched(tmp_path):
    run = run_enforce(tmp_path, {"node-1": {}, "node-2": {"netpol_deny_action": "ACCEPT"},
                                 "node-3": {"netpol_ip_families": [4, "six"]}},
                      {"netpol_log_burst": 5})
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "node-2: value of netpol_deny_action must be one of: REJECT, DROP, got: ACCEPT" in output
    assert "node-3: Elements value for option 'netpol_ip_families'" in output
    assert "node-1:" not in output
    assert "UNREACHABLE" not in output and CONVERGE_TASK not in output


def test_group_and_extra_vars_are_checked_for_every_node(tmp_path):
    run = run_enforce(tmp_path, {"node-1": {}, "node-2": {}}, {"netpol_log_burst": "many"},
                      "-e", "netpol_state=gone")
    output = run.stdout + run.stderr
    assert run.returncode != 0
    for node in ("node-1", "node-2"):
        assert "%s: value of netpol_state must be one of: present, absent, got: gone" % node in output
        assert "%s: argument 'netpol_log_burst' is of type str" % node in output
    assert "UNREACHABLE" not in output and CONVERGE_TASK not in output
