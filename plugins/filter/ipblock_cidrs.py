# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ipblock_cidrs: the CIDRs that cover exactly an ipBlock's cidr minus its excepts."""

from __future__ import annotations

from ansible.errors import AnsibleError, AnsibleFilterError

from ansible_collections.kubenet.netpol.plugins.module_utils.libraries import missing_libraries

# netaddr too is imported only when the filter runs (docs/architecture.md, "Filters").
NETADDR = (("netaddr", "netaddr"),)


def ipblock_cidrs(ipblock):
    """Sorted canonical CIDRs whose union is cidr minus every except, and nothing more."""
    if missing_libraries(NETADDR):
        raise AnsibleError("kubenet.netpol.ipblock_cidrs requires the Python library netaddr on the controller")
    # Imported here, not with the file: see docs/architecture.md, "Filters".
    from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.validate import validate_ip_block
    from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.yamldoc import Document
    from ansible_collections.kubenet.netpol.plugins.module_utils.plan.addresses import block_cidrs

    # Host bits set and the like are warnings: the block still means the CIDRs returned.
    problems = [problem for problem in validate_ip_block(Document(ipblock, "ipblock"), "", ipblock)
                if problem.severity == "error"]
    if problems:
        raise AnsibleFilterError("ipblock_cidrs: invalid ipBlock:\n%s" % "\n".join(str(problem) for problem in problems))
    return [str(network) for network in block_cidrs(ipblock)]


class FilterModule:
    def filters(self):
        return {"ipblock_cidrs": ipblock_cidrs}
