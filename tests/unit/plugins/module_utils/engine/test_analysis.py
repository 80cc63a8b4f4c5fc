# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The class-based analysis gives the one verdict's answers, and groups only what nothing tells apart.

On generated clusters (single- and dual-stack), the table by classes equals explain.truth_table,
which asks plan/verdict.py pair by pair, row for row; and ClassMatrix.allowed between two classes is
the verdict between any of their members. By hand: what splits a class and what does not.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from ansible_collections.kubenet.netpol.plugins.module_utils.engine import explain
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.analysis import class_matrix, truth_table
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.explain import ClusterVerdicts, Endpoint
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import (
    Cluster, ContainerPort, Namespace, Node, Pod, frozen_labels, policy_from_manifest)
from cluster_strategies import (PROBES, WIDE_PROBES, clusters, dual_stack_clusters, dual_stack_endpoints, dual_stack_policy_sets,
                                endpoints, policy_sets)
from netpol_lab.scenario import Probe

SETTINGS = settings(max_examples=150, deadline=None)
# Connections a table never probes but the verdict judges: a protocol without ports, one no rule names.
PORTLESS_PROBES = (Probe("UDP", None), Probe("ICMP", None), Probe("ICMP", 80))


def assert_tables_equal(cluster, policy_set, ends, probes):
    expected = explain.truth_table(ClusterVerdicts(cluster, policy_set), ends, probes, "case")
    found = truth_table(class_matrix(cluster, policy_set, ends), ends, probes, "case")
    assert found == expected


def assert_class_verdicts_are_the_verdicts(cluster, policy_set, ends, probes):
    verdicts = ClusterVerdicts(cluster, policy_set)
    matrix = class_matrix(cluster, policy_set, ends)
    for probe in probes:
        for source in ends:
            for destination in ends:
                source_class = matrix.class_of(source, probe.family)
                destination_class = matrix.class_of(destination, probe.family)
                if source is destination or source_class is None or destination_class is None:
                    continue
                expected = explain.explain(verdicts, source, destination, probe.protocol, probe.port, probe.family)
                assert matrix.allowed(source_class, destination_class, probe.protocol, probe.port) == expected.allowed, \
                    (source.name, destination.name, probe, expected.reasons)


@SETTINGS
@given(cluster=clusters(), policy_set=policy_sets())
def test_the_class_table_is_the_one_verdict_table(cluster, policy_set):
    assert_tables_equal(cluster, policy_set, endpoints(cluster), PROBES)


@SETTINGS
@given(cluster=dual_stack_clusters(), policy_set=dual_stack_policy_sets())
def test_the_class_table_is_the_one_verdict_table_in_both_families(cluster, policy_set):
    assert_tables_equal(cluster, policy_set, dual_stack_endpoints(cluster), WIDE_PROBES)


@SETTINGS
@given(cluster=dual_stack_clusters(), policy_set=dual_stack_policy_sets())
def test_a_class_verdict_is_the_verdict_of_any_two_members(cluster, policy_set):
    assert_class_verdicts_are_the_verdicts(cluster, policy_set, dual_stack_endpoints(cluster), WIDE_PROBES + PORTLESS_PROBES)


# By hand: namespace x on nodes n1 and n2.

NAMESPACES = {"x": Namespace("x", frozen_labels({"kubernetes.io/metadata.name": "x"}))}
NODES = (Node("n1", ("10.10.0.1",)), Node("n2", ("10.10.0.2",)))


def pod(name, labels, address, node="n1", ports=(), host_network=False):
    return Pod("x", name, frozen_labels(labels), node, (address,), host_network, ports=ports)


def policy(name, spec):
    return policy_from_manifest({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                                 "metadata": {"name": name, "namespace": "x"}, "spec": spec})


ALLOW_FROM_CLIENTS = policy("web", {"podSelector": {"matchLabels": {"app": "web"}},
                                    "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}],
                                                 "ports": [{"port": "http"}, {"port": 9000, "endPort": 9100}]}]})


def pod_endpoints(pods):
    return [Endpoint(item.key, item.ips, item) for item in pods]


def same_class(matrix, first, second, family=4):
    return matrix.class_of(first, family) is matrix.class_of(second, family)


def test_a_label_no_selector_reads_does_not_split_a_class():
    ends = pod_endpoints([pod("a", {"app": "web", "colour": "red"}, "10.244.1.10"),
                          pod("b", {"app": "web", "colour": "blue"}, "10.244.1.11")])
    matrix = class_matrix(Cluster(NAMESPACES, tuple(end.pod for end in ends), NODES), (ALLOW_FROM_CLIENTS,), ends)
    assert same_class(matrix, *ends)
    assert matrix.class_of(ends[0], 4).members == tuple(ends)
    assert len(matrix.classes(4)) == 1


def test_a_label_a_selector_reads_splits_a_class():
    ends = pod_endpoints([pod("a", {"app": "web"}, "10.244.1.10"), pod("b", {"app": "web", "role": "client"}, "10.244.1.11"),
                          pod("c", {"app": "db", "role": "client"}, "10.244.1.12")])
    matrix = class_matrix(Cluster(NAMESPACES, tuple(end.pod for end in ends), NODES), (ALLOW_FROM_CLIENTS,), ends)
    assert len({id(matrix.class_of(end, 4)) for end in ends}) == 3


