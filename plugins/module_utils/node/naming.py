# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names of our chains and ipsets, and the comments on our rules.

A chain's name is a fixed prefix, a short kind code and a hash of the object's identity (never
of its content), so the same policy always gets the same chain. A set is shared by every use of
the same member list (render.py groups them); it is named after its smallest user identity, a
code of its ipset type and its family, so a set whose users all change together keeps its name
and is swapped in place. Every name stays within the kernel's limits: 28 characters for a
chain, 31 for a set including the suffix of its temporary twin or its bridge (dataplane.py).
"""

from __future__ import annotations

import hashlib
import re

PREFIX = "KUBENET-"
TOP_CHAIN = PREFIX + "FORWARD"
ALLOW_CHAIN = PREFIX + "ALLOW"
TEMP_SUFFIX = "-T"
BRIDGE_SUFFIX = "-B"
HASH_LENGTH = 16
MAX_CHAIN_NAME = 28
MAX_SET_NAME = 31
MAX_COMMENT = 255  # xt_comment keeps 256 bytes including the final NUL
JUMP_COMMENT = "kubenet-netpol: network policies"
# A denial's NFLOG prefix is this and its pod chain's name, which names the direction and the
# isolating policies (node/denials.py keeps what each chain stands for): 48 bytes, the kernel keeps 63.
LOG_PREFIX = "kubenet-netpol denied "
MAX_LOG_PREFIX = 63

POD_CHAIN_CODES = {"ingress": "I", "egress": "E"}
DISPATCH_CHAINS = {"ingress": PREFIX + "INGRESS", "egress": PREFIX + "EGRESS"}
POLICY_CHAIN_CODES = {"ingress": "PI", "egress": "PE"}
# Kinds of set users. D: pods dispatched to a pod chain; I: the pods isolated in a direction by
# any policy; P: peer pods; N: one ipBlock; T: a clause's target pods; C and K (fail-closed mode):
# the node's pod CIDRs and the pods the plan knows.
SET_KINDS = ("D", "I", "P", "N", "T", "C", "K")
# The code in a set's name is its type's: users of any kind share a set of equal members.
SET_TYPE_CODES = {"hash:ip": "A", "hash:net": "N"}

_UNSAFE_COMMENT_CHARS = re.compile(r"[^ -~]|[\"'\\]")
_UNQUOTED = re.compile(r"^[A-Za-z0-9_-]+$")


def identity_text(*parts):
    """An identity given as strings, joined unambiguously (the text its hash and its order use)."""
    return "\x1f".join(str(part) for part in parts)


def identity_hash(*parts):
    """A short stable hash of an identity."""
    return hashlib.sha256(identity_text(*parts).encode("utf-8")).hexdigest()[:HASH_LENGTH]


def pod_chain(direction, policies):
    """The chain shared by the local pods that the same policies isolate in a direction."""
    return "%s%s-%s" % (PREFIX, POD_CHAIN_CODES[direction], identity_hash("pods", direction, *policies))


def log_prefix(chain):
    """The NFLOG prefix of the packets a pod chain denies."""
    return LOG_PREFIX + chain


def chain_of_log_prefix(prefix):
    """The pod chain a logged denial came from, or None when the prefix is not one of ours."""
    return prefix[len(LOG_PREFIX):] if prefix.startswith(LOG_PREFIX) else None


def policy_chain(policy, direction):
    """One chain per (policy, direction): ingress and egress rules never share a chain."""
    return "%s%s-%s" % (PREFIX, POLICY_CHAIN_CODES[direction], identity_hash("policy", direction, policy))


def set_name(set_type, family, kind, *identity):
    """The set of a type and family whose smallest user is (kind, *identity), e.g. KUBENET-A4-<hash>."""
    if kind not in SET_KINDS:
        raise ValueError("unknown set kind %r" % kind)
    return "%s%s%d-%s" % (PREFIX, SET_TYPE_CODES[set_type], family, identity_hash("set", kind, family, *identity))


def temp_set(name):
    """The twin a changed set is rebuilt in before the swap."""
    return name + TEMP_SUFFIX


def bridge_set(name):
    """The stand-in a changed set's new members are loaded in when rules moving on or off it change too."""
    return name + BRIDGE_SUFFIX


def is_ours(name):
    return name.startswith(PREFIX)


def is_temp_set(name):
    return is_ours(name) and name.endswith(TEMP_SUFFIX)


def comment(text):
    """A rule comment: printable ASCII without quotes or backslashes, within the kernel limit."""
    cleaned = " ".join(_UNSAFE_COMMENT_CHARS.sub(" ", text).split())
    return cleaned[:MAX_COMMENT].rstrip() or "kubenet-netpol"


def comment_match(text):
    """`-m comment --comment X` written exactly as iptables-save prints it (quoted unless plain)."""
    text = comment(text)
    return "-m comment --comment %s" % (text if _UNQUOTED.match(text) else '"%s"' % text)
