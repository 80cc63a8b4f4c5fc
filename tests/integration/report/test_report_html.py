# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""report.html in a real browser (Debian's chromium, headless), made by the real playbooks/report.yml
from the demo cluster (examples/demo-scenario.yaml) as a kubectl snapshot and policy files.

What the page must show, reasoned from the scenario: default/test-network-policy isolates
default/db both ways; its ingress rule 0 admits role=frontend pods of default, every pod of a
namespace labelled project=myproject, and 172.17.0.0/16 minus 172.17.1.0/24, on TCP 6379 only;
its egress rule allows 10.0.0.0/24 on TCP 5978, which holds no pod, so db reaches no pod at all.
shop/default-deny-ingress isolates shop/web for ingress with no rule. Nothing else is isolated.
TCP 5978 therefore gives the same matrix as every port but 6379: two matrices.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

import headless_chromium
from netpol_lab.scenario import load_scenario, snapshot

REPO = Path(__file__).resolve().parents[3]
PLAYBOOK = REPO / "playbooks" / "report.yml"
DEMO = REPO / "examples" / "demo-scenario.yaml"
NAMESPACES = ["default", "myproject", "shop"]
WORKLOADS = ["default/db", "default/frontend", "default/other", "myproject/client", "shop/web"]
OTHER_PORTS = "TCP/1-6378, TCP/6380-65535, UDP, SCTP"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The report.html of the demo, written by the real playbook; its file URL."""
    root = tmp_path_factory.mktemp("report-demo")
    items = snapshot(load_scenario(str(DEMO)))["items"]
    (root / "cluster.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List",
                                                   "items": [item for item in items if item["kind"] != "NetworkPolicy"]}))
    (root / "policies").mkdir()
    for item in items:
        if item["kind"] == "NetworkPolicy":
            (root / "policies" / ("%s.yaml" % item["metadata"]["name"])).write_text(yaml.safe_dump(item, sort_keys=False))
    variables = {"netpol_policy_paths": [str(root / "policies")], "netpol_snapshot_path": str(root / "cluster.json"),
                 "netpol_report_output_dir": str(root / "out")}
    (root / "vars.json").write_text(json.dumps(variables))
    result = subprocess.run(["ansible-playbook", str(PLAYBOOK), "-e", "@%s" % (root / "vars.json")], capture_output=True, text=True,
                            env=dict(os.environ, ANSIBLE_NOCOLOR="1"), timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return (root / "out" / "report.html").as_uri()


def line_of(page, policy, text):
    """The line of a policy file (written by the fixture) that is this text, counted from 1."""
    path = Path(page[len("file://"):]).parents[1] / "policies" / ("%s.yaml" % policy)
    return path.read_text().splitlines().index(text) + 1


class Dom(HTMLParser):
    """What a dumped page shows: per heatmap (by its ports), each cell's verdict, title and style, the
    row and column labels with their style, and the filter selects' options."""

    def __init__(self, text):
        super().__init__()
        self.heatmaps = {}
        self.options = {}
        self._heatmap = self._row = self._cell = self._select = self._label = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "svg":
            self._heatmap = self.heatmaps.setdefault(found["aria-label"], {"cells": {}, "rows": {}, "columns": {}})
        elif tag == "g" and "row" in found.get("class", "").split():
            self._row = found
            self._heatmap["rows"][found["data-workload"]] = found.get("style", "")
        elif tag == "text" and found.get("class") == "col-label":
            self._label = found
        elif tag == "rect" and "cell" in found.get("class", "").split():
            self._cell = dict(found, title="", row_style=self._row.get("style", ""))
            self._heatmap["cells"][(found["data-from"], found["data-to"])] = self._cell
        elif tag == "select":
            self._select = self.options.setdefault(found["id"], [])
        elif tag == "option":
            self._select.append(found["value"])

    def handle_endtag(self, tag):
        if tag == "rect":
            self._cell = None
        elif tag == "text":
            self._label = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["title"] += data
        elif self._label is not None:
            self._heatmap["columns"][data] = self._label.get("style", "")


def shown(style):
    return "display: none" not in style


