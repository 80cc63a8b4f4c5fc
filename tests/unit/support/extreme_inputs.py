# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Extreme but valid input, and what rendered output may contain, for the extreme-input tests.

Names and labels at the maximum lengths the API server allows, made of every character it
allows (Kubernetes 1.34: DNS-1123 labels of 63 for namespaces, subdomains of 253 for object
names, label keys of a 253-character prefix and a 63-character name, values of 63), given as API
objects so they go through the real pipeline: validation, facts, plan, slice, render.

The other half says what rendered text may hold: `foreign_tokens` returns every token of a rule
that is neither one of our options and fixed words, nor one of our names, numbers or addresses,
so a manifest string that escaped a comment shows up.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
import string

from hypothesis import strategies as st

from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.sources import load_sources
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.planner import build_plan
from ansible_collections.kubenet.netpol.plugins.module_utils.node import naming
from ansible_collections.kubenet.netpol.plugins.module_utils.node.render import RenderOptions, render
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.slicing import node_slice

DNS_LABEL_CHARS = string.ascii_lowercase + string.digits + "-"
NAME_PART_CHARS = string.ascii_letters + string.digits + "-_."
PORT_NAME_CHARS = string.ascii_lowercase + string.digits + "-"
MAX_LABEL = 63
MAX_SUBDOMAIN = 253
MAX_PORT_NAME = 15
# The kernel's limits, stated here independently of naming.py: XT_EXTENSION_MAXNAMELEN (29) and
# IPSET_MAXNAMELEN (32) include the final NUL, and so does xt_comment's 256 bytes.
KERNEL_CHAIN_NAME = 28
KERNEL_SET_NAME = 31
KERNEL_COMMENT = 255


def spread(chars, length, first, last):
    """A string of `length` starting with `first`, ending with `last`, cycling through `chars` between."""
    middle = (chars * (length // len(chars) + 1))[:length - 2]
    return first + middle + last


def subdomain(length, offset=0):
    """A DNS-1123 subdomain of `length` made of 63-character labels (the last one shorter), each
    holding every allowed character (`length` must not leave an empty last label)."""
    labels = []
    while sum(map(len, labels)) + len(labels) < length:
        size = min(MAX_LABEL, length - sum(map(len, labels)) - len(labels))
        rotated = DNS_LABEL_CHARS[offset:] + DNS_LABEL_CHARS[:offset]
        labels.append(spread(rotated, size, "z", str(len(labels))))
        offset = (offset + 7) % len(DNS_LABEL_CHARS)
    return ".".join(labels)


# Fixed extremes: each at its maximum length, together holding every character the API allows.
LONG_NAMESPACE = spread(DNS_LABEL_CHARS, MAX_LABEL, "a", "9")
LONG_NAMESPACE_2 = spread(DNS_LABEL_CHARS[::-1], MAX_LABEL, "b", "0")
LONG_POLICY_NAME = subdomain(MAX_SUBDOMAIN)
LONG_KEY = subdomain(MAX_SUBDOMAIN, 3) + "/" + spread(NAME_PART_CHARS, MAX_LABEL, "A", "z")
LONG_VALUE = spread(NAME_PART_CHARS[::-1], MAX_LABEL, "Z", "a")
LONG_PORT_NAME = "a-0-b-1-c-2-de9"


# Strategies: the same grammars, lengths biased to the maximum.

def _length(maximum, minimum=1):
    return st.one_of(st.just(maximum), st.integers(minimum, maximum))


@st.composite
def dns_labels_of(draw, length):
    alnum = st.sampled_from(string.ascii_lowercase + string.digits)
    if length == 1:
        return draw(alnum)
    return draw(alnum) + draw(st.text(DNS_LABEL_CHARS, min_size=length - 2, max_size=length - 2)) + draw(alnum)


def dns_labels():
    return _length(MAX_LABEL).flatmap(dns_labels_of)


@st.composite
def dns_subdomains(draw):
    """Dot-separated DNS labels of 1-63 characters, exactly a drawn length (up to 253) in all."""
    remaining = draw(_length(MAX_SUBDOMAIN))
    labels = []
    while remaining > 0:
        size = remaining if remaining <= MAX_LABEL else draw(st.integers(1, min(MAX_LABEL, remaining - 2)))
        labels.append(draw(dns_labels_of(size)))
        remaining -= size + 1
    return ".".join(labels)


@st.composite
def name_parts(draw, minimum=1):
    """A label value ('' when minimum is 0) or the name part of a label key."""
    length = draw(_length(MAX_LABEL, minimum))
    if length == 0:
        return ""
    alnum = st.sampled_from(string.ascii_letters + string.digits)
    if length == 1:
        return draw(alnum)
    return draw(alnum) + draw(st.text(NAME_PART_CHARS, min_size=length - 2, max_size=length - 2)) + draw(alnum)


@st.composite
def label_keys(draw):
    prefix = draw(st.one_of(st.just(""), dns_subdomains()))
    return (prefix + "/" if prefix else "") + draw(name_parts())


def label_values():
    return name_parts(minimum=0)


@st.composite
def port_names(draw):
    """IANA service names: 1-15 of [a-z0-9-], a letter somewhere, no '--', no '-' at either end."""
    length = draw(_length(MAX_PORT_NAME))
    letter = draw(st.sampled_from(string.ascii_lowercase))
    if length == 1:
        return letter
    text = draw(st.text(PORT_NAME_CHARS, min_size=length - 1, max_size=length - 1)) + letter
    text = re.sub("-+", "-", text).strip("-") or letter
    return text if re.search("[a-z]", text) else text[:-1] + letter


def twin_value(value):
    """A label value that differs from `value` in exactly one character (or one added), still valid."""
    if not value:
        return "x"
    last = value[-1]
    return value[:-1] + ("0" if last != "0" else "1")


# API objects.

def namespace_object(name, labels=None):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": dict(labels or {})}}


def pod_object(namespace, name, labels, node, ips, ports=()):
    """A running pod; `ports` are (name, number, protocol) of one container."""
    container = {"name": "c", "ports": [{"name": port, "containerPort": number, "protocol": protocol}
                                        for port, number, protocol in ports]}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
            "spec": {"nodeName": node, "containers": [container]},
            "status": {"phase": "Running", "podIPs": [{"ip": ip} for ip in ips]}}


def node_object(name, addresses):
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"addresses": [{"type": "InternalIP", "address": address} for address in addresses]}}


