# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Denials attributed on the lab, as an operator gets them (root): enforce.yml with netpol_log_denied over
SSH, ulogd2 with the example configuration on every node, every pair probed, then netpol_denials run
ad hoc on every node over SSH.

Expected, from the scenario's text (three-nodes-policies.yaml): the denied rows are its hand-written
`expected`; each is denied at the destination's node, for ingress, and attributed to the one policy
isolating every pod of the destination's namespace (no policy isolates for egress).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess

import pytest
from lab_testing import scenario_path

from netpol_lab import lab as lab_life
from netpol_lab.enforce import ansible_environment, run_playbook
from netpol_lab.expected import parse_expected, probed_rows
from netpol_lab.netns import in_netns
from netpol_lab.prober import probe
from netpol_lab.scenario import load_scenario
from netpol_lab.ulogd import ulogd_in

pytestmark = [pytest.mark.root, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

ISOLATING = {"y": ["y/default-deny-ingress"], "z": ["z/from-a"]}  # by namespace, read off the policies
ONE_LINE = re.compile(r"^(\S+) \| SUCCESS => (\{.*\})$", re.M)


def denials_on_every_node(lab, logs):
    """netpol_denials on every node, as `ansible netpol_nodes -m ...` from the controller: {node: result}."""
    argv = in_netns(lab.underlay, [
        "ansible", "-i", lab.inventory, "netpol_nodes", "-o", "-m", "kubenet.netpol.netpol_denials",
        "-a", "log_file=%s/{{ inventory_hostname }}.json state_dir={{ netpol_state_dir }} last=0" % logs])
    done = subprocess.run(argv, env=ansible_environment(lab), capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return {host: json.loads(result) for host, result in ONE_LINE.findall(done.stdout)}


def test_every_denied_probe_is_attributed_on_its_node_and_no_allowed_one(build_lab, tmp_path):
    path = scenario_path("three-nodes-policies.yaml")
    scenario = load_scenario(path)
    expected = parse_expected(scenario.expected).table(probed_rows(scenario))
    lab = build_lab(path)
    lab_life.set_scenario(lab, path)
    logs = str(tmp_path)
    with contextlib.ExitStack() as stack:
        for node in lab.nodes:
            stack.enter_context(ulogd_in(node.netns, os.path.join(logs, node.name + ".json"), logs))
        # Every probe of a namespace's pods on one node meets one pod chain: a burst for all of them.
        changed, _output = run_playbook(lab, ["-e", "netpol_log_denied=true", "-e", "netpol_log_burst=1000"])
        assert all(changed.values())
        table = probe(lab, scenario, path)
        assert {key: table[key] for key in ("allowed", "denied")} == expected
        found = denials_on_every_node(lab, logs)

    ip = {endpoint.name: next(item for item in endpoint.ips if ":" not in item) for endpoint in lab.endpoints}
    node_of = {endpoint.name: endpoint.node for endpoint in lab.endpoints}
    wanted = {}
    for source, destination, protocol, port in expected["denied"]:
        namespace = destination.split("/")[0]
        wanted.setdefault(node_of[destination], set()).add(
            (destination, "ingress", ip[source], protocol.lower(), port, tuple(ISOLATING[namespace])))
    got = {node: {(item["pod"], item["direction"], item["peer_ip"], item["protocol"], item["port"],
                   tuple(item["policies"])) for item in result["denials"]} for node, result in found.items()}
    assert got == wanted
    assert all(result["unreadable"] == 0 for result in found.values())
