# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""converge_summary: one line for a node's netpol_chains result; run_summary: the whole run's summary."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def converge_summary(result):
    """'changed: 3 pods isolated, 9 chains, 31 rules, 42 set members' (or 'no change: ...')."""
    try:
        counts = result["counts"]
        return "%s: %d pods isolated, %d chains, %d rules, %d set members" % (
            "changed" if result["changed"] else "no change", result["pods_isolated"], counts["chains"], counts["rules"],
            counts["members"])
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError("converge_summary: not a result of kubenet.netpol.netpol_chains (%s)" % exc) from None


def run_summary(results):
    """The run's summary from {node: its registered netpol_chains result, or None}: a node converged
    when its result has the counts; any other node failed or was unreachable."""
    if not isinstance(results, Mapping):
        raise AnsibleFilterError("run_summary: expected {node: result}, got %s" % type(results).__name__)
    done = {node: result for node, result in results.items() if isinstance(result, Mapping) and "counts" in result}
    return {"nodes": len(results), "converged": len(done),
            "changed": len([result for result in done.values() if result.get("changed")]),
            "failed_or_unreachable": [node for node in results if node not in done],
            "per_node": {node: converge_summary(result) for node, result in done.items()}}


class FilterModule:
    def filters(self):
        return {"converge_summary": converge_summary, "run_summary": run_summary}
