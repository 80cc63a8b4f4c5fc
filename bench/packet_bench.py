# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What policies cost each new connection: TCP connections per second into a pod with 10,000 peers.

Goal: with our rendering of a policy allowing 10,000 peer pods (one ipset), the rate is at least
0.9 times the rate with no rules at all. For the record, the seed's naive rendering (one ACCEPT
rule per peer, walked in order, the client's last) is measured too. A benchmark reports, it does
not fail: it always exits 0. Needs root: it builds a node namespace with a bridge and two pod
namespaces (client, server) on it, and removes them at the end, even on error.

    python bench/packet_bench.py [--seconds 3] [--repeat 3] [--peers 10000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid

from ansible_collections.kubenet.netpol.plugins.module_utils.node.dataplane import converge
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import (
    Cluster, Namespace, Node, Pod, frozen_labels, policy_from_manifest)
from ansible_collections.kubenet.netpol.plugins.module_utils.node.render import render
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.slicing import node_slice
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.planner import build_plan

GOAL = 0.9
PORT = 8080
GATEWAY = "10.244.1.1"
SERVER_IP = "10.244.1.10"
CLIENT_IP = "10.244.1.11"
STRANGER_IP = "10.244.1.12"  # a second address of the client pod that no policy allows
PODS_PER_REMOTE_NODE = 250
NAIVE_CHAIN = "NAIVE-POD-SERVER"

SERVER = r"""
import socket, sys
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", int(sys.argv[1])))
server.listen(4096)
print("ready", flush=True)
while True:  # accept and close: the client sees our FIN, the whole handshake went through
    connection, peer = server.accept()
    connection.close()
"""

# Each connection: connect, wait for the server's FIN, then close with an RST (SO_LINGER 0) so
# no TIME_WAIT is left behind to exhaust the client's ports during a run.
CLIENT = r"""
import socket, struct, sys, time
host, port, seconds, source = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
linger = struct.pack("ii", 1, 0)
done = failed = 0
started = time.perf_counter()
end = started + seconds
while time.perf_counter() < end:
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    client.settimeout(2.0)
    try:
        if source:
            client.bind((source, 0))
        client.connect((host, port))
        client.recv(1)
        done += 1
    except OSError:
        failed += 1
    finally:
        client.close()
print(done, failed, time.perf_counter() - started)
"""


def sh(argv, stdin=None):
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError("%s failed (rc=%d): %s" % (" ".join(argv), done.returncode, done.stderr.strip()))
    return done.stdout


def in_netns(netns, *argv, stdin=None):
    return sh(["ip", "netns", "exec", netns] + list(argv), stdin=stdin)


def policy_slice(peers):
    """Node n1's plan slice: the server pod isolated by one policy whose ingress allows `peers` pods on TCP 8080.

    The client is one of the peers; the others are model pods on 40 other nodes' pod CIDRs.
    """
    namespace = Namespace("bench", frozen_labels({"kubernetes.io/metadata.name": "bench"}))
    pods = [Pod("bench", "server", frozen_labels({"app": "server"}), "n1", (SERVER_IP,)),
            Pod("bench", "client", frozen_labels({"role": "peer"}), "n1", (CLIENT_IP,))]
    for number in range(peers - 1):
        node = 2 + number // PODS_PER_REMOTE_NODE
        pods.append(Pod("bench", "peer-%d" % number, frozen_labels({"role": "peer"}), "n%d" % node,
                        ("10.244.%d.%d" % (node, 2 + number % PODS_PER_REMOTE_NODE),)))
    nodes = [Node("n%d" % number, pod_cidrs=("10.244.%d.0/24" % number,))
             for number in range(1, 2 + (peers - 1 + PODS_PER_REMOTE_NODE - 1) // PODS_PER_REMOTE_NODE)]
    policy = policy_from_manifest({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "from-peers", "namespace": "bench"},
        "spec": {"podSelector": {"matchLabels": {"app": "server"}},
                 "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "peer"}}}],
                              "ports": [{"protocol": "TCP", "port": PORT}]}]}})
    return node_slice(build_plan(Cluster({"bench": namespace}, tuple(pods), tuple(nodes)), (policy,)), "n1")


