# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Extreme input loaded into the real kernel (needs root): the large case of extreme_inputs.

A namespace of 5,000 pods (IPv4-only, IPv6-only, dual-stack) with a 63-character name, isolated
by a policy with a 253-character name whose one rule lists 1,000 peers (selectors with label keys
and values at their maximum lengths, ipBlocks of both families) on a 15-character named port.
The real iptables-restore, ip6tables-restore (nft and legacy) and ipset load it in a fresh namespace; the live
state reads back equal to the rendered one (a rerun writes nothing), and real TCP connections
between five of the pods (namespaces on a bridge, br_netfilter on), towards a dual-stack and an
IPv6-only one, get the verdicts reasoned by hand in extreme_inputs.EXPECTED.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from ansible_collections.kubenet.netpol.plugins.module_utils.node.dataplane import converge
from extreme_inputs import EXPECTED, OTHER_PORT, REAL_PODS, SERVED_PORT, SERVERS, address_of, big_case, desired_state
from pod_programs import SERVER

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, netfilter)")]

# Connects to each (host, port) given, one per line of output: ok, refused, timeout or the error.
CLIENT = r"""
import socket, sys
for target in sys.argv[1:]:
    host, port = target.rsplit(",", 1)
    client = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    client.settimeout(3)
    try:
        client.connect((host, int(port)))
        print(client.recv(2).decode() or "closed")
    except ConnectionRefusedError:
        print("refused")
    except socket.timeout:
        print("timeout")
    except OSError as exc:
        print("error %s" % exc.errno)
    client.close()
"""


def run(*argv):
    subprocess.run(argv, check=True, capture_output=True, text=True)


class Bridge:
    """The node (a namespace with a bridge and br_netfilter on) and the real pods on it."""

    def __init__(self, make_netns):
        self.node = make_netns("node")
        self.pods = {name: make_netns(name) for name in REAL_PODS}
        self.servers = []

    def start(self):
        node = ("ip", "netns", "exec", self.node)
        if not os.path.exists("/proc/sys/net/bridge/bridge-nf-call-iptables"):
            subprocess.run(["modprobe", "br_netfilter"], check=False)
        run(*node, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1", "net.bridge.bridge-nf-call-ip6tables=1")
        run(*node, "ip", "link", "add", "br0", "type", "bridge")
        run(*node, "ip", "addr", "add", "10.244.1.1/24", "dev", "br0")  # REJECT's ICMP errors come from the node
        run(*node, "ip", "addr", "add", "fd00:1::1/64", "dev", "br0", "nodad")
        run(*node, "ip", "link", "set", "br0", "up")
        for name, (_namespace, _labels, addresses) in REAL_PODS.items():
            pod = ("ip", "netns", "exec", self.pods[name])
            run(*node, "ip", "link", "add", "veth-" + name, "type", "veth", "peer", "name", "eth0", "netns", self.pods[name])
            run(*node, "ip", "link", "set", "veth-" + name, "master", "br0", "up")
            for address in addresses:
                run(*pod, "ip", "addr", "add", address + ("/64" if ":" in address else "/24"), "dev", "eth0", "nodad")
            run(*pod, "ip", "link", "set", "eth0", "up")
        for name in SERVERS:
            server = subprocess.Popen(["ip", "netns", "exec", self.pods[name], sys.executable, "-c", SERVER,
                                       str(SERVED_PORT), str(OTHER_PORT)], stdout=subprocess.PIPE, text=True)
            self.servers.append(server)
            assert server.stdout.readline().strip() == "ready"

    def probe(self, cases):
        """The outcome of each (source, target, family, port), one client process per source."""
        found = {}
        for source in sorted({case[0] for case in cases}):
            mine = [case for case in sorted(cases) if case[0] == source]
            targets = ["%s,%d" % (address_of(target, family), port) for _source, target, family, port in mine]
            done = subprocess.run(["ip", "netns", "exec", self.pods[source], sys.executable, "-c", CLIENT] + targets,
                                  capture_output=True, text=True, check=True, timeout=60)
            found.update(zip(mine, done.stdout.split("\n")))
        return found

    def stop(self):
        for server in self.servers:
            server.kill()
            server.wait()


@pytest.fixture
def bridge(make_netns):
    built = Bridge(make_netns)
    try:
        built.start()
        yield built
    finally:
        built.stop()


@pytest.fixture(scope="module")
def large_desired():
    """The large case through the pipeline once, with the time it took."""
    started = time.monotonic()
    return desired_state(*big_case(), "n1"), time.monotonic() - started


@pytest.mark.parametrize("backend", ["nft", "legacy"])
def test_large_extreme_case_loads_reads_back_equal_and_filters_packets(
        bridge, runner_in, state_dir, backend, large_desired):
    everyone = {case: "ok" for case in EXPECTED}
    assert bridge.probe(EXPECTED) == everyone  # the bridge carries every probe before any policy

    desired, render_time = large_desired
    rendered = time.monotonic()
    node = runner_in(bridge.node)
    first = converge(desired, node, state_dir=state_dir, backend=backend)
    loaded = time.monotonic()
    assert first.changed and len(first.summary["sets_created"]) == len(desired.sets)

    node.calls.clear()
    again = converge(desired, node, state_dir=state_dir, backend=backend, want_diff=True)
    compared = time.monotonic()
    assert not again.changed and node.writes() == []
    assert again.diff["before"] == again.diff["after"]  # our live chains and sets, read back, equal the rendered ones
    print("extreme case (%s): %d sets, %d members, %d rules; pipeline to render %.1f s, first converge %.1f s,"
          " rerun %.1f s" % (backend, len(desired.sets), desired.counts()["members"], desired.counts()["rules"],
                             render_time, loaded - rendered, compared - loaded))

    assert bridge.probe(EXPECTED) == {case: "ok" if allowed else "refused" for case, allowed in EXPECTED.items()}
