# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster facts from a kubectl JSON snapshot or from a scenario file (scenario-format.md).

Both become the same Cluster; the implied kubernetes.io/metadata.name label is added here,
so selectors never need to know where the facts came from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

try:
    import netaddr
except ImportError:  # pragma: no cover - reported by the module and filters that need it
    netaddr = None

from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import InputError, Problem
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.explain import Endpoint
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.manifests import flatten_lists, policies_from_documents
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import (
    METADATA_NAME_LABEL, Cluster, ContainerPort, External, Namespace, Node, Pod, frozen_labels)
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.yamldoc import read_documents

SCENARIO_FIELDS = {"name", "description", "nodes", "namespaces", "pods", "externals", "policies", "probes", "expected"}
POD_FIELDS = {"labels", "node", "ips", "hostNetwork", "ports", "phase"}
PROTOCOLS = ("TCP", "UDP", "SCTP")
MAX_LAB_NODES = 250
FIRST_POD_HOST = 10
MAX_PODS_PER_NODE = 240


@dataclass(frozen=True)
class Probe:
    protocol: str
    port: int
    family: int = 4


@dataclass(frozen=True)
class Scenario:
    name: str
    cluster: Cluster
    externals: tuple
    policies: tuple
    probes: tuple
    expected: object = None


def namespace_labels(name, labels):
    """Every namespace carries kubernetes.io/metadata.name=<name>, as the API server sets it."""
    merged = dict(labels or {})
    merged[METADATA_NAME_LABEL] = name
    return frozen_labels(merged)


def canonical_ip(text):
    return str(netaddr.IPAddress(text))


def lab_node(name, number):
    """The lab's addressing for the n-th node (1-based): pod CIDRs and an underlay address."""
    return Node(name, ("10.10.0.%d" % number, "fd00:10:10::%x" % number),
                ("10.244.%d.0/24" % number, "fd00:10:244:%x::/64" % number))


