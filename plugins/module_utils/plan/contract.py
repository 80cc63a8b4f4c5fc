# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan's contract: its version, its vocabulary and its shape (docs/plan-format.md).

The controller writes plans and the nodes read them, possibly from different releases of the
collection; everything both sides must agree on is defined here, once. Standard library only,
as the node side imports it.
"""

from __future__ import annotations

# Bump when a reader of the previous version would misread a plan of this one.
PLAN_VERSION = 1
INGRESS = "ingress"
EGRESS = "egress"
DIRECTIONS = (INGRESS, EGRESS)
PROTOCOLS = ("TCP", "UDP", "SCTP")
FAMILIES = (4, 6)
PLAN_KEYS = ("nodes", "policies", "peer_sets")


class PlanError(ValueError):
    """The data does not have the shape docs/plan-format.md describes (a plan, or a node's slice)."""


def check_version(data, what):
    """A plan or slice of another version is refused by name, never half-understood."""
    version = data.get("version") if isinstance(data, dict) else None
    if version != PLAN_VERSION:
        raise PlanError("%s has plan version %r; this collection reads version %d: make the plan with"
                        " netpol_resolve of the same collection release" % (what, version, PLAN_VERSION))


def check_plan(plan, node_names=()):
    """A whole plan of this version, holding every named node."""
    if not isinstance(plan, dict) or any(not isinstance(plan.get(key), dict) for key in PLAN_KEYS):
        raise PlanError("not a plan of netpol_resolve: expected a mapping with %s (see docs/plan-format.md)"
                        % ", ".join(PLAN_KEYS))
    check_version(plan, "the plan")
    unknown = [name for name in node_names if name not in plan["nodes"]]
    if unknown:
        raise PlanError("no node %s in the plan (its nodes: %s)"
                        % (", ".join(map(str, unknown)), ", ".join(sorted(plan["nodes"])) or "none"))


def field(obj, key, where):
    """obj[key], or a PlanError naming where in the plan it is missing."""
    try:
        return obj[key]
    except (KeyError, TypeError, IndexError):
        raise PlanError("%s: missing %r" % (where, key)) from None
