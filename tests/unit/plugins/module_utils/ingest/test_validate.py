# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The NetworkPolicy validator against the API server's rules (networking/validation, meta/v1/validation).

Expected problems, paths and lines are read off the manifests by hand. Most tests write a
policy as HEADER (6 lines, ending with "spec:") followed by a spec body that starts on line 7.
"""

from __future__ import annotations

import copy
import pathlib
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import Problem
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import policy_from_manifest
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.validate import validate_label_selector, validate_policy
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.yamldoc import Document, parse_documents, read_documents

FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "fixtures" / "manifests"

HEADER = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web
  namespace: shop
spec:
"""


def problems_of(text, default_namespace="default"):
    documents, problems = parse_documents(text, "policy.yaml")
    assert problems == [] and len(documents) == 1
    return validate_policy(documents[0], default_namespace)


def spec_problems(body):
    """Problems of HEADER + body, the body written unindented and placed under spec (line 7 on)."""
    return problems_of(HEADER + textwrap.indent(textwrap.dedent(body), "  "))


def errors(problems):
    return [problem for problem in problems if problem.severity == "error"]


def warning_at(problems, field, line, *fragments):
    """The one problem at field, which must be a warning (the API server accepts what it names)."""
    problem = assert_problem(problems, field, line, *fragments)
    assert problem.severity == "warning", str(problem)
    return problem


def find(problems, field):
    found = [problem for problem in problems if problem.field == field]
    assert len(found) == 1, "expected one problem at %s, got:\n%s" % (field, "\n".join(map(str, problems)))
    return found[0]


def assert_problem(problems, field, line, *fragments):
    problem = find(problems, field)
    assert problem.line == line, str(problem)
    for fragment in fragments:
        assert fragment in problem.message, str(problem)
    return problem


def assert_only(problems, field, line, *fragments):
    assert len(problems) == 1, "\n".join(map(str, problems))
    problem = assert_problem(problems, field, line, *fragments)
    assert problem.file == "policy.yaml"
    return problem


# --- the document and its header ---------------------------------------------------------------

@pytest.mark.parametrize("text, shown", [("- a\n- b\n", '["a", "b"]'), ("42\n", "42"), ("just text\n", '"just text"')])
def test_a_document_that_is_not_a_mapping_is_rejected(text, shown):
    problem = assert_only(problems_of(text), "", 1, "must be a mapping", shown)
    assert problem.obj == ""


@pytest.mark.parametrize("obj", [None, 7, 1.5, True, "x", [], [None], ()])
def test_objects_that_are_not_mappings_are_rejected_without_a_traceback(obj):
    problems = validate_policy(Document(obj, "objects[0]"))
    assert [(problem.file, problem.field) for problem in problems] == [("objects[0]", "")]
    assert "must be a mapping" in problems[0].message


def test_api_version_must_be_networking_v1():
    text = HEADER.replace("networking.k8s.io/v1", "networking.k8s.io/v1beta1") + "  podSelector: {}\n"
    problem = assert_only(problems_of(text), "apiVersion", 1, '"networking.k8s.io/v1beta1"', "networking.k8s.io/v1")
    assert problem.obj == "shop/web"


def test_api_version_is_required():
    text = HEADER.replace("apiVersion: networking.k8s.io/v1\n", "") + "  podSelector: {}\n"
    assert_only(problems_of(text), "apiVersion", 1, "required", "networking.k8s.io/v1")


def test_another_kind_is_an_error_that_names_the_kind_found():
    text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n"
    # Only the kind is reported: the fields of a Deployment say nothing about a policy.
    problem = assert_only(problems_of(text), "kind", 2, '"Deployment"', "NetworkPolicy")
    assert problem.obj == "default/web"


@pytest.mark.parametrize("line, shown", [("kind: networkpolicy\n", '"networkpolicy"'), ("kind: 3\n", "3")])
def test_kind_must_be_exactly_network_policy(line, shown):
    text = HEADER.replace("kind: NetworkPolicy\n", line) + "  podSelector: {}\n"
    assert_only(problems_of(text), "kind", 2, shown, "NetworkPolicy")


def test_kind_is_required():
    text = HEADER.replace("kind: NetworkPolicy\n", "") + "  podSelector: {}\n"
    assert_only(problems_of(text), "kind", 1, "kind is required", "NetworkPolicy")


def test_the_default_namespace_names_the_policy_in_problems():
    text = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: web}\nspec: {podSelector: 5}\n"
    problem = find(problems_of(text, default_namespace="team-a"), "spec.podSelector")
    assert problem.obj == "team-a/web"


def test_status_is_an_unknown_field_since_kubernetes_1_28():
    text = HEADER + "  podSelector: {}\nstatus: {}\n"
    assert_only(problems_of(text), "status", 8, 'unknown field "status"')


def test_an_unknown_top_level_field_is_an_error_with_a_hint_when_it_belongs_under_spec():
    text = HEADER + "  podSelector: {}\ningress: []\n"
    assert_only(problems_of(text), "ingress", 8, 'unknown field "ingress"', "belongs directly under spec")


