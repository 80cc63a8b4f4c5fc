# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A seeded generator of realistic clusters and NetworkPolicies, for the resolve benchmark.

The same seed and sizes always give the same workload, so figures compare run to run.
The workload is built as engine model objects directly (a 100,000-pod YAML would cost
more to parse than to resolve); --write also saves it in the scenario format.

    python bench/generate.py --seed 1 --pods 200 --policies 40 --namespaces 8 --nodes 4 --write /tmp/s.yaml
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass

import yaml

from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.facts import namespace_labels
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import (
    Cluster, ContainerPort, Namespace, Node, Pod, frozen_labels, policy_from_manifest)
from netpol_lab.scenario import FIRST_POD_HOST, MAX_LAB_NODES, MAX_PODS_PER_NODE, lab_node

TEAMS = ("payments", "search", "identity", "platform", "data", "mobile", "ads", "infra")
ENVS = ("prod", "staging", "dev")
SYSTEM_NAMESPACE = "kube-system"
MONITORING_NAMESPACE = "monitoring"
WIDE_POD_BLOCK = 1024  # addresses per node in the wide layout (a /22 out of 10.64.0.0/10)
WIDE_POD_BASE = (10 << 24) | (64 << 16)
WIDE_NODE_BASE = (10 << 24) | (32 << 16)

# Each tier gives its named ports different numbers, as real images do: "http" is 8080 on
# a web pod and 8000 on an api pod, so named-port resolution has real work to do.
TIER_PORTS = {
    "web": (("http", 8080, "TCP"), ("metrics", 9090, "TCP")),
    "api": (("http", 8000, "TCP"), ("grpc", 9000, "TCP"), ("metrics", 9100, "TCP")),
    "db": (("db", 5432, "TCP"), ("metrics", 9187, "TCP")),
    "cache": (("cache", 6379, "TCP"), ("metrics", 9121, "TCP")),
    "worker": (("metrics", 9100, "TCP"),),
}
DNS_PORTS = (("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP"))


@dataclass
class Workload:
    """Plain data (dicts and lists), the form both outputs are made from."""

    namespaces: dict
    nodes: list
    pods: list
    policies: list


def ipv4(number):
    return "%d.%d.%d.%d" % (number >> 24, (number >> 16) & 255, (number >> 8) & 255, number & 255)


def node_layout(names, per_node):
    """Lab addressing (10.244.N.0/24, as the lab's scenarios assign it) while it fits, else a /22 per node."""
    if len(names) <= MAX_LAB_NODES and per_node <= MAX_PODS_PER_NODE:
        return [lab_node(name, number) for number, name in enumerate(names, start=1)]
    if per_node > WIDE_POD_BLOCK - 2 * FIRST_POD_HOST or len(names) > 4096:
        raise SystemExit("at most 4096 nodes and %d pods per node" % (WIDE_POD_BLOCK - 2 * FIRST_POD_HOST))
    return [Node(name, (ipv4(WIDE_NODE_BASE + number), "fd00:10:10::%x" % number),
                 ("%s/22" % ipv4(WIDE_POD_BASE + (number - 1) * WIDE_POD_BLOCK), "fd00:10:244:%x::/64" % number))
            for number, name in enumerate(names, start=1)]


def pod_address(node, host, family):
    """The host-th address of the node's pod CIDR of a family."""
    cidr = node.pod_cidrs[0 if family == 4 else 1]
    base = cidr.split("/")[0]
    if family == 6:
        return "%s%x" % (base, host)
    first, second, third, fourth = (int(part) for part in base.split("."))
    return ipv4(((first << 24) | (second << 16) | (third << 8) | fourth) + host)


