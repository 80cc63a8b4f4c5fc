# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loading policy files and directories: everything valid, or every problem at once."""

from __future__ import annotations

import pathlib

import pytest

from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import InputError
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.manifests import load_documents, load_policies, policies_from_objects
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import IPBlockPeer, PortSpec

FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "fixtures" / "manifests"


def policy_text(name, namespace=None, spec="{podSelector: {}}"):
    """A four-line policy manifest."""
    metadata = "{name: %s}" % name if namespace is None else "{name: %s, namespace: %s}" % (name, namespace)
    return "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: %s\nspec: %s\n" % (metadata, spec)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(paths, **kwargs):
    with pytest.raises(InputError) as caught:
        load_policies(paths, **kwargs)
    return caught.value.problems


def test_directories_are_walked_recursively_in_a_stable_order(tmp_path):
    write(tmp_path / "a.yaml", policy_text("a", "shop"))
    write(tmp_path / "sub" / "deeper" / "b.yml", policy_text("b", "shop"))
    write(tmp_path / "sub" / "c.json", '{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",'
                                       ' "metadata": {"name": "c"}, "spec": {"podSelector": {}}}')
    write(tmp_path / "sub" / "notes.txt", "not: [yaml")
    write(tmp_path / "README.md", "# not a manifest: [")
    write(tmp_path / ".git" / "config.yaml", "not: [yaml")
    policies = load_policies([tmp_path])
    assert [policy.key for policy in policies] == ["shop/a", "default/c", "shop/b"]
    assert policies[2].source == str(tmp_path / "sub" / "deeper" / "b.yml")


def test_a_named_file_is_read_whatever_its_suffix(tmp_path):
    path = write(tmp_path / "policy.txt", policy_text("web", "shop"))
    assert [policy.key for policy in load_policies([str(path)])] == ["shop/web"]


def test_a_missing_path_is_an_error_even_with_valid_ones(tmp_path):
    write(tmp_path / "ok" / "a.yaml", policy_text("a"))
    missing = tmp_path / "nope"
    problems = problems_of([tmp_path / "ok", missing])
    assert [(problem.file, problem.message) for problem in problems] == [(str(missing), "no such file or directory")]


def test_an_empty_directory_gives_no_policy(tmp_path):
    assert load_policies([tmp_path]) == ()


LIST = """\
apiVersion: v1
kind: List
items:
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: one, namespace: shop}
  spec: {podSelector: {}}
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: two, namespace: shop}
  spec:
    podSelector: {}
    ingress:
    - ports: [{protocol: tcp}]
"""


def test_a_list_stands_for_its_items_each_with_its_own_lines(tmp_path):
    path = write(tmp_path / "list.yaml", LIST)
    documents, problems = load_documents([path])
    assert problems == []
    assert [document.obj["metadata"]["name"] for document in documents] == ["one", "two"]
    assert [document.line_of("") for document in documents] == [4, 8]
    assert documents[1].line_of("metadata") == 10
    assert documents[1].line_of("spec.ingress[0].ports[0].protocol") == 14


def test_a_problem_in_a_list_item_has_the_item_path_and_the_file_line(tmp_path):
    path = write(tmp_path / "list.yaml", LIST)
    problems = problems_of([path])
    assert [(problem.file, problem.line, problem.obj, problem.field) for problem in problems] == [
        (str(path), 14, "shop/two", "spec.ingress[0].ports[0].protocol")]
    assert "must be uppercase TCP" in problems[0].message


def test_nested_lists_are_flattened(tmp_path):
    text = ("kind: List\nitems:\n- kind: List\n  items:\n  - %s\n- %s\n"
            % (policy_text("a").replace("\n", "\n    ").rstrip(), policy_text("b").replace("\n", "\n  ").rstrip()))
    write(tmp_path / "nested.yaml", text)
    assert [policy.key for policy in load_policies([tmp_path])] == ["default/a", "default/b"]


def test_a_list_without_items_is_reported_as_another_kind(tmp_path):
    path = write(tmp_path / "list.yaml", "apiVersion: v1\nkind: List\nitems: nothing\n")
    problems = problems_of([path])
    assert [(problem.field, problem.line) for problem in problems] == [("kind", 2)]
    assert '"List"' in problems[0].message


def test_problems_of_several_files_come_together_in_one_error(tmp_path):
    write(tmp_path / "1-good.yaml", policy_text("good"))
    syntax = write(tmp_path / "2-syntax.yaml", "apiVersion: networking.k8s.io/v1\nkind: [NetworkPolicy\n")
    invalid = write(tmp_path / "3-invalid.yaml", policy_text("bad", spec="{podSelector: {}, policyTypes: [ingress]}"))
    other = write(tmp_path / "4-deployment.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n")
    duplicate = write(tmp_path / "5-dup-key.yaml", policy_text("dup") + "kind: NetworkPolicy\n")
    with pytest.raises(InputError) as caught:
        load_policies([tmp_path])
    problems = caught.value.problems
    assert sorted((problem.file, problem.line, problem.field) for problem in problems) == sorted([
        (str(syntax), 3, ""),
        (str(invalid), 4, "spec.policyTypes[0]"),
        (str(other), 2, "kind"),
        (str(duplicate), 5, "kind"),
    ])
    message = str(caught.value)
    assert "invalid YAML" in message and '"ingress"' in message and '"Deployment"' in message and "duplicate field" in message
    assert len(message.splitlines()) == 4


