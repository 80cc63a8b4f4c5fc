# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one verdict, held equal on generated clusters to two answers made without it.

(a) The Kubernetes rules, written out plainly here from the API reference over the model: who
    is isolated, which peer and port a rule admits, named ports against the destination pod.
(b) What the nodes would do: every node's slice rendered into chains and sets, and each
    connection's first packet walked through the FORWARD chain of every node it crosses
    (netfilter_model, an interpreter of the rendered rule text).
explain and the truth table answer through plan/verdict.py, so this holds all three equal.
"""

from __future__ import annotations

import netaddr
from hypothesis import example, given, settings

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.explain import ClusterVerdicts, explain
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import (
    EGRESS, INGRESS, Cluster, ContainerPort, IPBlockPeer, Namespace, Node, Pod, frozen_labels, policy_from_manifest)
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.selectors import selector_matches
from ansible_collections.kubenet.netpol.plugins.module_utils.node.render import RenderOptions, render
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.slicing import node_slice
from cluster_strategies import PROBES, clusters, endpoints, policy_sets
from netfilter_model import PASS, forward_verdict

SETTINGS = settings(max_examples=100, deadline=None)
LOGGING = RenderOptions(log_denied=True, log_burst=7)  # the log rule must change no verdict


def isolating(policy_set, pod, direction):
    """Policies of the pod's namespace whose podSelector picks it and whose policyTypes hold direction."""
    return [policy for policy in policy_set
            if pod.selectable and policy.namespace == pod.namespace and direction in policy.policy_types
            and selector_matches(policy.pod_selector, dict(pod.labels))]


def peer_matches(cluster, policy, peer, other, other_ip):
    """A selector peer picks running, non-hostNetwork pods; an ipBlock any address in it but its excepts."""
    if isinstance(peer, IPBlockPeer):
        address = netaddr.IPAddress(other_ip)
        return address in netaddr.IPNetwork(peer.cidr) and not any(address in netaddr.IPNetwork(cut) for cut in peer.excepts)
    pod = other.pod
    if pod is None or not pod.selectable:
        return False
    if peer.namespace_selector is None:
        in_namespace = pod.namespace == policy.namespace
    else:
        in_namespace = selector_matches(peer.namespace_selector, dict(cluster.namespaces[pod.namespace].labels))
    return in_namespace and (peer.pod_selector is None or selector_matches(peer.pod_selector, dict(pod.labels)))


def port_matches(spec, protocol, port, destination_pod):
    """A named port means the number the destination pod gives it for the protocol; none: nothing."""
    if spec.protocol != protocol:
        return False
    if spec.port is None:
        return True
    if spec.is_named:
        return destination_pod is not None and destination_pod.named_port(spec.port, protocol) == port
    return spec.port <= port <= (spec.end_port or spec.port)


def rule_allows(cluster, policy, rule, direction, local, other, other_ip, protocol, port):
    """Some peer admits the other end and some port admits the connection. The destination pod gives
    named ports their numbers: the local pod for ingress; for egress the pod at the other end, whether a
    selector or an ipBlock admitted it (an ipBlock matches pod addresses too, docs/semantics.md)."""
    peers = rule.peers if rule.peers is not None else (None,)
    for peer in peers:
        if peer is not None and not peer_matches(cluster, policy, peer, other, other_ip):
            continue
        if direction == INGRESS:
            destination_pod = local
        else:
            destination_pod = other.pod if other.pod is not None and other.pod.selectable else None
        if rule.ports is None or any(port_matches(spec, protocol, port, destination_pod) for spec in rule.ports):
            return True
    return False


def direction_allows(cluster, policy_set, local, direction, other, other_ip, protocol, port):
    policies = isolating(policy_set, local, direction)
    return not policies or any(rule_allows(cluster, policy, rule, direction, local, other, other_ip, protocol, port)
                               for policy in policies for rule in policy.rules(direction))


