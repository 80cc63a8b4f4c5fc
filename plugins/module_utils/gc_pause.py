# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A pause of Python's cycle collector while a stage builds a large structure without cycles.

Reading 10,000 manifests or planning 100,000 pods creates millions of new containers; the cycle
collector would only rescan them again and again, which costs as much as building them. Shared
by the stages that build such structures (ingest, planner); standard library only.
"""

from __future__ import annotations

import contextlib
import gc


@contextlib.contextmanager
def without_cycle_collection(collect_after=False):
    """The collector off for the block, and back as it was after, whatever happens inside.

    collect_after: one full pass at the end files what the block made as old, so the collector does
    not rescan it generation by generation later (for results that outlive the block by far, such as
    a truth table of millions of rows; the next full pass waits until old objects grow by a quarter)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collect_after:
            gc.collect()
        if enabled:
            gc.enable()