def test_the_number_a_pod_gives_a_named_port_splits_a_class():
    http_80, http_8080 = ContainerPort("http", 80), ContainerPort("http", 8080)
    ends = pod_endpoints([pod("a", {"app": "web"}, "10.244.1.10", ports=(http_80,)),
                          pod("b", {"app": "web"}, "10.244.1.11", ports=(http_8080,)),
                          pod("c", {"app": "web"}, "10.244.1.12", ports=(http_8080,)),
                          pod("client", {"role": "client"}, "10.244.1.13")])
    matrix = class_matrix(Cluster(NAMESPACES, tuple(end.pod for end in ends), NODES), (ALLOW_FROM_CLIENTS,), ends)
    assert not same_class(matrix, ends[0], ends[1])
    assert same_class(matrix, ends[1], ends[2])
    web_80, web_8080, _web, client = (matrix.class_of(end, 4) for end in ends)
    assert matrix.allowed(client, web_80, "TCP", 80) and not matrix.allowed(client, web_80, "TCP", 8080)
    assert matrix.allowed(client, web_8080, "TCP", 8080) and not matrix.allowed(client, web_8080, "TCP", 80)


def test_an_ip_block_boundary_splits_outside_hosts():
    ingress = policy("blocks", {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [
        {"from": [{"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}}]}]})
    web = pod_endpoints([pod("a", {"app": "web"}, "10.244.1.10")])
    # The block is 172.17.0.0/24, 172.17.2.0/23, ... 172.17.128.0/17: hosts on the edges of those pieces.
    inside = [Endpoint("in-%s" % address, (address,)) for address in
              ("172.17.0.0", "172.17.0.5", "172.17.0.255", "172.17.2.0", "172.17.255.255")]
    cut, outside, elsewhere = (Endpoint(name, (address,)) for name, address in (
        ("cut", "172.17.1.0"), ("outside", "172.16.255.255"), ("elsewhere", "172.18.0.0")))
    ends = web + inside + [cut, Endpoint("cut-end", ("172.17.1.255",)), outside, elsewhere]
    matrix = class_matrix(Cluster(NAMESPACES, (web[0].pod,), NODES), (ingress,), ends)
    assert all(same_class(matrix, inside[0], host) for host in inside)
    assert all(same_class(matrix, cut, host) for host in ends[len(web) + len(inside):])
    assert not same_class(matrix, inside[0], cut)
    web_class = matrix.class_of(web[0], 4)
    assert matrix.allowed(matrix.class_of(inside[0], 4), web_class, "TCP", 80)
    assert not matrix.allowed(matrix.class_of(cut, 4), web_class, "TCP", 80)


def test_a_node_address_splits_the_pods_of_its_node_from_the_others():
    # x/h is hostNetwork on n2: x/b (n2) reaches it and is reached by it unfiltered, x/a (n1) is not.
    deny = policy("deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    pods = (pod("a", {"app": "web"}, "10.244.1.10"), pod("b", {"app": "web"}, "10.244.2.10", node="n2"),
            pod("h", {}, "10.10.0.2", node="n2", host_network=True))
    ends = pod_endpoints(pods)
    matrix = class_matrix(Cluster(NAMESPACES, pods, NODES), (deny,), ends)
    first, second, host = (matrix.class_of(end, 4) for end in ends)
    assert first.profile == second.profile and first is not second
    assert (first.node, second.node, host.own_of) == (None, "n2", frozenset({"n2"}))
    assert matrix.allowed(second, host, "TCP", 80) and matrix.allowed(host, second, "TCP", 80)
    assert not matrix.allowed(first, host, "TCP", 80) and not matrix.allowed(host, first, "TCP", 80)


def test_ports_split_at_every_range_boundary():
    ends = pod_endpoints([pod("a", {"app": "web"}, "10.244.1.10", ports=(ContainerPort("http", 80),))])
    matrix = class_matrix(Cluster(NAMESPACES, (ends[0].pod,), NODES), (ALLOW_FROM_CLIENTS,), ends)
    assert matrix.port_ranges("TCP") == [(1, 79), (80, 80), (81, 8999), (9000, 9100), (9101, 65535)]
    assert matrix.port_ranges("UDP") == [(1, 65535)]


def test_rows_are_sorted_even_when_two_endpoints_share_a_name():
    ends = pod_endpoints([pod("a", {"app": "web"}, "10.244.1.10"), pod("b", {"role": "client"}, "10.244.1.11")])
    ends += [Endpoint("x/a", ("172.17.0.5",)), Endpoint("ext", ("172.17.0.6",))]
    cluster = Cluster(NAMESPACES, tuple(end.pod for end in ends[:2]), NODES)
    assert_tables_equal(cluster, (ALLOW_FROM_CLIENTS,), ends, (Probe("TCP", 9000), Probe("UDP", 53)))


def test_an_endpoint_the_matrix_was_not_built_with_is_refused():
    ends = pod_endpoints([pod("a", {"app": "web"}, "10.244.1.10")])
    matrix = class_matrix(Cluster(NAMESPACES, (ends[0].pod,), NODES), (ALLOW_FROM_CLIENTS,), ends)
    with pytest.raises(ValueError, match="ext is not an endpoint of this class matrix"):
        truth_table(matrix, ends + [Endpoint("ext", ("172.17.0.5",))], (Probe("TCP", 80),), "case")