def test_seed_blocks_with_broken_indentation_stop_the_load(tmp_path):
    write(tmp_path / "good.yaml", policy_text("good"))
    names = ["section2-syntax.yaml.txt", "section4.2-allow-all-ingress.yaml.txt", "section4.4-allow-all-egress.yaml.txt",
             "section6-extensions-v1beta1.yaml"]
    paths = [FIXTURES / "seed-broken" / name for name in names]
    problems = problems_of([tmp_path] + paths)
    lines = {}
    for problem in problems:
        lines.setdefault(pathlib.Path(problem.file).name, []).append(problem.line)
    assert sorted(lines) == sorted(names)
    assert lines["section2-syntax.yaml.txt"] == [11]
    assert lines["section4.2-allow-all-ingress.yaml.txt"] == [9]
    assert lines["section4.4-allow-all-egress.yaml.txt"] == [9]
    # apiVersion (1), protocol tcp (19), and ports under the second peer: 18 is its key's line,
    # 19 where its list starts, which yamldoc records today (see test_yamldoc.py).
    section6 = sorted(lines["section6-extensions-v1beta1.yaml"])
    assert len(section6) == 3 and section6[0] == 1 and section6[-1] == 19 and section6[1] in (18, 19)


def test_the_valid_seed_and_documentation_examples_load():
    seed = load_policies([FIXTURES / "valid" / "seed"])
    assert [policy.key for policy in seed] == [
        "default/test-network-policy", "default/alice-clients", "default/alice-or-clients", "default/default-deny-ingress",
        "default/allow-all-ingress", "default/default-deny-egress", "default/allow-all-egress", "default/default-deny-all",
        "default/access-nginx", "default/test-network-policy-6"]
    assert len(load_policies([FIXTURES / "valid" / "k8s-docs"], default_namespace="docs")) == 9


def test_the_same_policy_in_two_files_is_a_duplicate(tmp_path):
    first = write(tmp_path / "a.yaml", "# web\n" + policy_text("web", "shop"))
    second = write(tmp_path / "b" / "web.yaml", policy_text("web", "shop"))
    problems = problems_of([tmp_path])
    assert [(problem.file, problem.field, problem.obj) for problem in problems] == [(str(second), "metadata.name", "shop/web")]
    assert "duplicate policy" in problems[0].message and "shop/web" in problems[0].message
    assert "%s:2" % first in problems[0].message


def test_a_policy_without_namespace_is_in_the_default_namespace_for_duplicates(tmp_path):
    write(tmp_path / "a.yaml", policy_text("web"))
    write(tmp_path / "b.yaml", policy_text("web", "team"))
    problems = problems_of([tmp_path], default_namespace="team")
    assert [problem.obj for problem in problems] == ["team/web"]
    assert [policy.key for policy in load_policies([tmp_path])] == ["default/web", "team/web"]


def test_the_same_name_in_two_namespaces_is_not_a_duplicate(tmp_path):
    write(tmp_path / "all.yaml", policy_text("web", "a") + "---\n" + policy_text("web", "b"))
    assert [policy.key for policy in load_policies([tmp_path])] == ["a/web", "b/web"]


def test_loaded_policies_carry_the_manifest_with_api_defaults(tmp_path):
    spec = ("{podSelector: {}, egress: [{to: [{ipBlock: {cidr: 10.0.0.1/8, except: [10.1.0.0/16]}}],"
            " ports: [{port: 53, protocol: UDP}, {port: 80}]}]}")
    (policy,) = load_policies([write(tmp_path / "p.yaml", policy_text("dns", "shop", spec))])
    assert policy.policy_types == frozenset(("Ingress", "Egress"))
    assert policy.egress[0].peers == (IPBlockPeer("10.0.0.0/8", ("10.1.0.0/16",)),)
    assert policy.egress[0].ports == (PortSpec("UDP", 53), PortSpec("TCP", 80))


def test_objects_are_validated_and_named_by_their_source():
    good = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "a"},
            "spec": {"podSelector": {}}}
    bad = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "b"},
           "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 0}]}]}}
    assert [policy.key for policy in policies_from_objects([good, {"kind": "List", "items": []}], "policies")] == ["default/a"]
    with pytest.raises(InputError) as caught:
        policies_from_objects([good, bad, "text"], "policies", default_namespace="team")
    assert [(problem.file, problem.obj, problem.field, problem.line) for problem in caught.value.problems] == [
        ("policies[1]", "team/b", "spec.ingress[0].ports[0].port", None),
        ("policies[2]", "", "", None),
    ]
