# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The enforce steps of examples/gitops-repo's GitLab pipeline, run on the lab's nodes.

The example's cluster is on a real kube-apiserver (read with the CI variables of docs/rbac.md's
read-only identity) and built in the lab: a node per network namespace, each with its sshd, a pod
per namespace. The dry-run job and the enforce job run line for line as .gitlab-ci.yml has them,
with the inventory of the nodes from the API (inventory/cluster.k8s_nodes.yml) and the SSH key
from SSH_PRIVATE_KEY; the one addition is how the lab is reached (-e @lab.json: root, no sudo, SSH
through the lab's underlay namespace, each node's own state directory). Real packets then give
the hand-reasoned table of the example's policies, an unchanged scheduled run passes, and a
scheduled run after someone removed our jump on a node fails as drift, naming it, and repairs it.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess

import pytest
from apiserver_testing import restricted_env
from gitops_testing import copy_example, example_scenario, gitlab_lines, pipeline_env, recap, run_script

from netpol_lab import lab as lab_life
from netpol_lab.expected import parse_expected, probed_rows
from netpol_lab.netns import in_netns
from netpol_lab.prober import probe
from netpol_lab.scenario import load_scenario
from netpol_lab.topology import probed_ports

pytestmark = [pytest.mark.root, pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")]
INVENTORY = "-i inventory/cluster.k8s_nodes.yml"


@pytest.fixture(scope="module")
def lab_and_scenario(tmp_path_factory):
    path = example_scenario(tmp_path_factory.mktemp("scenario"))
    scenario = load_scenario(path)
    lab = lab_life.up(scenario, str(path), probed_ports([scenario]))
    try:
        yield lab, scenario, str(path)
    finally:
        lab_life.down(lab)


def _lab_vars(lab, directory):
    """How the controller, on this host, reaches the lab's nodes: root over SSH through the underlay
    netns (the nodes have no sudo), each node with its own state directory (they share a filesystem)."""
    proxy = "ip netns exec %s nc %%h %%p" % lab.underlay
    values = {"ansible_user": "root", "ansible_become": False,
              "ansible_ssh_common_args": '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null '
                                         '-o ProxyCommand="%s"' % proxy,
              "ansible_control_path_dir": os.path.join(lab.run_dir, "cp-gitops"),
              "lab_state_dirs": {node.name: node.state_dir for node in lab.nodes},
              "netpol_state_dir": "{{ lab_state_dirs[inventory_hostname] }}"}
    path = directory / "lab.json"
    path.write_text(json.dumps(values))
    return path


def _job(job, lab_vars):
    """A job's before_script and script, the inventory option followed by -e @lab.json."""
    lines = gitlab_lines(job, "before_script") + gitlab_lines(job)
    assert sum(INVENTORY in line for line in lines) == 1
    return [line.replace(INVENTORY, "%s -e @%s" % (INVENTORY, lab_vars)) for line in lines]


def _ours(node):
    """Our lines of a node's IPv4 filter table."""
    output = subprocess.run(in_netns(node.netns, ["iptables-save", "-t", "filter"]), capture_output=True, text=True,
                            check=True).stdout
    return [line for line in output.splitlines() if "KUBENET" in line]


def _run(job, repo, lab_vars, env):
    result = run_script(_job(job, lab_vars), repo, env)
    output = result.stdout + result.stderr
    return result.returncode, recap(output), output


def test_dry_run_then_enforce_then_drift_on_a_schedule(lab_and_scenario, server, tmp_path):
    lab, scenario, path = lab_and_scenario
    repo = copy_example(tmp_path / "repo")
    lab_vars = _lab_vars(lab, tmp_path)
    env = pipeline_env(repo, SSH_PRIVATE_KEY=os.path.join(lab.run_dir, "ssh", "id_ed25519"), **restricted_env(server))
    nodes = sorted(node.name for node in lab.nodes)

    # Merge request: the dry run shows every node's new chains and writes nothing.
    code, counts, output = _run("dry-run", repo, lab_vars, dict(env, CI_PIPELINE_SOURCE="merge_request_event"))
    assert code == 0, output
    assert all(counts[name][0] > 0 for name in nodes), counts
    assert "+:KUBENET-FORWARD" in output, "--diff shows the chains that would be written"
    assert all(_ours(node) == [] for node in lab.nodes)

    # Merged: enforce converges every node, and real packets give the hand-reasoned table.
    code, counts, output = _run("enforce", repo, lab_vars, dict(env, CI_PIPELINE_SOURCE="push"))
    assert code == 0, output
    assert all(counts[name][0] > 0 for name in nodes), counts
    assert (repo / "build" / "enforce.log").read_text() in output.replace("\r", ""), "the log the job keeps"
    expected = parse_expected(scenario.expected).table(probed_rows(scenario))
    observed = probe(lab, scenario, path)
    assert {key: observed[key] for key in ("allowed", "denied")} == expected

    # The hourly schedule with nothing changed: no drift, no change.
    code, counts, output = _run("enforce", repo, lab_vars, dict(env, CI_PIPELINE_SOURCE="schedule"))
    assert code == 0, output
    assert all(counts[name][0] == 0 for name in nodes), counts
    assert "NetworkPolicy drift" not in output

    # Someone removes our jump on node-2: the next scheduled run repairs it and fails as drift.
    tampered = lab.nodes[1]
    (jump,) = [line for line in _ours(tampered) if line.startswith("-A FORWARD")]
    subprocess.run(in_netns(tampered.netns, ["iptables", "-D"] + shlex.split(jump)[1:]), check=True)
    code, counts, output = _run("enforce", repo, lab_vars, dict(env, CI_PIPELINE_SOURCE="schedule"))
    assert code != 0, output
    assert "NetworkPolicy drift" in output
    assert counts[tampered.name][0] > 0 and counts[lab.nodes[0].name][0] == 0, counts
    assert jump in _ours(tampered), "the run put the jump back"
