# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connections between many pods, judged once per pair of endpoint classes.

The class analysis (engine/analysis.py) tells which endpoints no policy tells apart; one
representative pair of each pair of classes is then put to the one verdict (plan/verdict.py),
which says allowed or denied and which rules decide it for every pair of those classes. The two
read the same plan, and every verdict asked is checked against the analysis, so a report can
never show an answer the nodes would not enforce. Pods are grouped (Grouped) by their classes in
each policy set compared, so that the pairs of two groups share every verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.analysis import ClassMatrix, node_local
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.explain import ClusterVerdicts, explain
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.reasons import decisive_reasons
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import FAMILIES
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.verdict import judge, port_matches


class AnalysisDisagrees(RuntimeError):
    """The class analysis and the one verdict gave two answers: a bug, never a report."""


@dataclass(frozen=True)
class Decision:
    """The verdict for every pair of two classes on one port piece, what decided it, and the
    (direction, policies) isolating the ends (what the verdict read)."""

    allowed: bool
    reasons: tuple
    isolating: tuple = ()

    @cached_property
    def summary(self):
        """(allowed, denied, reasons if allowed, reasons if denied), the form matrices add up."""
        reasons = frozenset(self.reasons)
        return (self.allowed, not self.allowed, reasons if self.allowed else frozenset(), frozenset() if self.allowed else reasons)


class Judged:
    """A policy set on the cluster facts: the one verdict, and the class analysis of the same plan
    over the given endpoints (the only endpoints it can judge)."""

    def __init__(self, cluster, policies, endpoints):
        self.policies = tuple(policies)
        self.verdicts = ClusterVerdicts(cluster, self.policies)
        self.matrix = ClassMatrix(self.verdicts.plan, endpoints)

    def starts(self, protocol):
        """The first port of each range of a protocol that the policies tell apart."""
        return [first for first, _last in self.matrix.port_ranges(protocol)]

    def classes(self, endpoint):
        """The endpoint's class in each IP family (None without an address of that family)."""
        return tuple(self.matrix.class_of(endpoint, family) for family in FAMILIES)

    def allowed(self, source_class, destination_class, piece):
        """The class analysis's verdict between two classes on a port piece (no reasons)."""
        return self.matrix.allowed(source_class, destination_class, piece.protocol, piece.first)

    def decide(self, source_class, destination_class, source, destination, family, piece):
        """The Decision for every pair of two classes in one family on a port piece (judged at its
        first port): the one verdict for source -> destination, members of those classes."""
        verdict = judge(self.verdicts.view_of(source), self.verdicts.view_of(destination), source.ip(family),
                        destination.ip(family), piece.protocol, piece.first)
        if verdict.allowed != self.allowed(source_class, destination_class, piece):
            # The report would say what no node enforces.
            raise AnalysisDisagrees("the class analysis and the one verdict disagree on %s -> %s %s/%d (IPv%d): "
                                    "please report this bug" % (source.name, destination.name, piece.protocol, piece.first, family))
        return Decision(verdict.allowed, decisive_reasons(verdict), tuple((side.direction, tuple(side.isolated_by)) for side in verdict.sides))

    def port_lists(self, isolating):
        """The port lists of every clause of the isolating policies' rules, in those directions."""
        policies = self.verdicts.plan["policies"]
        return [clause.get("ports") for direction, keys in isolating for key in keys
                for rule in policies[key][direction] for clause in rule["clauses"]]

    def explain(self, source, destination, family, piece):
        """The verdict in words for these two endpoints (explain's reasons, with their names)."""
        return explain(self.verdicts, source, destination, piece.protocol, piece.first, family).reasons


class Decisions:
    """The Decisions of one policy set on a list of port pieces, per pair of classes. position: which
    policy set of the Grouped keys this one is.

    A verdict reads the port only through port_matches on the clauses of the policies isolating the
    two ends, so pieces that every such clause admits alike get the same verdict for the same
    reasons: each class pair is put to the one verdict once per such group of pieces (one Decision
    object for all of them), each verdict checked against the class analysis."""

    def __init__(self, judged, pieces, position=0):
        self.judged = judged
        self.pieces = tuple(pieces)
        self.position = position
        self._found = {}
        self._groups = {}

    def groupings(self):
        """Every grouping of the pieces used so far (a group number per piece): two pieces get the
        same Decision object from every class pair when every grouping puts them together."""
        return list(self._groups.values())

    def of(self, pair, family):
        """The Decision on each piece for a ClassPair in one family. Classes differ by what the policies
        see of their endpoints (the profile) and by node placement, which only decides whether traffic
        is between a pod and its own node: the Decisions are kept by profiles and that."""
        index = FAMILIES.index(family)
        source_class = pair.source_key[self.position][index]
        destination_class = pair.destination_key[self.position][index]
        key = (family, source_class.profile, destination_class.profile, node_local(source_class, destination_class))
        found = self._found.get(key)
        if found is None:
            found = self._found[key] = self._decide(source_class, destination_class, pair.source, pair.destination, family)
        return found

    def _decide(self, source_class, destination_class, source, destination, family):
        first = self.judged.decide(source_class, destination_class, source, destination, family, self.pieces[0])
        groups = self._groups_of(first.isolating)
        decided = {groups[0]: first}
        found = []
        for piece, group in zip(self.pieces, groups):
            if group not in decided:
                decided[group] = self.judged.decide(source_class, destination_class, source, destination, family, piece)
            found.append(decided[group])
        return tuple(found)

    def _groups_of(self, isolating):
        """For each piece, the group of pieces the isolating policies' clauses admit alike."""
        if isolating not in self._groups:
            lists = self.judged.port_lists(isolating)
            signatures = {}
            self._groups[isolating] = tuple(
                signatures.setdefault(tuple(port_matches(ports, piece.protocol, piece.first) for ports in lists), len(signatures))
                for piece in self.pieces)
        return self._groups[isolating]


def starts_of(judged_sets):
    """starts(protocol) over several policy sets: every range any of them tells apart."""
    def starts(protocol):
        return sorted({start for judged in judged_sets for start in judged.starts(protocol)})
    return starts


@dataclass(frozen=True)
class ClassPair:
    """count pairs of distinct endpoints, one end of each key; source and destination are one of them."""

    source_key: tuple
    destination_key: tuple
    count: int
    source: object
    destination: object


class Grouped:
    """Endpoints grouped by their classes in each policy set: pairs of one key pair share verdicts."""

    def __init__(self, endpoints, judged_sets):
        self.by_key = {}
        for endpoint in endpoints:
            key = tuple(judged.classes(endpoint) for judged in judged_sets)
            self.by_key.setdefault(key, []).append(endpoint)


def _example(sources, destinations):
    """Two distinct endpoints, one from each list, or None."""
    for source in sources[:2]:
        for destination in destinations[:2]:
            if source is not destination:
                return source, destination
    return None


def class_pairs(sources, destinations):
    """The ClassPairs between two Grouped sets: every pair of distinct endpoints, counted once."""
    for source_key, source_members in sources.by_key.items():
        for destination_key, destination_members in destinations.by_key.items():
            count = len(source_members) * len(destination_members)
            if source_key == destination_key:
                count -= len(set(map(id, source_members)) & set(map(id, destination_members)))
            example = _example(source_members, destination_members)
            if count and example is not None:
                yield ClassPair(source_key, destination_key, count, example[0], example[1])


def families(pair):
    """The IP families in which both ends of a class pair have an address (from the first policy set's classes)."""
    return [family for family, source_class, destination_class in zip(FAMILIES, pair.source_key[0], pair.destination_key[0])
            if source_class is not None and destination_class is not None]
