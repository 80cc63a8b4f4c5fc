# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real kube-apiserver holding the example's cluster, for each test module that asks for it."""

from __future__ import annotations

import pytest
from apiserver_testing import grant_documented_role, load_cluster, write_cluster
from gitops_testing import CLUSTER_SCENARIO

from netpol_lab.apiserver import running_apiserver


@pytest.fixture(scope="module")
def server():
    """etcd and kube-apiserver with the example's cluster and docs/rbac.md's role bound to the
    restricted identity; always stopped. A missing binary fails the test, never skips it."""
    with running_apiserver() as running:
        write_cluster(running.client("admin"), load_cluster(CLUSTER_SCENARIO))
        grant_documented_role(running)
        yield running
