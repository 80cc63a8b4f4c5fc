# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real TCP connections through the converged chains (needs root).

The node is a namespace with a Linux bridge (br_netfilter: bridged packets meet FORWARD);
pods x/a, x/b, x/c are namespaces on that bridge, with the addresses of dataplane_plans'
node n1; an "outside" host is a namespace behind a routed link. Expected outcomes come from
the policies (see dataplane_plans), reasoned by hand:

- x/a is isolated for ingress (x/deny-ingress, x/allow-b-to-a: from app=b on http=8080 and
  9000-9100); x/b for ingress (deny) and egress (x/egress-b: to app=a on 8080; to anything
  outside 10.0.0.0/8 and fd00::/8 on TCP 443 and UDP 53); x/c for ingress (deny, and
  x/from-blue: from namespace y; here also x/from-outside: 192.168.50.0/24 except
  192.168.50.3 on 8080).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from chains_module import run_module
from pod_programs import SERVER
from dataplane_plans import STANDARD_PODS, STANDARD_POLICIES, desired, netpol, node_slice, without

from ansible_collections.kubenet.netpol.plugins.module_utils.node.conntrack import ConnectionCutter
from ansible_collections.kubenet.netpol.plugins.module_utils.node.dataplane import converge

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, netfilter)")]

PODS = {"a": ("10.244.1.10", "fd00:1::10"), "b": ("10.244.1.11", "fd00:1::11"), "c": ("10.244.1.12", None)}
LISTEN = {"a": (8080, 9000), "b": (8080,), "c": (8080, 9090), "outside": (443, 8080), "far": (443,)}
OUTSIDE = ("192.168.50.2", "192.168.50.3")
FAR = "192.168.60.2"  # behind "outside", which reaches it with a 1280-byte MTU
FROM_OUTSIDE = netpol("x/from-outside", {
    "podSelector": {"matchLabels": {"app": "c"}},
    "ingress": [{"from": [{"ipBlock": {"cidr": "192.168.50.0/24", "except": ["192.168.50.3/32"]}}],
                 "ports": [{"port": 8080}]}]})

CLIENT = r"""
import socket, sys
host, port, timeout, source = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
family = socket.AF_INET6 if ":" in host else socket.AF_INET
client = socket.socket(family, socket.SOCK_STREAM)
client.settimeout(timeout)
if source:
    client.bind((source, 0))
try:
    client.connect((host, port))
    print(client.recv(2).decode() or "closed")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
except OSError as exc:
    print("error %s" % exc)
"""


SESSION = r"""
import socket, sys
client = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
print(client.recv(2).decode(), flush=True)
client.settimeout(1.0)
for line in sys.stdin:
    try:
        client.sendall(line.strip().encode())
        print(client.recv(64).decode() or "closed", flush=True)
    except socket.timeout:
        print("timeout", flush=True)
    except OSError as exc:
        print("error %s" % exc, flush=True)
"""


