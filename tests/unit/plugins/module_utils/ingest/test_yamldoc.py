# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""YAML documents with a line for every field path; syntax errors and duplicate keys with their line."""

from __future__ import annotations

import pytest

from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.yamldoc import Document, parse_documents, read_documents

POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web
spec:
  podSelector: {}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: api}}
    ports:
    - port: 80
      protocol: TCP
"""


def only_document(text):
    documents, problems = parse_documents(text, "f.yaml")
    assert problems == [] and len(documents) == 1
    return documents[0]


def test_fields_written_on_one_line_have_that_line():
    document = only_document(POLICY)
    assert document.obj["spec"]["ingress"][0]["ports"][0] == {"port": 80, "protocol": "TCP"}
    expected = {
        "": 1, "apiVersion": 1, "kind": 2, "metadata.name": 4, "spec.podSelector": 6, "spec.ingress[0]": 8,
        "spec.ingress[0].from[0]": 9, "spec.ingress[0].from[0].podSelector.matchLabels.app": 9,
        "spec.ingress[0].ports[0]": 11, "spec.ingress[0].ports[0].port": 11, "spec.ingress[0].ports[0].protocol": 12,
    }
    assert {path: document.lines[path] for path in expected} == expected


def test_a_field_whose_value_is_a_block_has_the_line_of_its_key():
    document = only_document(POLICY)
    expected = {"metadata": 3, "spec": 5, "spec.ingress": 7, "spec.ingress[0].from": 8, "spec.ingress[0].ports": 10}
    assert {path: document.lines[path] for path in expected} == expected


def test_a_missing_field_has_the_line_of_its_nearest_ancestor():
    document = only_document(POLICY)
    assert document.line_of("spec.ingress[0].ports[0].endPort") == 11
    assert document.line_of("spec.ingress[0].from[0].podSelector.matchLabels.tier") == 9
    assert document.line_of("nothing.here[3]") == 1


def test_lines_of_later_documents_count_from_the_top_of_the_file():
    text = "# two policies\na: 1\n---\n\nb:\n  c: [x, z]\n---\n---\n# only a comment\n"
    documents, problems = parse_documents(text, "f.yaml")
    assert problems == []
    assert [document.obj for document in documents] == [{"a": 1}, {"b": {"c": ["x", "z"]}}]
    assert documents[0].lines["a"] == 2
    assert (documents[1].lines["b.c"], documents[1].lines["b.c[1]"]) == (6, 6)


@pytest.mark.parametrize("text", ["", "---\n", "# nothing\n", "---\n...\n---\n"])
def test_empty_documents_are_skipped(text):
    assert parse_documents(text, "f.yaml") == ([], [])


def test_json_is_yaml():
    document = only_document('{"kind": "NetworkPolicy",\n "spec": {"podSelector": {},\n  "policyTypes": ["Egress"]}}\n')
    assert document.obj["spec"]["policyTypes"] == ["Egress"]
    assert document.lines["spec.policyTypes[0]"] == 3


@pytest.mark.parametrize("text, line", [
    ("spec:\n  policyTypes:\n - Ingress\n", 3),                 # list items left of their key (seed section 2)
    ("spec:\n  ingress:\n  - {}\n    policyTypes:\n", 4),       # key indented under a list item (seed 4.2)
    ("a: b: c\n", 1),
    ("a:\n\tb: 1\n", 2),                                        # a tab cannot indent
    ("a: 1\n---\nb: 2\nc: d: e\n", 4),                          # in a later document: counted from the file's top
    ("a: *nowhere\n", 1),
])
def test_syntax_errors_have_the_line_of_the_error(text, line):
    documents, problems = parse_documents(text, "f.yaml")
    assert documents == []
    assert [(problem.file, problem.line) for problem in problems] == [("f.yaml", line)]
    assert problems[0].message.startswith("invalid YAML: ")


def test_duplicate_keys_are_problems_at_the_second_occurrence():
    text = "metadata:\n  name: a\n  name: b\nspec:\n  ingress:\n  - {ports: [], ports: []}\nspec: {}\n"
    documents, problems = parse_documents(text, "f.yaml")
    assert [(problem.field, problem.line) for problem in problems] == [
        ("metadata.name", 3), ("spec.ingress[0].ports", 6), ("spec", 7)]
    assert all("duplicate field" in problem.message and problem.file == "f.yaml" for problem in problems)
    assert "'name'" in problems[0].message
    assert len(documents) == 1


def test_a_tag_that_safe_yaml_cannot_construct_is_a_problem_with_a_line():
    documents, problems = parse_documents("a: 1\n---\nb: !!python/object:os.system x\n", "f.yaml")
    assert [document.obj for document in documents] == [{"a": 1}]
    assert [(problem.line, problem.message.startswith("invalid YAML")) for problem in problems] == [(3, True)]


def test_a_complex_key_is_a_problem_not_a_traceback():
    documents, problems = parse_documents("? [a]\n: b\n", "f.yaml")
    assert documents == [] and len(problems) == 1


def test_child_re_roots_field_paths():
    document = only_document(POLICY)
    spec = document.child("spec")
    assert spec.obj is document.obj["spec"] and spec.file == "f.yaml"
    assert spec.line_of("podSelector") == 6
    assert spec.line_of("ingress[0].ports[0].protocol") == 12
    rule = spec.child("ingress").child(0)
    assert rule.line_of("") == 8 and rule.line_of("from[0]") == 9
    assert "spec.podSelector" not in spec.lines and "podSelector" not in document.lines


def test_problem_names_the_file_the_line_and_the_policy():
    document = only_document(POLICY)
    problem = document.problem("spec.ingress[0].ports[0].protocol", "bad")
    assert (problem.file, problem.line, problem.obj, problem.field) == ("f.yaml", 12, "default/web", "spec.ingress[0].ports[0].protocol")
    assert str(problem) == "f.yaml:12: default/web: spec.ingress[0].ports[0].protocol: bad"
    assert document.problem("kind", "x", obj="shop/web").obj == "shop/web"


def test_problem_of_an_object_without_lines_has_no_line():
    problem = Document({"metadata": {"name": "a", "namespace": "b"}}, "objects[0]").problem("spec", "missing")
    assert (problem.line, problem.obj, str(problem)) == (None, "b/a", "objects[0]: b/a: spec: missing")


def test_read_documents_reads_a_file(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(POLICY, encoding="utf-8")
    documents, problems = read_documents(path)
    assert problems == [] and documents[0].file == str(path) and documents[0].lines["kind"] == 2


def test_an_unreadable_file_is_a_problem(tmp_path):
    missing = tmp_path / "missing.yaml"
    binary = tmp_path / "latin1.yaml"
    binary.write_bytes(b"name: caf\xe9\n")
    for path in (missing, binary, tmp_path):
        documents, problems = read_documents(path)
        assert documents == [] and [problem.file for problem in problems] == [str(path)]
        assert problems[0].message.startswith("cannot read")
