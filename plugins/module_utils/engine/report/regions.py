# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Outside addresses that stand for every address the policies' ipBlocks tell apart.

Cut each family's address space at the first address of every ipBlock CIDR (and except) and just
after its last: inside one piece, every CIDR holds all addresses or none, so every outside address
of a piece gets the verdicts of any other. One address per piece that is no pod's and no node's
then stands for all outside hosts, which makes "every connection" a finite, exact question.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.explain import Endpoint
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import IPBlockPeer

_SPACE = {4: ipaddress.IPv4Network("0.0.0.0/0"), 6: ipaddress.IPv6Network("::/0")}
_ADDRESS = {4: ipaddress.IPv4Address, 6: ipaddress.IPv6Address}


def _block_cidrs(policies):
    for policy in policies:
        for rule in policy.ingress + policy.egress:
            for peer in rule.peers or ():
                if isinstance(peer, IPBlockPeer):
                    yield peer.cidr
                    yield from peer.excepts


def outside_endpoints(cluster, policies):
    """Endpoints for every outside address a verdict can tell apart, in the IP families the running
    pods use: the nodes' own addresses, and one address per piece that is no running pod's and no
    node's (a piece holding only such addresses needs none)."""
    used = {ipaddress.ip_address(ip).version for pod in cluster.pods if pod.active for ip in pod.ips}
    nodes = [(node.name, ipaddress.ip_address(ip)) for node in cluster.nodes for ip in node.addresses]
    taken = {ipaddress.ip_address(ip) for pod in cluster.pods if pod.active for ip in pod.ips}
    taken.update(address for _name, address in nodes)
    cuts = {family: {0} for family in used}
    for text in _block_cidrs(policies):
        network = ipaddress.ip_network(text, strict=False)
        if network.version in cuts:
            cuts[network.version].update((int(network.network_address), int(network.broadcast_address) + 1))
    endpoints = [Endpoint("node %s %s" % (name, address), (str(address),)) for name, address in nodes if address.version in used]
    for family in sorted(cuts):
        end = int(_SPACE[family].broadcast_address) + 1
        starts = sorted(start for start in cuts[family] if start < end)
        for first, following in zip(starts, starts[1:] + [end]):
            free = next((number for number in range(first, following) if _ADDRESS[family](number) not in taken), None)
            if free is not None:
                endpoints.append(Endpoint("outside %s" % _ADDRESS[family](free), (str(_ADDRESS[family](free)),)))
    return endpoints
