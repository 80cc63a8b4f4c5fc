# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's plan before anything is built (no root): names, interfaces, routes, and what it refuses."""

from __future__ import annotations

import re

import pytest
from lab_testing import scenario_path

from netpol_lab.scenario import load_scenario
from netpol_lab import wiring
from netpol_lab.topology import LabError, plan_lab, probed_ports, ssh_port, topology_key


def plan(path, run="npl0abc"):
    scenario = load_scenario(path)
    return plan_lab(scenario, path, run, "/tmp/netpol-lab/" + run, probed_ports([scenario]))


def write(tmp_path, text):
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_every_name_carries_the_run_prefix_and_every_interface_fits_in_15_characters():
    lab = plan(scenario_path("three-nodes.yaml"))
    assert all(name.startswith("npl0abc-") for name in lab.namespaces)
    assert len(lab.namespaces) == len(set(lab.namespaces)) == 15
    text = "\n".join(line for batch in wiring.bridge_batches(lab).values() for line in batch)
    created = re.findall(r"link add (\S+)", text) + re.findall(r"peer name (\S+)", text)
    assert len(created) == 4 + 2 * (3 + 9 + 2)  # 4 bridges; a veth pair per node, pod and external
    assert all(len(name) <= 15 for name in created)


def test_routes_reach_other_nodes_pods_and_externals_on_link():
    lab = plan(scenario_path("dual-stack.yaml"))
    links = wiring.link_batches(lab)
    node_1 = links[lab.node("node-1").netns]
    assert "route add 10.244.2.0/24 via 10.10.0.2 dev eth0 onlink" in node_1
    assert "route add fd00:10:244:2::/64 via fd00:10:10::2 dev eth0 onlink" in node_1
    assert "route add fd00:ee::5/128 dev eth0" in node_1
    assert "address add fd00:10:10::1/64 dev eth0 nodad" in node_1
    ext_6 = links[lab.endpoint("ext-6").netns]
    assert "address add fd00:ee::5/128 dev eth0 nodad" in ext_6
    assert "route add fd00:10:244:1::/64 via fd00:10:10::1 dev eth0 onlink" in ext_6
    assert not any("10.244." in line for line in ext_6), "an IPv6-only external gets no IPv4 routes"
    pod = links[lab.endpoint("y/v4").netns]
    assert pod[-2:] == ["address add 10.244.2.11/24 dev eth0", "route add default via 10.244.2.1 dev eth0 onlink"]


def test_host_network_pods_share_their_node_netns_and_one_agent():
    lab = plan(scenario_path("three-nodes.yaml"))
    host = lab.endpoint("x/host")
    assert (host.kind, host.netns, host.ips) == ("host", lab.node("node-1").netns, ["10.10.0.1"])
    assert lab.agents()["host:node-1"] == (lab.node("node-1").netns, ["10.10.0.1"])


@pytest.mark.parametrize("text, message", [
    ("pods:\n  x/a: {hostNetwork: true, ips: [10.10.0.9]}\n", "is not an address of node-1"),
    ("externals:\n  e: {ips: [10.244.3.3]}\n", "inside the lab's own range"),
    ("pods:\n  x/a: {ips: [10.244.1.20, 10.244.1.21]}\n", "at most one address per IP family"),
], ids=["host-address-not-the-node's", "external-in-lab-range", "two-ipv4-addresses"])
def test_what_the_lab_cannot_build_is_named(tmp_path, text, message):
    path = write(tmp_path, "namespaces: {x: {}}\n" + text + "probes:\n  - {protocol: TCP, port: 80}\n")
    with pytest.raises(LabError, match=message):
        plan(path)


def test_the_topology_key_ignores_order_labels_and_policies(tmp_path):
    base = "namespaces: {x: {}}\npods:\n%s\nprobes:\n  - {protocol: TCP, port: 80}\n"
    one = write(tmp_path, base % "  x/a: {ips: [10.244.1.10]}\n  x/b: {ips: [10.244.1.11]}")
    key = topology_key(load_scenario(one))
    policy = ("policies:\n  - {apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: p, namespace: x},"
              " spec: {podSelector: {}}}\n")
    two = write(tmp_path, policy + base % "  x/b: {ips: [10.244.1.11], labels: {a: b}}\n  x/a: {ips: [10.244.1.10]}")
    assert topology_key(load_scenario(two)) == key
    three = write(tmp_path, base % "  x/a: {ips: [10.244.1.10]}\n  x/b: {ips: [10.244.1.12]}")
    assert topology_key(load_scenario(three)) != key


def test_sshd_moves_off_port_22_when_a_scenario_probes_it():
    assert ssh_port({"TCP": [80], "UDP": [22]}) == 22
    assert ssh_port({"TCP": [22, 2222], "UDP": []}) == 2223
