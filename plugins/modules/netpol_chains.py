#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: netpol_chains
short_description: Converge a node's NetworkPolicy ipsets and iptables chains
version_added: 1.0.0
description:
  - Renders this node's slice of the plan made by M(kubenet.netpol.netpol_resolve) into ipsets and
    iptables chains (IPv4 and IPv6), compares them with what the node has, and applies only the
    difference, atomically. A run that finds nothing to change writes nothing.
  - Only FORWARD is hooked, by one jump rule at its top into C(KUBENET-FORWARD). Bridged pod traffic
    reaches FORWARD through C(br_netfilter), routed traffic anyway. Traffic between a pod and its own
    node (INPUT, OUTPUT) is never filtered.
  - Replies of allowed connections (C(ESTABLISHED,RELATED), which includes the ICMP errors path MTU
    discovery needs) and IPv6 neighbour discovery always pass. Packets from pods isolated for egress,
    then to pods isolated for ingress, go through the chains of their policies; a packet no policy
    allows is denied, and INVALID packets of isolated pods are dropped.
  - Our chains never accept a packet, they only deny. A packet they allow returns to FORWARD, whose
    other rules (kube-proxy, Docker, the admin's) still decide.
  - Only our objects are read back, changed or removed (chains and sets named C(KUBENET-*) and our
    jump rules). Sets are updated by building a temporary set and swapping it in; chains in one
    C(iptables-restore --noflush) transaction per family; stale chains and sets are removed after the
    new state is live.
  - Two runs on one node never interleave; they take a lock in O(state_dir).
  - In diff mode the node is always compared in full, to show the rules and set members before and after.
author:
  - kubenet.netpol contributors (@kubenet)
requirements:
  - iptables (C(iptables-save), C(iptables-restore), and their IPv6 twins) and ipset on the node.
  - The node's kernel with the C(set), C(conntrack), C(mark), C(multiport), C(comment) matches.
notes:
  - A pod started between two runs is not protected until the next run, unless O(fail_closed_cidrs) is set.
  - The mark bit O(mark) must not be used by any other agent on the node, neither as packet mark nor,
    with O(cut_denied_connections), as connection mark.
  - Connections established before a policy tightens keep working (conntrack) unless
    O(cut_denied_connections) is true; new ones are denied.
seealso:
  - module: kubenet.netpol.netpol_resolve
    description: Makes the plan whose node slice this module takes.
  - plugin: kubenet.netpol.node_slice
    plugin_type: filter
    description: Makes a node's slice of that plan.
  - module: community.general.iptables_state
    description: Saves and restores whole tables; this module touches only its own chains.
options:
  plan:
    description:
      - This node's slice of the plan of M(kubenet.netpol.netpol_resolve), as the
        P(kubenet.netpol.node_slice#filter) filter makes it (see C(docs/plan-format.md)).
      - Required when O(state=present).
    type: dict
  state:
    description:
      - C(present) converges the node to O(plan).
      - C(absent) removes our jump rules, chains and sets (rules first, then sets).
    type: str
    choices: [present, absent]
    default: present
  deny_action:
    description:
      - What a packet no policy allows gets. C(REJECT) answers with ICMP port unreachable
        (ICMPv6 port unreachable in IPv6); C(DROP) silently drops it.
    type: str
    choices: [REJECT, DROP]
    default: REJECT
  log_denied:
    description:
      - Log denied packets with NFLOG to O(log_group), rate limited by O(log_limit) and O(log_burst).
      - Each logged packet names its pod chain in its prefix; after each successful run the node keeps, in
        C(denials.json) in O(state_dir), what each chain stands for (direction and isolating policies) and
        which local pod has which address. M(kubenet.netpol.netpol_denials) reads ulogd2's JSON log with it.
      - When false, that lookup is removed.
    type: bool
    default: false
  log_limit:
    description:
      - The average rate of logged denials, per pod chain and IP family, as packets per C(second), C(minute),
        C(hour) or C(day) (for example C(10/minute)). Beyond it, denied packets are still denied but not logged.
    type: str
    default: 10/minute
  log_burst:
    description:
      - How many denied packets a pod chain logs at once before O(log_limit) applies; the allowance refills
        at that rate. Also reset when the chain is rewritten.
    type: int
    default: 5
  log_group:
    description: The NFLOG group of denied packets (for example for C(ulogd2)).
    type: int
    default: 100
  mark:
    description:
      - The packet mark bit meaning "allowed by a policy", as a number (C(0x100000)).
      - It must be a single bit that no other agent uses. Our chains clear it before they return.
    type: str
    default: "0x100000"
  backend:
    description:
      - The iptables backend.
      - C(auto) uses C(iptables-legacy) when only the legacy tables hold rules (the node's other
        agents use it), otherwise the default C(iptables) commands.
      - C(nft) and C(legacy) force C(iptables-nft-*) or C(iptables-legacy-*).
    type: str
    choices: [auto, nft, legacy]
    default: auto
  state_dir:
    description:
      - The node's state directory. It holds the lock file, and a record of the last run that found
        the node converged (a fingerprint of the plan and options, and a digest of our rules and sets
        as they were read). A run that finds both unchanged stops after reading the node's state; any
        change of ours, by hand or otherwise, changes the digest and makes the run compare in full.
      - Nodes that share a filesystem (network namespaces on one host) should each have their own.
    type: path
    default: /run/kubenet-netpol
  ip_families:
    description:
      - The IP families to enforce. Another family's chains and sets are left as they are.
    type: list
    elements: int
    choices: [4, 6]
    default: [4, 6]
  lock_timeout:
    description: Seconds to wait for another run on the node to finish before failing.
    type: int
    default: 60
  fail_closed_cidrs:
    description:
      - The node's pod CIDRs, to turn on the fail-closed mode. A pod started after the plan was made is
        not protected until the next run; in this mode, traffic from or to an address of these CIDRs
        that is not a pod of the plan is denied instead, until the next run knows the pod.
      - Empty (the default) leaves new pods open until the next run, as most policy agents do.
    type: list
    elements: str
    default: []
  bridge_netfilter:
    description:
      - With O(state=present), first make bridged pod traffic traverse FORWARD, where the chains are;
        load C(br_netfilter) if its sysctls are missing, and set C(net.bridge.bridge-nf-call-iptables) and
        C(net.bridge.bridge-nf-call-ip6tables) to 1. In check mode it only reports what it would change.
      - Part of this module rather than tasks of their own, so that a run costs each node one round trip.
    type: bool
    default: false
  persist:
    description:
      - Keep the node's last converged state under O(persist_dir) and install a systemd unit,
        C(kubenet-netpol-restore.service), enabled for C(multi-user.target) and ordered before the container
        runtimes and kubelet, that restores exactly our sets, chains and jump at boot (and, with
        O(bridge_netfilter), br_netfilter and its sysctls). Without it a rebooted node has no policy until the
        next run, while its pods come back.
      - The saved state is switched atomically after each successful run; a run that changes nothing writes nothing.
      - When false (the default), or with O(state=absent), a saved state and unit of ours are removed.
    type: bool
    default: false
  persist_dir:
    description: Where O(persist) keeps the saved state (on a disk that survives a reboot, not C(/run)).
    type: path
    default: /var/lib/kubenet-netpol
  persist_unit_dir:
    description: Where O(persist) writes its systemd unit and the C(multi-user.target.wants) link.
    type: path
    default: /etc/systemd/system
  persist_fail_closed_cidrs:
    description:
      - The node's pod CIDRs, to save the state in the fail-closed mode (see O(fail_closed_cidrs)) whatever the
        live mode is. After a reboot, traffic of pod addresses the last plan did not know is then denied until the
        next run, instead of left open.
    type: list
    elements: str
    default: []
  cut_denied_connections:
    description:
      - Connections established before a policy tightens keep working by default (conntrack lets their
        packets through, as in Calico, Antrea and kube-router).
      - When true, a run that changed the rules then judges every tracked connection against the plan
        and cuts those no policy allows any more. Their conntrack entries get the O(mark) bit as
        connection mark, and packets of such connections are denied in both directions. Needs the
        C(conntrack) command.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the live state and reports what would change and the commands that would run; writes nothing.
  diff_mode:
    support: full
    details:
      - Returns our rules and set members before and after.
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Converge this node's slice of the plan
  kubenet.netpol.netpol_chains:
    plan: "{{ hostvars['localhost'].netpol.plan | kubenet.netpol.node_slice(inventory_hostname) }}"
  become: true

- name: Drop denied packets silently and log them to NFLOG group 5, IPv4 only
  kubenet.netpol.netpol_chains:
    plan: "{{ node_plan }}"
    deny_action: DROP
    log_denied: true
    log_group: 5
    ip_families: [4]
  become: true

- name: Remove every chain, jump rule and set of ours
  kubenet.netpol.netpol_chains:
    state: absent
  become: true
"""

RETURN = r"""
backend:
  description: The iptables commands used, C(default) (plain C(iptables)), C(nft) or C(legacy).
  returned: always
  type: str
  sample: default
counts:
  description: Size of the desired state (all zero for O(state=absent)); the jump rules count as rules.
  returned: always
  type: dict
  sample: {chains: 9, rules: 31, sets: 7, members: 42}
persist_changed:
  description: Whether O(persist) wrote a new saved state or unit, or removed them (or would, in check mode).
  returned: always
  type: bool
  sample: false
bridge_netfilter_changed:
  description: Whether O(bridge_netfilter) loaded br_netfilter or set a sysctl (or would, in check mode).
  returned: always
  type: bool
  sample: false
pods_isolated:
  description: How many of the node's pods some policy isolates (0 for O(state=absent)).
  returned: always
  type: int
  sample: 12
summary:
  description: What changed (or would change in check mode), by name.
  returned: always
  type: dict
  contains:
    sets_created:
      description: Sets created.
      type: list
      elements: str
    sets_swapped:
      description: Sets whose members changed, rebuilt in a temporary set and swapped in.
      type: list
      elements: str
    sets_destroyed:
      description: Stale sets (and temporary sets left by an interrupted run) destroyed.
      type: list
      elements: str
    chains_written:
      description: Chains declared and refilled, with their family.
      type: list
      elements: str
    chains_deleted:
      description: Stale chains flushed and deleted, with their family.
      type: list
      elements: str
    jumps_fixed:
      description: Families whose FORWARD jump was inserted, moved back to the top, or removed.
      type: list
      elements: int
    connections_cut:
      description: With O(cut_denied_connections), the tracked connections cut because no policy allows them any more.
      type: list
      elements: str
  sample:
    sets_created: [KUBENET-A4-0f3c5e2a9b1d4c7e]
    sets_swapped: []
    sets_destroyed: []
    chains_written: [KUBENET-FORWARD (IPv4)]
    chains_deleted: []
    jumps_fixed: [4]
    connections_cut: ["tcp 10.244.1.11:41766 -> 10.244.1.10:8080"]
commands:
  description:
    - The commands run, in order; a command fed a payload shows its line count, and in check mode
      the writes that would run are marked as not run.
  returned: always
  type: list
  elements: str
  sample:
    - iptables-legacy-save
    - iptables-save -t filter
    - ipset save
    - ipset restore < 12 lines
    - iptables-restore --noflush --wait < 20 lines
"""

import dataclasses
import os
from functools import partial

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubenet.netpol.plugins.module_utils.node import denials, persist
from ansible_collections.kubenet.netpol.plugins.module_utils.node.conntrack import ConnectionCutter
from ansible_collections.kubenet.netpol.plugins.module_utils.node.dataplane import ConvergeError, converge
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import PlanError
from ansible_collections.kubenet.netpol.plugins.module_utils.node.render import RenderOptions, fingerprint, render

BRIDGE_SYSCTLS = ("/proc/sys/net/bridge/bridge-nf-call-iptables", "/proc/sys/net/bridge/bridge-nf-call-ip6tables")


def argument_spec():
    return {
        "plan": {"type": "dict"},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "deny_action": {"type": "str", "choices": ["REJECT", "DROP"], "default": "REJECT"},
        "log_denied": {"type": "bool", "default": False},
        "log_group": {"type": "int", "default": 100},
        "log_limit": {"type": "str", "default": "10/minute"},
        "log_burst": {"type": "int", "default": 5},
        "mark": {"type": "str", "default": "0x100000"},
        "backend": {"type": "str", "choices": ["auto", "nft", "legacy"], "default": "auto"},
        "state_dir": {"type": "path", "default": "/run/kubenet-netpol"},
        "ip_families": {"type": "list", "elements": "int", "choices": [4, 6], "default": [4, 6]},
        "lock_timeout": {"type": "int", "default": 60},
        "fail_closed_cidrs": {"type": "list", "elements": "str", "default": []},
        "cut_denied_connections": {"type": "bool", "default": False},
        "bridge_netfilter": {"type": "bool", "default": False},
        "persist": {"type": "bool", "default": False},
        "persist_dir": {"type": "path", "default": "/var/lib/kubenet-netpol"},
        "persist_unit_dir": {"type": "path", "default": persist.UNIT_DIR},
        "persist_fail_closed_cidrs": {"type": "list", "elements": "str", "default": []},
    }


def command_runner(module):
    """The dataplane's runner over run_command; a missing tool is rc 127, not a module failure."""
    def run(argv, stdin):
        path = module.get_bin_path(argv[0])
        if path is None:
            return 127, "", "%s: command not found" % argv[0]
        return module.run_command([path] + list(argv[1:]), data=stdin, binary_data=True,
                                  environ_update={"LC_ALL": "C", "LANGUAGE": "C"})
    return run


def bridge_netfilter(module):
    """Bridged pod traffic meets FORWARD only with br_netfilter loaded and its bridge-nf-call sysctls at 1.
    Done here, not as tasks of their own, so that a run costs each node one round trip. True: it changed
    (or would, in check mode)."""
    if not os.path.exists(BRIDGE_SYSCTLS[0]):
        if module.check_mode:
            return True
        rc, _out, err = module.run_command(["modprobe", "br_netfilter"])
        if rc != 0 or not os.path.exists(BRIDGE_SYSCTLS[0]):
            module.fail_json(msg="bridge_netfilter: modprobe br_netfilter failed (rc=%d): %s" % (rc, err.strip()))
    changed = False
    for path in BRIDGE_SYSCTLS:
        with open(path, encoding="ascii") as handle:
            if handle.read().strip() == "1":
                continue
        changed = True
        if not module.check_mode:
            with open(path, "w", encoding="ascii") as handle:
                handle.write("1\n")
    return changed


def isolated_pods(plan_slice):
    """How many of the node's pods some policy isolates (for the run's summary)."""
    return sum(1 for pod in (plan_slice or {}).get("pods") or () if pod.get("ingress") or pod.get("egress"))


def after_converge(module, options, marker, backend):
    """Under the node's lock, once it is converged: the lookup of denials, then the saved state (True: it changed)."""
    keep_denial_lookup(module, options)
    return keep_state(module, options, marker, backend)


def keep_denial_lookup(module, options):
    """With log_denied, what attributes a logged denial (node/denials.py); bookkeeping, so never a change."""
    params = module.params
    wanted = denials.lookup(params["plan"]) if options.log_denied and params["state"] == "present" else None
    try:
        denials.keep_lookup(params["state_dir"], wanted, module.check_mode)
    except OSError as exc:
        raise ConvergeError("log_denied: the node is converged, but the lookup of denials in %s could not be kept: %s"
                            % (params["state_dir"], exc)) from None


def keep_state(module, options, marker, backend):
    """Save the converged state for the boot unit (persist), or remove ours when not wanted. True: changed."""
    params = module.params
    saved = persist.Persistence(params["persist_dir"], params["persist_unit_dir"])
    if not params["persist"] or params["state"] == "absent":
        if not saved.present():
            return False
        if not module.check_mode:
            try:
                saved.remove()
            except OSError as exc:
                raise ConvergeError("persist: cannot remove the saved state in %s: %s" % (params["persist_dir"], exc)) from None
            daemon_reload(module, params["persist_unit_dir"])
        return True
    boot, boot_marker = options, marker  # the live state's, unless the boot one fails closed
    if params["persist_fail_closed_cidrs"]:
        boot = dataclasses.replace(options, fail_closed_cidrs=tuple(params["persist_fail_closed_cidrs"]))
        boot_marker = fingerprint(params["plan"], boot)
    wanted = persist.stamp(boot_marker, backend, params["bridge_netfilter"])
    if saved.up_to_date(wanted):
        return False
    if module.check_mode:
        return True
    try:
        unit_changed = saved.write(render(params["plan"], boot), wanted, backend, params["bridge_netfilter"])
    except OSError as exc:
        raise ConvergeError("persist: the node is converged, but its state could not be saved in %s: %s"
                            % (params["persist_dir"], exc)) from None
    if unit_changed:
        daemon_reload(module, params["persist_unit_dir"])
    return True


def daemon_reload(module, unit_dir):
    """Tell a running systemd about our changed unit (it reads units anyway at boot)."""
    systemctl = module.get_bin_path("systemctl")
    if unit_dir == persist.UNIT_DIR and systemctl and os.path.isdir("/run/systemd/system"):
        module.run_command([systemctl, "daemon-reload"], check_rc=True)


def render_options(params):
    try:
        mark = int(params["mark"], 0)
    except ValueError:
        raise ValueError("mark must be a number such as 0x100000, not %r" % params["mark"]) from None
    return RenderOptions(params["deny_action"], params["log_denied"], params["log_group"], mark,
                         tuple(sorted(set(params["ip_families"]))), tuple(params["fail_closed_cidrs"]),
                         params["cut_denied_connections"], params["log_limit"], params["log_burst"])


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        required_if=[("state", "present", ["plan"])],
        supports_check_mode=True,
    )
    params = module.params
    try:
        options = render_options(params)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    bridge_changed = bridge_netfilter(module) if params["bridge_netfilter"] and params["state"] == "present" else False
    desired = marker = cutter = None
    if params["state"] == "present":  # rendered inside converge, only if the node's record is stale
        desired = partial(render, params["plan"], options)
        marker = fingerprint(params["plan"], options)
    if options.cut_connections and desired is not None:
        cutter = ConnectionCutter(params["plan"], options.mark)
    try:
        result = converge(desired, command_runner(module), options.families, params["backend"],
                          module.check_mode, params["state_dir"], module._diff, params["lock_timeout"], marker,
                          cutter, partial(after_converge, module, options, marker))
    except PlanError as exc:
        module.fail_json(msg="plan: %s" % exc)
    except ConvergeError as exc:
        module.fail_json(msg=str(exc), cmd=exc.cmd, rc=exc.rc, stderr=exc.stderr, commands=exc.commands)
    persist_changed = result.after
    output = {"changed": result.changed or bridge_changed or persist_changed, "backend": result.backend,
              "counts": result.counts, "bridge_netfilter_changed": bridge_changed, "persist_changed": persist_changed,
              "summary": result.summary, "commands": result.commands,
              "pods_isolated": isolated_pods(params["plan"]) if params["state"] == "present" else 0}
    if result.diff is not None:
        output["diff"] = result.diff
    module.exit_json(**output)


if __name__ == "__main__":
    main()
