# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of networking.k8s.io/v1 NetworkPolicy manifests, as the API server of Kubernetes 1.34
validates them with strict field validation (kubectl's default).

A policy the API server would refuse must never reach a node, and a field the server would
drop (an unknown or misplaced key) must not silently change what is allowed. What the server
accepts but probably means something else than its author thinks (a null rule is read as {}, a
CIDR with host bits set is read without them) is a warning with its line; the `strict` option of
the callers turns warnings into errors. Every problem of a document is reported at once, each
with its API field path, and no input shape raises.
"""

from __future__ import annotations

import datetime
import json
import re

try:
    import netaddr
except ImportError:  # pragma: no cover - reported by the module and filters that need it
    netaddr = None

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import POLICY_TYPES
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import Problem
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.yamldoc import join_path
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import PROTOCOLS

API_VERSION = "networking.k8s.io/v1"
KIND = "NetworkPolicy"
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")

TOP_FIELDS = ("apiVersion", "kind", "metadata", "spec")  # status was removed in Kubernetes 1.28
MAX_ANNOTATIONS_BYTES = 256 * 1024  # keys and values together, as the API server counts them
OWNER_REFERENCE_FIELDS = {"apiVersion": str, "kind": str, "name": str, "uid": str, "controller": bool,
                          "blockOwnerDeletion": bool}
OWNER_REFERENCE_REQUIRED = ("apiVersion", "kind", "name", "uid")
LIST_FIELDS_CHECKED_BY_ITEM = ("finalizers", "ownerReferences", "managedFields")
SPEC_FIELDS = ("podSelector", "ingress", "egress", "policyTypes")
PEER_FIELDS = ("podSelector", "namespaceSelector", "ipBlock")
IPBLOCK_FIELDS = ("cidr", "except")
PORT_FIELDS = ("protocol", "port", "endPort")
SELECTOR_FIELDS = ("matchLabels", "matchExpressions")
REQUIREMENT_FIELDS = ("key", "operator", "values")

# ObjectMeta fields a manifest may carry, with the types the API decodes them into.
_STRING = ((str,), "a string")
_TIMESTAMP = ((str, datetime.datetime, datetime.date), "a timestamp")
_INTEGER = ((int,), "an integer")
_LIST = ((list,), "a list")
METADATA_TYPES = {
    "name": _STRING, "namespace": _STRING, "labels": ((dict,), "a mapping of label keys to values"),
    "annotations": ((dict,), "a mapping of annotation keys to strings"), "uid": _STRING, "resourceVersion": _STRING,
    "generation": _INTEGER, "creationTimestamp": _TIMESTAMP, "deletionTimestamp": _TIMESTAMP,
    "deletionGracePeriodSeconds": _INTEGER, "managedFields": _LIST, "ownerReferences": _LIST, "finalizers": _LIST,
    "generateName": _STRING, "selfLink": _STRING,
}

# Where a field found in the wrong place belongs: most of these come from a wrong indentation.
_BELONGS = {
    "ports": "ports belongs to an ingress/egress rule, at the same indentation as from/to",
    "from": "from belongs to an ingress rule (spec.ingress[*].from)",
    "to": "to belongs to an egress rule (spec.egress[*].to)",
    "protocol": "protocol belongs to an entry of a rule's ports list",
    "port": "port belongs to an entry of a rule's ports list",
    "endPort": "endPort belongs to an entry of a rule's ports list",
    "podSelector": "podSelector belongs directly under spec or in a from/to peer",
    "namespaceSelector": "namespaceSelector belongs in a from/to peer",
    "ipBlock": "ipBlock belongs in a from/to peer",
    "cidr": "cidr belongs in an ipBlock",
    "except": "except belongs in an ipBlock, next to cidr",
    "ingress": "ingress belongs directly under spec",
    "egress": "egress belongs directly under spec",
    "policyTypes": "policyTypes belongs directly under spec",
    "matchLabels": "matchLabels belongs in a podSelector or namespaceSelector",
    "matchExpressions": "matchExpressions belongs in a podSelector or namespaceSelector",
    "name": "name belongs under metadata",
    "namespace": "namespace belongs under metadata",
    "labels": "labels belongs under metadata",
    "annotations": "annotations belongs under metadata",
}

_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = re.compile(r"%s(\.%s)*" % (_DNS1123_LABEL, _DNS1123_LABEL))
_DNS1123_LABEL_RE = re.compile(_DNS1123_LABEL)
_NAME_PART = re.compile("[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_PORT_NAME = re.compile("[-a-z0-9]+")
_PREFIX_LENGTH = re.compile("[0-9]+")


def show(value):
    """A value as the user wrote it (JSON-like), cut short so messages stay readable."""
    try:
        text = json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def type_name(value):
    """What a value is, in the words of a YAML manifest: bools are not integers."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    for kind, name in ((int, "an integer"), (float, "a number"), (str, "a string"), (list, "a list"), (dict, "a mapping")):
        if isinstance(value, kind):
            return name
    return "a %s" % type(value).__name__


def described(value):
    """type and value, e.g. 'a string "80"'; null is just null."""
    return "null" if value is None else "%s %s" % (type_name(value), show(value))


def is_integer(value):
    """YAML true is a bool, and Python says a bool is an int: not for ports."""
    return isinstance(value, int) and not isinstance(value, bool)


def one_of(value, allowed):
    """The expectation for an enum field, pointing at case mistakes such as "ingress"."""
    for name in allowed:
        if isinstance(value, str) and value.lower() == name.lower():
            return "must be %s (case matters)" % name
    return "must be one of %s" % ", ".join(allowed)


class _Report:
    """The problems of one document, each located by the document's line table."""

    def __init__(self, document, label=None):
        self.document = document
        self.label = label
        self.problems = []

    def add(self, path, message):
        self.problems.append(self.document.problem(path, message, self.label))

    def warn(self, path, message):
        """Accepted by the API server, but probably not what the author meant."""
        problem = self.document.problem(path, message, self.label)
        self.problems.append(Problem(problem.file, message, problem.obj, problem.field, problem.line, "warning"))

    def wrong_type(self, path, value, expected):
        self.add(path, "must be %s, found %s" % (expected, described(value)))


def _field_path(path, key):
    return join_path(path, key if isinstance(key, str) else show(key))


def _check_fields(report, path, obj, allowed, where, reported=()):
    """Unknown fields are errors: the API would drop them, and the policy would mean something else."""
    for key in obj:
        if key in allowed or key in reported:
            continue
        hint = _BELONGS.get(key) if isinstance(key, str) else None
        message = "unknown field %s in %s (allowed: %s)" % (show(key), where, ", ".join(allowed))
        report.add(_field_path(path, key), "%s; %s" % (message, hint) if hint else message)


def _items(report, path, value, what):
    """The entries of an optional list field (null is absent), or none when it is not a list."""
    if value is None:
        return []
    if not isinstance(value, list):
        report.wrong_type(path, value, "a list of %s" % what)
        return []
    return [(join_path(path, index), item) for index, item in enumerate(value)]


def _string_items(report, path, value, what):
    """Entries of an optional list of strings; the others are reported."""
    found = []
    for item_path, item in _items(report, path, value, what):
        if isinstance(item, str):
            found.append((item_path, item))
        else:
            report.wrong_type(item_path, item, "a string")
    return found


def dns1123_subdomain_errors(text):
    """Object names and label key prefixes."""
    if len(text) > 253:
        return ["must be at most 253 characters, found %d" % len(text)]
    if not _DNS1123_SUBDOMAIN.fullmatch(text):
        return ["must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', "
                "each dot-separated part starting and ending with a letter or digit"]
    return []


def dns1123_label_errors(text):
    """Namespace names."""
    if len(text) > 63:
        return ["must be at most 63 characters, found %d" % len(text)]
    if not _DNS1123_LABEL_RE.fullmatch(text):
        return ["must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit"]
    return []


def qualified_name_errors(text):
    """Label keys: an optional DNS-1123 subdomain prefix and '/', then a name of 1-63 characters."""
    prefix, slash, name = text.rpartition("/")
    errors = []
    if slash:
        if not prefix:
            errors.append("has an empty prefix before '/'")
        elif "/" in prefix:
            errors.append("may contain at most one '/'")
        else:
            errors.extend("prefix %s %s" % (show(prefix), error) for error in dns1123_subdomain_errors(prefix))
    if not name:
        errors.append("needs a name part (1-63 characters)")
    elif len(name) > 63:
        errors.append("name part must be at most 63 characters, found %d" % len(name))
    elif not _NAME_PART.fullmatch(name):
        errors.append("name part must be letters, digits, '-', '_' or '.', starting and ending with a letter or digit")
    return errors


def label_value_errors(text):
    """Label values: empty, or up to 63 letters, digits, '-', '_', '.', alphanumeric at both ends."""
    if len(text) > 63:
        return ["must be at most 63 characters, found %d" % len(text)]
    if text and not _NAME_PART.fullmatch(text):
        return ["must be empty or letters, digits, '-', '_' or '.', starting and ending with a letter or digit"]
    return []


def port_name_errors(text):
    """Named ports are IANA service names (RFC 6335), as containerPorts[*].name."""
    errors = []
    if not 1 <= len(text) <= 15:
        errors.append("must be 1-15 characters, found %d" % len(text))
    if not _PORT_NAME.fullmatch(text):
        errors.append("may contain only lowercase letters, digits and '-'")
    if not re.search("[a-z]", text):
        errors.append("must contain at least one letter (a port number is written without quotes)")
    if text.startswith("-") or text.endswith("-"):
        errors.append("may not begin or end with '-'")
    if "--" in text:
        errors.append("may not contain '--'")
    return errors


def _check_string(report, path, value, check, what):
    """A string field, validated by check (a function returning messages)."""
    if not isinstance(value, str):
        report.wrong_type(path, value, "a string (%s)" % what)
        return
    for error in check(value):
        report.add(path, "%s %s %s" % (what, show(value), error))


def _check_label_map(report, path, labels):
    """Labels as in metadata.labels and matchLabels: qualified-name keys, label-value strings."""
    for key, value in labels.items():
        key_path = _field_path(path, key)
        if not isinstance(key, str):
            report.add(key_path, "label key %s must be a string: quote it (%s)" % (show(key), show(show(key))))
        else:
            for error in qualified_name_errors(key):
                report.add(key_path, "key %s %s" % (show(key), error))
        if value is None:
            report.warn(key_path, "label value null is read as \"\" by the API server: write \"\" if that is meant")
        elif not isinstance(value, str):
            report.add(key_path, "label value must be a string, found %s: quote it (%s)" % (described(value), show(show(value))))
        else:
            for error in label_value_errors(value):
                report.add(key_path, "label value %s %s" % (show(value), error))


def _check_requirement(report, path, requirement):
    if not isinstance(requirement, dict):
        report.wrong_type(path, requirement, "a mapping with key, operator and values")
        return
    _check_fields(report, path, requirement, REQUIREMENT_FIELDS, "a matchExpressions entry")
    key = requirement.get("key")
    if key is None:
        report.add(join_path(path, "key"), "key is required: the label key this expression tests")
    else:
        _check_string(report, join_path(path, "key"), key, qualified_name_errors, "label key")
    operator = requirement.get("operator")
    operator_path = join_path(path, "operator")
    if operator is None:
        report.add(operator_path, "operator is required: one of %s" % ", ".join(OPERATORS))
    elif operator not in OPERATORS:
        report.add(operator_path, "operator %s is not supported: %s" % (show(operator), one_of(operator, OPERATORS)))
    values_path = join_path(path, "values")
    values = requirement.get("values")
    for item_path, value in _string_items(report, values_path, values, "label values"):
        for error in label_value_errors(value):
            report.add(item_path, "label value %s %s" % (show(value), error))
    if values is not None and not isinstance(values, list):
        return
    if operator in ("In", "NotIn") and not values:
        report.add(values_path, "values must list at least one value when operator is %s" % operator)
    if operator in ("Exists", "DoesNotExist") and values:
        report.add(values_path, "values must be empty or absent when operator is %s, found %s" % (operator, show(values)))


def _check_selector(report, path, selector):
    if not isinstance(selector, dict):
        report.wrong_type(path, selector, "a label selector mapping (matchLabels/matchExpressions; {} selects all)")
        return
    _check_fields(report, path, selector, SELECTOR_FIELDS, "a label selector")
    labels_path = join_path(path, "matchLabels")
    labels = selector.get("matchLabels")
    if isinstance(labels, dict):
        _check_label_map(report, labels_path, labels)
    elif labels is not None:
        report.wrong_type(labels_path, labels, "a mapping of label keys to values")
    expressions_path = join_path(path, "matchExpressions")
    for item_path, requirement in _items(report, expressions_path, selector.get("matchExpressions"), "requirements"):
        _check_requirement(report, item_path, requirement)


def validate_label_selector(document, path, selector):
    """Problems of one label selector (matchLabels/matchExpressions) found at path in document."""
    report = _Report(document)
    _check_selector(report, path, selector)
    return report.problems


def validate_ip_block(document, path, block):
    """Problems of one ipBlock ({cidr, except}) found at path in document."""
    report = _Report(document, label="")
    _check_ip_block(report, path, block)
    return report.problems


def _check_metadata(report, metadata):
    if metadata is None:
        report.add("metadata", "metadata is required, with at least metadata.name")
        return
    if not isinstance(metadata, dict):
        report.wrong_type("metadata", metadata, "a mapping (name, namespace, labels...)")
        return
    _check_fields(report, "metadata", metadata, tuple(METADATA_TYPES), "metadata")
    for key, (types, expected) in METADATA_TYPES.items():
        if key in LIST_FIELDS_CHECKED_BY_ITEM:
            continue
        value = metadata.get(key)
        if value is not None and (not isinstance(value, types) or isinstance(value, bool)):
            report.wrong_type(join_path("metadata", key), value, expected)
    name = metadata.get("name")
    if name is None or name == "":
        report.add("metadata.name", "metadata.name is required: the policy's name (generateName is not enough)")
    elif isinstance(name, str):
        _check_string(report, "metadata.name", name, dns1123_subdomain_errors, "name")
    namespace = metadata.get("namespace")
    if isinstance(namespace, str) and namespace:
        _check_string(report, "metadata.namespace", namespace, dns1123_label_errors, "namespace")
    if isinstance(metadata.get("labels"), dict):
        _check_label_map(report, "metadata.labels", metadata["labels"])
    annotations = metadata.get("annotations")
    for key, value in annotations.items() if isinstance(annotations, dict) else ():
        key_path = _field_path("metadata.annotations", key)
        if not isinstance(key, str):
            report.add(key_path, "annotation key %s must be a string: quote it (%s)" % (show(key), show(show(key))))
        else:
            for error in qualified_name_errors(key.lower()):
                report.add(key_path, "annotation key %s %s" % (show(key), error))
        if not isinstance(value, str):
            report.add(key_path, "annotation value must be a string, found %s: quote it (%s)" % (described(value), show(show(value))))
    if isinstance(annotations, dict):
        size = sum(len(str(key).encode()) + len(str(value).encode()) for key, value in annotations.items())
        if size > MAX_ANNOTATIONS_BYTES:
            report.add("metadata.annotations", "annotations take %d bytes: the API server allows %d in all"
                       % (size, MAX_ANNOTATIONS_BYTES))
    for item_path, finalizer in _string_items(report, "metadata.finalizers", metadata.get("finalizers"), "finalizer names"):
        for error in qualified_name_errors(finalizer):
            report.add(item_path, "finalizer %s %s" % (show(finalizer), error))
    for item_path, reference in _items(report, "metadata.ownerReferences", metadata.get("ownerReferences"), "owner references"):
        _check_owner_reference(report, item_path, reference)
    for item_path, entry in _items(report, "metadata.managedFields", metadata.get("managedFields"), "managed field entries"):
        if not isinstance(entry, dict):
            report.wrong_type(item_path, entry, "a mapping")


def _check_owner_reference(report, path, reference):
    if not isinstance(reference, dict):
        report.wrong_type(path, reference, "a mapping (apiVersion, kind, name, uid)")
        return
    _check_fields(report, path, reference, tuple(OWNER_REFERENCE_FIELDS), "an owner reference")
    for name, expected in OWNER_REFERENCE_FIELDS.items():
        value = reference.get(name)
        if value is None:
            if name in OWNER_REFERENCE_REQUIRED:
                report.add(join_path(path, name), "%s is required in an owner reference" % name)
        elif not isinstance(value, expected):
            report.wrong_type(join_path(path, name), value, "a string" if expected is str else "true or false")


def _check_cidr(report, path, value):
    """The IPNetwork written at path, or None (reported) when it is not a valid CIDR."""
    if not isinstance(value, str):
        report.wrong_type(path, value, "a CIDR string such as 10.0.0.0/24 or 2001:db8::/64")
        return None
    if netaddr is None:
        report.add(path, "cannot check CIDR %s: the netaddr Python library is required" % show(value))
        return None
    address, slash, prefix = value.partition("/")
    network = None
    if slash and address and _PREFIX_LENGTH.fullmatch(prefix):
        try:
            network = netaddr.IPNetwork(value)
        except (netaddr.AddrFormatError, ValueError, TypeError):
            network = None
    if network is None:
        report.add(path, "%s is not a valid CIDR: expected an IPv4 or IPv6 address, '/', and a prefix length "
                   "(e.g. 10.0.0.0/24, 2001:db8::/64)" % show(value))
        return None
    if network.version == 6 and network.ip.is_ipv4_mapped():
        report.warn(path, "%s is an IPv4-mapped IPv6 CIDR: the API server warns that it is ambiguous (and rejects it"
                    " under strict validation); write the IPv4 CIDR" % show(value))
    elif network.ip != network.network:
        report.warn(path, "%s has host bits set: the API server reads it as %s, warns that it is ambiguous (and rejects"
                    " it under strict validation); write %s" % (show(value), network.cidr, network.cidr))
    return network


def _check_ip_block(report, path, block):
    if not isinstance(block, dict):
        report.wrong_type(path, block, "a mapping with cidr and optional except")
        return
    _check_fields(report, path, block, IPBLOCK_FIELDS, "an ipBlock")
    cidr_path = join_path(path, "cidr")
    cidr = block.get("cidr")
    network = None
    if cidr is None or cidr == "":
        report.add(cidr_path, "cidr is required in an ipBlock (e.g. 10.0.0.0/24)")
    else:
        network = _check_cidr(report, cidr_path, cidr)
    for item_path, text in _string_items(report, join_path(path, "except"), block.get("except"), "CIDRs"):
        excluded = _check_cidr(report, item_path, text)
        if excluded is None or network is None:
            continue
        if excluded.version != network.version:
            report.add(item_path, "except %s is IPv%d but cidr %s is IPv%d: both must be of the same family"
                       % (show(text), excluded.version, show(cidr), network.version))
        elif excluded.prefixlen <= network.prefixlen or excluded not in network:
            report.add(item_path, "except %s must be a strict subset of cidr %s (inside it, with a longer prefix)"
                       % (show(text), show(cidr)))


def _check_port_number(report, path, value, what):
    if not is_integer(value):
        report.wrong_type(path, value, "an integer port number (1-65535)")
        return False
    if not 1 <= value <= 65535:
        report.add(path, "%s %d is out of range: must be between 1 and 65535" % (what, value))
        return False
    return True


def _check_protocol(report, path, protocol):
    if protocol is None or protocol in PROTOCOLS:
        return
    if isinstance(protocol, str) and protocol.upper() in PROTOCOLS:
        report.add(path, "protocol %s is not supported: must be uppercase %s" % (show(protocol), protocol.upper()))
    else:
        report.add(path, "protocol %s is not supported: must be one of %s" % (show(protocol), ", ".join(PROTOCOLS)))


def _check_port(report, path, entry):
    if entry is None:
        report.warn(path, "a null port entry is read as {} by the API server: every TCP port; write {} if that is meant")
        return
    if not isinstance(entry, dict):
        report.wrong_type(path, entry, "a mapping (protocol, port, endPort; {} means every TCP port)")
        return
    _check_fields(report, path, entry, PORT_FIELDS, "a port entry")
    _check_protocol(report, join_path(path, "protocol"), entry.get("protocol"))
    port_path = join_path(path, "port")
    port = entry.get("port")
    numeric = False
    if isinstance(port, str):
        _check_string(report, port_path, port, port_name_errors, "named port")
    elif port is not None:
        numeric = _check_port_number(report, port_path, port, "port")
    end_path = join_path(path, "endPort")
    end = entry.get("endPort")
    if end is None:
        return
    if _check_port_number(report, end_path, end, "endPort") and numeric and end < port:
        report.add(end_path, "endPort %d must be greater than or equal to port %d" % (end, port))
    if port is None:
        report.add(end_path, "endPort %s needs a port: the range starts at port" % show(end))
    elif isinstance(port, str):
        report.add(end_path, "endPort %s needs a numeric port, found named port %s" % (show(end), show(port)))


def _check_ports(report, path, ports):
    for item_path, entry in _items(report, path, ports, "port entries"):
        _check_port(report, item_path, entry)


def _check_peer(report, path, peer):
    if not isinstance(peer, dict):
        report.wrong_type(path, peer, "a peer mapping (podSelector, namespaceSelector or ipBlock)")
        return
    _check_fields(report, path, peer, PEER_FIELDS, "a from/to peer")
    if "ports" in peer:
        _check_ports(report, join_path(path, "ports"), peer["ports"])
    for name in ("podSelector", "namespaceSelector"):
        if name in peer and peer[name] is None:
            report.warn(join_path(path, name), "%s is null, which the API reads as absent (not as {}, which selects all):"
                        " remove the field, or write {}" % name)
        elif name in peer:
            _check_selector(report, join_path(path, name), peer[name])
    if peer.get("ipBlock") is not None:
        _check_ip_block(report, join_path(path, "ipBlock"), peer["ipBlock"])
    present = [name for name in PEER_FIELDS if peer.get(name) is not None]
    if not present:
        report.add(path, "a peer must set podSelector, namespaceSelector or ipBlock (null counts as absent), found %s"
                   % show(peer))
    elif "ipBlock" in present and len(present) > 1:
        report.add(path, "ipBlock may not be combined with %s in one peer: write them as separate peers"
                   % " or ".join(name for name in present if name != "ipBlock"))


def _check_rule(report, path, rule, peers_field, other_field):
    if rule is None:
        report.warn(path, "a null rule is read as {} by the API server, which allows every %s on every port: write {}"
                    " if that is meant" % ("source" if peers_field == "from" else "destination"))
        return
    if not isinstance(rule, dict):
        report.wrong_type(path, rule, "a rule mapping (%s, ports; {} allows everything)" % peers_field)
        return
    direction, other_direction = ("ingress", "egress") if peers_field == "from" else ("egress", "ingress")
    if other_field in rule:
        report.add(join_path(path, other_field), "unknown field %s in an %s rule: %s rules use %s (%s is for %s rules)"
                   % (show(other_field), direction, direction, show(peers_field), show(other_field), other_direction))
        for item_path, peer in _items(report, join_path(path, other_field), rule[other_field], "peers"):
            _check_peer(report, item_path, peer)
    _check_fields(report, path, rule, (peers_field, "ports"), "an %s rule" % direction, reported=(other_field,))
    for item_path, peer in _items(report, join_path(path, peers_field), rule.get(peers_field), "peers"):
        _check_peer(report, item_path, peer)
    _check_ports(report, join_path(path, "ports"), rule.get("ports"))


def _check_policy_types(report, types):
    seen = set()
    items = _items(report, "spec.policyTypes", types, "policy types (Ingress, Egress)")
    if len(items) > 2:
        report.add("spec.policyTypes", "may not list more than two policyTypes, found %d: %s" % (len(items), show(types)))
    for item_path, name in items:
        if name not in POLICY_TYPES:
            report.add(item_path, "policy type %s is not supported: %s" % (show(name), one_of(name, POLICY_TYPES)))
        elif name in seen:
            report.warn(item_path, "policy type %s is listed twice (the API server accepts it)" % show(name))
        else:
            seen.add(name)


def _check_spec(report, spec):
    if spec is None:
        report.warn("spec", "no spec: the API server reads it as {}, which isolates every pod of the namespace for"
                    " ingress and allows nothing in; write spec: {podSelector: {}} if that is meant")
        return
    if not isinstance(spec, dict):
        report.wrong_type("spec", spec, "a mapping (podSelector, ingress, egress, policyTypes)")
        return
    _check_fields(report, "spec", spec, SPEC_FIELDS, "spec")
    if spec.get("podSelector") is None:
        report.warn("spec.podSelector", "spec.podSelector is %s: the API server reads it as {}, which selects every pod"
                    " of the namespace; write podSelector: {} if that is meant"
                    % ("null" if "podSelector" in spec else "missing"))
    else:
        _check_selector(report, "spec.podSelector", spec["podSelector"])
    _check_policy_types(report, spec.get("policyTypes"))
    for direction, peers_field, other_field in (("ingress", "from", "to"), ("egress", "to", "from")):
        for item_path, rule in _items(report, join_path("spec", direction), spec.get(direction), "rules"):
            _check_rule(report, item_path, rule, peers_field, other_field)


def _check_header(report, obj):
    """apiVersion and kind; False when the manifest is not a NetworkPolicy at all."""
    kind = obj.get("kind")
    if kind is None:
        report.add("kind", "kind is required: must be %s" % KIND)
        return False
    if kind != KIND:
        report.add("kind", "kind %s found where a %s was expected: only %s/%s manifests belong here"
                   % (show(kind), KIND, API_VERSION, KIND))
        return False
    version = obj.get("apiVersion")
    if version is None:
        report.add("apiVersion", "apiVersion is required: must be %s" % API_VERSION)
    elif version != API_VERSION:
        removed = " (extensions/v1beta1 was removed in Kubernetes 1.16)" if version == "extensions/v1beta1" else ""
        report.add("apiVersion", "apiVersion %s is not supported: %s is served only as %s%s"
                   % (show(version), KIND, API_VERSION, removed))
    return True


def policy_label(obj, default_namespace):
    """namespace/name for messages, with the namespace the policy will really get."""
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(name, str) or not name:
        return ""
    namespace = metadata.get("namespace")
    return "%s/%s" % (namespace if isinstance(namespace, str) and namespace else default_namespace, name)


def validate_policy(document, default_namespace="default"):
    """Every problem of one NetworkPolicy manifest; an empty list means the API would accept it."""
    obj = document.obj
    if not isinstance(obj, dict):
        return [document.problem("", "a manifest must be a mapping (apiVersion, kind, metadata, spec), found %s"
                                 % described(obj))]
    report = _Report(document, policy_label(obj, default_namespace))
    if _check_header(report, obj):
        _check_fields(report, "", obj, TOP_FIELDS, "a NetworkPolicy")
        _check_metadata(report, obj.get("metadata"))
        _check_spec(report, obj.get("spec"))
    return report.problems
