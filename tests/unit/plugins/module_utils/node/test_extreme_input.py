# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Extreme input on the node (issue #13 point 6): names, keys and values at their maximum lengths
and made of every character the API allows, a policy with 1,000 peers, a namespace with 5,000
pods, IPv6-only and dual-stack pods, through the real pipeline (API objects -> validation ->
facts -> plan -> slice -> render -> converge payloads).

What must hold: chain and set names within the kernel's limits, comments printable and within
255 bytes, every rule made only of our options, names, numbers and addresses (the interpreter in
tests/unit/support/netfilter_model.py reads them all and raises on anything else), no manifest
string outside a comment, restore payloads made only of our lines. Expected verdicts are reasoned
from the policies by hand. A plan made by hand with hostile strings (newlines, quotes, `-j`,
COMMIT) renders them, if at all, inside a sanitised comment only.
"""

from __future__ import annotations

import ipaddress
import re
import shlex

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import METADATA_NAME_LABEL
from ansible_collections.kubenet.netpol.plugins.module_utils.node import naming
from ansible_collections.kubenet.netpol.plugins.module_utils.node.dataplane import LiveState, LiveTable, plan_present
from ansible_collections.kubenet.netpol.plugins.module_utils.node.render import render
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import PLAN_VERSION, PlanError
from extreme_inputs import (
    BULK_PODS, EXPECTED, KERNEL_CHAIN_NAME, KERNEL_COMMENT, KERNEL_SET_NAME, LONG_KEY, LONG_NAMESPACE,
    LONG_NAMESPACE_2, LONG_POLICY_NAME, LONG_PORT_NAME, LONG_VALUE, OUR_NAME, REAL_PODS, SERVED_PORT, address_of,
    big_case, bulk_addresses, comment_of, desired_state, dns_labels, dns_subdomains, foreign_tokens, label_keys,
    label_values, namespace_object, node_object, pod_name, pod_object, policy_object, port_names, twin_value,
    without_comment)
from netfilter_model import PASS, forward_trace, forward_verdict

SETTINGS = settings(max_examples=40, deadline=None)
# A manifest string this long cannot be part of our own words or of a 16-digit hash by chance.
SEARCHED_LENGTH = 17
_CREATE = re.compile(r"create (%s) (hash:ip|hash:net) family (inet|inet6)( maxelem [0-9]+)?" % OUR_NAME)
_ADD = re.compile(r"add (%s) ([0-9a-f.:]+(/[0-9]+)?)( nomatch)?" % OUR_NAME)
_DECLARE = re.compile(r":(%s) - \[0:0\]" % OUR_NAME)
_APPEND = re.compile(r"-A (%s) (.+)" % OUR_NAME)
_JUMP = re.compile(r"-I FORWARD 1 (.+)")


def all_rules(desired):
    """(family, chain, rule spec) of every rule, the FORWARD jump included."""
    for table in desired.tables:
        yield table.family, "FORWARD", table.jump
        for chain, rules in table.chains:
            for spec in rules:
                yield table.family, chain, spec


def first_payloads(desired):
    """What a first converge on an empty node writes: the ipset payload and the table payloads."""
    families = tuple(table.family for table in desired.tables)
    live = LiveState({family: LiveTable(family) for family in families}, {}, frozenset())
    changes = plan_present(desired, live, families)
    return changes.set_lines, changes.table_lines


def check_names(desired):
    for table in desired.tables:
        for chain, _rules in table.chains:
            assert naming.is_ours(chain) and len(chain) <= KERNEL_CHAIN_NAME, chain
    for ipset in desired.sets:
        assert naming.is_ours(ipset.name) and len(naming.temp_set(ipset.name)) <= KERNEL_SET_NAME, ipset.name


def check_rules(desired, strings):
    """Comments printable and short, nothing foreign outside them, every rule read by the interpreter."""
    searched = sorted({text for text in strings if len(text) >= SEARCHED_LENGTH})
    for family, chain, spec in all_rules(desired):
        assert spec.isprintable() and spec.isascii(), (chain, spec)
        tokens = shlex.split(spec)
        text = comment_of(tokens)
        if text is not None:
            assert text.isprintable() and text.isascii() and not set(text) & set("\"'\\"), text
            assert 0 < len(text.encode()) <= KERNEL_COMMENT, text
            assert tokens.count("--comment") == 1, spec
        assert foreign_tokens(spec) == [], (family, chain, spec)
        outside = " ".join(without_comment(tokens))
        assert [found for found in searched if found in outside] == [], (chain, spec)
    for table in desired.tables:  # the interpreter reads the whole table first: an unknown token raises
        source, destination = ("10.0.0.1", "10.0.0.2") if table.family == 4 else ("fd00::1", "fd00::2")
        forward_verdict(desired, source, destination, "TCP", 1)


def check_payloads(desired):
    """The ipset payload holds exactly a create line per set and an add line per member; each table
    payload is one transaction of our declarations, our rules and the jump."""
    set_lines, table_lines = first_payloads(desired)
    created = {}
    added = []
    for line in set_lines:
        create, add = _CREATE.fullmatch(line), _ADD.fullmatch(line)
        assert create or add, line
        if create:
            assert create.group(1) not in created, line
            created[create.group(1)] = create.group(2)
        else:
            assert add.group(1) in created, line
            added.append((add.group(1), line[len("add %s " % add.group(1)):]))
    assert sorted(created.items()) == sorted((ipset.name, ipset.type) for ipset in desired.sets)
    assert sorted(added) == sorted((ipset.name, member) for ipset in desired.sets for member in ipset.members)
    for table in desired.tables:
        lines = table_lines[table.family]
        assert lines[0] == "*filter" and lines[-1] == "COMMIT" and lines.count("COMMIT") == 1
        body = lines[1:-1]
        declared = [match.group(1) for match in map(_DECLARE.fullmatch, body) if match]
        appended = [(match.group(1), match.group(2)) for match in map(_APPEND.fullmatch, body) if match]
        jumps = [match.group(1) for match in map(_JUMP.fullmatch, body) if match]
        assert len(declared) + len(appended) + len(jumps) == len(body), body
        assert sorted(declared) == sorted(name for name, _rules in table.chains)
        assert appended == [(name, spec) for name, rules in table.chains for spec in rules]
        assert jumps == [table.jump]


def check_all(desired, strings):
    """Every check of the output, `strings` being the input's names, keys and values."""
    check_names(desired)
    check_rules(desired, strings)
    check_payloads(desired)


