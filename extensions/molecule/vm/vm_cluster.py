# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scenario's cluster laid onto the VMs, for the playbooks of the vm scenario (README.md).

Node addresses, pod CIDRs and pod addresses are the lab's (tests/lab/netpol_lab/scenario.py), the
pairs and their order the netns lab prober's, so both labs probe the same rows of a scenario.
  nodes SCENARIO          [{"name", "address"}]: one VM per node, its address on the private segment
  sources SCENARIO DIR    DIR/snapshot.json and DIR/policies.json, what the enforce playbook reads
  layout SCENARIO         {node: pods layout} for `pods.py install` (image/pods.py, in the VMs)
  jobs SCENARIO           {node: probe request} for `pods.py probe`: each pod probes from its node
  table SCENARIO          reads {node: probe answer} on stdin, prints the observed truth table
Exit 2: the scenario asks for something the VMs do not build (externals, hostNetwork, IPv6 probes).
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from pathlib import Path

LAB_DIR = Path(__file__).resolve().parents[3] / "tests" / "lab"
if str(LAB_DIR) not in sys.path:
    sys.path.insert(0, str(LAB_DIR))

from netpol_lab.prober import pairs  # noqa: E402  (tests/lab is not on the default path)
from netpol_lab.scenario import load_scenario, write_sources  # noqa: E402

# Inside a VM a DROP costs the whole timeout and the guest runs about ten times slower than the host.
TIMEOUTS = {"tcp": 3.0, "udp": 1.5, "udp_attempts": 2, "sctp": 3.0}
UNDERLAY_PREFIX = 24


class Unsupported(Exception):
    """The scenario needs something the VMs do not build."""


def _ipv4(addresses):
    return next(address for address in addresses if ipaddress.ip_address(address.split("/")[0]).version == 4)


def _pods(scenario):
    """(pod, netns) for every running pod, numbered as the scenario lists them."""
    if scenario.externals:
        raise Unsupported("externals are not built in the VMs")
    if any(probe.family != 4 for probe in scenario.probes):
        raise Unsupported("the VMs' pods have IPv4 addresses only")
    pods = [pod for pod in scenario.cluster.pods if pod.active]
    if any(pod.host_network for pod in pods):
        raise Unsupported("hostNetwork pods are not built in the VMs")
    return [(pod, "pod%d" % index) for index, pod in enumerate(pods)]


def nodes(scenario):
    return [{"name": node.name, "address": "%s/%d" % (_ipv4(node.addresses), UNDERLAY_PREFIX)}
            for node in scenario.cluster.nodes]


def layout(scenario):
    ports = {}
    for probe in scenario.probes:
        ports.setdefault(probe.protocol, set()).add(probe.port)
    ports = {protocol: sorted(numbers) for protocol, numbers in ports.items()}
    result = {}
    for node in scenario.cluster.nodes:
        cidr = ipaddress.ip_network(_ipv4(node.pod_cidrs))
        result[node.name] = {
            "gateway": "%s/%d" % (next(cidr.hosts()), cidr.prefixlen),
            "routes": [[_ipv4(other.pod_cidrs), _ipv4(other.addresses)]
                       for other in scenario.cluster.nodes if other is not node],
            "pods": [{"name": pod.key, "netns": netns, "link": "v" + netns, "ip": _ipv4(pod.ips), "ports": ports}
                     for pod, netns in _pods(scenario) if pod.node == node.name],
        }
    return result


def _rows(scenario):
    """(row, node, netns, probe item) in the prober's order."""
    by_key = {pod.key: (pod, netns) for pod, netns in _pods(scenario)}
    for source, destination, protocol, port, source_ip, destination_ip in pairs(scenario):
        pod, netns = by_key[source]
        yield [source, destination, protocol, port], pod.node, netns, [source_ip, destination_ip, protocol, port, destination]


def jobs(scenario):
    requests = {node.name: {"jobs": {}, "timeouts": TIMEOUTS} for node in scenario.cluster.nodes}
    for _row, node, netns, item in _rows(scenario):
        requests[node]["jobs"].setdefault(netns, []).append(item)
    return requests


def table(scenario, answers):
    """The observed table in the shape `netpol-lab truth` prints; an answer from the wrong pod is a lab fault."""
    position = {}
    observed = {"allowed": [], "denied": []}
    wrong = []
    for row, node, netns, _item in _rows(scenario):
        index = position[(node, netns)] = position.get((node, netns), -1) + 1
        outcome = answers[node]["outcomes"][netns][index]
        if outcome in observed:
            observed[outcome].append(row)
        else:
            wrong.append("%s -> %s %s/%d: answered by %s" % (row[0], row[1], row[2], row[3], outcome[len("wrong:"):]))
    if wrong:
        raise RuntimeError("lab fault, the wrong endpoint answered:\n" + "\n".join(wrong))
    return {"allowed": sorted(observed["allowed"]), "denied": sorted(observed["denied"])}


def main(argv):
    if len(argv) < 3 or argv[1] not in ("nodes", "sources", "layout", "jobs", "table"):
        print(__doc__, file=sys.stderr)
        return 2
    scenario = load_scenario(argv[2])
    try:
        if argv[1] == "sources":
            os.makedirs(argv[3], exist_ok=True)
            write_sources(scenario, os.path.join(argv[3], "snapshot.json"), os.path.join(argv[3], "policies.json"))
            return 0
        if argv[1] == "table":
            result = table(scenario, json.load(sys.stdin))
        else:
            result = {"nodes": nodes, "layout": layout, "jobs": jobs}[argv[1]](scenario)
    except Unsupported as exc:
        print("%s: %s" % (argv[2], exc), file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
