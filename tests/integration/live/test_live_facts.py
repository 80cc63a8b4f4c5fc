# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""netpol_resolve's live facts and the k8s_nodes inventory against a real kube-apiserver.

The lab's three-node scenario is written to the server as controllers and kubelets would write it;
what the collection reads back must be that cluster. Every API failure must stop the run before a
plan exists: an error is never read as "no pods".
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading

import pytest
from kubernetes import client as k8s_client

from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.live import read_objects
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import InputError
from netpol_lab.apiserver import create_policies, populate
from netpol_lab.scenario import load_scenario

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCENARIO = os.path.join(ROOT, "tests", "integration", "lab", "scenarios", "three-nodes-policies.yaml")


@pytest.fixture(scope="module")
def lab_cluster(server):
    scenario = load_scenario(SCENARIO)
    populate(server.client(), scenario.cluster)
    create_policies(server.client(), scenario.manifests)
    return scenario


def resolve(tmp_path, args):
    """netpol_resolve as ansible runs it (a one-task playbook on localhost); its registered result."""
    playbook = tmp_path / "resolve.yml"
    result_path = tmp_path / "result.json"
    playbook.write_text(json.dumps([{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "tasks": [{"kubenet.netpol.netpol_resolve": args, "register": "resolved", "ignore_errors": True},
                  {"ansible.builtin.copy": {"content": "{{ resolved | to_json }}", "dest": str(result_path)}}]}]))
    run = subprocess.run(["ansible-playbook", str(playbook)], capture_output=True, text=True, check=False, timeout=300,
                         env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(result_path.read_text()), run.stdout + run.stderr


def admin(server):
    return {"host": server.url, "api_key": server.admin_token, "ca_cert": server.ca}


def test_live_facts_are_the_cluster_written_and_its_policies_are_enforced_when_asked(server, lab_cluster, tmp_path):
    result, output = resolve(tmp_path, dict(admin(server), api=True, policy_source="cluster"))
    assert result.get("failed") is not True, result.get("msg")
    assert server.admin_token not in output + json.dumps(result)  # no_log: the token is never shown
    plan = result["plan"]
    assert sorted(plan["nodes"]) == ["node-1", "node-2", "node-3"]
    listed = sorted(pod["pod"] for node in plan["nodes"].values() for pod in node["pods"])
    assert listed == sorted(pod.key for pod in lab_cluster.cluster.pods if pod.selectable)
    assert sorted(plan["policies"]) == sorted(policy.key for policy in lab_cluster.policies)
    # The repository is the default source: with none given, nothing is enforced.
    result, _output = resolve(tmp_path, dict(admin(server), api=True))
    assert result["plan"]["policies"] == {}


def test_a_kubeconfig_with_a_client_certificate_works_too(server, lab_cluster, tmp_path):
    result, _output = resolve(tmp_path, {"api": True, "kubeconfig": server.kubeconfig("cert")})
    assert result.get("failed") is not True, result.get("msg")
    assert result["counts"]["nodes"] == 3


def test_the_k8s_auth_environment_variables_are_read(server, lab_cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("K8S_AUTH_HOST", server.url)
    monkeypatch.setenv("K8S_AUTH_API_KEY", server.admin_token)
    monkeypatch.setenv("K8S_AUTH_SSL_CA_CERT", server.ca)
    result, _output = resolve(tmp_path, {"api": True})
    assert result.get("failed") is not True, result.get("msg")
    assert result["counts"]["nodes"] == 3


def test_forbidden_stops_the_run_with_the_role_it_needs(server, lab_cluster, tmp_path):
    result, output = resolve(tmp_path, dict(admin(server), api=True, api_key=server.restricted_token))
    assert result["failed"] is True and "plan" not in result
    assert "HTTP 403" in result["msg"] and "docs/rbac.md" in result["msg"]
    assert server.restricted_token not in output + json.dumps(result)


def test_an_unreachable_server_stops_the_run(server, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once the probe closes
    result, _output = resolve(tmp_path, dict(admin(server), api=True, host="https://127.0.0.1:%d" % port))
    assert result["failed"] is True and "plan" not in result and "listing namespaces failed" in result["msg"]


def test_a_server_that_does_not_answer_times_out_and_stops_the_run(server, tmp_path):
    """A socket that accepts connections and never answers: the request timeout ends the wait."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        result, _output = resolve(tmp_path, dict(admin(server), api=True, request_timeout=2,
                                                 host="https://127.0.0.1:%d" % listener.getsockname()[1]))
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()
    assert result["failed"] is True and "plan" not in result
    assert "timed out" in result["msg"].lower() or "Timeout" in result["msg"]


def test_more_objects_than_a_page_are_all_read(server, lab_cluster):
    core = k8s_client.CoreV1Api(server.client())
    core.create_namespace(body={"metadata": {"name": "many"}})
    core.create_namespaced_service_account("many", body={"metadata": {"name": "default"}})
    for number in range(75):
        core.create_namespaced_pod("many", body={"metadata": {"name": "p%d" % number},
                                                 "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "x"}]}})
    _host, objects = read_objects(admin(server), kinds=("Pod",), page_size=20)
    names = [pod["metadata"]["name"] for pod in objects["Pod"] if pod["metadata"]["namespace"] == "many"]
    assert sorted(names) == sorted("p%d" % number for number in range(75))
    assert len(objects["Pod"]) == 75 + len(lab_cluster.cluster.pods)


def test_an_expired_continue_token_is_a_clear_error_not_a_short_list(server, lab_cluster, monkeypatch):
    """etcd compaction cannot be forced here in a test's time, so the 410 the server sends for an expired
    continue token is injected on the second page; the first page must not be taken for the whole list."""
    original = k8s_client.CoreV1Api.list_pod_for_all_namespaces

    def second_page_gone(self, **kwargs):
        if kwargs.get("_continue"):
            raise k8s_client.exceptions.ApiException(status=410, reason="Gone")
        return original(self, **kwargs)

    monkeypatch.setattr(k8s_client.CoreV1Api, "list_pod_for_all_namespaces", second_page_gone)
    with pytest.raises(InputError) as caught:
        read_objects(admin(server), kinds=("Pod",), page_size=2)
    assert "HTTP 410" in str(caught.value) and "run again" in str(caught.value)


def plain(value):
    """A value as ansible-inventory --list prints it: data read from the API is marked unsafe (never templated)."""
    return value["__ansible_unsafe"] if isinstance(value, dict) and "__ansible_unsafe" in value else value


def test_the_nodes_are_an_inventory(server, lab_cluster, tmp_path):
    source = tmp_path / "cluster.k8s_nodes.yml"
    source.write_text(json.dumps({"plugin": "kubenet.netpol.k8s_nodes", "host": server.url, "api_key": server.admin_token,
                                  "ca_cert": server.ca, "groups": {"first": "netpol_node_name == 'node-1'"}}))
    run = subprocess.run(["ansible-inventory", "-i", str(source), "--list"], capture_output=True, text=True, check=False,
                         timeout=120, env=dict(os.environ, ANSIBLE_INVENTORY_ENABLED="kubenet.netpol.k8s_nodes"))
    assert run.returncode == 0, run.stderr
    inventory = json.loads(run.stdout)
    assert sorted(inventory["netpol_nodes"]["hosts"]) == ["node-1", "node-2", "node-3"]
    host_vars = inventory["_meta"]["hostvars"]
    for node in lab_cluster.cluster.nodes:
        assert plain(host_vars[node.name]["ansible_host"]) == node.addresses[0]
        assert plain(host_vars[node.name]["netpol_node_name"]) == node.name
    assert inventory["first"]["hosts"] == ["node-1"]
