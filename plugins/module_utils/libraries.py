# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which Python libraries a module needs are missing, with the traceback of each failed import.

The modules report a missing library as Ansible's missing_required_lib message; this finds them
once for all modules instead of a try/except block per library in each. Standard library only.
"""

from __future__ import annotations

import importlib
import traceback


def missing_libraries(requirements):
    """[(name shown to the user, traceback)] for each (name, import name) that cannot be imported."""
    missing = []
    for name, module in requirements:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append((name, traceback.format_exc()))
    return missing