# --- metadata ----------------------------------------------------------------------------------

def test_metadata_name_is_required():
    text = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {namespace: shop}\nspec: {podSelector: {}}\n"
    assert_only(problems_of(text), "metadata.name", 3, "metadata.name is required")


def test_metadata_is_required():
    text = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nspec: {podSelector: {}}\n"
    assert_only(problems_of(text), "metadata", 1, "metadata is required")


@pytest.mark.parametrize("name, fragment", [
    ("Web", '"Web"'), ("web_app", '"web_app"'), ("-web", '"-web"'), ("web-", '"web-"'),
    ("a..b", '"a..b"'), ("web.-x", '"web.-x"'), ("a" * 254, "253"),
])
def test_metadata_name_must_be_a_dns1123_subdomain(name, fragment):
    text = HEADER.replace("name: web", "name: %s" % name) + "  podSelector: {}\n"
    assert_only(problems_of(text), "metadata.name", 4, fragment)


def test_metadata_name_must_be_a_string():
    text = HEADER.replace("name: web", "name: 12") + "  podSelector: {}\n"
    assert_only(problems_of(text), "metadata.name", 4, "must be a string", "12")


@pytest.mark.parametrize("name", ["a", "1abc", "web.example-1", "a" * 253])
def test_metadata_names_the_api_accepts(name):
    assert problems_of(HEADER.replace("name: web", "name: %s" % name) + "  podSelector: {}\n") == []


@pytest.mark.parametrize("namespace, fragment", [("Shop", '"Shop"'), ("my.shop", '"my.shop"'), ("a" * 64, "63")])
def test_metadata_namespace_must_be_a_dns1123_label(namespace, fragment):
    text = HEADER.replace("namespace: shop", "namespace: %s" % namespace) + "  podSelector: {}\n"
    assert_only(problems_of(text), "metadata.namespace", 5, fragment)


def test_an_unknown_metadata_field_is_an_error():
    text = HEADER.replace("  namespace: shop\n", "  lables: {app: web}\n") + "  podSelector: {}\n"
    assert_only(problems_of(text), "metadata.lables", 5, 'unknown field "lables"', "labels")


def test_known_metadata_fields_are_accepted():
    extra = ("  uid: 0d1c5e0e-2c6a-4f3c-9a57-2c1f1b0c9d11\n  resourceVersion: \"42\"\n  generation: 3\n"
             "  creationTimestamp: 2024-05-01T10:00:00Z\n  finalizers: []\n  managedFields: []\n  ownerReferences: []\n"
             "  generateName: web-\n  selfLink: /apis/x\n  deletionGracePeriodSeconds: 30\n")
    assert problems_of(HEADER.replace("spec:\n", extra + "spec:\n") + "  podSelector: {}\n") == []


def test_metadata_fields_must_have_their_api_types():
    text = HEADER.replace("  namespace: shop\n", "  generation: \"3\"\n  finalizers: done\n") + "  podSelector: {}\n"
    problems = problems_of(text)
    assert len(problems) == 2
    assert_problem(problems, "metadata.generation", 5, "an integer", '"3"')
    assert_problem(problems, "metadata.finalizers", 6, "a list", '"done"')


def test_label_values_must_be_strings():
    text = HEADER.replace("  namespace: shop\n", "  labels: {enabled: true}\n") + "  podSelector: {}\n"
    assert_only(problems_of(text), "metadata.labels.enabled", 5, "must be a string", "true", "quote")


def test_label_keys_and_values_of_metadata_are_checked():
    text = HEADER.replace("  namespace: shop\n", "  labels: {Bad Key: ok, tier: -web}\n") + "  podSelector: {}\n"
    problems = problems_of(text)
    assert len(problems) == 2
    assert_problem(problems, "metadata.labels.Bad Key", 5, '"Bad Key"')
    assert_problem(problems, "metadata.labels.tier", 5, '"-web"')


def test_annotations_must_map_qualified_names_to_strings():
    text = HEADER.replace("  namespace: shop\n", "  annotations: {example.com/replicas: 3, a/b/c: x}\n") + "  podSelector: {}\n"
    problems = problems_of(text)
    assert len(problems) == 2
    assert_problem(problems, "metadata.annotations.example.com/replicas", 5, "must be a string", "3")
    assert_problem(problems, "metadata.annotations.a/b/c", 5, '"a/b/c"', "at most one '/'")


def test_labels_must_be_a_mapping():
    text = HEADER.replace("  namespace: shop\n", "  labels: [app]\n") + "  podSelector: {}\n"
    assert_only(problems_of(text), "metadata.labels", 5, "a mapping", '["app"]')


# --- spec ---------------------------------------------------------------------------------------

def test_a_missing_spec_is_accepted_with_a_warning_saying_what_it_means():
    [problem] = problems_of(HEADER.replace("spec:\n", ""))
    warning_at([problem], "spec", 1, "isolates every pod of the namespace for ingress")


