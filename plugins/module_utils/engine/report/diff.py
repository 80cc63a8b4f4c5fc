# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a change of policies does: the connections it newly allows and newly denies, on the same
cluster facts, grouped by workload pair and ports.

Each connection (a pair of distinct running pods, an IP family, a port) is judged under both
policy sets. One that changes is listed with what decides it now (the rule that now allows it,
or the policies that now isolate an end with no rule allowing it) and what decided it before.
Connections of one workload pair whose change has the same reasons are one entry, their ports
joined; pairs counts the pod pairs that changed on those ports.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.connections import Decisions, class_pairs, families, starts_of
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.matrix import sides
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.ports import cut, every_port, joined, specs
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.reasons import ordered

NEWLY_ALLOWED = "newly allowed"
NEWLY_DENIED = "newly denied"


@dataclass(frozen=True)
class Change:
    """Connections of one workload pair that changed the same way, for the same reasons."""

    source: str
    destination: str
    change: str
    ports: tuple  # PortRanges, joined
    families: tuple
    pairs: int
    now: tuple  # Reasons under the new policies
    before: tuple  # Reasons under the baseline

    def to_dict(self, locations=None, baseline_locations=None):
        return {"from": self.source, "to": self.destination, "change": self.change, "ports": specs(self.ports),
                "families": list(self.families), "pairs": self.pairs,
                "now": [reason.to_dict(locations) for reason in self.now],
                "before": [reason.to_dict(baseline_locations) for reason in self.before]}


class _Found:
    def __init__(self):
        self.pieces = set()
        self.families = set()
        self.pairs = {}


def policy_diff(new, old, workloads):
    """Every Change from the baseline (old, a Judged) to the new policies (new), newly denied first,
    then by workload pair and port."""
    pieces = cut(every_port(), starts_of((new, old)))
    now_decisions, before_decisions = Decisions(new, pieces, 0), Decisions(old, pieces, 1)
    workload_sides = sides(workloads, (new, old))
    found = {}
    for source in workload_sides:
        for destination in workload_sides:
            for pair in class_pairs(source.grouped, destination.grouped):
                for family in families(pair):
                    for piece, now, before in zip(pieces, now_decisions.of(pair, family), before_decisions.of(pair, family)):
                        if now.allowed == before.allowed:
                            continue
                        change = NEWLY_ALLOWED if now.allowed else NEWLY_DENIED
                        entry = found.setdefault((source.id, destination.id, change, ordered(now.reasons),
                                                  ordered(before.reasons)), _Found())
                        entry.pieces.add(piece)
                        entry.families.add(family)
                        entry.pairs[(pair.source_key, pair.destination_key)] = pair.count
    changes = [Change(source, destination, change, tuple(joined(entry.pieces)), tuple(sorted(entry.families)),
                      sum(entry.pairs.values()), now, before)
               for (source, destination, change, now, before), entry in found.items()]
    return sorted(changes, key=lambda item: (item.change != NEWLY_DENIED, item.source, item.destination, item.ports[0].order))
