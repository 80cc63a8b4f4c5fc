# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster facts: Namespace, Pod and Node objects as the API returns them, from a kubectl JSON
snapshot or from module arguments, as one Cluster.

Facts are type-checked like manifests, field by field: a wrong type is a problem naming the
object and the field, never read by truthiness (the string "false" for hostNetwork would drop a
pod out of every policy). The implied kubernetes.io/metadata.name label is added here, so
selectors never need to know where the facts came from.
"""

from __future__ import annotations

try:
    import netaddr
except ImportError:  # pragma: no cover - reported by the module and filters that need it
    netaddr = None

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import (
    METADATA_NAME_LABEL, Cluster, ContainerPort, Namespace, Node, Pod, frozen_labels)
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.manifests import flatten_lists, policies_from_documents
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import InputError, Problem
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.yamldoc import Document, join_path, read_documents
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.addresses import pod_address
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import PROTOCOLS, PlanError

CLUSTER_KINDS = (("namespaces", "Namespace"), ("pods", "Pod"), ("nodes", "Node"))
NODE_ADDRESS_TYPES = ("InternalIP", "ExternalIP")
SIDECAR_RESTART_POLICY = "Always"  # an init container that keeps running: its ports are the pod's too


def namespace_labels(name, labels):
    """Every namespace carries kubernetes.io/metadata.name=<name>, as the API server sets it."""
    merged = dict(labels or {})
    merged[METADATA_NAME_LABEL] = name
    return frozen_labels(merged)


def canonical_ip(text):
    return str(netaddr.IPAddress(text))


class _ObjectReader:
    """Reads the fields of one API object, each by its expected type, and keeps every problem."""

    def __init__(self, document, kind):
        self.document = document
        self.kind = kind
        self.problems = []
        metadata = document.obj.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        namespace = metadata.get("namespace") if isinstance(metadata, dict) and kind == "Pod" else None
        name = name if isinstance(name, str) and name else "(no name)"
        self.label = "%s %s" % (kind, "%s/%s" % (namespace, name) if isinstance(namespace, str) else name)

    def problem(self, path, message):
        self.problems.append(self.document.problem(path, message, obj=self.label))

    def value(self, path, default=None):
        """The value at a dotted path ([n] for list items), or default when absent or null."""
        current = self.document.obj
        for part in path.replace("[", ".[").split("."):
            if part.startswith("["):
                index = int(part[1:-1])
                current = current[index] if isinstance(current, list) and index < len(current) else None
            else:
                current = current.get(part) if isinstance(current, dict) else None
            if current is None:
                return default
        return current

    def typed(self, path, expected, what, default=None, required=False):
        """The value if it has the expected type (bools are not ints); default, and a problem, if not."""
        value = self.value(path)
        if value is None:
            if required:
                self.problem(path, "is required: %s" % what)
            return default
        if not isinstance(value, expected) or (isinstance(value, bool) and bool not in _as_tuple(expected)):
            self.problem(path, "must be %s, found %r" % (what, value))
            return default
        return value

    def mapping(self, path):
        return self.typed(path, dict, "a mapping", {})

    def items(self, path):
        """(item path, item) of a list of mappings."""
        found = []
        for index, item in enumerate(self.typed(path, list, "a list", [])):
            item_path = join_path(path, index)
            if isinstance(item, dict):
                found.append((item_path, item))
            else:
                self.problem(item_path, "must be a mapping, found %r" % (item,))
        return found

    def labels(self, path):
        labels = self.mapping(path)
        if not all(isinstance(key, str) and isinstance(value, str) for key, value in labels.items()):
            self.problem(path, "must map label keys to string values")
            return {}
        return labels

    def address(self, path, value):
        """A canonical IP address, or None (a problem) when it is not one."""
        if isinstance(value, str):
            try:
                return canonical_ip(value)
            except (netaddr.AddrFormatError, ValueError, TypeError):
                pass
        self.problem(path, "must be an IP address, found %r" % (value,))
        return None

    def name(self):
        return self.typed("metadata.name", str, "a string", "", required=True)


def _as_tuple(expected):
    return expected if isinstance(expected, tuple) else (expected,)


def _container_ports(reader, path):
    ports = []
    for port_path, port in reader.items(path):
        name = reader.typed(port_path + ".name", str, "a string")
        number = reader.typed(port_path + ".containerPort", int, "an integer port number", required=True)
        protocol = reader.typed(port_path + ".protocol", str, "a string", "TCP")
        if number is not None and not 1 <= number <= 65535:
            reader.problem(port_path + ".containerPort", "must be between 1 and 65535, found %d" % number)
        elif protocol not in PROTOCOLS:
            reader.problem(port_path + ".protocol", "must be one of %s, found %r" % (", ".join(PROTOCOLS), protocol))
        elif name and number is not None:
            ports.append(ContainerPort(name, number, protocol))
    return ports


def _named_ports(reader):
    """The pod's named ports: its containers', then its sidecars' (init containers that keep running),
    in the order Kubernetes itself looks a port name up (the first match wins)."""
    ports = []
    for container_path, _container in reader.items("spec.containers"):
        ports += _container_ports(reader, container_path + ".ports")
    for container_path, _container in reader.items("spec.initContainers"):
        if reader.typed(container_path + ".restartPolicy", str, "a string") == SIDECAR_RESTART_POLICY:
            ports += _container_ports(reader, container_path + ".ports")
    return tuple(ports)


def _pod_ips(reader):
    entries = reader.items("status.podIPs")
    if entries:
        texts = [(join_path(path, "ip"), entry.get("ip")) for path, entry in entries]
    elif reader.value("status.podIP") is not None:
        texts = [("status.podIP", reader.value("status.podIP"))]
    else:
        texts = []
    found = []
    for path, text in texts:
        address = reader.address(path, text)
        if address is None:
            continue
        try:
            pod_address(address)
        except PlanError as exc:
            reader.problem(path, "must be the pod's IP address: %s" % exc)
            continue
        found.append(address)
    return tuple(found)


def _pod(reader):
    return Pod(reader.typed("metadata.namespace", str, "a string", "default"), reader.name(),
               frozen_labels(reader.labels("metadata.labels")), reader.typed("spec.nodeName", str, "a string", ""),
               _pod_ips(reader), reader.typed("spec.hostNetwork", bool, "true or false", False),
               reader.typed("status.phase", str, "a string", "Pending"), _named_ports(reader))


def _node(reader):
    addresses = []
    for path, entry in reader.items("status.addresses"):
        if reader.typed(path + ".type", str, "a string") in NODE_ADDRESS_TYPES:
            address = reader.address(path + ".address", entry.get("address"))
            if address:
                addresses.append(address)
    cidrs = reader.typed("spec.podCIDRs", list, "a list of CIDRs", [])
    if not cidrs and reader.value("spec.podCIDR") is not None:
        cidrs = [reader.value("spec.podCIDR")]
    for index, cidr in enumerate(cidrs):
        try:
            netaddr.IPNetwork(cidr)
        except (netaddr.AddrFormatError, ValueError, TypeError):
            reader.problem(join_path("spec.podCIDRs", index), "must be a CIDR, found %r" % (cidr,))
    return Node(reader.name(), tuple(addresses), tuple(str(cidr) for cidr in cidrs))


def _namespace(reader):
    name = reader.name()
    return Namespace(name, namespace_labels(name, reader.labels("metadata.labels")))


_READERS = {"Namespace": _namespace, "Pod": _pod, "Node": _node}


def cluster_from_documents(documents):
    """A Cluster from Namespace, Pod and Node objects (as Documents, for located problems), or InputError."""
    namespaces = {}
    pods = []
    nodes = []
    problems = []
    for document in documents:
        kind = document.obj.get("kind")
        reader = _ObjectReader(document, kind)
        if not isinstance(document.obj.get("metadata"), dict):
            reader.problem("metadata", "must be a mapping with at least name, found %r" % (document.obj.get("metadata"),))
            problems.extend(reader.problems)
            continue
        found = _READERS[kind](reader)
        problems.extend(reader.problems)
        if kind == "Namespace":
            namespaces[found.name] = found
        else:
            (pods if kind == "Pod" else nodes).append(found)
    if problems:
        raise InputError(problems)
    pods.sort(key=lambda pod: pod.key)
    nodes.sort(key=lambda node: node.name)
    return Cluster(namespaces, tuple(pods), tuple(nodes))


def cluster_from_api_objects(items, source="objects"):
    """A Cluster from API objects (each with its kind), or InputError naming each bad field."""
    return cluster_from_documents([Document(item, "%s[%d]" % (source, index)) for index, item in enumerate(items)])


def read_snapshot(path):
    """kubectl get namespaces,pods,nodes,networkpolicies -A -o json: (Cluster, NetworkPolicy Documents),
    or InputError. Objects of other kinds (Services, say) are left out."""
    documents, problems = read_documents(path)
    if problems:
        raise InputError(problems)
    facts = []
    policy_docs = []
    for document in documents:
        for item in flatten_lists(document):
            kind = item.obj.get("kind") if isinstance(item.obj, dict) else None
            if kind == "NetworkPolicy":
                policy_docs.append(item)
            elif kind in _READERS:
                facts.append(item)
    if not facts:
        raise InputError([Problem(str(path), "holds no Namespace, Pod or Node object: expected the output of"
                                  " kubectl get namespaces,pods,nodes,networkpolicies -A -o json")])
    return cluster_from_documents(facts), policy_docs


def load_snapshot(path, strict=False, warnings=None):
    """A snapshot's (Cluster, policies), its policies validated; InputError with every problem."""
    problems = []
    cluster = policy_docs = None
    try:
        cluster, policy_docs = read_snapshot(path)
    except InputError as exc:
        problems.extend(exc.problems)
    policies, policy_problems = policies_from_documents(policy_docs or (), strict=strict, warnings=warnings)
    problems.extend(policy_problems)
    if problems:
        raise InputError(problems)
    return cluster, tuple(policies)