def test_spec_must_be_a_mapping():
    assert_only(problems_of(HEADER.replace("spec:\n", "spec: [podSelector]\n")), "spec", 6, "a mapping", '["podSelector"]')


def test_a_missing_spec_pod_selector_selects_every_pod_as_the_api_defaults_it_with_a_warning():
    text = HEADER.replace("spec:\n", "spec: {policyTypes: [Ingress]}\n")
    warning_at(problems_of(text), "spec.podSelector", 6, "missing", "selects every pod", "podSelector: {}")


def test_a_null_spec_pod_selector_is_a_warning_that_suggests_braces():
    warning_at(spec_problems("podSelector:\n"), "spec.podSelector", 7, "null", "podSelector: {}")


def test_an_unknown_spec_field_is_an_error():
    problems = problems_of(HEADER.replace("spec:\n", "spec: {podselector: {}}\n"))
    assert len(problems) == 2
    assert_problem(problems, "spec.podselector", 6, 'unknown field "podselector"', "podSelector")
    warning_at(problems, "spec.podSelector", 6, "missing")


@pytest.mark.parametrize("body, field, line, fragments", [
    ("policyTypes: [Ingress, Egres]\n", "spec.policyTypes[1]", 8, ('"Egres"', "Ingress, Egress")),
    ("policyTypes: [ingress]\n", "spec.policyTypes[0]", 8, ('"ingress"', "must be Ingress (case matters)")),
    ("policyTypes: [Egress, Egress]\n", "spec.policyTypes[1]", 8, ('"Egress"', "twice")),
    ("policyTypes: Ingress\n", "spec.policyTypes", 8, ("a list", '"Ingress"')),
    ("policyTypes: [1]\n", "spec.policyTypes[0]", 8, ("1", "Ingress")),
])
def test_policy_types_are_ingress_or_egress_once_each(body, field, line, fragments):
    assert_only(spec_problems("podSelector: {}\n" + body), field, line, *fragments)


def test_at_most_two_policy_types():
    problems = spec_problems("podSelector: {}\npolicyTypes: [Ingress, Egress, Ingress]\n")
    assert len(problems) == 2
    assert_problem(problems, "spec.policyTypes", 8, "more than two", "3")
    assert_problem(problems, "spec.policyTypes[2]", 8, "twice")


@pytest.mark.parametrize("body, field, line, fragments", [
    ("ingress: {from: []}\n", "spec.ingress", 8, ("a list of rules", "a mapping")),
    ("egress: [[]]\n", "spec.egress[0]", 8, ("a rule mapping", "a list")),
    ("ingress:\n- from: {podSelector: {}}\n", "spec.ingress[0].from", 9, ("a list of peers", "a mapping")),
    ("ingress:\n- ports: 80\n", "spec.ingress[0].ports", 9, ("a list of port entries", "an integer 80")),
    ("ingress:\n- ports: [{port: true}]\n", "spec.ingress[0].ports[0].port", 9, ("an integer", "a boolean true")),
    ("ingress:\n- ports: [{port: 80.5}]\n", "spec.ingress[0].ports[0].port", 9, ("an integer", "a number 80.5")),
    ("ingress:\n- ports: [{port: 80, endPort: \"90\"}]\n", "spec.ingress[0].ports[0].endPort", 9, ("an integer", '"90"')),
    ("ingress:\n- ports: [{port: 80, endPort: false}]\n", "spec.ingress[0].ports[0].endPort", 9, ("an integer", "false")),
    ("ingress:\n- from: [{ipBlock: {cidr: 10.0.0.0/8, except: 10.1.0.0/16}}]\n",
     "spec.ingress[0].from[0].ipBlock.except", 9, ("a list of CIDRs", '"10.1.0.0/16"')),
    ("ingress:\n- from: [{ipBlock: {cidr: 10}}]\n", "spec.ingress[0].from[0].ipBlock.cidr", 9, ("a CIDR string", "10")),
    ("ingress:\n- from: [{ipBlock: [10.0.0.0/8]}]\n", "spec.ingress[0].from[0].ipBlock", 9, ("cidr", '["10.0.0.0/8"]')),
    ("ingress:\n- from: [{podSelector: app}]\n", "spec.ingress[0].from[0].podSelector", 9, ("label selector", '"app"')),
])
def test_wrong_types_are_errors(body, field, line, fragments):
    assert_only(spec_problems("podSelector: {}\n" + body), field, line, *fragments)


# --- unknown fields at every level --------------------------------------------------------------

