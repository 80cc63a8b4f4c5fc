# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Opt-in: cut the tracked connections that the policies no longer allow (pitfall 11).

Replies pass our chains as ESTABLISHED, so by default a connection lives on when a policy
tightens (as in Calico, Antrea and kube-router). With this option, after a run changed the
rules, each tracked connection is judged against the plan, and the conntrack entries of those
no policy allows any more get our mark bit as their connection mark; the first rule of
KUBENET-FORWARD denies packets of marked connections, in both directions. Deleting the entries
instead would not do: with loose TCP pickup, a packet of the peer could re-create the entry the
other way round, and the connection would be allowed again. A marked connection that becomes
allowed again gets its mark cleared.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.kubenet.netpol.plugins.module_utils.node.render import canonical_address

CONNTRACK_FAMILIES = {4: "ipv4", 6: "ipv6"}
PORT_PROTOCOLS = ("tcp", "udp", "sctp")


class PlanVerdict:
    """Whether the plan slice allows a flow, judged as our chains judge its first packet."""

    def __init__(self, plan_slice):
        self.pods = {}
        for pod in plan_slice["pods"]:
            for ip in pod["ips"]:
                self.pods[canonical_address(ip)[0]] = pod
        self.policies = {(entry["policy"], entry["direction"]): entry for entry in plan_slice["policies"]}
        self.peer_sets = {key: frozenset(canonical_address(ip)[0] for ip in ips)
                          for key, ips in (plan_slice.get("peer_sets") or {}).items()}

    def allows(self, source, destination, protocol, port):
        """protocol: TCP, UDP, SCTP or another name; port: the destination port or None."""
        sender = self.pods.get(source)
        if sender and sender.get("egress") and not self._any_allows(sender, "egress", destination, protocol, port):
            return False
        receiver = self.pods.get(destination)
        if receiver and receiver.get("ingress") and not self._any_allows(receiver, "ingress", source, protocol, port):
            return False
        return True

    def _any_allows(self, pod, direction, peer, protocol, port):
        for policy in pod[direction]:
            for rule in self.policies[(policy, direction)].get("rules") or ():
                for clause in rule.get("clauses") or ():
                    if (clause.get("targets") is None or pod["pod"] in clause["targets"]) \
                            and self._peer_matches(clause.get("peers"), peer) \
                            and _port_matches(clause.get("ports"), protocol, port):
                        return True
        return False

    def _peer_matches(self, peers, address):
        if peers is None:
            return True
        if peers.get("pod_set") is not None and address in self.peer_sets.get(peers["pod_set"], ()):
            return True
        return any(_in_block(block, address) for block in peers.get("ip_blocks") or ())


def _in_block(block, address):
    ip = ipaddress.ip_address(address)
    cidr = ipaddress.ip_network(block["cidr"], strict=False)
    if ip.version != cidr.version or ip not in cidr:
        return False
    return not any(ip in cut for cut in map(ipaddress.ip_network, block.get("except") or ()) if cut.version == ip.version)


def _port_matches(ports, protocol, port):
    if ports is None:
        return True
    for item in ports:
        if item["protocol"] != protocol:
            continue
        if item.get("port") is None:
            return True
        last = item["end_port"] if item.get("end_port") is not None else item["port"]
        if port is not None and item["port"] <= port <= last:
            return True
    return False


def parse_conntrack(text):
    """Flows of `conntrack -L -o extended`: (protocol, original src and dst, the destination and
    port as the pod saw them (the reply's source: after DNAT), original sport, mark)."""
    flows = []
    for line in text.splitlines():
        tokens = line.split()
        if len(tokens) < 3:
            continue
        fields = {}
        for token in tokens:
            key, found, value = token.partition("=")
            if found:
                fields.setdefault(key, []).append(value)
        if len(fields.get("src", ())) < 2:
            continue
        protocol = tokens[2]
        ports = protocol in PORT_PROTOCOLS and len(fields.get("sport", ())) >= 2
        flows.append({
            "protocol": protocol, "source": fields["src"][0], "original_destination": fields["dst"][0],
            "destination": fields["src"][1], "sport": fields["sport"][0] if ports else None,
            "original_dport": fields["dport"][0] if ports else None,
            "dport": int(fields["sport"][1]) if ports else None,
            "mark": int(fields.get("mark", ["0"])[0]),
        })
    return flows


def _describe(flow):
    if flow["dport"] is None:
        return "%s %s -> %s" % (flow["protocol"], flow["source"], flow["destination"])
    return "%s %s:%s -> %s:%d" % (flow["protocol"], flow["source"], flow["sport"], flow["destination"], flow["dport"])


def _update(flow, mark_value, mark):
    """`conntrack -U` of exactly this entry (its original tuple), setting or clearing our bit."""
    argv = ["conntrack", "-U", "-p", flow["protocol"], "-s", flow["source"], "-d", flow["original_destination"]]
    if flow["dport"] is not None:
        argv += ["--sport", flow["sport"], "--dport", flow["original_dport"]]
    return argv + ["--mark", "%#x/%#x" % (mark_value, mark)]


class ConnectionCutter:
    """Marks the connections the plan no longer allows (and unmarks those it allows again)."""

    def __init__(self, plan_slice, mark):
        self.plan_slice = plan_slice
        self.mark = mark

    def run(self, shell, families):
        """Returns the flows cut (or, in check mode, that would be); updates go through the shell.

        It runs after the plan rendered (so the plan's shape is known to be right)."""
        verdict = PlanVerdict(self.plan_slice)
        cut = []
        for family in families:
            text = shell.read(["conntrack", "-L", "-f", CONNTRACK_FAMILIES[family], "-o", "extended"])[1]
            for flow in parse_conntrack(text):
                allowed = verdict.allows(flow["source"], flow["destination"], flow["protocol"].upper(), flow["dport"])
                marked = bool(flow["mark"] & self.mark)
                if allowed == marked:
                    shell.update(_update(flow, 0 if allowed else self.mark, self.mark))
                    if not allowed:
                        cut.append(_describe(flow))
        return cut
