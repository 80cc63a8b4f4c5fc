# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""API defaults applied when a manifest becomes a Policy (networking.k8s.io/v1 defaulting rules)."""

from __future__ import annotations

import pytest

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import (
    EGRESS, INGRESS, ContainerPort, IPBlockPeer, LabelSelector, Pod, PortSpec, Requirement, Rule, SelectorPeer,
    policy_from_manifest)


def policy(spec, namespace="x", default_namespace="default"):
    metadata = {"name": "p"}
    if namespace is not None:
        metadata["namespace"] = namespace
    return policy_from_manifest({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                                 "metadata": metadata, "spec": spec}, default_namespace)


class TestPolicyTypes:
    def test_missing_without_egress_means_ingress_only(self):
        assert policy({"podSelector": {}}).policy_types == {INGRESS}
        assert policy({"podSelector": {}, "ingress": [{}]}).policy_types == {INGRESS}

    def test_missing_with_egress_rules_adds_egress(self):
        assert policy({"podSelector": {}, "egress": [{}]}).policy_types == {INGRESS, EGRESS}

    def test_missing_with_an_empty_egress_list_is_ingress_only(self):
        # The API adds Egress only when len(spec.egress) != 0.
        assert policy({"podSelector": {}, "egress": []}).policy_types == {INGRESS}

    def test_given_types_are_kept_as_given(self):
        assert policy({"podSelector": {}, "policyTypes": ["Egress"]}).policy_types == {EGRESS}
        assert policy({"podSelector": {}, "policyTypes": ["Egress"], "ingress": [{}]}).policy_types == {EGRESS}


class TestRules:
    def test_absent_and_empty_sections_are_no_rules(self):
        assert policy({"podSelector": {}}).ingress == ()
        assert policy({"podSelector": {}, "ingress": []}).ingress == ()
        assert policy({"podSelector": {}, "policyTypes": ["Egress"]}).egress == ()

    @pytest.mark.parametrize("rule", [{}, {"from": []}, {"ports": []}, {"from": [], "ports": []}])
    def test_empty_or_absent_peers_and_ports_mean_all(self, rule):
        assert policy({"podSelector": {}, "ingress": [rule]}).ingress == (Rule(None, None),)

    def test_egress_peers_come_from_to(self):
        found = policy({"podSelector": {}, "egress": [{"to": [{"podSelector": {}}]}, {"to": []}]})
        assert found.egress == (Rule((SelectorPeer(LabelSelector(), None),), None), Rule(None, None))

    def test_null_rule_is_an_allow_all_rule(self):
        assert policy({"podSelector": {}, "ingress": [None]}).ingress == (Rule(None, None),)


class TestPorts:
    def ports(self, ports):
        return policy({"podSelector": {}, "ingress": [{"ports": ports}]}).ingress[0].ports

    def test_protocol_defaults_to_tcp(self):
        assert self.ports([{"port": 80}]) == (PortSpec("TCP", 80, None),)

    def test_given_protocol_named_port_and_range_are_kept(self):
        found = self.ports([{"protocol": "UDP", "port": 53}, {"port": "http"},
                            {"protocol": "TCP", "port": 30000, "endPort": 32767}, {"protocol": "SCTP"}])
        assert found == (PortSpec("UDP", 53), PortSpec("TCP", "http"), PortSpec("TCP", 30000, 32767),
                         PortSpec("SCTP", None))
        assert [spec.is_named for spec in found] == [False, True, False, False]


class TestPeers:
    def peers(self, peers):
        return policy({"podSelector": {}, "ingress": [{"from": peers}]}).ingress[0].peers

    def test_absent_selectors_stay_absent(self):
        # An absent namespaceSelector means "the policy's namespace", an absent podSelector "all pods":
        # both differ from {} and must stay distinguishable.
        found = self.peers([{"podSelector": {"matchLabels": {"app": "a"}}}, {"namespaceSelector": {}}])
        assert found == (SelectorPeer(LabelSelector((("app", "a"),)), None), SelectorPeer(None, LabelSelector()))

    def test_both_selectors_in_one_peer_are_kept_together(self):
        found = self.peers([{"namespaceSelector": {"matchLabels": {"team": "blue"}},
                             "podSelector": {"matchExpressions": [{"key": "tier", "operator": "In",
                                                                   "values": ["web", "api"]}]}}])
        assert found == (SelectorPeer(LabelSelector(match_expressions=(Requirement("tier", "In", ("api", "web")),)),
                                      LabelSelector((("team", "blue"),))),)

    def test_selectors_are_canonical_whatever_the_manifest_order(self):
        first = self.peers([{"podSelector": {"matchLabels": {"b": "2", "a": "1"}, "matchExpressions": [
            {"key": "z", "operator": "Exists"}, {"key": "y", "operator": "NotIn", "values": ["q", "p"]}]}}])
        second = self.peers([{"podSelector": {"matchLabels": {"a": "1", "b": "2"}, "matchExpressions": [
            {"key": "y", "operator": "NotIn", "values": ["p", "q"]}, {"key": "z", "operator": "Exists"}]}}])
        assert first == second

    @pytest.mark.parametrize("cidr, canonical", [
        ("10.1.2.3/8", "10.0.0.0/8"),
        ("192.168.1.0/24", "192.168.1.0/24"),
        ("2001:DB8:0:0:0:0:0:1/32", "2001:db8::/32"),
        ("::/0", "::/0"),
    ])
    def test_cidrs_are_canonical(self, cidr, canonical):
        assert self.peers([{"ipBlock": {"cidr": cidr}}]) == (IPBlockPeer(canonical, ()),)

    def test_excepts_are_canonical_and_sorted(self):
        found = self.peers([{"ipBlock": {"cidr": "172.16.0.0/12", "except": ["172.17.1.9/24", "172.16.0.0/16"]}}])
        assert found == (IPBlockPeer("172.16.0.0/12", ("172.16.0.0/16", "172.17.1.0/24")),)


class TestPolicyIdentity:
    def test_missing_namespace_takes_the_default(self):
        assert policy({"podSelector": {}}, namespace=None, default_namespace="apps").key == "apps/p"

    def test_given_namespace_wins(self):
        assert policy({"podSelector": {}}, namespace="x", default_namespace="apps").key == "x/p"

    def test_missing_pod_selector_selects_everything(self):
        assert policy({}).pod_selector == LabelSelector()


class TestPods:
    def test_only_running_pods_with_an_address_are_active(self):
        assert Pod("x", "a", ips=("10.0.0.1",)).active
        assert not Pod("x", "a").active
        assert not Pod("x", "a", ips=("10.0.0.1",), phase="Succeeded").active
        assert not Pod("x", "a", ips=("10.0.0.1",), phase="Failed").active

    def test_host_network_pods_are_active_but_never_selectable(self):
        pod = Pod("x", "a", ips=("10.10.0.1",), host_network=True)
        assert pod.active and not pod.selectable

    def test_named_port_depends_on_the_protocol(self):
        pod = Pod("x", "a", ports=(ContainerPort("dns", 53, "UDP"), ContainerPort("dns-tcp", 53, "TCP")))
        assert pod.named_port("dns", "UDP") == 53
        assert pod.named_port("dns", "TCP") is None
        assert pod.named_port("http", "TCP") is None