@pytest.mark.parametrize("body, field, line, fragment, count", [
    ("ingress:\n- froms: []\n", "spec.ingress[0].froms", 9, 'unknown field "froms" in an ingress rule', 1),
    ("ingress:\n- from:\n  - podselector: {}\n", "spec.ingress[0].from[0].podselector", 10, 'unknown field "podselector"', 2),
    ("ingress:\n- from: [{ipBlock: {cidr: 10.0.0.0/8, exceptions: []}}]\n",
     "spec.ingress[0].from[0].ipBlock.exceptions", 9, 'unknown field "exceptions" in an ipBlock', 1),
    ("egress:\n- ports: [{port: 80, endport: 90}]\n", "spec.egress[0].ports[0].endport", 9, 'unknown field "endport"', 1),
    ("ingress:\n- from: [{podSelector: {matchLabel: {a: b}}}]\n",
     "spec.ingress[0].from[0].podSelector.matchLabel", 9, 'unknown field "matchLabel" in a label selector', 1),
    ("ingress:\n- from: [{namespaceSelector: {matchExpressions: [{key: a, operator: Exists, value: [x]}]}}]\n",
     "spec.ingress[0].from[0].namespaceSelector.matchExpressions[0].value", 9, 'unknown field "value"', 1),
])
def test_unknown_fields_are_errors_everywhere(body, field, line, fragment, count):
    problems = spec_problems("podSelector: {}\n" + body)
    assert len(problems) == count, "\n".join(map(str, problems))
    assert_problem(problems, field, line, fragment)


def test_from_in_an_egress_rule_is_called_out_and_its_peers_still_checked():
    problems = spec_problems("podSelector: {}\negress:\n- from: [{podSelector: {}}, {}]\n")
    assert len(problems) == 2
    assert_problem(problems, "spec.egress[0].from", 9, 'unknown field "from" in an egress rule', 'egress rules use "to"')
    assert_problem(problems, "spec.egress[0].from[1]", 9, "podSelector, namespaceSelector or ipBlock")


def test_to_in_an_ingress_rule_is_called_out():
    problems = spec_problems("podSelector: {}\ningress:\n- to: [{namespaceSelector: {}}]\n")
    assert_only(problems, "spec.ingress[0].to", 9, 'unknown field "to" in an ingress rule', 'ingress rules use "from"')


def test_ports_under_a_peer_is_an_unknown_field_whose_entries_are_still_checked():
    body = "podSelector: {}\ningress:\n- from:\n  - podSelector: {}\n    ports: [{protocol: tcp}]\n"
    problems = spec_problems(body)
    assert len(problems) == 2
    assert_problem(problems, "spec.ingress[0].from[0].ports", 11, 'unknown field "ports" in a from/to peer', "belongs to")
    assert_problem(problems, "spec.ingress[0].from[0].ports[0].protocol", 11, '"tcp"', "uppercase TCP")


# --- ports --------------------------------------------------------------------------------------

def ports_problems(entry):
    """A policy whose single ingress rule has one port entry, written in flow style on line 9."""
    return spec_problems("podSelector: {}\ningress:\n- ports: [%s]\n" % entry)


PORT = "spec.ingress[0].ports[0]"


@pytest.mark.parametrize("protocol", ["tcp", "Tcp"])
def test_a_lowercase_protocol_must_be_uppercase(protocol):
    assert_only(ports_problems("{protocol: %s, port: 6379}" % protocol), PORT + ".protocol", 9,
                '"%s"' % protocol, "must be uppercase TCP")


@pytest.mark.parametrize("protocol", ["ICMP", "HTTP", "7"])
def test_other_protocols_are_not_supported(protocol):
    assert_only(ports_problems("{protocol: %s}" % protocol), PORT + ".protocol", 9, protocol, "TCP, UDP, SCTP")


@pytest.mark.parametrize("entry", ["{protocol: TCP}", "{protocol: UDP, port: 53}", "{protocol: SCTP, port: 1, endPort: 65535}",
                                   "{}", "{port: 80, endPort: 80}", "{port: http}", "{protocol: null, port: null}"])
def test_valid_ports(entry):
    assert ports_problems(entry) == []


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_port_numbers_are_1_to_65535(port):
    assert_only(ports_problems("{port: %d}" % port), PORT + ".port", 9, str(port), "between 1 and 65535")


@pytest.mark.parametrize("name", ["http", "web-8080", "a", "x" * 15, "h2c"])
def test_named_ports_the_api_accepts(name):
    assert ports_problems("{port: %s}" % name) == []


@pytest.mark.parametrize("name, fragment", [
    ("HTTP", "lowercase"), ("http_alt", "lowercase"), ("-http", "begin or end with '-'"), ("http-", "begin or end with '-'"),
    ("ht--tp", "'--'"), ("a" * 16, "1-15 characters"), ('"8080"', "at least one letter"), ('""', "1-15 characters"),
])
def test_named_ports_must_be_iana_service_names(name, fragment):
    problems = ports_problems("{port: %s}" % name)
    assert problems and all(problem.field == PORT + ".port" and problem.line == 9 for problem in problems)
    shown = name if name.startswith('"') else '"%s"' % name
    assert any(fragment in problem.message and shown in problem.message for problem in problems), problems


def test_end_port_must_not_be_below_port():
    assert_only(ports_problems("{port: 80, endPort: 70}"), PORT + ".endPort", 9, "70", "greater than or equal to port 80")


