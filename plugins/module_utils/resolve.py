# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resolve policies against the cluster: who is isolated, and what each rule allows.

A rule resolves to clauses. A clause is one (peers, ports, targets) triple with no named
port left in it: named ports are resolved per destination pod, so one named port can
become several clauses, each with the pods (targets for ingress, peers for egress) that
give the name that number. The per-node plan and explain both read these clauses.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
from dataclasses import dataclass

try:
    import netaddr
except ImportError:  # pragma: no cover - reported by the module and filters that need it
    netaddr = None

from ansible_collections.kubenet.netpol.plugins.module_utils.model import EGRESS, INGRESS, IPBlockPeer
from ansible_collections.kubenet.netpol.plugins.module_utils.selectors import LabelIndex

DIRECTIONS = (INGRESS, EGRESS)


@dataclass(frozen=True)
class PortRange:
    """A protocol and an inclusive port range; first None means every port of the protocol."""

    protocol: str
    first: int | None = None
    last: int | None = None

    def matches(self, protocol, port):
        if protocol != self.protocol:
            return False
        return self.first is None or self.first <= port <= self.last

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

    def allows_port(self, protocol, port):
        return self.ports is None or any(item.matches(protocol, port) for item in self.ports)

    def allows_target(self, target_key):
        return self.targets is None or target_key in self.targets

    def allows_peer(self, ip):
        if self.any_peer:
            return True
        if any(ip in pod.ips for pod in self.pods):
            return True
        return any(ip_block_contains(block, ip) for block in self.ip_blocks)


