# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The GitOps flow on the lab with live facts: a Git repository of manifests and a real API server.

The lab's cluster is written to a real kube-apiserver; the policies live in a Git repository; the
real enforce playbook reads the facts from the API and converges the lab's nodes over SSH; real
packets then agree with the engine. A manifest changed in Git changes only the nodes it concerns, an
unchanged rerun changes nothing, and a failure to read the API stops the run before any node.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.analysis import class_matrix, truth_table
from netpol_lab import lab as lab_life
from netpol_lab.apiserver import populate
from netpol_lab.enforce import PLAYBOOK, RECAP, ansible_environment
from netpol_lab.prober import probe
from netpol_lab.scenario import load_scenario, scenario_endpoints
from netpol_lab.topology import probed_ports

pytestmark = [pytest.mark.root, pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCENARIO = os.path.join(ROOT, "tests", "integration", "lab", "scenarios", "three-nodes-policies.yaml")


def git(repository, *args):
    subprocess.run(["git", "-C", str(repository), "-c", "user.name=ci", "-c", "user.email=ci@example.invalid"] + list(args),
                   check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def lab_and_scenario():
    scenario = load_scenario(SCENARIO)
    lab = lab_life.up(scenario, SCENARIO, probed_ports([scenario]))
    try:
        lab_life.set_scenario(lab, SCENARIO)
        yield lab, scenario
    finally:
        lab_life.down(lab)


@pytest.fixture(scope="module")
def repository(tmp_path_factory, lab_and_scenario, server):
    """A Git repository of the scenario's policies, one file each under policies/<namespace>/; the
    cluster (without its policies: Git is the source of truth) written to the API server."""
    _lab, scenario = lab_and_scenario
    populate(server.client(), scenario.cluster)
    repository = tmp_path_factory.mktemp("gitops")
    git(repository, "init", "-q")
    for manifest in scenario.manifests:
        folder = repository / "policies" / manifest["metadata"]["namespace"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ("%s.json" % manifest["metadata"]["name"])).write_text(json.dumps(manifest, indent=1))
    git(repository, "add", "-A")
    git(repository, "commit", "-q", "-m", "policies")
    return repository


def enforce(lab, server, repository, **overrides):
    """The real enforce playbook from this host (the controller reaches the API server here; SSH to the
    nodes goes through the lab's underlay namespace): (exit code, {node: changed}, output)."""
    extra = {"netpol_facts_source": "api", "netpol_k8s_host": server.url, "netpol_k8s_api_key": server.admin_token,
             "netpol_k8s_ca_cert": server.ca, "netpol_policy_paths": [str(repository / "policies")],
             "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                                        "-o ProxyCommand=\"ip netns exec %s nc %%h %%p\"" % lab.underlay}
    extra.update(overrides)
    result = subprocess.run(["ansible-playbook", "-i", lab.inventory, PLAYBOOK, "-e", json.dumps(extra)],
                            env=ansible_environment(lab), capture_output=True, text=True, check=False, timeout=600)
    output = result.stdout + result.stderr
    recap = {host: int(changed) for host, changed, _unreachable, _failed in RECAP.findall(output)}
    return result.returncode, {node.name: recap.get(node.name, 0) > 0 for node in lab.nodes}, output


def test_git_manifests_and_live_facts_are_enforced_with_packets_then_only_what_changed_changes(
        lab_and_scenario, repository, server):
    lab, scenario = lab_and_scenario
    code, changed, output = enforce(lab, server, repository)
    assert code == 0, output
    assert all(changed.values()), changed
    endpoints = scenario_endpoints(scenario)
    engine = truth_table(class_matrix(scenario.cluster, scenario.policies, endpoints), endpoints, scenario.probes, "x")
    observed = probe(lab, scenario, SCENARIO)
    probed = {tuple(row) for row in observed["allowed"] + observed["denied"]}
    assert {tuple(row) for row in observed["allowed"]} == {tuple(row) for row in engine["allowed"]} & probed
    assert engine["denied"], "the scenario must deny something for the packets to show enforcement"

    code, changed, output = enforce(lab, server, repository)
    assert code == 0 and not any(changed.values()), changed

    # A policy added in Git for z/c alone (on node-3): only node-3's slice changes.
    added = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": {"name": "c-egress-dns-only", "namespace": "z"},
             "spec": {"podSelector": {"matchLabels": {"pod": "c"}}, "policyTypes": ["Egress"],
                      "egress": [{"ports": [{"protocol": "UDP", "port": 53}]}]}}
    (repository / "policies" / "z" / "c-egress-dns-only.json").write_text(json.dumps(added))
    git(repository, "add", "-A")
    git(repository, "commit", "-q", "-m", "z/c: egress to DNS only")
    affected = {pod.node for pod in scenario.cluster.pods if pod.namespace == "z" and dict(pod.labels) == {"pod": "c"}}
    assert affected == {"node-3"}
    code, changed, output = enforce(lab, server, repository)
    assert code == 0, output
    assert {name for name, flag in changed.items() if flag} == affected

    # Deleted from Git, it stops being enforced: node-3 changes back, the others do not move.
    os.remove(repository / "policies" / "z" / "c-egress-dns-only.json")
    git(repository, "commit", "-q", "-a", "-m", "drop it again")
    code, changed, output = enforce(lab, server, repository)
    assert code == 0 and {name for name, flag in changed.items() if flag} == affected, changed


@pytest.mark.parametrize("overrides, message", [
    ({"netpol_k8s_api_key": "not-a-token"}, "HTTP 401"),
    ({"netpol_k8s_host": "https://127.0.0.1:1"}, "listing namespaces failed"),
])
def test_an_unreadable_api_stops_the_run_before_any_node(lab_and_scenario, repository, server, overrides, message):
    lab, _scenario = lab_and_scenario
    code, changed, output = enforce(lab, server, repository, **overrides)
    assert code != 0 and message in output, output
    assert not any(changed.values())
    assert "Converge this node" not in output, "no node task may run after the resolve step failed"
