# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""examples/gitops-repo against a real kube-apiserver (v1.34, tests/lab/netpol_lab/apiserver.py)
holding the example's cluster, read with the CI variables K8S_AUTH_HOST, K8S_AUTH_API_KEY and
K8S_AUTH_SSL_CA_CERT of the read-only identity of docs/rbac.md: the review job runs whole, from
the snapshot to the merge request note (on a stand-in of GitLab's notes API), and the
k8s_nodes inventory of the example lists the cluster's nodes."""

from __future__ import annotations

import json

from apiserver_testing import FakeGitLab, load_cluster, restricted_env
from gitops_testing import (CLUSTER_SCENARIO, copy_example, git, gitlab_lines, merge_request, pipeline_env,
                            run_script)

SNAPSHOT = "python3 ci/snapshot.py build/cluster.json"


def _plain(value):
    """A value of `ansible-inventory --list` without the marks of untrusted (API-given) strings."""
    if isinstance(value, dict):
        return value["__ansible_unsafe"] if set(value) == {"__ansible_unsafe"} else {key: _plain(item) for key, item in value.items()}
    return [_plain(item) for item in value] if isinstance(value, list) else value


def _facts(items, namespaces):
    """What a snapshot says of the pods of the given namespaces, of the nodes and of the namespaces' labels."""
    pods = {(item["metadata"]["namespace"], item["metadata"]["name"], item["spec"]["nodeName"], item["status"]["podIP"],
             json.dumps(item["metadata"].get("labels", {}), sort_keys=True))
            for item in items if item["kind"] == "Pod" and item["metadata"]["namespace"] in namespaces}
    nodes = {(item["metadata"]["name"], item["status"]["addresses"][0]["address"]) for item in items if item["kind"] == "Node"}
    labels = {item["metadata"]["name"]: item["metadata"]["labels"] for item in items if item["kind"] == "Namespace"}
    return pods, nodes, labels


def test_the_snapshot_step_reads_the_cluster_with_the_documented_role(server, tmp_path):
    repo = copy_example(tmp_path / "repo")
    result = run_script([SNAPSHOT], repo, pipeline_env(repo, **restricted_env(server)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "snapshot: build/cluster.json: " in result.stdout
    taken = json.loads((repo / "build" / "cluster.json").read_text())
    assert taken["kind"] == "List" and {item["kind"] for item in taken["items"]} == {"Namespace", "Node", "Pod"}
    cluster = load_cluster(CLUSTER_SCENARIO)
    pods, nodes, labels = _facts(taken["items"], cluster.namespaces)
    assert pods == {(pod.namespace, pod.name, pod.node, pod.ips[0], json.dumps(dict(pod.labels), sort_keys=True))
                    for pod in cluster.pods}
    assert nodes == {(node.name, node.addresses[0]) for node in cluster.nodes}
    assert all(labels[name] == dict(namespace.labels) for name, namespace in cluster.namespaces.items())


def test_the_snapshot_step_fails_whole_on_a_bad_token(server, tmp_path):
    repo = copy_example(tmp_path / "repo")
    env = pipeline_env(repo, **restricted_env(server))
    env["K8S_AUTH_API_KEY"] = "not-a-token"
    result = run_script([SNAPSHOT], repo, env)
    assert result.returncode != 0
    assert "listing namespaces failed: HTTP 401" in result.stderr and server.url in result.stderr
    assert not (repo / "build" / "cluster.json").exists(), "no partial snapshot is left for the report"


def test_the_snapshot_step_takes_a_kubeconfig_too(server, tmp_path):
    """Without K8S_AUTH_HOST the kubeconfig of KUBECONFIG is used, as kubectl and the collection do."""
    repo = copy_example(tmp_path / "repo")
    env = pipeline_env(repo, KUBECONFIG=server.kubeconfig("restricted"))
    for name in ("K8S_AUTH_HOST", "K8S_AUTH_API_KEY", "K8S_AUTH_SSL_CA_CERT", "K8S_AUTH_KUBECONFIG"):
        env.pop(name, None)
    result = run_script([SNAPSHOT], repo, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 nodes, 7 pods" in result.stdout


def test_the_k8s_nodes_inventory_lists_the_cluster_nodes(server, tmp_path):
    repo = copy_example(tmp_path / "repo")
    command = "ansible-inventory -i inventory/cluster.k8s_nodes.yml --list"
    result = run_script([command], repo, pipeline_env(repo, **restricted_env(server)))
    assert result.returncode == 0, result.stdout + result.stderr
    inventory = json.loads(result.stdout)
    hostvars = _plain(inventory["_meta"]["hostvars"])
    assert sorted(inventory["netpol_nodes"]["hosts"]) == ["node-1", "node-2"]
    assert sorted(inventory["zone_none"]["hosts"]) == ["node-1", "node-2"]
    addresses = {name: hostvars[name]["ansible_host"] for name in ("node-1", "node-2")}
    assert addresses == {"node-1": "10.10.0.1", "node-2": "10.10.0.2"}
    assert hostvars["node-1"]["ansible_user"] == "netpol" and hostvars["node-1"]["netpol_facts_source"] == "api"

    # What SSH gets for a node of this inventory: the repository's known_hosts, strictly.
    show = "ansible node-1 -i inventory/cluster.k8s_nodes.yml -m ansible.builtin.debug -a var=ansible_ssh_common_args"
    shown = run_script([show], repo, pipeline_env(repo, **restricted_env(server)))
    assert shown.returncode == 0, shown.stdout + shown.stderr
    words = " ".join(shown.stdout.split())  # the YAML output folds long values
    assert "-o UserKnownHostsFile=%s/known_hosts -o StrictHostKeyChecking=yes" % (repo / "inventory") in words

    bad = pipeline_env(repo, **restricted_env(server))
    bad["K8S_AUTH_API_KEY"] = "not-a-token"
    result = run_script([command], repo, bad)
    assert result.returncode != 0 and "HTTP 401" in result.stdout + result.stderr, "never read as no nodes"


def test_the_review_job_runs_whole_and_keeps_one_note_on_the_merge_request(server, tmp_path):
    """The connectivity-diff job of .gitlab-ci.yml, every line of it, then its after_script: the
    note is created, and a second push updates it instead of adding another."""
    def cut_billing_api(clone):
        git(clone, "rm", "-q", "policies/billing/api-from-shop.yaml")

    clone = merge_request(tmp_path, cut_billing_api)
    with FakeGitLab(project=42, merge_request=7, token="note-token") as gitlab:
        env = pipeline_env(clone, CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main", CI_JOB_URL="https://ci.example/jobs/1",
                           CI_API_V4_URL=gitlab.api, CI_PROJECT_ID="42", CI_MERGE_REQUEST_IID="7",
                           NETPOL_NOTE_TOKEN="note-token", **restricted_env(server))
        job = run_script(gitlab_lines("connectivity-diff"), clone, env)
        output = job.stdout + job.stderr
        assert job.returncode != 0, "the change breaks an expectation: " + output
        assert "expectations: 6 checked, 1 violated" in output
        after = run_script(gitlab_lines("connectivity-diff", "after_script"), clone, env)
        assert after.returncode == 0, after.stdout + after.stderr
        assert "gitlab_note: created note 3 on merge request !7" in after.stdout
        (note,) = [note for note in gitlab.notes if note["id"] == 3]
        assert "| shop/web | billing/api | TCP/8443 |" in note["body"] and "1 violated" in note["body"]

        # The author restores the rule: the next pipeline passes and updates the same note.
        git(clone, "revert", "--no-edit", "HEAD")
        git(clone, "clean", "-ffdxq")  # what the runner does before a job (its default GIT_CLEAN_FLAGS)
        env["CI_JOB_URL"] = "https://ci.example/jobs/2"
        job = run_script(gitlab_lines("connectivity-diff"), clone, env)
        assert job.returncode == 0, job.stdout + job.stderr
        after = run_script(gitlab_lines("connectivity-diff", "after_script"), clone, env)
        assert "gitlab_note: updated note 3 on merge request !7" in after.stdout, after.stdout + after.stderr
        assert [note["id"] for note in gitlab.notes] == [1, 2, 3]
        body = gitlab.notes[2]["body"]
        assert "| shop/web | billing/api |" not in body and "Expectations (6 checked, 0 violated)" in body
        assert "https://ci.example/jobs/2" in body
        assert gitlab.notes[0]["body"] == "Looks good to me", "other notes are left alone"