def ip_block_contains(block, ip):
    """An ipBlock matches an address inside its cidr and outside every except."""
    address = netaddr.IPAddress(ip)
    if address not in netaddr.IPNetwork(block.cidr):
        return False
    return not any(address in netaddr.IPNetwork(cut) for cut in block.excepts)


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
        self._namespaces = LabelIndex(cluster.namespaces, lambda name: cluster.namespaces[name].label_map)
        by_namespace = {}
        for pod in self.pods:
            by_namespace.setdefault(pod.namespace, []).append(pod)
        self._pods_in = {name: LabelIndex(pods, lambda pod: pod.label_map) for name, pods in by_namespace.items()}
        self._empty = LabelIndex((), dict)
        self._peer_cache = {}
        self._clause_cache = {}
        self._named_cache = {}
        self._interned = {}
        self._selected = {policy.key: self._select_in(policy.namespace, policy.pod_selector)
                          for policy in self.policies}
        self._pods_on = {}
        for pod in self.pods:
            self._pods_on.setdefault(pod.node, []).append(pod)
        self._isolating = {}
        self._targets_on = {}
        for policy in self.policies:
            directions = [direction for direction in DIRECTIONS if direction in policy.policy_types]
            for pod in self._selected[policy.key]:
                self._targets_on.setdefault(pod.node, {}).setdefault(policy.key, (policy, set()))[1].add(pod.key)
                for direction in directions:
                    self._isolating.setdefault((pod.key, direction), []).append(policy)

    def _select_in(self, namespace, selector):
        index = self._pods_in.get(namespace, self._empty)
        return index.all if selector is None else index.select(selector)

    def selected(self, policy):
        """The active, non-hostNetwork pods the policy's podSelector picks in its namespace."""
        return self._selected[policy.key]

    def pods_on(self, node_name):
        """The selectable pods scheduled on a node."""
        return tuple(self._pods_on.get(node_name, ()))

    def policies_on(self, node_name):
        """(policy, keys of the pods it selects on the node) for each policy selecting a pod there, by key."""
        found = self._targets_on.get(node_name, {})
        return [(found[key][0], frozenset(found[key][1])) for key in sorted(found)]

    def _intern(self, pods):
        """One object per distinct pod set: later lookups then compare by identity, not pod by pod."""
        return self._interned.setdefault(pods, pods)

    def isolating(self, pod, direction):
        """The policies that isolate the pod in a direction (empty: not isolated)."""
        return tuple(self._isolating.get((pod.key, direction), ()))

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
                    yield from self._named_on_peers(spec, any_peer, pods)

    def _rule_pods(self, policy, rule):
        """The pods of a rule's selector peers; a single peer's set is shared, not copied."""
        found = [self.peer_pods(policy, peer) for peer in rule.peers or () if not isinstance(peer, IPBlockPeer)]
        if len(found) == 1:
            return found[0]
        return self._intern(frozenset().union(*found))

    def named_resolves(self, policy, direction, index, spec):
        """Whether any destination pod of the rule gives this named port a number."""
        rule = policy.rules(direction)[index]
        if direction == INGRESS:
            candidates = self.selected(policy)
        elif rule.peers is None:
            candidates = self.pods
        else:
            candidates = self._rule_pods(policy, rule)
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
        """Egress: each peer pod is a destination; an ipBlock has no pod to give a number.
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


def ip_set_id(ips):
    """A stable short name for a set of peer addresses, shared by every rule that has it."""
    return hashlib.sha256("\n".join(ips).encode()).hexdigest()[:16]


class _SharedForms:
    """Plan parts that are the same on every node, made once: peer address sets and clauses.

    Nodes share these objects, so the plan must be treated as read-only (JSON is unaffected).
    """

    def __init__(self):
        self._peer_sets = {}
        self._clauses = {}
        self._untargeted_rules = {}

    def peer_set(self, pods):
        """(id, sorted addresses) of an interned pod set."""
        if pods not in self._peer_sets:
            ips = sorted({ip for pod in pods for ip in pod.ips})
            self._peer_sets[pods] = (ip_set_id(ips), ips)
        return self._peer_sets[pods]

    def clause(self, clause):
        """A clause in plan form with targets null (clauses live in the Resolver's cache: ids are stable)."""
        if id(clause) not in self._clauses:
            if clause.any_peer:
                peers = None
            else:
                peers = {
                    "pod_set": self.peer_set(clause.pods)[0] if clause.pods else None,
                    "ip_blocks": [{"cidr": block.cidr, "except": list(block.excepts)} for block in clause.ip_blocks],
                }
            ports = None if clause.ports is None else [item.to_dict() for item in clause.ports]
            self._clauses[id(clause)] = {"peers": peers, "ports": ports, "targets": None}
        return self._clauses[id(clause)]

    def untargeted_rules(self, resolver, policy, direction):
        """(rules, peer_sets) of a policy direction whose clauses name no targets: the same on
        every node, so built once; None when a named port makes some clause node-specific."""
        key = (policy.key, direction)
        if key not in self._untargeted_rules:
            found = None
            groups = [resolver.clauses(policy, direction, index) for index in range(len(policy.rules(direction)))]
            if all(clause.targets is None for clauses in groups for clause in clauses):
                peer_sets = {}
                for clauses in groups:
                    for clause in clauses:
                        if not clause.any_peer and clause.pods:
                            set_id, ips = self.peer_set(clause.pods)
                            peer_sets[set_id] = ips
                found = ([{"index": index, "clauses": [self.clause(clause) for clause in clauses]}
                          for index, clauses in enumerate(groups)], peer_sets)
            self._untargeted_rules[key] = found
        return self._untargeted_rules[key]


class _NodePlanner:
    """Builds one node's slice of the plan, sharing peer address sets between clauses."""

    def __init__(self, resolver, node_name, shared):
        self.resolver = resolver
        self.node = node_name
        self.shared = shared
        self.local = {pod.key: pod for pod in resolver.pods_on(node_name)}
        self.peer_sets = {}

    def _clause_dict(self, clause, local_targets):
        """The clause on this node, or None when it applies to no local pod."""
        found = self.shared.clause(clause)
        if clause.targets is not None:
            targets = sorted(clause.targets & local_targets)
            if not targets:
                return None
            found = dict(found, targets=targets)
        if found["peers"] is not None and found["peers"]["pod_set"] is not None:
            set_id, ips = self.shared.peer_set(clause.pods)
            self.peer_sets[set_id] = ips
        return found

    def build(self):
        resolver = self.resolver
        pods = []
        for key in sorted(self.local):
            pod = self.local[key]
            entry = {"pod": key, "ips": list(pod.ips)}
            for direction in DIRECTIONS:
                entry[direction.lower()] = [policy.key for policy in resolver.isolating(pod, direction)]
            pods.append(entry)
        policies = []
        for policy, local_targets in resolver.policies_on(self.node):
            for direction in DIRECTIONS:
                if direction not in policy.policy_types:
                    continue
                shared = self.shared.untargeted_rules(resolver, policy, direction)
                if shared is not None:
                    self.peer_sets.update(shared[1])
                    policies.append({"policy": policy.key, "direction": direction.lower(),
                                     "targets": sorted(local_targets), "rules": shared[0]})
                    continue
                rules = []
                for index in range(len(policy.rules(direction))):
                    clauses = [self._clause_dict(clause, local_targets)
                               for clause in resolver.clauses(policy, direction, index)]
                    rules.append({"index": index, "clauses": [clause for clause in clauses if clause is not None]})
                policies.append({"policy": policy.key, "direction": direction.lower(),
                                 "targets": sorted(local_targets), "rules": rules})
        return {"node": self.node, "pods": pods, "policies": policies, "peer_sets": self.peer_sets}


def plan_warnings(resolver):
    """Things that are valid but almost certainly not what the author meant."""
    warnings = []
    for policy in resolver.policies:
        if policy.namespace not in resolver.cluster.namespaces:
            warnings.append("policy %s: namespace %s does not exist in the cluster" % (policy.key, policy.namespace))
        if not resolver.selected(policy):
            warnings.append("policy %s selects no pod" % policy.key)
            continue
        for direction in DIRECTIONS:
            if direction not in policy.policy_types:
                continue
            for index, rule in enumerate(policy.rules(direction)):
                for spec in rule.ports or ():
                    if spec.is_named and not resolver.named_resolves(policy, direction, index, spec):
                        warnings.append("policy %s %s rule %d: named port %s/%s resolves on no pod"
                                        % (policy.key, direction.lower(), index, spec.port, spec.protocol))
    return warnings


@contextlib.contextmanager
def _without_cycle_collection():
    """The plan is millions of new acyclic containers: the cycle collector would only rescan them,
    and at 100,000 pods that costs as much as building them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def build_plan(cluster, policies):
    """The per-node plan: for each node, its pods' isolation, the policies that select them,
    their rules as clauses, and the peer address sets the clauses refer to."""
    with _without_cycle_collection():
        resolver = Resolver(cluster, policies)
        shared = _SharedForms()
        nodes = {node.name: dict(_NodePlanner(resolver, node.name, shared).build(), pod_cidrs=list(node.pod_cidrs))
                 for node in cluster.nodes}
        warnings = plan_warnings(resolver)
    isolated = {direction.lower(): sum(1 for pod in resolver.pods if resolver.isolating(pod, direction))
                for direction in DIRECTIONS}
    counts = {"policies": len(resolver.policies), "pods": len(resolver.pods), "nodes": len(nodes),
              "isolated_ingress": isolated["ingress"], "isolated_egress": isolated["egress"]}
    return {"nodes": nodes, "counts": counts, "warnings": warnings}
