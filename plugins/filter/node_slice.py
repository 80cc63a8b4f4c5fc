# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""node_slice: the part of a netpol_resolve plan that one node renders and converges."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import PlanError
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.slicing import node_slice as make_node_slice


def node_slice(plan, node):
    """The node's pods, the policies isolating them with their local targets and rules, and the
    peer sets those rules use."""
    if not isinstance(node, str):
        raise AnsibleFilterError("node_slice: the node must be a node name, got %r" % (node,))
    try:
        return make_node_slice(plan, node)
    except PlanError as exc:
        raise AnsibleFilterError("node_slice: %s" % exc) from None
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError("node_slice: the plan is malformed (%s: %s); pass the plan that"
                                 " netpol_resolve returned, unchanged" % (type(exc).__name__, exc)) from None


class FilterModule:
    def filters(self):
        return {"node_slice": node_slice}
