# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real kube-apiserver (v1.34.4, built by scripts/build-kube) through the official client:
what the lab writes reads back unchanged, lists page, RBAC and both kinds of authentication are
enforced (with docs/rbac.md's own YAML), and the server's defaults are real ones."""

from __future__ import annotations

import os
import re
import socket
import time

import pytest
import yaml
from kubernetes import client, utils
from kubernetes.client.exceptions import ApiException

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import Cluster
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.facts import cluster_from_api_objects
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.live import read_cluster, read_objects
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.manifests import policies_from_documents
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import InputError
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.yamldoc import Document
from netpol_lab.apiserver import (ApiServerError, CERT_USER, RESTRICTED_USER, create_namespace, create_policies,
                                  populate, running_apiserver)
from netpol_lab.scenario import load_scenario

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SCENARIO = os.path.join(ROOT, "tests", "integration", "lab", "scenarios", "three-nodes-policies.yaml")
RBAC_DOC = os.path.join(ROOT, "docs", "rbac.md")
RBAC_WAIT = 15  # seconds: RBAC's authorizer sees a new binding through its informers, not at once


@pytest.fixture(scope="module")
def lab(server):
    """The scenario's namespaces, nodes, pods and policies, written once for the module."""
    scenario = load_scenario(SCENARIO)
    api = server.client("admin")
    populate(api, scenario.cluster)
    create_policies(api, scenario.manifests)
    return scenario


def _status(call, *args, **kwargs):
    """The HTTP status of a call: 200, or the status of its ApiException."""
    try:
        call(*args, **kwargs)
    except ApiException as exc:
        return exc.status
    return 200


def _objects(api, listing, kind):
    """A list's items as plain API dicts (camelCase, as kubectl prints them), each with its kind."""
    return [dict(api.sanitize_for_serialization(item), kind=kind) for item in listing.items]


def _scenario_part(cluster, namespaces):
    """The part of a Cluster in the given namespaces (the server also has default, kube-system, ...)."""
    return Cluster({name: ns for name, ns in cluster.namespaces.items() if name in namespaces},
                   tuple(sorted((pod for pod in cluster.pods if pod.namespace in namespaces), key=lambda pod: pod.key)),
                   tuple(sorted(cluster.nodes, key=lambda node: node.name)))


def test_the_server_is_the_pinned_release(server):
    version = client.VersionApi(server.client("admin")).get_code()
    assert (version.git_version, version.emulation_major, version.emulation_minor) == ("v1.34.4", "1", "34")


def test_the_lab_cluster_reads_back_as_written(server, lab):
    api = server.client("admin")
    core = client.CoreV1Api(api)
    cluster = lab.cluster
    for name, namespace in cluster.namespaces.items():
        assert core.read_namespace(name).metadata.labels == dict(namespace.labels)
    for node in cluster.nodes:
        found = core.read_node(node.name)
        assert found.spec.pod_cidrs == list(node.pod_cidrs)
        assert [(address.type, address.address) for address in found.status.addresses] == \
            [("InternalIP", address) for address in node.addresses]
    for pod in cluster.pods:
        found = core.read_namespaced_pod(pod.name, pod.namespace)
        assert (found.metadata.labels, found.spec.node_name, bool(found.spec.host_network)) == \
            (dict(pod.labels), pod.node, pod.host_network)
        assert (found.status.phase, [item.ip for item in found.status.pod_ips]) == (pod.phase, list(pod.ips))
    # The project's own readers take the same facts from the server: the objects as listed...
    listed = (_objects(api, core.list_namespace(), "Namespace") + _objects(api, core.list_node(), "Node")
              + _objects(api, core.list_pod_for_all_namespaces(), "Pod"))
    written = _scenario_part(cluster, cluster.namespaces)
    assert _scenario_part(cluster_from_api_objects(listed), cluster.namespaces) == written
    # ...and live mode's reader, policies included.
    live_cluster, policies = read_cluster({"kubeconfig": server.kubeconfig("admin")}, with_policies=True)
    assert _scenario_part(live_cluster, cluster.namespaces) == written
    assert sorted(doc.obj["metadata"]["name"] for doc in policies) == ["default-deny-ingress", "from-a"]


def test_lists_page_with_limit_and_continue(server):
    api = server.client("admin")
    core = client.CoreV1Api(api)
    create_namespace(core, {"metadata": {"name": "paging"}})
    for number in range(120):
        core.create_namespaced_pod("paging", body={"metadata": {"name": "p%03d" % number},
                                                   "spec": {"containers": [{"name": "main", "image": "lab"}]}})
    pages, token = [], None
    while True:
        page = core.list_namespaced_pod("paging", limit=50, _continue=token)
        pages.append(([pod.metadata.name for pod in page.items], page.metadata.remaining_item_count))
        token = page.metadata._continue  # pylint: disable=protected-access
        if not token:
            break
    assert [(len(names), remaining) for names, remaining in pages] == [(50, 70), (50, 20), (20, None)]
    assert [name for names, _remaining in pages for name in names] == ["p%03d" % number for number in range(120)]
    # live mode's pager walks the same pages.
    _host, objects = read_objects({"kubeconfig": server.kubeconfig("admin")}, kinds=("Pod",), page_size=50)
    assert sum(1 for pod in objects["Pod"] if pod["metadata"]["namespace"] == "paging") == 120


def _rbac_documents():
    """The YAML block of docs/rbac.md: the doc is what this test applies."""
    with open(RBAC_DOC, encoding="utf-8") as stream:
        blocks = re.findall(r"^```yaml\n(.*?)^```$", stream.read(), flags=re.M | re.S)
    assert len(blocks) == 1, "docs/rbac.md holds exactly one yaml block, the one tested here"
    return [document for document in yaml.safe_load_all(blocks[0]) if document]


def _wait_until_allowed(call):
    deadline = time.monotonic() + RBAC_WAIT
    while _status(call) == 403 and time.monotonic() < deadline:
        time.sleep(0.2)
    return _status(call)


def test_the_restricted_identity_needs_exactly_the_documented_role(server, lab):
    admin = server.client("admin")
    restricted = server.client("restricted")
    core, networking = client.CoreV1Api(restricted), client.NetworkingV1Api(restricted)
    auth = {"kubeconfig": server.kubeconfig("restricted")}
    whoami = client.AuthenticationV1Api(restricted).create_self_subject_review(body={})
    assert whoami.status.user_info.username == RESTRICTED_USER

    assert _status(core.list_pod_for_all_namespaces) == 403
    with pytest.raises(InputError, match="HTTP 403.*docs/rbac.md"):
        read_cluster(auth)

    for document in _rbac_documents():
        utils.create_from_dict(admin, document)
    assert _wait_until_allowed(core.list_pod_for_all_namespaces) == 200
    assert {_status(call) for call in (core.list_namespace, core.list_node,
                                       networking.list_network_policy_for_all_namespaces)} == {200}
    live_cluster, policies = read_cluster(auth, with_policies=True)
    assert _scenario_part(live_cluster, lab.cluster.namespaces) == _scenario_part(lab.cluster, lab.cluster.namespaces)
    assert len(policies) == len(lab.manifests)
    # Nothing more than listing those four.
    assert _status(core.list_secret_for_all_namespaces) == 403
    assert _status(core.read_namespaced_pod, "a", "x") == 403
    intruder = {"metadata": {"name": "intruder"}, "spec": {"containers": [{"name": "c", "image": "lab"}]}}
    assert _status(core.create_namespaced_pod, "x", intruder) == 403
    assert _status(networking.delete_namespaced_network_policy, "from-a", "z") == 403

    # The doc's own recipe: a token of the real ServiceAccount (TokenRequest, as `kubectl create
    # token` does), signed with the server's service-account key, gets the same rights.
    admin_core = client.CoreV1Api(admin)
    admin_core.create_namespace(body={"metadata": {"name": "netpol"}})
    admin_core.create_namespaced_service_account("netpol", body={"metadata": {"name": "netpol-resolve"}})
    token = admin_core.create_namespaced_service_account_token(
        "netpol-resolve", "netpol", body={"spec": {"expirationSeconds": 600}}).status.token
    service_account = client.CoreV1Api(client.ApiClient(_token_configuration(server, token)))
    assert _status(service_account.list_pod_for_all_namespaces) == 200
    assert _status(service_account.list_secret_for_all_namespaces) == 403


def _token_configuration(server, token):
    configuration = client.Configuration()
    configuration.host, configuration.ssl_ca_cert = server.url, server.ca
    configuration.api_key = {"authorization": "Bearer " + token}
    return configuration


def test_authentication_by_client_certificate_and_tokens(server):
    cert = server.client("cert")
    review = client.AuthenticationV1Api(cert).create_self_subject_review(body={})
    assert review.status.user_info.username == CERT_USER
    assert "system:masters" in review.status.user_info.groups
    assert _status(client.CoreV1Api(cert).list_node) == 200
    # Credentials are checked: a wrong token is refused, no credentials is anonymous (and forbidden).
    assert _status(client.CoreV1Api(client.ApiClient(_token_configuration(server, "wrong"))).list_node) == 401
    anonymous = client.Configuration()
    anonymous.host, anonymous.ssl_ca_cert = server.url, server.ca
    assert _status(client.CoreV1Api(client.ApiClient(anonymous)).list_node) == 403


def test_the_server_fills_in_its_defaults(server, lab):
    api = server.client("admin")
    core = client.CoreV1Api(api)
    pod = core.read_namespaced_pod("a", "x")
    assert (pod.spec.restart_policy, pod.spec.dns_policy, pod.spec.scheduler_name,
            pod.spec.termination_grace_period_seconds, pod.spec.containers[0].image_pull_policy) == \
        ("Always", "ClusterFirst", "default-scheduler", 30, "Always")
    # Admission plugins on by default: ServiceAccount, DefaultTolerationSeconds, TaintNodesByCondition.
    assert pod.spec.service_account_name == "default"
    assert {(item.key, item.effect, item.toleration_seconds) for item in pod.spec.tolerations} == {
        ("node.kubernetes.io/not-ready", "NoExecute", 300), ("node.kubernetes.io/unreachable", "NoExecute", 300)}
    assert [(taint.key, taint.effect) for taint in core.read_node("node-1").spec.taints] == \
        [("node.kubernetes.io/not-ready", "NoSchedule")]
    # A hostNetwork pod's port: protocol TCP, hostPort = containerPort.
    created = core.create_namespaced_pod("x", body={
        "metadata": {"name": "host-port"},
        "spec": {"hostNetwork": True, "nodeName": "node-1",
                 "containers": [{"name": "main", "image": "lab:1", "ports": [{"name": "http", "containerPort": 8080}]}]}})
    port = created.spec.containers[0].ports[0]
    assert (port.protocol, port.host_port, created.spec.containers[0].image_pull_policy) == ("TCP", 8080, "IfNotPresent")


def test_policy_types_default_as_the_engine_reads_them(server, lab):
    api = server.client("admin")
    egress_only = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                   "metadata": {"name": "egress-only", "namespace": "x"},
                   "spec": {"podSelector": {}, "egress": [{"to": [{"podSelector": {}}]}]}}
    create_policies(api, [egress_only])
    manifests = list(lab.manifests) + [egress_only]
    engine, problems = policies_from_documents([Document(manifest, "manifest") for manifest in manifests])
    assert not problems
    networking = client.NetworkingV1Api(api)
    served = {(policy.metadata.namespace, policy.metadata.name): policy.spec.policy_types
              for policy in networking.list_network_policy_for_all_namespaces().items}
    assert served[("z", "from-a")] == ["Ingress"]
    assert served[("x", "egress-only")] == ["Ingress", "Egress"]
    assert {(policy.namespace, policy.name): set(policy.policy_types) for policy in engine} == \
        {key: set(types) for key, types in served.items()}


def test_a_stop_leaves_nothing_even_after_a_failure(tmp_path):
    with pytest.raises(RuntimeError, match="test failed"):
        with running_apiserver() as running:
            started = running
            raise RuntimeError("test failed")
    assert not os.path.exists(started.directory)
    for pid in started.pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    port = int(started.url.rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    # Without the binaries, an error that says how to build them (and nothing is left behind).
    with pytest.raises(ApiServerError, match="scripts/build-kube"):
        with running_apiserver(bin_dir=str(tmp_path)):
            pass
