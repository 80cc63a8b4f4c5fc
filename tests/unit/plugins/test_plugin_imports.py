# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loading the collection's filter and action plugin files stays cheap. Ansible imports every filter file
to find any one filter, in every worker process (so once per node and task that uses node_slice), and
loads action plugins in its main process, of which every worker is a fork: none of them may import the
engine or the input stages until it is called (docs/architecture.md, "Filters")."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PLUGINS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "plugins")
HEAVY = ("ansible_collections.kubenet.netpol.plugins.module_utils.engine",
         "ansible_collections.kubenet.netpol.plugins.module_utils.ingest")
PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module("ansible_collections.kubenet.netpol.plugins.filter." + name).FilterModule().filters()
print(json.dumps(sorted(sys.modules)))
"""
ACTION_PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module("ansible_collections.kubenet.netpol.plugins.action." + name).ActionModule
print(json.dumps(sorted(sys.modules)))
"""


def plugin_files(kind):
    directory = os.path.join(PLUGINS, kind)
    return sorted(name[:-3] for name in os.listdir(directory) if name.endswith(".py") and name != "__init__.py")


def test_loading_every_filter_file_imports_neither_engine_nor_ingest():
    names = plugin_files("filter")
    assert {"node_slice", "netpol_explain", "ipblock_cidrs", "selector_match"} <= set(names), names
    output = subprocess.run([sys.executable, "-c", PROBE] + names, capture_output=True, text=True, check=True).stdout
    loaded = json.loads(output)
    assert "ansible_collections.kubenet.netpol.plugins.filter.netpol_explain" in loaded, "the probe imported nothing"
    assert [module for module in loaded if module.startswith(HEAVY) or module.split(".")[0] == "netaddr"] == []


def test_loading_every_action_plugin_imports_neither_engine_nor_ingest():
    names = plugin_files("action")
    assert "netpol_resolve" in names, names
    loaded = json.loads(subprocess.run([sys.executable, "-c", ACTION_PROBE] + names, capture_output=True, text=True,
                                       check=True).stdout)
    assert "ansible_collections.kubenet.netpol.plugins.action.netpol_resolve" in loaded, "the probe imported nothing"
    assert [module for module in loaded if module.startswith(HEAVY) or module.startswith("kubernetes")] == []


def test_calling_a_filter_still_imports_what_it_needs():
    """The counter-check: the same probe sees the engine once a filter that needs it has run."""
    probe = PROBE.replace("print(", "from ansible_collections.kubenet.netpol.plugins.filter.selector_match import "
                                    "selector_match\nselector_match({'a': 'b'}, {'matchLabels': {'a': 'b'}})\nprint(", 1)
    loaded = json.loads(subprocess.run([sys.executable, "-c", probe, "selector_match"], capture_output=True, text=True,
                                       check=True).stdout)
    assert any(module.startswith(HEAVY[0]) for module in loaded)
