# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Port specs as options and files write them; ranges cut where the policies tell ports apart, and joined back."""

from __future__ import annotations

import pytest

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.ports import PortRange, cut, joined, parse_port_spec, specs


@pytest.mark.parametrize("text, expected", [
    ("TCP/80", PortRange("TCP", 80, 80)),
    ("UDP/1000-2000", PortRange("UDP", 1000, 2000)),
    ("SCTP", PortRange("SCTP", 1, 65535)),
    ("TCP/65535", PortRange("TCP", 65535, 65535)),
])
def test_specs_are_read(text, expected):
    assert parse_port_spec(text) == expected
    assert parse_port_spec(expected.spec) == expected


@pytest.mark.parametrize("text, message", [
    ("tcp/80", "'tcp/80': the protocol must be one of TCP, UDP, SCTP (case matters)"),
    ("ICMP", "'ICMP': the protocol must be one of TCP, UDP, SCTP"),
    ("TCP/http", "'TCP/http': write a port number or a range such as TCP/8000-8080"),
    ("TCP/0", "'TCP/0': ports are 1-65535 and a range goes upwards"),
    ("TCP/90-80", "'TCP/90-80': ports are 1-65535 and a range goes upwards"),
    ("TCP/70000", "'TCP/70000': ports are 1-65535 and a range goes upwards"),
    (80, "must be a string such as TCP/80, TCP/8000-8080 or UDP, found 80"),
])
def test_bad_specs_say_what_is_wrong(text, message):
    with pytest.raises(ValueError) as raised:
        parse_port_spec(text)
    assert str(raised.value) == message


def test_ranges_are_cut_at_the_starts_the_policies_draw_and_joined_back():
    starts = {"TCP": [1, 80, 81, 443, 444], "UDP": [1]}
    pieces = cut([PortRange("TCP", 1, 1000), PortRange("UDP", 53, 53)], lambda protocol: starts.get(protocol, [1]))
    assert [piece.spec for piece in pieces] == ["TCP/1-79", "TCP/80", "TCP/81-442", "TCP/443", "TCP/444-1000", "UDP/53"]
    assert specs(pieces) == ["TCP/1-1000", "UDP/53"]
    assert joined([PortRange("UDP"), PortRange("TCP", 5, 9), PortRange("TCP", 1, 4)]) == [PortRange("TCP", 1, 9), PortRange("UDP")]
