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
def without_cycle_collection():
    """The collector off for the block, and back as it was after, whatever happens inside."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
