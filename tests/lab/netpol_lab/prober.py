"""The observed truth table: every pair of a scenario probed with real packets in the lab.

Pairs are chosen exactly as tests/scenarios/README.md (and `netpol-lab truth`) choose them: every
source to every destination's first IP of the probe's family, except a pod to itself,
external to external, and endpoints without an address of that family. One probe_client
process per source netns, all at once. SCTP cannot be sent here (no SCTP sockets in this
kernel): those rows go to "unprobed" instead of being guessed.
"""

import ipaddress
import json
import os
import sys

from netpol_lab.scenario import scenario_endpoints
from netpol_lab.netns import in_netns, run_all
from netpol_lab.topology import PROBED_PROTOCOLS, LabError

CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "probe_client.py")
# A REJECT answers at once; a DROP costs the full timeout, so keep it short.
TIMEOUTS = {"tcp": 1.0, "udp": 0.5, "udp_attempts": 2}


def first_ip(ips, family):
    return next((ip for ip in ips if ipaddress.ip_address(ip).version == family), None)


def pairs(scenario):
    """(source, destination, protocol, port, source_ip, destination_ip) for every row of the table."""
    endpoints = scenario_endpoints(scenario)
    rows = []
    for probe in scenario.probes:
        for source in endpoints:
            for destination in endpoints:
                if source is destination or (source.pod is None and destination.pod is None):
                    continue
                source_ip = first_ip(source.ips, probe.family)
                destination_ip = first_ip(destination.ips, probe.family)
                if source_ip and destination_ip:
                    rows.append((source.name, destination.name, probe.protocol, probe.port, source_ip, destination_ip))
    return rows


def _run_clients(jobs):
    """netns -> list of (row, client item): run one client per netns, return (row, outcome) pairs."""
    namespaces = sorted(jobs)
    requests = [json.dumps({"probes": [item for _row, item in jobs[name]], "timeouts": TIMEOUTS}) for name in namespaces]
    outputs = run_all([in_netns(name, [sys.executable, "-I", CLIENT]) for name in namespaces], requests)
    results = []
    for name, output in zip(namespaces, outputs):
        outcomes = json.loads(output)["outcomes"]
        results.extend((row, outcome) for (row, _item), outcome in zip(jobs[name], outcomes))
    return results


def probe(lab, scenario, name):
    """The table for a scenario on a lab built for it, in the shape `netpol-lab truth` prints.

    "unprobed" (rows that cannot be sent here) appears only when there are such rows, so for a
    TCP/UDP scenario the result compares equal to the engine's table.
    """
    endpoints = {endpoint.name: endpoint for endpoint in lab.endpoints}
    jobs = {}
    unprobed = []
    for source, destination, protocol, port, source_ip, destination_ip in pairs(scenario):
        row = [source, destination, protocol, port]
        if protocol not in PROBED_PROTOCOLS:
            unprobed.append(row)
            continue
        if port not in lab.ports.get(protocol, ()):
            raise LabError("the lab's agents do not serve %s/%d; bring the lab up for this scenario" % (protocol, port))
        item = [source_ip, destination_ip, protocol, port, endpoints[destination].agent]
        jobs.setdefault(endpoints[source].netns, []).append((row, item))
    table = {"scenario": name, "allowed": [], "denied": []}
    wrong = []
    for row, outcome in _run_clients(jobs):
        if outcome in ("allowed", "denied"):
            table[outcome].append(row)
        else:
            wrong.append("%s -> %s %s/%d: answered by %s" % (row[0], row[1], row[2], row[3], outcome[len("wrong:"):]))
    if wrong:
        raise LabError("lab fault, the wrong endpoint answered:\n" + "\n".join(wrong))
    table["allowed"].sort()
    table["denied"].sort()
    if unprobed:
        table["unprobed"] = sorted(unprobed)
    return table
