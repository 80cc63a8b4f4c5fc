# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scenario files (tests/scenarios/README.md): the lab's defaults, addressing and problems."""

from __future__ import annotations

import dataclasses
import json
import textwrap

import netaddr
import pytest

from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import InputError
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import INGRESS, ContainerPort
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.facts import load_snapshot
from netpol_lab.scenario import Probe, load_scenario, scenario_endpoints, snapshot

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
        beta = next(node for node in found.cluster.nodes if node.name == "beta")
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
        assert pods["x/a"].ips == ("10.244.1.10",)  # as the tests/scenarios/README.md example shows
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
        assert dict(found.cluster.namespaces["x"].labels) == {"team": "blue", "kubernetes.io/metadata.name": "x"}
        assert dict(found.cluster.namespaces["y"].labels) == {"kubernetes.io/metadata.name": "y"}

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
        assert dict(pod.labels) == {"app": "a"}
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

    @pytest.mark.parametrize("port", ["70000", "-1", "0", "true", "'80'"])
    def test_probe_ports_must_be_port_numbers(self, tmp_path, port):
        problems = problems_of(tmp_path, "namespaces: {x: {}}\nprobes: [{protocol: TCP, port: %s}]\n" % port)
        # The bad probe is named; with no valid probe left, the scenario also says it needs one.
        assert [problem.field for problem in problems] == ["probes[0]", "probes"]

    def test_host_network_must_be_a_boolean(self, tmp_path):
        problems = problems_of(tmp_path, "namespaces: {x: {}}\npods: {x/a: {hostNetwork: 'false'}}\n" + PROBES)
        assert [problem.field for problem in problems] == ["pods.x/a.hostNetwork"]

    def test_too_many_pods_for_automatic_addresses(self, tmp_path):
        pods = ", ".join("x/p%d: {}" % number for number in range(241))
        problems = problems_of(tmp_path, "namespaces: {x: {}}\npods: {%s}\n%s" % (pods, PROBES))
        assert [problem.field for problem in problems] == ["pods.x/p240"]


class TestSnapshotOfAScenario:
    """The lab hands the playbook a kubectl snapshot: read back, it must be the scenario's cluster."""

    def test_snapshot_reads_back_as_the_same_cluster_and_policies(self, tmp_path):
        loaded = load(tmp_path, """\
            nodes: [node-1, node-2]
            namespaces: {x: {team: red}}
            pods:
              x/a: {labels: {app: a}, ports: [{name: http, port: 8080}]}
              x/b: {node: node-1, ips: [10.244.1.50, "fd00:10:244:1::50"]}
              x/h: {hostNetwork: true, node: node-2}
              x/done: {phase: Succeeded}
            policies:
              - kind: List
                items:
                  - apiVersion: networking.k8s.io/v1
                    kind: NetworkPolicy
                    metadata: {name: deny, namespace: x}
                    spec: {podSelector: {}}
            """ + PROBES)
        path = tmp_path / "snapshot.json"
        path.write_text(json.dumps(snapshot(loaded)))
        cluster, policies = load_snapshot(path)
        # The API lists pods by namespace/name; the scenario keeps its own order.
        assert (cluster.namespaces, cluster.nodes) == (loaded.cluster.namespaces, loaded.cluster.nodes)
        assert cluster.pods == tuple(sorted(loaded.cluster.pods, key=lambda pod: pod.key))
        assert [policy.key for policy in policies] == ["x/deny"]
        assert [dataclasses.replace(policy, source="") for policy in policies] == \
            [dataclasses.replace(policy, source="") for policy in loaded.policies]
