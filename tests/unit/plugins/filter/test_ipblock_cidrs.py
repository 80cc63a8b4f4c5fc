# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ipblock_cidrs: every expected list below is worked out by hand, bit by bit."""

from __future__ import annotations

import sys

import pytest

from ansible.errors import AnsibleError, AnsibleFilterError

from ansible_collections.kubenet.netpol.plugins.filter.ipblock_cidrs import FilterModule, ipblock_cidrs


@pytest.mark.parametrize("ipblock, expected", [
    # The API documentation's example: a /16 minus its second /24 leaves one /24, then
    # halves of growing size up to the top /17.
    ({"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]},
     ["172.17.0.0/24", "172.17.2.0/23", "172.17.4.0/22", "172.17.8.0/21",
      "172.17.16.0/20", "172.17.32.0/19", "172.17.64.0/18", "172.17.128.0/17"]),
    # No except: the block itself, host bits cleared.
    ({"cidr": "10.0.0.7/24"}, ["10.0.0.0/24"]),
    ({"cidr": "10.0.0.0/24", "except": []}, ["10.0.0.0/24"]),
    # First and last quarter removed: .64-.191 is not one aligned /25, so two /26 remain.
    ({"cidr": "10.0.0.0/24", "except": ["10.0.0.0/26", "10.0.0.192/26"]}, ["10.0.0.64/26", "10.0.0.128/26"]),
    # Overlapping excepts: the /24 lies inside the /17 and removes nothing more.
    ({"cidr": "10.0.0.0/16", "except": ["10.0.0.0/17", "10.0.1.0/24"]}, ["10.0.128.0/17"]),
    # Two halves removed: nothing is left.
    ({"cidr": "10.0.0.0/24", "except": ["10.0.0.0/25", "10.0.0.128/25"]}, []),
    # A /30 holds .0-.3; without .2 it is .0-.1 (a /31) and .3 alone.
    ({"cidr": "192.168.0.0/30", "except": ["192.168.0.2/32"]}, ["192.168.0.0/31", "192.168.0.3/32"]),
    # IPv6: the first quarter of a /32 removed leaves the second quarter and the upper half.
    ({"cidr": "2001:db8::/32", "except": ["2001:db8::/34"]}, ["2001:db8:4000::/34", "2001:db8:8000::/33"]),
    # IPv6 written long comes back compressed.
    ({"cidr": "2001:0db8:0000:0000::/48"}, ["2001:db8::/48"]),
])
def test_cidrs_cover_exactly_the_block_minus_its_excepts(ipblock, expected):
    assert ipblock_cidrs(ipblock) == expected


@pytest.mark.parametrize("ipblock, field", [
    ({"cidr": "172.17.0.0/16", "except": ["172.18.1.0/24"]}, "except[0]"),
    ({"cidr": "172.17.0.0/16", "except": ["172.17.0.0/16"]}, "except[0]"),
    ({"cidr": "10.0.0.0/8", "except": ["2001:db8::/64"]}, "except[0]"),
    ({"cidr": "10.0.0.300/8"}, "cidr"),
    ({"cidr": "10.0.0.0"}, "cidr"),
    ({"except": ["10.0.0.0/24"]}, "cidr"),
    ({"cidr": "10.0.0.0/8", "excpet": ["10.0.0.0/24"]}, "excpet"),
])
def test_an_invalid_block_is_refused_naming_the_field(ipblock, field):
    with pytest.raises(AnsibleFilterError, match=r"ipblock: %s: " % field.replace("[", r"\[").replace("]", r"\]")):
        ipblock_cidrs(ipblock)


def test_a_block_that_is_no_mapping_is_refused():
    with pytest.raises(AnsibleFilterError, match="invalid ipBlock"):
        ipblock_cidrs("10.0.0.0/8")


def test_missing_netaddr_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "netaddr", None)  # as if it were not installed
    with pytest.raises(AnsibleError, match="netaddr"):
        ipblock_cidrs({"cidr": "10.0.0.0/8"})


def test_the_plugin_registers_the_filter():
    assert FilterModule().filters() == {"ipblock_cidrs": ipblock_cidrs}
