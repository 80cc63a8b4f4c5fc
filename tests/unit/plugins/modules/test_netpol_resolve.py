# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""netpol_resolve run as Ansible runs it: main() with module arguments, result captured.

Expected plans are read off the fixtures by hand: which pods each policy selects, which
peers each rule admits, on which ports.
"""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.kubenet.netpol.plugins.module_utils.plan.slicing import node_slice
from ansible_collections.kubenet.netpol.plugins.modules import netpol_resolve
from module_runner import module_runner

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
ALLOW_BLUE = os.path.join(FIXTURES, "allow-blue.yaml")
SNAPSHOT = os.path.join(FIXTURES, "snapshot.json")
POLICY_DIR = os.path.join(FIXTURES, "policies")
BAD_PORT = os.path.join(FIXTURES, "invalid", "bad-port.yaml")

# The cluster of the fixtures as kubernetes.core.k8s_info lists it: items carry no kind.
CLUSTER = {
    "namespaces": [{"metadata": {"name": "x", "labels": {"team": "red"}}},
                   {"metadata": {"name": "y", "labels": {"team": "blue"}}}],
    "pods": [
        {"metadata": {"name": "a", "namespace": "x", "labels": {"app": "a"}},
         "spec": {"nodeName": "node-1"}, "status": {"phase": "Running", "podIP": "10.244.1.10"}},
        {"metadata": {"name": "b", "namespace": "x", "labels": {"app": "b"}},
         "spec": {"nodeName": "node-2"}, "status": {"phase": "Running", "podIP": "10.244.2.10"}},
        {"metadata": {"name": "c", "namespace": "y", "labels": {"app": "c"}},
         "spec": {"nodeName": "node-2"}, "status": {"phase": "Running", "podIP": "10.244.2.11"}},
    ],
    "nodes": [{"metadata": {"name": "node-1"}}, {"metadata": {"name": "node-2"}}],
}

# The repository's allow-blue policy against the cluster objects.
BLUE = {"policies": [ALLOW_BLUE], "cluster": CLUSTER}

C_EGRESS = {
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "c-egress", "namespace": "y"},
    "spec": {"podSelector": {"matchLabels": {"app": "c"}}, "policyTypes": ["Egress"],
             "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "x"}},
                                 "podSelector": {"matchLabels": {"app": "a"}}}],
                         "ports": [{"protocol": "TCP", "port": 80}]}]},
}


@pytest.fixture
def run(monkeypatch):
    """Run the module with these arguments; its result, with failed and the warnings it raised."""
    return module_runner(monkeypatch, netpol_resolve)


def slice_policies(result, node):
    return {(entry["policy"], entry["direction"]): entry for entry in node_slice(result["plan"], node)["policies"]}


def pod_entry(result, node, key):
    return next(entry for entry in result["plan"]["nodes"][node]["pods"] if entry["pod"] == key)


def test_plan_isolates_the_selected_pod_and_admits_the_blue_namespace(run):
    result = run(BLUE)
    assert result["failed"] is False
    assert result["changed"] is False
    assert result["counts"] == {"policies": 1, "pods": 3, "nodes": 2, "isolated_ingress": 1, "isolated_egress": 0}
    assert result["plan"]["counts"] == result["counts"]
    plan_nodes = result["plan"]["nodes"]
    assert sorted(plan_nodes) == ["node-1", "node-2"]
    assert plan_nodes["node-1"]["pods"] == [
        {"pod": "x/a", "ips": ["10.244.1.10"], "ingress": ["x/allow-blue"], "egress": []}]
    # No policyTypes and no egress section: the policy isolates for ingress only.
    rules = slice_policies(result, "node-1")
    assert list(rules) == [("x/allow-blue", "ingress")]
    entry = rules[("x/allow-blue", "ingress")]
    assert entry["targets"] == ["x/a"]
    [rule] = entry["rules"]
    [clause] = rule["clauses"]
    assert clause["ports"] == [{"protocol": "TCP", "port": 80, "end_port": 80}]
    assert clause["targets"] is None
    assert clause["peers"]["ip_blocks"] == []
    # team=blue is namespace y, whose only pod is y/c.
    assert result["plan"]["peer_sets"][clause["peers"]["pod_set"]] == ["10.244.2.11"]
    # Nothing on node-2 is selected: its pods are listed, not isolated.
    assert slice_policies(result, "node-2") == {}
    assert [(pod["pod"], pod["ingress"], pod["egress"]) for pod in plan_nodes["node-2"]["pods"]] == [
        ("x/b", [], []), ("y/c", [], [])]


def test_policy_directory_takes_the_default_namespace_against_cluster_objects(run):
    result = run({"policies": [POLICY_DIR], "cluster": CLUSTER, "default_namespace": "x"})
    assert result["failed"] is False
    # deny-all (namespace x by default) selects x/a and x/b in both directions; y/c is untouched.
    assert result["counts"] == {"policies": 1, "pods": 3, "nodes": 2, "isolated_ingress": 2, "isolated_egress": 2}
    assert pod_entry(result, "node-1", "x/a")["ingress"] == ["x/deny-all"]
    assert pod_entry(result, "node-1", "x/a")["egress"] == ["x/deny-all"]
    assert pod_entry(result, "node-2", "y/c")["egress"] == []
    rules = slice_policies(result, "node-2")
    assert rules[("x/deny-all", "ingress")]["rules"] == []
    assert rules[("x/deny-all", "egress")]["targets"] == ["x/b"]


@pytest.mark.parametrize("namespace, fragment", [("X", "DNS-1123 label"), ("a b", "DNS-1123 label"),
                                                 ("x\n-j ACCEPT", "DNS-1123 label"), ("", "DNS-1123 label"),
                                                 ("a" * 64, "at most 63 characters")])
def test_default_namespace_must_be_a_namespace_name(run, namespace, fragment):
    """kubectl apply -n with such a name fails at the API server: so does the run, before any plan."""
    result = run({"policies": [POLICY_DIR], "cluster": CLUSTER, "default_namespace": namespace})
    assert result["failed"] is True and "plan" not in result
    [problem] = result["problems"]
    assert problem["file"] == "default_namespace" and fragment in problem["message"]


def test_by_default_only_the_repository_is_enforced_and_the_clusters_own_policies_are_not(run):
    # Git is the source of truth: the snapshot's c-egress is not in the repository, so it is not enforced.
    result = run({"policies": [POLICY_DIR], "snapshot": SNAPSHOT, "default_namespace": "x"})
    assert result["failed"] is False
    assert result["counts"] == {"policies": 1, "pods": 3, "nodes": 2, "isolated_ingress": 2, "isolated_egress": 2}
    assert "y/c-egress" not in result["plan"]["policies"]


def test_policy_source_cluster_takes_only_the_clusters_policies(run):
    result = run({"policies": [POLICY_DIR], "snapshot": SNAPSHOT, "default_namespace": "x", "policy_source": "cluster"})
    assert result["failed"] is False
    assert sorted(result["plan"]["policies"]) == ["y/c-egress"]


def test_policy_source_both_joins_the_clusters_policies_to_the_repositorys(run):
    result = run({"policies": [POLICY_DIR], "snapshot": SNAPSHOT, "default_namespace": "x", "policy_source": "both"})
    assert result["failed"] is False
    # deny-all isolates x/a and x/b both ways; the snapshot's c-egress isolates y/c for egress.
    assert result["counts"] == {"policies": 2, "pods": 3, "nodes": 2, "isolated_ingress": 2, "isolated_egress": 3}
    entry = slice_policies(result, "node-2")[("y/c-egress", "egress")]
    [clause] = entry["rules"][0]["clauses"]
    # The implied kubernetes.io/metadata.name=x label selects namespace x; app=a there is x/a.
    assert result["plan"]["peer_sets"][clause["peers"]["pod_set"]] == ["10.244.1.10"]
    assert clause["ports"] == [{"protocol": "TCP", "port": 80, "end_port": 80}]


def test_invalid_manifest_fails_naming_file_line_object_and_field(run):
    result = run({"policies": [BAD_PORT], "cluster": CLUSTER})
    assert result["failed"] is True
    [problem] = result["problems"]
    assert problem["file"] == BAD_PORT
    assert problem["line"] == 11
    assert problem["obj"] == "x/web"
    assert problem["field"] == "spec.ingress[0].ports[0].port"
    assert "65535" in problem["message"]
    assert result["msg"] == "%s:11: x/web: spec.ingress[0].ports[0].port: %s" % (BAD_PORT, problem["message"])
    assert "plan" not in result


def test_every_problem_of_every_source_is_reported_at_once(run):
    missing = os.path.join(FIXTURES, "no-such-dir")
    bad_object = dict(C_EGRESS, kind="NetworkPolicies")
    result = run({"policies": [BAD_PORT, missing], "policy_objects": [bad_object],
                  "cluster": dict(CLUSTER, nodes=[{"spec": {}}])})
    assert result["failed"] is True
    located = {(problem["file"], problem["field"]) for problem in result["problems"]}
    assert (BAD_PORT, "spec.ingress[0].ports[0].port") in located
    assert (missing, "") in located
    assert ("policy_objects[0]", "kind") in located
    assert ("cluster.nodes[0]", "metadata") in located
    assert len(result["msg"].splitlines()) == len(result["problems"])


def test_check_mode_returns_the_same_plan_and_changes_nothing(run):
    normal = run(BLUE)
    checked = run(dict(BLUE, _ansible_check_mode=True))
    assert checked["failed"] is False
    assert checked["changed"] is False
    assert checked["plan"] == normal["plan"]


def test_nodes_restricts_the_plan_but_not_the_counts(run):
    result = run(dict(BLUE, nodes=["node-2"]))
    assert result["failed"] is False
    assert list(result["plan"]["nodes"]) == ["node-2"]
    # x/allow-blue selects only x/a, on node-1: node-2 needs no policy and no peer set.
    assert result["plan"]["policies"] == {}
    assert result["plan"]["peer_sets"] == {}
    assert result["counts"]["nodes"] == 2
    assert result["counts"]["isolated_ingress"] == 1


def test_nodes_naming_an_unknown_node_fails(run):
    result = run(dict(BLUE, nodes=["node-1", "node-9"]))
    assert result["failed"] is True
    assert "node-9" in result["msg"]
    assert "node-1" not in result["msg"]


def test_policy_selecting_no_pod_is_a_warning(run):
    nobody = dict(C_EGRESS, metadata={"name": "nobody", "namespace": "y"},
                  spec={"podSelector": {"matchLabels": {"app": "absent"}}})
    result = run(dict(BLUE, policy_objects=[nobody]))
    assert result["failed"] is False
    assert "policy y/nobody selects no pod" in result["warnings"]
    assert result["warnings"] == result["plan"]["warnings"]


def test_same_policy_from_two_sources_counts_once(run):
    result = run({"snapshot": SNAPSHOT, "policy_objects": [C_EGRESS], "policy_source": "both"})
    assert result["failed"] is False
    assert result["counts"]["policies"] == 1
    assert result["input_warnings"] == []


def test_on_a_clash_the_repositorys_definition_wins_with_a_warning_naming_it(run):
    changed = dict(C_EGRESS, spec=dict(C_EGRESS["spec"], policyTypes=["Ingress", "Egress"]))
    result = run({"snapshot": SNAPSHOT, "policy_objects": [changed], "policy_source": "both"})
    assert result["failed"] is False
    assert sorted(result["plan"]["policies"]["y/c-egress"]) == ["egress", "ingress"]  # the repository's policyTypes
    [warning] = result["input_warnings"]
    assert (warning["file"], warning["obj"], warning["field"]) == ("policy_objects[0]", "y/c-egress", "metadata.name")
    assert SNAPSHOT in warning["message"]


def test_two_different_definitions_in_the_repository_fail(run, tmp_path):
    changed = dict(C_EGRESS, spec=dict(C_EGRESS["spec"], policyTypes=["Ingress", "Egress"]))
    result = run({"cluster": CLUSTER, "policy_objects": [C_EGRESS], "policies": [write_policy(tmp_path, changed)]})
    assert result["failed"] is True
    [problem] = result["problems"]
    assert (problem["obj"], problem["field"]) == ("y/c-egress", "metadata.name")


def write_policy(tmp_path, manifest):
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(manifest))
    return str(path)


@pytest.mark.parametrize("args", [
    {"cluster": CLUSTER, "snapshot": SNAPSHOT},
    {"policies": [POLICY_DIR]},
])
def test_exactly_one_source_of_cluster_facts(run, args):
    result = run(args)
    assert result["failed"] is True
    assert "snapshot" in result["msg"] and "cluster" in result["msg"]


def test_missing_netaddr_is_reported_as_a_missing_library(run, monkeypatch):
    monkeypatch.setattr(netpol_resolve, "missing_libraries",
                        lambda needed: [("netaddr", "Traceback: No module named 'netaddr'")])
    result = run(BLUE)
    assert result["failed"] is True
    assert "netaddr" in result["msg"]
    assert "plan" not in result


HOST_BITS = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-office, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress:
  - from:
    - ipBlock: {cidr: 10.20.30.40/16}
"""