# Generated clusters: every name, key and value drawn from the API's grammar at up to its limits.

LAYOUTS = ("dual", "ipv4", "ipv6")
# Each pod's addresses, written the long way where a form allows it (the plan must canonicalise).
ADDRESSES = {"t": ("10.244.1.10", "FD00:1:0:0:0:0:0:A"), "f": ("10.244.2.20", "fd00:2::14"),
             "w": ("10.244.2.21", "fd00:2:0::15")}


def addresses(pod, layout):
    ipv4, ipv6 = ADDRESSES[pod]
    return {"dual": (ipv4, ipv6), "ipv4": (ipv4,), "ipv6": (ipv6,)}[layout]


def families_of(layout):
    return {"dual": {4, 6}, "ipv4": {4}, "ipv6": {6}}[layout]


def canonical(pod, family):
    """The address of a family as the kernel prints it."""
    return str(ipaddress.ip_address(ADDRESSES[pod][0 if family == 4 else 1]))


def keys():
    return label_keys().filter(lambda key: key != METADATA_NAME_LABEL)


@st.composite
def extreme_cases(draw):
    """Target t in namespace a (isolated by policy `name`), friend f and its twin w in namespace b.
    The policy allows, on its named port, pods of namespaces labelled key_ns=value_ns whose key_f is
    value_f: f is one; w's value differs in one character, and a's namespace label is the twin."""
    ns_a, ns_b = draw(st.lists(dns_labels(), min_size=2, max_size=2, unique=True))
    pod_names = draw(st.lists(dns_subdomains(), min_size=3, max_size=3, unique=True))
    key_t, key_f, key_ns = draw(keys()), draw(keys()), draw(keys())
    value_t, value_f, value_ns = draw(label_values()), draw(label_values()), draw(label_values())
    name = draw(dns_subdomains())
    port = draw(port_names())
    layout = {pod: draw(st.sampled_from(LAYOUTS)) for pod in ("t", "f", "w")}
    return dict(ns_a=ns_a, ns_b=ns_b, pod_names=pod_names, key_t=key_t, key_f=key_f, key_ns=key_ns, value_t=value_t,
                value_f=value_f, value_ns=value_ns, name=name, port=port, layout=layout,
                remote=draw(st.booleans()), cidr_prefix=draw(st.integers(0, 32)), end_port=draw(st.integers(1, 65535)))


