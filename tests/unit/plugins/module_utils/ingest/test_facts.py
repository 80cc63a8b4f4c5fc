# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster facts from kubectl JSON snapshots."""

from __future__ import annotations

import json

import pytest

from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import InputError
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.facts import load_snapshot
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import (
    EGRESS, INGRESS, ContainerPort, LabelSelector, PortSpec, Rule, SelectorPeer)


NETWORK_POLICY = {
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "allow-web", "namespace": "shop"},
    "spec": {"podSelector": {"matchLabels": {"app": "web"}},
             "egress": [{"to": [{"namespaceSelector": {}}], "ports": [{"port": 53, "protocol": "UDP"}]}]},
}

SNAPSHOT = {
    "apiVersion": "v1", "kind": "List",
    "items": [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"team": "blue"}}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}},
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"}},
         "spec": {"nodeName": "worker-2", "containers": [
             {"name": "web", "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                                       {"containerPort": 9999}]},
             {"name": "sidecar", "ports": [{"name": "metrics", "containerPort": 9090}]}]},
         "status": {"phase": "Running", "podIP": "10.244.2.7",
                    "podIPs": [{"ip": "10.244.2.7"}, {"ip": "fd00:10:244:2::7"}]}},
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "kube-proxy-abc", "namespace": "kube-system", "labels": {"k8s-app": "kube-proxy"}},
         "spec": {"nodeName": "worker-1", "hostNetwork": True, "containers": [{"name": "kube-proxy"}]},
         "status": {"phase": "Running", "podIP": "192.168.0.11", "podIPs": [{"ip": "192.168.0.11"}]}},
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "migrate", "namespace": "shop", "labels": {"app": "job"}},
         "spec": {"nodeName": "worker-1", "containers": [{"name": "job"}]},
         "status": {"phase": "Succeeded", "podIP": "10.244.1.5", "podIPs": [{"ip": "10.244.1.5"}]}},
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "api-0", "namespace": "shop", "labels": {"app": "api"}},
         "spec": {"nodeName": "worker-1", "containers": [{"name": "api"}]},
         "status": {"phase": "Running", "podIP": "10.244.1.9"}},
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-2"},
         "spec": {"podCIDR": "10.244.2.0/24", "podCIDRs": ["10.244.2.0/24", "fd00:10:244:2::/64"]},
         "status": {"addresses": [{"type": "InternalIP", "address": "192.168.0.12"},
                                  {"type": "InternalIP", "address": "fd00::12"},
                                  {"type": "Hostname", "address": "worker-2"}]}},
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-1"},
         "spec": {"podCIDR": "10.244.1.0/24"},
         "status": {"addresses": [{"type": "Hostname", "address": "worker-1"},
                                  {"type": "InternalIP", "address": "192.168.0.11"}]}},
        NETWORK_POLICY,
    ],
}


class TestSnapshot:
    @pytest.fixture()
    def loaded(self, tmp_path):
        path = tmp_path / "snapshot.json"
        path.write_text(json.dumps(SNAPSHOT, indent=2))
        return load_snapshot(path)

    def test_namespaces_get_the_implied_name_label(self, loaded):
        cluster = loaded[0]
        assert dict(cluster.namespaces["shop"].labels) == {"team": "blue", "kubernetes.io/metadata.name": "shop"}
        assert dict(cluster.namespaces["kube-system"].labels) == {"kubernetes.io/metadata.name": "kube-system"}

    def test_pods_are_read_in_key_order(self, loaded):
        cluster = loaded[0]
        assert [pod.key for pod in cluster.pods] == ["kube-system/kube-proxy-abc", "shop/api-0", "shop/migrate",
                                                     "shop/web-1"]

    def test_dual_stack_pod_takes_both_pod_ips_and_its_named_ports(self, loaded):
        cluster = loaded[0]
        web = {pod.key: pod for pod in cluster.pods}["shop/web-1"]
        assert web.ips == ("10.244.2.7", "fd00:10:244:2::7")
        assert web.node == "worker-2" and web.selectable
        # Unnamed container ports cannot be referred to by name, so they are not kept.
        assert web.ports == (ContainerPort("http", 8080, "TCP"), ContainerPort("metrics", 9090, "TCP"))

    def test_pod_ip_alone_is_used_when_pod_ips_is_absent(self, loaded):
        cluster = loaded[0]
        assert {pod.key: pod for pod in cluster.pods}["shop/api-0"].ips == ("10.244.1.9",)

    def test_host_network_and_finished_pods_are_never_selectable(self, loaded):
        cluster = loaded[0]
        pods = {pod.key: pod for pod in cluster.pods}
        proxy = pods["kube-system/kube-proxy-abc"]
        assert proxy.host_network and proxy.active and not proxy.selectable
        migrate = pods["shop/migrate"]
        assert migrate.phase == "Succeeded" and not migrate.active

    def test_nodes_keep_internal_ips_and_pod_cidrs(self, loaded):
        cluster = loaded[0]
        assert [node.name for node in cluster.nodes] == ["worker-1", "worker-2"]
        assert next(node for node in cluster.nodes if node.name == "worker-2").addresses == ("192.168.0.12", "fd00::12")
        assert next(node for node in cluster.nodes if node.name == "worker-2").pod_cidrs == ("10.244.2.0/24", "fd00:10:244:2::/64")
        assert next(node for node in cluster.nodes if node.name == "worker-1").addresses == ("192.168.0.11",)
        assert next(node for node in cluster.nodes if node.name == "worker-1").pod_cidrs == ("10.244.1.0/24",)

    def test_network_policies_are_read_with_api_defaults(self, loaded):
        policies = loaded[1]
        assert [policy.key for policy in policies] == ["shop/allow-web"]
        found = policies[0]
        assert found.policy_types == {INGRESS, EGRESS}
        assert found.pod_selector == LabelSelector((("app", "web"),))
        assert found.egress == (Rule((SelectorPeer(None, LabelSelector()),), (PortSpec("UDP", 53),)),)

    def test_malformed_object_is_a_problem_not_a_traceback(self, tmp_path):
        broken = {"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "x"},
             "status": {"phase": "Running", "podIP": "10.0.0.999"}}]}
        path = tmp_path / "broken.json"
        path.write_text(json.dumps(broken))
        with pytest.raises(InputError) as caught:
            load_snapshot(path)
        assert "malformed" in str(caught.value)