def policy_object(namespace, name, spec):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def node_plan(cluster, policies, node):
    """API objects through the real pipeline (validation, facts, plan) to one node's slice."""
    facts, loaded = load_sources(policy_objects=policies, cluster=cluster, strict=True)
    return node_slice(build_plan(facts, loaded), node)


def desired_state(cluster, policies, node, families=(4, 6)):
    return render(node_plan(cluster, policies, node), RenderOptions(families=families))


# What a rendered rule may hold outside its comment.

OPTIONS = frozenset((
    "-p", "-m", "-j", "-g", "!", "--match-set", "--comment", "--ctstate", "--mark", "--set-xmark", "--dport",
    "--dports", "--icmpv6-type", "--reject-with", "--limit", "--nflog-prefix", "--nflog-group"))
WORDS = frozenset((
    "set", "comment", "conntrack", "mark", "connmark", "multiport", "limit", "icmp6", "tcp", "udp", "sctp",
    "ipv6-icmp", "src", "dst", "RETURN", "DROP", "REJECT", "MARK", "NFLOG", "INVALID", "RELATED,ESTABLISHED",
    "icmp-port-unreachable", "icmp6-port-unreachable", "10/min"))
# Ours: the two fixed chains, or a kind code (and family), a hash, and a twin's suffix.
OUR_NAME = r"%s(?:FORWARD|ALLOW|[A-Z]{1,2}[46]?-[0-9a-f]{%d}(?:-[A-Z])?)" % (re.escape(naming.PREFIX), naming.HASH_LENGTH)
_OUR_NAME = re.compile(OUR_NAME)
_NUMBERS = re.compile(r"[0-9]+([:,][0-9]+)*|0x[0-9a-f]+(/0x[0-9a-f]+)?")
_FIXED_TEXT = frozenset(("kubenet-netpol denied ingress", "kubenet-netpol denied egress"))


def comment_of(tokens):
    """The comment of a tokenised rule, or None."""
    for index, token in enumerate(tokens[:-1]):
        if token == "--comment":
            return tokens[index + 1]
    return None


def without_comment(tokens):
    """The tokens with the comment's text left out."""
    kept = []
    skip = False
    for token in tokens:
        if not skip:
            kept.append(token)
        skip = token == "--comment"
    return kept


def is_address(text):
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def foreign_tokens(spec):
    """The tokens of a rule outside its comment that are not ours: options, fixed words, our names, numbers."""
    return [token for token in without_comment(shlex.split(spec))
            if token not in OPTIONS and token not in WORDS and token not in _FIXED_TEXT
            and not _OUR_NAME.fullmatch(token) and not _NUMBERS.fullmatch(token) and not is_address(token)]


