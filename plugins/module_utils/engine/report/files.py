# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing the report's files: only those whose content changes (a rerun on the same inputs changes
nothing), each replaced at once so a reader never sees half a file, and none in check mode."""

from __future__ import annotations

import json
import os
import tempfile


def json_text(data):
    """JSON as the report files hold it: compact (a matrix has a cell per workload pair), stable key
    order, one trailing newline."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"


def _current(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


def write_files(directory, contents, check_mode=False):
    """contents: {file name: text}. [{path, changed}] in name order; nothing is written in check mode."""
    written = []
    for name in sorted(contents):
        path = os.path.join(directory, name)
        changed = _current(path) != contents[name]
        if changed and not check_mode:
            os.makedirs(directory, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".%s." % name, dir=directory)
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as stream:
                    stream.write(contents[name])
                os.chmod(temporary, 0o644)
                os.replace(temporary, path)
            except BaseException:
                if os.path.exists(temporary):
                    os.unlink(temporary)
                raise
        written.append({"path": path, "changed": changed})
    return written
