# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one verdict: is a new connection allowed, and which policy rule decided it.

Judged from the nodes' slices of the plan, as the nodes' chains judge the first packet: the
source's node checks the source's egress, the destination's node the destination's ingress,
and traffic between a pod and its own node's addresses never crosses FORWARD, so no policy
applies to it. explain, the truth table and the cutting of denied connections all ask here;
tests hold it equal to the Kubernetes rules written out plainly and to the rendered chains.
Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.kubenet.netpol.plugins.module_utils.plan.addresses import block_contains, canonical_address
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import EGRESS, INGRESS, check_version, field


@dataclass(frozen=True)
class Side:
    """One end's check: the policies isolating the pod in a direction, and the rule that allows, if any."""

    direction: str
    pod: str
    isolated_by: tuple = ()
    allowed_by: tuple | None = None  # (policy, rule index)

    @property
    def allowed(self):
        return not self.isolated_by or self.allowed_by is not None


@dataclass(frozen=True)
class Verdict:
    """allowed, the sides that were checked (egress first), and whether no policy applies at all
    because one end is the other's own node."""

    allowed: bool
    sides: tuple = ()
    node_local: bool = False


def port_matches(ports, protocol, port):
    """ports None: every protocol and port; an entry without a port: every port of its protocol."""
    if ports is None:
        return True
    for item in ports:
        if item["protocol"] != protocol:
            continue
        if item.get("port") is None:
            return True
        last = item["end_port"] if item.get("end_port") is not None else item["port"]
        if port is not None and item["port"] <= port <= last:
            return True
    return False


class NodeView:
    """One node's slice (docs/plan-format.md), indexed by address for verdicts."""

    def __init__(self, plan_slice):
        check_version(plan_slice, "the plan slice")
        self.node = field(plan_slice, "node", "plan slice")
        self.addresses = frozenset(canonical_address(ip)[0] for ip in plan_slice.get("addresses") or ())
        self._pods = {}
        for pod in field(plan_slice, "pods", "plan slice"):
            for ip in field(pod, "ips", "plan slice: pod"):
                self._pods[canonical_address(ip)[0]] = pod
        self._policies = {(entry["policy"], entry["direction"]): entry
                          for entry in field(plan_slice, "policies", "plan slice")}
        self._peer_sets = {key: frozenset(canonical_address(ip)[0] for ip in ips)
                           for key, ips in (plan_slice.get("peer_sets") or {}).items()}

    def pod_at(self, address):
        """The local pod entry holding an address, or None (not a pod policies can select here)."""
        return self._pods.get(canonical_address(address)[0])

    def is_own_address(self, address):
        return canonical_address(address)[0] in self.addresses

    def side(self, direction, pod, peer, protocol, port):
        """The check of one direction for a local pod against the address at the other end."""
        isolating = tuple(pod[direction])
        for policy in isolating:
            entry = self._policies[(policy, direction)]
            for rule in entry["rules"]:
                if any(self._clause_allows(clause, pod["pod"], peer, protocol, port) for clause in rule["clauses"]):
                    return Side(direction, pod["pod"], isolating, (policy, rule["index"]))
        return Side(direction, pod["pod"], isolating)

    def _clause_allows(self, clause, target, peer, protocol, port):
        if clause.get("targets") is not None and target not in clause["targets"]:
            return False
        return port_matches(clause.get("ports"), protocol, port) and self._peer_matches(clause.get("peers"), peer)

    def _peer_matches(self, peers, address):
        if peers is None:
            return True
        if peers.get("pod_set") is not None and canonical_address(address)[0] in self._peer_sets[peers["pod_set"]]:
            return True
        return any(block_contains(block, address) for block in peers.get("ip_blocks") or ())


def judge(source_view, destination_view, source, destination, protocol, port):
    """The verdict for a new connection from address source to address destination.

    source_view / destination_view: the NodeView of the node each end lives on, or None for an
    address outside the cluster's nodes. protocol: TCP, UDP, SCTP or another name (which only a
    rule without ports allows); port: the destination port, or None for a protocol without ports.
    """
    sender = source_view.pod_at(source) if source_view is not None else None
    receiver = destination_view.pod_at(destination) if destination_view is not None else None
    if (sender is not None and source_view.is_own_address(destination)) or \
            (receiver is not None and destination_view.is_own_address(source)):
        return Verdict(True, (), node_local=True)
    sides = []
    if sender is not None:
        sides.append(source_view.side(EGRESS, sender, destination, protocol, port))
    if receiver is not None:
        sides.append(destination_view.side(INGRESS, receiver, source, protocol, port))
    return Verdict(all(side.allowed for side in sides), tuple(sides))
