# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lookup of denials and the reader of ulogd2's JSON lines; packets written by hand as ulogd2 writes them."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.kubenet.netpol.plugins.module_utils.node import denials, naming
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import PLAN_VERSION

# x/a isolated for ingress by two policies (listed unsorted, one twice), x/b for egress by one;
# x/c is not isolated: it is only an address the reader can name.
SLICE = {"version": PLAN_VERSION, "node": "n1", "policies": [], "peer_sets": {}, "pods": [
    {"pod": "x/a", "ips": ["10.244.1.10", "fd00:1:0::a"], "ingress": ["x/p2", "x/p1", "x/p2"], "egress": []},
    {"pod": "x/b", "ips": ["10.244.1.11"], "ingress": [], "egress": ["x/out"]},
    {"pod": "x/c", "ips": ["10.244.1.12"], "ingress": [], "egress": []},
]}
A_CHAIN = naming.pod_chain("ingress", ["x/p1", "x/p2"])
B_CHAIN = naming.pod_chain("egress", ["x/out"])


def packet(chain, src, dst, protocol=6, port=8080, prefix=None):
    """A packet as ulogd2's JSON plugin writes it (the fields the reader uses, and some it does not)."""
    data = {"timestamp": "2026-12-02T10:07:22.946737", "dvc": "Netfilter", "oob.time.sec": 1796202442,
            "oob.time.usec": 946737, "oob.prefix": prefix if prefix is not None else naming.log_prefix(chain),
            "ip.protocol": protocol, "src_ip": src, "dest_ip": dst, "oob.in": "br0", "oob.out": "br0"}
    if port is not None:
        data.update({"src_port": 41766, "dest_port": port})
    return json.dumps(data)


def test_the_prefix_fits_the_kernel_and_names_the_chain():
    longest = naming.pod_chain("egress", ["n" * 63 + "/" + "p" * 253] * 9)
    assert len(naming.log_prefix(longest).encode()) <= naming.MAX_LOG_PREFIX
    assert naming.chain_of_log_prefix(naming.log_prefix(A_CHAIN)) == A_CHAIN
    assert naming.chain_of_log_prefix("IN=eth0 dropped") is None


def test_lookup_has_each_pod_chain_and_each_local_pod_address():
    assert denials.lookup(SLICE) == {
        "version": denials.LOOKUP_VERSION, "node": "n1",
        "chains": {A_CHAIN: {"direction": "ingress", "policies": ["x/p1", "x/p2"]},
                   B_CHAIN: {"direction": "egress", "policies": ["x/out"]}},
        "pods": {"10.244.1.10": "x/a", "fd00:1::a": "x/a", "10.244.1.11": "x/b", "10.244.1.12": "x/c"},
    }


def test_ingress_denial_names_the_destination_pod_and_egress_the_source():
    known = denials.lookup(SLICE)
    found, unreadable = denials.read_denials([
        packet(A_CHAIN, "10.244.1.12", "10.244.1.10"),
        packet(B_CHAIN, "10.244.1.11", "192.168.50.2", protocol=17, port=53),
        packet(A_CHAIN, "fd00:2::1", "fd00:1::a", protocol=58, port=None),
    ], known)
    assert unreadable == 0
    assert [(item["pod"], item["direction"], item["peer_ip"], item["peer_pod"], item["protocol"], item["port"],
             item["policies"]) for item in found] == [
        ("x/a", "ingress", "10.244.1.12", "x/c", "tcp", 8080, ["x/p1", "x/p2"]),
        ("x/b", "egress", "192.168.50.2", None, "udp", 53, ["x/out"]),
        ("x/a", "ingress", "fd00:2::1", None, "icmpv6", None, ["x/p1", "x/p2"]),
    ]
    assert [item["line"] for item in found] == [
        "2026-12-02T09:07:22.946737Z x/a denied ingress from 10.244.1.12 (x/c) tcp/8080: "
        "isolated by x/p1, x/p2, none allows it",
        "2026-12-02T09:07:22.946737Z x/b denied egress to 192.168.50.2 udp/53: isolated by x/out, none allows it",
        "2026-12-02T09:07:22.946737Z x/a denied ingress from fd00:2::1 icmpv6: isolated by x/p1, x/p2, none allows it",
    ]


