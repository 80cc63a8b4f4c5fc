# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The planner: the resolved policies and the cluster written as the plan (docs/plan-format.md).

The plan is the contract with the nodes (plan/contract.py): every policy's rules once for the
cluster, the peer address sets they refer to, and for each node its addresses and its pods with
the policies isolating them. A node's slice (plan/slicing.py) is a projection of it, so the plan
grows with the cluster, not with nodes x policies.
"""

from __future__ import annotations

import hashlib
from operator import itemgetter

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import EGRESS, INGRESS, POLICY_TYPES
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.resolve import Resolver
from ansible_collections.kubenet.netpol.plugins.module_utils.gc_pause import without_cycle_collection
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import PLAN_VERSION


def ip_set_id(ips):
    """A stable short name for a set of peer addresses, shared by every rule that has it."""
    return hashlib.sha256("\n".join(ips).encode()).hexdigest()[:16]


class _PlanForms:
    """The cluster-wide parts of the plan, each made once: rules as clauses, and the peer address
    sets they refer to. Equal clauses share one dict, so the plan must be treated as read-only
    (JSON is unaffected)."""

    def __init__(self):
        self.peer_sets = {}
        self._set_ids = {}
        self._clauses = {}

    def peer_set_id(self, pods):
        """The id of an interned pod set; its sorted addresses go into peer_sets once."""
        if pods not in self._set_ids:
            ips = sorted({ip for pod in pods for ip in pod.ips})
            set_id = ip_set_id(ips)
            self.peer_sets[set_id] = ips
            self._set_ids[pods] = set_id
        return self._set_ids[pods]

    def clause(self, clause):
        """A clause in plan form, made once per distinct clause (clauses are values: equal ones share it)."""
        if clause not in self._clauses:
            if clause.any_peer:
                peers = None
            else:
                peers = {
                    "pod_set": self.peer_set_id(clause.pods) if clause.pods else None,
                    "ip_blocks": [{"cidr": block.cidr, "except": list(block.excepts)} for block in clause.ip_blocks],
                }
            ports = None if clause.ports is None else [item.to_dict() for item in clause.ports]
            targets = None if clause.targets is None else sorted(clause.targets)
            self._clauses[clause] = {"peers": peers, "ports": ports, "targets": targets}
        return self._clauses[clause]

    def rules(self, resolver, policy, direction):
        """Every rule of a policy direction, by its index in the manifest, as clauses."""
        return [{"index": index, "clauses": [self.clause(clause) for clause in resolver.clauses(policy, direction, index)]}
                for index in range(len(policy.rules(direction)))]


def _node_entries(resolver, cluster):
    """Each node with its own addresses and its local pods with the policies isolating them. One pass
    over the pods in cluster order, then a sort per node: pods are visited once, close to how they lie
    in memory."""
    pods_on = {node.name: [] for node in cluster.nodes}
    for pod in resolver.pods:
        if pod.node in pods_on:
            pods_on[pod.node].append(_pod_entry(resolver, pod))
    for entries in pods_on.values():
        entries.sort(key=itemgetter("pod"))
    addresses = {node.name: list(node.addresses) for node in cluster.nodes}
    for pod in cluster.pods:
        # A hostNetwork pod's IP is its node's, even where the Node object lists fewer addresses.
        if pod.host_network and pod.active and pod.node in addresses:
            addresses[pod.node].extend(ip for ip in pod.ips if ip not in addresses[pod.node])
    return {node.name: {"node": node.name, "addresses": addresses[node.name], "pod_cidrs": list(node.pod_cidrs),
                        "pods": pods_on[node.name]} for node in cluster.nodes}


def _pod_entry(resolver, pod):
    return {"pod": pod.key, "ips": list(pod.ips), "ingress": resolver.isolating_keys(pod, INGRESS),
            "egress": resolver.isolating_keys(pod, EGRESS)}


def plan_warnings(resolver):
    """Things that are valid but almost certainly not what the author meant."""
    warnings = []
    for policy in resolver.policies:
        if policy.namespace not in resolver.cluster.namespaces:
            warnings.append("policy %s: namespace %s does not exist in the cluster" % (policy.key, policy.namespace))
        if not resolver.selected(policy):
            warnings.append("policy %s selects no pod" % policy.key)
            continue
        for direction in POLICY_TYPES:
            if direction not in policy.policy_types:
                continue
            for index, rule in enumerate(policy.rules(direction)):
                for spec in rule.ports or ():
                    if spec.is_named and not resolver.named_resolves(policy, direction, index, spec):
                        warnings.append("policy %s %s rule %d: named port %s/%s resolves on no pod"
                                        % (policy.key, direction.lower(), index, spec.port, spec.protocol))
    return warnings


def build_plan(cluster, policies):
    """The plan of a cluster and policy set (docs/plan-format.md)."""
    with without_cycle_collection():
        resolver = Resolver(cluster, policies)
        forms = _PlanForms()
        plan_policies = {}
        for policy in resolver.policies:
            if resolver.selected(policy):
                plan_policies[policy.key] = {direction.lower(): forms.rules(resolver, policy, direction)
                                             for direction in POLICY_TYPES if direction in policy.policy_types}
        nodes = _node_entries(resolver, cluster)
        warnings = plan_warnings(resolver)
    counts = {"policies": len(resolver.policies), "pods": len(resolver.pods), "nodes": len(nodes)}
    for direction in POLICY_TYPES:
        counts["isolated_" + direction.lower()] = resolver.isolated_count(direction)
    return {"version": PLAN_VERSION, "nodes": nodes, "policies": plan_policies, "peer_sets": forms.peer_sets,
            "counts": counts, "warnings": warnings}
