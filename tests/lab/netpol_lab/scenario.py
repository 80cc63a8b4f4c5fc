"""Scenario files (tests/scenarios/README.md): a simulated cluster, its policies and the probes to try.

A test tool, not a product input: the lab, the unit tests and the benchmarks read scenarios;
the collection itself only reads real sources. So the lab hands the playbook a kubectl snapshot
of the scenario (`snapshot`), and the lab's addressing (`lab_node`) lives here too.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import netaddr

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.explain import Endpoint
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import (
    Cluster, ContainerPort, Namespace, Node, Pod, frozen_labels)
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.facts import canonical_ip, namespace_labels
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.manifests import flatten_lists, policies_from_documents
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import InputError, Problem
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.yamldoc import read_documents
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import PROTOCOLS

SCENARIO_FIELDS = {"name", "description", "nodes", "namespaces", "pods", "externals", "policies", "probes", "expected"}
POD_FIELDS = {"labels", "node", "ips", "hostNetwork", "ports", "phase"}
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
    manifests: tuple = ()  # the policies as written (Lists flattened), for the lab's snapshot


@dataclass(frozen=True)
class External:
    """A host outside the cluster: a source or destination for ipBlock cases."""

    name: str
    ips: tuple = ()


def _port_number(value):
    """A port is an integer 1-65535 (true is not a port, though Python counts it as 1)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


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
                    or not _port_number(item.get("port")) or item.get("protocol", "TCP") not in PROTOCOLS:
                self.problem(where, "a port needs name (string), port (an integer 1-65535) and protocol TCP, UDP or SCTP")
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
            host_network = spec.get("hostNetwork", False)
            if not isinstance(host_network, bool):
                self.problem(path + ".hostNetwork", "must be true or false")
                host_network = False
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
            if not isinstance(item, dict) or item.get("protocol") not in PROTOCOLS or not _port_number(item.get("port")) \
                    or item.get("family", 4) not in (4, 6):
                self.problem(path, "a probe needs protocol TCP, UDP or SCTP, a port (an integer 1-65535), and family 4 or 6")
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
        policies = manifests = ()
        if obj.get("policies") is not None:
            if isinstance(obj["policies"], list):
                policy_docs = []
                for index in range(len(obj["policies"])):
                    policy_docs.extend(flatten_lists(self.document.child("policies").child(index)))
                found, problems = policies_from_documents(policy_docs)
                self.problems.extend(problems)
                policies = tuple(found)
                manifests = tuple(document.obj for document in policy_docs)
            else:
                self.problem("policies", "must be a list of NetworkPolicy manifests")
        probes = self.probes(obj.get("probes"))
        if self.problems:
            raise InputError(self.problems)
        return Scenario(obj.get("name") or name, Cluster(namespaces, pods, nodes), externals, policies, probes,
                        obj.get("expected"), manifests)


def load_scenario(path):
    """A scenario file as a Scenario, or InputError naming every problem."""
    documents, problems = read_documents(path, literal_keys=True)
    if problems:
        raise InputError(problems)
    if len(documents) != 1:
        raise InputError([Problem(str(path), "a scenario file holds exactly one YAML document")])
    name = os.path.splitext(os.path.basename(str(path)))[0]
    return _ScenarioReader(documents[0]).read(name)


def scenario_endpoints(scenario):
    """The truth table's sources and destinations: running pods, then externals."""
    endpoints = [Endpoint(pod.key, pod.ips, pod) for pod in scenario.cluster.pods if pod.active]
    endpoints.extend(Endpoint(external.name, external.ips) for external in scenario.externals)
    return endpoints


def _pod_object(pod):
    ports = [{"name": port.name, "containerPort": port.port, "protocol": port.protocol} for port in pod.ports]
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": pod.name, "namespace": pod.namespace, "labels": dict(pod.labels)},
        "spec": {"nodeName": pod.node, "hostNetwork": pod.host_network,
                 "containers": [{"name": "main", "image": "lab", "ports": ports}]},
        "status": _pod_status(pod),
    }


def _pod_status(pod):
    """As a kubelet reports it: a pod without an address has no podIP fields."""
    status = {"phase": pod.phase}
    if pod.ips:
        status.update(podIP=pod.ips[0], podIPs=[{"ip": ip} for ip in pod.ips])
    return status


def _node_object(node):
    addresses = [{"type": "InternalIP", "address": address} for address in node.addresses]
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node.name},
            "spec": {"podCIDR": node.pod_cidrs[0], "podCIDRs": list(node.pod_cidrs)},
            "status": {"addresses": addresses}}


def snapshot(scenario):
    """The scenario as `kubectl get namespaces,pods,nodes,networkpolicies -A -o json` would print it:
    what the lab hands the real playbook, so it reads the same source a user's run reads."""
    items = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": dict(namespace.labels)}}
             for name, namespace in sorted(scenario.cluster.namespaces.items())]
    items += [_pod_object(pod) for pod in scenario.cluster.pods]
    items += [_node_object(node) for node in scenario.cluster.nodes]
    items += list(scenario.manifests)
    return {"apiVersion": "v1", "kind": "List", "items": items}


def write_sources(scenario, snapshot_path, policies_path):
    """What the enforce playbook reads for a scenario: the kubectl snapshot and the policies as a List."""
    with open(snapshot_path, "w", encoding="utf-8") as handle:
        json.dump(snapshot(scenario), handle, indent=1)
    with open(policies_path, "w", encoding="utf-8") as handle:
        json.dump({"apiVersion": "v1", "kind": "List", "items": list(scenario.manifests)}, handle, indent=1)
