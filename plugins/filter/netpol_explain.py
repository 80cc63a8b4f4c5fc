# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""netpol_explain: may a source reach a destination, and which policy rule decides it."""

from __future__ import annotations

from ansible.errors import AnsibleError, AnsibleFilterError

from ansible_collections.kubenet.netpol.plugins.module_utils.libraries import missing_libraries
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import PROTOCOLS

# netaddr too is imported only when the filter runs (docs/architecture.md, "Filters").
NETADDR = (("netaddr", "netaddr"),)

INPUT_KEYS = ("policies", "cluster")


def _fail(message):
    raise AnsibleFilterError("netpol_explain: %s" % message)


def _inputs(data, default_namespace):
    """(cluster, policies) from {policies: [manifests], cluster: {namespaces, pods, nodes}}."""
    # The engine is imported when the filter is called, not with the file: see docs/architecture.md, "Filters".
    from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import InputError
    from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.sources import load_sources

    if not isinstance(data, dict) or "cluster" not in data:
        _fail("the input must be a mapping with cluster (namespaces, pods, nodes) and policies (manifests)")
    unknown = sorted(set(data) - set(INPUT_KEYS))
    if unknown:
        _fail("unknown input key(s): %s (expected policies, cluster)" % ", ".join(map(str, unknown)))
    if not isinstance(data.get("policies") or [], list):
        _fail("policies must be a list of NetworkPolicy manifests")
    try:
        return load_sources(policy_objects=data.get("policies") or [], cluster=data["cluster"],
                            default_namespace=default_namespace, objects_source="policies")
    except InputError as exc:
        _fail("invalid input:\n%s" % exc)


def _endpoint(cluster, text, role):
    """A pod named namespace/name, or an address: a pod's if one holds it, else an outside host."""
    from ansible_collections.kubenet.netpol.plugins.module_utils.engine.explain import Endpoint

    if not isinstance(text, str):
        _fail("%s must be a pod (namespace/name) or an IP address, got %r" % (role, text))
    if "/" in text:
        for pod in cluster.pods:
            if pod.key == text:
                return Endpoint(pod.key, pod.ips, pod)
        _fail("%s: no pod %s in cluster.pods" % (role, text))
    import netaddr  # pylint: disable=import-outside-toplevel

    try:
        address = str(netaddr.IPAddress(text))
    except (netaddr.AddrFormatError, ValueError, TypeError):
        _fail("%s must be a pod (namespace/name) or an IP address, got %r" % (role, text))
    for pod in cluster.pods:
        if pod.selectable and address in pod.ips:
            return Endpoint(pod.key, pod.ips, pod)
    return Endpoint(address, (address,))


def _protocol_port(text):
    """'TCP/80', 'udp/53', or '80' (TCP, the API's default protocol)."""
    protocol, _slash, port = str(text).rpartition("/")
    protocol = protocol.upper() or "TCP"
    if protocol not in PROTOCOLS or not port.isdigit() or not 1 <= int(port) <= 65535:
        _fail("protocol_port must be PROTOCOL/PORT with PROTOCOL one of TCP, UDP, SCTP and PORT 1-65535, got %r" % (text,))
    return protocol, int(port)


def _family(family, source_text, destination_text):
    """The IP family asked for; else that of an address given as an endpoint; else IPv4."""
    if family is not None:
        if family not in (4, 6):
            _fail("family must be 4 or 6, got %r" % (family,))
        return family
    import netaddr  # pylint: disable=import-outside-toplevel

    versions = {netaddr.IPAddress(text).version for text in (source_text, destination_text) if "/" not in text}
    if len(versions) > 1:
        _fail("source and destination are addresses of different IP families")
    return versions.pop() if versions else 4


def netpol_explain(data, source, destination, protocol_port, family=None, default_namespace="default"):
    """{allowed, reasons}: the verdict for one new connection, with the reason of each side."""
    from ansible_collections.kubenet.netpol.plugins.module_utils.engine.explain import ClusterVerdicts, explain

    if missing_libraries(NETADDR):
        raise AnsibleError("kubenet.netpol.netpol_explain requires the Python library netaddr on the controller")
    cluster, policies = _inputs(data, default_namespace)
    protocol, port = _protocol_port(protocol_port)
    source_endpoint = _endpoint(cluster, source, "source")
    destination_endpoint = _endpoint(cluster, destination, "destination")
    verdict = explain(ClusterVerdicts(cluster, policies), source_endpoint, destination_endpoint, protocol, port,
                      _family(family, source, destination))
    return {"allowed": verdict.allowed, "reasons": list(verdict.reasons)}


class FilterModule:
    def filters(self):
        return {"netpol_explain": netpol_explain}
