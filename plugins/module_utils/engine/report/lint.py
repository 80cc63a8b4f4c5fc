# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lint: policies that are valid but do not do what they seem to, on these cluster facts.

Each finding names its check, the policy, and the file, line and field it is about:

- selects-no-pod: spec.podSelector picks no running pod (hostNetwork pods are never picked), so
  the policy isolates nothing and allows nothing;
- rules-ignored: rules of a direction its policyTypes does not list, which Kubernetes ignores;
- rule-peers-match-nothing: none of a rule's peers picks a running pod (and it has no ipBlock), so
  the rule allows nothing; peer-matches-nothing: one peer of a rule that has others picks none;
- named-port-undefined: a named port that no destination pod defines with that protocol (on
  ingress the pods the policy selects, on egress the peers' pods), so that port allows nothing;
- shadowed: every connection the policy allows is allowed by other policies isolating the same
  pods (shadows.py has the exact definition; a policy without rules is never shadowed).
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import INGRESS, POLICY_TYPES, SelectorPeer
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.shadows import shadowed_policies
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.resolve import Resolver

SELECTS_NO_POD = "selects-no-pod"
RULES_IGNORED = "rules-ignored"
RULE_PEERS_MATCH_NOTHING = "rule-peers-match-nothing"
PEER_MATCHES_NOTHING = "peer-matches-nothing"
NAMED_PORT_UNDEFINED = "named-port-undefined"
SHADOWED = "shadowed"
CHECKS = (SELECTS_NO_POD, RULES_IGNORED, RULE_PEERS_MATCH_NOTHING, PEER_MATCHES_NOTHING, NAMED_PORT_UNDEFINED, SHADOWED)


@dataclass(frozen=True)
class Finding:
    check: str
    policy: str
    file: str
    line: int | None
    field: str
    message: str

    def __str__(self):
        where = self.file if self.line is None else "%s:%d" % (self.file, self.line)
        return "%s: %s: %s: %s [%s]" % (where, self.policy, self.field, self.message, self.check)

    def to_dict(self):
        return {"check": self.check, "policy": self.policy, "file": self.file, "line": self.line, "field": self.field,
                "message": self.message, "text": str(self)}


class _Linter:
    def __init__(self, cluster, policies, locations):
        self.cluster = cluster
        self.policies = tuple(sorted(policies, key=lambda policy: policy.key))
        self.locations = locations
        self.resolver = Resolver(cluster, self.policies)
        self.findings = []

    def add(self, check, policy, field, message):
        self.findings.append(Finding(check, policy.key, self.locations.file(policy.key), self.locations.line(policy.key, field),
                                     field, message))

    def policy(self, policy):
        if not self.resolver.selected(policy):
            if policy.namespace not in self.cluster.namespaces:
                why = "namespace %s is not in the cluster facts" % policy.namespace
            else:
                why = "no running pod of namespace %s matches it" % policy.namespace
            self.add(SELECTS_NO_POD, policy, "spec.podSelector", "selects no pod: %s; the policy isolates nothing" % why)
        for direction in POLICY_TYPES:
            rules = policy.rules(direction)
            field = "spec.%s" % direction.lower()
            if direction not in policy.policy_types:
                if rules:
                    self.add(RULES_IGNORED, policy, field, "%d %s rule(s) ignored: policyTypes does not list %s"
                             % (len(rules), direction.lower(), direction))
                continue
            for index, rule in enumerate(rules):
                self.peers(policy, direction, index, rule)
                self.named_ports(policy, direction, index, rule)

    def peers(self, policy, direction, index, rule):
        if rule.peers is None:
            return
        peers_field = "spec.%s[%d].%s" % (direction.lower(), index, "from" if direction == INGRESS else "to")
        empty = [position for position, peer in enumerate(rule.peers)
                 if isinstance(peer, SelectorPeer) and not self.resolver.peer_pods(policy, peer)]
        if len(empty) == len(rule.peers):
            self.add(RULE_PEERS_MATCH_NOTHING, policy, "spec.%s[%d]" % (direction.lower(), index),
                     "none of the rule's peers matches a running pod: the rule allows nothing")
            return
        for position in empty:
            self.add(PEER_MATCHES_NOTHING, policy, "%s[%d]" % (peers_field, position), "this peer matches no running pod")

    def named_ports(self, policy, direction, index, rule):
        if direction == INGRESS and not self.resolver.selected(policy):
            return  # selects-no-pod says it: no pod to define the name
        for position, spec in enumerate(rule.ports or ()):
            if spec.is_named and not self.resolver.named_resolves(policy, direction, index, spec):
                where = "the pods this policy selects" if direction == INGRESS else "the pods of the rule's peers"
                self.add(NAMED_PORT_UNDEFINED, policy, "spec.%s[%d].ports[%d].port" % (direction.lower(), index, position),
                         "named port %s/%s: none of %s defines it, so it allows nothing" % (spec.port, spec.protocol, where))

    def shadowed(self, endpoints):
        for key, others in sorted(shadowed_policies(self.cluster, self.policies, self.resolver, endpoints).items()):
            policy = next(policy for policy in self.policies if policy.key == key)
            self.add(SHADOWED, policy, "metadata.name", "shadowed by %s: every connection it allows is allowed by these"
                     " policies, which isolate the same pods" % ", ".join(others))


def lint(cluster, policies, locations, endpoints):
    """Every Finding, by file, line and check. endpoints: the running pods and the outside endpoints
    (regions.outside_endpoints) that the shadow check judges connections with."""
    linter = _Linter(cluster, policies, locations)
    for policy in linter.policies:
        linter.policy(policy)
    linter.shadowed(endpoints)
    return sorted(linter.findings, key=lambda found: (found.file, found.line or 0, found.field, CHECKS.index(found.check)))
