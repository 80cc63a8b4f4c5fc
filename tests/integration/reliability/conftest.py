# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reliability tests reuse the dataplane tests' namespaces, plans and pod lab rather than copies."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

DATAPLANE = Path(__file__).resolve().parent.parent / "dataplane"
if str(DATAPLANE) not in sys.path:
    sys.path.insert(0, str(DATAPLANE))


def _dataplane_fixtures():
    """The dataplane folder's conftest under its own name (two modules cannot both be `conftest`)."""
    spec = importlib.util.spec_from_file_location("dataplane_fixtures", DATAPLANE / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_fixtures = _dataplane_fixtures()
lab = importlib.import_module("test_dataplane_packets").lab  # a node, pods on its bridge, an outside host
make_netns = _fixtures.make_netns
netns = _fixtures.netns
runner = _fixtures.runner
runner_in = _fixtures.runner_in
state_dir = _fixtures.state_dir
NetnsRunner = _fixtures.NetnsRunner
