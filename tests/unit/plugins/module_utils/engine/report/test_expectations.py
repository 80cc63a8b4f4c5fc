# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Expectations on the shop (report_cases.py; its policies are described in test_matrix.py): which
hold, which are violated and why, and invalid files named by file, line and field."""

from __future__ import annotations

import pytest

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.expectations import check_expectations, load_expectations
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import InputError
from report_cases import SHOP, SHOP_OWNERS, SHOP_POLICIES, judged_with, write

EXPECTATIONS = """\
expectations:
  - name: web reaches the database
    from: {namespace: shop, workload: web}
    to: {namespace: shop, workload: db}
    ports: [TCP/5432]
    expect: allowed
  - name: ops reaches every web pod on 8080
    from: {namespace: ops}
    to: {namespace: shop, podSelector: {matchLabels: {app: web}}}
    ports: [TCP/8080, TCP/80]
    expect: allowed
  - name: nothing from ops reaches the database
    from: {namespaceSelector: {matchLabels: {team: ops}}}
    to: {namespace: shop, workload: db}
    expect: denied
  - name: a typo tests nothing
    from: {namespace: shop, workload: webb}
    to: {namespace: shop, workload: db}
    expect: denied
"""


def results(tmp_path, text=EXPECTATIONS):
    expectations = load_expectations(write(tmp_path, "expectations.yaml", text))
    workloads, judged = judged_with(SHOP, SHOP_POLICIES, SHOP_OWNERS)
    return check_expectations(judged, workloads, SHOP.namespaces, expectations)


def test_expectations_that_hold_pass(tmp_path):
    found = {result.expectation.name: result for result in results(tmp_path)}
    # Both web pods reach db-0 on 5432 by shop/db-ingress rule 0: two pairs.
    assert found["web reaches the database"].passed and found["web reaches the database"].pairs == 2
    # ops/probe -> db-0: db is isolated and only takes app=web pods, on every port.
    assert found["nothing from ops reaches the database"].passed
    assert found["nothing from ops reaches the database"].to_dict()["ports"] == ["TCP", "UDP", "SCTP"]


def test_a_violation_lists_the_pairs_that_break_it_and_why(tmp_path):
    result = {result.expectation.name: result for result in results(tmp_path)}["ops reaches every web pod on 8080"]
    assert not result.passed
    # On 80 web-ingress opens both web pods to team=ops; on 8080 only the canary is opened (by
    # canary-extra): probe -> web-5d8f-b on 8080 is the one denied connection.
    [violation] = result.violations
    assert violation.to_dict() == {
        "from": "ops/probe", "to": "shop/web", "ports": ["TCP/8080"], "pairs": 1,
        "reasons": ["ingress isolated by shop/web-ingress (no rule allows)"],
        "example": {"from": "ops/probe", "to": "shop/web-5d8f-b", "protocol": "TCP", "port": 8080, "family": 4,
                    "reasons": ["ops/probe is not isolated for egress",
                                "shop/web-5d8f-b is isolated for ingress by shop/web-ingress; no ingress rule of those"
                                " policies allows this traffic"]}}
    assert result.lines()[0].endswith(":7: expectation 'ops reaches every web pod on 8080' (namespace=ops -> namespace=shop,"
                                      ' podSelector={"matchLabels": {"app": "web"}}, TCP/80, TCP/8080: allowed) is violated by:')


def test_an_end_that_picks_no_pod_is_a_violation(tmp_path):
    result = {result.expectation.name: result for result in results(tmp_path)}["a typo tests nothing"]
    assert not result.passed
    assert result.problem == "from picks no running pod, so it tests nothing"


def test_every_problem_of_a_file_is_located(tmp_path):
    path = write(tmp_path, "expectations.yaml", """\
expectations:
  - name: bad
    from: {namespace: shop, workload: web, podSelektor: {}}
    to: {namespaceSelector: {matchLabels: {team: 5}}}
    ports: [tcp/80, TCP/0]
    expect: allow
  - name: bad
    from: {workload: web}
    to: {namespace: shop, namespaceSelector: {}}
    expect: denied
  - from: {namespace: shop}
    expect: denied
""")
    with pytest.raises(InputError) as raised:
        load_expectations(path)
    assert [(problem.line, problem.obj, problem.field, problem.message) for problem in raised.value.problems] == [
        (3, "bad", "expectations[0].from.podSelektor", "unknown field 'podSelektor' (allowed: namespace, namespaceSelector,"
                                                       " workload, podSelector)"),
        (4, "bad", "expectations[0].to.namespaceSelector.matchLabels.team",
         'label value must be a string, found an integer 5: quote it ("5")'),
        (5, "bad", "expectations[0].ports[0]", "'tcp/80': the protocol must be one of TCP, UDP, SCTP (case matters)"),
        (5, "bad", "expectations[0].ports[1]", "'TCP/0': ports are 1-65535 and a range goes upwards"),
        (6, "bad", "expectations[0].expect", "must be allowed or denied, found 'allow'"),
        (7, "bad", "expectations[1].name", "the name is already used at line 2"),
        (8, "bad", "expectations[1].from", "give exactly one of namespace (a name) and namespaceSelector ({} for every namespace)"),
        (8, "bad", "expectations[1].from.workload", "a workload is named within one namespace: give namespace too"),
        (9, "bad", "expectations[1].to", "give exactly one of namespace (a name) and namespaceSelector ({} for every namespace)"),
        (11, "expectations[2]", "expectations[2].to", "is required: the pods at this end"),
    ]
    assert {problem.file for problem in raised.value.problems} == {path}


def test_a_file_that_is_not_yaml_or_not_expectations(tmp_path):
    with pytest.raises(InputError) as raised:
        load_expectations(write(tmp_path, "broken.yaml", "expectations:\n  - name: [x\n"))
    [problem] = raised.value.problems
    assert (problem.line, problem.message.split(":")[0]) == (3, "invalid YAML")
    with pytest.raises(InputError) as raised:
        load_expectations(write(tmp_path, "list.yaml", "- name: x\n"))
    assert [(problem.field, problem.message) for problem in raised.value.problems] == [
        ("expectations", "an expectations file is a mapping whose expectations key lists the expectations")]
