# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""report.html: one self-contained page (inline CSS, SVG and a little plain JavaScript, nothing
fetched) with a heatmap per matrix that a person reads at a glance: rows are sources, columns
destinations, the colour the verdict, and each cell's tooltip (its SVG title) what decides it.
Two select boxes filter rows and columns by namespace; the page's address keeps the choice
(report.html#from=shop&to=default), so a filtered view can be linked.

Templated with Jinja2, autoescaped: every name and reason is text, never markup.
"""

from __future__ import annotations

try:
    import jinja2
except ImportError:  # pragma: no cover - the module reports it (Jinja2 ships with ansible-core)
    jinja2 = None

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.markdown import ports_text, reasons_text

CELL = 22  # px, one heatmap cell
CHARACTER = 7.3  # px, width of one character of the 12px monospace labels
MARGIN = 12
NO_PAIR = "none"
MAX_CELLS = 200000  # drawn in all; beyond it a page is too large to open (about half a kilobyte a cell)

PAGE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>NetworkPolicy connectivity report</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1.5rem; color: #1d2125; background: #fff; }
h1 { font-size: 1.5rem; margin: 0 0 .5rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
ul.summary { margin: 0 0 1rem; padding-left: 1.2rem; }
.filters { display: flex; flex-wrap: wrap; gap: .6rem 1.5rem; align-items: center; margin: .75rem 0; padding: .6rem .8rem;
  background: #f4f6f8; border-radius: 6px; }
.filters label, .legend > span { white-space: nowrap; }
.filters select { font-size: .95rem; margin-left: .4rem; }
.legend { display: flex; flex-wrap: wrap; gap: .4rem 1.2rem; font-size: .9rem; }
.matrices { display: flex; flex-wrap: wrap; gap: 0 3rem; align-items: flex-start; }
.swatch { display: inline-block; width: 14px; height: 14px; border-radius: 2px; vertical-align: -2px; margin-right: .3rem; border: 1px solid #0002; }
.scroll { overflow-x: auto; }
svg.heatmap { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; }
svg.heatmap text { fill: #1d2125; }
rect.cell { stroke: #fff; stroke-width: 1; }
rect.cell:hover { stroke: #1d2125; stroke-width: 2; }
.allowed { fill: #1a9850; background: #1a9850; }
.denied { fill: #d73027; background: #d73027; }
.partial { fill: #fdae61; background: #fdae61; }
.none { fill: #eceff1; background: #eceff1; }
table { border-collapse: collapse; font-size: .9rem; margin: .5rem 0; }
th, td { border: 1px solid #d0d7de; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f4f6f8; }
.left-out { color: #57606a; }
.passed, .allowed-text { color: #1a7f37; font-weight: 600; }
.violated, .denied-text { color: #cf222e; font-weight: 600; }
code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .85rem; }
</style>
</head>
<body>
<h1>NetworkPolicy connectivity report</h1>
<ul class="summary">
{%- for line in report.summary.lines %}
<li>{{ line }}</li>
{%- endfor %}
</ul>
<form class="filters" onsubmit="return false">
<label>From namespace<select id="from-namespace">
<option value="">all namespaces</option>
{%- for namespace in namespaces %}
<option value="{{ namespace }}">{{ namespace }}</option>
{%- endfor %}
</select></label>
<label>To namespace<select id="to-namespace">
<option value="">all namespaces</option>
{%- for namespace in namespaces %}
<option value="{{ namespace }}">{{ namespace }}</option>
{%- endfor %}
</select></label>
<span class="legend">
<span><span class="swatch allowed"></span>allowed</span>
<span><span class="swatch partial"></span>partial (some pod pairs or ports)</span>
<span><span class="swatch denied"></span>denied</span>
<span><span class="swatch none"></span>no pair of pods</span>
</span>
</form>
<div class="matrices">
{%- for heatmap in heatmaps %}
<section class="matrix">
<h2>{{ heatmap.title }}</h2>
<div class="scroll">
{% include "heatmap.svg.j2" %}
</div>
</section>
{%- endfor %}
</div>
{%- if left_out %}
<p class="left-out">{{ left_out | length }} more port set(s) not drawn, to keep this page small enough to open:
{{ left_out | join('; ') }}. Their cells are in report.json; the ports option draws the ones you name.</p>
{%- endif %}
{%- if diff is not none %}
<section id="diff">
<h2>Change against the baseline: {{ diff.summary.newly_denied }} newly denied, {{ diff.summary.newly_allowed }} newly allowed</h2>
{%- if diff.changes %}
<table>
<tr><th>change</th><th>from</th><th>to</th><th>ports</th><th>pod pairs</th><th>now</th><th>before</th></tr>
{%- for change in diff.changes %}
<tr class="change"><td class="{{ 'denied-text' if change.change == 'newly denied' else 'allowed-text' }}">{{ change.change }}</td>
<td>{{ change['from'] }}</td><td>{{ change.to }}</td><td>{{ ports_text(change.ports) }}</td><td>{{ change.pairs }}</td>
<td>{{ reasons_text(change.now) }}</td><td>{{ reasons_text(change.before) }}</td></tr>
{%- endfor %}
</table>
{%- else %}
<p>No connection between running pods changes.</p>
{%- endif %}
</section>
{%- endif %}
{%- if report.expectations %}
<section id="expectations">
<h2>Expectations</h2>
<table>
<tr><th>result</th><th>name</th><th>from</th><th>to</th><th>ports</th><th>expect</th><th>violations</th></tr>
{%- for result in report.expectations %}
<tr class="expectation"><td class="{{ 'passed' if result.passed else 'violated' }}">{{ 'passed' if result.passed else 'violated' }}</td>
<td>{{ result.name }}</td><td>{{ result['from'] }}</td><td>{{ result.to }}</td><td>{{ ', '.join(result.ports) }}</td><td>{{ result.expect }}</td>
<td>{{ result.problem }}{% for violation in result.violations %}<div>{{ violation['from'] }} → {{ violation.to }} {{ ', '.join(violation.ports) }}
({{ violation.pairs }} pod pairs): {{ '; '.join(violation.example.reasons) }}</div>{% endfor %}</td></tr>
{%- endfor %}
</table>
</section>
{%- endif %}
<section id="lint">
<h2>Lint ({{ report.lint | length }})</h2>
{%- if report.lint %}
<table>
<tr><th>check</th><th>where</th><th>policy</th><th>field</th><th>finding</th></tr>
{%- for finding in report.lint %}
<tr class="finding"><td><code>{{ finding.check }}</code></td><td>{{ finding.file }}{% if finding.line is not none %}:{{ finding.line }}{% endif %}</td>
<td>{{ finding.policy }}</td><td><code>{{ finding.field }}</code></td><td>{{ finding.message }}</td></tr>
{%- endfor %}
</table>
{%- else %}
<p>Nothing to report.</p>
{%- endif %}
</section>
<script>
(function () {
  "use strict";
  var from = document.getElementById("from-namespace");
  var to = document.getElementById("to-namespace");
  function each(nodes, action) { Array.prototype.forEach.call(nodes, action); }
  function layout(svg) {
    var left = Number(svg.getAttribute("data-left"));
    var top = Number(svg.getAttribute("data-top"));
    var size = Number(svg.getAttribute("data-cell"));
    var columnX = {};
    var columns = 0;
    var rows = 0;
    each(svg.querySelectorAll("text.col-label"), function (label) {
      var shown = !to.value || label.getAttribute("data-namespace") === to.value;
      label.style.display = shown ? "" : "none";
      if (shown) {
        columnX[label.getAttribute("data-col")] = left + columns * size;
        label.setAttribute("transform", "translate(" + (left + columns * size + size / 2 + 4) + "," + (top - 6) + ") rotate(-90)");
        columns += 1;
      }
    });
    each(svg.querySelectorAll("g.row"), function (row) {
      var shown = !from.value || row.getAttribute("data-namespace") === from.value;
      row.style.display = shown ? "" : "none";
      if (!shown) { return; }
      row.setAttribute("transform", "translate(0," + (top + rows * size) + ")");
      rows += 1;
      each(row.querySelectorAll("rect.cell"), function (cell) {
        var x = columnX[cell.getAttribute("data-col")];
        cell.style.display = x === undefined ? "none" : "";
        if (x !== undefined) { cell.setAttribute("x", x); }
      });
    });
    svg.setAttribute("width", left + columns * size + {{ margin }});
    svg.setAttribute("height", top + rows * size + {{ margin }});
  }
  function apply() {
    each(document.querySelectorAll("svg.heatmap"), layout);
    var parts = [];
    if (from.value) { parts.push("from=" + encodeURIComponent(from.value)); }
    if (to.value) { parts.push("to=" + encodeURIComponent(to.value)); }
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", parts.length ? "#" + parts.join("&") : window.location.pathname);
    }
  }
  function choose(select, value) {
    each(select.options, function (option) { if (option.value === value) { select.value = value; } });
  }
  each(window.location.hash.replace(/^#/, "").split("&"), function (part) {
    var pair = part.split("=");
    var value = decodeURIComponent(pair[1] || "");
    if (pair[0] === "from") { choose(from, value); }
    if (pair[0] === "to") { choose(to, value); }
  });
  from.addEventListener("change", apply);
  to.addEventListener("change", apply);
  apply();
}());
</script>
</body>
</html>
"""

HEATMAP = r"""<svg class="heatmap" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{{ heatmap.title }}"
 width="{{ heatmap.width }}" height="{{ heatmap.height }}" data-left="{{ heatmap.left }}" data-top="{{ heatmap.top }}" data-cell="{{ cell }}">
{%- for column in heatmap.columns %}
<text class="col-label" data-col="{{ loop.index0 }}" data-namespace="{{ column.namespace }}"
 transform="translate({{ column.x }},{{ heatmap.top - 6 }}) rotate(-90)">{{ column.id }}</text>
{%- endfor %}
{%- for row in heatmap.rows %}
<g class="row" data-namespace="{{ row.namespace }}" data-workload="{{ row.id }}" transform="translate(0,{{ row.y }})">
<text class="row-label" x="{{ heatmap.left - 6 }}" y="{{ cell * 0.7 }}" text-anchor="end">{{ row.id }}</text>
{%- for item in row.cells %}
<rect class="cell {{ item.verdict }}" data-col="{{ loop.index0 }}" data-from="{{ row.id }}" data-to="{{ item.to }}"
 data-verdict="{{ item.verdict }}" x="{{ item.x }}" y="0" width="{{ cell }}" height="{{ cell }}"><title>{{ item.title }}</title></rect>
{%- endfor %}
</g>
{%- endfor %}
</svg>"""


def cell_title(cell, ports, reasons):
    """A cell's tooltip: the pair, the verdict with its counts, and what decides it."""
    lines = ["%s → %s" % (cell["from"], cell["to"]),
             "%s: %s (%d of %d pod pairs allowed on every port)" % (ports, cell["verdict"], cell["allowed_pairs"], cell["pairs"])]
    if cell["allowed_by"]:
        lines.append("allowed: " + reasons_text([reasons[index] for index in cell["allowed_by"]]))
    if cell["denied_by"]:
        lines.append("denied: " + reasons_text([reasons[index] for index in cell["denied_by"]]))
    return "\n".join(lines)


def heatmap(workloads, matrix, reasons):
    """The drawing of one matrix: positions in px, each cell's verdict and tooltip."""
    ids = [workload["id"] for workload in workloads]
    longest = max([len(name) for name in ids] + [1])
    left = int(longest * CHARACTER) + MARGIN
    top = int(longest * CHARACTER) + MARGIN
    ports = ports_text(matrix["ports"])
    by_pair = {(cell["from"], cell["to"]): cell for cell in matrix["cells"]}
    rows = []
    for row, workload in enumerate(workloads):
        cells = []
        for column, destination in enumerate(ids):
            cell = by_pair.get((workload["id"], destination))
            title = cell_title(cell, ports, reasons) if cell else "%s → %s\n%s: no pair of pods" % (workload["id"], destination, ports)
            cells.append({"to": destination, "verdict": cell["verdict"] if cell else NO_PAIR, "x": left + column * CELL,
                          "title": title})
        rows.append({"id": workload["id"], "namespace": workload["namespace"], "y": top + row * CELL, "cells": cells})
    columns = [{"id": workload["id"], "namespace": workload["namespace"], "x": left + column * CELL + CELL // 2 + 4}
               for column, workload in enumerate(workloads)]
    return {"title": ports, "left": left, "top": top, "width": left + len(ids) * CELL + MARGIN,
            "height": top + len(ids) * CELL + MARGIN, "rows": rows, "columns": columns}


def render_html(report, diff=None):
    """report.html of a report (and its diff, when there is one)."""
    if jinja2 is None:
        raise RuntimeError("Jinja2 is needed to write report.html")
    environment = jinja2.Environment(loader=jinja2.DictLoader({"page.html.j2": PAGE, "heatmap.svg.j2": HEATMAP}),
                                     autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    workloads = report["workloads"]
    per_matrix = max(1, len(workloads) ** 2)
    drawn = report["matrices"][:max(1, MAX_CELLS // per_matrix)]
    left_out = [ports_text(matrix["ports"]) for matrix in report["matrices"][len(drawn):]]
    return environment.get_template("page.html.j2").render(
        report=report, diff=diff, heatmaps=[heatmap(workloads, matrix, report["reasons"]) for matrix in drawn], left_out=left_out,
        namespaces=sorted({workload["namespace"] for workload in workloads}), cell=CELL, margin=MARGIN,
        ports_text=ports_text, reasons_text=reasons_text)