class _Generator:
    """One workload; every random choice goes through self.rng, in a fixed order."""

    def __init__(self, seed, pods, policies, namespaces, nodes):
        self.rng = random.Random(seed)
        self.sizes = (pods, policies, namespaces, nodes)
        self.apps = {}

    def namespaces(self, count):
        found = {SYSTEM_NAMESPACE: {"team": "platform"}, MONITORING_NAMESPACE: {"team": "platform", "env": "prod"}}
        for number in range(1, max(count - len(found), 0) + 1):
            labels = {"team": self.rng.choice(TEAMS)}
            if self.rng.random() < 0.9:  # some namespaces lack env: NotIn/DoesNotExist see them
                labels["env"] = self.rng.choice(ENVS)
            found["ns-%04d" % number] = labels
        return dict(list(found.items())[:max(count, 1)])

    def app_catalogue(self, namespace):
        if namespace == SYSTEM_NAMESPACE:
            return [("coredns", "dns")]
        if namespace == MONITORING_NAMESPACE:
            return [("prometheus", "worker")]
        tiers = tuple(TIER_PORTS)
        return [("app-%d" % number, self.rng.choice(tiers)) for number in range(1, self.rng.randint(4, 12) + 1)]

    def pod(self, namespace, serial):
        app, tier = self.rng.choice(self.apps[namespace])
        labels = {"app": app, "tier": tier}
        if self.rng.random() < 0.9:
            labels["version"] = self.rng.choice(("v1", "v2", "v3"))
        if self.rng.random() < 0.05:
            labels["canary"] = "true"
        ports = DNS_PORTS if tier == "dns" else TIER_PORTS[tier]
        if tier == "db" and self.rng.random() < 0.5:
            ports = (("db", 3306, "TCP"),) + ports[1:]  # mysql: the same name, another number
        roll = self.rng.random()
        return {"namespace": namespace, "name": "%s-%d" % (app, serial), "labels": labels,
                "ports": [{"name": name, "port": port, "protocol": protocol} for name, port, protocol in ports],
                "hostNetwork": roll < 0.01, "phase": "Succeeded" if 0.01 <= roll < 0.02 else "Running",
                "dual_stack": self.rng.random() < 0.3}

    def place(self, pods, nodes):
        """Spread pods over nodes at random (no node gets a namespace to itself), then address them."""
        names = ["node-%d" % number for number in range(1, nodes + 1)]
        chosen = [self.rng.randrange(nodes) for pod in pods]
        counts = [0] * nodes
        for index in chosen:
            counts[index] += 1
        layout = node_layout(names, max(counts, default=0))
        next_host = [FIRST_POD_HOST] * nodes
        for pod, index in zip(pods, chosen):
            node = layout[index]
            pod["node"] = node.name
            if pod["hostNetwork"]:
                pod["ips"] = [node.addresses[0]]
            else:
                host = next_host[index]
                next_host[index] += 1
                pod["ips"] = [pod_address(node, host, 4)] + ([pod_address(node, host, 6)] if pod["dual_stack"] else [])
            del pod["dual_stack"]
        return layout

    def generate(self):
        pod_count, policy_count, namespace_count, node_count = self.sizes
        namespaces = self.namespaces(namespace_count)
        names = list(namespaces)
        for name in names:
            self.apps[name] = self.app_catalogue(name)
        pods = [self.pod(names[serial % len(names)], serial) for serial in range(pod_count)]
        layout = self.place(pods, max(node_count, 1))
        builder = _PolicyBuilder(self.rng, namespaces, self.apps)
        policies = [builder.policy(names[serial % len(names)], serial) for serial in range(policy_count)]
        return Workload(namespaces, layout, pods, policies)