def case_objects(case):
    """The cluster and policy objects of a drawn case."""
    named_port = ((case["port"], SERVED_PORT, "TCP"),)
    remote = "n2" if case["remote"] else "n1"
    t_name, f_name, w_name = case["pod_names"]
    cluster = {
        "namespaces": [namespace_object(case["ns_a"], {case["key_ns"]: twin_value(case["value_ns"])}),
                       namespace_object(case["ns_b"], {case["key_ns"]: case["value_ns"]})],
        "pods": [pod_object(case["ns_a"], t_name, {case["key_t"]: case["value_t"]}, "n1",
                            addresses("t", case["layout"]["t"]), named_port),
                 pod_object(case["ns_b"], f_name, {case["key_f"]: case["value_f"]}, remote,
                            addresses("f", case["layout"]["f"]), named_port),
                 pod_object(case["ns_b"], w_name, {case["key_f"]: twin_value(case["value_f"])}, remote,
                            addresses("w", case["layout"]["w"]), named_port)],
        "nodes": [node_object("n1", ("10.10.0.1", "fd00:10::1")), node_object("n2", ("10.10.0.2",))],
    }
    ipv4_prefix, ipv6_prefix = max(case["cidr_prefix"], 24), min(32 + 3 * case["cidr_prefix"], 127)
    spec = {
        "podSelector": {"matchLabels": {case["key_t"]: case["value_t"]}},
        "policyTypes": ["Ingress"],
        "ingress": [
            {"from": [{"namespaceSelector": {"matchLabels": {case["key_ns"]: case["value_ns"]}},
                       "podSelector": {"matchExpressions": [{"key": case["key_f"], "operator": "In",
                                                             "values": [case["value_f"]]}]}}],
             "ports": [{"port": case["port"]}]},
            # Documentation ranges only: no pod's address is in them.
            {"from": [{"ipBlock": {"cidr": "192.0.2.0/%d" % ipv4_prefix}},
                      {"ipBlock": {"cidr": "2001:db8::/%d" % ipv6_prefix, "except": ["2001:db8::/%d" % (ipv6_prefix + 1)]}}],
             "ports": [{"port": 1, "endPort": case["end_port"]}, {"protocol": "UDP", "port": case["end_port"]}]},
        ],
    }
    return cluster, [policy_object(case["ns_a"], case["name"], spec)]


def manifest_strings(case):
    return [case[key] for key in ("ns_a", "ns_b", "key_t", "key_f", "key_ns", "value_t", "value_f", "value_ns",
                                  "name", "port")] + list(case["pod_names"])


