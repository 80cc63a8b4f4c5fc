# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What decided a verdict, without the pods' names: the same for every pair of two endpoint classes,
so a report can say it once for a whole cell of its matrix.

Read off the one verdict (plan/verdict.py): an allowed connection is decided, on each end, by the
rule that allows it or by the end not being isolated (an end no policy applies to, such as a
hostNetwork pod, is not isolated either); a denied one by the ends whose isolating policies have no
rule that allows it; traffic between a pod and its own node by nothing at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import EGRESS, INGRESS

RULE = "rule"
ISOLATED = "isolated"
NOT_ISOLATED = "not-isolated"
OWN_NODE = "own-node"
_ORDER = {OWN_NODE: 0, RULE: 1, NOT_ISOLATED: 2, ISOLATED: 3}
_DIRECTION_ORDER = {EGRESS: 0, INGRESS: 1, "": 2}


@dataclass(frozen=True)
class Reason:
    """One thing that decided a connection: a rule that allows it (kind rule: policies holds the
    policy, rule its index), an isolated end no rule opens (kind isolated: the isolating policies),
    an end not isolated, or the pod's own node."""

    kind: str
    direction: str = ""
    policies: tuple = ()
    rule: int | None = None

    @property
    def order(self):
        return (_DIRECTION_ORDER[self.direction], _ORDER[self.kind], self.policies, -1 if self.rule is None else self.rule)

    def text(self):
        if self.kind == RULE:
            return "%s allowed by %s rule %d" % (self.direction, self.policies[0], self.rule)
        if self.kind == ISOLATED:
            return "%s isolated by %s (no rule allows)" % (self.direction, ", ".join(self.policies))
        if self.kind == NOT_ISOLATED:
            return "%s not isolated" % self.direction
        return "own node: never filtered"

    def to_dict(self, locations=None):
        """As JSON, with the file and line of the rule or of each isolating policy when known."""
        found = {"kind": self.kind, "text": self.text()}
        if self.direction:
            found["direction"] = self.direction
        if self.kind == RULE:
            found.update(policy=self.policies[0], rule=self.rule)
            if locations is not None:
                found.update(locations.where(self.policies[0], "spec.%s[%d]" % (self.direction, self.rule)))
        elif self.kind == ISOLATED:
            found["policies"] = list(self.policies)
            if locations is not None:
                found["locations"] = [dict(locations.where(policy, "metadata.name"), policy=policy) for policy in self.policies]
        return found


def ordered(reasons):
    """Reasons without repeats, egress before ingress, in a stable order."""
    return tuple(sorted(set(reasons), key=lambda reason: reason.order))


def decisive_reasons(verdict):
    """What decided a Verdict: for an allowed one, on each end the rule allowing it or the end not
    being isolated; for a denied one, each end that denies it."""
    if verdict.node_local:
        return (Reason(OWN_NODE),)
    sides = {side.direction: side for side in verdict.sides}
    reasons = []
    for direction in (EGRESS, INGRESS):
        side = sides.get(direction)
        if verdict.allowed:
            if side is None or not side.isolated_by:
                reasons.append(Reason(NOT_ISOLATED, direction))
            else:
                reasons.append(Reason(RULE, direction, (side.allowed_by[0],), side.allowed_by[1]))
        elif side is not None and not side.allowed:
            reasons.append(Reason(ISOLATED, direction, tuple(side.isolated_by)))
    return tuple(reasons)


def reasons_text(reasons):
    return "; ".join(reason.text() for reason in ordered(reasons))


class ReasonTable:
    """Every reason a report names, once, as JSON (with its file and line): cells refer to them by
    index, as thousands of cells share a few reasons."""

    def __init__(self, locations=None):
        self.locations = locations
        self.dicts = []
        self._index = {}

    def index(self, reason):
        if reason not in self._index:
            self._index[reason] = len(self.dicts)
            self.dicts.append(reason.to_dict(self.locations))
        return self._index[reason]
