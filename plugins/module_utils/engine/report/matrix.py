# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The workload matrix: for each set of ports, whether each workload may reach each other one.

A cell covers every pair of distinct running pods (source in one workload, destination in the
other), in each IP family both have, on every port of the set: allowed when all of those
connections are, denied when none is, partial otherwise. It names what decides it: the rules that
allow its allowed connections, and the policies isolating an end of its denied ones.

Without a port list, the ports are every port of every protocol, cut where the policies tell
ports apart, and pieces whose matrices are equal (same verdicts, same deciding rules) share one
matrix: a report shows as many matrices as the policies make different.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.connections import Decisions, Grouped, class_pairs, families
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.ports import cut, every_port, specs
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.reasons import ordered

ALLOWED = "allowed"
DENIED = "denied"
PARTIAL = "partial"


@dataclass(frozen=True)
class Cell:
    """source -> destination (workload ids): pod pairs, how many are allowed (denied) on every port
    and family, and the reasons of the allowed and of the denied connections."""

    source: str
    destination: str
    pairs: int
    allowed_pairs: int
    denied_pairs: int
    allowed_by: tuple
    denied_by: tuple

    @property
    def verdict(self):
        if self.allowed_pairs == self.pairs:
            return ALLOWED
        return DENIED if self.denied_pairs == self.pairs else PARTIAL

    def to_dict(self, reasons):
        """As JSON; reasons: the ReasonTable its reasons are indexes into."""
        return {"from": self.source, "to": self.destination, "verdict": self.verdict, "pairs": self.pairs,
                "allowed_pairs": self.allowed_pairs, "denied_pairs": self.denied_pairs,
                "allowed_by": [reasons.index(reason) for reason in self.allowed_by],
                "denied_by": [reasons.index(reason) for reason in self.denied_by]}


@dataclass(frozen=True)
class PortMatrix:
    """The cells of one set of ports (PortRanges, joined), in workload order; a pair of workloads with
    no pair of pods (a one-pod workload and itself, or no common IP family) has no cell."""

    ports: tuple
    cells: tuple

    def to_dict(self, reasons):
        return {"ports": specs(self.ports), "cells": [cell.to_dict(reasons) for cell in self.cells]}


class _Side:
    """A workload's endpoints grouped by class, made once for all of its cells."""

    def __init__(self, workload, judged_sets):
        self.id = workload.id
        self.grouped = Grouped(workload.endpoints, judged_sets)


def sides(workloads, judged_sets):
    return [_Side(workload, judged_sets) for workload in workloads]


def _compositions(decisions, workload_sides):
    """([(source id, destination id, composition)], found): every workload pair with a pair of pods,
    its composition the class pairs it is made of (indexes into found) with their pod pair counts;
    found[i]: the Decisions of class pair i, per family, per piece."""
    compositions = []
    index_of = {}
    found = []
    for source in workload_sides:
        for destination in workload_sides:
            composition = []
            for pair in class_pairs(source.grouped, destination.grouped):
                pair_families = families(pair)
                if not pair_families:
                    continue
                key = (pair.source_key, pair.destination_key)
                if key not in index_of:
                    index_of[key] = len(found)
                    found.append(tuple(decisions.of(pair, family) for family in pair_families))
                composition.append((index_of[key], pair.count))
            if composition:
                compositions.append((source.id, destination.id, tuple(composition)))
    return compositions, found