MAXIMAL_CASE = dict(ns_a=LONG_NAMESPACE, ns_b=LONG_NAMESPACE_2, pod_names=[pod_name(number) for number in range(3)],
                    key_t=LONG_KEY, key_f=LONG_KEY.split("/")[1], key_ns=LONG_KEY, value_t=LONG_VALUE,
                    value_f=LONG_VALUE, value_ns="", name=LONG_POLICY_NAME, port=LONG_PORT_NAME,
                    layout={"t": "dual", "f": "dual", "w": "dual"}, remote=False, cidr_prefix=32, end_port=65535)


@SETTINGS
@given(extreme_cases())
@example(MAXIMAL_CASE)
def test_extreme_names_and_labels_render_only_our_text(case):
    cluster, policies = case_objects(case)
    desired = desired_state(cluster, policies, "n1")
    check_all(desired, manifest_strings(case))
    # By hand: f reaches t on the named port in every family both have; w (one character off) and
    # any other port never; the ipBlocks hold no pod address.
    for family in families_of(case["layout"]["t"]) & families_of(case["layout"]["f"]):
        assert forward_verdict(desired, canonical("f", family), canonical("t", family), "TCP", SERVED_PORT) == PASS
        assert forward_verdict(desired, canonical("f", family), canonical("t", family), "TCP", SERVED_PORT + 1) != PASS
    for family in families_of(case["layout"]["t"]) & families_of(case["layout"]["w"]):
        assert forward_verdict(desired, canonical("w", family), canonical("t", family), "TCP", SERVED_PORT) != PASS


# The large case: 1,000 peers, 5,000 pods, IPv6-only and dual-stack pods.

@pytest.fixture(scope="module")
def big_desired():
    cluster, policies = big_case()
    return desired_state(cluster, policies, "n1")


def test_large_case_renders_only_our_text(big_desired):
    cluster, _policies = big_case()
    strings = [LONG_NAMESPACE, LONG_NAMESPACE_2, LONG_POLICY_NAME, LONG_KEY, LONG_VALUE, LONG_PORT_NAME]
    strings += [pod["metadata"]["name"] for pod in cluster["pods"][:50]]
    check_all(big_desired, strings)


def dispatch_members(desired, family):
    """The members of the set through which packets to the namespace's pods enter their pod chain."""
    table = next(table for table in desired.tables if table.family == family)
    dispatch = [spec for spec in table.chain_map[naming.TOP_CHAIN] if "--match-set" in shlex.split(spec)]
    assert len(dispatch) == 1, dispatch
    tokens = shlex.split(dispatch[0])
    name = tokens[tokens.index("--match-set") + 1]
    return next(ipset.members for ipset in desired.sets if ipset.name == name)


def test_large_case_isolates_every_pod_of_the_namespace(big_desired):
    """Every pod of the 5,000 (and t and s6) is dispatched, in each family it has an address of."""
    for family in (4, 6):
        expected = {address for number in range(BULK_PODS) for address in bulk_addresses(number)
                    if (":" in address) == (family == 6)}
        expected |= {address for name in ("t", "s6") for address in REAL_PODS[name][2]
                     if (":" in address) == (family == 6)}
        assert set(dispatch_members(big_desired, family)) == expected
    # 3,334 pods have an IPv4 address and 3,333 an IPv6 one; t has both, s6 IPv6 only.
    assert (len(dispatch_members(big_desired, 4)), len(dispatch_members(big_desired, 6))) == (3335, 3335)


@pytest.mark.parametrize("source, target, family, port", sorted(EXPECTED))
def test_large_case_verdicts_reasoned_by_hand(big_desired, source, target, family, port):
    verdict, trace = forward_trace(big_desired, address_of(source, family), address_of(target, family), "TCP", port)
    assert (verdict == PASS) is EXPECTED[(source, target, family, port)], trace


