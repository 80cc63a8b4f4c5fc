# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hand-written expectation of a scenario, and the rows it must cover.

A scenario's `expected` key says the verdict of every probed row in a few lines: a default
verdict, then ordered exceptions, each a line of fnmatch globs. The row set is computed here
from the scenario's endpoints and probes alone, never from the engine's answer, so that a
row the engine forgets or invents is caught too.
"""

from __future__ import annotations

import ipaddress
import shlex
from dataclasses import dataclass
from fnmatch import fnmatchcase

VERDICTS = {"allow": True, "deny": False}
EXPECTED_FIELDS = {"default", "except"}
LINE_FIELDS = ("verdict", "source", "destination", "protocol", "port")


class ExpectationError(ValueError):
    """The `expected` key of a scenario is malformed."""


@dataclass(frozen=True)
class ExceptLine:
    """One `except` entry: a verdict for the rows its four globs match."""

    text: str
    allowed: bool
    source: str
    destination: str
    protocol: str
    port: str

    def matches(self, row):
        source, destination, protocol, port = row
        return (fnmatchcase(source, self.source) and fnmatchcase(destination, self.destination)
                and fnmatchcase(protocol, self.protocol) and fnmatchcase(str(port), self.port))


@dataclass(frozen=True)
class Expectation:
    default_allowed: bool
    lines: tuple = ()

    def allowed(self, row):
        """The last matching line wins; no matching line means the default."""
        verdict = self.default_allowed
        for line in self.lines:
            if line.matches(row):
                verdict = line.allowed
        return verdict

    def table(self, rows):
        """The expected truth table over rows, in the engine's output shape."""
        allowed = sorted(list(row) for row in rows if self.allowed(row))
        denied = sorted(list(row) for row in rows if not self.allowed(row))
        return {"allowed": allowed, "denied": denied}

    def unused_lines(self, rows):
        """Lines that match no row: almost always a typo in a name or a port."""
        return [line.text for line in self.lines if not any(line.matches(row) for row in rows)]


def parse_line(text):
    if not isinstance(text, str):
        raise ExpectationError("an except entry must be a string, got %r" % (text,))
    try:
        fields = shlex.split(text)
    except ValueError as exc:
        raise ExpectationError("except entry %r: %s" % (text, exc)) from exc
    if len(fields) != len(LINE_FIELDS):
        raise ExpectationError("except entry %r: needs %d fields (%s), got %d"
                               % (text, len(LINE_FIELDS), " ".join(LINE_FIELDS), len(fields)))
    if fields[0] not in VERDICTS:
        raise ExpectationError("except entry %r: verdict must be allow or deny" % text)
    return ExceptLine(text, VERDICTS[fields[0]], *fields[1:])


def parse_expected(obj):
    """An Expectation from a scenario's `expected` mapping, or ExpectationError."""
    if not isinstance(obj, dict):
        raise ExpectationError("expected must be a mapping with default and except")
    unknown = sorted(set(obj) - EXPECTED_FIELDS)
    if unknown:
        raise ExpectationError("expected: unknown field(s): %s" % ", ".join(unknown))
    if obj.get("default") not in VERDICTS:
        raise ExpectationError("expected.default must be allow or deny, got %r" % (obj.get("default"),))
    entries = obj.get("except") or []
    if not isinstance(entries, list):
        raise ExpectationError("expected.except must be a list of strings")
    return Expectation(VERDICTS[obj["default"]], tuple(parse_line(entry) for entry in entries))


def _has_family(ips, family):
    return any(ipaddress.ip_address(ip).version == family for ip in ips)


def probed_rows(scenario):
    """Every row the truth table must have: each source to each destination per probe,
    without a pod to itself, external-to-external pairs, non-running pods, and endpoints
    that have no address of the probe's family."""
    running = [(pod.key, pod.ips, True) for pod in scenario.cluster.pods
               if pod.ips and pod.phase not in ("Succeeded", "Failed")]
    externals = [(external.name, external.ips, False) for external in scenario.externals]
    endpoints = running + externals
    rows = []
    for probe in scenario.probes:
        for source, source_ips, source_is_pod in endpoints:
            for destination, destination_ips, destination_is_pod in endpoints:
                if source == destination or not (source_is_pod or destination_is_pod):
                    continue
                if _has_family(source_ips, probe.family) and _has_family(destination_ips, probe.family):
                    rows.append((source, destination, probe.protocol, probe.port))
    return rows
