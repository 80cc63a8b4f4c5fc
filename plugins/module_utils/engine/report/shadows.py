# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Policies wholly shadowed by others: removing one would change nothing that it allows.

A policy P is shadowed when, in each direction of its policyTypes:
1. every pod P selects is isolated in that direction by another policy too, so without P it stays
   isolated; and
2. every connection P's rules of that direction allow for one of its pods is allowed by a rule of
   another policy isolating that pod in that direction.
Connections are every port of every protocol and both IP families, with every running pod, every
node address and an outside address for each piece of address space the ipBlocks tell apart
(regions.py) at the other end. The other end's own policies are left out (2 is about P's side
only), so the finding does not depend on policies P's change would not touch.

Worked out with the class analysis, exactly: per direction, the policies isolating P's pods, kept
to that direction, with P and without P; P is shadowed when no verdict towards (from) its pods
differs. Two identical policies shadow each other: each is reported, and only one can go.

A policy without any rule (a default deny) allows nothing and is never reported: it is there to
isolate, for the pods of tomorrow as well, not to allow.
"""

from __future__ import annotations

from dataclasses import replace

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import INGRESS, POLICY_TYPES
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.connections import Grouped, Judged, class_pairs, families
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.ports import cut, every_port
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import FAMILIES


def one_direction(policy, direction):
    """The policy as if it had only this policy type: the other direction's rules do nothing."""
    return replace(policy, policy_types=frozenset((direction,)), ingress=policy.ingress if direction == INGRESS else (),
                   egress=() if direction == INGRESS else policy.egress)


def _isolated_by_others(resolver, policy, direction):
    """The other policies isolating P's pods in a direction, or None when one of P's pods has no other."""
    others = set()
    for pod in resolver.selected(policy):
        keys = [key for key in resolver.isolating_keys(pod, direction) if key != policy.key]
        if not keys:
            return None
        others.update(keys)
    return others


def _changes(cluster, with_policy, without_policy, endpoints, targets, direction):
    """Whether any connection towards (ingress) or from (egress) the targets differs between the two sets."""
    both = (Judged(cluster, with_policy, endpoints), Judged(cluster, without_policy, endpoints))
    everyone = Grouped(endpoints, both)
    own = Grouped(targets, both)
    sources, destinations = (everyone, own) if direction == INGRESS else (own, everyone)
    pieces = cut(every_port(), both[0].starts)  # without a policy, the ports split no finer
    for pair in class_pairs(sources, destinations):
        for family in families(pair):
            index = FAMILIES.index(family)
            for piece in pieces:
                verdicts = [judged.allowed(pair.source_key[position][index], pair.destination_key[position][index], piece)
                            for position, judged in enumerate(both)]
                if verdicts[0] != verdicts[1]:
                    return True
    return False


def shadowed_policies(cluster, policies, resolver, endpoints):
    """{policy key: sorted keys of the policies that shadow it} (see the module's definition).
    resolver: a Resolver of these policies; endpoints: the running pods and the outside endpoints."""
    by_key = {policy.key: policy for policy in policies}
    by_pod = {endpoint.pod.key: endpoint for endpoint in endpoints if endpoint.pod is not None}
    found = {}
    for policy in policies:
        selected = resolver.selected(policy)
        if not selected or not any(policy.rules(direction) for direction in policy.policy_types):
            continue
        shadowing = set()
        for direction in POLICY_TYPES:
            if direction not in policy.policy_types:
                continue
            others = _isolated_by_others(resolver, policy, direction)
            if others is None:
                break
            without_policy = [one_direction(by_key[key], direction) for key in sorted(others)]
            targets = [by_pod[pod.key] for pod in sorted(selected, key=lambda pod: pod.key) if pod.key in by_pod]
            if _changes(cluster, without_policy + [one_direction(policy, direction)], without_policy, endpoints, targets, direction):
                break
            shadowing |= others
        else:
            found[policy.key] = sorted(shadowing)
    return found
