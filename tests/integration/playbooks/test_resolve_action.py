# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""netpol_resolve's two paths give one result: in the controller's worker (its action plugin, when the
task runs on the controller) and as a module (any other case; here forced by a task environment, which
only a module process can honour).

Each playbook runs the same task both ways on localhost, as the enforce playbook does, and the test
compares what Ansible registered: the same result, key for key. Which path ran is read off the
connection's log (-vvv): a module is a command the local connection executes, the worker runs none.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

WEB = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: %(name)s, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.1/8}}]
    ports: [{protocol: TCP, port: %(port)s}]
"""
NOBODY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: nobody, namespace: x}
spec: {podSelector: {matchLabels: {app: none}}}
"""
CLUSTER = {
    "namespaces": [{"metadata": {"name": "x"}}],
    "pods": [{"metadata": {"name": "a", "namespace": "x", "labels": {"app": "a"}}, "spec": {"nodeName": "node-1"},
              "status": {"phase": "Running", "podIP": "10.244.1.10"}}],
    "nodes": [{"metadata": {"name": "node-1"}}],
}
MODULE_PROCESS = {"KUBENET_NETPOL_TEST_MODULE_PATH": "1"}


def both_ways(tmp_path, args):
    """{path: registered result} of the task run in the worker and as a module, and the run's output."""
    tasks = []
    for path, environment in (("worker", {}), ("module", MODULE_PROCESS)):
        tasks.append({"name": path, "kubenet.netpol.netpol_resolve": args, "environment": environment,
                      "register": path, "ignore_errors": True})
    tasks.append({"ansible.builtin.copy": {"content": "{{ {'worker': worker, 'module': module} | to_json }}",
                                           "dest": str(tmp_path / "results.json")}})
    playbook = tmp_path / "resolve.yml"
    playbook.write_text(json.dumps([{"hosts": "localhost", "connection": "local", "gather_facts": False,
                                     "tasks": tasks}]))
    run = subprocess.run(["ansible-playbook", "-vvv", str(playbook)], capture_output=True, text=True, check=False,
                         timeout=300, env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
    assert run.returncode == 0, run.stdout + run.stderr
    worker_log = run.stdout.split("TASK [worker]", 1)[1].split("TASK [module]", 1)[0]
    module_log = run.stdout.split("TASK [module]", 1)[1].split("TASK [ansible.builtin.copy]", 1)[0]
    assert " EXEC " not in worker_log, "the task left the controller's worker:\n" + worker_log
    assert " EXEC " in module_log, "the task did not run as a module:\n" + module_log
    return json.loads((tmp_path / "results.json").read_text()), run.stdout + run.stderr


def assert_same_both_ways(results):
    assert results["worker"] == results["module"]


def write_policies(tmp_path, *texts):
    directory = tmp_path / "policies"
    directory.mkdir()
    for number, text in enumerate(texts):
        (directory / ("%d.yaml" % number)).write_text(text)
    return str(directory)


def test_a_plan_with_its_warnings_is_the_same_both_ways(tmp_path):
    policies = write_policies(tmp_path, WEB % {"name": "web", "port": 80}, NOBODY)
    results, output = both_ways(tmp_path, {"policies": [policies], "cluster": CLUSTER})
    assert_same_both_ways(results)
    plan = results["worker"]["plan"]
    # By hand: web selects x/a, the only pod, on node-1; nobody selects no pod.
    assert results["worker"]["counts"]["isolated_ingress"] == 1
    assert list(plan["nodes"]) == ["node-1"]
    assert [item["field"] for item in results["worker"]["input_warnings"]] == ["spec.ingress[0].from[0].ipBlock.cidr"]
    assert "policy x/nobody selects no pod" in results["worker"]["warnings"]
    assert "[WARNING]: policy x/nobody selects no pod" in output


def test_invalid_input_fails_the_same_both_ways_with_every_problem(tmp_path):
    policies = write_policies(tmp_path, WEB % {"name": "web", "port": 0}, WEB % {"name": "Web2", "port": 80})
    results, _output = both_ways(tmp_path, {"policies": [policies], "cluster": CLUSTER})
    assert_same_both_ways(results)
    worker = results["worker"]
    assert worker["failed"] is True
    assert sorted(problem["field"] for problem in worker["problems"]) == ["metadata.name", "spec.ingress[0].ports[0].port"]


def test_a_secret_option_is_masked_in_the_result_both_ways(tmp_path):
    # The token is not used with cluster objects, but the value of a no_log option is masked wherever
    # it shows up in a result: here it is a policy's name.
    policies = write_policies(tmp_path, WEB % {"name": "token-4711", "port": 80})
    results, _output = both_ways(tmp_path, {"policies": [policies], "cluster": CLUSTER, "api_key": "token-4711"})
    assert_same_both_ways(results)
    # As AnsibleModule masks: values, not dict keys; warnings are shown as written.
    assert results["worker"]["plan"]["nodes"]["node-1"]["pods"][0]["ingress"] == ["x/********"]


@pytest.mark.parametrize("args, words", [
    ({"cluster": CLUSTER, "snapshot": "/nonexistent.json"}, "mutually exclusive: snapshot|cluster|api"),
    ({"policies": []}, "one of the following is required: snapshot, cluster, api"),
    ({"cluster": CLUSTER, "policy_source": "git"}, "policy_source must be one of"),
    ({"cluster": CLUSTER, "nodes": ["node-9"]}, "nodes: not in the cluster facts: node-9"),
])
def test_bad_options_fail_both_ways(tmp_path, args, words):
    results, _output = both_ways(tmp_path, args)
    for path in ("worker", "module"):
        assert results[path]["failed"] is True
        assert words in results[path]["msg"], (path, results[path]["msg"])
