# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What policies cost each new connection: TCP connections per second into a pod with 10,000 peers.

Goal: with our rendering of a policy allowing 10,000 peer pods (one ipset), the rate is at least
0.9 times the rate of the same node with no policy, "tracked": conntrack running, as on every
Kubernetes node (kube-proxy, the CNI's masquerading), and our reply rule, nothing isolated. The
rate with no rules at all ("none", so no conntrack either) is measured for reference: conntrack
alone costs about 15% of it here, whatever the rules. The seed's naive rendering (one ACCEPT
rule per peer, walked in order, the client's last) is measured too. The client and server are small C programs (compiled with `cc` at the start), so
the figure is the packet path's, not an interpreter's. Many short rounds, the states in a
different order each round; the ratio of each round (against "none" of the same round) is
summarized by its median and spread. A benchmark reports, it does not fail: it always exits 0.
Needs root: it builds a node namespace with a bridge and two pod namespaces (client, server) on
it, and removes them at the end, even on error.

    python bench/packet_bench.py [--seconds 0.5] [--rounds 20] [--peers 10000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
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
STATES = ("none", "tracked", "ours", "naive")
# Client and server share one CPU at a real-time priority: other work on the machine neither
# preempts them nor lends them a second CPU, and the softirq work of their packets is done there.
PINNED = ("chrt", "--fifo", "50", "taskset", "--cpu-list", "0")

# Accept and close: the client sees our FIN, so the whole exchange went through the node.
SERVER = r"""
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char **argv) {
    struct sockaddr_in address = {0};
    int one = 1, server = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    address.sin_family = AF_INET;
    address.sin_port = htons(atoi(argv[1]));
    if (bind(server, (struct sockaddr *)&address, sizeof address) || listen(server, 4096)) return 1;
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        int connection = accept(server, NULL, NULL);
        if (connection >= 0) close(connection);
    }
}
"""

# Each connection: connect, wait for the server's FIN, then close with an RST (SO_LINGER 0) so
# no TIME_WAIT is left behind to exhaust the client's ports. Prints: done failed seconds.
CLIENT = r"""
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
static double now(void) {
    struct timespec clock;
    clock_gettime(CLOCK_MONOTONIC, &clock);
    return clock.tv_sec + clock.tv_nsec / 1e9;
}
int main(int argc, char **argv) {
    struct sockaddr_in to = {0}, from = {0};
    struct linger reset = {1, 0};
    struct timeval patience = {2, 0};
    double started = now(), end = started + atof(argv[3]);
    long done = 0, failed = 0;
    char byte;
    to.sin_family = from.sin_family = AF_INET;
    to.sin_port = htons(atoi(argv[2]));
    inet_pton(AF_INET, argv[1], &to.sin_addr);
    if (argc > 4) inet_pton(AF_INET, argv[4], &from.sin_addr);
    do {
        int client = socket(AF_INET, SOCK_STREAM, 0);
        setsockopt(client, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
        if ((argc > 4 && bind(client, (struct sockaddr *)&from, sizeof from))
            || connect(client, (struct sockaddr *)&to, sizeof to) || recv(client, &byte, 1, 0) != 0)
            failed++;
        else
            done++;
        close(client);
    } while (now() < end);
    printf("%ld %ld %.6f\n", done, failed, now() - started);
    return 0;
}
"""


def sh(argv, stdin=None):
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError("%s failed (rc=%d): %s" % (" ".join(argv), done.returncode, done.stderr.strip()))
    return done.stdout


def in_netns(netns, *argv, stdin=None):
    return sh(["ip", "netns", "exec", netns] + list(argv), stdin=stdin)


def compile_programs(directory):
    """The server and client built with the system's C compiler: {name: path}."""
    compiler = shutil.which("cc")
    if compiler is None:
        raise RuntimeError("no C compiler (cc): scripts/setup installs gcc")
    built = {}
    for name, source in (("server", SERVER), ("client", CLIENT)):
        path = os.path.join(directory, name)
        sh([compiler, "-O2", "-x", "c", "-o", path, "-"], stdin=source)
        built[name] = path
    return built


def policy_slice(peers, neighbours):
    """Node n1's plan slice: the server pod isolated by one policy whose ingress allows `peers` pods on TCP 8080.

    The client is one of the peers; the others are model pods on 40 other nodes' pod CIDRs.
    `neighbours` more model pods on n1 are each isolated both ways by a policy of their own
    (allowing nothing), so the node dispatches that many isolation groups in each direction, as
    a busy node does; their policies sort after the server's.
    """
    namespace = Namespace("bench", frozen_labels({"kubernetes.io/metadata.name": "bench"}))
    pods = [Pod("bench", "server", frozen_labels({"app": "server"}), "n1", (SERVER_IP,)),
            Pod("bench", "client", frozen_labels({"role": "peer"}), "n1", (CLIENT_IP,))]
    pods += [Pod("bench", "neighbour-%d" % number, frozen_labels({"neighbour": str(number)}), "n1",
                 ("10.244.1.%d" % (100 + number),)) for number in range(neighbours)]
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
    isolating = [policy_from_manifest({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "isolate-%03d" % number, "namespace": "bench"},
        "spec": {"podSelector": {"matchLabels": {"neighbour": str(number)}}, "policyTypes": ["Ingress", "Egress"]}})
        for number in range(neighbours)]
    cluster = Cluster({"bench": namespace}, tuple(pods), tuple(nodes))
    return node_slice(build_plan(cluster, (policy,) + tuple(isolating)), "n1")


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

    def __init__(self, programs):
        suffix = uuid.uuid4().hex[:8]
        self.node, self.client, self.server = ("kn-pb-%s-%s" % (role, suffix) for role in ("node", "client", "server"))
        self.programs = programs
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
        server = subprocess.Popen(["ip", "netns", "exec", self.server, *PINNED, self.programs["server"], str(PORT)],
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
        argv = [self.programs["client"], SERVER_IP, str(PORT), str(seconds)] + ([source] if source else [])
        done, failed, elapsed = in_netns(self.client, *PINNED, *argv).split()
        return int(done), int(failed), float(elapsed)

    def reachable(self, source):
        """Does one connection from `source` (an address of the client pod) get through?"""
        return self.connections(0, source)[0] > 0

    def runner(self, argv, stdin=None):
        """The dataplane's runner: every command inside the node namespace."""
        done = subprocess.run(["ip", "netns", "exec", self.node] + list(argv), input=stdin,
                              capture_output=True, text=True, check=False)
        return done.returncode, done.stdout, done.stderr


class Renderings:
    """Puts the node in each state under test: no rules; our rendering of a plan isolating nothing
    (conntrack and our reply rule); our rendering of the policy; the naive one."""

    def __init__(self, lab, desired, nothing_isolated, peers, state_dir):
        self.lab, self.desired, self.nothing_isolated = lab, desired, nothing_isolated
        self.peers, self.state_dir = peers, state_dir

    def none(self):
        converge(None, self.lab.runner, state_dir=self.state_dir)
        self._drop_naive()

    def tracked(self):
        self._drop_naive()
        converge(self.nothing_isolated, self.lab.runner, state_dir=self.state_dir)

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


def check_states(lab, renderings):
    """Each state enforces what it should before it is measured; False when one does not."""
    right = True
    for state in STATES:
        getattr(renderings, state)()
        allowed, stranger = lab.reachable(CLIENT_IP), lab.reachable(STRANGER_IP)
        expected = (True, state in ("none", "tracked"))
        right = right and (allowed, stranger) == expected
        print("    %-7s client reaches server: %s; an address no policy allows: %s%s"
              % (state, allowed, stranger, "" if (allowed, stranger) == expected else "  (UNEXPECTED)"))
    return right


def measure(lab, renderings, args):
    """{state: [rate of each round]}. Each round runs every state once, in an order turned by
    one each round, so no state always follows the same one or comes first."""
    rates = {state: [] for state in STATES}
    for number in range(args.rounds):
        order = STATES[number % len(STATES):] + STATES[:number % len(STATES)]
        for state in order:
            getattr(renderings, state)()
            done, failed, elapsed = lab.connections(args.seconds)
            rates[state].append(done / elapsed)
            if failed:
                print("    round %d %s: %d connections failed" % (number + 1, state, failed))
    renderings.none()
    return rates


def spread(values):
    """median, quartiles and extremes of a list of figures, as text."""
    low, median, high = statistics.quantiles(values, n=4) if len(values) > 1 else (values[0],) * 3
    return "median %.3f (quartiles %.3f-%.3f, min %.3f, max %.3f)" % (
        statistics.median(values), low, high, min(values), max(values))


def report(rates, args):
    print("new TCP connections per second, %d rounds of %.2f s per state:" % (args.rounds, args.seconds))
    for state in STATES:
        print("    %-7s median %7.0f/s (min %.0f, max %.0f)" % (
            state, statistics.median(rates[state]), min(rates[state]), max(rates[state])))
    ratios = {state: [rate / base for rate, base in zip(rates[state], rates["none"])] for state in STATES[1:]}
    print("ratio to none within each round:")
    print("    tracked (conntrack and our reply rule, nothing isolated): %s" % spread(ratios["tracked"]))
    print("    ours (%d peers in one ipset):                          %s" % (args.peers, spread(ratios["ours"])))
    print("    naive (%d rules, client's last):                       %s" % (args.peers, spread(ratios["naive"])))
    over_tracked = [rate / base for rate, base in zip(rates["ours"], rates["tracked"])]
    print("ours / tracked (the policy against no policy on a node running conntrack):")
    print("    %s  goal median >= %.1f: %s"
          % (spread(over_tracked), GOAL, "met" if statistics.median(over_tracked) >= GOAL else "MISSED"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="length of one client loop")
    parser.add_argument("--rounds", type=int, default=20, help="rounds, each measuring every state once")
    parser.add_argument("--peers", type=int, default=10000, help="pods the policy allows (the client is one)")
    parser.add_argument("--neighbours", type=int, default=50, help="other local pods, each isolated by its own policy")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("needs root (it creates network namespaces)")
        return 0
    started = time.perf_counter()
    plan = policy_slice(args.peers, args.neighbours)
    desired = render(plan)
    nothing_isolated = render(dict(plan, pods=[dict(pod, ingress=[], egress=[]) for pod in plan["pods"]], policies=[]))
    figures = desired.counts()
    print("our rendering: %d rules, %d sets, %d set members, %d isolated neighbours (plan and render: %.1f s); "
          "load average %.1f" % (figures["rules"], figures["sets"], figures["members"], args.neighbours,
                                 time.perf_counter() - started, os.getloadavg()[0]))
    with tempfile.TemporaryDirectory() as directory:
        lab = None
        try:
            lab = Lab(compile_programs(directory))
            lab.build()
            renderings = Renderings(lab, desired, nothing_isolated, args.peers, os.path.join(directory, "state"))
            if check_states(lab, renderings):
                report(measure(lab, renderings, args), args)
        except (RuntimeError, OSError) as exc:
            print("benchmark failed: %s" % exc)
        finally:
            if lab is not None:
                lab.remove()
    print("total time: %.0f s" % (time.perf_counter() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
