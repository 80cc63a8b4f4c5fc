# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster facts from scenario files (scenario-format.md) and from kubectl JSON snapshots."""

from __future__ import annotations

import json
import textwrap

import netaddr
import pytest

from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import InputError
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.facts import (
    Probe, load_scenario, load_snapshot, scenario_endpoints)
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import (
    EGRESS, INGRESS, ContainerPort, LabelSelector, PortSpec, Rule, SelectorPeer)

PROBES = "probes: [{protocol: TCP, port: 80}]\n"


def scenario(tmp_path, text, name="case"):
    path = tmp_path / ("%s.yaml" % name)
    path.write_text(textwrap.dedent(text))
    return path


def load(tmp_path, text):
    return load_scenario(scenario(tmp_path, text))


def problems_of(tmp_path, text):
    with pytest.raises(InputError) as caught:
        load(tmp_path, text)
    return caught.value.problems


class TestScenarioDefaults:
    def test_one_node_by_default_with_lab_addressing(self, tmp_path):
        found = load(tmp_path, "namespaces: {x: {}}\n" + PROBES)
        assert [node.name for node in found.cluster.nodes] == ["node-1"]
        node = found.cluster.nodes[0]
        assert node.addresses == ("10.10.0.1", "fd00:10:10::1")
        assert node.pod_cidrs == ("10.244.1.0/24", "fd00:10:244:1::/64")

    def test_nodes_are_numbered_in_order(self, tmp_path):
        found = load(tmp_path, "nodes: [alpha, beta]\nnamespaces: {x: {}}\n" + PROBES)
        beta = found.cluster.node("beta")
        assert beta.addresses[0] == "10.10.0.2"
        assert beta.pod_cidrs[0] == "10.244.2.0/24"

    def test_name_defaults_to_the_file_name_and_probes_default_to_ipv4(self, tmp_path):
        found = load_scenario(scenario(tmp_path, "namespaces: {x: {}}\n" + PROBES, name="my-case"))
        assert found.name == "my-case"
        assert found.probes == (Probe("TCP", 80, 4),)

    def test_pods_without_a_node_are_spread_over_nodes_in_order(self, tmp_path):
        found = load(tmp_path, """\
            nodes: [node-1, node-2]
            namespaces: {x: {}}
            pods: {x/a: {}, x/b: {}, x/c: {}, x/d: {node: node-1}}
            """ + PROBES)
        pods = {pod.key: pod for pod in found.cluster.pods}
        assert [pods[key].node for key in ("x/a", "x/b", "x/c", "x/d")] == ["node-1", "node-2", "node-1", "node-1"]

    def test_pod_addresses_come_from_their_node_cidr_and_differ(self, tmp_path):
        found = load(tmp_path, """\
            nodes: [node-1, node-2]
            namespaces: {x: {}}
            pods: {x/a: {node: node-1}, x/b: {node: node-2}, x/c: {node: node-1}}
            """ + PROBES)
        pods = {pod.key: pod for pod in found.cluster.pods}
        assert pods["x/a"].ips == ("10.244.1.10",)  # as the scenario-format.md example shows
        for key, cidr in (("x/b", "10.244.2.0/24"), ("x/c", "10.244.1.0/24")):
            assert len(pods[key].ips) == 1
            assert netaddr.IPAddress(pods[key].ips[0]) in netaddr.IPNetwork(cidr)
        assert pods["x/c"].ips != pods["x/a"].ips

    def test_automatic_addresses_skip_explicit_ones(self, tmp_path):
        found = load(tmp_path, """\
            namespaces: {x: {}}
            pods: {x/a: {}, x/b: {ips: [10.244.1.10]}}
            """ + PROBES)
        pods = {pod.key: pod for pod in found.cluster.pods}
        assert pods["x/b"].ips == ("10.244.1.10",)
        assert pods["x/a"].ips != ("10.244.1.10",)
        assert netaddr.IPAddress(pods["x/a"].ips[0]) in netaddr.IPNetwork("10.244.1.0/24")

    def test_two_running_pods_cannot_share_an_address(self, tmp_path):
        problems = problems_of(tmp_path, """\
            namespaces: {x: {}}
            pods: {x/a: {ips: [10.244.1.50]}, x/b: {ips: [10.244.1.50]}}
            """ + PROBES)
        assert [problem.field for problem in problems] == ["pods.x/b.ips"]
        assert "x/a" in problems[0].message

    def test_host_network_pods_share_the_node_address_and_a_finished_pod_frees_its_own(self, tmp_path):
        found = load(tmp_path, """\
            namespaces: {x: {}}
            pods:
              x/h1: {hostNetwork: true}
              x/h2: {hostNetwork: true}
              x/old: {ips: [10.244.1.50], phase: Succeeded}
              x/new: {ips: [10.244.1.50]}
            """ + PROBES)
        assert [pod.ips for pod in found.cluster.pods] == [("10.10.0.1",), ("10.10.0.1",), ("10.244.1.50",),
                                                           ("10.244.1.50",)]

    def test_explicit_addresses_are_kept_canonical_and_make_dual_stack(self, tmp_path):
        found = load(tmp_path, """\
            namespaces: {x: {}}
            pods: {x/a: {ips: [10.244.1.50, "FD00:10:244:1:0::32"]}}
            """ + PROBES)
        assert found.cluster.pods[0].ips == ("10.244.1.50", "fd00:10:244:1::32")

    def test_host_network_pod_takes_the_node_address(self, tmp_path):
        found = load(tmp_path, """\
            nodes: [node-1, node-2]
            namespaces: {x: {}}
            pods: {x/h: {node: node-2, hostNetwork: true}}
            """ + PROBES)
        pod = found.cluster.pods[0]
        assert pod.host_network and pod.ips == ("10.10.0.2",)
        assert pod.active and not pod.selectable

    def test_namespaces_carry_the_implied_name_label(self, tmp_path):
        found = load(tmp_path, "namespaces: {x: {team: blue}, y: }\n" + PROBES)
        assert found.cluster.namespaces["x"].label_map == {"team": "blue", "kubernetes.io/metadata.name": "x"}
        assert found.cluster.namespaces["y"].label_map == {"kubernetes.io/metadata.name": "y"}

    def test_ports_labels_phase_and_policies_are_read(self, tmp_path):
        found = load(tmp_path, """\
            namespaces: {x: {}}
            pods:
              x/a:
                labels: {app: a}
                phase: Succeeded
                ports: [{name: http, port: 8080}, {name: dns, port: 53, protocol: UDP}]
            externals: {ext: {ips: [172.17.0.5]}}
            policies:
              - apiVersion: networking.k8s.io/v1
                kind: NetworkPolicy
                metadata: {name: deny, namespace: x}
                spec: {podSelector: {}}
            """ + PROBES)
        pod = found.cluster.pods[0]
        assert pod.label_map == {"app": "a"}
        assert pod.ports == (ContainerPort("http", 8080, "TCP"), ContainerPort("dns", 53, "UDP"))
        assert not pod.active
        assert [policy.key for policy in found.policies] == ["x/deny"]
        assert found.policies[0].policy_types == {INGRESS}
        # Endpoints: running pods then externals; the Succeeded pod is neither source nor destination.
        assert [endpoint.name for endpoint in scenario_endpoints(found)] == ["ext"]


