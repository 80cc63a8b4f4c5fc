# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""netpol_explain: verdicts reasoned from the NetworkPolicy specification for a small cluster.

x/b accepts TCP 80 from app=a pods of x only, and may itself only send UDP 53 to 10.96.0.0/12;
y/c accepts TCP 8080 from 172.17.0.0/16 except 172.17.1.0/24. x/a is isolated by nothing.
"""

from __future__ import annotations

import sys

import pytest

from ansible.errors import AnsibleError, AnsibleFilterError

from ansible_collections.kubenet.netpol.plugins.filter.netpol_explain import FilterModule, netpol_explain


def pod(namespace, name, labels, node, ips, host_network=False):
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"nodeName": node, "hostNetwork": host_network},
            "status": {"phase": "Running", "podIPs": [{"ip": ip} for ip in ips]}}


def policy(namespace, name, spec):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


CLUSTER = {
    "namespaces": [{"metadata": {"name": "x"}}, {"metadata": {"name": "y"}}],
    "pods": [
        pod("x", "a", {"app": "a"}, "node-1", ["10.244.1.10", "fd00:10:244:1::a"]),
        pod("x", "b", {"app": "b"}, "node-1", ["10.244.1.11", "fd00:10:244:1::b"]),
        pod("y", "c", {"app": "c"}, "node-2", ["10.244.2.10"]),
        pod("x", "h", {"app": "b"}, "node-1", ["192.168.0.1"], host_network=True),
    ],
    "nodes": [{"metadata": {"name": "node-1"}}, {"metadata": {"name": "node-2"}}],
}

POLICIES = [
    policy("x", "allow-a-to-b", {
        "podSelector": {"matchLabels": {"app": "b"}},
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "a"}}}], "ports": [{"port": 80}]}]}),
    policy("x", "b-egress-dns", {
        "podSelector": {"matchLabels": {"app": "b"}}, "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": "10.96.0.0/12"}}], "ports": [{"protocol": "UDP", "port": 53}]}]}),
    policy("y", "c-from-outside", {
        "podSelector": {"matchLabels": {"app": "c"}},
        "ingress": [{"from": [{"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}}],
                     "ports": [{"protocol": "TCP", "port": 8080}]}]}),
]

INPUT = {"cluster": CLUSTER, "policies": POLICIES}


@pytest.mark.parametrize("source, destination, protocol_port, allowed", [
    ("x/a", "x/b", "TCP/80", True),          # b's ingress rule admits app=a on TCP 80
    ("x/a", "x/b", "80", True),              # a bare port is TCP, the API's default protocol
    ("x/a", "x/b", "tcp/80", True),
    ("x/a", "x/b", "TCP/81", False),         # isolated, and no rule covers port 81
    ("x/a", "x/b", "UDP/80", False),         # the rule's port is TCP only
    ("y/c", "x/b", "TCP/80", False),         # the rule's podSelector picks pods of x only
    ("x/b", "x/a", "TCP/80", False),         # b's egress is isolated: only UDP 53 to 10.96.0.0/12
    ("x/b", "10.96.0.10", "UDP/53", True),
    ("x/b", "10.96.0.10", "TCP/53", False),
    ("x/b", "10.95.255.255", "UDP/53", False),  # just below 10.96.0.0/12
    ("172.17.0.5", "y/c", "TCP/8080", True),
    ("172.17.1.5", "y/c", "TCP/8080", False),  # inside the except
    ("172.18.0.5", "y/c", "TCP/8080", False),  # outside the cidr
    ("10.244.1.10", "x/b", "TCP/80", True),    # x/a's address stands for x/a
    ("y/c", "x/a", "TCP/9000", True),          # neither side is isolated in its direction
    ("x/a", "y/c", "TCP/9000", False),         # y/c admits only 172.17.0.0/16 minus an except
    ("x/h", "x/b", "TCP/81", True),            # from its own node (a hostNetwork pod): always allowed
])
def test_verdicts(source, destination, protocol_port, allowed):
    assert netpol_explain(INPUT, source, destination, protocol_port)["allowed"] is allowed


def test_the_reasons_name_the_deciding_policy_and_rule():
    verdict = netpol_explain(INPUT, "x/a", "x/b", "TCP/80")
    assert verdict["allowed"] is True
    [egress, ingress] = verdict["reasons"]
    assert "x/a" in egress and "not isolated" in egress
    assert "x/allow-a-to-b ingress rule 0" in ingress


def test_an_address_no_pod_holds_is_outside_the_cluster():
    verdict = netpol_explain(INPUT, "x/b", "10.96.0.10", "UDP/53")
    assert any("10.96.0.10 is outside the cluster" in reason for reason in verdict["reasons"])


@pytest.mark.parametrize("source, destination, family, allowed", [
    ("x/a", "x/b", 6, True),                     # both dual-stack: the rule holds for IPv6 too
    ("x/a", "y/c", 6, False),                    # y/c has no IPv6 address
    ("fd00:10:244:1::a", "x/b", None, True),     # x/a's IPv6 address, family taken from it
    ("2001:db8::5", "x/b", None, False),         # an outside IPv6 host is not app=a
])
def test_ip_families(source, destination, family, allowed):
    assert netpol_explain(INPUT, source, destination, "TCP/80", family=family)["allowed"] is allowed


def test_no_common_family_is_said():
    verdict = netpol_explain(INPUT, "x/a", "y/c", "TCP/80", family=6)
    assert verdict["reasons"] == ["x/a and y/c have no common IPv6 address"]


def test_a_manifest_without_namespace_takes_the_default_namespace():
    unnamed = dict(POLICIES[0], metadata={"name": "allow-a-to-b"})
    data = {"cluster": CLUSTER, "policies": [unnamed]}
    assert netpol_explain(data, "x/a", "x/b", "TCP/81", default_namespace="x")["allowed"] is False
    assert netpol_explain(data, "x/a", "x/b", "TCP/81")["allowed"] is True


@pytest.mark.parametrize("data, source, destination, protocol_port, message", [
    (INPUT, "x/zzz", "x/b", "TCP/80", "source: no pod x/zzz in cluster.pods"),
    (INPUT, "x/a", "web", "TCP/80", "destination must be a pod (namespace/name) or an IP address"),
    (INPUT, "x/a", "x/b", "ICMP/1", "protocol_port must be PROTOCOL/PORT"),
    (INPUT, "x/a", "x/b", "TCP/0", "protocol_port must be PROTOCOL/PORT"),
    (INPUT, "x/a", "x/b", "TCP/http", "protocol_port must be PROTOCOL/PORT"),
    (INPUT, "10.0.0.1", "fd00::1", "TCP/80", "different IP families"),
    ({"policies": POLICIES}, "x/a", "x/b", "TCP/80", "the input must be a mapping with cluster"),
    (dict(INPUT, polices=[]), "x/a", "x/b", "TCP/80", "unknown input key(s): polices"),
    ({"cluster": CLUSTER, "policies": [policy("x", "bad", {"podSelector": {}, "ingress": [{"ports": [{"port": 0}]}]})]},
     "x/a", "x/b", "TCP/80", "policies[0]: x/bad: spec.ingress[0].ports[0].port: "),
    ({"cluster": dict(CLUSTER, pods=[{"kind": "Node", "metadata": {"name": "node-1"}}])},
     "x/a", "x/b", "TCP/80", "cluster.pods[0]: kind: must be a Pod, not a Node"),
    ({"cluster": dict(CLUSTER, pods=[{"metadata": {"namespace": "x"}}])},
     "x/a", "x/b", "TCP/80", "cluster.pods[0]: Pod x/(no name): metadata.name: is required"),
])
def test_bad_input_is_refused_with_a_precise_message(data, source, destination, protocol_port, message):
    with pytest.raises(AnsibleFilterError) as raised:
        netpol_explain(data, source, destination, protocol_port)
    assert message in str(raised.value)


def test_family_must_be_4_or_6():
    with pytest.raises(AnsibleFilterError, match="family must be 4 or 6"):
        netpol_explain(INPUT, "x/a", "x/b", "TCP/80", family=5)


def test_missing_netaddr_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "netaddr", None)  # as if it were not installed
    with pytest.raises(AnsibleError, match="netaddr"):
        netpol_explain(INPUT, "x/a", "x/b", "TCP/80")


def test_the_plugin_registers_the_filter():
    assert FilterModule().filters() == {"netpol_explain": netpol_explain}
