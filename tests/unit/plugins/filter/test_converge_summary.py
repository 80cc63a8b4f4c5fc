# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""converge_summary: one line per node; run_summary: the run's summary from every node's result."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.kubenet.netpol.plugins.filter.converge_summary import converge_summary, run_summary


def test_a_result_becomes_one_line():
    result = {"changed": True, "pods_isolated": 3, "counts": {"chains": 9, "rules": 31, "sets": 7, "members": 42}}
    assert converge_summary(result) == "changed: 3 pods isolated, 9 chains, 31 rules, 42 set members"
    assert converge_summary(dict(result, changed=False)).startswith("no change: ")


def test_anything_else_is_a_clear_error():
    with pytest.raises(AnsibleFilterError, match="not a result of kubenet.netpol.netpol_chains"):
        converge_summary({"changed": True})


def test_the_run_summary_counts_converged_changed_and_names_the_others():
    converged = {"changed": False, "pods_isolated": 1, "counts": {"chains": 3, "rules": 5, "sets": 1, "members": 2}}
    results = {
        "node-1": dict(converged, changed=True),
        "node-2": converged,
        "node-3": {"failed": True, "msg": "iptables-restore: line 4 failed"},
        "node-4": {"unreachable": True, "msg": "ssh: connect to host 192.0.2.4 port 22: Connection timed out"},
        "node-5": None,  # the play never reached it (for example a batch stopped by max_fail_percentage)
    }
    assert run_summary(results) == {
        "nodes": 5, "converged": 2, "changed": 1,
        "failed_or_unreachable": ["node-3", "node-4", "node-5"],
        "per_node": {"node-1": "changed: 1 pods isolated, 3 chains, 5 rules, 2 set members",
                     "node-2": "no change: 1 pods isolated, 3 chains, 5 rules, 2 set members"},
    }


def test_a_run_summary_needs_results_by_node():
    assert run_summary({}) == {"nodes": 0, "converged": 0, "changed": 0, "failed_or_unreachable": [], "per_node": {}}
    with pytest.raises(AnsibleFilterError, match="expected {node: result}"):
        run_summary([{"changed": True}])
