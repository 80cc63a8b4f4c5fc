# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A node's slice of the plan, and the plan cut down to some nodes.

The engine's planner keeps each policy's rules and each peer set once for the whole cluster, and
for each node only its pods with the policies isolating them. What one node renders is a
projection of that: the policies its pods name, the clauses that apply to its pods, and the peer
sets those clauses use. Making it here, for one node at a time, keeps the plan linear in the
size of the cluster instead of nodes x policies.
"""

from __future__ import annotations

from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import DIRECTIONS, check_plan


def _local_targets(pods):
    """{(policy, direction): keys of the pods it isolates, in the pods' order} from the pods' entries."""
    found = {}
    for pod in pods:
        for direction in DIRECTIONS:
            for policy in pod[direction]:
                found.setdefault((policy, direction), []).append(pod["pod"])
    return found


def _peer_set_ids(rules):
    """The ids of the peer sets the clauses of these rules use."""
    for rule in rules:
        for clause in rule["clauses"]:
            if clause["peers"] is not None and clause["peers"]["pod_set"] is not None:
                yield clause["peers"]["pod_set"]


def _local_rule(rule, local):
    """The rule as it applies on the node: clauses restricted to local targets, empty ones gone.
    A rule whose clauses all apply to every target is shared, not copied."""
    if all(clause["targets"] is None for clause in rule["clauses"]):
        return rule
    clauses = []
    for clause in rule["clauses"]:
        if clause["targets"] is None:
            clauses.append(clause)
            continue
        targets = [key for key in clause["targets"] if key in local]
        if targets:
            clauses.append(dict(clause, targets=targets))
    return {"index": rule["index"], "clauses": clauses}


def node_slice(plan, node_name):
    """What one node renders: its pods, each (policy, direction) isolating one of them with the
    local targets and rules, and the peer sets those rules use (docs/plan-format.md)."""
    check_plan(plan, [node_name])
    node = plan["nodes"][node_name]
    targets = _local_targets(node["pods"])
    policies = []
    peer_sets = {}
    for policy, direction in sorted(targets, key=lambda item: (item[0], DIRECTIONS.index(item[1]))):
        local = targets[(policy, direction)]
        local_set = frozenset(local)
        rules = [_local_rule(rule, local_set) for rule in plan["policies"][policy][direction]]
        for set_id in _peer_set_ids(rules):
            peer_sets[set_id] = plan["peer_sets"][set_id]
        policies.append({"policy": policy, "direction": direction, "targets": local, "rules": rules})
    return dict(node, version=plan["version"], policies=policies, peer_sets=peer_sets)


def restrict_nodes(plan, names):
    """The plan with only the named nodes (each once, in the order given), and only the policies
    and peer sets their pods need."""
    check_plan(plan, names)
    nodes = {name: plan["nodes"][name] for name in names}
    pods = [pod for node in nodes.values() for pod in node["pods"]]
    policy_keys = {policy for policy, _direction in _local_targets(pods)}
    policies = {key: plan["policies"][key] for key in sorted(policy_keys)}
    set_ids = {set_id for directions in policies.values() for rules in directions.values()
               for set_id in _peer_set_ids(rules)}
    peer_sets = {set_id: plan["peer_sets"][set_id] for set_id in sorted(set_ids)}
    return dict(plan, nodes=nodes, policies=policies, peer_sets=peer_sets)
