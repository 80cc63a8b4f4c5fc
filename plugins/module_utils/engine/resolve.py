# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resolve policies against the cluster: who is isolated, and what each rule allows.

A rule resolves to clauses. A clause is one (peers, ports, targets) triple with no named
port left in it: named ports are resolved per destination pod, so one named port can
become several clauses, each with the pods (targets for ingress, peers for egress) that
give the name that number. The planner writes these clauses into the plan.
"""

from __future__ import annotations

from operator import attrgetter
from dataclasses import dataclass

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import INGRESS, POLICY_TYPES, IPBlockPeer
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.selectors import LabelIndex
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.addresses import block_contains


@dataclass(frozen=True)
class PortRange:
    """A protocol and an inclusive port range; first None means every port of the protocol."""

    protocol: str
    first: int | None = None
    last: int | None = None

    def to_dict(self):
        return {"protocol": self.protocol, "port": self.first, "end_port": self.last}


@dataclass(frozen=True)
class Clause:
    """Traffic allowed by part of a rule.

    any_peer: every address; otherwise pods (frozenset of Pod) plus ip_blocks.
    ports: None for every protocol and port. targets: None for every pod the policy
    selects, otherwise the keys of the selected pods this clause applies to.
    """

    any_peer: bool
    pods: frozenset = frozenset()
    ip_blocks: tuple = ()
    ports: tuple | None = None
    targets: frozenset | None = None


def numeric_range(spec):
    if spec.port is None:
        return PortRange(spec.protocol)
    return PortRange(spec.protocol, spec.port, spec.end_port if spec.end_port is not None else spec.port)


class Resolver:
    """Selections and clauses for one cluster and policy set, each computed once."""

    def __init__(self, cluster, policies):
        self.cluster = cluster
        self.policies = tuple(sorted(policies, key=lambda policy: policy.key))
        self.pods = tuple(pod for pod in cluster.pods if pod.selectable)
        self._namespaces = LabelIndex(cluster.namespaces, lambda name: cluster.namespaces[name].labels)
        by_namespace = {}
        for pod in self.pods:
            by_namespace.setdefault(pod.namespace, []).append(pod)
        self._pods_in = {name: LabelIndex(pods, attrgetter("labels")) for name, pods in by_namespace.items()}
        self._empty = LabelIndex((), tuple)
        self._peer_cache = {}
        self._clause_cache = {}
        self._named_cache = {}
        self._inside_cache = {}
        self._interned = {}
        self._selected = {policy.key: self._select_in(policy.namespace, policy.pod_selector)
                          for policy in self.policies}
        # Per direction, per namespace (a policy isolates pods of its own namespace only, and
        # small tables stay in the CPU cache), the keys of the policies isolating each pod.
        self._isolating = {direction: {} for direction in POLICY_TYPES}
        for policy in self.policies:
            for direction in POLICY_TYPES:
                if direction in policy.policy_types:
                    isolating = self._isolating[direction].setdefault(policy.namespace, {})
                    for pod in self._selected[policy.key]:
                        isolating.setdefault(pod.key, []).append(policy.key)

    def _select_in(self, namespace, selector):
        index = self._pods_in.get(namespace, self._empty)
        return index.all if selector is None else index.select(selector)

    def selected(self, policy):
        """The active, non-hostNetwork pods the policy's podSelector picks in its namespace."""
        return self._selected[policy.key]

    def _intern(self, pods):
        """One object per distinct pod set: later lookups then compare by identity, not pod by pod."""
        return self._interned.setdefault(pods, pods)

    def isolating_keys(self, pod, direction):
        """The keys of the policies that isolate the pod in a direction, in key order (read-only)."""
        return self._isolating[direction].get(pod.namespace, {}).get(pod.key, [])

    def isolated_count(self, direction):
        """How many pods some policy isolates in a direction."""
        return sum(len(pods) for pods in self._isolating[direction].values())

    def peer_pods(self, policy, peer):
        """Pods a selector peer picks: its namespaces (or the policy's own), then its pods."""
        cache_key = (policy.namespace if peer.namespace_selector is None else None, peer)
        if cache_key not in self._peer_cache:
            if peer.namespace_selector is None:
                namespaces = (policy.namespace,)
            else:
                namespaces = self._namespaces.select(peer.namespace_selector)
            found = set()
            for namespace in namespaces:
                found |= self._select_in(namespace, peer.pod_selector)
            self._peer_cache[cache_key] = self._intern(frozenset(found))
        return self._peer_cache[cache_key]

    def clauses(self, policy, direction, index):
        """The clauses of one rule, named ports resolved against the destination pods."""
        cache_key = (policy.key, direction, index)
        if cache_key not in self._clause_cache:
            self._clause_cache[cache_key] = tuple(self._build_clauses(policy, direction, index))
        return self._clause_cache[cache_key]

    def _build_clauses(self, policy, direction, index):
        rule = policy.rules(direction)[index]
        any_peer = rule.peers is None
        ip_blocks = tuple(peer for peer in rule.peers or () if isinstance(peer, IPBlockPeer))
        pods = self._rule_pods(policy, rule)
        if rule.ports is None:
            yield Clause(any_peer, pods, ip_blocks)
            return
        numeric = tuple(numeric_range(spec) for spec in rule.ports if not spec.is_named)
        if numeric:
            yield Clause(any_peer, pods, ip_blocks, numeric)
        for spec in rule.ports:
            if spec.is_named:
                if direction == INGRESS:
                    yield from self._named_on_targets(policy, spec, any_peer, pods, ip_blocks)
                else:
                    yield from self._named_on_peers(spec, any_peer, self._with_pods_inside(pods, ip_blocks))

    def _rule_pods(self, policy, rule):
        """The pods of a rule's selector peers; a single peer's set is shared, not copied."""
        found = [self.peer_pods(policy, peer) for peer in rule.peers or () if not isinstance(peer, IPBlockPeer)]
        if len(found) == 1:
            return found[0]
        return self._intern(frozenset().union(*found))

    def _with_pods_inside(self, pods, ip_blocks):
        """Egress destinations a named port resolves against: the selector peers' pods and, as an ipBlock
        matches pod addresses too (docs/semantics.md), the pods inside the rule's ipBlocks."""
        if not ip_blocks:
            return pods
        if ip_blocks not in self._inside_cache:
            forms = [{"cidr": block.cidr, "except": block.excepts} for block in ip_blocks]
            self._inside_cache[ip_blocks] = frozenset(
                pod for pod in self.pods if any(block_contains(form, ip) for form in forms for ip in pod.ips))
        return self._intern(pods | self._inside_cache[ip_blocks])

    def named_resolves(self, policy, direction, index, spec):
        """Whether any destination pod of the rule gives this named port a number."""
        rule = policy.rules(direction)[index]
        if direction == INGRESS:
            candidates = self.selected(policy)
        elif rule.peers is None:
            candidates = self.pods
        else:
            ip_blocks = tuple(peer for peer in rule.peers if isinstance(peer, IPBlockPeer))
            candidates = self._with_pods_inside(self._rule_pods(policy, rule), ip_blocks)
        return any(pod.named_port(spec.port, spec.protocol) is not None for pod in candidates)

    def _named_on_targets(self, policy, spec, any_peer, pods, ip_blocks):
        """Ingress: the selected pod is the destination, so it gives the name its number."""
        by_number = {}
        for target in self.selected(policy):
            number = target.named_port(spec.port, spec.protocol)
            if number is not None:
                by_number.setdefault(number, set()).add(target.key)
        for number in sorted(by_number):
            yield Clause(any_peer, pods, ip_blocks, (PortRange(spec.protocol, number, number),),
                         frozenset(by_number[number]))

    def _named_on_peers(self, spec, any_peer, pods):
        """Egress: each peer pod is a destination and gives the name its number.
        Many rules name the same port towards the same peers: each such answer is computed once."""
        cache_key = (None if any_peer else pods, spec.port, spec.protocol)
        if cache_key not in self._named_cache:
            self._named_cache[cache_key] = tuple(self._named_numbers(spec, self.pods if any_peer else pods))
        return self._named_cache[cache_key]

    def _named_numbers(self, spec, candidates):
        by_number = {}
        for peer in candidates:
            number = peer.named_port(spec.port, spec.protocol)
            if number is not None:
                by_number.setdefault(number, set()).add(peer)
        for number in sorted(by_number):
            yield Clause(False, self._intern(frozenset(by_number[number])), (), (PortRange(spec.protocol, number, number),))
