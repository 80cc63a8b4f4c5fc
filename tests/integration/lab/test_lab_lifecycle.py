# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""up builds exactly the topology of tests/lab/README.md, quickly; down (and down --all) leave nothing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import pytest
from lab_testing import assert_gone, netpol_lab, scenario_path

from netpol_lab.scenario import load_scenario
from netpol_lab import lab as lab_life
from netpol_lab import netns
from netpol_lab.topology import LabError, probed_ports

pytestmark = [pytest.mark.root, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]


def ns_output(namespace, *argv):
    return subprocess.run(netns.in_netns(namespace, argv), capture_output=True, text=True, check=True).stdout


def addresses(namespace, device):
    out = ns_output(namespace, "ip", "-o", "address", "show", "dev", device, "scope", "global")
    return sorted(re.findall(r"inet6? (\S+)", out))


def sysctl(namespace, key):
    return ns_output(namespace, "sysctl", "-n", key).strip()


def root_links():
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout.count("\n")


def pids_of(lab):
    return netns.netns_pids([name for name in netns.namespaces() if name.startswith(lab.prefix)])


def test_up_builds_the_topology_fast_and_down_removes_everything():
    path = scenario_path("three-nodes.yaml")
    scenario = load_scenario(path)
    links_before = root_links()
    start = time.monotonic()
    lab = lab_life.up(scenario, path, probed_ports([scenario]))
    try:
        elapsed = time.monotonic() - start
        assert elapsed < 20, "3 nodes x 3 namespaces x 3 pods took %.1f s" % elapsed
        assert root_links() == links_before, "the lab must add nothing to the root namespace"
        # 1 underlay + 3 nodes + 9 pods + 2 externals; no netns for the hostNetwork or the Succeeded pod.
        assert len([name for name in netns.namespaces() if name.startswith(lab.prefix)]) == 15
        assert not any("done" in name for name in netns.namespaces() if name.startswith(lab.prefix))
        assert addresses(lab.underlay, "br0") == ["10.10.0.254/24", "fd00:10:10::fe/64"]
        node = lab.node("node-2").netns
        assert addresses(node, "eth0") == ["10.10.0.2/24", "fd00:10:10::2/64"]
        assert addresses(node, "cbr0") == ["10.244.2.1/24", "fd00:10:244:2::1/64"]
        for key, value in (("net.ipv4.ip_forward", "1"), ("net.ipv6.conf.all.forwarding", "1"),
                           ("net.ipv4.conf.all.rp_filter", "0"), ("net.bridge.bridge-nf-call-iptables", "1"),
                           ("net.bridge.bridge-nf-call-ip6tables", "1")):
            assert sysctl(node, key) == value, key
        routes = ns_output(node, "ip", "route")
        assert "10.244.1.0/24 via 10.10.0.1 dev eth0" in routes
        assert "10.244.3.0/24 via 10.10.0.3 dev eth0" in routes
        assert "172.17.0.5 dev eth0" in routes
        # x/b is the first pod on node-2: 10.244.2.10, default route via the bridge.
        pod = next(endpoint for endpoint in lab.endpoints if endpoint.name == "x/b").netns
        assert addresses(pod, "eth0") == ["10.244.2.10/24"]
        assert "default via 10.244.2.1 dev eth0" in ns_output(pod, "ip", "route")
        external = next(endpoint for endpoint in lab.endpoints if endpoint.name == "ext-a").netns
        assert addresses(external, "eth0") == ["172.17.0.5/32"]
        assert "10.244.2.0/24 via 10.10.0.2 dev eth0" in ns_output(external, "ip", "route")
        with open(os.path.join(lab.run_dir, "lab.json"), encoding="utf-8") as handle:
            assert json.load(handle)["status"] == "up"
        pids = pids_of(lab)
        # 3 sshd, 12 agents: 9 pods, 2 externals, and node-1's agent for its hostNetwork pod.
        assert len(pids) >= 15
    finally:
        lab_life.down(lab)
    assert_gone(lab.run, lab.run_dir, pids)


def test_cli_up_with_a_run_dir_then_down_by_run_id(tmp_path):
    run_dir = str(tmp_path / "run")
    result = netpol_lab("up", scenario_path("dual-stack.yaml"), "--run-dir", run_dir)
    assert result.returncode == 0, result.stderr
    run = re.search(r"^lab (npl[0-9a-f]{4}) up", result.stdout, re.M).group(1)
    try:
        assert os.path.realpath(os.path.join("/tmp/netpol-lab", run)) == run_dir
        assert os.path.exists(os.path.join(run_dir, "inventory.yml"))
        lab = lab_life.load_lab(run_dir)
        pids = pids_of(lab)
        assert pids
    finally:
        result = netpol_lab("down", run)
    assert result.returncode == 0, result.stderr
    assert "stopped: %s" % run in result.stdout
    assert_gone(run, run_dir, pids)


def test_down_all_sweeps_a_run_that_left_no_record(build_lab):
    """An `up` killed before lab.json was written: only the prefix says what belongs to the run."""
    lab = build_lab(scenario_path("dual-stack.yaml"))
    pids = pids_of(lab)
    os.unlink(os.path.join(lab.run_dir, "lab.json"))
    assert lab.run in lab_life.leftover_runs()
    lab_life.sweep_run(lab.run)
    assert_gone(lab.run, lab.run_dir, pids)


def test_down_of_an_unknown_run_fails_and_touches_nothing():
    result = netpol_lab("down", "npl0000")
    assert result.returncode == 1
    assert "npl0000: no lab.json" in result.stderr


def test_a_scenario_the_lab_cannot_build_is_refused_before_anything_exists(tmp_path):
    path = tmp_path / "outside.yaml"
    path.write_text("nodes: [node-1]\nnamespaces: {x: {}}\npods:\n  x/a: {ips: [10.244.7.10]}\n"
                    "probes:\n  - {protocol: TCP, port: 80}\n", encoding="utf-8")
    before = netns.namespaces(), lab_life.leftover_runs()
    with pytest.raises(LabError, match="outside the pod CIDRs of node-1"):
        lab_life.up(load_scenario(str(path)), str(path), {"TCP": [80], "UDP": []})
    assert (netns.namespaces(), lab_life.leftover_runs()) == before
