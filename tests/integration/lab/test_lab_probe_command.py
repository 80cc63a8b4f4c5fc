# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`netpol-lab probe`: one lab for several scenarios, rebuilt only when the topology changes, always torn down."""

from __future__ import annotations

import filecmp
import io
import json
import os
import re

import pytest
import yaml
from lab_testing import assert_gone, every_pair, netpol_lab, raw_scenario, scenario_path

from netpol_lab.scenario import load_scenario
from netpol_lab.session import probe_scenarios

pytestmark = [pytest.mark.root, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]


def relabelled(tmp_path):
    """three-nodes.yaml with other labels and a policy: the same topology, so the same lab."""
    raw = raw_scenario(scenario_path("three-nodes.yaml"))
    for spec in raw["pods"].values():
        spec["labels"] = {"relabelled": "yes"}
    raw["policies"] = [{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                        "metadata": {"name": "deny-all", "namespace": "x"},
                        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}]
    path = tmp_path / "relabelled.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return str(path)


def runs_in(stderr, word):
    return re.findall(r"lab (npl[0-9a-f]{4}) %s" % word, stderr)


def test_probe_of_several_scenarios_prints_a_list_and_rebuilds_only_for_a_new_topology(tmp_path):
    paths = [scenario_path("three-nodes.yaml"), relabelled(tmp_path), scenario_path("dual-stack.yaml")]
    result = netpol_lab("probe", *paths, "--no-enforce")
    assert result.returncode == 0, result.stderr
    tables = json.loads(result.stdout)
    assert [table["scenario"] for table in tables] == paths
    for path, table in zip(paths, tables):
        # Nothing is enforced (--no-enforce): even the relabelled scenario's deny-all is not in force.
        assert table["denied"] == []
        assert table["allowed"] == every_pair(raw_scenario(path), ("TCP", "UDP"))
    assert tables[2]["unprobed"] == every_pair(raw_scenario(paths[2]), ("SCTP",))
    started, stopped = runs_in(result.stderr, "up"), runs_in(result.stderr, "down")
    assert len(started) == 2, result.stderr  # the relabelled scenario reuses the first lab
    assert stopped == started
    for run in started:
        assert_gone(run, os.path.join("/tmp/netpol-lab", run))


def test_probe_of_one_scenario_prints_one_table():
    path = scenario_path("dual-stack.yaml")
    result = netpol_lab("probe", path, "--no-enforce")
    assert result.returncode == 0, result.stderr
    table = json.loads(result.stdout)
    assert table["scenario"] == path and table["denied"] == []


def test_the_enforce_hook_sees_the_current_scenario_and_an_interrupt_still_tears_down():
    seen = []

    def interrupted(lab):
        assert filecmp.cmp(lab.current_scenario, scenario_path("dual-stack.yaml"), shallow=False)
        with open(lab.current_snapshot, encoding="utf-8") as handle:
            pods = [item for item in json.load(handle)["items"] if item["kind"] == "Pod"]
        assert len(pods) == len(load_scenario(scenario_path("dual-stack.yaml")).cluster.pods)
        seen.append((lab.run, lab.run_dir, os.path.exists(lab.inventory)))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        probe_scenarios([scenario_path("dual-stack.yaml")], interrupted, log=io.StringIO())
    (run, run_dir, had_inventory), = seen
    assert had_inventory
    assert_gone(run, run_dir)


def test_an_invalid_scenario_stops_the_probe_before_any_lab_exists(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("nodes: [node-1]\nprobes: []\n", encoding="utf-8")
    result = netpol_lab("probe", scenario_path("dual-stack.yaml"), str(broken), "--no-enforce")
    assert result.returncode == 2
    assert "at least one probe" in result.stderr
    assert runs_in(result.stderr, "up") == []
