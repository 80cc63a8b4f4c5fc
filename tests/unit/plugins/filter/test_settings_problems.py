# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""settings_problems: every node's role settings against the enforce role's own options, at once."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible.errors import AnsibleError, AnsibleFilterError

from ansible_collections.kubenet.netpol.plugins.filter.settings_problems import settings_problems

SPEC = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles", "enforce", "meta", "argument_specs.yml")


@pytest.fixture(scope="module")
def options():
    with open(SPEC, encoding="utf-8") as handle:
        return yaml.safe_load(handle)["argument_specs"]["main"]["options"]


class Unrenderable(dict):
    """A node's variables where one value fails to template, as an undefined reference does."""

    def __getitem__(self, name):
        if name == "netpol_node_name":
            raise AnsibleError("'ansible_hostname' is undefined")
        return super().__getitem__(name)


def test_right_settings_and_unset_ones_are_no_problem(options):
    hostvars = {"node-1": {"netpol_deny_action": "DROP", "netpol_ip_families": [4], "other": "ignored"},
                "node-2": {}}
    assert settings_problems(hostvars, ["node-1", "node-2"], options) == []


def test_every_problem_of_every_node_is_named_with_its_node(options):
    hostvars = {"node-1": {"netpol_deny_action": "ACCEPT"},
                "node-2": {"netpol_deny_action": "DROP"},
                "node-3": {"netpol_ip_families": [4, "six"], "netpol_state": "gone"}}
    problems = settings_problems(hostvars, ["node-1", "node-2", "node-3"], options)
    assert len(problems) == 3, problems
    assert problems[0] == "node-1: value of netpol_deny_action must be one of: REJECT, DROP, got: ACCEPT"
    assert [problem.split(":")[0] for problem in problems] == ["node-1", "node-3", "node-3"]
    assert any("netpol_ip_families" in problem for problem in problems[1:])
    assert any("netpol_state must be one of: present, absent, got: gone" in problem for problem in problems[1:])


def test_only_the_nodes_asked_are_checked(options):
    hostvars = {"node-1": {}, "bastion": {"netpol_deny_action": "ACCEPT"}}
    assert settings_problems(hostvars, ["node-1"], options) == []


def test_a_value_that_cannot_be_templated_names_node_and_variable(options):
    hostvars = {"node-1": Unrenderable(netpol_node_name="{{ ansible_hostname }}")}
    with pytest.raises(AnsibleFilterError, match="node-1: netpol_node_name: 'ansible_hostname' is undefined"):
        settings_problems(hostvars, ["node-1"], options)


def test_a_node_missing_from_the_inventory_is_a_clear_error(options):
    with pytest.raises(AnsibleFilterError, match="node-9 is not a host of the inventory"):
        settings_problems({}, ["node-9"], options)
