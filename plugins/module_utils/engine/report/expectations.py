# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Expectations: a team's tests for its policies, a YAML file in the policy repository.

    expectations:
      - name: the shop's web pods reach the database
        from: {namespace: shop, workload: web}
        to: {namespace: shop, podSelector: {matchLabels: {app: db}}}
        ports: [TCP/5432]
        expect: allowed

An end (from, to) picks running pods: by namespace (a name) or namespaceSelector (a label
selector; {} is every namespace), then optionally by workload (its name in the report; with
namespace only) and by podSelector. ports (optional, default every port of every protocol) lists
PROTOCOL, PROTOCOL/PORT or PROTOCOL/FIRST-LAST. expect: allowed holds when every connection
between a picked source and a picked destination (distinct pods, each IP family both have, every
port listed) is allowed; denied when every one is denied. An end that picks no pod violates the
expectation: it would test nothing. The file is read and validated like manifests, every problem
located by file, line and field.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import selector_from_manifest
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.connections import Decisions, Grouped, class_pairs, families
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.ports import cut, every_port, joined, parse_port_spec, specs
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.reasons import ordered
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.selectors import selector_matches
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import InputError, Problem
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.validate import show, validate_label_selector
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.yamldoc import join_path, read_documents

ALLOWED = "allowed"
DENIED = "denied"
EXPECTATION_FIELDS = ("name", "from", "to", "ports", "expect")
END_FIELDS = ("namespace", "namespaceSelector", "workload", "podSelector")


@dataclass(frozen=True)
class End:
    """Which running pods one end of an expectation picks."""

    namespace: str | None = None
    namespace_selector: object = None  # LabelSelector
    workload: str | None = None
    pod_selector: object = None  # LabelSelector
    text: str = ""

    def picks(self, pod, workload, namespaces):
        if self.namespace is not None and pod.namespace != self.namespace:
            return False
        if self.namespace_selector is not None:
            namespace = namespaces.get(pod.namespace)
            if namespace is None or not selector_matches(self.namespace_selector, dict(namespace.labels)):
                return False
        if self.workload is not None and workload.name != self.workload:
            return False
        return self.pod_selector is None or selector_matches(self.pod_selector, dict(pod.labels))


@dataclass(frozen=True)
class Expectation:
    name: str
    source: End
    destination: End
    ports: tuple  # PortRanges
    expect: str
    file: str
    line: int | None


class _Reader:
    """Reads the expectations of one document, keeping every problem with its line."""

    def __init__(self, document):
        self.document = document
        self.problems = []

    def problem(self, path, message, name=""):
        self.problems.append(self.document.problem(path, message, name))

    def unknown_fields(self, path, obj, allowed, name):
        for key in obj:
            if key not in allowed:
                self.problem(join_path(path, str(key)), "unknown field %r (allowed: %s)" % (key, ", ".join(allowed)), name)

    def selector(self, path, value, name):
        found = validate_label_selector(self.document, path, value)
        # A test must say exactly what it means: what the API server only warns about is an error here.
        self.problems.extend(Problem(problem.file, problem.message, name, problem.field, problem.line) for problem in found)
        return None if found else selector_from_manifest(value)

    def end(self, path, value, name):
        if not isinstance(value, dict):
            self.problem(path, "must be a mapping with namespace or namespaceSelector, and optionally workload and"
                         " podSelector", name)
            return None
        count = len(self.problems)
        self.unknown_fields(path, value, END_FIELDS, name)
        for key in ("namespace", "workload"):
            if key in value and (not isinstance(value[key], str) or not value[key]):
                self.problem(join_path(path, key), "must be a non-empty string, found %r" % (value[key],), name)
        if ("namespace" in value) == ("namespaceSelector" in value):
            self.problem(path, "give exactly one of namespace (a name) and namespaceSelector ({} for every namespace)", name)
        if "workload" in value and "namespace" not in value:
            self.problem(join_path(path, "workload"), "a workload is named within one namespace: give namespace too", name)
        selectors = {key: self.selector(join_path(path, key), value[key], name)
                     for key in ("namespaceSelector", "podSelector") if key in value}
        if len(self.problems) > count:
            return None
        text = ", ".join("%s=%s" % (key, value[key] if isinstance(value[key], str) else show(value[key]))
                         for key in END_FIELDS if key in value)
        return End(value.get("namespace"), selectors.get("namespaceSelector"), value.get("workload"),
                   selectors.get("podSelector"), text)

    def ports(self, path, value, name):
        if value is None:
            return tuple(every_port())
        if not isinstance(value, list) or not value:
            self.problem(path, "must be a non-empty list such as [TCP/80, UDP/53, TCP/8000-8080, SCTP]", name)
            return ()
        found = []
        for index, text in enumerate(value):
            try:
                found.append(parse_port_spec(text))
            except ValueError as exc:
                self.problem(join_path(path, index), str(exc), name)
        return tuple(found)

    def expectation(self, path, value, seen):
        if not isinstance(value, dict):
            self.problem(path, "must be a mapping (name, from, to, ports, expect)")
            return None
        name = value.get("name", path)
        if not isinstance(name, str) or not name:
            self.problem(join_path(path, "name"), "must be a non-empty string, found %r" % (name,))
            name = path
        elif name in seen:
            self.problem(join_path(path, "name"), "the name is already used at line %s" % seen[name], name)
        seen.setdefault(name, self.document.line_of(path))
        count = len(self.problems)
        self.unknown_fields(path, value, EXPECTATION_FIELDS, name)
        ends = []
        for key in ("from", "to"):
            if key not in value:
                self.problem(join_path(path, key), "is required: the pods at this end", name)
            ends.append(self.end(join_path(path, key), value.get(key), name) if key in value else None)
        ports = self.ports(join_path(path, "ports"), value.get("ports"), name)
        expect = value.get("expect")
        if expect not in (ALLOWED, DENIED):
            self.problem(join_path(path, "expect"), "must be allowed or denied, found %r" % (expect,), name)
        if len(self.problems) > count:
            return None
        return Expectation(name, ends[0], ends[1], ports, expect, self.document.file, self.document.line_of(path))

    def read(self):
        obj = self.document.obj
        if not isinstance(obj, dict) or not isinstance(obj.get("expectations"), list):
            self.problem("expectations", "an expectations file is a mapping whose expectations key lists the expectations")
            return ()
        self.unknown_fields("", obj, ("expectations",), "")
        seen = {}
        found = [self.expectation(join_path("expectations", index), value, seen) for index, value in enumerate(obj["expectations"])]
        return tuple(item for item in found if item is not None)


