# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Addresses and ipBlocks as the plan holds them: one reading for every stage.

A plan's addresses are compared as text after canonicalising them the way the kernel prints
them (inet_ntop), so "fd00::0a" in a plan and "fd00::a" in conntrack output are one address.
ipBlock membership is decided here and nowhere else. Standard library only.
"""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache

from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import PlanError

SOCKET_FAMILIES = {4: socket.AF_INET, 6: socket.AF_INET6}
UNSPECIFIED = ("0.0.0.0", "::")


def packed_address(text):
    """(family, packed bytes) of an address, or None; the C parser is far faster than ipaddress."""
    family = 6 if ":" in text else 4
    try:
        return family, socket.inet_pton(SOCKET_FAMILIES[family], text)
    except (OSError, ValueError, TypeError):
        return None


@lru_cache(maxsize=None)
def canonical_address(text):
    """(canonical text, family) of an address; cached, as pod IPs recur across many sets."""
    packed = packed_address(text)
    if packed is None:
        raise PlanError("not an IP address: %r" % (text,))
    return socket.inet_ntop(SOCKET_FAMILIES[packed[0]], packed[1]), packed[0]


def pod_address(text):
    """canonical_address of an address a pod can hold: never the unspecified one, which is no
    host's, and which ipset refuses in a set of addresses (a node's restore would fail halfway)."""
    found = canonical_address(text)
    if found[0] in UNSPECIFIED:
        raise PlanError("%s is the unspecified address, which no pod has" % found[0])
    return found


def network(text):
    """A CIDR as an ipaddress network (host bits cleared), or PlanError."""
    if not isinstance(text, str):
        raise PlanError("not a CIDR: %r" % (text,))
    return _parsed_network(text)


@lru_cache(maxsize=None)
def _parsed_network(text):
    """network, cached: the same blocks recur in many clauses."""
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise PlanError("not a CIDR: %r" % (text,)) from None


def block_contains(block, address):
    """An ipBlock matches an address inside its cidr and outside every except (its own excepts only)."""
    ip = ipaddress.ip_address(canonical_address(address)[0])
    cidr = network(block["cidr"])
    if ip.version != cidr.version or ip not in cidr:
        return False
    return not any(ip.version == cut.version and ip in cut for cut in map(network, block.get("except") or ()))


def block_cidrs(block):
    """The fewest CIDRs that cover exactly an ipBlock: its cidr minus every except, sorted."""
    remaining = [network(block["cidr"])]
    for cut in map(network, block.get("except") or ()):
        pieces = []
        for net in remaining:
            if net.version != cut.version or not net.overlaps(cut):
                pieces.append(net)
            elif not net.subnet_of(cut):
                pieces.extend(net.address_exclude(cut))
        remaining = pieces
    return sorted(ipaddress.collapse_addresses(remaining), key=lambda net: (net.version, net))
