# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Immutable types for the cluster and its policies.

API defaults (policyTypes, protocol, empty peer and port lists) are applied here, once,
when a validated manifest becomes a Policy, so no later stage re-derives them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

try:
    import netaddr
except ImportError:  # pragma: no cover - reported by the module and filters that need it
    netaddr = None

INGRESS = "Ingress"
EGRESS = "Egress"
POLICY_TYPES = (INGRESS, EGRESS)  # the API's policyTypes, in the order plans list directions
METADATA_NAME_LABEL = "kubernetes.io/metadata.name"
INACTIVE_PHASES = frozenset(("Succeeded", "Failed"))


def frozen_labels(labels):
    """Labels as a sorted tuple of pairs: hashable, comparable and ordered."""
    return tuple(sorted((labels or {}).items()))


@dataclass(frozen=True)
class Requirement:
    """One matchExpressions entry."""

    key: str
    operator: str
    values: tuple = ()


@dataclass(frozen=True)
class LabelSelector:
    """A label selector; the empty selector selects everything."""

    match_labels: tuple = ()
    match_expressions: tuple = ()


@dataclass(frozen=True)
class PortSpec:
    """One NetworkPolicyPort. port is an int, a name, or None (every port of the protocol)."""

    protocol: str = "TCP"
    port: object = None
    end_port: int | None = None

    @property
    def is_named(self):
        return isinstance(self.port, str)


@dataclass(frozen=True)
class SelectorPeer:
    """A peer given by selectors. namespace_selector None means the policy's own namespace."""

    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None


@dataclass(frozen=True)
class IPBlockPeer:
    """A peer given by a CIDR, minus its except CIDRs (which belong to this peer alone)."""

    cidr: str
    excepts: tuple = ()


@dataclass(frozen=True)
class Rule:
    """One ingress or egress rule. peers/ports None means "all" (the field was empty or absent)."""

    peers: tuple | None = None
    ports: tuple | None = None


@dataclass(frozen=True)
class Policy:
    namespace: str
    name: str
    pod_selector: LabelSelector
    policy_types: frozenset
    ingress: tuple = ()
    egress: tuple = ()
    source: str = ""

    @cached_property
    def key(self):
        return "%s/%s" % (self.namespace, self.name)

    def rules(self, direction):
        return self.ingress if direction == INGRESS else self.egress


@dataclass(frozen=True)
class ContainerPort:
    name: str
    port: int
    protocol: str = "TCP"


@dataclass(frozen=True)
class Namespace:
    name: str
    labels: tuple = ()


@dataclass(frozen=True)
class Pod:
    namespace: str
    name: str
    labels: tuple = ()
    node: str = ""
    ips: tuple = ()
    host_network: bool = False
    phase: str = "Running"
    ports: tuple = ()

    def __post_init__(self):
        """Resolving hashes pods millions of times and namespace/name identifies a pod: the key
        and its hash are made once (set through object, as the dataclass is frozen)."""
        key = "%s/%s" % (self.namespace, self.name)
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "_hash", hash(key))

    def __hash__(self):
        return self._hash

    @property
    def active(self):
        """Only pods that hold an IP and have not terminated are targets or peers."""
        return bool(self.ips) and self.phase not in INACTIVE_PHASES

    @property
    def selectable(self):
        """hostNetwork pods share the node's IP: never isolated, never matched by selectors."""
        return self.active and not self.host_network

    def named_port(self, name, protocol):
        """The number this pod gives to a named port for a protocol, or None."""
        for port in self.ports:
            if port.name == name and port.protocol == protocol:
                return port.port
        return None


@dataclass(frozen=True)
class Node:
    name: str
    addresses: tuple = ()
    pod_cidrs: tuple = ()


@dataclass(frozen=True)
class Cluster:
    """The live facts: namespaces by name, pods and nodes in a stable order."""

    namespaces: dict = field(default_factory=dict)
    pods: tuple = ()
    nodes: tuple = ()


def selector_from_manifest(obj):
    """A LabelSelector from its API form; None stays None (the field was absent)."""
    if obj is None:
        return None
    expressions = tuple(
        Requirement(item["key"], item["operator"], tuple(sorted(_api_string(value) for value in item.get("values") or ())))
        for item in obj.get("matchExpressions") or ()
    )
    labels = {key: _api_string(value) for key, value in (obj.get("matchLabels") or {}).items()}
    return LabelSelector(frozen_labels(labels), tuple(sorted(expressions, key=repr)))


def _api_string(value):
    """A string field as the API server decodes it: null is the empty string."""
    return "" if value is None else value


def canonical_cidr(text):
    """A CIDR in canonical form (host bits cleared, IPv6 compressed), as the API accepts it."""
    return str(netaddr.IPNetwork(text).cidr)


def peer_from_manifest(obj):
    """A null field is absent, as the API server reads it."""
    if obj.get("ipBlock") is not None:
        block = obj["ipBlock"]
        return IPBlockPeer(canonical_cidr(block["cidr"]),
                           tuple(sorted(canonical_cidr(cut) for cut in block.get("except") or ())))
    return SelectorPeer(selector_from_manifest(obj.get("podSelector")),
                        selector_from_manifest(obj.get("namespaceSelector")))


def port_from_manifest(obj):
    """A null entry is {}: every TCP port, as the API server reads it."""
    obj = obj or {}
    return PortSpec(obj.get("protocol") or "TCP", obj.get("port"), obj.get("endPort"))


def rule_from_manifest(obj, peers_field):
    """Empty or absent peers/ports mean "all": both become None."""
    peers = obj.get(peers_field) or None
    ports = obj.get("ports") or None
    return Rule(None if peers is None else tuple(peer_from_manifest(peer) for peer in peers),
                None if ports is None else tuple(port_from_manifest(port) for port in ports))


def default_policy_types(spec):
    """Ingress always; Egress only when the policy has an egress section."""
    if spec.get("policyTypes"):
        return frozenset(spec["policyTypes"])
    return frozenset((INGRESS, EGRESS)) if spec.get("egress") else frozenset((INGRESS,))


def policy_from_manifest(obj, default_namespace="default", source=""):
    """A validated NetworkPolicy manifest as a Policy, with the API defaults applied."""
    metadata = obj["metadata"]
    spec = obj.get("spec") or {}  # absent or null: {}, as the API server reads it
    return Policy(
        namespace=metadata.get("namespace") or default_namespace,
        name=metadata["name"],
        pod_selector=selector_from_manifest(spec.get("podSelector") or {}),
        policy_types=default_policy_types(spec),
        ingress=tuple(rule_from_manifest(rule or {}, "from") for rule in spec.get("ingress") or ()),
        egress=tuple(rule_from_manifest(rule or {}, "to") for rule in spec.get("egress") or ()),
        source=source,
    )
