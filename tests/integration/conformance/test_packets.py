# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Conformance by packets: probe == truth == the hand-written expectation, for every scenario.

One lab session runs every scenario of tests/scenarios in order (update sequences step by
step in one lab, so each step is an update of the previous one): the real enforce playbook
converges every lab node over SSH, then real TCP and UDP packets are sent between every
pair. SCTP has no sockets on this kernel, so SCTP is checked at the rule level.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.kubenet.netpol.plugins.module_utils.engine import explain
from netpol_lab import scenario as scenarios
from netpol_lab.enforce import run_playbook
from netpol_lab.expected import parse_expected, probed_rows
from netpol_lab.netns import in_netns
from netpol_lab.session import probe_scenarios

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (CI runs as root)")

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"
SINGLE = sorted(SCENARIO_DIR.glob("*.yaml"))
SEQUENCES = {path.name: sorted(path.glob("*.yaml")) for path in sorted((SCENARIO_DIR / "sequences").iterdir())}
ALL = SINGLE + [step for steps in SEQUENCES.values() for step in steps]


def _node_state(lab):
    """Each node's filter table and ipsets, as the node's own tools print them."""
    state = {}
    for node in lab.nodes:
        text = []
        for argv in (["iptables-save", "-t", "filter"], ["ip6tables-save", "-t", "filter"], ["ipset", "save"]):
            text.append(subprocess.run(in_netns(node.netns, argv), capture_output=True, text=True,
                                       check=True).stdout)
        state[node.name] = "\n".join(text)
    return state


@pytest.fixture(scope="session")
def observed():
    """{scenario path: (probe table, {node: netfilter state after converge})}, from one lab session."""
    states = []

    def enforce_and_record(lab):
        changed, _output = run_playbook(lab)
        states.append(_node_state(lab))
        return changed

    tables = probe_scenarios([str(path) for path in ALL], enforce=enforce_and_record, log=sys.stderr)
    return {path: (table, state) for path, table, state in zip(ALL, tables, states)}


def _verdicts(table):
    verdicts = {tuple(row): True for row in table["allowed"]}
    verdicts.update({tuple(row): False for row in table["denied"]})
    return verdicts


@pytest.mark.parametrize("path", ALL, ids=[str(path.relative_to(SCENARIO_DIR)) for path in ALL])
def test_probe_equals_truth_equals_expectation(observed, path):
    scenario = scenarios.load_scenario(path)
    rows = probed_rows(scenario)
    want = _verdicts(parse_expected(scenario.expected).table(rows))
    truth = _verdicts(explain.truth_table(explain.ClusterVerdicts(scenario.cluster, scenario.policies),
                                          scenarios.scenario_endpoints(scenario), scenario.probes, scenario.name))
    table, _state = observed[path]
    seen = _verdicts(table)
    unprobed = {tuple(row) for row in table.get("unprobed", ())}
    assert truth == want, "engine and expectation differ"
    assert set(seen) | unprobed == set(rows), "the lab probed other rows than the scenario defines"
    assert all(row[2] == "SCTP" for row in unprobed), "only SCTP may go unprobed"
    wrong = ["%s -> %s %s/%s: packets %s, expected %s" % (row + ("ALLOWED" if seen[row] else "DENIED",
                                                                 "allow" if want[row] else "deny"))
             for row in sorted(seen) if seen[row] != want[row]]
    assert not wrong, "real packets disagree with the specification:\n" + "\n".join(wrong)
    assert set(table.get("converge", {})) == {node.name for node in scenario.cluster.nodes}


def test_sctp_ports_are_enforced_at_rule_level(observed):
    """No SCTP sockets here: the policy's SCTP port must at least be in the node's rules."""
    path = SCENARIO_DIR / "ports-sctp.yaml"
    scenario = scenarios.load_scenario(path)
    ports = {spec.port for policy in scenario.policies for direction in ("Ingress", "Egress")
             for rule in policy.rules(direction) for spec in rule.ports or () if spec.protocol == "SCTP"}
    assert ports, "the scenario must have an SCTP port in a policy"
    rules = "\n".join(observed[path][1].values())
    for port in ports:
        assert "-p sctp -m sctp --dport %d" % port in rules or "--dports %d" % port in rules


@pytest.mark.parametrize("sequence", sorted(SEQUENCES))
def test_deleting_the_last_policy_removes_every_policy_chain_and_set(observed, sequence):
    """The last step of every sequence deletes its policy: no policy chain or peer set may remain."""
    last = SEQUENCES[sequence][-1]
    assert not scenarios.load_scenario(last).policies
    for node, state in observed[last][1].items():
        leftovers = [line for line in state.splitlines()
                     if line.startswith((":KUBENET-PI", ":KUBENET-PE", ":KUBENET-I-", ":KUBENET-E-"))
                     or line.startswith(("create KUBENET-P", "create KUBENET-N", "create KUBENET-T"))]
        assert not leftovers, "%s keeps stale state after the policy was deleted: %s" % (node, leftovers)
