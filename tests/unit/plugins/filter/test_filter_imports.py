# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loading the collection's filter files stays cheap: Ansible imports every one of them to find any one
filter, in every worker process (so once per node and task that uses node_slice), so none of them may
import the engine or the input stages until it is called (docs/architecture.md, "Filters")."""

from __future__ import annotations

import json
import os
import subprocess
import sys

FILTERS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "plugins", "filter")
HEAVY = ("ansible_collections.kubenet.netpol.plugins.module_utils.engine",
         "ansible_collections.kubenet.netpol.plugins.module_utils.ingest")
PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module("ansible_collections.kubenet.netpol.plugins.filter." + name).FilterModule().filters()
print(json.dumps(sorted(sys.modules)))
"""


def filter_files():
    return sorted(name[:-3] for name in os.listdir(FILTERS) if name.endswith(".py") and name != "__init__.py")


def test_loading_every_filter_file_imports_neither_engine_nor_ingest():
    names = filter_files()
    assert {"node_slice", "netpol_explain", "ipblock_cidrs", "selector_match"} <= set(names), names
    output = subprocess.run([sys.executable, "-c", PROBE] + names, capture_output=True, text=True, check=True).stdout
    loaded = json.loads(output)
    assert "ansible_collections.kubenet.netpol.plugins.filter.netpol_explain" in loaded, "the probe imported nothing"
    assert [module for module in loaded if module.startswith(HEAVY)] == []


def test_calling_a_filter_still_imports_what_it_needs():
    """The counter-check: the same probe sees the engine once a filter that needs it has run."""
    probe = PROBE.replace("print(", "from ansible_collections.kubenet.netpol.plugins.filter.selector_match import "
                                    "selector_match\nselector_match({'a': 'b'}, {'matchLabels': {'a': 'b'}})\nprint(", 1)
    loaded = json.loads(subprocess.run([sys.executable, "-c", probe, "selector_match"], capture_output=True, text=True,
                                       check=True).stdout)
    assert any(module.startswith(HEAVY[0]) for module in loaded)