class TestScenarioProblems:
    def test_unknown_fields_are_reported_with_their_paths(self, tmp_path):
        problems = problems_of(tmp_path, """\
            namespaces: {x: {}}
            podz: {}
            pods:
              x/a: {label: {app: a}}
            """ + PROBES)
        by_field = {problem.field: problem for problem in problems}
        assert "podz" in by_field[""].message
        assert "label" in by_field["pods.x/a"].message
        assert by_field["pods.x/a"].line == 4

    def test_bad_ips_are_reported_each_with_its_path_and_line(self, tmp_path):
        problems = problems_of(tmp_path, """\
            namespaces: {x: {}}
            pods:
              x/a:
                ips:
                  - 10.0.0.1
                  - 10.0.0.300
            externals:
              ext: {ips: [not-an-ip]}
            """ + PROBES)
        by_field = {problem.field: problem for problem in problems}
        assert set(by_field) == {"pods.x/a.ips[1]", "externals.ext.ips[0]"}
        assert "10.0.0.300" in by_field["pods.x/a.ips[1]"].message
        assert by_field["pods.x/a.ips[1]"].line == 6
        assert by_field["externals.ext.ips[0]"].line == 8

    def test_every_problem_is_reported_at_once(self, tmp_path):
        problems = problems_of(tmp_path, """\
            namespaces: {x: {}}
            pods:
              x/a: {node: node-9}
              y/b: {}
              nameless: {}
            """)
        fields = sorted(problem.field for problem in problems)
        assert fields == ["pods.nameless", "pods.x/a.node", "pods.y/b", "probes"]

    def test_too_many_pods_for_automatic_addresses(self, tmp_path):
        pods = ", ".join("x/p%d: {}" % number for number in range(241))
        problems = problems_of(tmp_path, "namespaces: {x: {}}\npods: {%s}\n%s" % (pods, PROBES))
        assert [problem.field for problem in problems] == ["pods.x/p240"]


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
        assert cluster.namespaces["shop"].label_map == {"team": "blue", "kubernetes.io/metadata.name": "shop"}
        assert cluster.namespaces["kube-system"].label_map == {"kubernetes.io/metadata.name": "kube-system"}

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
        assert cluster.node("worker-2").addresses == ("192.168.0.12", "fd00::12")
        assert cluster.node("worker-2").pod_cidrs == ("10.244.2.0/24", "fd00:10:244:2::/64")
        assert cluster.node("worker-1").addresses == ("192.168.0.11",)
        assert cluster.node("worker-1").pod_cidrs == ("10.244.1.0/24",)

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
