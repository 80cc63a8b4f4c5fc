# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hostile, huge and ambiguous inputs: every one ends in documents or in located problems.

Generated inputs (random bytes, random YAML trees with anchors and aliases, deep nesting, huge
scalars) go through every reader a user's input meets: manifests, snapshots and the lab's
scenarios. Nothing may raise but InputError, and nothing may expand beyond the alias budget.
Then the corpus of the cases that once crashed, stalled or meant something else to us than to
kubectl, each with what kubectl (go-yaml, the API server of Kubernetes 1.34) makes of it.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.kubenet.netpol.plugins.module_utils.ingest import yamldoc
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.facts import load_snapshot
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.manifests import load_policies
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import InputError
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.yamldoc import parse_documents
from netpol_lab.scenario import load_scenario

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
READERS = (load_policies, load_snapshot, load_scenario)


def outcome(path, reader):
    """What a reader makes of a file: ("ok", result) or ("problems", problems); anything else raises."""
    try:
        return "ok", reader([path]) if reader is load_policies else reader(path)
    except InputError as exc:
        assert exc.problems and all(problem.file == str(path) or problem.file.startswith(str(path))
                                    for problem in exc.problems), exc.problems
        return "problems", exc.problems


def every_reader(tmp_path, content):
    path = tmp_path / "input.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return [outcome(path, reader) for reader in READERS]


def expanded_size(value, seen_budget):
    """Values reachable from value, counting every alias expansion; stops past the budget."""
    stack, count = [value], 0
    while stack and count <= seen_budget:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


@st.composite
def yaml_trees(draw):
    """Flow-style YAML with anchors and aliases anywhere: backward, forward, to itself, repeated."""
    anchors = []

    def node(depth):
        kind = draw(st.sampled_from(("scalar", "alias", "map", "seq") if depth < 8 else ("scalar", "alias")))
        anchor = ""
        if kind in ("map", "seq", "scalar") and draw(st.booleans()):
            anchors.append("a%d" % len(anchors))
            anchor = "&%s " % anchors[-1]
        if kind == "alias":
            return "*a%d" % draw(st.integers(0, max(len(anchors), 1)))
        if kind == "scalar":
            return anchor + draw(st.sampled_from(("x", "1:20", "0o17", "8e1", "y", "080", "~", "''", "2001-12-14",
                                                  "!!int 3", "!!str 3", "!!binary aGk=", "<<", "80")))
        children = [node(depth + 1) for _index in range(draw(st.integers(0, 4)))]
        if kind == "seq":
            return anchor + "[" + ", ".join(children) + "]"
        keys = draw(st.lists(st.sampled_from(("k", "y", "80", "<<", "spec", "on")), min_size=len(children),
                             max_size=len(children)))
        return anchor + "{" + ", ".join("%s: %s" % pair for pair in zip(keys, children)) + "}"

    return "root: " + node(0) + "\n"


@SETTINGS
@given(content=st.binary(max_size=2048))
def test_random_bytes_end_in_documents_or_problems(tmp_path, content):
    every_reader(tmp_path, content)


@SETTINGS
@given(text=yaml_trees())
def test_random_yaml_trees_with_aliases_end_in_documents_or_problems_within_the_alias_budget(tmp_path, text):
    every_reader(tmp_path, text)
    documents, _problems = parse_documents(text, "f.yaml")
    budget = yamldoc.ALIAS_VALUES_FREE + yamldoc.ALIAS_VALUES_PER_VALUE * (len(text) + 1)
    for document in documents:
        assert expanded_size(document.obj, budget) <= budget


@pytest.mark.parametrize("depth", [10, yamldoc.MAX_DEPTH - 1, yamldoc.MAX_DEPTH, 5000, 100000])
@pytest.mark.parametrize("opening, closing", [("[", "]"), ("{a: ", "}")])
def test_deep_nesting_is_bounded(tmp_path, depth, opening, closing):
    text = "spec: " + opening * depth + ("1" if opening != "[" else "") + closing * depth + "\n"
    documents, problems = parse_documents(text, "f.yaml")
    if depth < yamldoc.MAX_DEPTH:
        assert problems == [] and len(documents) == 1
    else:
        assert documents == [] and len(problems) == 1 and "nest" in problems[0].message
    every_reader(tmp_path, text)


