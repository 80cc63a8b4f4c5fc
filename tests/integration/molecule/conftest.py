# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ephemeral dir of one Molecule run, removed after the test."""

from __future__ import annotations

import shutil
import tempfile

import pytest


@pytest.fixture
def ephemeral():
    """Molecule's ephemeral dir for one run; short, because SSH control sockets live below it."""
    path = tempfile.mkdtemp(prefix="npm-")
    yield path
    shutil.rmtree(path, ignore_errors=True)
