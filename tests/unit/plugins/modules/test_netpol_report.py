# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""netpol_report run as Ansible runs it: main() with module arguments, result captured.

The cluster: namespace shop (Deployment web: web-5d8f-a, a canary, and web-5d8f-b; StatefulSet db:
db-0) and ops (a bare pod, probe). The policies let app=web reach db on TCP 5432, team=ops reach web
on TCP 80 (web-ingress) and the canary on TCP 8080 (canary-extra); the baseline lacks canary-extra.
"""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.kubenet.netpol.plugins.modules import netpol_report
from module_runner import module_runner

OUTPUT_FILES = ["diff.json", "diff.md", "report.html", "report.json", "report.md"]


def pod_object(name, namespace, labels, ip, node, owner=None):
    metadata = {"name": name, "namespace": namespace, "labels": labels}
    if owner:
        metadata["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1], "uid": name, "controller": True}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": {"nodeName": node},
            "status": {"phase": "Running", "podIP": ip}}


PODS = [pod_object("web-5d8f-a", "shop", {"app": "web", "pod-template-hash": "5d8f", "canary": "true"}, "10.244.1.10", "n1",
                   ("ReplicaSet", "web-5d8f")),
        pod_object("web-5d8f-b", "shop", {"app": "web", "pod-template-hash": "5d8f"}, "10.244.2.10", "n2", ("ReplicaSet", "web-5d8f")),
        pod_object("db-0", "shop", {"app": "db"}, "10.244.1.11", "n1", ("StatefulSet", "db")),
        pod_object("probe", "ops", {"app": "probe"}, "10.244.2.11", "n2")]
NAMESPACES = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"team": "shop"}}},
              {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ops", "labels": {"team": "ops"}}}]
NODES = [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}} for name in ("n1", "n2")]
POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: {name}, namespace: shop}}
spec:
  podSelector: {{matchLabels: {selector}}}
  ingress:
    - from: [{peer}]
      ports: [{{port: {port}}}]
"""
POLICIES = {
    "db-ingress.yaml": POLICY.format(name="db-ingress", selector="{app: db}", peer="{podSelector: {matchLabels: {app: web}}}", port=5432),
    "web-ingress.yaml": POLICY.format(name="web-ingress", selector="{app: web}", peer="{namespaceSelector: {matchLabels: {team: ops}}}",
                                      port=80),
    "canary-extra.yaml": POLICY.format(name="canary-extra", selector="{canary: 'true'}",
                                       peer="{namespaceSelector: {matchLabels: {team: ops}}}", port=8080),
}
EXPECTATIONS = """\
expectations:
  - name: web reaches the database
    from: {namespace: shop, workload: web}
    to: {namespace: shop, workload: db}
    ports: [TCP/5432]
    expect: allowed
  - name: ops reaches every web pod on 8080
    from: {namespace: ops}
    to: {namespace: shop, workload: web}
    ports: [TCP/8080]
    expect: allowed
"""


@pytest.fixture
def run(monkeypatch):
    """Run the module with these arguments; its result, with failed and the warnings it raised."""
    return module_runner(monkeypatch, netpol_report)


@pytest.fixture
def repo(tmp_path):
    """A policy repository (policies/, base/ without canary-extra, expectations.yaml) and a snapshot; their paths."""
    for directory, names in (("policies", list(POLICIES)), ("base", ["db-ingress.yaml", "web-ingress.yaml"])):
        os.makedirs(tmp_path / directory)
        for name in names:
            (tmp_path / directory / name).write_text(POLICIES[name], encoding="utf-8")
    (tmp_path / "expectations.yaml").write_text(EXPECTATIONS, encoding="utf-8")
    (tmp_path / "cluster.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": NAMESPACES + PODS + NODES}),
                                           encoding="utf-8")
    return {name: str(tmp_path / name) for name in ("policies", "base", "expectations.yaml", "cluster.json", "out")}


def args(repo, **extra):
    return dict({"policies": [repo["policies"]], "snapshot": repo["cluster.json"], "output_dir": repo["out"]}, **extra)


def cell(result, ports, source, destination):
    matrix = next(matrix for matrix in result["report"]["matrices"] if matrix["ports"] == ports)
    return next(item for item in matrix["cells"] if (item["from"], item["to"]) == (source, destination))