@pytest.mark.parametrize("end", [0, 65536])
def test_end_port_is_1_to_65535(end):
    assert_only(ports_problems("{port: 80, endPort: %d}" % end), PORT + ".endPort", 9, str(end), "between 1 and 65535")


def test_end_port_requires_a_port():
    assert_only(ports_problems("{endPort: 90}"), PORT + ".endPort", 9, "90", "needs a port")


def test_end_port_requires_a_numeric_port():
    assert_only(ports_problems("{port: http, endPort: 90}"), PORT + ".endPort", 9, "numeric port", '"http"')


def test_a_null_port_entry_is_read_as_every_tcp_port_with_a_warning():
    warning_at(ports_problems("null"), PORT, 9, "every TCP port", "{}")


# --- peers and ipBlock --------------------------------------------------------------------------

def peer_problems(peer):
    """A policy whose single ingress rule has one peer, written in flow style on line 9."""
    return spec_problems("podSelector: {}\ningress:\n- from: [%s]\n" % peer)


PEER = "spec.ingress[0].from[0]"


def test_a_peer_with_no_field_is_an_error():
    assert_only(peer_problems("{}"), PEER, 9, "must set podSelector, namespaceSelector or ipBlock")


def test_a_null_peer_is_an_error():
    assert_only(peer_problems("null"), PEER, 9, "a peer mapping", "found null")


@pytest.mark.parametrize("selector", ["podSelector", "namespaceSelector"])
def test_ip_block_with_a_selector_in_one_peer_is_an_error(selector):
    problem = assert_only(peer_problems("{ipBlock: {cidr: 10.0.0.0/8}, %s: {}}" % selector), PEER, 9, "ipBlock", selector)
    assert "separate peers" in problem.message


def test_a_null_selector_in_a_peer_is_absent_with_a_warning_that_explains_the_difference_with_braces():
    problems = peer_problems("{namespaceSelector: null}")
    warning_at(problems, PEER + ".namespaceSelector", 9, "null", "absent", "write {}")
    # Nothing else is set, so the peer is empty, which the API server refuses.
    assert_problem(problems, PEER, 9, "must set", "null counts as absent")
    warning_at(peer_problems("{podSelector: {}, namespaceSelector: null}"), PEER + ".namespaceSelector", 9, "absent")


@pytest.mark.parametrize("block", ["{}", "{cidr: ''}", "{cidr: null, except: []}"])
def test_ip_block_cidr_is_required(block):
    assert_only(peer_problems("{ipBlock: %s}" % block), PEER + ".ipBlock.cidr", 9, "cidr is required")


@pytest.mark.parametrize("cidr", ["10.0.0.0", "10.0.0.0/33", "300.1.1.1/8", "10.0.0.0/ 8", "fe80::/129", "not-a-cidr",
                                  "1.2.3.4/255.0.0.0", "10.0.0.0/8/8", "/8", "010.0.0.0/8", "fe80::1%eth0/64"])
def test_ip_block_cidr_must_be_a_cidr(cidr):
    assert_only(peer_problems("{ipBlock: {cidr: '%s'}}" % cidr), PEER + ".ipBlock.cidr", 9, '"%s"' % cidr, "not a valid CIDR")


@pytest.mark.parametrize("cidr", ["192.168.1.1/32", "0.0.0.0/0", "::/0", "2001:db8::/32"])
def test_cidrs_the_api_accepts(cidr):
    assert peer_problems("{ipBlock: {cidr: '%s'}}" % cidr) == []


@pytest.mark.parametrize("cidr, meant", [("10.0.0.1/8", "10.0.0.0/8"), ("2001:db8::1/64", "2001:db8::/64")])
def test_host_bits_are_a_warning_naming_the_cidr_meant(cidr, meant):
    warning_at(peer_problems("{ipBlock: {cidr: '%s'}}" % cidr), PEER + ".ipBlock.cidr", 9, "host bits", meant)


def test_an_ipv4_mapped_ipv6_cidr_is_a_warning():
    warning_at(peer_problems("{ipBlock: {cidr: '::ffff:10.0.0.0/104'}}"), PEER + ".ipBlock.cidr", 9, "IPv4-mapped")


@pytest.mark.parametrize("cidr, excluded, fragment", [
    ("10.0.0.0/16", "10.0.0.0/16", "strict subset"),
    ("10.0.0.0/16", "10.0.0.0/8", "strict subset"),
    ("10.0.0.0/16", "10.1.0.0/24", "strict subset"),
    ("10.0.0.0/16", "10.0.0.5/16", "strict subset"),
    ("10.0.0.0/16", "2001:db8::/64", "same family"),
    ("2001:db8::/32", "10.0.0.0/24", "same family"),
    ("10.0.0.0/16", "10.0.1.0", "not a valid CIDR"),
])
def test_except_must_be_a_strict_subset_of_the_same_family(cidr, excluded, fragment):
    problems = errors(peer_problems("{ipBlock: {cidr: '%s', except: ['%s']}}" % (cidr, excluded)))
    assert_only(problems, PEER + ".ipBlock.except[0]", 9, '"%s"' % excluded, fragment)