class _Bodies:
    """What a cell holds but its ends, per composition and group of pieces: workload pairs made of the
    same class pairs have the same cells, and equal bodies are one object."""

    def __init__(self, found, groups):
        self.found = found
        self.groups = groups
        self._summaries = {}
        self._bodies = {}
        self._interned = {}
        self._ordered = {}

    def _summary(self, index, group):
        """(all allowed, none allowed, allowed reasons, denied reasons) of class pair index on a group of pieces."""
        by_family = self.found[index]
        positions = self.groups[group]
        if len(by_family) == 1 and len(positions) == 1:
            return by_family[0][positions[0]].summary
        key = (index, group)
        if key not in self._summaries:
            summaries = [by_piece[position].summary for by_piece in by_family for position in positions]
            self._summaries[key] = (all(item[0] for item in summaries), all(item[1] for item in summaries),
                                    frozenset().union(*(item[2] for item in summaries)),
                                    frozenset().union(*(item[3] for item in summaries)))
        return self._summaries[key]

    def _in_order(self, reasons):
        if reasons not in self._ordered:
            self._ordered[reasons] = ordered(reasons)
        return self._ordered[reasons]

    def of(self, composition):
        """Per group: (pairs, allowed pairs, denied pairs, allowed_by, denied_by)."""
        if composition in self._bodies:
            return self._bodies[composition]
        bodies = []
        for group in range(len(self.groups)):
            pairs = allowed_pairs = denied_pairs = 0
            allowed_by, denied_by = frozenset(), frozenset()
            for index, count in composition:
                all_allowed, none_allowed, allowed_reasons, denied_reasons = self._summary(index, group)
                pairs += count
                allowed_pairs += count if all_allowed else 0
                denied_pairs += count if none_allowed else 0
                allowed_by = allowed_by | allowed_reasons if allowed_by else allowed_reasons
                denied_by = denied_by | denied_reasons if denied_by else denied_reasons
            allowed_in_order, denied_in_order = self._in_order(allowed_by), self._in_order(denied_by)
            # The ordered reasons are one object per set of reasons: their ids make a cheap key.
            key = (pairs, allowed_pairs, denied_pairs, id(allowed_in_order), id(denied_in_order))
            bodies.append(self._interned.setdefault(key, (pairs, allowed_pairs, denied_pairs, allowed_in_order, denied_in_order)))
        self._bodies[composition] = bodies
        return bodies


def _tables(compositions, found, groups):
    """For each group of piece positions, the cells of every workload pair with a pair of pods, and
    a key equal for groups whose cells are equal."""
    bodies = _Bodies(found, groups)
    tables = [[] for _group in groups]
    keys = [[] for _group in groups]
    for source, destination, composition in compositions:
        for table, key, body in zip(tables, keys, bodies.of(composition)):
            table.append(Cell(source, destination, *body))
            key.append(id(body))
    return [tuple(table) for table in tables], [tuple(key) for key in keys]


def _piece_groups(decisions):
    """Positions of pieces on which every class pair has the same Decisions (Decisions.groupings puts
    them together): one matrix serves them all."""
    groupings = decisions.groupings()
    groups = {}
    for position in range(len(decisions.pieces)):
        groups.setdefault(tuple(grouping[position] for grouping in groupings), []).append(position)
    return list(groups.values())


def workload_matrices(judged, workloads, port_sets=None):
    """The PortMatrix of each port set (lists of PortRanges), or, without port_sets, one per group of
    port pieces that give equal matrices (fewest ports first)."""
    workload_sides = sides(workloads, (judged,))
    if port_sets is not None:
        pieces = sorted({piece for port_set in port_sets for piece in cut(port_set, judged.starts)}, key=lambda piece: piece.order)
        groups = [[pieces.index(piece) for piece in cut(port_set, judged.starts)] for port_set in port_sets]
        compositions, found = _compositions(Decisions(judged, pieces), workload_sides)
        tables, _keys = _tables(compositions, found, groups)
        return [PortMatrix(tuple(port_set), table) for port_set, table in zip(port_sets, tables)]
    pieces = cut(every_port(), judged.starts)
    decisions = Decisions(judged, pieces)
    compositions, found = _compositions(decisions, workload_sides)
    groups = _piece_groups(decisions)
    tables, keys = _tables(compositions, found, [[group[0]] for group in groups])
    merged = {}
    for group, table, key in zip(groups, tables, keys):
        merged.setdefault(key, (table, []))[1].extend(pieces[position] for position in group)
    matrices = [PortMatrix(tuple(sorted(found_pieces, key=lambda piece: piece.order)), table) for table, found_pieces in merged.values()]
    return sorted(matrices, key=lambda matrix: (sum(piece.last - piece.first + 1 for piece in matrix.ports), matrix.ports[0].order))
