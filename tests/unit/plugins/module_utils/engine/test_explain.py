# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Explain: a connection needs the source's egress and the destination's ingress, and says why.

Cluster: namespace x; n1: x/a, x/b (http=8080), x/b2 (app=b too, http=80); n2: x/c (dual-stack), x/h (hostNetwork, the
node's address); outside: ext 172.17.0.5, ext-cut 172.17.1.5, ext6 2001:db8::5.
"""

from __future__ import annotations

import pytest

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.explain import ClusterVerdicts, Endpoint, explain, truth_table
from netpol_lab.scenario import Probe
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import (
    Cluster, ContainerPort, Namespace, Node, Pod, frozen_labels, policy_from_manifest)


def pod(name, node, ips, ports=(), host_network=False, app=None):
    return Pod("x", name, frozen_labels({"app": app or name}), node, tuple(ips), host_network, ports=ports)


def manifest(name, spec):
    return policy_from_manifest({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                                 "metadata": {"name": name, "namespace": "x"}, "spec": spec})


def app(name):
    return {"matchLabels": {"app": name}}


PODS = {
    "a": pod("a", "n1", ["10.244.1.10"]),
    "b": pod("b", "n1", ["10.244.1.11"], ports=(ContainerPort("http", 8080),)),
    "b2": pod("b2", "n1", ["10.244.1.12"], ports=(ContainerPort("http", 80),), app="b"),
    "c": pod("c", "n2", ["10.244.2.10", "fd00:10:244:2::a"]),
    "h": pod("h", "n2", ["10.10.0.2"], host_network=True),
}
CLUSTER = Cluster({"x": Namespace("x", frozen_labels({"kubernetes.io/metadata.name": "x"}))}, tuple(PODS.values()),
                  (Node("n1", ("10.10.0.1",)), Node("n2", ("10.10.0.2",))))
POLICIES = (
    manifest("deny-b", {"podSelector": app("b"), "policyTypes": ["Ingress"]}),
    manifest("allow-a-to-b", {"podSelector": app("b"),
                              "ingress": [{"from": [{"podSelector": app("a")}], "ports": [{"port": "http"}]}]}),
    manifest("c-egress", {"podSelector": app("c"), "policyTypes": ["Egress"],
                          "egress": [{"to": [{"podSelector": app("b")}], "ports": [{"port": 8080}]}]}),
    manifest("a-from-c", {"podSelector": app("a"), "ingress": [{"from": [{"podSelector": app("c")}]}]}),
    manifest("c-from-blocks", {"podSelector": app("c"), "ingress": [
        {"from": [{"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}}]}]}),
)
EXTERNALS = {"ext": Endpoint("ext", ("172.17.0.5",)), "ext-cut": Endpoint("ext-cut", ("172.17.1.5",)),
             "ext6": Endpoint("ext6", ("2001:db8::5",))}


@pytest.fixture(scope="module")
def resolver():
    return ClusterVerdicts(CLUSTER, POLICIES)


def endpoint(name):
    if name in EXTERNALS:
        return EXTERNALS[name]
    return Endpoint("x/" + name, PODS[name].ips, PODS[name])


def verdict(resolver, source, destination, port, protocol="TCP", family=4):
    return explain(resolver, endpoint(source), endpoint(destination), protocol, port, family)


class TestReasons:
    def test_allowed_names_the_rule_and_every_isolating_policy(self, resolver):
        found = verdict(resolver, "a", "b", 8080)
        assert found.allowed
        assert found.reasons == ("x/a is not isolated for egress",
                                 "x/b is isolated for ingress by x/allow-a-to-b, x/deny-b; "
                                 "allowed by x/allow-a-to-b ingress rule 0")

    def test_named_port_allows_only_the_number_of_the_destination(self, resolver):
        found = verdict(resolver, "a", "b", 80)
        assert not found.allowed
        assert found.reasons[1] == ("x/b is isolated for ingress by x/allow-a-to-b, x/deny-b; "
                                    "no ingress rule of those policies allows this traffic")

    def test_each_selected_pod_admits_only_its_own_number_for_a_name(self, resolver):
        # x/b and x/b2 are both selected; http is 8080 on x/b and 80 on x/b2 (cilium#30003).
        assert verdict(resolver, "a", "b2", 80).allowed
        assert not verdict(resolver, "a", "b2", 8080).allowed
        assert not verdict(resolver, "a", "b", 80).allowed

    def test_protocol_must_match_too(self, resolver):
        assert not verdict(resolver, "a", "b", 8080, protocol="UDP").allowed

    def test_describe_reads_as_a_verdict_then_reasons(self, resolver):
        assert verdict(resolver, "a", "b", 8080).describe() == (
            "ALLOWED\n  - x/a is not isolated for egress\n  - x/b is isolated for ingress by x/allow-a-to-b, "
            "x/deny-b; allowed by x/allow-a-to-b ingress rule 0")


class TestBothEnds:
    def test_egress_allowed_but_ingress_denied_is_denied(self, resolver):
        found = verdict(resolver, "c", "b", 8080)
        assert not found.allowed
        assert found.reasons == ("x/c is isolated for egress by x/c-egress; allowed by x/c-egress egress rule 0",
                                 "x/b is isolated for ingress by x/allow-a-to-b, x/deny-b; "
                                 "no ingress rule of those policies allows this traffic")

    def test_ingress_allowed_but_egress_denied_is_denied(self, resolver):
        found = verdict(resolver, "c", "a", 80)
        assert not found.allowed
        assert found.reasons == ("x/c is isolated for egress by x/c-egress; "
                                 "no egress rule of those policies allows this traffic",
                                 "x/a is isolated for ingress by x/a-from-c; allowed by x/a-from-c ingress rule 0")

    def test_both_ends_on_one_node_are_both_checked(self, resolver):
        # x/a and x/b share n1: b's ingress still applies although a's egress is open.
        assert not verdict(resolver, "a", "b", 9999).allowed
        found = verdict(resolver, "b", "a", 9999)
        assert not found.allowed
        assert found.reasons == ("x/b is not isolated for egress", "x/a is isolated for ingress by x/a-from-c; "
                                 "no ingress rule of those policies allows this traffic")


class TestHostNetworkAndNode:
    @pytest.mark.parametrize("source, destination", [("h", "c"), ("c", "h")])
    def test_a_pod_and_its_own_node_always_talk(self, resolver, source, destination):
        # x/c is isolated both ways and allows neither 10.10.0.2 in nor x/h out; they share n2.
        found = verdict(resolver, source, destination, 80)
        assert found.allowed
        assert found.reasons == ("traffic between a pod and its own node is always allowed",)

    def test_host_network_pod_elsewhere_is_subject_to_the_destination(self, resolver):
        found = verdict(resolver, "h", "b", 8080)
        assert not found.allowed
        assert found.reasons == ("x/b is isolated for ingress by x/allow-a-to-b, x/deny-b; "
                                 "no ingress rule of those policies allows this traffic",
                                 "x/h uses the host network: no policy applies to it")

    def test_host_network_destination_elsewhere_is_never_isolated(self, resolver):
        found = verdict(resolver, "a", "h", 80)
        assert found.allowed
        assert found.reasons == ("x/a is not isolated for egress", "x/h uses the host network: no policy applies to it")


class TestFinishedPods:
    def test_a_finished_pod_is_named_as_not_running_and_never_isolated(self, resolver):
        # app=b would put it under deny-b and allow-a-to-b, but a Succeeded pod is selected by nothing.
        done = Pod("x", "done", frozen_labels({"app": "b"}), "n1", ("10.244.1.20",), phase="Succeeded")
        found = explain(resolver, Endpoint("x/c", PODS["c"].ips, PODS["c"]), Endpoint("x/done", done.ips, done), "TCP", 80)
        assert found.reasons == ("x/c is isolated for egress by x/c-egress; no egress rule of those policies allows"
                                 " this traffic", "x/done is not running (phase Succeeded): no policy selects it or"
                                 " counts it as a peer")
        assert not found.allowed


class TestExternals:
    def test_ip_block_admits_an_outside_host(self, resolver):
        found = verdict(resolver, "ext", "c", 80)
        assert found.allowed
        assert found.reasons == ("x/c is isolated for ingress by x/c-from-blocks; allowed by x/c-from-blocks ingress rule 0",
                                 "ext is outside the cluster: no policy applies to it")

    def test_except_cuts_the_block(self, resolver):
        assert not verdict(resolver, "ext-cut", "c", 80).allowed

    def test_egress_to_outside_needs_a_rule(self, resolver):
        assert not verdict(resolver, "c", "ext", 8080).allowed
        assert verdict(resolver, "a", "ext", 8080).allowed


class TestFamilies:
    def test_missing_family_is_denied_and_said(self, resolver):
        found = verdict(resolver, "a", "c", 80, family=6)
        assert not found.allowed
        assert found.reasons == ("x/a and x/c have no common IPv6 address",)

    def test_ipv4_block_does_not_admit_ipv6(self, resolver):
        assert not verdict(resolver, "ext6", "c", 80, family=6).allowed
        assert verdict(resolver, "ext6", "a", 80, family=6).reasons == ("ext6 and x/a have no common IPv6 address",)


def test_truth_table_covers_each_probed_pair_once(resolver):
    endpoints = [endpoint(name) for name in ("a", "b", "ext", "ext-cut")]
    table = truth_table(resolver, endpoints, (Probe("TCP", 8080),), "case")
    assert table["scenario"] == "case"
    # a->b allowed (http is 8080 on b); ext/ext-cut->b denied; b->a denied (a only admits c);
    # a and b are not egress-isolated, so they reach the externals; externals to a are denied.
    assert table["allowed"] == [["x/a", "ext", "TCP", 8080], ["x/a", "ext-cut", "TCP", 8080],
                                ["x/a", "x/b", "TCP", 8080], ["x/b", "ext", "TCP", 8080],
                                ["x/b", "ext-cut", "TCP", 8080]]
    assert table["denied"] == [["ext", "x/a", "TCP", 8080], ["ext", "x/b", "TCP", 8080],
                               ["ext-cut", "x/a", "TCP", 8080], ["ext-cut", "x/b", "TCP", 8080],
                               ["x/b", "x/a", "TCP", 8080]]