def load_expectations(path):
    """The expectations of a file, or InputError naming every problem by file, line and field."""
    documents, problems = read_documents(path)
    if not problems and len(documents) != 1:
        problems = [Problem(str(path), "an expectations file holds exactly one YAML document, found %d" % len(documents))]
    if problems:
        raise InputError(problems)
    reader = _Reader(documents[0])
    expectations = reader.read()
    if reader.problems:
        raise InputError(reader.problems)
    return expectations


@dataclass(frozen=True)
class Violation:
    """Connections of one workload pair that break an expectation for the same reasons, with one of
    them explained in words (explain's reasons)."""

    source: str
    destination: str
    ports: tuple
    pairs: int
    reasons: tuple
    example: dict

    def to_dict(self):
        return {"from": self.source, "to": self.destination, "ports": specs(self.ports), "pairs": self.pairs,
                "reasons": [reason.text() for reason in self.reasons], "example": self.example}

    def text(self):
        return "%s -> %s %s (%d pod pair%s): %s -> %s %s/%d (IPv%d): %s" % (
            self.source, self.destination, ", ".join(specs(self.ports)), self.pairs, "" if self.pairs == 1 else "s",
            self.example["from"], self.example["to"], self.example["protocol"], self.example["port"], self.example["family"],
            "; ".join(self.example["reasons"]))


@dataclass(frozen=True)
class Result:
    expectation: Expectation
    pairs: int
    violations: tuple
    problem: str = ""  # an end that picks no pod

    @property
    def passed(self):
        return not self.violations and not self.problem

    def to_dict(self):
        item = self.expectation
        return {"name": item.name, "file": item.file, "line": item.line, "expect": item.expect, "from": item.source.text,
                "to": item.destination.text, "ports": specs(item.ports), "pairs": self.pairs, "passed": self.passed,
                "problem": self.problem, "violations": [violation.to_dict() for violation in self.violations],
                "lines": [] if self.passed else self.lines()}

    def lines(self):
        """The failure in words: the expectation, then each violation."""
        item = self.expectation
        where = item.file if item.line is None else "%s:%d" % (item.file, item.line)
        head = "%s: expectation %r (%s -> %s, %s: %s) is violated" % (
            where, item.name, item.source.text, item.destination.text, ", ".join(specs(item.ports)), item.expect)
        if self.problem:
            return [head + ": " + self.problem]
        return [head + " by:"] + ["  - " + violation.text() for violation in self.violations]


class _Found:
    def __init__(self, example):
        self.pieces = set()
        self.pairs = {}
        self.example = example


def _picked(end, workloads, namespaces):
    """[(workload, its endpoints the end picks)] for workloads with at least one."""
    found = []
    for workload in workloads:
        endpoints = [endpoint for endpoint in workload.endpoints if end.picks(endpoint.pod, workload, namespaces)]
        if endpoints:
            found.append((workload, endpoints))
    return found


def check_expectation(judged, workloads, namespaces, expectation):
    """The Result of one expectation on a Judged policy set; workloads: group_workloads'."""
    sources = _picked(expectation.source, workloads, namespaces)
    destinations = _picked(expectation.destination, workloads, namespaces)
    for end, picked in (("from", sources), ("to", destinations)):
        if not picked:
            return Result(expectation, 0, (), "%s picks no running pod, so it tests nothing" % end)
    pieces = cut(expectation.ports, judged.starts)
    decisions = Decisions(judged, pieces)
    want = expectation.expect == ALLOWED
    total = 0
    found = {}
    for source, source_endpoints in sources:
        source_grouped = Grouped(source_endpoints, (judged,))
        for destination, destination_endpoints in destinations:
            for pair in class_pairs(source_grouped, Grouped(destination_endpoints, (judged,))):
                pair_families = families(pair)
                total += pair.count if pair_families else 0
                for family in pair_families:
                    for piece, decision in zip(pieces, decisions.of(pair, family)):
                        if decision.allowed == want:
                            continue
                        key = (source.id, destination.id, ordered(decision.reasons))
                        if key not in found:
                            found[key] = _Found({"from": pair.source.name, "to": pair.destination.name, "protocol": piece.protocol,
                                                 "port": piece.first, "family": family,
                                                 "reasons": list(judged.explain(pair.source, pair.destination, family, piece))})
                        found[key].pieces.add(piece)
                        found[key].pairs[(pair.source_key, pair.destination_key)] = pair.count
    if not total:
        return Result(expectation, 0, (), "no pair of distinct pods with a common IP family between from and to, so it tests nothing")
    violations = tuple(Violation(source, destination, tuple(joined(entry.pieces)), sum(entry.pairs.values()), reasons, entry.example)
                       for (source, destination, reasons), entry in found.items())
    return Result(expectation, total, violations)


def check_expectations(judged, workloads, namespaces, expectations):
    return [check_expectation(judged, workloads, namespaces, expectation) for expectation in expectations]