def test_large_case_bulk_pods_are_isolated_too(big_desired):
    """An IPv6-only pod of the 5,000: b (ipBlock peer) may reach it on 8080, x may not."""
    ipv6_only = bulk_addresses(2)[0]
    assert ":" in ipv6_only and len(bulk_addresses(2)) == 1
    assert forward_verdict(big_desired, "fd00:1::30", ipv6_only, "TCP", SERVED_PORT) == PASS
    assert forward_verdict(big_desired, "fd00:1::31", ipv6_only, "TCP", SERVED_PORT) != PASS
    assert forward_verdict(big_desired, "fd00:1::30", ipv6_only, "TCP", SERVED_PORT + 1) != PASS


# Plans made by hand: whatever strings they hold, rules and payloads stay ours.

def hostile_plan(policy_key, pod_key, set_id):
    pod = {"pod": pod_key, "ips": ["10.244.1.10", "fd00:1::a"], "ingress": [policy_key], "egress": [policy_key]}
    clause = {"peers": {"pod_set": set_id, "ip_blocks": [{"cidr": "192.0.2.0/24", "except": []}]},
              "ports": [{"protocol": "TCP", "port": 80, "end_port": 80}], "targets": [pod_key]}
    policies = [{"policy": policy_key, "direction": direction, "targets": [pod_key],
                 "rules": [{"index": 0, "clauses": [clause]}]} for direction in ("ingress", "egress")]
    return {"version": PLAN_VERSION, "node": "n1", "pods": [pod], "policies": policies,
            "peer_sets": {set_id: ["10.244.2.20", "fd00:2::14"]}}


HOSTILE = ('x/a" -j ACCEPT\nCOMMIT\n*filter\n-A FORWARD -j ACCEPT #', "x/a' -- -j DROP \\\" \r\n\t\x00 \u2028 \u00e9",
           "create KUBENET-X hash:ip\nadd KUBENET-X 0.0.0.0/0", "-j", "--comment", "\"\"", "x" * 400)


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.sampled_from(HOSTILE), st.text(min_size=1, max_size=300)),
       st.one_of(st.sampled_from(HOSTILE), st.text(min_size=1)), st.one_of(st.sampled_from(HOSTILE), st.text(min_size=1)))
def test_hostile_strings_in_a_plan_stay_inside_comments(policy_key, pod_key, set_id):
    desired = render(hostile_plan(policy_key, pod_key, set_id))
    check_all(desired, [policy_key, pod_key, set_id])


@pytest.mark.parametrize("where, value", [
    ("ip", "10.244.1.10\n-A FORWARD -j ACCEPT"), ("ip", "10.244.1.10 nomatch"), ("ip", "10.244.1.10/0"),
    ("ip", "fd00::1%eth0"), ("peer", "10.244.2.20\ncreate KUBENET-X hash:ip"), ("peer", "fd00::2 -j ACCEPT"),
    ("cidr", "192.0.2.0/24\nadd KUBENET-X 0.0.0.0"), ("cidr", "192.0.2.0/24 nomatch"),
    ("except", "192.0.2.0/25\n-X KUBENET-FORWARD")])
def test_hostile_addresses_in_a_plan_are_refused(where, value):
    plan = hostile_plan("x/a", "x/t", "s1")
    if where == "ip":
        plan["pods"][0]["ips"] = [value]
    elif where == "peer":
        plan["peer_sets"]["s1"] = [value]
    else:
        block = plan["policies"][0]["rules"][0]["clauses"][0]["peers"]["ip_blocks"][0]
        block["cidr" if where == "cidr" else "except"] = value if where == "cidr" else [value]
    with pytest.raises(PlanError):
        render(plan)


def test_comment_of_any_text_is_one_safe_token():
    for text in HOSTILE + ("", " ", "\u00e9" * 300, "ok"):
        tokens = shlex.split(naming.comment_match(text))
        assert tokens[:3] == ["-m", "comment", "--comment"] and len(tokens) == 4, text
        assert tokens[3].isprintable() and tokens[3].isascii() and len(tokens[3]) <= KERNEL_COMMENT
