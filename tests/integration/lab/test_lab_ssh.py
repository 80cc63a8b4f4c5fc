# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible reaches every lab node over real SSH, from the underlay netns, and runs inside that node's netns."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
import yaml

from netpol_lab import netns

pytestmark = [pytest.mark.root, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

UNDERLAY = {"node-1": "10.10.0.1", "node-2": "10.10.0.2", "node-3": "10.10.0.3"}


def test_the_inventory_names_every_node_as_the_enforce_role_expects(three_nodes):
    lab = three_nodes[0]
    with open(lab.inventory, encoding="utf-8") as handle:
        inventory = yaml.safe_load(handle)["all"]
    assert inventory["hosts"]["localhost"]["ansible_connection"] == "local"
    group = inventory["children"]["netpol_nodes"]
    assert group["vars"]["ansible_user"] == "root"
    assert group["vars"]["ansible_python_interpreter"] == "/usr/bin/python3"
    assert group["vars"]["netpol_install_packages"] is False
    assert "StrictHostKeyChecking=no" in group["vars"]["ansible_ssh_common_args"]
    assert "UserKnownHostsFile=/dev/null" in group["vars"]["ansible_ssh_common_args"]
    assert os.path.exists(group["vars"]["ansible_ssh_private_key_file"])
    assert sorted(group["hosts"]) == ["node-1", "node-2", "node-3"]
    state_dirs = set()
    for name, host in group["hosts"].items():
        assert host["ansible_host"] == UNDERLAY[name]
        assert host["netpol_node_name"] == name
        assert os.path.isdir(host["netpol_state_dir"]) and host["netpol_state_dir"].startswith(lab.run_dir)
        state_dirs.add(host["netpol_state_dir"])
    assert len(state_dirs) == 3, "each node needs its own state dir: they share the filesystem"


def test_ansible_runs_a_command_in_each_node_netns_over_ssh(three_nodes):
    lab = three_nodes[0]
    result = subprocess.run(netns.in_netns(lab.underlay, [
        "ansible", "-i", lab.inventory, "netpol_nodes", "-o", "-m", "ansible.builtin.command", "-a", "ip -o addr"]),
        capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    # One line per host (-o): "node-1 | CHANGED | rc=0 | (stdout) <output, newlines as \\n>".
    hosts = dict(re.findall(r"^(node-\d) \| CHANGED \| rc=0 \| \(stdout\) (.*)$", result.stdout, re.M))
    assert sorted(hosts) == ["node-1", "node-2", "node-3"], result.stdout
    for number, name in enumerate(sorted(hosts), start=1):
        output = hosts[name]
        seen = set(re.findall(r"inet6? (\S+)", output))
        # Its own underlay address and pod bridge, and nobody else's: the command ran in that netns.
        assert {"10.10.0.%d/24" % number, "fd00:10:10::%d/64" % number, "10.244.%d.1/24" % number} <= seen
        assert not any(address.startswith("10.10.0.") and address != "10.10.0.%d/24" % number for address in seen)
        assert "cbr0" in output