class _PolicyBuilder:
    """NetworkPolicy manifests of the kinds real clusters carry, picked by weight."""

    def __init__(self, rng, namespaces, apps):
        self.rng = rng
        self.namespaces = namespaces
        self.apps = apps
        kinds = (
            (self.default_deny_ingress, 8), (self.default_deny_all, 3), (self.allow_tiers_in_namespace, 14),
            (self.allow_team_web_named, 10), (self.allow_metrics_scrape, 8), (self.egress_dns, 8),
            (self.egress_internet, 6), (self.ingress_from_cidrs, 5), (self.env_expressions, 8),
            (self.allow_all_to_app, 4), (self.egress_named_in_namespace, 8), (self.node_ports_range, 4),
            (self.protocol_only, 3), (self.retired_app, 1),
        )
        self.kinds = [kind for kind, weight in kinds]
        self.weights = [weight for kind, weight in kinds]

    def policy(self, namespace, serial):
        build = self.rng.choices(self.kinds, self.weights)[0]
        spec = build(namespace)
        name = "%s-%d" % (build.__name__.replace("_", "-"), serial)
        return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": name, "namespace": namespace}, "spec": spec}

    def app(self, namespace):
        return {"matchLabels": {"app": self.rng.choice(self.apps[namespace])[0]}}

    def app_ports(self, namespace):
        """Numeric ports the first pod tier of a random app would listen on."""
        tier = self.rng.choice(self.apps[namespace])[1]
        port, protocol = (DNS_PORTS if tier == "dns" else TIER_PORTS[tier])[0][1:]
        return [{"protocol": protocol, "port": port}]

    @staticmethod
    def default_deny_ingress(namespace):
        return {"podSelector": {}, "policyTypes": ["Ingress"]}

    @staticmethod
    def default_deny_all(namespace):
        return {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}

    def allow_tiers_in_namespace(self, namespace):
        tiers = sorted(self.rng.sample(sorted(TIER_PORTS), 2))
        return {"podSelector": self.app(namespace),
                "ingress": [{"from": [{"podSelector": {"matchExpressions": [
                    {"key": "tier", "operator": "In", "values": tiers}]}}],
                    "ports": self.app_ports(namespace)}]}

    def allow_team_web_named(self, namespace):
        """namespaceSelector and podSelector in one peer (AND), to a named port."""
        return {"podSelector": self.app(namespace), "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": self.rng.choice(TEAMS)}},
                                       "podSelector": {"matchLabels": {"tier": "web"}}}],
                             "ports": [{"port": "http"}, {"port": "grpc"}]}]}

    def allow_metrics_scrape(self, namespace):
        return {"podSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]},
                "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
                    "kubernetes.io/metadata.name": MONITORING_NAMESPACE}}}],
                    "ports": [{"port": "metrics", "protocol": "TCP"}]}]}

    @staticmethod
    def egress_dns(namespace):
        return {"podSelector": {}, "policyTypes": ["Egress"],
                "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": SYSTEM_NAMESPACE}},
                                    "podSelector": {"matchLabels": {"app": "coredns"}}}],
                            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]}

    def egress_internet(self, namespace):
        return {"podSelector": self.app(namespace), "policyTypes": ["Egress"],
                "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12"]}},
                                   {"ipBlock": {"cidr": "::/0", "except": ["fd00::/8"]}}],
                            "ports": [{"port": 443}, {"port": 80}]}]}

    def ingress_from_cidrs(self, namespace):
        third = self.rng.randrange(256)
        return {"podSelector": self.app(namespace),
                "ingress": [{"from": [{"ipBlock": {"cidr": "192.168.0.0/16", "except": ["192.168.%d.0/24" % third]}},
                                      {"ipBlock": {"cidr": "2001:db8::/32", "except": ["2001:db8:%x::/48" % third]}}]}]}

    def env_expressions(self, namespace):
        """NotIn and DoesNotExist on pods and In on namespaces: keys some objects lack."""
        return {"podSelector": {"matchExpressions": [{"key": "version", "operator": "NotIn", "values": ["v1"]},
                                                     {"key": "canary", "operator": "DoesNotExist"}]},
                "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [
                    {"key": "env", "operator": "In", "values": sorted(self.rng.sample(ENVS, 2))}]}}],
                    "ports": self.app_ports(namespace)}]}

    def allow_all_to_app(self, namespace):
        return {"podSelector": self.app(namespace), "ingress": [{}]}

    def egress_named_in_namespace(self, namespace):
        """Egress named ports resolve on the peer pods, each to its own number."""
        return {"podSelector": self.app(namespace), "policyTypes": ["Egress"],
                "egress": [{"to": [{"podSelector": {"matchExpressions": [
                    {"key": "tier", "operator": "NotIn", "values": ["web"]}]}}],
                    "ports": [{"port": "http"}, {"port": "db"}, {"port": "cache"}]}]}

    def node_ports_range(self, namespace):
        return {"podSelector": self.app(namespace),
                "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.64.0.0/10"]}}],
                             "ports": [{"protocol": "TCP", "port": 30000, "endPort": 32767}]}]}

    def protocol_only(self, namespace):
        return {"podSelector": self.app(namespace), "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"tier": "api"}}}],
                             "ports": [{"protocol": "UDP"}]}],
                "egress": [{"ports": [{"protocol": "SCTP"}]}]}

    @staticmethod
    def retired_app(namespace):
        """A policy left behind after its app was removed: it selects no pod."""
        return {"podSelector": {"matchLabels": {"app": "retired"}}, "ingress": [{"from": [{"podSelector": {}}]}]}


