# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real kube-apiserver for each test module (netpol_lab/apiserver.py), always stopped."""

from __future__ import annotations

import pytest

from netpol_lab.apiserver import running_apiserver


@pytest.fixture(scope="module")
def server():
    """etcd and kube-apiserver for this module; a missing binary fails the test, never skips it."""
    with running_apiserver() as running:
        yield running
