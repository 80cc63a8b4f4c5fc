# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The renderings of the shop's report (report_cases.py, reasoned in test_matrix.py): Markdown
tables and their cuts, the HTML heatmap's cells and titles, and files written only when they change."""

from __future__ import annotations

import copy
import json
import os
from html.parser import HTMLParser

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report import html, markdown
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.build import build_report
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.files import json_text, write_files
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.html import render_html
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.locations import PolicyLocations
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.ports import parse_port_spec
from report_cases import SHOP, SHOP_OWNERS, SHOP_POLICIES


def shop_report(ports=("TCP/80",), baseline=None):
    outcome = build_report(SHOP, SHOP_POLICIES, SHOP_OWNERS, PolicyLocations(SHOP_POLICIES),
                           [[parse_port_spec(text)] for text in ports], (),
                           None if baseline is None else (baseline, PolicyLocations(baseline)))
    return outcome.report, outcome.diff


class Heatmap(HTMLParser):
    """The rect cells of a page (their attributes and title), its select boxes' options, and its scripts."""

    def __init__(self):
        super().__init__()
        self.cells = []
        self.options = {}
        self.scripts = 0
        self._select = None
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "rect" and "cell" in found.get("class", ""):
            self.cells.append(dict(found, title=""))
        elif tag == "title" and self.cells and "title" in self.cells[-1] and not self.cells[-1]["title"]:
            self._in_title = True
        elif tag == "select":
            self._select = found["id"]
            self.options[self._select] = []
        elif tag == "option":
            self.options[self._select].append(found["value"])
        elif tag in ("script", "link", "img", "iframe"):
            assert tag == "script" and "src" not in found, "the page must fetch nothing"
            self.scripts += 1

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.cells[-1]["title"] += data


def test_markdown_grid_and_what_decides_each_cell():
    report, _diff = shop_report()
    text = markdown.render_report(report)
    assert "| from \\ to | ops/probe | shop/db | shop/web |\n|---|---|---|---|\n" in text
    assert "| ops/probe |  | ✗ | ✓ |\n| shop/db | ✓ |  | ✗ |\n| shop/web | ✓ | ✗ | ✗ |\n" in text
    assert ("- ops/probe → shop/web: **allowed** (2/2 pod pairs allowed) — allowed: egress not isolated; ingress allowed by"
            " shop/web-ingress rule 0\n") in text
    # Cells no policy decides (neither end isolated) are not listed.
    assert "- shop/db → ops/probe" not in text


def test_markdown_lists_are_cut_and_say_how_many_more_the_json_holds():
    report, _diff = shop_report()
    report["lint"] = [{"check": "selects-no-pod", "text": "policies/p%d.yaml:4: shop/p%d: ..." % (number, number)} for number in range(40)]
    text = markdown.render_report(report)
    assert "policies/p29.yaml:4" in text and "policies/p30.yaml:4" not in text
    assert "_… and 10 more in report.json._" in text


def test_diff_markdown_for_a_merge_request():
    # The baseline lacks canary-extra: on 8080 the canary is newly opened to ops/probe.
    _report, diff = shop_report(baseline=SHOP_POLICIES[:2])
    text = markdown.render_diff(diff)
    assert text.startswith("## NetworkPolicy change: effect on connectivity\n\n**0 newly denied** (0 pod pairs), **1 newly allowed**"
                           " (1 pod pairs), by workload pair and ports.\n")
    assert ("| ops/probe | shop/web | TCP/8080 | 1 | egress not isolated; ingress allowed by shop/canary-extra rule 0 |"
            " ingress isolated by shop/web-ingress (no rule allows) |") in text
    many = copy.deepcopy(diff)
    many["changes"] = many["changes"] * 45
    many["summary"]["newly_allowed"] = 45
    assert "### Newly allowed (45)" in markdown.render_diff(many)
    assert "_… and 15 more in diff.json._" in markdown.render_diff(many)


def test_html_heatmap_cells_say_what_decides_them():
    report, diff = shop_report(ports=("TCP/8080",), baseline=SHOP_POLICIES[:2])
    page = Heatmap()
    page.feed(render_html(report, diff))
    cells = {(cell["data-from"], cell["data-to"]): cell for cell in page.cells}
    assert len(cells) == 9  # 3 workloads: every pair drawn, "none" where there is no pair of pods
    partial = cells[("ops/probe", "shop/web")]
    assert partial["data-verdict"] == "partial" and partial["class"] == "cell partial"
    assert partial["title"] == ("ops/probe → shop/web\nTCP/8080: partial (1 of 2 pod pairs allowed on every port)\n"
                                "allowed: egress not isolated; ingress allowed by shop/canary-extra rule 0\n"
                                "denied: ingress isolated by shop/web-ingress (no rule allows)")
    assert cells[("shop/db", "shop/db")]["data-verdict"] == "none"
    assert page.options == {"from-namespace": ["", "ops", "shop"], "to-namespace": ["", "ops", "shop"]}
    assert page.scripts == 1


def test_html_escapes_every_text():
    report, _diff = shop_report()
    report["reasons"][report["matrices"][0]["cells"][0]["denied_by"][0]]["text"] = "<b>bold</b>"
    report["lint"] = [{"check": "x", "file": "<script>.yaml", "line": 1, "policy": "a/b", "field": "f", "message": "m"}]
    page = render_html(report)
    assert "<b>bold" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "<script>.yaml" not in page and "&lt;script&gt;.yaml" in page


def test_files_are_written_when_they_change_and_never_in_check_mode(tmp_path):
    report, _diff = shop_report()
    directory = str(tmp_path / "out")
    contents = {"report.json": json_text(report), "report.md": markdown.render_report(report)}
    assert write_files(directory, contents, check_mode=True) == [
        {"path": os.path.join(directory, "report.json"), "changed": True}, {"path": os.path.join(directory, "report.md"), "changed": True}]
    assert not os.path.exists(directory)
    assert [item["changed"] for item in write_files(directory, contents)] == [True, True]
    with open(os.path.join(directory, "report.json"), encoding="utf-8") as handle:
        assert json.load(handle) == report
    assert [item["changed"] for item in write_files(directory, contents)] == [False, False]
    assert [item["changed"] for item in write_files(directory, dict(contents, **{"report.md": "other\n"}))] == [False, True]
    assert sorted(os.listdir(directory)) == ["report.json", "report.md"]  # no temporary file left


def test_a_page_draws_at_most_max_cells(monkeypatch):
    report, _diff = shop_report(ports=("TCP/80", "TCP/8080", "UDP"))
    monkeypatch.setattr(html, "MAX_CELLS", 20)  # 3 workloads: 9 cells a heatmap, two fit
    page = Heatmap()
    text = html.render_html(report)
    page.feed(text)
    assert len(page.cells) == 18
    assert "1 more port set(s) not drawn, to keep this page small enough to open:\nUDP." in text
