# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who denied a logged packet: the lookup a converge leaves on the node, and the reader of the log.

A denied packet's NFLOG prefix names only its pod chain (naming.log_prefix), because the kernel
keeps 63 bytes of it. The chain stands for a direction and the policies isolating the pods that
share it; the lookup (denials.json in the state directory, written after each successful run)
keeps that, and which local pod has which address. The reader takes the packets as ulogd2's JSON
output plugin writes them (one object a line) and says, for each of ours, which pod was denied
what, in which direction, and which policies isolate it: none of them allows the packet, or it
would have left the chain before the log rule.
"""

from __future__ import annotations

import json
import os
from collections import deque
from datetime import datetime, timezone

from ansible_collections.kubenet.netpol.plugins.module_utils.node import naming
from ansible_collections.kubenet.netpol.plugins.module_utils.node.files import write_atomically
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.addresses import canonical_address
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import EGRESS, INGRESS

LOOKUP_FILE = "denials.json"
LOOKUP_VERSION = 1
PROTOCOL_NAMES = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6", 132: "sctp"}
DIRECTIONS_BY_CODE = {code: direction for direction, code in naming.POD_CHAIN_CODES.items()}


def lookup(plan_slice):
    """What each pod chain of the node's slice stands for, and the address of each local pod."""
    chains = {}
    pods = {}
    for pod in plan_slice.get("pods") or ():
        for ip in pod.get("ips") or ():
            pods[canonical_address(ip)[0]] = pod["pod"]
        for direction in (INGRESS, EGRESS):
            policies = sorted(set(pod.get(direction) or ()))
            if policies:
                chains[naming.pod_chain(direction, policies)] = {"direction": direction, "policies": policies}
    return {"version": LOOKUP_VERSION, "node": plan_slice.get("node"), "chains": chains, "pods": pods}


def lookup_path(state_dir):
    return os.path.join(state_dir, LOOKUP_FILE)


def keep_lookup(state_dir, wanted, check_mode=False):
    """Make the node's lookup `wanted` (None: no lookup), atomically; True when it changed (or would)."""
    path = lookup_path(state_dir)
    if wanted is None:
        if not os.path.exists(path):
            return False
        if not check_mode:
            os.unlink(path)
        return True
    if load_lookup(state_dir) == wanted:
        return False
    if not check_mode:
        write_atomically(path, json.dumps(wanted, sort_keys=True))
    return True


def load_lookup(state_dir):
    """The node's lookup, or None when there is none (logging off, or no run yet)."""
    try:
        with open(lookup_path(state_dir), encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None


def packet_time(packet):
    """When the kernel logged the packet, in UTC (ulogd's own "timestamp" is local time)."""
    if "oob.time.sec" in packet:
        moment = datetime.fromtimestamp(packet["oob.time.sec"] + packet.get("oob.time.usec", 0) / 1e6, timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return packet.get("timestamp")


def attribute(packet, known):
    """One logged packet of ours as a denial, or None when another rule logged it."""
    chain = naming.chain_of_log_prefix(packet.get("oob.prefix") or "")
    if chain is None:
        return None
    meaning = known["chains"].get(chain)
    # A chain the lookup does not know still says its direction (KUBENET-I-..., KUBENET-E-...).
    direction = meaning["direction"] if meaning else DIRECTIONS_BY_CODE.get(chain[len(naming.PREFIX):].split("-")[0])
    if direction is None:
        return None
    src, dst = packet.get("src_ip"), packet.get("dest_ip")
    pod_address, peer = (dst, src) if direction == INGRESS else (src, dst)
    number = packet.get("ip.protocol")
    denial = {
        "time": packet_time(packet), "direction": direction, "chain": chain,
        "pod": known["pods"].get(pod_address), "pod_ip": pod_address,
        "peer_ip": peer, "peer_pod": known["pods"].get(peer),
        "protocol": PROTOCOL_NAMES.get(number, str(number)), "port": packet.get("dest_port"),
        "policies": meaning["policies"] if meaning else None,
    }
    denial["line"] = line(denial)
    return denial


def line(denial):
    """A denial as an operator reads it."""
    toward = "from" if denial["direction"] == INGRESS else "to"
    peer = denial["peer_ip"] + (" (%s)" % denial["peer_pod"] if denial["peer_pod"] else "")
    service = denial["protocol"] + ("/%s" % denial["port"] if denial["port"] is not None else "")
    if denial["policies"] is None:
        why = "chain %s is not in this node's lookup (made by another run)" % denial["chain"]
    else:
        why = "isolated by %s, none allows it" % ", ".join(denial["policies"])
    return "%s %s denied %s %s %s %s: %s" % (
        denial["time"], denial["pod"] or denial["pod_ip"], denial["direction"], toward, peer, service, why)


def read_denials(lines, known, last=0, namespace=None):
    """The denials among ulogd2 JSON lines, oldest first: the `last` ones (0: all), of one namespace
    if given. Returns (denials, lines that are not JSON objects)."""
    found = deque(maxlen=last or None)
    unreadable = 0
    for text in lines:
        if not text.strip():
            continue
        try:
            packet = json.loads(text)
        except ValueError:
            unreadable += 1
            continue
        if not isinstance(packet, dict):
            unreadable += 1
            continue
        denial = attribute(packet, known)
        if denial is None:
            continue
        if namespace is not None and not (denial["pod"] or "").startswith(namespace + "/"):
            continue
        found.append(denial)
    return list(found), unreadable