class _ScenarioReader:
    """Turns one scenario document into a Scenario, collecting every problem on the way."""

    def __init__(self, document):
        self.document = document
        self.problems = []

    def problem(self, path, message):
        self.problems.append(self.document.problem(path, message, obj=""))

    def mapping(self, path, value):
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(path, "must be a mapping")
            return {}
        return value

    def labels(self, path, value):
        labels = self.mapping(path, value)
        for key, item in labels.items():
            if not isinstance(key, str) or not isinstance(item, str):
                self.problem("%s.%s" % (path, key), "label keys and values must be strings")
                return {}
        return labels

    def ips(self, path, value):
        if not isinstance(value, list):
            self.problem(path, "must be a list of IP addresses")
            return ()
        found = []
        for index, text in enumerate(value):
            try:
                found.append(canonical_ip(str(text)))
            except (netaddr.AddrFormatError, ValueError):
                self.problem("%s[%d]" % (path, index), "invalid IP address %r" % (text,))
        return tuple(found)

    def nodes(self, value):
        names = value if value is not None else ["node-1"]
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            self.problem("nodes", "must be a list of node names")
            names = ["node-1"]
        if len(names) > MAX_LAB_NODES:
            self.problem("nodes", "at most %d nodes" % MAX_LAB_NODES)
            names = names[:MAX_LAB_NODES]
        return tuple(lab_node(name, number) for number, name in enumerate(names, start=1))

    def ports(self, path, value):
        ports = []
        for index, item in enumerate(value or ()):
            where = "%s[%d]" % (path, index)
            if not isinstance(item, dict) or not isinstance(item.get("name"), str) \
                    or not isinstance(item.get("port"), int) or item.get("protocol", "TCP") not in PROTOCOLS:
                self.problem(where, "a port needs name (string), port (integer) and protocol TCP, UDP or SCTP")
                continue
            ports.append(ContainerPort(item["name"], item["port"], item.get("protocol", "TCP")))
        return tuple(ports)

    def automatic_address(self, node, taken, path):
        """The node's next free pod address, skipping addresses that pods were given explicitly."""
        network = netaddr.IPNetwork(node.pod_cidrs[0]).network
        for host in range(FIRST_POD_HOST, FIRST_POD_HOST + MAX_PODS_PER_NODE):
            address = str(network + host)
            if address not in taken:
                taken.add(address)
                return address
        self.problem(path, "too many pods on %s for automatic addresses" % node.name)
        return None

    def check_unique_addresses(self, pods):
        """Two running pods with one address cannot both be reached (hostNetwork pods share their node's)."""
        owner = {}
        for pod in pods:
            if not pod.selectable:
                continue
            for address in pod.ips:
                if address in owner:
                    self.problem("pods.%s.ips" % pod.key, "address %s is also %s's" % (address, owner[address]))
                owner.setdefault(address, pod.key)

    def pods(self, value, nodes, namespaces):
        pods = []
        specs = self.mapping("pods", value)
        taken = {str(ip) for spec in specs.values() if isinstance(spec, dict) and isinstance(spec.get("ips"), list)
                 for ip in spec["ips"]}
        for position, (key, spec) in enumerate(specs.items()):
            path = "pods.%s" % key
            spec = self.mapping(path, spec)
            unknown = sorted(set(spec) - POD_FIELDS)
            if unknown:
                self.problem(path, "unknown field(s): %s" % ", ".join(unknown))
            namespace, name = str(key).partition("/")[::2]
            if not name:
                self.problem(path, "pods are named namespace/name")
                continue
            if namespace not in namespaces:
                self.problem(path, "namespace %s is not declared under namespaces" % namespace)
            node_name = spec.get("node") or nodes[position % len(nodes)].name
            node = next((item for item in nodes if item.name == node_name), None)
            if node is None:
                self.problem(path + ".node", "unknown node %r" % node_name)
                continue
            host_network = bool(spec.get("hostNetwork", False))
            if "ips" in spec:
                ips = self.ips(path + ".ips", spec["ips"])
            elif host_network:
                ips = node.addresses[:1]
            else:
                address = self.automatic_address(node, taken, path)
                if address is None:
                    continue
                ips = (address,)
            pods.append(Pod(namespace, name, frozen_labels(self.labels(path + ".labels", spec.get("labels"))),
                            node.name, ips, host_network, spec.get("phase", "Running"),
                            self.ports(path + ".ports", spec.get("ports"))))
        self.check_unique_addresses(pods)
        return tuple(pods)

    def probes(self, value):
        probes = []
        for index, item in enumerate(value or ()):
            path = "probes[%d]" % index
            if not isinstance(item, dict) or item.get("protocol") not in PROTOCOLS \
                    or not isinstance(item.get("port"), int) or item.get("family", 4) not in (4, 6):
                self.problem(path, "a probe needs protocol TCP, UDP or SCTP, an integer port, and family 4 or 6")
                continue
            probes.append(Probe(item["protocol"], item["port"], item.get("family", 4)))
        if not probes:
            self.problem("probes", "a scenario needs at least one probe")
        return tuple(probes)

    def read(self, name):
        obj = self.mapping("", self.document.obj)
        unknown = sorted(set(obj) - SCENARIO_FIELDS)
        if unknown:
            self.problem("", "unknown field(s): %s" % ", ".join(unknown))
        nodes = self.nodes(obj.get("nodes"))
        namespaces = {}
        for ns_name, labels in self.mapping("namespaces", obj.get("namespaces")).items():
            labels = self.labels("namespaces." + ns_name, labels)
            namespaces[ns_name] = Namespace(ns_name, namespace_labels(ns_name, labels))
        pods = self.pods(obj.get("pods"), nodes, namespaces)
        externals = tuple(
            External(ext_name, self.ips("externals.%s.ips" % ext_name, self.mapping("externals." + ext_name,
                                                                                    spec).get("ips")))
            for ext_name, spec in self.mapping("externals", obj.get("externals")).items())
        policies = ()
        if obj.get("policies") is not None:
            if isinstance(obj["policies"], list):
                policy_docs = []
                for index in range(len(obj["policies"])):
                    policy_docs.extend(flatten_lists(self.document.child("policies").child(index)))
                found, problems = policies_from_documents(policy_docs)
                self.problems.extend(problems)
                policies = tuple(found)
            else:
                self.problem("policies", "must be a list of NetworkPolicy manifests")
        probes = self.probes(obj.get("probes"))
        if self.problems:
            raise InputError(self.problems)
        return Scenario(obj.get("name") or name, Cluster(namespaces, pods, nodes), externals, policies, probes,
                        obj.get("expected"))


def load_scenario(path):
    """A scenario file as a Scenario, or InputError naming every problem."""
    documents, problems = read_documents(path)
    if problems:
        raise InputError(problems)
    if len(documents) != 1:
        raise InputError([Problem(str(path), "a scenario file holds exactly one YAML document")])
    name = os.path.splitext(os.path.basename(str(path)))[0]
    return _ScenarioReader(documents[0]).read(name)


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


def scenario_endpoints(scenario):
    """The truth table's sources and destinations: running pods, then externals."""
    endpoints = [Endpoint(pod.key, pod.ips, pod) for pod in scenario.cluster.pods if pod.active]
    endpoints.extend(Endpoint(external.name, external.ips) for external in scenario.externals)
    return endpoints


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
