# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""converge_summary: one line per node for the run's summary."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.kubenet.netpol.plugins.filter.converge_summary import converge_summary


def test_a_result_becomes_one_line():
    result = {"changed": True, "pods_isolated": 3, "counts": {"chains": 9, "rules": 31, "sets": 7, "members": 42}}
    assert converge_summary(result) == "changed: 3 pods isolated, 9 chains, 31 rules, 42 set members"
    assert converge_summary(dict(result, changed=False)).startswith("no change: ")


def test_anything_else_is_a_clear_error():
    with pytest.raises(AnsibleFilterError, match="not a result of kubenet.netpol.netpol_chains"):
        converge_summary({"changed": True})
