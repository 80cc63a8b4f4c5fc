# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Explain: may this source reach that destination, and which policy rule says so.

A connection needs the source's egress AND the destination's ingress. Each side is
answered from the same clauses the per-node plan is built from (resolve.Resolver).
"""

from __future__ import annotations

from dataclasses import dataclass

try:
    import netaddr
except ImportError:  # pragma: no cover - reported by the callers that need it
    netaddr = None

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import EGRESS, INGRESS


@dataclass(frozen=True)
class Endpoint:
    """A source or destination: a pod (pod set) or an external host (pod None)."""

    name: str
    ips: tuple
    pod: object = None

    def ip(self, family):
        """The first address of an IP family (4 or 6), or None."""
        for address in self.ips:
            if netaddr.IPAddress(address).version == family:
                return address
        return None


@dataclass(frozen=True)
class Side:
    """The verdict of one direction at one end of the connection."""

    direction: str
    endpoint: str
    isolated_by: tuple = ()
    allowed_by: tuple | None = None

    @property
    def allowed(self):
        return not self.isolated_by or self.allowed_by is not None

    def describe(self):
        word = "egress" if self.direction == EGRESS else "ingress"
        if not self.isolated_by:
            return "%s is not isolated for %s" % (self.endpoint, word)
        isolated = "%s is isolated for %s by %s" % (self.endpoint, word, ", ".join(self.isolated_by))
        if self.allowed_by is None:
            return "%s; no %s rule of those policies allows this traffic" % (isolated, word)
        return "%s; allowed by %s %s rule %d" % (isolated, self.allowed_by[0], word, self.allowed_by[1])


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reasons: tuple

    def describe(self):
        return ("ALLOWED" if self.allowed else "DENIED") + "\n" + "\n".join("  - " + reason for reason in self.reasons)


def _side(resolver, direction, pod, peer_ip, protocol, port):
    isolating = resolver.isolating(pod, direction)
    keys = tuple(policy.key for policy in isolating)
    for policy in isolating:
        for index in range(len(policy.rules(direction))):
            for clause in resolver.clauses(policy, direction, index):
                if (clause.allows_target(pod.key) and clause.allows_port(protocol, port)
                        and clause.allows_peer(peer_ip)):
                    return Side(direction, pod.key, keys, (policy.key, index))
    return Side(direction, pod.key, keys)


def _node_local(source, destination):
    """Traffic between a pod and its own node (a hostNetwork pod there) is always allowed."""
    if source.pod is None or destination.pod is None or source.pod.node != destination.pod.node:
        return False
    return source.pod.host_network or destination.pod.host_network


def explain(resolver, source, destination, protocol, port, family=4):
    """The verdict for one new connection, with the reason for each side."""
    source_ip = source.ip(family)
    destination_ip = destination.ip(family)
    if source_ip is None or destination_ip is None:
        return Verdict(False, ("%s and %s have no common IPv%d address" % (source.name, destination.name, family),))
    if _node_local(source, destination):
        return Verdict(True, ("traffic between a pod and its own node is always allowed",))
    sides = []
    if source.pod is not None and source.pod.selectable:
        sides.append(_side(resolver, EGRESS, source.pod, destination_ip, protocol, port))
    if destination.pod is not None and destination.pod.selectable:
        sides.append(_side(resolver, INGRESS, destination.pod, source_ip, protocol, port))
    reasons = [side.describe() for side in sides]
    for endpoint in (source, destination):
        if endpoint.pod is None:
            reasons.append("%s is outside the cluster: no policy applies to it" % endpoint.name)
        elif endpoint.pod.host_network:
            reasons.append("%s uses the host network: no policy applies to it" % endpoint.name)
        elif not endpoint.pod.active:
            reasons.append("%s is not running (phase %s): no policy selects it or counts it as a peer"
                           % (endpoint.name, endpoint.pod.phase))
    return Verdict(all(side.allowed for side in sides), tuple(reasons))


def truth_table(resolver, endpoints, probes, name):
    """Every probed pair's verdict, as scenario-format.md defines the table."""
    allowed = []
    denied = []
    for probe in probes:
        for source in endpoints:
            for destination in endpoints:
                if source is destination or (source.pod is None and destination.pod is None):
                    continue
                if source.ip(probe.family) is None or destination.ip(probe.family) is None:
                    continue
                verdict = explain(resolver, source, destination, probe.protocol, probe.port, probe.family)
                row = [source.name, destination.name, probe.protocol, probe.port]
                (allowed if verdict.allowed else denied).append(row)
    return {"scenario": name, "allowed": sorted(allowed), "denied": sorted(denied)}