class Session:
    """A long-lived connection from one host: each say() sends a word and returns the echo."""

    def __init__(self, lab, source, host, port):
        self.process = subprocess.Popen(["ip", "netns", "exec", lab.hosts[source], sys.executable, "-c", SESSION,
                                         host, str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        lab.servers.append(self.process)
        assert self.process.stdout.readline().strip() == "ok"

    def say(self, word):
        self.process.stdin.write(word + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()


BULK = r"""
import socket, sys
client = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
assert client.recv(2) == b"ok"
payload = b"x" * 20000
client.sendall(payload)
received = 0
try:
    while received < len(payload):
        chunk = client.recv(65536)
        if not chunk:
            break
        received += len(chunk)
    print("complete" if received == len(payload) else "short after %d bytes" % received)
except socket.timeout:
    print("stalled after %d bytes" % received)
"""


def run(*argv):
    subprocess.run(argv, check=True, capture_output=True, text=True)


class Lab:
    """A node with a bridge, three pods on it, an outside host on a routed link, and a far host
    behind the outside one (a router) over a narrower link."""

    def __init__(self, make_netns):
        self.node = make_netns("node")
        self.hosts = {name: make_netns(name) for name in list(PODS) + ["outside", "far"]}
        self.servers = []

    def start(self):
        node = ("ip", "netns", "exec", self.node)
        if not os.path.exists("/proc/sys/net/bridge/bridge-nf-call-iptables"):
            subprocess.run(["modprobe", "br_netfilter"], check=False)
        run(*node, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1", "net.bridge.bridge-nf-call-ip6tables=1",
            "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
        run(*node, "ip", "link", "add", "br0", "type", "bridge")
        run(*node, "ip", "addr", "add", "10.244.1.1/24", "dev", "br0")
        run(*node, "ip", "addr", "add", "fd00:1::1/64", "dev", "br0", "nodad")
        run(*node, "ip", "link", "set", "br0", "up")
        for name, (ipv4, ipv6) in PODS.items():
            pod = ("ip", "netns", "exec", self.hosts[name])
            run(*node, "ip", "link", "add", "veth-" + name, "type", "veth", "peer", "name", "eth0", "netns", self.hosts[name])
            run(*node, "ip", "link", "set", "veth-" + name, "master", "br0", "up")
            run(*pod, "ip", "addr", "add", ipv4 + "/24", "dev", "eth0")
            if ipv6:
                run(*pod, "ip", "addr", "add", ipv6 + "/64", "dev", "eth0", "nodad")
            run(*pod, "ip", "link", "set", "eth0", "up")
            run(*pod, "ip", "route", "add", "default", "via", "10.244.1.1")
            if ipv6:
                run(*pod, "ip", "-6", "route", "add", "default", "via", "fd00:1::1")
        outside = ("ip", "netns", "exec", self.hosts["outside"])
        run(*node, "ip", "link", "add", "out0", "type", "veth", "peer", "name", "eth0", "netns", self.hosts["outside"])
        run(*node, "ip", "addr", "add", "192.168.50.1/24", "dev", "out0")
        run(*node, "ip", "link", "set", "out0", "up")
        for address in OUTSIDE:
            run(*outside, "ip", "addr", "add", address + "/24", "dev", "eth0")
        run(*outside, "ip", "link", "set", "eth0", "up")
        run(*outside, "ip", "route", "add", "default", "via", "192.168.50.1")
        far = ("ip", "netns", "exec", self.hosts["far"])
        run(*outside, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        run(*outside, "ip", "link", "add", "far0", "type", "veth", "peer", "name", "eth0", "netns", self.hosts["far"])
        run(*outside, "ip", "addr", "add", "192.168.60.1/24", "dev", "far0")
        run(*outside, "ip", "link", "set", "far0", "up")
        # Only the router's way to the far host is narrow (a locked route MTU), so the far host
        # still offers a 1460-byte MSS and b's full-size segments need path MTU discovery.
        run(*outside, "ip", "route", "replace", "192.168.60.0/24", "dev", "far0", "mtu", "lock", "1280")
        run(*far, "ip", "addr", "add", FAR + "/24", "dev", "eth0")
        run(*far, "ip", "link", "set", "eth0", "up")
        run(*far, "ip", "route", "add", "default", "via", "192.168.60.1")
        run(*node, "ip", "route", "add", "192.168.60.0/24", "via", OUTSIDE[0])
        for name, ports in LISTEN.items():
            server = subprocess.Popen(["ip", "netns", "exec", self.hosts[name], sys.executable, "-c", SERVER]
                                      + [str(port) for port in ports], stdout=subprocess.PIPE, text=True)
            self.servers.append(server)
            assert server.stdout.readline().strip() == "ready"
        bridged = subprocess.run([*node, "sysctl", "-n", "net.bridge.bridge-nf-call-iptables"],
                                 capture_output=True, text=True, check=True)
        assert bridged.stdout.strip() == "1"

    def connect(self, source, host, port, timeout=2.0, bind=""):
        done = subprocess.run(["ip", "netns", "exec", self.hosts[source], sys.executable, "-c", CLIENT,
                               host, str(port), str(timeout), bind], capture_output=True, text=True, check=True)
        return done.stdout.strip()

    def forget_neighbours(self):
        for name in PODS:
            run("ip", "netns", "exec", self.hosts[name], "ip", "neigh", "flush", "all")

    def stop(self):
        for server in self.servers:
            server.kill()
            server.wait()


@pytest.fixture
def lab(make_netns):
    built = Lab(make_netns)
    try:
        built.start()
        yield built
    finally:
        built.stop()


def node_runner(lab, runner_in):
    return runner_in(lab.node)


def test_bridged_pod_traffic_is_filtered_both_ways_and_restored_by_absent(lab, runner_in, state_dir):
    a, b, c = (PODS[name][0] for name in "abc")
    probes = {("b", a, 8080): "ok", ("b", a, 9000): "refused", ("c", a, 8080): "refused",
              ("a", b, 8080): "refused", ("a", c, 8080): "refused", ("a", c, 9090): "refused"}
    assert {probe: lab.connect(*probe) for probe in probes} == {probe: "ok" for probe in probes}

    converge(desired(), node_runner(lab, runner_in), state_dir=state_dir)
    # b -> a:9000: a's ingress allows it, b's egress does not: a same-node pair needs both.
    assert {probe: lab.connect(*probe) for probe in probes} == probes

    converge(None, node_runner(lab, runner_in), state_dir=state_dir)
    assert {probe: lab.connect(*probe) for probe in probes} == {probe: "ok" for probe in probes}


def test_ipv6_on_the_bridge_needs_neighbour_discovery_through_an_egress_isolated_pod(lab, runner_in, state_dir):
    converge(desired(), node_runner(lab, runner_in), state_dir=state_dir)
    lab.forget_neighbours()  # b must resolve a again: its neighbour solicitations cross its egress chain
    assert lab.connect("b", PODS["a"][1], 8080) == "ok"
    assert lab.connect("b", PODS["a"][1], 9000) == "refused"
    assert lab.connect("a", PODS["b"][1], 8080) == "refused"


def test_routed_traffic_from_outside_meets_ipblock_and_except(lab, runner_in, state_dir):
    c = PODS["c"][0]
    converge(desired(policies=STANDARD_POLICIES + (FROM_OUTSIDE,)), node_runner(lab, runner_in), state_dir=state_dir)
    assert lab.connect("outside", c, 8080, bind=OUTSIDE[0]) == "ok"
    assert lab.connect("outside", c, 8080, bind=OUTSIDE[1]) == "refused"  # the except
    assert lab.connect("outside", c, 9090, bind=OUTSIDE[0]) == "refused"  # not the port
    # b's egress to addresses outside 10.0.0.0/8: TCP 443 allowed, 8080 not.
    assert lab.connect("b", OUTSIDE[0], 443) == "ok"
    assert lab.connect("b", OUTSIDE[0], 8080) == "refused"
    # replies of allowed connections come back through FORWARD as ESTABLISHED: both ends saw "ok".


def test_drop_action_makes_denied_connections_time_out(lab, runner_in, state_dir):
    converge(desired(deny_action="DROP"), node_runner(lab, runner_in), state_dir=state_dir)
    assert lab.connect("c", PODS["a"][0], 8080, timeout=0.5) == "timeout"
    assert lab.connect("b", PODS["a"][0], 8080) == "ok"


def test_fail_closed_mode_denies_a_pod_started_after_the_plan(lab, runner_in, state_dir):
    # The plan was made before x/c started: c is in no plan, so no policy isolates it.
    before_c = tuple(pod for pod in STANDARD_PODS if pod.key != "x/c")
    a, c = PODS["a"][0], PODS["c"][0]
    converge(desired(pods=before_c), node_runner(lab, runner_in), state_dir=state_dir)
    assert lab.connect("a", c, 8080) == "ok"
    assert lab.connect("c", OUTSIDE[0], 443) == "ok"

    converge(desired(pods=before_c, fail_closed_cidrs=("10.244.1.0/24",)), node_runner(lab, runner_in),
             state_dir=state_dir)
    assert lab.connect("a", c, 8080) == "refused"
    assert lab.connect("c", OUTSIDE[0], 443) == "refused"
    assert lab.connect("b", PODS["a"][0], 8080) == "ok"  # pods of the plan are judged by their policies
    assert lab.connect("outside", a, 8080) == "refused"  # (a: ingress from b only)

    converge(desired(fail_closed_cidrs=("10.244.1.0/24",)), node_runner(lab, runner_in), state_dir=state_dir)
    assert lab.connect("outside", c, 8080) == "refused"  # now known, and isolated by x/deny-ingress
    assert lab.connect("c", OUTSIDE[0], 443) == "ok"  # ... but not for egress


def test_tightened_policy_keeps_live_connections_unless_they_are_cut(lab, runner_in, state_dir):
    node = node_runner(lab, runner_in)
    converge(desired(), node, state_dir=state_dir)
    to_a = Session(lab, "b", PODS["a"][0], 8080)  # allowed: b's egress to app=a:8080, a's ingress from b
    to_outside = Session(lab, "b", OUTSIDE[0], 443)  # allowed: b's egress to 0.0.0.0/0 except 10/8 on 443
    assert (to_a.say("one"), to_outside.say("one")) == ("one", "one")

    tighter = without(STANDARD_POLICIES, "x/allow-b-to-a")
    converge(desired(policies=tighter), node, state_dir=state_dir)
    assert lab.connect("b", PODS["a"][0], 8080) == "refused"  # new connections: denied
    assert to_a.say("two") == "two"  # the established one lives on (conntrack), by default

    cutter = ConnectionCutter(node_slice(policies=tighter), 0x100000)
    result = converge(desired(policies=tighter, cut_connections=True), node, state_dir=state_dir, connections=cutter)
    assert [flow.split(" -> ")[1] for flow in result.summary["connections_cut"]] == ["10.244.1.10:8080"]
    assert to_a.say("three") == "timeout"
    assert to_outside.say("three") == "three"


def test_path_mtu_discovery_works_for_a_pod_isolated_both_ways(lab, runner_in, state_dir):
    # b sends 1500-byte packets; "outside" routes them onto a 1280-byte link and answers
    # "fragmentation needed". That ICMP error is addressed to b, which x/deny-ingress isolates:
    # only as RELATED to b's allowed connection does it get through, and the transfer completes.
    converge(desired(), node_runner(lab, runner_in), state_dir=state_dir)
    done = subprocess.run(["ip", "netns", "exec", lab.hosts["b"], sys.executable, "-c", BULK, FAR, "443"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "complete"
    route = subprocess.run(["ip", "netns", "exec", lab.hosts["b"], "ip", "route", "get", FAR],
                           capture_output=True, text=True, check=True).stdout
    assert "mtu 1280" in route  # the path MTU was learnt from the ICMP error


def test_a_mark_set_by_the_egress_check_never_satisfies_the_ingress_check(lab, runner_in, state_dir):
    # With x/b-anywhere, b's egress allows everything: its chain marks the packet. c's ingress
    # (x/deny-ingress, x/from-blue: y/d only) must still deny: the mark is cleared before c's check.
    anywhere = netpol("x/b-anywhere", {"podSelector": {"matchLabels": {"app": "b"}}, "policyTypes": ["Egress"],
                                       "egress": [{}]})
    converge(desired(policies=STANDARD_POLICIES + (anywhere,)), node_runner(lab, runner_in), state_dir=state_dir)
    assert lab.connect("b", OUTSIDE[0], 8080) == "ok"  # b's egress allows it now
    assert lab.connect("b", PODS["c"][0], 8080) == "refused"


def test_a_persisted_state_holds_from_boot_before_any_run(lab, runner_in, state_dir, tmp_path):
    # A reboot empties the kernel of our rules while the pods come back: without the boot unit every
    # pair is open until the next run. Its command restores the last state, and the policies hold.
    node = node_runner(lab, runner_in)
    before_c = tuple(pod for pod in STANDARD_PODS if pod.key != "x/c")  # c started after this plan
    places = {"state_dir": state_dir, "persist_dir": str(tmp_path / "persist"),
              "persist_unit_dir": str(tmp_path / "units")}
    result = run_module(lab.node, tmp_path, plan=node_slice(pods=before_c), persist=True,
                        persist_fail_closed_cidrs=["10.244.1.0/24"], **places)
    assert result["changed"] and not result.get("failed"), result
    a, b, c = (PODS[name][0] for name in "abc")
    enforced = {("b", a, 8080): "ok", ("b", a, 9000): "refused", ("a", b, 8080): "refused", ("a", c, 8080): "ok"}
    assert {probe: lab.connect(*probe) for probe in enforced} == enforced  # live: c, unknown, is open

    converge(None, node, state_dir=state_dir)  # the reboot
    assert {probe: lab.connect(*probe) for probe in enforced} == {probe: "ok" for probe in enforced}

    unit = (tmp_path / "units" / "kubenet-netpol-restore.service").read_text(encoding="utf-8")
    command = [line for line in unit.splitlines() if line.startswith("ExecStart=")][0][len("ExecStart="):].split()
    subprocess.run(["ip", "netns", "exec", lab.node] + command, check=True, capture_output=True, text=True)
    # The saved state was made fail-closed: c, which the last plan did not know, stays cut off until a run.
    assert {probe: lab.connect(*probe) for probe in enforced} == {**enforced, ("a", c, 8080): "refused"}
