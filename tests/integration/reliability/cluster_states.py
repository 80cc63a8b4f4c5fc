# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster states that differ in policies, labels and pods, for node n1 of dataplane_plans.

A state is five switches: x/a's tier label (one or two), whether x/extra and x/open-9090 and
x/b-to-outside exist, and how many remote peers namespace y has (0, 3 or 40). Policies:

- x/deny-ingress isolates every pod for ingress; x/egress-b isolates b for egress: to app=a
  on TCP 8080, to 0.0.0.0/0 except 10.0.0.0/8 (and ::/0 except fd00::/8) on TCP 443, UDP 53.
- x/web-one (tier=one) and x/web-two (tier=two) both allow from app=b on TCP 8080 and from
  namespace team=blue: a is isolated by one or the other, with the same verdicts either way.
- x/extra (tier=one) allows from app=b on TCP 8080 again: it changes groups, not verdicts.
- x/open-9090 lets 192.168.50.0/24 reach app=c on TCP 9090; x/b-to-outside lets b reach
  192.168.50.0/24 on TCP 8080. Only these two change verdicts of the probed pairs.

STABLE lists, reasoned from the specification above (a pair on one node needs the source's
egress and the destination's ingress), the pairs whose verdict is the same in every state.
"""

from __future__ import annotations

import itertools
import random

from dataplane_plans import desired, netpol, node_slice, remote_pods

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import ContainerPort, Pod, frozen_labels
from ansible_collections.kubenet.netpol.plugins.module_utils.node.render import Desired, IpSet, Table
from ansible_collections.kubenet.netpol.plugins.module_utils.node.dataplane import (
    JUMP_CHAIN, parse_iptables_save, parse_ipset_save)
from netfilter_model import forward_verdict

A4, A6, B4, B6, C4 = "10.244.1.10", "fd00:1::10", "10.244.1.11", "fd00:1::11", "10.244.1.12"
OUTSIDE = "192.168.50.2"
ADDRESSES = {"a": (A4, A6), "b": (B4, B6), "c": (C4,), "outside": (OUTSIDE,)}

# (source host, destination address, protocol, port) -> allowed in every state
STABLE = {
    ("b", A4, "TCP", 8080): True,  # b's egress to app=a:8080, a's ingress from app=b:8080
    ("b", A6, "TCP", 8080): True,
    ("b", A4, "TCP", 9000): False,  # b's egress: 9000 is not among its ports
    ("c", A4, "TCP", 8080): False,  # a's ingress: c is neither app=b nor in namespace team=blue
    ("c", A4, "UDP", 8080): False,
    ("a", C4, "TCP", 8080): False,  # c's ingress: only app=b on 8080 (and 9090 from outside)
    ("a", B4, "TCP", 8080): False,  # b's ingress: x/deny-ingress alone
    ("b", C4, "TCP", 8080): False,  # b's egress: c is in 10.0.0.0/8 and not app=a
    ("b", OUTSIDE, "TCP", 443): True,  # b's egress ipBlock on 443; outside has no policy
    ("b", OUTSIDE, "UDP", 53): True,
    ("outside", A4, "TCP", 8080): False,
    ("outside", C4, "TCP", 8080): False,  # x/open-9090 opens 9090 only
    ("a", OUTSIDE, "TCP", 443): True,  # a and c are not isolated for egress
    ("c", OUTSIDE, "TCP", 8080): True,
}
# Long-lived connections of pairs allowed in every state (each exchanges data during all runs).
SESSIONS = (("b", A4, 8080), ("b", A6, 8080), ("b", OUTSIDE, 443), ("a", OUTSIDE, 443), ("c", OUTSIDE, 8080))
# Pairs whose verdict follows the switches: (pair, switch that allows it).
CHANGING = {("outside", C4, "TCP", 9090): "open_9090", ("b", OUTSIDE, "TCP", 8080): "b_to_outside"}

# Every address the states' rules can name: the lab's hosts, remote pods, a remote peer, the internet.
GRID_ADDRESSES = [ip for ips in ADDRESSES.values() for ip in ips] + [
    "10.244.2.10", "10.244.2.11", "10.244.20.1", "10.244.20.40", "fd00:2::10", "fd00:20::1", "192.168.50.3",
    "8.8.8.8", "2001:db8::1"]
GRID_PORTS = (53, 443, 8080, 9000, 9090)

TIERS = ("one", "two")
PEERS = (0, 3, 40)
SWITCHES = ("tier", "extra", "open_9090", "b_to_outside", "peers")
STATES = tuple(dict(zip(SWITCHES, values))
               for values in itertools.product(TIERS, (False, True), (False, True), (False, True), PEERS))

_WEB_INGRESS = [{"from": [{"podSelector": {"matchLabels": {"app": "b"}}}], "ports": [{"port": 8080}]},
                {"from": [{"namespaceSelector": {"matchLabels": {"team": "blue"}}}]}]
ALWAYS = (
    netpol("x/deny-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]}),
    netpol("x/egress-b", {"podSelector": {"matchLabels": {"app": "b"}}, "policyTypes": ["Egress"],
                          "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "a"}}}], "ports": [{"port": 8080}]},
                                     {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}},
                                             {"ipBlock": {"cidr": "::/0", "except": ["fd00::/8"]}}],
                                      "ports": [{"port": 443}, {"protocol": "UDP", "port": 53}]}]}),
    netpol("x/web-one", {"podSelector": {"matchLabels": {"tier": "one"}}, "ingress": _WEB_INGRESS}),
    netpol("x/web-two", {"podSelector": {"matchLabels": {"tier": "two"}}, "ingress": _WEB_INGRESS}),
)
OPTIONAL = {
    "extra": netpol("x/extra", {"podSelector": {"matchLabels": {"tier": "one"}}, "ingress": _WEB_INGRESS[:1]}),
    "open_9090": netpol("x/open-9090", {"podSelector": {"matchLabels": {"app": "c"}},
                                        "ingress": [{"from": [{"ipBlock": {"cidr": "192.168.50.0/24"}}],
                                                     "ports": [{"port": 9090}]}]}),
    "b_to_outside": netpol("x/b-to-outside", {"podSelector": {"matchLabels": {"app": "b"}}, "policyTypes": ["Egress"],
                                              "egress": [{"to": [{"ipBlock": {"cidr": "192.168.50.0/24"}}],
                                                          "ports": [{"port": 8080}]}]}),
}


def _pod(key, node, ips, **labels):
    namespace, name = key.split("/")
    ports = (ContainerPort("http", 8080, "TCP"),) if labels.get("app") == "a" else ()
    return Pod(namespace, name, frozen_labels(labels), node, tuple(ips), ports=ports)


def pods(state):
    return (_pod("x/a", "n1", [A4, A6], app="a", tier=state["tier"]),
            _pod("x/b", "n1", [B4, B6], app="b"),
            _pod("x/c", "n1", [C4], app="c", tier="one"),
            _pod("x/e", "n2", ["10.244.2.11"], app="a"),
            _pod("y/d", "n2", ["10.244.2.10", "fd00:2::10"], app="d")) + remote_pods(state["peers"])


def policies(state):
    return ALWAYS + tuple(policy for name, policy in OPTIONAL.items() if state[name])


def rendered(state, **options):
    return desired(pods=pods(state), policies=policies(state), **options)


def plan_of(state):
    return node_slice(pods=pods(state), policies=policies(state))


def walk(seed, count):
    """`count` states, each different from the one before, chosen by a seeded random walk."""
    chooser = random.Random(seed)
    sequence = []
    while len(sequence) < count:
        state = chooser.choice(STATES)
        if not sequence or state != sequence[-1]:
            sequence.append(state)
    return sequence


def expected(pair, state):
    """The verdict of a probed pair in a state: STABLE's, or its switch's."""
    return STABLE[pair] if pair in STABLE else bool(state[CHANGING[pair]])


def live_desired(ip4_save, ip6_save, ipset_save):
    """The live state of ours read back into the shape render() gives, so the netfilter model can walk it.

    A family without our jump sends nothing through our chains: it is left out (the model passes it)."""
    tables = []
    for family, text in ((4, ip4_save), (6, ip6_save)):
        table = parse_iptables_save(text, family)
        jumps = [spec for chain, _position, spec in table.jumps if chain == JUMP_CHAIN]
        assert len(jumps) == len(table.jumps) <= 1, "our jump is misplaced or doubled: %s" % table.jumps
        if jumps:
            tables.append(Table(family, tuple(sorted(table.chains.items())), jumps[0]))
    sets, members = parse_ipset_save(ipset_save)
    by_set = {}
    for line in members:
        name, member = line.split(" ", 1)
        by_set.setdefault(name, []).append(member)
    return Desired(tuple(tables), tuple(IpSet(name, item.family, item.type, tuple(sorted(by_set.get(name, ()))))
                                        for name, item in sorted(sets.items())))


def grid():
    """(source, destination, protocol, port) of every first packet the check walks."""
    return [(source, destination, protocol, port)
            for source, destination in itertools.permutations(GRID_ADDRESSES, 2)
            if (":" in source) == (":" in destination)
            for protocol in ("TCP", "UDP") for port in GRID_PORTS]


def verdicts(state_of_rules, packets):
    """The netfilter interpreter's verdict ("pass" or "deny") of each packet."""
    return {packet: forward_verdict(state_of_rules, *packet) for packet in packets}
