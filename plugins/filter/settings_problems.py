# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""settings_problems: every node's role settings checked against the role's options at once."""

from __future__ import annotations

from ansible.errors import AnsibleError, AnsibleFilterError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator


def settings_problems(hostvars, nodes, options):
    """['node: problem'] of the settings each node has (inventory, extra vars) for the options of a
    role's argument spec, checked as Ansible checks a role's arguments; [] when all are right."""
    validator = ArgumentSpecValidator(options)
    problems = []
    for node in nodes:
        try:
            node_vars = hostvars[node]
        except KeyError:
            raise AnsibleFilterError("settings_problems: %s is not a host of the inventory" % node) from None
        provided = {}
        for name in options:
            if name in node_vars:
                try:
                    provided[name] = node_vars[name]
                except AnsibleError as exc:
                    raise AnsibleFilterError("settings_problems: %s: %s: %s" % (node, name, exc.message)) from None
        result = validator.validate(provided, validate_role_argument_spec=True)
        problems.extend("%s: %s" % (node, message) for message in result.error_messages)
    return problems


class FilterModule:
    def filters(self):
        return {"settings_problems": settings_problems}