def test_a_huge_scalar_is_read_whole(tmp_path):
    text = "metadata: {name: %s}\n" % ("a" * 1000000)
    [document], problems = parse_documents(text, "f.yaml")
    assert problems == [] and len(document.obj["metadata"]["name"]) == 1000000
    kinds = [kind for kind, _found in every_reader(tmp_path, text)]
    assert kinds == ["problems"] * 3  # not a NetworkPolicy, not a snapshot, not a scenario


# --- the corpus ---------------------------------------------------------------------------------

ALIAS_BOMB = "".join("%s: &%s [%s]\n" % (name, name, ", ".join([("*%s" % previous) if previous else "x"] * 9))
                     for previous, name in zip([""] + list("abcdefgh"), "abcdefghi"))


@pytest.mark.parametrize("text, fragment", [
    ("spec: &a {ingress: [*a]}\n", "cycle"),                 # an alias inside the value it names
    ("spec: " + "[" * 5000 + "]" * 5000 + "\n", "nest"),     # deep nesting (was a RecursionError)
    (ALIAS_BOMB, "aliases expand"),                         # 9 ** 9 values from 9 lines (was out of memory)
    ("a: *nowhere\n", "names no anchor"),
    ("? [a]\n: b\n", "complex key"),
    ("a: !!binary aGVsbG8=\n", "tag !!binary"),
    ("a: !!python/object:os.system x\n", "tag"),
])
def test_inputs_that_once_crashed_or_stalled_are_problems_with_a_line(text, fragment):
    documents, problems = parse_documents(text, "f.yaml")
    assert documents == []
    [problem] = problems
    assert fragment in problem.message and problem.line is not None


@pytest.mark.parametrize("scalar, meaning", [
    ("1:20", "1:20"),        # YAML 1.1 base 60 (80) to PyYAML; a string to go-yaml (and the API rejects it)
    ("0o120", 80),           # a string to PyYAML; octal 80 to go-yaml
    ("8e1", 80),             # a string to PyYAML; the float 80 to go-yaml, the integer 80 through JSON
    ("080", 80),             # a string to PyYAML; not octal, so the float 80 to go-yaml
    ("0120", 80),            # octal in both
    ("0x50", 80),
    ("1_000", 1000),
    ("y", True), ("n", False), ("on", True), ("Off", False), ("yes", True),   # booleans to go-yaml
    ("~", None), ("null", None),
    ("80.5", 80.5),
    ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),   # kubectl passes a full RFC 3339 time on unchanged
    ("web-1", "web-1"),
])
def test_unquoted_scalars_mean_what_kubectl_sends(scalar, meaning):
    [document], problems = parse_documents("value: %s\n" % scalar, "f.yaml")
    assert problems == []
    assert document.obj["value"] == meaning and type(document.obj["value"]) is type(meaning)


@pytest.mark.parametrize("scalar", ["2001-12-14", "2001-12-14 21:59:43.10"])
def test_timestamps_kubectl_would_rewrite_must_be_quoted(scalar):
    documents, [problem] = parse_documents("value: %s\n" % scalar, "f.yaml")
    assert documents == [] and "quote it" in problem.message and problem.line == 1


@pytest.mark.parametrize("key, spelled", [("y", "true"), ("on", "true"), ("0o10", "8"), ("1_0", "10")])
def test_unquoted_keys_kubectl_would_rewrite_must_be_quoted(key, spelled):
    documents, [problem] = parse_documents("labels: {%s: v}\n" % key, "f.yaml")
    assert documents == [] and "quote it" in problem.message and spelled in problem.message
    [document], problems = parse_documents("labels: {'%s': v}\n" % key, "f.yaml")
    assert problems == [] and document.obj == {"labels": {key: "v"}}


