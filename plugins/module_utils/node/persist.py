# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keep a node's last converged state on disk and restore it at boot, before pods start.

Netfilter state lives in the kernel: after a reboot it is gone, and the container runtime
brings the pods back before the next enforce run. With persistence on, every successful run
leaves under the persist directory:

- `current` -> `state-<stamp>/`, switched atomically (a new directory, then one rename of the
  link), so a run killed half-way leaves the previous state whole:
  - `sets.restore`, `filter4.restore`, `filter6.restore`: the payloads that build our sets,
    chains and jump on an empty node, made by the same dataplane code as a converge onto one;
  - `restore`: the boot command (POSIX shell) that loads br_netfilter when asked, then feeds them
    to `ipset restore` and `iptables-restore --noflush`; it does nothing on a node that already
    has our chains (the next run converges those);
  - `stamp`: what the state was made from, so an unchanged run writes nothing;
- a systemd unit in the unit directory, enabled for multi-user.target and ordered before the
  container runtimes and kubelet, that runs `current/restore`.

Only files of ours are written or removed: the unit carries a header we check before removing it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil

from ansible_collections.kubenet.netpol.plugins.module_utils.node import naming
from ansible_collections.kubenet.netpol.plugins.module_utils.node.files import write_atomically
from ansible_collections.kubenet.netpol.plugins.module_utils.node.dataplane import (
    LiveState, LiveTable, iptables_tools, plan_present)

UNIT_NAME = "kubenet-netpol-restore.service"
UNIT_DIR = "/etc/systemd/system"
WANTED_BY = "multi-user.target"
CURRENT = "current"
STATE_PREFIX = "state-"
STAMP_FILE = "stamp"
SCRIPT_FILE = "restore"
SETS_FILE = "sets.restore"
HEADER = "# Written by kubenet.netpol (netpol_chains persist); do not edit.\n"
BRIDGE_SYSCTLS = ("net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables")
RUNTIMES = "containerd.service crio.service docker.service kubelet.service"


def filter_file(family):
    return "filter%d.restore" % family


def stamp(boot_fingerprint, backend, bridge_netfilter):
    """What the persisted state depends on: the boot render, the tools, the bridge setting."""
    data = {"render": boot_fingerprint, "backend": backend, "bridge_netfilter": bool(bridge_netfilter)}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def boot_payloads(desired):
    """{file name: lines}: our sets, then per family our chains and jump, as written onto an empty node."""
    empty = LiveState({table.family: LiveTable(table.family) for table in desired.tables}, {})
    changes = plan_present(desired, empty, tuple(table.family for table in desired.tables))
    files = {SETS_FILE: changes.set_lines}
    files.update((filter_file(family), lines) for family, lines in changes.table_lines.items())
    return files


def boot_script(families, backend, bridge_netfilter):
    """The boot command: nothing on a node that has our chains; else sysctls, sets, then rules."""
    save = shlex.quote(iptables_tools(backend, families[0])[0])
    lines = ["#!/bin/sh", HEADER.rstrip("\n"), "set -eu", 'here=$(dirname "$0")',
             "if %s -t filter | grep -q '^:%s '; then" % (save, naming.TOP_CHAIN),
             '  echo "kubenet-netpol: our chains are present; the next run converges them"',
             "  exit 0",
             "fi"]
    if bridge_netfilter:  # without it bridged pod traffic bypasses FORWARD; the rules still go in
        lines.append('modprobe br_netfilter || echo "kubenet-netpol: modprobe br_netfilter failed" >&2')
        lines += ['sysctl -q -w %s=1 || echo "kubenet-netpol: cannot set %s" >&2' % (name, name)
                  for name in BRIDGE_SYSCTLS]
    lines.append('ipset -exist restore < "$here/%s"' % SETS_FILE)
    for family in families:
        restore = shlex.quote(iptables_tools(backend, family)[1])
        lines.append('%s --noflush --wait < "$here/%s"' % (restore, filter_file(family)))
    lines.append('echo "kubenet-netpol: restored the state of $(cat "$here/%s")"' % STAMP_FILE)
    return "\n".join(lines) + "\n"