def test_report_diff_and_files(run, repo):
    result = run(args(repo, baseline_policies=[repo["base"]], ports=["TCP/80", "TCP/8080"]))
    assert result["failed"] is False
    assert result["changed"] is True
    assert [item["path"] for item in result["files"]] == [os.path.join(repo["out"], name) for name in OUTPUT_FILES]
    assert sorted(os.listdir(repo["out"])) == OUTPUT_FILES
    assert [(item["id"], item["kind"]) for item in result["report"]["workloads"]] == [
        ("ops/probe", "Pod"), ("shop/db", "StatefulSet"), ("shop/web", "Deployment")]
    # Only the canary takes team=ops on 8080: partial, and its rule located in its file.
    found = cell(result, ["TCP/8080"], "ops/probe", "shop/web")
    assert (found["verdict"], found["pairs"], found["allowed_pairs"]) == ("partial", 2, 1)
    assert result["report"]["reasons"][found["allowed_by"][1]] == {
        "kind": "rule", "direction": "ingress", "policy": "shop/canary-extra", "rule": 0, "file": "policies/canary-extra.yaml",
        "line": 7, "text": "ingress allowed by shop/canary-extra rule 0"}
    # The baseline lacks canary-extra: probe -> the canary on 8080 is newly allowed, nothing else changes.
    assert [(item["change"], item["from"], item["to"], item["ports"], item["pairs"]) for item in result["diff"]["changes"]] == [
        ("newly allowed", "ops/probe", "shop/web", ["TCP/8080"], 1)]
    with open(os.path.join(repo["out"], "diff.md"), encoding="utf-8") as handle:
        assert "**1 newly allowed** (1 pod pairs)" in handle.read()
    with open(os.path.join(repo["out"], "report.json"), encoding="utf-8") as handle:
        assert json.load(handle) == result["report"]
    assert result["violations"] == [] and result["input_warnings"] == []
    # The same inputs again: every file is already what it would be.
    again = run(args(repo, baseline_policies=[repo["base"]], ports=["TCP/80", "TCP/8080"]))
    assert again["changed"] is False and not any(item["changed"] for item in again["files"])


def test_check_mode_writes_nothing(run, repo):
    result = run(args(repo, _ansible_check_mode=True))
    assert result["failed"] is False
    assert result["changed"] is True
    assert [os.path.basename(item["path"]) for item in result["files"] if item["changed"]] == ["report.html", "report.json", "report.md"]
    assert not os.path.exists(repo["out"])
    assert result["summary"]["workloads"] == 3


def test_violated_expectations_fail_after_writing_the_files(run, repo):
    result = run(args(repo, expectations=repo["expectations.yaml"]))
    assert result["failed"] is True
    # probe -> web-5d8f-b on 8080: web-ingress isolates it and opens 80 only.
    assert result["msg"].splitlines() == [
        "1 of 2 expectations violated:",
        "%s:7: expectation 'ops reaches every web pod on 8080' (namespace=ops -> namespace=shop, workload=web, TCP/8080: allowed)"
        " is violated by:" % repo["expectations.yaml"],
        "  - ops/probe -> shop/web TCP/8080 (1 pod pair): ops/probe -> shop/web-5d8f-b TCP/8080 (IPv4): ops/probe is not isolated"
        " for egress; shop/web-5d8f-b is isolated for ingress by shop/web-ingress; no ingress rule of those policies allows this traffic",
    ]
    assert [item["name"] for item in result["violations"]] == ["ops reaches every web pod on 8080"]
    assert sorted(os.listdir(repo["out"])) == ["report.html", "report.json", "report.md"]
    assert result["summary"]["expectations"] == {"checked": 2, "violated": 1}


def test_violations_can_be_reported_without_failing(run, repo):
    result = run(args(repo, expectations=repo["expectations.yaml"], fail_on_violations=False))
    assert result["failed"] is False
    assert [item["passed"] for item in result["report"]["expectations"]] == [True, False]


def test_invalid_inputs_fail_with_every_problem_located(run, repo, tmp_path):
    bad_expectations = "expectations:\n  - name: x\n    from: {namespace: ops}\n    expect: allow\n"
    (tmp_path / "expectations.yaml").write_text(bad_expectations, encoding="utf-8")
    (tmp_path / "policies" / "web-ingress.yaml").write_text(POLICIES["web-ingress.yaml"].replace("port: 80", "port: 0"),
                                                            encoding="utf-8")
    result = run(args(repo, expectations=repo["expectations.yaml"]))
    assert result["failed"] is True
    assert [(os.path.basename(item["file"]), item["line"], item["field"]) for item in result["problems"]] == [
        ("web-ingress.yaml", 8, "spec.ingress[0].ports[0].port"),
        ("expectations.yaml", 2, "expectations[0].to"),
        ("expectations.yaml", 4, "expectations[0].expect"),
    ]
    assert not os.path.exists(repo["out"])


def test_a_bad_ports_option_is_named(run, repo):
    result = run(args(repo, ports=["TCP/80", "tcp/443"]))
    assert result["failed"] is True
    assert result["msg"] == "ports[1]: 'tcp/443': the protocol must be one of TCP, UDP, SCTP (case matters)"


def test_cluster_objects_and_no_output_dir(run, repo):
    cluster = {"namespaces": NAMESPACES, "pods": PODS, "nodes": NODES}
    extra = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "nobody", "namespace": "shop"},
             "spec": {"podSelector": {"matchLabels": {"app": "nothing"}}}}
    result = run({"policies": [repo["policies"]], "cluster": cluster, "policy_objects": [extra], "ports": ["TCP/5432"]})
    assert result["failed"] is False and result["changed"] is False and result["files"] == []
    assert cell(result, ["TCP/5432"], "shop/web", "shop/db")["verdict"] == "allowed"
    assert result["warnings"] == ["policy_objects[0]: shop/nobody: spec.podSelector: selects no pod: no running pod of namespace"
                                  " shop matches it; the policy isolates nothing [selects-no-pod]"]
    assert result["diff"] is None