def test_what_the_api_accepts_with_a_warning_is_enforced_as_it_reads_it_and_warned_about(run, tmp_path):
    path = tmp_path / "office.yaml"
    path.write_text(HOST_BITS)
    result = run({"policies": [str(path)], "cluster": CLUSTER})
    assert result["failed"] is False
    [warning] = result["input_warnings"]
    assert (warning["file"], warning["line"], warning["obj"], warning["field"], warning["severity"]) == (
        str(path), 8, "x/from-office", "spec.ingress[0].from[0].ipBlock.cidr", "warning")
    assert any("10.20.0.0/16" in text for text in result["warnings"])
    # Enforced as the API server reads it: the network, host bits cleared.
    [clause] = result["plan"]["policies"]["x/from-office"]["ingress"][0]["clauses"]
    assert clause["peers"]["ip_blocks"] == [{"cidr": "10.20.0.0/16", "except": []}]


def test_strict_makes_every_warning_an_error(run, tmp_path):
    path = tmp_path / "office.yaml"
    path.write_text(HOST_BITS)
    result = run({"policies": [str(path)], "cluster": CLUSTER, "strict": True})
    assert result["failed"] is True and "plan" not in result
    [problem] = result["problems"]
    assert problem["severity"] == "error" and "strict" in problem["message"] and problem["line"] == 8
