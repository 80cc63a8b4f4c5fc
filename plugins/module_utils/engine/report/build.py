# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A whole report from loaded inputs: workloads, matrices, lint, expectations and, with a baseline,
the diff, as plain JSON-able data (report.json and diff.json are exactly these), from which the
Markdown and HTML renderings are made."""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.connections import Judged
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.diff import NEWLY_ALLOWED, NEWLY_DENIED, policy_diff
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.expectations import check_expectations
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.lint import lint
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.matrix import ALLOWED, DENIED, PARTIAL, workload_matrices
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.reasons import ReasonTable
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.regions import outside_endpoints
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.workloads import group_workloads

REPORT_FORMAT = 1


@dataclass(frozen=True)
class Outcome:
    """report and diff (None without a baseline) as data; results: the expectations' Results; findings: lint's."""

    report: dict
    diff: dict | None
    results: tuple
    findings: tuple

    @property
    def violated(self):
        return [result for result in self.results if not result.passed]


def _counts(cells):
    counts = {ALLOWED: 0, DENIED: 0, PARTIAL: 0}
    for cell in cells:
        counts[cell["verdict"]] += 1
    return counts


def summary_lines(report, diff):
    """A few lines for a person: what was analysed, and what needs a look."""
    summary = report["summary"]
    lines = ["%d workloads (%d running pods) in %d namespaces, %d policies"
             % (summary["workloads"], summary["pods"], summary["namespaces"], summary["policies"])]
    for matrix in report["matrices"]:
        counts = _counts(matrix["cells"])
        lines.append("%s: %d allowed, %d partial, %d denied workload pairs"
                     % (", ".join(matrix["ports"]), counts[ALLOWED], counts[PARTIAL], counts[DENIED]))
    lines.append("lint: %d finding(s)" % summary["lint"])
    if summary["expectations"]["checked"]:
        lines.append("expectations: %d checked, %d violated" % (summary["expectations"]["checked"], summary["expectations"]["violated"]))
    if diff is not None:
        lines.append("diff against the baseline: %d newly denied, %d newly allowed (workload pairs and ports)"
                     % (diff["summary"]["newly_denied"], diff["summary"]["newly_allowed"]))
    return lines


def build_report(cluster, policies, owners, locations, port_sets=None, expectations=(), baseline=None):
    """The Outcome of a run. owners: {pod key: Owner}; locations: PolicyLocations of the policies;
    port_sets: lists of PortRanges, one matrix each (None: the ports the policies tell apart);
    baseline: (policies, PolicyLocations) of the other policy set, for the diff."""
    workloads = group_workloads(cluster, owners)
    endpoints = [endpoint for workload in workloads for endpoint in workload.endpoints]
    judged = Judged(cluster, policies, endpoints)
    matrices = workload_matrices(judged, workloads, port_sets)
    reasons = ReasonTable(locations)
    findings = tuple(lint(cluster, policies, locations, endpoints + outside_endpoints(cluster, policies)))
    results = tuple(check_expectations(judged, workloads, cluster.namespaces, expectations))
    report = {
        "format": REPORT_FORMAT,
        "summary": {"namespaces": len({workload.namespace for workload in workloads}), "workloads": len(workloads),
                    "pods": len(endpoints), "policies": len(judged.policies), "port_sets": len(matrices), "lint": len(findings),
                    "expectations": {"checked": len(results), "violated": sum(1 for result in results if not result.passed)}},
        "workloads": [workload.to_dict() for workload in workloads],
        "matrices": [matrix.to_dict(reasons) for matrix in matrices],
        "reasons": reasons.dicts,
        "lint": [finding.to_dict() for finding in findings],
        "expectations": [result.to_dict() for result in results],
    }
    diff = None
    if baseline is not None:
        baseline_policies, baseline_locations = baseline
        changes = policy_diff(judged, Judged(cluster, baseline_policies, endpoints), workloads)
        diff = {"format": REPORT_FORMAT,
                "summary": {"newly_denied": sum(1 for change in changes if change.change == NEWLY_DENIED),
                            "newly_allowed": sum(1 for change in changes if change.change == NEWLY_ALLOWED),
                            "pairs_newly_denied": sum(change.pairs for change in changes if change.change == NEWLY_DENIED),
                            "pairs_newly_allowed": sum(change.pairs for change in changes if change.change == NEWLY_ALLOWED)},
                "changes": [change.to_dict(locations, baseline_locations) for change in changes]}
    report["summary"]["lines"] = summary_lines(report, diff)
    return Outcome(report, diff, results, findings)