@pytest.mark.parametrize("cidr, excluded", [
    ("10.0.0.0/16", "10.0.1.0/24"), ("10.0.0.0/16", "10.0.255.255/32"), ("10.0.0.0/16", "10.0.1.7/24"),
    ("2001:db8::/32", "2001:db8:ff::/48"), ("0.0.0.0/0", "169.254.169.254/32"),
])
def test_except_inside_the_cidr_is_accepted(cidr, excluded):
    assert errors(peer_problems("{ipBlock: {cidr: '%s', except: ['%s']}}" % (cidr, excluded))) == []


def test_except_entries_must_be_strings():
    assert_only(peer_problems("{ipBlock: {cidr: 10.0.0.0/8, except: [[10.1.0.0/16]]}}"), PEER + ".ipBlock.except[0]", 9,
                "a string", '["10.1.0.0/16"]')


# --- label selectors ----------------------------------------------------------------------------

def selector_problems(selector):
    """A policy whose spec.podSelector is written in flow style on line 7."""
    return spec_problems("podSelector: %s\n" % selector)


@pytest.mark.parametrize("key, fragment", [
    ("Example.com/app", "prefix"), ("a/b/c", "at most one '/'"), ("/app", "empty prefix"), ("example.com/", "name part"),
    ("-app", "name part"), ("app-", "name part"), ("a b", "name part"), ("a" * 64, "63"), ("x" * 254 + "/a", "253"),
    ("''", "name part"),
])
def test_match_labels_keys_are_qualified_names(key, fragment):
    field_key = key.strip("'")
    problem = assert_only(selector_problems("{matchLabels: {%s: v}}" % key), "spec.podSelector.matchLabels." + field_key, 7, fragment)
    assert ('"%s"' % field_key)[:60] in problem.message


@pytest.mark.parametrize("key", ["app", "app.kubernetes.io/name", "kubernetes.io/metadata.name", "A_b.c-D", "a" * 63,
                                 "example.com/" + "a" * 63, "'9'"])
def test_match_labels_keys_the_api_accepts(key):
    assert selector_problems("{matchLabels: {%s: v}}" % key) == []


@pytest.mark.parametrize("value, fragment", [("-x", '"-x"'), ("x-", '"x-"'), ("'a b'", '"a b"'), ("a" * 64, "63"),
                                             ("x/y", '"x/y"')])
def test_match_labels_values_are_label_values(value, fragment):
    assert_only(selector_problems("{matchLabels: {app: %s}}" % value), "spec.podSelector.matchLabels.app", 7, fragment)


@pytest.mark.parametrize("value", ["''", "a" * 63, "A_b.c-1", "'123'"])
def test_match_labels_values_the_api_accepts(value):
    assert selector_problems("{matchLabels: {app: %s}}" % value) == []


def test_match_labels_keys_must_be_strings():
    # kubectl sends the unquoted key 9 as the string "9", a valid label key; data from elsewhere must be a string.
    assert selector_problems("{matchLabels: {9: v}}") == []
    [problem] = validate_label_selector(Document({"matchLabels": {9: "v"}}, "objects[0]"), "", {"matchLabels": {9: "v"}})
    assert problem.field == "matchLabels.9" and 'label key 9 must be a string: quote it ("9")' in problem.message


@pytest.mark.parametrize("value, shown", [("1", "1"), ("true", "true")])
def test_match_labels_values_must_be_strings(value, shown):
    assert_only(selector_problems("{matchLabels: {app: %s}}" % value), "spec.podSelector.matchLabels.app", 7,
                "must be a string", shown)


EXPR = "spec.podSelector.matchExpressions[0]"


@pytest.mark.parametrize("expression, field, fragments", [
    ("{key: 'Bad Key', operator: Exists}", EXPR + ".key", ('"Bad Key"',)),
    ("{operator: Exists}", EXPR + ".key", ("key is required",)),
    ("{key: a, operator: Equals, values: [x]}", EXPR + ".operator", ('"Equals"', "In, NotIn, Exists, DoesNotExist")),
    ("{key: a, operator: notin, values: [x]}", EXPR + ".operator", ('"notin"', "must be NotIn (case matters)")),
    ("{key: a, values: [x]}", EXPR + ".operator", ("operator is required",)),
    ("{key: a, operator: In}", EXPR + ".values", ("at least one value", "In")),
    ("{key: a, operator: NotIn, values: []}", EXPR + ".values", ("at least one value", "NotIn")),
    ("{key: a, operator: Exists, values: [x]}", EXPR + ".values", ("empty or absent", "Exists", '["x"]')),
    ("{key: a, operator: DoesNotExist, values: [x]}", EXPR + ".values", ("empty or absent", "DoesNotExist")),
    ("{key: a, operator: In, values: [ok, -x]}", EXPR + ".values[1]", ('"-x"',)),
    ("{key: a, operator: In, values: [1]}", EXPR + ".values[0]", ("a string", "1")),
    ("{key: a, operator: In, values: x}", EXPR + ".values", ("a list of label values", '"x"')),
    ("null", EXPR, ("a mapping", "found null")),
])
def test_match_expressions_rules(expression, field, fragments):
    assert_only(selector_problems("{matchExpressions: [%s]}" % expression), field, 7, *fragments)