def test_the_heatmaps_show_each_verdict_and_what_decides_it(page):
    dom = Dom(headless_chromium.dump_dom(page))
    assert list(dom.heatmaps) == ["TCP/6379", OTHER_PORTS]
    assert dom.options == {"from-namespace": [""] + NAMESPACES, "to-namespace": [""] + NAMESPACES}
    cells = dom.heatmaps["TCP/6379"]["cells"]
    assert len(cells) == len(WORKLOADS) ** 2 and all(shown(cell.get("style", "")) for cell in cells.values())

    def cell(source, destination, heatmap="TCP/6379"):
        found = dom.heatmaps[heatmap]["cells"][(source, destination)]
        return found["data-verdict"], found["title"].splitlines()

    # Rules are located at their list item, isolating policies at their name.
    rule = "policies/test-network-policy.yaml:%d" % line_of(page, "test-network-policy", "  - from:")
    db_policy = "policies/test-network-policy.yaml:%d" % line_of(page, "test-network-policy", "  name: test-network-policy")
    shop_policy = "policies/default-deny-ingress.yaml:%d" % line_of(page, "default-deny-ingress", "  name: default-deny-ingress")
    assert cell("default/frontend", "default/db") == ("allowed", [
        "default/frontend → default/db", "TCP/6379: allowed (1 of 1 pod pairs allowed on every port)",
        "allowed: egress not isolated; ingress allowed by default/test-network-policy rule 0 (%s)" % rule])
    assert cell("myproject/client", "default/db")[0] == "allowed"
    assert cell("default/other", "default/db") == ("denied", [
        "default/other → default/db", "TCP/6379: denied (0 of 1 pod pairs allowed on every port)",
        "denied: ingress isolated by default/test-network-policy (no rule allows) (%s)" % db_policy])
    assert cell("default/db", "default/frontend")[1][2] == (
        "denied: egress isolated by default/test-network-policy (no rule allows) (%s)" % db_policy)
    assert cell("default/frontend", "shop/web")[1][2] == (
        "denied: ingress isolated by shop/default-deny-ingress (no rule allows) (%s)" % shop_policy)
    assert cell("default/frontend", "default/other") == ("allowed", [
        "default/frontend → default/other", "TCP/6379: allowed (1 of 1 pod pairs allowed on every port)",
        "allowed: egress not isolated; ingress not isolated"])
    assert cell("shop/web", "shop/web") == ("none", ["shop/web → shop/web", "TCP/6379: no pair of pods"])
    assert cell("default/frontend", "default/db", OTHER_PORTS)[0] == "denied"
    verdicts = {key: value["data-verdict"] for key, value in cells.items()}
    assert sorted(key for key, verdict in verdicts.items() if verdict == "allowed") == [
        ("default/frontend", "default/db"), ("default/frontend", "default/other"), ("default/frontend", "myproject/client"),
        ("default/other", "default/frontend"), ("default/other", "myproject/client"),
        ("myproject/client", "default/db"), ("myproject/client", "default/frontend"), ("myproject/client", "default/other"),
        ("shop/web", "default/frontend"), ("shop/web", "default/other"), ("shop/web", "myproject/client")]


def test_the_address_selects_the_namespaces_shown(page):
    dom = Dom(headless_chromium.dump_dom(page + "#from=shop&to=default"))
    heatmap = dom.heatmaps["TCP/6379"]
    assert [name for name, style in heatmap["rows"].items() if shown(style)] == ["shop/web"]
    assert [name for name, style in heatmap["columns"].items() if shown(style)] == ["default/db", "default/frontend", "default/other"]
    visible = [cell for cell in heatmap["cells"].values() if shown(cell["row_style"]) and shown(cell.get("style", ""))]
    assert [(cell["data-to"], cell["data-verdict"]) for cell in visible] == [
        ("default/db", "denied"), ("default/frontend", "allowed"), ("default/other", "allowed")]
    # Laid out again side by side: the three columns follow each other.
    left = float(visible[0]["x"])
    assert [float(cell["x"]) - left for cell in visible] == [0, 22, 44]


def test_choosing_a_namespace_with_the_keyboard_filters_every_heatmap(page):
    browser = headless_chromium.DevTools(page)
    try:
        visible_rows = ("Array.from(document.querySelectorAll('svg.heatmap')[{0}].querySelectorAll('g.row'))"
                        ".filter(row => row.style.display !== 'none').map(row => row.dataset.workload)")
        assert browser.evaluate(visible_rows.format(0)) == WORKLOADS
        browser.evaluate("document.getElementById('from-namespace').focus()")
        browser.press("ArrowDown", 40)  # all namespaces -> default
        browser.press("ArrowDown", 40)  # default -> myproject
        assert browser.evaluate("document.getElementById('from-namespace').value") == "myproject"
        assert browser.evaluate(visible_rows.format(0)) == ["myproject/client"]
        assert browser.evaluate(visible_rows.format(1)) == ["myproject/client"]
        assert browser.evaluate("window.location.hash") == "#from=myproject"
    finally:
        browser.close()


def test_a_screenshot_of_the_page_is_a_png(page, tmp_path):
    path = tmp_path / "report.png"
    headless_chromium.screenshot(page, str(path), 1200, 900)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR" and struct.unpack(">II", data[16:24]) == (1200, 900)
    assert len(data) > 20000  # a drawn page, not a blank one
