# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Opt-in: cut the tracked connections that the policies no longer allow (pitfall 11).

Replies pass our chains as ESTABLISHED, so by default a connection lives on when a policy
tightens (as in Calico, Antrea and kube-router). With this option, after a run changed the
rules, each tracked connection is judged by the one verdict (plan/verdict.py) on this node's
slice, and the conntrack entries of those no policy allows any more get our mark bit as their
connection mark; the first rule of
KUBENET-FORWARD denies packets of marked connections, in both directions. Deleting the entries
instead would not do: with loose TCP pickup, a packet of the peer could re-create the entry the
other way round, and the connection would be allowed again. A marked connection that becomes
allowed again gets its mark cleared.
"""

from __future__ import annotations

from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import PROTOCOLS
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.verdict import NodeView, judge

CONNTRACK_FAMILIES = {4: "ipv4", 6: "ipv6"}
PORT_PROTOCOLS = tuple(protocol.lower() for protocol in PROTOCOLS)  # as conntrack prints them


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
        view = NodeView(self.plan_slice)
        cut = []
        for family in families:
            text = shell.read(["conntrack", "-L", "-f", CONNTRACK_FAMILIES[family], "-o", "extended"])[1]
            for flow in parse_conntrack(text):
                # Both ends are judged on this node: the other node's check is that node's business.
                allowed = judge(view, view, flow["source"], flow["destination"], flow["protocol"].upper(),
                                flow["dport"]).allowed
                marked = bool(flow["mark"] & self.mark)
                if allowed == marked:
                    shell.update(_update(flow, 0 if allowed else self.mark, self.mark))
                    if not allowed:
                        cut.append(_describe(flow))
        return cut
