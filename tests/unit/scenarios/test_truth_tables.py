# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every scenario's engine truth table equals the table reasoned by hand in its file.

The expectations in tests/scenarios were written from the Kubernetes specification
(docs/semantics.md), not from the engine's output: a mismatch is a finding, never something
to copy back into the file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from netpol_lab.expected import parse_expected, probed_rows

from ansible_collections.kubenet.netpol.plugins.module_utils.engine import explain
from netpol_lab import scenario as scenarios

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"
# Update sequences (sequences/<name>/NN-step.yaml) are scenarios too; the lab also runs each in order.
SCENARIOS = sorted(SCENARIO_DIR.glob("*.yaml")) + sorted(SCENARIO_DIR.glob("sequences/*/*.yaml"))

# What the lab can build (tests/lab): keep every scenario runnable with real packets.
LAB_LIMITS = {"namespaces": 3, "running pods per namespace": 3, "externals": 2, "nodes": 3, "probes": 3}
# The seed's section 2 names four outside addresses; its scenario keeps one external per address.
LAB_EXCEPTIONS = {"seed-2-test-network-policy": {"externals": 4}}


def _params():
    params = []
    for path in SCENARIOS:
        params.append(pytest.param(path, id=path.stem))
    return params


def _describe_differences(rows, engine, expected):
    engine_allowed = {tuple(row) for row in engine["allowed"]}
    expected_allowed = {tuple(row) for row in expected["allowed"]}
    lines = []
    for row in sorted(rows):
        if (row in engine_allowed) != (row in expected_allowed):
            lines.append("  %s -> %s %s/%s: engine %s, expected %s" % (
                row[0], row[1], row[2], row[3],
                "ALLOWS" if row in engine_allowed else "DENIES",
                "allow" if row in expected_allowed else "deny"))
    engine_rows = engine_allowed | {tuple(row) for row in engine["denied"]}
    for row in sorted(engine_rows - set(rows)):
        lines.append("  %s -> %s %s/%s: engine has a row the scenario does not probe" % row)
    for row in sorted(set(rows) - engine_rows):
        lines.append("  %s -> %s %s/%s: engine has no verdict for a probed row" % row)
    return "\n".join(lines)


def test_there_are_enough_scenarios():
    assert len(SCENARIOS) >= 45


@pytest.mark.parametrize("path", _params())
def test_engine_truth_table_matches_hand_reasoned_expectation(path):
    scenario = scenarios.load_scenario(path)
    expectation = parse_expected(scenario.expected)
    rows = probed_rows(scenario)
    assert rows, "the scenario probes no row"
    unused = expectation.unused_lines(rows)
    assert not unused, "except lines that match no probed row (typo?): %s" % unused
    want = expectation.table(rows)
    engine = explain.truth_table(explain.ClusterVerdicts(scenario.cluster, scenario.policies),
                                 scenarios.scenario_endpoints(scenario), scenario.probes, scenario.name)
    differences = _describe_differences(rows, engine, want)
    assert not differences, "%s: engine and expectation differ:\n%s" % (path.name, differences)
    assert engine == dict(want, scenario=scenario.name)


@pytest.mark.parametrize("path", SCENARIOS, ids=[path.stem for path in SCENARIOS])
def test_scenario_is_documented_and_fits_the_lab(path):
    scenario = scenarios.load_scenario(path)
    description = yaml.safe_load(path.read_text()).get("description")
    assert isinstance(description, str) and description.strip(), "every scenario says what rule it tests"
    running = [pod for pod in scenario.cluster.pods if pod.ips and pod.phase not in ("Succeeded", "Failed")]
    per_namespace = {}
    for pod in running:
        per_namespace[pod.namespace] = per_namespace.get(pod.namespace, 0) + 1
    sizes = {
        "namespaces": len(scenario.cluster.namespaces),
        "running pods per namespace": max(per_namespace.values(), default=0),
        "externals": len(scenario.externals),
        "nodes": len(scenario.cluster.nodes),
        "probes": len(scenario.probes),
    }
    limits = dict(LAB_LIMITS, **LAB_EXCEPTIONS.get(path.stem, {}))
    too_big = {what: size for what, size in sizes.items() if size > limits[what]}
    assert not too_big, "larger than the lab allows %s: %s" % (limits, too_big)
    # A row names protocol and port but not the IP family: two probes that differ only
    # in family would give two verdicts to one row.
    probe_keys = [(probe.protocol, probe.port) for probe in scenario.probes]
    assert len(set(probe_keys)) == len(probe_keys), "probes must differ in protocol or port"
