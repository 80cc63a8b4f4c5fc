# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster facts: Namespace, Pod and Node objects as the API returns them, from a kubectl JSON
snapshot or from module arguments, as one Cluster.

The implied kubernetes.io/metadata.name label is added here, so selectors never need to know
where the facts came from.
"""

from __future__ import annotations

try:
    import netaddr
except ImportError:  # pragma: no cover - reported by the module and filters that need it
    netaddr = None

from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import InputError, Problem
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.manifests import flatten_lists, policies_from_documents
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import (
    METADATA_NAME_LABEL, Cluster, ContainerPort, Namespace, Node, Pod, frozen_labels)
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.yamldoc import read_documents


def namespace_labels(name, labels):
    """Every namespace carries kubernetes.io/metadata.name=<name>, as the API server sets it."""
    merged = dict(labels or {})
    merged[METADATA_NAME_LABEL] = name
    return frozen_labels(merged)


def canonical_ip(text):
    return str(netaddr.IPAddress(text))


def _pod_from_api(item):
    metadata = item.get("metadata") or {}
    spec = item.get("spec") or {}
    status = item.get("status") or {}
    ips = [entry.get("ip") for entry in status.get("podIPs") or () if entry.get("ip")]
    if not ips and status.get("podIP"):
        ips = [status["podIP"]]
    ports = tuple(
        ContainerPort(port["name"], port["containerPort"], port.get("protocol", "TCP"))
        for container in spec.get("containers") or ()
        for port in container.get("ports") or ()
        if port.get("name")
    )
    return Pod(metadata.get("namespace", "default"), metadata["name"], frozen_labels(metadata.get("labels")),
               spec.get("nodeName", ""), tuple(canonical_ip(ip) for ip in ips), bool(spec.get("hostNetwork")),
               status.get("phase", "Pending"), ports)


def _node_from_api(item):
    spec = item.get("spec") or {}
    status = item.get("status") or {}
    addresses = tuple(canonical_ip(entry["address"]) for entry in status.get("addresses") or ()
                      if entry.get("type") in ("InternalIP", "ExternalIP"))
    cidrs = spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else [])
    return Node(item["metadata"]["name"], addresses, tuple(cidrs))


def cluster_from_api_objects(items):
    """A Cluster from Namespace, Pod and Node objects as the API returns them."""
    namespaces = {}
    pods = []
    nodes = []
    for item in items:
        kind = item.get("kind")
        if kind == "Namespace":
            name = item["metadata"]["name"]
            namespaces[name] = Namespace(name, namespace_labels(name, item["metadata"].get("labels")))
        elif kind == "Pod":
            pods.append(_pod_from_api(item))
        elif kind == "Node":
            nodes.append(_node_from_api(item))
    pods.sort(key=lambda pod: pod.key)
    nodes.sort(key=lambda node: node.name)
    return Cluster(namespaces, tuple(pods), tuple(nodes))


def load_snapshot(path):
    """kubectl get namespaces,pods,nodes,networkpolicies -A -o json: (Cluster, policies)."""
    documents, problems = read_documents(path)
    if problems:
        raise InputError(problems)
    items = []
    policy_docs = []
    for document in documents:
        for item in flatten_lists(document):
            if isinstance(item.obj, dict) and item.obj.get("kind") == "NetworkPolicy":
                policy_docs.append(item)
            elif isinstance(item.obj, dict):
                items.append(item.obj)
    policies, problems = policies_from_documents(policy_docs)
    try:
        cluster = cluster_from_api_objects(items)
    except (KeyError, TypeError, ValueError, netaddr.AddrFormatError) as exc:
        problems.append(Problem(str(path), "malformed cluster object: %s" % exc))
        cluster = None
    if problems:
        raise InputError(problems)
    return cluster, tuple(policies)


CLUSTER_KINDS = (("namespaces", "Namespace"), ("pods", "Pod"), ("nodes", "Node"))
CONVERSION_ERRORS = (KeyError, TypeError, ValueError, AttributeError) + ((netaddr.AddrFormatError,) if netaddr else ())


def _conversion_problem(where, exc):
    if isinstance(exc, KeyError):
        return Problem(where, "missing field %s" % exc.args[0])
    return Problem(where, "malformed object: %s" % exc)


def _typed_objects(cluster, source):
    """The objects of each list, with the kind their list implies; (items, locations, problems).

    Objects listed by kubernetes.core.k8s_info or taken from a List's items may lack kind.
    """
    problems = []
    items = []
    locations = []
    unknown = sorted(set(cluster) - {key for key, _kind in CLUSTER_KINDS})
    if unknown:
        problems.append(Problem(source, "unknown key(s): %s (expected namespaces, pods, nodes)" % ", ".join(unknown)))
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
                items.append(dict(obj, kind=kind))
                locations.append(where)
    return items, locations, problems


def cluster_from_dict(cluster, source="cluster"):
    """A Cluster from {namespaces, pods, nodes}: lists of API objects, or InputError."""
    if not isinstance(cluster, dict):
        raise InputError([Problem(source, "must be a mapping with the keys namespaces, pods and nodes")])
    items, locations, problems = _typed_objects(cluster, source)
    if problems:
        raise InputError(problems)
    try:
        return cluster_from_api_objects(items)
    except CONVERSION_ERRORS:
        pass
    # Convert each object alone only now, to name every malformed one and where it is.
    for item, where in zip(items, locations):
        try:
            cluster_from_api_objects([item])
        except CONVERSION_ERRORS as exc:
            problems.append(_conversion_problem(where, exc))
    raise InputError(problems)
