# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Protocols and port ranges as the report writes them: TCP/80, TCP/8000-8080, UDP (every UDP port).

The report judges a port range at one port only: each range is first cut at every boundary the
policies draw (the analysis's port ranges), so that one port of a piece stands for all of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import PROTOCOLS

FIRST_PORT = 1
LAST_PORT = 65535


@dataclass(frozen=True)
class PortRange:
    """A protocol and an inclusive range of its ports."""

    protocol: str
    first: int = FIRST_PORT
    last: int = LAST_PORT

    @property
    def spec(self):
        """As written in options and files: UDP for every port, TCP/80, TCP/8000-8080."""
        if (self.first, self.last) == (FIRST_PORT, LAST_PORT):
            return self.protocol
        if self.first == self.last:
            return "%s/%d" % (self.protocol, self.first)
        return "%s/%d-%d" % (self.protocol, self.first, self.last)

    @property
    def order(self):
        """TCP before UDP before SCTP, then by port."""
        return (PROTOCOLS.index(self.protocol), self.first, self.last)


def parse_port_spec(text):
    """A PortRange from PROTOCOL, PROTOCOL/PORT or PROTOCOL/FIRST-LAST; ValueError saying what is wrong."""
    if not isinstance(text, str):
        raise ValueError("must be a string such as TCP/80, TCP/8000-8080 or UDP, found %r" % (text,))
    protocol, slash, ports = text.partition("/")
    if protocol not in PROTOCOLS:
        hint = " (case matters)" if protocol.upper() in PROTOCOLS else ""
        raise ValueError("%r: the protocol must be one of %s%s" % (text, ", ".join(PROTOCOLS), hint))
    if not slash:
        return PortRange(protocol)
    first, dash, last = ports.partition("-")
    numbers = (first, last) if dash else (first, first)
    if not all(number.isdigit() for number in numbers):
        raise ValueError("%r: write a port number or a range such as %s/8000-8080" % (text, protocol))
    first_port, last_port = int(numbers[0]), int(numbers[1])
    if not FIRST_PORT <= first_port <= last_port <= LAST_PORT:
        raise ValueError("%r: ports are %d-%d and a range goes upwards" % (text, FIRST_PORT, LAST_PORT))
    return PortRange(protocol, first_port, last_port)


def every_port():
    """Every port of every protocol a NetworkPolicy can name."""
    return [PortRange(protocol) for protocol in PROTOCOLS]


def cut(ranges, starts_of):
    """The ranges cut at every start of a piece the policies tell apart (starts_of(protocol): the
    first ports of those pieces), so that one port stands for each piece; in protocol and port order."""
    pieces = set()
    for item in ranges:
        inner = sorted(start for start in starts_of(item.protocol) if item.first < start <= item.last)
        for first, following in zip([item.first] + inner, inner + [item.last + 1]):
            pieces.add(PortRange(item.protocol, first, following - 1))
    return sorted(pieces, key=lambda piece: piece.order)


def joined(pieces):
    """Pieces as the fewest ranges: neighbouring ports of a protocol joined, in protocol and port order."""
    ranges = []
    for piece in sorted(set(pieces), key=lambda item: item.order):
        if ranges and ranges[-1].protocol == piece.protocol and ranges[-1].last + 1 >= piece.first:
            ranges[-1] = PortRange(piece.protocol, ranges[-1].first, max(ranges[-1].last, piece.last))
        else:
            ranges.append(piece)
    return ranges


def specs(pieces):
    """The pieces joined and written out: ["TCP/1-79", "TCP/81-65535", "UDP"]."""
    return [item.spec for item in joined(pieces)]