def specification_allows(cluster, policy_set, source, destination, protocol, port):
    """Egress of the source AND ingress of the destination; a pod and its own node always talk."""
    if source.pod is not None and destination.pod is not None and source.pod.node == destination.pod.node \
            and (source.pod.host_network or destination.pod.host_network):
        return True
    source_ip, destination_ip = source.ip(4), destination.ip(4)
    if source.pod is not None and not direction_allows(cluster, policy_set, source.pod, EGRESS, destination,
                                                       destination_ip, protocol, port):
        return False
    return destination.pod is None or direction_allows(cluster, policy_set, destination.pod, INGRESS, source,
                                                       source_ip, protocol, port)


def rendered_allows(rendered, source, destination, protocol, port):
    """The first packet through the FORWARD chain of each node it crosses: the source pod's node as it
    leaves, the destination pod's as it arrives. hostNetwork ends use their node's INPUT/OUTPUT."""
    ends = [end.pod for end in (source, destination) if end.pod is not None]
    if len(ends) == 2 and ends[0].node == ends[1].node and (ends[0].host_network or ends[1].host_network):
        return True
    crossed = []
    for pod in ends:
        if not pod.host_network and pod.node not in crossed:
            crossed.append(pod.node)
    return all(forward_verdict(rendered[node], source.ip(4), destination.ip(4), protocol, port) == PASS
               for node in crossed)


def _named_port_through_an_ip_block():
    """A case the generator seldom draws: an egress named port towards an ipBlock that covers the pods
    (x/b gives http 80, x/c gives http 81; both inside 10.244.1.0/24)."""
    namespaces = {"x": Namespace("x", frozen_labels({"kubernetes.io/metadata.name": "x"}))}
    pods = (Pod("x", "a", frozen_labels({"app": "a"}), "n1", ("10.244.1.10",)),
            Pod("x", "b", frozen_labels({"app": "b"}), "n1", ("10.244.1.11",), ports=(ContainerPort("http", 80),)),
            Pod("x", "c", frozen_labels({"app": "c"}), "n2", ("10.244.1.12",), ports=(ContainerPort("http", 81),)))
    cluster = Cluster(namespaces, pods, (Node("n1", ("10.10.0.1",)), Node("n2", ("10.10.0.2",))))
    policy = policy_from_manifest({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "a-out", "namespace": "x"},
        "spec": {"podSelector": {"matchLabels": {"app": "a"}}, "policyTypes": ["Egress"],
                 "egress": [{"to": [{"ipBlock": {"cidr": "10.244.1.0/24"}}], "ports": [{"port": "http"}]}]}})
    return {"cluster": cluster, "policy_set": (policy,)}


def pairs(cluster):
    for source in endpoints(cluster):
        for destination in endpoints(cluster):
            if source is not destination and (source.pod is not None or destination.pod is not None):
                for probe in PROBES:
                    yield source, destination, probe


@SETTINGS
@given(cluster=clusters(), policy_set=policy_sets())
@example(**_named_port_through_an_ip_block())
def test_the_verdict_is_the_specification(cluster, policy_set):
    verdicts = ClusterVerdicts(cluster, policy_set)
    for source, destination, probe in pairs(cluster):
        expected = specification_allows(cluster, policy_set, source, destination, probe.protocol, probe.port)
        found = explain(verdicts, source, destination, probe.protocol, probe.port)
        assert found.allowed == expected, (source.name, destination.name, probe, found.reasons)


@SETTINGS
@given(cluster=clusters(), policy_set=policy_sets())
@example(**_named_port_through_an_ip_block())
def test_the_verdict_is_what_the_rendered_chains_do(cluster, policy_set):
    verdicts = ClusterVerdicts(cluster, policy_set)
    rendered = {name: render(node_slice(verdicts.plan, name), LOGGING) for name in verdicts.plan["nodes"]}
    for source, destination, probe in pairs(cluster):
        found = explain(verdicts, source, destination, probe.protocol, probe.port)
        assert rendered_allows(rendered, source, destination, probe.protocol, probe.port) == found.allowed, \
            (source.name, destination.name, probe, found.reasons)
