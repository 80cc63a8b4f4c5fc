# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""report.md and diff.md: the report's data as Markdown, short enough to paste into a merge request.

Long lists are cut at a fixed number of rows, each cut saying how many more rows the JSON holds.
"""

from __future__ import annotations

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.diff import NEWLY_ALLOWED, NEWLY_DENIED
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.reasons import NOT_ISOLATED

MAX_GRID_WORKLOADS = 25  # beyond this a grid is too wide to read: each source gets a line instead
MAX_ROWS = 30  # rows of each list (decided-by cells, lint, diff sections)
MAX_NAMES = 8  # workloads named per verdict in a source's line, when the matrix is too wide for a grid
SYMBOLS = {"allowed": "✓", "denied": "✗", "partial": "◐"}
LEGEND = "✓ allowed · ✗ denied · ◐ partial (some pod pairs or ports allowed, some not) · blank: no pair of pods"


def cell_text(text):
    """Text safe inside a table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _located(reason):
    """A reason with the file and line of its rule, when known."""
    where = []
    for item in [reason] + reason.get("locations", []):
        if item.get("file") and item.get("line") is not None:
            where.append("%s:%d" % (item["file"], item["line"]))
    return reason["text"] + (" (%s)" % ", ".join(where) if where else "")


def reasons_text(reasons):
    return "; ".join(_located(reason) for reason in reasons) or "—"


def _cut(rows, total, json_name):
    """The rows, and a line saying how many more the JSON holds when total is above MAX_ROWS."""
    if total > MAX_ROWS:
        return rows + ["", "_… and %d more in %s._" % (total - MAX_ROWS, json_name)]
    return rows


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(cell_text(value) for value in row) + " |" for row in rows)
    return lines


def _grid(workloads, cells):
    ids = [workload["id"] for workload in workloads]
    verdicts = {(cell["from"], cell["to"]): SYMBOLS[cell["verdict"]] for cell in cells}
    return _table(["from \\ to"] + ids, [[source] + [verdicts.get((source, destination), "") for destination in ids]
                                         for source in ids])


def _by_source(workloads, cells):
    by_source = {}
    for cell in cells:
        by_source.setdefault(cell["from"], []).append(cell)
    lines = []
    for workload in workloads:
        mine = by_source.get(workload["id"], [])
        parts = []
        for verdict in ("allowed", "partial", "denied"):
            targets = [cell["to"] for cell in mine if cell["verdict"] == verdict]
            if len(targets) > MAX_NAMES:
                parts.append("%s %s and %d more" % (verdict, ", ".join(targets[:MAX_NAMES]), len(targets) - MAX_NAMES))
            elif targets:
                parts.append("%s %s" % (verdict, ", ".join(targets)))
        lines.append("- **%s** → %s" % (workload["id"], "; ".join(parts) or "no pair"))
    return lines


def _decided(cells, reasons, json_name):
    """The cells some policy decides (not those where neither end is isolated), with their reasons."""
    decided = [cell for cell in cells
               if any(reasons[index]["kind"] != NOT_ISOLATED for index in cell["allowed_by"] + cell["denied_by"])]
    rows = []
    for cell in decided[:MAX_ROWS]:
        parts = []
        if cell["allowed_by"]:
            parts.append("allowed: " + reasons_text([reasons[index] for index in cell["allowed_by"]]))
        if cell["denied_by"]:
            parts.append("denied: " + reasons_text([reasons[index] for index in cell["denied_by"]]))
        rows.append("- %s → %s: **%s** (%d/%d pod pairs allowed) — %s" % (
            cell["from"], cell["to"], cell["verdict"], cell["allowed_pairs"], cell["pairs"], "; ".join(parts)))
    return _cut(rows, len(decided), json_name)


def render_report(report):
    """report.md: the matrices, then lint and expectations."""
    summary = report["summary"]
    workloads = report["workloads"]
    lines = ["# NetworkPolicy connectivity report", ""]
    lines.extend("- " + line for line in summary["lines"])
    lines.extend(["", LEGEND])
    for matrix in report["matrices"]:
        lines.extend(["", "## %s" % ", ".join(matrix["ports"]), ""])
        lines.extend(_grid(workloads, matrix["cells"]) if len(workloads) <= MAX_GRID_WORKLOADS else _by_source(workloads, matrix["cells"]))
        lines.extend(["", "Decided by policies:", ""])
        lines.extend(_decided(matrix["cells"], report["reasons"], "report.json") or ["- no policy isolates any of these pods"])
    lines.extend(["", "## Lint (%d)" % len(report["lint"]), ""])
    rows = ["- `%s` %s" % (finding["check"], finding["text"]) for finding in report["lint"][:MAX_ROWS]]
    lines.extend(_cut(rows, len(report["lint"]), "report.json") or ["- nothing to report"])
    if report["expectations"]:
        violated = [result for result in report["expectations"] if not result["passed"]]
        lines.extend(["", "## Expectations (%d checked, %d violated)" % (len(report["expectations"]), len(violated)), ""])
        for result in report["expectations"]:
            mark = SYMBOLS["allowed"] if result["passed"] else SYMBOLS["denied"]
            ports = ", ".join(result["ports"])
            lines.append("- %s **%s**: %s → %s, %s: expect %s" % (mark, result["name"], result["from"], result["to"], ports, result["expect"]))
            if result["problem"]:
                lines.append("  - %s" % result["problem"])
            for violation in result["violations"]:
                why = "; ".join(violation["example"]["reasons"])
                ports = ", ".join(violation["ports"])
                lines.append("  - %s → %s %s (%d pod pairs): %s" % (violation["from"], violation["to"], ports, violation["pairs"], why))
    return "\n".join(lines) + "\n"


def ports_text(ports):
    return "every port" if ports == ["TCP", "UDP", "SCTP"] else ", ".join(ports)


def _changes(changes, change, json_name):
    found = [item for item in changes if item["change"] == change]
    if not found:
        return []
    rows = _table(["from", "to", "ports", "pod pairs", "now", "before"],
                  [[item["from"], item["to"], ports_text(item["ports"]), item["pairs"], reasons_text(item["now"]),
                    reasons_text(item["before"])] for item in found[:MAX_ROWS]])
    return ["", "### %s (%d)" % (change.capitalize(), len(found)), ""] + _cut(rows, len(found), json_name)


def render_diff(diff):
    """diff.md: the newly denied and newly allowed connections, for a merge-request comment."""
    summary = diff["summary"]
    lines = ["## NetworkPolicy change: effect on connectivity", ""]
    if not diff["changes"]:
        lines.append("No connection between running pods changes.")
        return "\n".join(lines) + "\n"
    lines.append("**%d newly denied** (%d pod pairs), **%d newly allowed** (%d pod pairs), by workload pair and ports."
                 % (summary["newly_denied"], summary["pairs_newly_denied"], summary["newly_allowed"], summary["pairs_newly_allowed"]))
    lines.extend(_changes(diff["changes"], NEWLY_DENIED, "diff.json"))
    lines.extend(_changes(diff["changes"], NEWLY_ALLOWED, "diff.json"))
    return "\n".join(lines) + "\n"