def test_validate_label_selector_reports_at_the_given_path():
    documents, problems = parse_documents("selector:\n  matchLabels: {app: -x}\n  matchExpressions: [{key: a, operator: In}]\n",
                                          "scenario.yaml")
    assert problems == []
    problems = validate_label_selector(documents[0], "selector", documents[0].obj["selector"])
    assert all(isinstance(problem, Problem) for problem in problems)
    assert [(problem.field, problem.line) for problem in problems] == [
        ("selector.matchLabels.app", 2), ("selector.matchExpressions[0].values", 3)]


def test_validate_label_selector_rejects_a_selector_that_is_not_a_mapping():
    problems = validate_label_selector(Document({}, "scenario.yaml"), "pods[0].selector", ["app"])
    assert [(problem.field, problem.file) for problem in problems] == [("pods[0].selector", "scenario.yaml")]
    assert '["app"]' in problems[0].message


# --- all problems at once -----------------------------------------------------------------------

def test_every_problem_of_a_document_is_reported():
    text = """\
apiVersion: extensions/v1beta1
kind: NetworkPolicy
metadata:
  name: Web
spec:
  podSelector: {matchLabels: {app: -web}}
  policyTypes: [Ingress, Ingress]
  ingress:
  - from: [{}, {ipBlock: {cidr: 10.0.0.0/16, except: [10.1.0.0/24]}}]
    ports: [{protocol: tcp, port: 0}, {port: http, endPort: 90}]
  egress:
  - from: []
    ports: [{port: 100, endPort: 99}]
"""
    problems = problems_of(text)
    assert sorted((problem.field, problem.line) for problem in problems) == sorted([
        ("apiVersion", 1),
        ("metadata.name", 4),
        ("spec.podSelector.matchLabels.app", 6),
        ("spec.policyTypes[1]", 7),
        ("spec.ingress[0].from[0]", 9),
        ("spec.ingress[0].from[1].ipBlock.except[0]", 9),
        ("spec.ingress[0].ports[0].protocol", 10),
        ("spec.ingress[0].ports[0].port", 10),
        ("spec.ingress[0].ports[1].endPort", 10),
        ("spec.egress[0].from", 12),
        ("spec.egress[0].ports[0].endPort", 13),
    ])


# --- examples: the seed and the Kubernetes documentation ----------------------------------------

def fixture_documents(*folders):
    """Every document of the fixture files in the named folders, as pytest params."""
    cases = []
    for folder in folders:
        for path in sorted((FIXTURES / folder).glob("*.yaml")):
            documents, problems = read_documents(path)
            assert problems == [] and len(documents) == 1, (path, problems)
            cases.append(pytest.param(documents[0], id="%s/%s" % (folder, path.name)))
    return cases


@pytest.mark.parametrize("document", fixture_documents("valid/seed", "valid/k8s-docs", "valid/edge-cases"))
def test_valid_examples_have_no_problem(document):
    problems = validate_policy(document)
    assert errors(problems) == []
    # One example writes a CIDR with host bits on purpose: accepted, with a warning.
    assert [problem.field for problem in problems] == (
        ["spec.egress[0].to[2].ipBlock.cidr"] if document.file.endswith("02-selectors-and-blocks.yaml") else [])


def test_every_valid_example_is_there():
    """The parametrized test above must not pass by finding no documents."""
    counts = [len(fixture_documents(folder)) for folder in ("valid/seed", "valid/k8s-docs", "valid/edge-cases")]
    assert counts == [10, 9, 3]


@pytest.mark.parametrize("name, line", [
    # policyTypes' items written at column 1, left of the key: the mapping under spec ends there.
    ("seed-broken/section2-syntax.yaml.txt", 11),
    # policyTypes indented under the `- {}` rule of ingress/egress.
    ("seed-broken/section4.2-allow-all-ingress.yaml.txt", 9),
    ("seed-broken/section4.4-allow-all-egress.yaml.txt", 9),
])
def test_seed_blocks_with_broken_indentation_are_yaml_errors_with_their_line(name, line):
    documents, problems = read_documents(FIXTURES / name)
    assert documents == []
    assert [(problem.line, problem.message.startswith("invalid YAML")) for problem in problems] == [(line, True)]