def naive_rules(peers):
    """The seed's expansion (one ACCEPT per source x destination x port), the client's rule last."""
    sources = ["10.244.%d.%d" % (2 + number // PODS_PER_REMOTE_NODE, 2 + number % PODS_PER_REMOTE_NODE)
               for number in range(peers - 1)] + [CLIENT_IP]
    lines = ["*filter", ":%s - [0:0]" % NAIVE_CHAIN, "-A FORWARD -d %s/32 -j %s" % (SERVER_IP, NAIVE_CHAIN)]
    lines += ["-A %s -s %s/32 -d %s/32 -p tcp -m tcp --dport %d -j ACCEPT" % (NAIVE_CHAIN, source, SERVER_IP, PORT)
              for source in sources]
    lines += ["-A %s -j REJECT --reject-with icmp-port-unreachable" % NAIVE_CHAIN, "COMMIT"]
    return "\n".join(lines) + "\n"


class Lab:
    """A node namespace with a bridge (br_netfilter on) and two pods, client and server, on it."""

    def __init__(self):
        suffix = uuid.uuid4().hex[:8]
        self.node, self.client, self.server = ("kn-pb-%s-%s" % (role, suffix) for role in ("node", "client", "server"))
        self.created = []
        self.processes = []

    def build(self):
        for netns in (self.node, self.client, self.server):
            sh(["ip", "netns", "add", netns])
            self.created.append(netns)
            in_netns(netns, "ip", "link", "set", "lo", "up")
        if not os.path.exists("/proc/sys/net/bridge/bridge-nf-call-iptables"):
            subprocess.run(["modprobe", "br_netfilter"], check=False)
        in_netns(self.node, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1", "net.ipv4.ip_forward=1")
        in_netns(self.node, "ip", "link", "add", "br0", "type", "bridge")
        in_netns(self.node, "ip", "addr", "add", GATEWAY + "/24", "dev", "br0")
        in_netns(self.node, "ip", "link", "set", "br0", "up")
        for name, netns, addresses in (("client", self.client, (CLIENT_IP, STRANGER_IP)), ("server", self.server, (SERVER_IP,))):
            in_netns(self.node, "ip", "link", "add", "veth-" + name, "type", "veth", "peer", "name", "eth0", "netns", netns)
            in_netns(self.node, "ip", "link", "set", "veth-" + name, "master", "br0", "up")
            for address in addresses:
                in_netns(netns, "ip", "addr", "add", address + "/24", "dev", "eth0")
            in_netns(netns, "ip", "link", "set", "eth0", "up")
            in_netns(netns, "ip", "route", "add", "default", "via", GATEWAY)
        in_netns(self.client, "sysctl", "-qw", "net.ipv4.ip_local_port_range=1024 65000")
        if in_netns(self.node, "sysctl", "-n", "net.bridge.bridge-nf-call-iptables").strip() != "1":
            raise RuntimeError("bridged traffic does not reach iptables in the node namespace")
        server = subprocess.Popen(["ip", "netns", "exec", self.server, sys.executable, "-c", SERVER, str(PORT)],
                                  stdout=subprocess.PIPE, text=True)
        self.processes.append(server)
        if server.stdout.readline().strip() != "ready":
            raise RuntimeError("the server pod's listener did not start")

    def remove(self):
        for process in self.processes:
            process.kill()
            process.wait()
        for netns in reversed(self.created):
            subprocess.run(["ip", "netns", "del", netns], check=False)

    def connections(self, seconds, source=""):
        """(connections completed, failed, elapsed seconds) of one client loop from the client pod."""
        done, failed, elapsed = in_netns(self.client, sys.executable, "-c", CLIENT, SERVER_IP, str(PORT),
                                         str(seconds), source).split()
        return int(done), int(failed), float(elapsed)

    def reachable(self, source):
        """Does one connection from `source` (an address of the client pod) get through?"""
        return self.connections(0.001, source)[0] > 0

    def runner(self, argv, stdin=None):
        """The dataplane's runner: every command inside the node namespace."""
        done = subprocess.run(["ip", "netns", "exec", self.node] + list(argv), input=stdin,
                              capture_output=True, text=True, check=False)
        return done.returncode, done.stdout, done.stderr


class Renderings:
    """Puts the node in each state under test: no rules, our rendering, the naive one."""

    def __init__(self, lab, desired, peers, state_dir):
        self.lab, self.desired, self.peers, self.state_dir = lab, desired, peers, state_dir

    def none(self):
        converge(None, self.lab.runner, state_dir=self.state_dir)
        self._drop_naive()

    def ours(self):
        self._drop_naive()
        converge(self.desired, self.lab.runner, state_dir=self.state_dir)

    def naive(self):
        converge(None, self.lab.runner, state_dir=self.state_dir)
        self._drop_naive()
        in_netns(self.lab.node, "iptables-restore", "--noflush", "--wait", stdin=naive_rules(self.peers))

    def _drop_naive(self):
        if NAIVE_CHAIN in in_netns(self.lab.node, "iptables-save", "-t", "filter"):
            in_netns(self.lab.node, "iptables", "-w", "-D", "FORWARD", "-d", SERVER_IP + "/32", "-j", NAIVE_CHAIN)
            in_netns(self.lab.node, "iptables", "-w", "-F", NAIVE_CHAIN)
            in_netns(self.lab.node, "iptables", "-w", "-X", NAIVE_CHAIN)


def measure(lab, renderings, args):
    """Rates per state, the best of `repeat` rounds; states alternate within a round, so a slow
    spell of the machine hits them alike. Each state is checked to enforce what it should first."""
    states = ("none", "ours", "naive")
    rates = {state: [] for state in states}
    for round_number in range(args.repeat):
        for state in states:
            getattr(renderings, state)()
            if round_number == 0:
                allowed, stranger = lab.reachable(CLIENT_IP), lab.reachable(STRANGER_IP)
                expected = (True, state == "none")
                print("    %-5s client reaches server: %s; an address no policy allows: %s%s"
                      % (state, allowed, stranger, "" if (allowed, stranger) == expected else "  (UNEXPECTED)"))
            done, failed, elapsed = lab.connections(args.seconds)
            rates[state].append(done / elapsed)
            print("    round %d %-5s %7.0f connections/s (%d in %.2f s, %d failed)"
                  % (round_number + 1, state, done / elapsed, done, elapsed, failed))
    renderings.none()
    return {state: max(found) for state, found in rates.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one client loop")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best rate of each state counts")
    parser.add_argument("--peers", type=int, default=10000, help="pods the policy allows (the client is one)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("needs root (it creates network namespaces)")
        return 0
    started = time.perf_counter()
    desired = render(policy_slice(args.peers))
    figures = desired.counts()
    print("our rendering: %d rules, %d sets, %d set members (plan and render: %.1f s)"
          % (figures["rules"], figures["sets"], figures["members"], time.perf_counter() - started))
    lab = Lab()
    try:
        lab.build()
        with tempfile.TemporaryDirectory() as state_dir:
            rates = measure(lab, Renderings(lab, desired, args.peers, state_dir), args)
    except (RuntimeError, OSError) as exc:
        print("benchmark failed: %s" % exc)
        return 0
    finally:
        lab.remove()
    ratio = rates["ours"] / rates["none"]
    print("new TCP connections per second, best of %d x %.0f s:" % (args.repeat, args.seconds))
    print("    no policy:                         %7.0f" % rates["none"])
    print("    ours (%5d peers in one ipset):    %7.0f  ours / none  %.2f (goal >= %.1f: %s)"
          % (args.peers, rates["ours"], ratio, GOAL, "met" if ratio >= GOAL else "MISSED"))
    print("    naive (%5d rules, client's last): %7.0f  naive / none %.2f"
          % (args.peers, rates["naive"], rates["naive"] / rates["none"]))
    print("total time: %.0f s" % (time.perf_counter() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
