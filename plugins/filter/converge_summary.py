# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""converge_summary: one line for a node's netpol_chains result, for the run's summary."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def converge_summary(result):
    """'changed: 3 pods isolated, 9 chains, 31 rules, 42 set members' (or 'no change: ...')."""
    try:
        counts = result["counts"]
        return "%s: %d pods isolated, %d chains, %d rules, %d set members" % (
            "changed" if result["changed"] else "no change", result["pods_isolated"], counts["chains"], counts["rules"],
            counts["members"])
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError("converge_summary: not a result of kubenet.netpol.netpol_chains (%s)" % exc) from None


class FilterModule:
    def filters(self):
        return {"converge_summary": converge_summary}
