# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compact expectation parser and the row set it is expanded over."""

from __future__ import annotations

import textwrap

import pytest
from netpol_lab.expected import ExpectationError, parse_expected, probed_rows

from netpol_lab import scenario as scenarios


def test_default_applies_when_no_line_matches():
    expectation = parse_expected({"default": "deny"})
    assert expectation.allowed(("x/a", "x/b", "TCP", 80)) is False
    assert parse_expected({"default": "allow", "except": []}).allowed(("x/a", "x/b", "TCP", 80)) is True


def test_later_line_overrides_earlier_for_the_rows_it_matches():
    expectation = parse_expected({"default": "allow", "except": [
        'deny "*" x/a "*" "*"',
        "allow x/b x/a TCP 80",
    ]})
    assert expectation.allowed(("x/b", "x/a", "TCP", 80)) is True
    assert expectation.allowed(("x/b", "x/a", "TCP", 81)) is False
    assert expectation.allowed(("y/c", "x/a", "TCP", 80)) is False
    assert expectation.allowed(("x/a", "x/b", "UDP", 53)) is True


def test_fields_are_globs_and_port_is_matched_as_text():
    line = parse_expected({"default": "deny", "except": ["allow ext-* x/* UDP 5*"]}).lines[0]
    assert line.matches(("ext-a", "x/web", "UDP", 53))
    assert line.matches(("ext-b", "x/db", "UDP", 5353))
    assert not line.matches(("ext-a", "y/web", "UDP", 53))
    assert not line.matches(("ext-a", "x/web", "TCP", 53))
    assert not line.matches(("ext-a", "x/web", "UDP", 80))


def test_globs_are_case_sensitive():
    line = parse_expected({"default": "deny", "except": ["allow * * tcp *"]}).lines[0]
    assert not line.matches(("x/a", "x/b", "TCP", 80))


def test_table_splits_rows_sorted_in_engine_shape():
    expectation = parse_expected({"default": "allow", "except": ["deny x/b * * *"]})
    rows = [("x/b", "x/a", "TCP", 80), ("x/a", "x/b", "TCP", 81), ("x/a", "x/b", "TCP", 80)]
    assert expectation.table(rows) == {
        "allowed": [["x/a", "x/b", "TCP", 80], ["x/a", "x/b", "TCP", 81]],
        "denied": [["x/b", "x/a", "TCP", 80]],
    }


def test_unused_lines_are_reported_by_their_text():
    expectation = parse_expected({"default": "allow", "except": ["deny x/a * * *", "deny x/typo * * *"]})
    assert expectation.unused_lines([("x/a", "x/b", "TCP", 80)]) == ["deny x/typo * * *"]


@pytest.mark.parametrize("obj, message", [
    (None, "must be a mapping"),
    ({"except": []}, "default must be allow or deny"),
    ({"default": "maybe"}, "default must be allow or deny"),
    ({"default": "allow", "extra": 1}, "unknown field(s): extra"),
    ({"default": "allow", "except": "deny * * * *"}, "must be a list"),
    ({"default": "allow", "except": ["deny x/a x/b TCP"]}, "needs 5 fields"),
    ({"default": "allow", "except": ["refuse x/a x/b TCP 80"]}, "verdict must be allow or deny"),
    ({"default": "allow", "except": [{"deny": "x/a"}]}, "must be a string"),
    ({"default": "allow", "except": ['deny "x/a x/b TCP 80']}, "No closing quotation"),
])
def test_malformed_expectations_are_rejected(obj, message):
    with pytest.raises(ExpectationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_expected(obj)


def _scenario(tmp_path, text):
    path = tmp_path / "rows.yaml"
    path.write_text(textwrap.dedent(text))
    return scenarios.load_scenario(path)


def test_rows_skip_self_external_pairs_and_pods_that_do_not_run(tmp_path):
    scenario = _scenario(tmp_path, """
        namespaces: {x: {}}
        pods:
          x/a: {}
          x/b: {}
          x/gone: {phase: Failed}
          x/done: {phase: Succeeded}
          x/waiting: {phase: Pending, ips: []}
        externals:
          ext-a: {ips: [192.168.1.5]}
          ext-b: {ips: [192.168.1.6]}
        probes:
          - {protocol: TCP, port: 80}
    """)
    names = ("x/a", "x/b", "ext-a", "ext-b")
    expected = {(source, destination, "TCP", 80) for source in names for destination in names
                if source != destination and not (source.startswith("ext-") and destination.startswith("ext-"))}
    rows = probed_rows(scenario)
    assert len(rows) == len(expected) == 10
    assert set(rows) == expected


def test_rows_of_a_family_need_an_address_of_that_family_at_both_ends(tmp_path):
    scenario = _scenario(tmp_path, """
        namespaces: {x: {}}
        pods:
          x/dual: {ips: [10.244.1.10, "fd00:10:244:1::10"]}
          x/v4: {}
        externals:
          ext-v6: {ips: ["fd00:99::5"]}
        probes:
          - {protocol: TCP, port: 80}
          - {protocol: TCP, port: 81, family: 6}
    """)
    assert sorted(probed_rows(scenario)) == [
        ("ext-v6", "x/dual", "TCP", 81),
        ("x/dual", "ext-v6", "TCP", 81),
        ("x/dual", "x/v4", "TCP", 80),
        ("x/v4", "x/dual", "TCP", 80),
    ]
