# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report against the one verdict asked pod pair by pod pair, on generated clusters.

The report asks the verdict once per pair of classes and counts pairs by class; here every pair of
pods is asked (explain, with no classes), and the matrix cells, the diff and the shadowed policies
must say the same. Ports are probed on both sides of every boundary the generated policies draw.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from hypothesis import given, settings

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.explain import ClusterVerdicts, Endpoint, explain
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import INGRESS, IPBlockPeer
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.connections import Judged
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.diff import NEWLY_ALLOWED, NEWLY_DENIED, policy_diff
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.matrix import workload_matrices
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.ports import PortRange
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.reasons import decisive_reasons
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.regions import outside_endpoints
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.shadows import shadowed_policies
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.workloads import group_workloads
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.resolve import Resolver
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.selectors import selector_matches
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.verdict import judge
from cluster_strategies import EXTERNALS, clusters, dual_stack_clusters, dual_stack_policy_sets, policy_sets

SETTINGS = settings(max_examples=120, deadline=None)
# The generated policies name TCP/UDP 80 and 81 (numbers, names and the range 80-81): these probe
# every piece of every protocol.
PROBES = (("TCP", 79), ("TCP", 80), ("TCP", 81), ("TCP", 82), ("UDP", 80), ("UDP", 81), ("UDP", 1), ("SCTP", 80))


def pod_pairs(source, destination):
    """Pairs of distinct pods of two workloads, with the IP families both have."""
    for first in source.endpoints:
        for second in destination.endpoints:
            found = [family for family in (4, 6) if first.ip(family) and second.ip(family)]
            if first is not second and found:
                yield first, second, found


@SETTINGS
@given(cluster=dual_stack_clusters(), policy_set=dual_stack_policy_sets())
def test_matrix_cells_are_the_verdicts_of_every_pod_pair(cluster, policy_set):
    workloads = group_workloads(cluster, {})
    judged = Judged(cluster, policy_set, [endpoint for workload in workloads for endpoint in workload.endpoints])
    verdicts = ClusterVerdicts(cluster, policy_set)
    for protocol, port in PROBES:
        [matrix] = workload_matrices(judged, workloads, [[PortRange(protocol, port, port)]])
        cells = {(cell.source, cell.destination): cell for cell in matrix.cells}
        for source in workloads:
            for destination in workloads:
                pairs = allowed = denied = 0
                allowed_by, denied_by = set(), set()
                for first, second, families in pod_pairs(source, destination):
                    results = [explain(verdicts, first, second, protocol, port, family).allowed for family in families]
                    pairs += 1
                    allowed += all(results)
                    denied += not any(results)
                    for family in families:
                        verdict = judge(verdicts.view_of(first), verdicts.view_of(second), first.ip(family), second.ip(family),
                                        protocol, port)
                        (allowed_by if verdict.allowed else denied_by).update(decisive_reasons(verdict))
                cell = cells.get((source.id, destination.id))
                if not pairs:
                    assert cell is None
                    continue
                assert (cell.pairs, cell.allowed_pairs, cell.denied_pairs) == (pairs, allowed, denied), (source.id, destination.id)
                assert (set(cell.allowed_by), set(cell.denied_by)) == (allowed_by, denied_by)


