# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Explain: may this source reach that destination, and which policy rule says so.

The answer is the one verdict (plan/verdict.py) over the plan the nodes enforce: the source's
node checks its egress, the destination's node its ingress. This module only finds each end's
node and puts the verdict into words, with what the plan cannot say (an end outside the
cluster, on the host network, not running, or on a node the facts do not list).
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.planner import build_plan
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.addresses import canonical_address
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import EGRESS, INGRESS
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.slicing import node_slice
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.verdict import NodeView, judge


@dataclass(frozen=True)
class Endpoint:
    """A source or destination: a pod (pod set) or an external host (pod None)."""

    name: str
    ips: tuple
    pod: object = None

    def ip(self, family):
        """The first address of an IP family (4 or 6), or None."""
        for address in self.ips:
            if canonical_address(address)[1] == family:
                return address
        return None


@dataclass(frozen=True)
class Explanation:
    allowed: bool
    reasons: tuple

    def describe(self):
        return ("ALLOWED" if self.allowed else "DENIED") + "\n" + "\n".join("  - " + reason for reason in self.reasons)


class ClusterVerdicts:
    """A cluster and policy set as its nodes enforce them: the plan, and each node's slice indexed."""

    def __init__(self, cluster, policies):
        self.plan = build_plan(cluster, policies)
        self.views = {name: NodeView(node_slice(self.plan, name)) for name in self.plan["nodes"]}

    def view_of(self, endpoint):
        """The node view an end lives on, or None (outside the cluster, or on a node not in the facts)."""
        return self.views.get(endpoint.pod.node) if endpoint.pod is not None else None


def describe_side(side):
    if not side.isolated_by:
        return "%s is not isolated for %s" % (side.pod, side.direction)
    isolated = "%s is isolated for %s by %s" % (side.pod, side.direction, ", ".join(side.isolated_by))
    if side.allowed_by is None:
        return "%s; no %s rule of those policies allows this traffic" % (isolated, side.direction)
    return "%s; allowed by %s %s rule %d" % (isolated, side.allowed_by[0], side.direction, side.allowed_by[1])


def _endpoint_notes(verdicts, endpoint):
    """What the plan does not say about an end: why no policy applies to it."""
    pod = endpoint.pod
    if pod is None:
        return ["%s is outside the cluster: no policy applies to it" % endpoint.name]
    if pod.host_network:
        return ["%s uses the host network: no policy applies to it" % endpoint.name]
    if not pod.active:
        return ["%s is not running (phase %s): no policy selects it or counts it as a peer" % (endpoint.name, pod.phase)]
    if pod.node not in verdicts.views:
        return ["%s runs on node %r, which the cluster facts do not list: no node enforces its policies"
                % (endpoint.name, pod.node)]
    return []


def explain(verdicts, source, destination, protocol, port, family=4):
    """The verdict for one new connection, with the reason for each side."""
    source_ip = source.ip(family)
    destination_ip = destination.ip(family)
    if source_ip is None or destination_ip is None:
        return Explanation(False, ("%s and %s have no common IPv%d address" % (source.name, destination.name, family),))
    verdict = judge(verdicts.view_of(source), verdicts.view_of(destination), source_ip, destination_ip, protocol, port)
    if verdict.node_local:
        return Explanation(True, ("traffic between a pod and its own node is always allowed",))
    sides = {side.direction: side for side in verdict.sides}
    reasons = [describe_side(side) for side in verdict.sides]
    for endpoint, direction in ((source, EGRESS), (destination, INGRESS)):
        if direction not in sides:
            reasons.extend(_endpoint_notes(verdicts, endpoint))
    return Explanation(verdict.allowed, tuple(reasons))


def truth_table(verdicts, endpoints, probes, name):
    """Every probed pair's verdict: rows [source, destination, protocol, port], sorted, in allowed or denied."""
    allowed = []
    denied = []
    for probe in probes:
        for source in endpoints:
            for destination in endpoints:
                if source is destination or (source.pod is None and destination.pod is None):
                    continue
                if source.ip(probe.family) is None or destination.ip(probe.family) is None:
                    continue
                verdict = explain(verdicts, source, destination, probe.protocol, probe.port, probe.family)
                row = [source.name, destination.name, probe.protocol, probe.port]
                (allowed if verdict.allowed else denied).append(row)
    return {"scenario": name, "allowed": sorted(allowed), "denied": sorted(denied)}
