"""The `ip` and `sysctl` input that wires a Lab, phase by phase (pure text, no side effects).

Each phase is one `ip -batch` per netns, and the namespaces of a phase are wired in parallel:
1. every netns is created; 2. sysctls (before any link exists, so new links inherit
`default`); 3. the bridges and the veth pairs hanging off them (underlay, nodes);
4. the far ends: addresses and routes of nodes, pods and externals.
IPv6 addresses are added with nodad: they are usable at once, with no DAD delay.
"""

import ipaddress

from netpol_lab.topology import ENDPOINT_LINK, NODE_BRIDGE, NODE_UPLINK, UNDERLAY_ADDRESSES, UNDERLAY_BRIDGE

COMMON_SYSCTLS = ("net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
                  "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
NODE_SYSCTLS = ("net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
                "net.bridge.bridge-nf-call-iptables=1", "net.bridge.bridge-nf-call-ip6tables=1")
# The underlay is a plain wire: its bridge must not run the (empty) netfilter tables of that netns.
UNDERLAY_SYSCTLS = ("net.bridge.bridge-nf-call-iptables=0", "net.bridge.bridge-nf-call-ip6tables=0")


def family(address):
    return ipaddress.ip_address(address.split("/")[0]).version


def _address(address, device):
    if family(address) == 6:
        return "address add %s dev %s nodad" % (address, device)
    return "address add %s dev %s" % (address, device)


def _underlay_prefix(version):
    return next(ipaddress.ip_interface(address).network for address in UNDERLAY_ADDRESSES
                if family(address) == version)


def _host_route(ip):
    return "%s/%d" % (ip, 32 if family(ip) == 4 else 128)


def _bridge(name, addresses):
    lines = ["link set lo up", "link add %s type bridge mcast_snooping 0" % name, "link set %s up" % name]
    lines.extend(_address(address, name) for address in addresses)
    return lines


def _veth(local, bridge, far_name, far_netns):
    return ["link add %s type veth peer name %s netns %s" % (local, far_name, far_netns),
            "link set %s master %s" % (local, bridge), "link set %s up" % local]


def namespace_batch(lab):
    return ["netns add %s" % name for name in lab.namespaces]


def sysctls(lab):
    """netns -> sysctl assignments."""
    settings = {lab.underlay: list(COMMON_SYSCTLS + UNDERLAY_SYSCTLS)}
    for node in lab.nodes:
        settings[node.netns] = list(COMMON_SYSCTLS + NODE_SYSCTLS)
    for endpoint in lab.endpoints:
        if endpoint.kind != "host":
            settings[endpoint.netns] = list(COMMON_SYSCTLS)
    return settings


def bridge_batches(lab):
    """Phase 3: netns -> lines; the bridges, and a veth from each bridge into each netns below it."""
    underlay = _bridge(UNDERLAY_BRIDGE, UNDERLAY_ADDRESSES)
    for node in lab.nodes:
        underlay.extend(_veth(node.uplink_peer, UNDERLAY_BRIDGE, NODE_UPLINK, node.netns))
    batches = {lab.underlay: underlay}
    for node in lab.nodes:
        batches[node.netns] = _bridge(NODE_BRIDGE, node.bridge_addresses)
    for endpoint in lab.endpoints:
        if endpoint.kind == "pod":
            batches[lab.node(endpoint.node).netns].extend(_veth(endpoint.peer, NODE_BRIDGE, ENDPOINT_LINK, endpoint.netns))
        elif endpoint.kind == "external":
            underlay.extend(_veth(endpoint.peer, UNDERLAY_BRIDGE, ENDPOINT_LINK, endpoint.netns))
    return batches


def _node_lines(lab, node):
    lines = ["link set %s up" % NODE_UPLINK]
    for address in node.addresses:
        lines.append(_address("%s/%d" % (address, _underlay_prefix(family(address)).prefixlen), NODE_UPLINK))
    for other in lab.nodes:
        if other is node:
            continue
        for cidr in other.pod_cidrs:
            gateway = next((ip for ip in other.addresses if family(ip) == family(cidr)), None)
            if gateway:
                lines.append("route add %s via %s dev %s onlink" % (cidr, gateway, NODE_UPLINK))
    for endpoint in lab.endpoints:
        if endpoint.kind == "external":
            lines.extend("route add %s dev %s" % (_host_route(ip), NODE_UPLINK) for ip in endpoint.ips)
    return lines


def _pod_lines(lab, endpoint):
    node = lab.node(endpoint.node)
    lines = ["link set lo up", "link set %s up" % ENDPOINT_LINK]
    for ip in endpoint.ips:
        cidr = next(cidr for cidr in node.pod_cidrs if family(cidr) == family(ip))
        gateway = next(address for address in node.bridge_addresses if family(address) == family(ip))
        lines.append(_address("%s/%s" % (ip, cidr.split("/")[1]), ENDPOINT_LINK))
        lines.append("route add default via %s dev %s onlink" % (gateway.split("/")[0], ENDPOINT_LINK))
    return lines


def _external_lines(lab, endpoint):
    lines = ["link set lo up", "link set %s up" % ENDPOINT_LINK]
    versions = sorted({family(ip) for ip in endpoint.ips})
    lines.extend(_address(_host_route(ip), ENDPOINT_LINK) for ip in endpoint.ips)
    for version in versions:
        lines.append("route add %s dev %s" % (_underlay_prefix(version), ENDPOINT_LINK))
        for node in lab.nodes:
            gateway = next((ip for ip in node.addresses if family(ip) == version), None)
            for cidr in node.pod_cidrs:
                if gateway and family(cidr) == version:
                    lines.append("route add %s via %s dev %s onlink" % (cidr, gateway, ENDPOINT_LINK))
    return lines


def link_batches(lab):
    """Phase 4: netns -> lines; addresses and routes at the far end of every veth."""
    batches = {node.netns: _node_lines(lab, node) for node in lab.nodes}
    for endpoint in lab.endpoints:
        if endpoint.kind == "pod":
            batches[endpoint.netns] = _pod_lines(lab, endpoint)
        elif endpoint.kind == "external":
            batches[endpoint.netns] = _external_lines(lab, endpoint)
    return batches