def generate(seed, pods, policies, namespaces, nodes):
    """A Workload of the given sizes; the same arguments always give the same one."""
    return _Generator(seed, pods, policies, namespaces, nodes).generate()


def to_engine(workload):
    """(Cluster, policies) as the engine takes them, built without parsing any YAML."""
    namespaces = {name: Namespace(name, namespace_labels(name, labels)) for name, labels in workload.namespaces.items()}
    pods = tuple(
        Pod(pod["namespace"], pod["name"], frozen_labels(pod["labels"]), pod["node"], tuple(pod["ips"]),
            pod["hostNetwork"], pod["phase"],
            tuple(ContainerPort(port["name"], port["port"], port["protocol"]) for port in pod["ports"]))
        for pod in workload.pods)
    policies = tuple(policy_from_manifest(manifest) for manifest in workload.policies)
    return Cluster(namespaces, pods, tuple(workload.nodes)), policies


def to_scenario(workload, name):
    """The workload in the scenario format (scenario-format.md), every address explicit."""
    pods = {}
    for pod in workload.pods:
        spec = {"labels": pod["labels"], "node": pod["node"], "ips": pod["ips"], "ports": pod["ports"]}
        if pod["hostNetwork"]:
            spec["hostNetwork"] = True
        if pod["phase"] != "Running":
            spec["phase"] = pod["phase"]
        pods["%s/%s" % (pod["namespace"], pod["name"])] = spec
    return {"name": name, "nodes": [node.name for node in workload.nodes], "namespaces": workload.namespaces,
            "pods": pods, "policies": workload.policies,
            "probes": [{"protocol": "TCP", "port": 80}, {"protocol": "TCP", "port": 8080}, {"protocol": "UDP", "port": 53}]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--policies", type=int, default=1000)
    parser.add_argument("--namespaces", type=int, default=100)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--write", metavar="FILE", help="write the scenario YAML to FILE")
    args = parser.parse_args(argv)
    workload = generate(args.seed, args.pods, args.policies, args.namespaces, args.nodes)
    cluster, policies = to_engine(workload)
    if args.write:
        if len(workload.nodes) > MAX_LAB_NODES:
            parser.error("a scenario file holds at most %d nodes" % MAX_LAB_NODES)
        with open(args.write, "w", encoding="utf-8") as handle:
            yaml.safe_dump(to_scenario(workload, "generated-seed-%d" % args.seed), handle, sort_keys=False)
    print("%d namespaces, %d pods, %d nodes, %d policies"
          % (len(cluster.namespaces), len(cluster.pods), len(cluster.nodes), len(policies)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
