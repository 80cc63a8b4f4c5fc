# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The files a node keeps (the run record, the denials lookup, the saved boot state): each written
through a temporary file, synced, then renamed over the old one, so a run killed at any point
leaves the old file or the new one, never a part."""

from __future__ import annotations

import os


def write_atomically(path, text):
    partial = path + ".new"
    with open(partial, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