@SETTINGS
@given(cluster=dual_stack_clusters(), new=dual_stack_policy_sets(), old=dual_stack_policy_sets())
def test_the_diff_lists_exactly_the_connections_that_change(cluster, new, old):
    workloads = group_workloads(cluster, {})
    endpoints = [endpoint for workload in workloads for endpoint in workload.endpoints]
    changes = policy_diff(Judged(cluster, new, endpoints), Judged(cluster, old, endpoints), workloads)
    now, before = ClusterVerdicts(cluster, new), ClusterVerdicts(cluster, old)
    for source in workloads:
        for destination in workloads:
            for protocol, port in PROBES:
                expected = {}
                for first, second, families in pod_pairs(source, destination):
                    for family in families:
                        allowed = explain(now, first, second, protocol, port, family).allowed
                        if allowed != explain(before, first, second, protocol, port, family).allowed:
                            expected.setdefault(NEWLY_ALLOWED if allowed else NEWLY_DENIED, set()).add((first.name, second.name))
                found = {}
                for change in changes:
                    if (change.source, change.destination) == (source.id, destination.id) and any(
                            item.protocol == protocol and item.first <= port <= item.last for item in change.ports):
                        found[change.change] = found.get(change.change, 0) + change.pairs
                assert set(found) == set(expected), (source.id, destination.id, protocol, port)
                for kind, pairs in expected.items():
                    assert found[kind] >= len(pairs)  # an entry counts the pairs that change on any of its ports


def one_direction(policy, direction):
    return replace(policy, policy_types=frozenset((direction,)), ingress=policy.ingress if direction == INGRESS else (),
                   egress=() if direction == INGRESS else policy.egress)


def selected(cluster, policy):
    return [pod for pod in cluster.pods if pod.selectable and pod.namespace == policy.namespace
            and selector_matches(policy.pod_selector, dict(pod.labels))]


def probe_addresses(cluster, policies):
    """Outside hosts: the generated ones, the nodes, and each ipBlock's first address and the one after its last."""
    found = [endpoint.ips[0] for endpoint in EXTERNALS] + [ip for node in cluster.nodes for ip in node.addresses]
    for policy in policies:
        for rule in policy.ingress + policy.egress:
            for peer in rule.peers or ():
                if isinstance(peer, IPBlockPeer):
                    for cidr in (peer.cidr,) + peer.excepts:
                        network = ipaddress.ip_network(cidr)
                        found.append(str(network.network_address))
                        if int(network.broadcast_address) < (1 << network.max_prefixlen) - 1:
                            found.append(str(network.broadcast_address + 1))
    return [Endpoint("outside %s" % address, (address,)) for address in sorted(set(found))]


def shadowed_pair_by_pair(cluster, policies):
    """The definition of shadows.py, asked of the one verdict for every pair and probe."""
    pods = [Endpoint(pod.key, pod.ips, pod) for pod in cluster.pods if pod.active]
    others_ends = pods + probe_addresses(cluster, policies)
    found = {}
    for policy in policies:
        own = selected(cluster, policy)
        if not own or not any(policy.rules(direction) for direction in policy.policy_types):
            continue
        shadowing = set()
        for direction in sorted(policy.policy_types):
            others = [other for other in policies if other is not policy and direction in other.policy_types]
            if any(all(pod not in selected(cluster, other) for other in others) for pod in own):
                break
            shadowing.update(other.key for other in others if set(own) & set(selected(cluster, other)))
            with_policy = ClusterVerdicts(cluster, [one_direction(other, direction) for other in others + [policy]])
            without_policy = ClusterVerdicts(cluster, [one_direction(other, direction) for other in others])
            targets = [end for end in pods if end.pod in own]
            pairs = [(end, target) if direction == INGRESS else (target, end) for target in targets for end in others_ends if end is not target]
            if any(explain(with_policy, first, second, protocol, port).allowed != explain(without_policy, first, second, protocol, port).allowed
                   for first, second in pairs for protocol, port in PROBES if first.ip(4) and second.ip(4)):
                break
        else:
            found[policy.key] = sorted(shadowing)
    return found


@SETTINGS
@given(cluster=clusters(), policy_set=policy_sets(max_size=4))
def test_shadowed_policies_are_those_the_definition_names(cluster, policy_set):
    endpoints = [Endpoint(pod.key, pod.ips, pod) for pod in cluster.pods if pod.active] + outside_endpoints(cluster, policy_set)
    assert shadowed_policies(cluster, policy_set, Resolver(cluster, policy_set), endpoints) == shadowed_pair_by_pair(cluster, policy_set)
