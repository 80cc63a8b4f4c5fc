#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: netpol_denials
short_description: Say which pod, direction and policies denied each logged packet on a node
version_added: 1.0.0
description:
  - Reads the denied packets that ulogd2 wrote as JSON (its C(JSON) output plugin, one object a line) from
    the NFLOG group of M(kubenet.netpol.netpol_chains) with O(kubenet.netpol.netpol_chains#module:log_denied),
    and attributes each of them with the lookup the last successful run left in O(state_dir).
  - For each denial, the local pod, the direction, the peer (named when it is a local pod too), the protocol
    and destination port, and the policies isolating the pod in that direction, none of which allows the packet.
  - Packets that other rules logged to the same file are left out.
  - The lookup is the one of the last run. A pod address reused since the packet was logged is attributed to
    its current pod, and a chain that run no longer has is reported as not in the lookup.
  - Logging is rate limited (see O(kubenet.netpol.netpol_chains#module:log_limit)), so under a flood not every
    denied packet is in the log.
author:
  - kubenet.netpol contributors (@kubenet)
requirements:
  - ulogd2 with its JSON output plugin (Debian packages C(ulogd2) and C(ulogd2-json)) listening on the NFLOG
    group of the denials; C(docs/operations.md) has a configuration.
seealso:
  - module: kubenet.netpol.netpol_chains
    description: Logs denied packets with O(kubenet.netpol.netpol_chains#module:log_denied).
options:
  log_file:
    description: The JSON file ulogd2 writes the denied packets to.
    type: path
    default: /var/log/ulog/kubenet-netpol-denied.json
  state_dir:
    description: The state directory of M(kubenet.netpol.netpol_chains), which holds the lookup.
    type: path
    default: /run/kubenet-netpol
  last:
    description: Return only the most recent denials, at most this many; 0 returns them all.
    type: int
    default: 100
  namespace:
    description: Return only the denials of pods in this namespace.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - Only reads.
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: The last 20 denials of namespace shop on every node
  kubenet.netpol.netpol_denials:
    last: 20
    namespace: shop
  become: true
  register: denied

- name: Show them
  ansible.builtin.debug:
    var: denied.lines
"""

RETURN = r"""
lines:
  description: The denials as an operator reads them, oldest first.
  returned: always
  type: list
  elements: str
  sample:
    - "2026-12-02T09:07:22.946737Z x/a denied ingress from 10.244.1.11 (x/b) tcp/9000: isolated by x/allow-b, x/deny, none allows it"
denials:
  description: The same denials as data, oldest first.
  returned: always
  type: list
  elements: dict
  contains:
    time:
      description: When the kernel logged the packet, in UTC.
      type: str
    direction:
      description: C(ingress) (the pod is the destination) or C(egress) (the pod is the source).
      type: str
    pod:
      description: The denied local pod (namespace/name), or null when no pod of the lookup has its address.
      type: str
    pod_ip:
      description: The pod's address in the packet.
      type: str
    peer_ip:
      description: The other end's address.
      type: str
    peer_pod:
      description: The other end when it is a pod of this node, else null.
      type: str
    protocol:
      description: C(tcp), C(udp), C(sctp), C(icmp), C(icmpv6), or the protocol number.
      type: str
    port:
      description: The destination port, or null for protocols without ports.
      type: int
    policies:
      description: The policies isolating the pod in that direction, or null when the chain is not in the lookup.
      type: list
      elements: str
    chain:
      description: The pod chain that denied the packet.
      type: str
    line:
      description: The denial in words, as in RV(lines).
      type: str
unreadable:
  description: Lines of O(log_file) that were not JSON objects (a line being written, or another format).
  returned: always
  type: int
  sample: 0
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubenet.netpol.plugins.module_utils.node import denials


def main():
    module = AnsibleModule(
        argument_spec={
            "log_file": {"type": "path", "default": "/var/log/ulog/kubenet-netpol-denied.json"},
            "state_dir": {"type": "path", "default": "/run/kubenet-netpol"},
            "last": {"type": "int", "default": 100},
            "namespace": {"type": "str"},
        },
        supports_check_mode=True,
    )
    params = module.params
    if params["last"] < 0:
        module.fail_json(msg="last must be 0 (all) or more, not %d" % params["last"])
    try:
        known = denials.load_lookup(params["state_dir"])
    except (OSError, ValueError) as exc:
        module.fail_json(msg="cannot read the lookup of denials in %s: %s" % (params["state_dir"], exc))
    if known is None:
        module.fail_json(msg="%s has no lookup of denials: netpol_chains has not run there with log_denied"
                         % denials.lookup_path(params["state_dir"]))
    try:
        with open(params["log_file"], encoding="utf-8", errors="replace") as handle:
            found, unreadable = denials.read_denials(handle, known, params["last"], params["namespace"])
    except OSError as exc:
        module.fail_json(msg="cannot read the log of denials %s: %s (is ulogd2 writing it?)" % (params["log_file"], exc))
    module.exit_json(changed=False, denials=found, lines=[item["line"] for item in found], unreadable=unreadable)


if __name__ == "__main__":
    main()
