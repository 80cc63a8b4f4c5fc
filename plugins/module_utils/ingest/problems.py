# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors of the engine: every problem names its file, line, object and field."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, located as precisely as the input allows."""

    file: str
    message: str
    obj: str = ""
    field: str = ""
    line: int | None = None
    severity: str = "error"  # or "warning": the API server accepts it, but it probably means something else

    def __str__(self):
        where = self.file if self.line is None else "%s:%d" % (self.file, self.line)
        parts = [where]
        if self.obj:
            parts.append(self.obj)
        if self.field:
            parts.append(self.field)
        if self.severity != "error":
            parts.append(self.severity)
        return ": ".join(parts + [self.message])


class InputError(Exception):
    """Raised with every problem of a run at once, so the user fixes them in one pass."""

    def __init__(self, problems):
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def problem_dicts(problems):
    """Problems as plain dicts (file, line, obj, field, message) for a module's result."""
    return [asdict(problem) for problem in problems]