def located(tmp_path, items):
    """The problems of a snapshot holding these items, as (line, object, field, message)."""
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=1))
    with pytest.raises(InputError) as caught:
        load_snapshot(path)
    assert all(problem.file == str(path) for problem in caught.value.problems)
    return [(problem.line, problem.obj, problem.field, problem.message) for problem in caught.value.problems]


def pod_object(spec=None, status=None, metadata=None):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata or {"name": "web", "namespace": "shop"},
            "spec": spec or {"nodeName": "n1"}, "status": status or {"phase": "Running", "podIP": "10.244.1.5"}}


class TestFactsAreTypeChecked:
    """A wrong type is a problem with its file, line, object and field, never read by truthiness."""

    def test_host_network_written_as_a_string_is_a_problem_not_true(self, tmp_path):
        [(line, obj, field, message)] = located(tmp_path, [pod_object(spec={"nodeName": "n1", "hostNetwork": "false"})])
        assert (obj, field) == ("Pod shop/web", "spec.hostNetwork") and line is not None
        assert "true or false" in message and "'false'" in message

    def test_metadata_that_is_not_a_mapping_is_a_problem_not_a_traceback(self, tmp_path):
        [(line, obj, field, message)] = located(tmp_path, [dict(pod_object(), metadata="web")])
        assert (obj, field) == ("Pod (no name)", "metadata") and "mapping" in message

    def test_container_ports_are_checked(self, tmp_path):
        spec = {"nodeName": "n1", "containers": [{"name": "c", "ports": [
            {"name": "http", "containerPort": 70000}, {"name": "dns", "containerPort": 53, "protocol": "udp"},
            {"name": "bool", "containerPort": True}]}]}
        fields = [(field, message) for _line, _obj, field, message in located(tmp_path, [pod_object(spec=spec)])]
        assert [field for field, _message in fields] == [
            "spec.containers[0].ports[0].containerPort", "spec.containers[0].ports[1].protocol",
            "spec.containers[0].ports[2].containerPort"]
        assert "between 1 and 65535" in fields[0][1] and "TCP, UDP, SCTP" in fields[1][1]

    def test_addresses_and_pod_cidrs_must_parse(self, tmp_path):
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}, "spec": {"podCIDRs": ["10.244.1.0/33"]},
                "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.300"}]}}
        found = located(tmp_path, [node, pod_object(status={"phase": "Running", "podIPs": [{"ip": "fd00::zz"}]})])
        assert [(obj, field) for _line, obj, field, _message in found] == [
            ("Node n1", "status.addresses[0].address"), ("Node n1", "spec.podCIDRs[0]"), ("Pod shop/web", "status.podIPs[0].ip")]

    def test_unspecified_pod_address_is_a_problem(self, tmp_path):
        """0.0.0.0 and :: are no pod's: a set of addresses cannot hold them (ipset refuses), so a node
        given one would fail halfway through its restore."""
        found = located(tmp_path, [pod_object(status={"phase": "Running", "podIPs": [{"ip": "0.0.0.0"}, {"ip": "0::0"}]})])
        assert [(obj, field) for _line, obj, field, _message in found] == [
            ("Pod shop/web", "status.podIPs[0].ip"), ("Pod shop/web", "status.podIPs[1].ip")]
        assert "0.0.0.0 is the unspecified address" in found[0][3] and ":: is the unspecified address" in found[1][3]

    def test_labels_must_be_strings(self, tmp_path):
        [(_line, obj, field, _message)] = located(tmp_path, [pod_object(metadata={"name": "web", "namespace": "shop",
                                                                                  "labels": {"replicas": 3}})])
        assert (obj, field) == ("Pod shop/web", "metadata.labels")


def test_sidecar_containers_name_ports_after_the_main_containers(tmp_path):
    """Kubernetes looks a port name up in the containers, then in init containers that keep running
    (restartPolicy: Always, the sidecars); plain init containers have finished and count for nothing."""
    spec = {"nodeName": "n1",
            "containers": [{"name": "app", "ports": [{"name": "http", "containerPort": 8080}]}],
            "initContainers": [
                {"name": "proxy", "restartPolicy": "Always",
                 "ports": [{"name": "http", "containerPort": 15001}, {"name": "admin", "containerPort": 15000}]},
                {"name": "migrate", "ports": [{"name": "db", "containerPort": 5432}]}]}
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [pod_object(spec=spec)]}))
    [pod] = load_snapshot(path)[0].pods
    assert pod.named_port("http", "TCP") == 8080
    assert pod.named_port("admin", "TCP") == 15000
    assert pod.named_port("db", "TCP") is None
