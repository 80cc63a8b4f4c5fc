"""The lab's shape for a scenario: which namespaces, interfaces, addresses and agents exist.

Pure data, no side effects: `plan_lab` decides every name and address before anything is
created, and the result is written to lab.json first, so `down` can remove a lab whose `up`
was interrupted half way.
"""

import ipaddress
import json
import os
import re
from dataclasses import asdict, dataclass, field

STATE_ROOT = "/tmp/netpol-lab"
RUN_PATTERN = re.compile(r"^npl[0-9a-f]{4}$")
NETNS_PATTERN = re.compile(r"^(npl[0-9a-f]{4})-")
UNDERLAY_BRIDGE = "br0"
UNDERLAY_ADDRESSES = ("10.10.0.254/24", "fd00:10:10::fe/64")
NODE_UPLINK = "eth0"
NODE_BRIDGE = "cbr0"
ENDPOINT_LINK = "eth0"
# Externals must stay outside what the lab routes to nodes and pods.
LAB_RANGES = tuple(ipaddress.ip_network(cidr) for cidr in
                   ("10.244.0.0/16", "fd00:10:244::/48", "10.10.0.0/24", "fd00:10:10::/64"))
PROBED_PROTOCOLS = ("TCP", "UDP")
DEFAULT_SSH_PORT = 22


class LabError(Exception):
    """The lab cannot be built or driven (not a problem of the scenario's policies)."""


@dataclass
class LabNode:
    name: str
    netns: str
    uplink_peer: str            # its veth end on the underlay bridge
    addresses: list             # underlay addresses, IPv4 then IPv6
    pod_cidrs: list
    bridge_addresses: list      # the first address of each pod CIDR, with its prefix
    ssh_port: int
    dir: str                    # sshd config, host key, pid file, authorized key
    state_dir: str              # netpol_state_dir of this node


@dataclass
class LabEndpoint:
    """A truth-table endpoint as built: a pod (own netns), a hostNetwork pod (node netns) or an external."""

    name: str
    kind: str                   # pod, host or external
    netns: str
    ips: list
    agent: str                  # the name the agent answering for this endpoint replies with
    node: str = ""
    peer: str = ""              # its veth end on its node bridge (pod) or the underlay bridge (external)


@dataclass
class Lab:
    run: str
    run_dir: str
    scenario: str
    underlay: str
    nodes: list
    endpoints: list
    ports: dict                 # protocol -> sorted ports the agents serve
    status: str = "planned"
    key: list = field(default_factory=list)

    @property
    def prefix(self):
        return self.run + "-"

    @property
    def namespaces(self):
        """Every netns of the lab, the underlay first."""
        names = [self.underlay] + [node.netns for node in self.nodes]
        names.extend(endpoint.netns for endpoint in self.endpoints if endpoint.kind != "host")
        return names

    @property
    def inventory(self):
        return os.path.join(self.run_dir, "inventory.yml")

    @property
    def ssh_key(self):
        return os.path.join(self.run_dir, "ssh", "id_ed25519")

    @property
    def current_scenario(self):
        """The scenario being enforced and probed now (a copy, so the run dir tells the whole story)."""
        return os.path.join(self.run_dir, "scenario.yaml")

    @property
    def current_policies(self):
        """The current scenario's policies as the repository's manifest file the enforce playbook reads."""
        return os.path.join(self.run_dir, "policies.json")

    @property
    def current_snapshot(self):
        """The current scenario as the kubectl JSON snapshot the enforce playbook reads."""
        return os.path.join(self.run_dir, "snapshot.json")

    def node(self, name):
        return next(node for node in self.nodes if node.name == name)

    def endpoint(self, name):
        return next(endpoint for endpoint in self.endpoints if endpoint.name == name)

    def agents(self):
        """One agent per netns that answers probes: name -> (netns, addresses to bind)."""
        agents = {}
        for endpoint in self.endpoints:
            netns, ips = agents.setdefault(endpoint.agent, (endpoint.netns, []))
            ips.extend(ip for ip in endpoint.ips if ip not in ips)
        return agents

    def save(self):
        path = os.path.join(self.run_dir, "lab.json")
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(asdict(self), handle, indent=1)
        os.replace(path + ".tmp", path)


def load_lab(run_dir):
    with open(os.path.join(run_dir, "lab.json"), encoding="utf-8") as handle:
        data = json.load(handle)
    data["nodes"] = [LabNode(**node) for node in data["nodes"]]
    data["endpoints"] = [LabEndpoint(**endpoint) for endpoint in data["endpoints"]]
    return Lab(**data)


def probed_ports(scenarios):
    """protocol -> ports the agents must serve for these scenarios (SCTP cannot be served here)."""
    ports = {protocol: set() for protocol in PROBED_PROTOCOLS}
    for scenario in scenarios:
        for probe in scenario.probes:
            if probe.protocol in ports:
                ports[probe.protocol].add(probe.port)
    return {protocol: sorted(values) for protocol, values in ports.items()}