def unit_text(persist_dir):
    script = os.path.join(persist_dir, CURRENT, SCRIPT_FILE)
    return HEADER + "\n".join([
        "[Unit]",
        "Description=kubenet.netpol: restore the last converged NetworkPolicy chains and sets",
        "DefaultDependencies=no",
        "After=local-fs.target systemd-modules-load.service",
        "Before=network-pre.target %s" % RUNTIMES,
        "Wants=network-pre.target",
        "",
        "[Service]",
        "Type=oneshot",
        "RemainAfterExit=yes",
        "ExecStart=/bin/sh %s" % script,
        "",
        "[Install]",
        "WantedBy=%s" % WANTED_BY,
    ]) + "\n"


class Persistence:
    """The persist directory and unit of one node: what is there, and how to change it."""

    def __init__(self, persist_dir, unit_dir=UNIT_DIR):
        self.persist_dir = persist_dir
        self.unit_path = os.path.join(unit_dir, UNIT_NAME)
        self.wants_link = os.path.join(unit_dir, WANTED_BY + ".wants", UNIT_NAME)

    def current_stamp(self):
        try:
            with open(os.path.join(self.persist_dir, CURRENT, STAMP_FILE), encoding="ascii") as handle:
                return handle.read().strip()
        except OSError:
            return None

    def unit_is_current(self):
        return _read(self.unit_path) == unit_text(self.persist_dir) and os.path.realpath(
            self.wants_link) == os.path.realpath(self.unit_path)

    def up_to_date(self, wanted_stamp):
        return self.current_stamp() == wanted_stamp and self.unit_is_current()

    def write(self, desired, wanted_stamp, backend, bridge_netfilter):
        """Write the new state beside the old, switch `current` to it, then drop the old one."""
        families = tuple(table.family for table in desired.tables)
        os.makedirs(self.persist_dir, mode=0o700, exist_ok=True)
        target = STATE_PREFIX + wanted_stamp
        directory = os.path.join(self.persist_dir, target)
        shutil.rmtree(directory, ignore_errors=True)  # left by a run killed while writing it
        os.mkdir(directory, 0o700)
        for name, lines in boot_payloads(desired).items():
            write_atomically(os.path.join(directory, name), "\n".join(lines) + "\n")
        write_atomically(os.path.join(directory, SCRIPT_FILE), boot_script(families, backend, bridge_netfilter))
        write_atomically(os.path.join(directory, STAMP_FILE), wanted_stamp + "\n")
        _fsync_dir(directory)
        link = os.path.join(self.persist_dir, CURRENT)
        _symlink(target, link)
        self._remove_states(keep=target)
        unit_changed = not self.unit_is_current()
        if unit_changed:
            os.makedirs(os.path.dirname(self.wants_link), exist_ok=True)
            write_atomically(self.unit_path, unit_text(self.persist_dir))
            _symlink(self.unit_path, self.wants_link)
        return unit_changed

    def present(self):
        return os.path.lexists(os.path.join(self.persist_dir, CURRENT)) or _ours(self.unit_path)

    def remove(self):
        """Disable and remove our unit, then our saved states; foreign files are left alone."""
        if _ours(self.unit_path):
            if os.path.islink(self.wants_link):
                os.unlink(self.wants_link)
            os.unlink(self.unit_path)
        link = os.path.join(self.persist_dir, CURRENT)
        if os.path.islink(link):
            os.unlink(link)
        self._remove_states(keep=None)

    def _remove_states(self, keep):
        if not os.path.isdir(self.persist_dir):
            return
        for name in os.listdir(self.persist_dir):
            if name.startswith(STATE_PREFIX) and name != keep:
                shutil.rmtree(os.path.join(self.persist_dir, name), ignore_errors=True)


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def _ours(path):
    text = _read(path)
    return text is not None and text.startswith(HEADER)


def _symlink(target, link):
    partial = link + ".new"
    if os.path.lexists(partial):
        os.unlink(partial)
    os.symlink(target, partial)
    os.replace(partial, link)
    _fsync_dir(os.path.dirname(link))


def _fsync_dir(path):
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