def test_merge_keys_merge_as_go_yaml_merges_them():
    text = "base: &b {a: 1, b: 2}\nmore: &m {c: 3}\nx:\n  <<: [*b, *m]\n  b: 20\n"
    [document], problems = parse_documents(text, "f.yaml")
    assert problems == [] and document.obj["x"] == {"a": 1, "b": 20, "c": 3}


def policy_text(spec, name="p"):
    return json.dumps({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                       "metadata": {"name": name, "namespace": "x"}, "spec": spec})


def test_a_port_written_1_20_is_refused_as_the_api_refuses_it(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\n"
                    "spec:\n  podSelector: {}\n  ingress:\n  - ports:\n    - port: 1:20\n")
    with pytest.raises(InputError) as caught:
        load_policies([path])
    problems = caught.value.problems
    assert {(problem.line, problem.field) for problem in problems} == {(8, "spec.ingress[0].ports[0].port")}
    assert all('named port "1:20"' in problem.message for problem in problems)


@pytest.mark.parametrize("written", ["0o120", "8e1", "080"])
def test_ports_kubectl_reads_as_80_are_port_80(tmp_path, written):
    path = tmp_path / "p.yaml"
    path.write_text("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\n"
                    "spec:\n  podSelector: {}\n  ingress:\n  - ports:\n    - port: %s\n" % written)
    [policy] = load_policies([path])
    assert policy.ingress[0].ports[0].port == 80


def test_a_label_value_y_is_a_boolean_the_api_refuses(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
                    "metadata: {name: p, namespace: x, labels: {canary: y}}\nspec: {podSelector: {}}\n")
    with pytest.raises(InputError) as caught:
        load_policies([path])
    assert [problem.field for problem in caught.value.problems] == ["metadata.labels.canary"]


@pytest.mark.parametrize("spec", [
    {"policyTypes": ["Ingress"]},                                  # spec.podSelector missing: {} to the API server
    {"podSelector": {}, "policyTypes": ["Ingress", "Ingress"]},    # listed twice: accepted by the API server
])
def test_what_the_api_server_accepts_is_accepted(tmp_path, spec):
    path = tmp_path / "p.yaml"
    path.write_text(policy_text(spec))
    warnings = []
    [policy] = load_policies([path], warnings=warnings)
    assert policy.pod_selector.match_labels == () and len(warnings) == 1


def test_a_network_policy_list_is_its_items(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(json.dumps({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicyList",
                                "items": [json.loads(policy_text({"podSelector": {}}, name)) for name in "ab"]}))
    assert [policy.key for policy in load_policies([path])] == ["x/a", "x/b"]


@pytest.mark.parametrize("metadata, field", [
    ({"annotations": {"a": "x" * (256 * 1024)}}, "metadata.annotations"),
    ({"finalizers": [3]}, "metadata.finalizers[0]"),
    ({"finalizers": ["not a name"]}, "metadata.finalizers[0]"),
    ({"ownerReferences": [{"kind": "Deployment", "name": "web"}]}, "metadata.ownerReferences[0].apiVersion"),
    ({"ownerReferences": ["web"]}, "metadata.ownerReferences[0]"),
    ({"generation": "3"}, "metadata.generation"),
])
def test_what_the_api_server_refuses_in_metadata_is_refused(tmp_path, metadata, field):
    path = tmp_path / "p.yaml"
    manifest = json.loads(policy_text({"podSelector": {}}))
    manifest["metadata"].update(metadata)
    path.write_text(json.dumps(manifest))
    with pytest.raises(InputError) as caught:
        load_policies([path])
    assert field in [problem.field for problem in caught.value.problems]


def test_a_list_item_shares_the_line_table_of_its_list():
    """Taking the items of a List costs nothing per item (10,000 items once cost 40 s here)."""
    text = "kind: List\nitems:\n" + "".join("- {kind: NetworkPolicy, num: %d}\n" % number for number in range(1000))
    [document], _problems = parse_documents(text, "f.yaml")
    items = document.child("items")
    last = items.child(999)
    assert last.line_of("num") == 1002 and last._lines is document._lines  # pylint: disable=protected-access