def _typed_objects(cluster, source):
    """The objects of each list as Documents named by where they are, with the kind their list implies.

    Objects listed by kubernetes.core.k8s_info or taken from a List's items may lack kind.
    """
    problems = []
    documents = []
    unknown = sorted(set(cluster) - {key for key, _kind in CLUSTER_KINDS})
    if unknown:
        problems.append(Problem(source, "unknown key(s): %s (expected namespaces, pods, nodes)" % ", ".join(map(str, unknown))))
    for key, kind in CLUSTER_KINDS:
        objects = cluster.get(key) or []
        if not isinstance(objects, list):
            problems.append(Problem("%s.%s" % (source, key), "must be a list of %s objects" % kind))
            continue
        for index, obj in enumerate(objects):
            where = "%s.%s[%d]" % (source, key, index)
            if not isinstance(obj, dict):
                problems.append(Problem(where, "must be a %s object (a mapping)" % kind))
            elif obj.get("kind", kind) != kind:
                problems.append(Problem(where, "must be a %s, not a %s" % (kind, obj.get("kind")), field="kind"))
            else:
                documents.append(Document(dict(obj, kind=kind), where))
    return documents, problems


def cluster_from_dict(cluster, source="cluster"):
    """A Cluster from {namespaces, pods, nodes}: lists of API objects, or InputError."""
    if not isinstance(cluster, dict):
        raise InputError([Problem(source, "must be a mapping with the keys namespaces, pods and nodes")])
    documents, problems = _typed_objects(cluster, source)
    if problems:
        raise InputError(problems)
    return cluster_from_documents(documents)