def test_other_lines_are_left_out_or_counted_and_unknown_chains_say_so():
    known = denials.lookup(SLICE)
    gone = naming.pod_chain("egress", ["x/deleted"])
    found, unreadable = denials.read_denials([
        packet(A_CHAIN, "10.244.1.12", "10.244.1.10", prefix="someone else's rule"),
        packet(A_CHAIN, "10.244.1.12", "10.244.1.10", prefix=naming.LOG_PREFIX + "KUBENET-FORWARD"),
        packet(A_CHAIN, "10.244.1.12", "10.244.1.10", prefix="kubenet-netpol denied ingress"),  # version 1.0 rules
        '{"oob.prefix": "kubenet-netpol denied KUBENET-I-0123", "src_ip"',  # a line being written
        "[1, 2]", "", "  ",
        packet(gone, "10.244.1.11", "10.244.1.10"),
    ], known)
    assert unreadable == 2
    assert [(item["pod"], item["direction"], item["policies"]) for item in found] == [("x/b", "egress", None)]
    assert found[0]["line"].endswith("tcp/8080: chain %s is not in this node's lookup (made by another run)" % gone)


def test_the_last_ones_of_a_namespace():
    known = denials.lookup(dict(SLICE, pods=SLICE["pods"] + [
        {"pod": "y/d", "ips": ["10.244.1.20"], "ingress": ["y/deny"], "egress": []}]))
    d_chain = naming.pod_chain("ingress", ["y/deny"])
    lines = [packet(A_CHAIN, "10.244.1.12", "10.244.1.10", port=port) for port in (1, 2, 3)]
    lines.insert(1, packet(d_chain, "10.244.1.12", "10.244.1.20", port=4))
    assert [item["port"] for item in denials.read_denials(lines, known)[0]] == [1, 4, 2, 3]
    assert [item["port"] for item in denials.read_denials(lines, known, last=2)[0]] == [2, 3]
    assert [item["port"] for item in denials.read_denials(lines, known, namespace="y")[0]] == [4]
    assert [item["port"] for item in denials.read_denials(lines, known, last=1, namespace="x")[0]] == [3]
    assert denials.read_denials(lines, known, namespace="x-other")[0] == []


def test_lookup_is_written_only_when_it_changes_and_removed_when_logging_stops(tmp_path):
    state_dir = str(tmp_path)
    path = os.path.join(state_dir, denials.LOOKUP_FILE)
    wanted = denials.lookup(SLICE)
    assert denials.load_lookup(state_dir) is None
    assert denials.keep_lookup(state_dir, wanted, check_mode=True) and not os.path.exists(path)
    assert denials.keep_lookup(state_dir, wanted)
    assert denials.load_lookup(state_dir) == wanted
    written = os.stat(path).st_mtime_ns
    assert not denials.keep_lookup(state_dir, denials.lookup(SLICE))
    assert os.stat(path).st_mtime_ns == written
    assert os.listdir(state_dir) == [denials.LOOKUP_FILE]  # no partial file left behind
    assert denials.keep_lookup(state_dir, None, check_mode=True) and os.path.exists(path)
    assert denials.keep_lookup(state_dir, None) and not os.path.exists(path)
    assert not denials.keep_lookup(state_dir, None)


@pytest.mark.parametrize("text", ["{", "not json"])
def test_a_broken_lookup_is_an_error_not_an_empty_one(tmp_path, text):
    (tmp_path / denials.LOOKUP_FILE).write_text(text, encoding="utf-8")
    with pytest.raises(ValueError):
        denials.load_lookup(str(tmp_path))