def test_seed_section2_with_ports_indented_under_peers_reports_each_misplaced_field():
    documents, problems = read_documents(FIXTURES / "seed-broken" / "section2-ports-misindented.yaml")
    assert problems == []
    problems = validate_policy(documents[0])
    assert sorted((problem.field, problem.line) for problem in problems) == sorted([
        ("spec.ingress[0].from[2].podSelector.ports", 27),
        ("spec.ingress[0].from[3].protocol", 28),
        ("spec.ingress[0].from[3].port", 29),
        ("spec.ingress[0].from[3]", 28),
        ("spec.egress[0].to[0].ipBlock.ports", 34),
        ("spec.egress[0].to[1].protocol", 35),
        ("spec.egress[0].to[1].port", 36),
        ("spec.egress[0].to[1]", 35),
    ])
    assert "label selector" in find(problems, "spec.ingress[0].from[2].podSelector.ports").message
    assert "ports belongs to an ingress/egress rule" in find(problems, "spec.egress[0].to[0].ipBlock.ports").message
    assert "entry of a rule's ports list" in find(problems, "spec.egress[0].to[1].protocol").message


def test_seed_section6_reports_the_old_api_version_and_the_lowercase_protocol():
    documents, problems = read_documents(FIXTURES / "seed-broken" / "section6-extensions-v1beta1.yaml")
    assert problems == []
    problems = validate_policy(documents[0])
    assert len(problems) == 3, problems
    assert_problem(problems, "apiVersion", 1, '"extensions/v1beta1"', "networking.k8s.io/v1")
    assert_problem(problems, "spec.ingress[0].from[1].ports[0].protocol", 19, '"tcp"', "must be uppercase TCP")
    # ports is indented under the second peer. Its key is on line 18 and its list starts on line 19:
    # yamldoc records the latter today (see test_yamldoc.py).
    misplaced = find(problems, "spec.ingress[0].from[1].ports")
    assert misplaced.line in (18, 19) and 'unknown field "ports" in a from/to peer' in misplaced.message


# --- no input shape raises, and what passes can be converted ------------------------------------

BASE = {
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}, "annotations": {"a": "b"}},
    "spec": {
        "podSelector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "t", "operator": "In", "values": ["a"]}]},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{"from": [{"podSelector": {}, "namespaceSelector": {"matchLabels": {"x": "y"}}},
                              {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
                     "ports": [{"protocol": "TCP", "port": 80, "endPort": 90}, {"port": "http"}]}],
        "egress": [{"to": [{"namespaceSelector": {}}], "ports": [{"protocol": "UDP", "port": 53}]}, {}],
    },
}
FIELD_NAMES = ["apiVersion", "kind", "metadata", "spec", "status", "name", "namespace", "labels", "annotations",
               "podSelector", "namespaceSelector", "ipBlock", "policyTypes", "ingress", "egress", "from", "to", "ports",
               "protocol", "port", "endPort", "cidr", "except", "matchLabels", "matchExpressions", "key", "operator",
               "values", "x"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2, 70000), st.floats(allow_nan=False), st.text(max_size=6),
                    st.sampled_from(["TCP", "tcp", "In", "Exists", "Ingress", "10.0.0.0/8", "::/0", "http", "", "-"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.sampled_from(FIELD_NAMES), inner, max_size=3)),
                      max_leaves=8)


def containers(obj):
    """Every (container, key) of obj where a value can be replaced or added."""
    found = []
    if isinstance(obj, dict):
        found.extend((obj, key) for key in list(obj) + FIELD_NAMES)
        for value in obj.values():
            found.extend(containers(value))
    elif isinstance(obj, list):
        found.extend((obj, index) for index in range(len(obj)))
        for value in obj:
            found.extend(containers(value))
    return found


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10 ** 6), VALUES), min_size=1, max_size=3))
def test_any_shape_gives_problems_not_tracebacks_and_what_passes_converts(changes):
    obj = copy.deepcopy(BASE)
    for position, value in changes:
        places = containers(obj)
        container, key = places[position % len(places)]
        container[key] = value
    problems = validate_policy(Document(obj, "fuzz.yaml"))
    assert all(isinstance(problem, Problem) and isinstance(problem.message, str) for problem in problems)
    if not problems:
        policy_from_manifest(obj)


REMOVE = "remove the field"


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10 ** 6), st.sampled_from([REMOVE, None, [], {}, [None], [{}]])), min_size=1, max_size=4))
def test_removed_or_emptied_fields_give_problems_or_a_convertible_policy(changes):
    """Emptied fields are where null-versus-absent bugs hide; many of these variants are valid."""
    obj = copy.deepcopy(BASE)
    for position, value in changes:
        places = [(container, key) for container, key in containers(obj) if not isinstance(container, dict) or key in container]
        if not places:
            break
        container, key = places[position % len(places)]
        if value == REMOVE:
            del container[key]
        else:
            container[key] = copy.deepcopy(value)
    if not validate_policy(Document(obj, "fuzz.yaml")):
        policy_from_manifest(obj)


@settings(max_examples=200, deadline=None)
@given(VALUES)
def test_any_document_gives_problems_not_tracebacks(obj):
    problems = validate_policy(Document(obj, "fuzz.yaml"))
    assert isinstance(problems, list)
    assert problems, "a random value is never a complete valid NetworkPolicy"