def topology_key(scenario):
    """What the built topology depends on: nodes, and every endpoint's kind, node and addresses.

    Two scenarios with the same key run on the same lab, whatever the order they list things in;
    labels and policies are not part of it.
    """
    nodes = sorted([node.name, list(node.addresses), list(node.pod_cidrs)] for node in scenario.cluster.nodes)
    endpoints = [[pod.key, "host" if pod.host_network else "pod", pod.node, list(pod.ips)]
                 for pod in scenario.cluster.pods if pod.active]
    endpoints.extend([external.name, "external", "", list(external.ips)] for external in scenario.externals)
    return [nodes, sorted(endpoints)]


def _label(text):
    """A netns name part readable by people; the index in front of it keeps names unique."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text.replace("/", "."))[:40]


def _with_prefix(address, cidr):
    return "%s/%d" % (address, ipaddress.ip_network(cidr).prefixlen)


def _first_host(cidr):
    return str(next(ipaddress.ip_network(cidr).hosts()))


def _check_pod_ips(pod, node):
    networks = [ipaddress.ip_network(cidr) for cidr in node.pod_cidrs]
    for ip in pod.ips:
        if not any(ipaddress.ip_address(ip) in network for network in networks):
            raise LabError("pod %s: address %s is outside the pod CIDRs of %s (%s)"
                           % (pod.key, ip, node.name, ", ".join(node.pod_cidrs)))
    families = [ipaddress.ip_address(ip).version for ip in pod.ips]
    if len(set(families)) != len(families):
        raise LabError("pod %s: the lab gives a pod at most one address per IP family" % pod.key)


def _check_host_ips(pod, node):
    for ip in pod.ips:
        if ip not in node.addresses:
            raise LabError("hostNetwork pod %s: address %s is not an address of %s (%s)"
                           % (pod.key, ip, node.name, ", ".join(node.addresses)))


def _check_external_ips(external):
    for ip in external.ips:
        address = ipaddress.ip_address(ip)
        for network in LAB_RANGES:
            if address in network:
                raise LabError("external %s: address %s is inside the lab's own range %s" % (external.name, ip, network))


def ssh_port(ports):
    """22, unless a scenario probes it (a hostNetwork pod's agent would need it): then the first free one above 2221."""
    taken = set(ports.get("TCP", ()))
    port = DEFAULT_SSH_PORT
    if port in taken:
        port = 2222
        while port in taken:
            port += 1
    return port


def plan_lab(scenario, scenario_path, run, run_dir, ports):
    """The Lab for a loaded scenario, or LabError naming what the lab cannot build."""
    prefix = run + "-"
    port = ssh_port(ports)
    nodes = []
    for number, node in enumerate(scenario.cluster.nodes, start=1):
        node_dir = os.path.join(run_dir, "nodes", _label(node.name))
        nodes.append(LabNode(node.name, "%sn%d-%s" % (prefix, number, _label(node.name)), "vn%d" % number,
                             list(node.addresses), list(node.pod_cidrs),
                             [_with_prefix(_first_host(cidr), cidr) for cidr in node.pod_cidrs],
                             port, node_dir, os.path.join(node_dir, "state")))
    by_name = {node.name: node for node in scenario.cluster.nodes}
    lab_nodes = {node.name: node for node in nodes}
    endpoints = []
    for index, pod in enumerate(pod for pod in scenario.cluster.pods if pod.active):
        node = by_name[pod.node]
        if pod.host_network:
            _check_host_ips(pod, node)
            endpoints.append(LabEndpoint(pod.key, "host", lab_nodes[pod.node].netns, list(pod.ips),
                                         "host:" + pod.node, pod.node))
        else:
            _check_pod_ips(pod, node)
            endpoints.append(LabEndpoint(pod.key, "pod", "%sp%d-%s" % (prefix, index, _label(pod.key)),
                                         list(pod.ips), pod.key, pod.node, "vp%d" % index))
    for index, external in enumerate(scenario.externals):
        _check_external_ips(external)
        endpoints.append(LabEndpoint(external.name, "external", "%sx%d-%s" % (prefix, index, _label(external.name)),
                                     list(external.ips), external.name, "", "vx%d" % index))
    seen = {}
    for endpoint in endpoints:
        if endpoint.kind == "host":
            continue
        for ip in endpoint.ips:
            if ip in seen:
                raise LabError("%s and %s share the address %s" % (seen[ip], endpoint.name, ip))
            seen[ip] = endpoint.name
    return Lab(run, run_dir, os.path.abspath(scenario_path), prefix + "underlay", nodes, endpoints, ports,
               key=topology_key(scenario))