# The large case: node n1 holds a namespace of 5,000 pods (IPv4-only, IPv6-only and dual-stack)
# isolated by one policy whose one ingress rule lists 1,000 peers, on a named port. Five of the
# pods are real in the integration test (addresses on one bridge); the rest only fill the sets.
BIG_NAMESPACE = LONG_NAMESPACE
OTHER_NAMESPACE = LONG_NAMESPACE_2
BULK_PODS = 5000
PEERS = 1000
SERVED_PORT = 8080
OTHER_PORT = 8081
NODE_ADDRESSES = ("10.10.0.1", "fd00:10::1")
# name: (namespace, labels, addresses). t (dual-stack) and s6 (IPv6-only) are isolated by the policy
# and serve; f, b and x only connect.
REAL_PODS = {
    "t": (BIG_NAMESPACE, {LONG_KEY: LONG_VALUE}, ("10.244.1.10", "fd00:1::10")),
    "s6": (BIG_NAMESPACE, {LONG_KEY: LONG_VALUE}, ("fd00:1::21",)),
    "f": (OTHER_NAMESPACE, {"app": "friend"}, ("10.244.1.22", "fd00:1::22")),
    "b": (OTHER_NAMESPACE, {"app": "stranger"}, ("10.244.1.30", "fd00:1::30")),
    "x": (OTHER_NAMESPACE, {"app": "friend1", LONG_KEY: LONG_VALUE}, ("10.244.1.31", "fd00:1::31")),
}
SERVERS = ("t", "s6")
# From the policy, by hand: t and s6 are pods with the label in a namespace with the label (peer 0);
# f has app=friend in a namespace whose label is the twin value (peer 1); b is inside the ipBlocks
# of peers 777 and 778; x is in their excepts, and neither selector peer takes it (app=friend1 is
# not friend; its namespace's value is the twin). Only the named port's 8080, in either family.
EXPECTED = {  # (source, target, family, port): allowed
    ("s6", "t", 6, SERVED_PORT): True, ("f", "t", 4, SERVED_PORT): True, ("f", "t", 6, SERVED_PORT): True,
    ("b", "t", 4, SERVED_PORT): True, ("b", "t", 6, SERVED_PORT): True, ("x", "t", 4, SERVED_PORT): False,
    ("x", "t", 6, SERVED_PORT): False, ("f", "t", 4, OTHER_PORT): False, ("s6", "t", 6, OTHER_PORT): False,
    ("t", "s6", 6, SERVED_PORT): True, ("f", "s6", 6, SERVED_PORT): True, ("b", "s6", 6, SERVED_PORT): True,
    ("x", "s6", 6, SERVED_PORT): False, ("f", "s6", 6, OTHER_PORT): False,
}


def address_of(name, family):
    """A real pod's address of a family."""
    return next(ip for ip in REAL_PODS[name][2] if (":" in ip) == (family == 6))


def pod_name(number):
    """A 253-character pod name."""
    return subdomain(MAX_SUBDOMAIN - 5, number % 37) + "-%04d" % number


def bulk_addresses(number):
    """Dual-stack, IPv4-only and IPv6-only in turn, outside the real pods' subnet."""
    ipv4, ipv6 = "10.245.%d.%d" % (number // 250, number % 250 + 1), "fd00:245::%x" % (number + 1)
    return ((ipv4, ipv6), (ipv4,), (ipv6,))[number % 3]


def peer_block(number):
    """Peers 2..999: distinct ipBlocks, IPv4 and IPv6 in turn; 777 and 778 hold b and except x."""
    if number == 777:
        return {"cidr": "10.244.1.30/31", "except": ["10.244.1.31/32"]}
    if number == 778:
        return {"cidr": "fd00:1::30/127", "except": ["fd00:1::31/128"]}
    if number % 2:
        return {"cidr": "fd00:99:%x::/48" % number, "except": ["fd00:99:%x:1::/64" % number]}
    return {"cidr": "10.%d.%d.0/24" % (100 + number // 256, number % 256)}


def big_case():
    """(cluster objects, policy objects) of the large case."""
    named_port = ((LONG_PORT_NAME, SERVED_PORT, "TCP"),)
    pods = [pod_object(namespace, name, labels, "n1", ips, named_port)
            for name, (namespace, labels, ips) in REAL_PODS.items()]
    pods += [pod_object(BIG_NAMESPACE, pod_name(number), {LONG_KEY: LONG_VALUE, "app": "bulk"}, "n1",
                        bulk_addresses(number), named_port) for number in range(BULK_PODS)]
    cluster = {
        "namespaces": [namespace_object(BIG_NAMESPACE, {LONG_KEY: LONG_VALUE}),
                       namespace_object(OTHER_NAMESPACE, {LONG_KEY: twin_value(LONG_VALUE)})],
        "pods": pods,
        "nodes": [node_object("n1", NODE_ADDRESSES)],
    }
    peers = [{"namespaceSelector": {"matchLabels": {LONG_KEY: LONG_VALUE}},
              "podSelector": {"matchExpressions": [{"key": LONG_KEY, "operator": "In", "values": [LONG_VALUE]}]}},
             {"namespaceSelector": {"matchExpressions": [{"key": LONG_KEY, "operator": "In",
                                                          "values": [twin_value(LONG_VALUE)]}]},
              "podSelector": {"matchLabels": {"app": "friend"}}}]
    peers += [{"ipBlock": peer_block(number)} for number in range(2, PEERS)]
    policy = policy_object(BIG_NAMESPACE, LONG_POLICY_NAME, {
        "podSelector": {"matchLabels": {LONG_KEY: LONG_VALUE}}, "policyTypes": ["Ingress"],
        "ingress": [{"from": peers, "ports": [{"port": LONG_PORT_NAME}]}]})
    return cluster, [policy]
