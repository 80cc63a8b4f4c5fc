# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converge a node's netfilter state to the rendered one: read ours, compare, apply the difference.

Commands go through a runner, `run(argv, stdin) -> (rc, stdout, stderr)`, so the module uses
AnsibleModule.run_command and the tests a subprocess inside a network namespace.

Only our objects are interpreted: chains and sets named with naming.PREFIX and the jump rules
into them from built-in chains. Nothing else is ever flushed, deleted or reordered. Writes go
in an order that is safe at every instant, even if a step fails:

1. one `ipset restore`: new sets created and filled; a changed set rebuilt in its temporary
   twin, swapped in and the twin destroyed (a live set is never flushed, so never empty);
2. per family one `iptables-restore --noflush` transaction (atomic, so a refused payload
   changes nothing; one refused after another family was written has that family put back,
   below): our changed chains declared (which flushes them) and refilled, our jump fixed,
   stale chains flushed and deleted;
3. one `ipset restore` destroying the stale sets, no longer referenced by any rule of ours, and
   the twins of step 1 (a concurrent `ipset list` can hold a set for an instant: then each set is
   destroyed on its own, retried while the kernel says it is in use).

A changed set that a rewritten rule uses (before or after) is not swapped in place: a rule
moving off the set would see its new members, or one moving onto it its old ones, until the
table write. Such a run converges in two of these passes: first to the desired state with the
set's new members under a bridge name (naming.bridge_set), so every rule of ours switches at
the one table write; then to the desired state itself (the set recreated under its name, the
rules moved back in one more table write, the bridge destroyed).

A run whose comparison finds nothing to do writes nothing at all; one that fails part way puts
our previous rules and sets back (put_back) before it reports the failure.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shlex
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from itertools import groupby
from operator import itemgetter

from ansible_collections.kubenet.netpol.plugins.module_utils.node import naming
from ansible_collections.kubenet.netpol.plugins.module_utils.node.files import write_atomically
from ansible_collections.kubenet.netpol.plugins.module_utils.node.render import Desired, member_sort_key

BACKENDS = ("auto", "nft", "legacy")
CHOSEN_BACKENDS = ("default", "nft", "legacy")  # what `auto` becomes on a node (choose_backend)
BUILTIN_CHAINS = ("INPUT", "FORWARD", "OUTPUT")
JUMP_CHAIN = "FORWARD"
IPSET_FAMILY_NUMBERS = {"inet": 4, "inet6": 6}
LOCK_FILE = "netpol.lock"
RECORD_FILE = "converged.json"
DEFAULT_LOCK_TIMEOUT = 60.0
SET_BUSY = "in use by a kernel component"
SET_MISSING = "does not exist"
DESTROY_ATTEMPTS = 40
DESTROY_PAUSE = 0.05


class ConvergeError(Exception):
    """A command failed or the live state cannot be converged; carries what the user needs."""

    def __init__(self, message, cmd=None, rc=None, stderr=""):
        self.cmd = cmd
        self.rc = rc
        self.stderr = stderr
        self.commands = []
        self.settled = False  # the rules were already the new ones: only unused sets were left
        super().__init__(message)


def iptables_tools(backend, family):
    """(save, restore) executables of a backend ("default" is whatever `iptables` points to)."""
    base = "iptables" if family == 4 else "ip6tables"
    suffix = {"default": "", "nft": "-nft", "legacy": "-legacy"}[backend]
    return base + suffix + "-save", base + suffix + "-restore"


@dataclass
class LiveTable:
    """Our chains (name -> rule specs) and our jumps ((chain, position, spec)) in one family."""

    family: int
    chains: dict = field(default_factory=dict)
    jumps: list = field(default_factory=list)


@dataclass(frozen=True)
class LiveSet:
    name: str
    type: str
    family: int | None


_PREFIX = re.escape(naming.PREFIX)
_OUR_CHAIN = re.compile(r"^:(%s\S*) " % _PREFIX, re.M)
_OUR_RULE = re.compile(r"^-A (%s\S*)(.*)$" % _PREFIX, re.M)
_BUILTIN_RULE = re.compile(r"^-A (%s)((?: .*)?)$" % "|".join(BUILTIN_CHAINS), re.M)
_OUR_LINE = re.compile(r"^(?::%s\S* |-A %s).*$" % (_PREFIX, _PREFIX), re.M)
_BUILTIN_LINE_NAMING_OURS = re.compile(r"^-A (%s) .*%s.*$" % ("|".join(BUILTIN_CHAINS), _PREFIX), re.M)
_CREATE_OURS = "create " + naming.PREFIX
_SET_REFERENCE = re.compile(r"--match-set (\S+) ")
_ADD = "add "


def _jumps_to_ours(spec):
    if naming.PREFIX not in spec:
        return False
    tokens = shlex.split(spec)
    return any(token in ("-j", "-g", "--jump", "--goto") and target.startswith(naming.PREFIX)
               for token, target in zip(tokens, tokens[1:]))


def parse_iptables_save(text, family):
    """Our part of `iptables-save -t filter`: counters and headers are not kept.

    Regular expressions over the whole text keep this fast on nodes with many rules.
    """
    table = LiveTable(family)
    chains = {name: [] for name in _OUR_CHAIN.findall(text)}
    for chain, rules in groupby(_OUR_RULE.findall(text), key=itemgetter(0)):
        chains.setdefault(chain, []).extend(rule[1].strip() for rule in rules)
    table.chains = {name: tuple(rules) for name, rules in chains.items()}
    positions = {}
    for chain, spec in _BUILTIN_RULE.findall(text):
        position = positions.get(chain, 0)
        positions[chain] = position + 1
        if _jumps_to_ours(spec):
            table.jumps.append((chain, position, spec.strip()))
    return table


def our_set_blocks(text):
    """The text of each of our sets in `ipset save` (its create line and its add lines).

    `ipset save` prints each set as one block, so searching for the create lines is enough:
    no work per member, however many there are.
    """
    text = "\n" + text
    starts = []
    index = text.find("\ncreate ")
    while index != -1:
        starts.append(index + 1)
        index = text.find("\ncreate ", index + 1)
    starts.append(len(text))
    return [text[begin:end] for begin, end in zip(starts, starts[1:]) if text.startswith(_CREATE_OURS, begin)]


def parse_set_blocks(blocks):
    """Our sets (type and family; hash size, initval etc. dropped), and the members of all of
    them as one set of "NAME MEMBER" strings, cheap to build and compare."""
    sets = {}
    members = []
    for block in blocks:
        lines = block.split("\n")
        parts = lines[0].split()
        family = parts[parts.index("family") + 1] if "family" in parts[3:] else None
        sets[parts[1]] = LiveSet(parts[1], parts[2], IPSET_FAMILY_NUMBERS.get(family))
        members += [line[len(_ADD):].rstrip() for line in lines[1:] if line.startswith(_ADD)]
    return sets, frozenset(members)


def parse_ipset_save(text):
    return parse_set_blocks(our_set_blocks(text))


def member_lines(sets):
    """The "NAME MEMBER" strings of rendered sets, as parse_ipset_save gives live ones."""
    return frozenset("%s %s" % (item.name, member) for item in sets for member in item.members)


@dataclass
class LiveState:
    tables: dict  # family -> LiveTable
    sets: dict  # name -> LiveSet
    members: frozenset = frozenset()  # "NAME MEMBER" of every member of our sets


@dataclass
class Changes:
    """What a run writes: the three payloads, in their order, and a summary for the report."""

    set_lines: list = field(default_factory=list)
    table_lines: dict = field(default_factory=dict)  # family -> restore payload lines
    destroy_lines: list = field(default_factory=list)
    summary: dict = field(default_factory=lambda: {
        "sets_created": [], "sets_swapped": [], "sets_destroyed": [],
        "chains_written": [], "chains_deleted": [], "jumps_fixed": [], "connections_cut": []})

    @property
    def changed(self):
        return bool(self.set_lines or self.table_lines or self.destroy_lines)


def _set_fill(lines, name, item):
    lines.extend("add %s %s" % (name, member) for member in item.members)


def plan_present(desired, live, families):
    """The writes that make the live state equal the desired one (none when already equal)."""
    changes = Changes()
    wanted = {item.name: item for item in desired.sets}
    present = [item for item in desired.sets if item.name in live.sets]  # members of new sets need no comparison
    differ = {line.split(" ", 1)[0] for line in member_lines(present) ^ live.members}
    for name in sorted(live.sets):
        if naming.is_temp_set(name):  # a twin left behind by an interrupted run; never referenced
            changes.set_lines.append("destroy %s" % name)
            changes.summary["sets_destroyed"].append(name)
    for name, item in wanted.items():
        current = live.sets.get(name)
        if current is None:
            changes.set_lines.append(item.create_line())
            _set_fill(changes.set_lines, name, item)
            changes.summary["sets_created"].append(name)
        elif (current.type, current.family) != (item.type, item.family):
            raise ConvergeError("set %s exists as %s family %s, not %s family %s: destroy it by hand"
                                % (name, current.type, current.family, item.type, item.family))
        elif name in differ:
            twin = naming.temp_set(name)
            changes.set_lines.append(item.create_line(twin))
            _set_fill(changes.set_lines, twin, item)
            changes.set_lines.append("swap %s %s" % (twin, name))
            changes.destroy_lines.append("destroy %s" % twin)  # with the stale sets: a busy twin is retried
            changes.summary["sets_swapped"].append(name)
    for table in desired.tables:
        lines = _table_payload(table, live.tables[table.family], changes.summary)
        if lines:
            changes.table_lines[table.family] = lines
    for name in sorted(live.sets):
        if name not in wanted and not naming.is_temp_set(name) and _managed(live.sets[name], families):
            changes.destroy_lines.append("destroy %s" % name)
            changes.summary["sets_destroyed"].append(name)
    return changes


def bridged_sets(desired, live, changes):
    """The changed sets (swapped in place by `changes`) that a rule written or deleted uses."""
    swapped = set(changes.summary["sets_swapped"])
    if not swapped:
        return set()
    used = set()
    for table in desired.tables:
        current, wanted = live.tables[table.family].chains, table.chain_map
        for chain in set(current) | set(wanted):
            if current.get(chain) != wanted.get(chain):
                used.update(_SET_REFERENCE.findall(" ".join(current.get(chain, ()) + wanted.get(chain, ()))))
    return swapped & used


def with_bridges(desired, names):
    """The desired state with the sets `names` under their bridge names, in the sets and the rules."""
    def rename(name):
        return naming.bridge_set(name) if name in names else name

    def rename_sets(rule):
        return _SET_REFERENCE.sub(lambda found: "--match-set %s " % rename(found.group(1)), rule)

    tables = tuple(replace(table, chains=tuple((chain, tuple(map(rename_sets, rules))) for chain, rules in table.chains))
                   for table in desired.tables)
    sets = tuple(replace(item, name=rename(item.name)) for item in desired.sets)
    return Desired(tables, tuple(sorted(sets, key=lambda item: item.name)))


def apply_present(shell, desired, live, families, backend):
    """Apply the writes to the desired state, through bridges when a changed set's users move
    (see the module docstring); the changes returned are the direct ones, for the report."""
    changes = plan_present(desired, live, families)
    bridged = bridged_sets(desired, live, changes)
    if not bridged or shell.check_mode:
        apply(shell, changes, backend)
        return changes
    apply(shell, plan_present(with_bridges(desired, bridged), live, families), backend)
    tables, blocks, _digest = read_live(shell, backend, families)
    apply(shell, plan_present(desired, LiveState(tables, *parse_set_blocks(blocks)), families), backend)
    return changes


def _managed(item, families):
    return item.family is None or item.family in families


def _table_payload(table, current, summary):
    """One restore transaction for a family, or [] when its chains and jump are already right."""
    wanted = table.chain_map
    write = [name for name in sorted(wanted) if current.chains.get(name) != wanted[name]]
    stale = [name for name in sorted(current.chains) if name not in wanted]
    jump_ok = current.jumps == [(JUMP_CHAIN, 0, table.jump)]
    if not write and not stale and jump_ok:
        return []
    lines = ["*filter"] + [":%s - [0:0]" % name for name in write + stale]
    if not jump_ok:
        lines += ["-D %s %s" % (jump[0], jump[2]) for jump in current.jumps]
    for name in write:
        lines += ["-A %s %s" % (name, rule) for rule in wanted[name]]
    if not jump_ok:
        lines.append("-I %s 1 %s" % (JUMP_CHAIN, table.jump))
        summary["jumps_fixed"].append(table.family)
    lines += ["-X %s" % name for name in stale]
    summary["chains_written"] += ["%s (IPv%d)" % (name, table.family) for name in write]
    summary["chains_deleted"] += ["%s (IPv%d)" % (name, table.family) for name in stale]
    return lines + ["COMMIT"]


def plan_absent(live, families):
    """Writes that remove our jumps, chains and sets: rules first, sets after (never in use)."""
    changes = Changes()
    for family in sorted(live.tables):
        current = live.tables[family]
        if not current.chains and not current.jumps:
            continue
        names = sorted(current.chains)
        lines = ["*filter"] + [":%s - [0:0]" % name for name in names]
        lines += ["-D %s %s" % (jump[0], jump[2]) for jump in current.jumps]
        lines += ["-X %s" % name for name in names] + ["COMMIT"]
        changes.table_lines[family] = lines
        changes.summary["chains_deleted"] += ["%s (IPv%d)" % (name, family) for name in names]
        if current.jumps:
            changes.summary["jumps_fixed"].append(family)
    for name in sorted(live.sets):
        if _managed(live.sets[name], families):
            changes.destroy_lines.append("destroy %s" % name)
            changes.summary["sets_destroyed"].append(name)
    return changes


class Shell:
    """Runs commands through the runner and keeps the list of what ran (or would run)."""

    def __init__(self, run, check_mode=False):
        self._run = run
        self.check_mode = check_mode
        self.commands = []

    def read(self, argv, allow_failure=False):
        rc, out, err = self._run(argv, None)
        self.commands.append(" ".join(argv))
        if rc != 0 and not allow_failure:
            raise ConvergeError("%s failed (rc=%d): %s" % (" ".join(argv), rc, err.strip()), argv, rc, err)
        return rc, out

    def update(self, argv):
        """A change without a payload (conntrack -U); one whose entry vanished meanwhile is no error."""
        if self.check_mode:
            self.commands.append(" ".join(argv) + " (check mode: not run)")
            return
        self.commands.append(" ".join(argv))
        self._run(argv, None)

    def attempt(self, argv):
        """A write whose failure the caller judges: (rc, stderr)."""
        self.commands.append(" ".join(argv))
        rc, _out, err = self._run(argv, None)
        return rc, err

    def write(self, argv, lines):
        """Feed a payload to a restore command; in check mode only record that it would run."""
        text = " ".join(argv) + " < %d lines" % len(lines)
        if self.check_mode:
            self.commands.append(text + " (check mode: not run)")
            return
        self.commands.append(text)
        rc, err = self._run(argv, "\n".join(lines) + "\n")[0::2]
        if rc != 0:
            raise ConvergeError("%s failed (rc=%d): %s" % (" ".join(argv), rc, err.strip()), argv, rc, err)


def _has_rules(shell, argv):
    rc, out = shell.read(argv, allow_failure=True)
    return rc == 0 and any(line.startswith("-A ") for line in out.splitlines())


def choose_backend(shell, backend, families):
    """auto: legacy when only the legacy tables hold rules (the node uses it), else the default."""
    if backend != "auto":
        return backend
    if not any(_has_rules(shell, [iptables_tools("legacy", family)[0]]) for family in families):
        return "default"
    if any(_has_rules(shell, [iptables_tools("nft", family)[0]]) for family in families):
        return "default"
    return "legacy"


def read_saves(shell, backend, families):
    """Each family's `iptables-save -t filter`, our sets' blocks, and a digest of exactly our part of them."""
    texts = {family: shell.read([iptables_tools(backend, family)[0], "-t", "filter"])[1] for family in families}
    blocks = our_set_blocks(shell.read(["ipset", "save"])[1])
    return texts, blocks, our_digest(texts, blocks)


def our_digest(texts, blocks):
    """Our chain and rule lines in order, every built-in chain's rule naming ours with its position, our
    sets: what a converged node's record compares. Taken from the text without parsing it, as the
    usual rerun needs no more; other agents' rules and the built-in chains' counters do not count."""
    digest = hashlib.sha256()
    for family in sorted(texts):
        text = texts[family]
        digest.update(b"IPv%d\n" % family)
        digest.update("\n".join(_OUR_LINE.findall(text)).encode())
        for match in _BUILTIN_LINE_NAMING_OURS.finditer(text):
            position = text.count("\n-A %s " % match.group(1), 0, match.start())
            digest.update(("\n%d %s" % (position, match.group(0))).encode())
    for block in blocks:
        digest.update(block.encode())
    return digest.hexdigest()


def read_live(shell, backend, families):
    """Our chains per family and our sets' blocks, and their digest."""
    texts, blocks, digest = read_saves(shell, backend, families)
    return {family: parse_iptables_save(text, family) for family, text in texts.items()}, blocks, digest


class Record:
    """What the last run that found nothing to do saw: the desired state's fingerprint and a
    digest of our live state. When both match again, that comparison's result still holds, so
    the run needs neither render nor parse; any drift changes the live digest."""

    def __init__(self, state_dir):
        self.path = os.path.join(state_dir, RECORD_FILE) if state_dir else None

    def load(self):
        if self.path is None:
            return None
        try:
            with open(self.path, encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return None

    def save(self, entry):
        if self.path is None:
            return
        write_atomically(self.path, json.dumps(entry))


def apply(shell, changes, backend):
    """The three steps, each only when it has something to do; the first failure stops the run."""
    if changes.set_lines:
        shell.write(["ipset", "restore"], changes.set_lines)
    for family in sorted(changes.table_lines):
        shell.write([iptables_tools(backend, family)[1], "--noflush", "--wait"], changes.table_lines[family])
    if changes.destroy_lines:
        try:
            destroy_sets(shell, changes.destroy_lines)
        except ConvergeError as error:
            error.settled = True
            raise


def destroy_sets(shell, lines):
    """Destroy unreferenced sets; one held for an instant by a concurrent listing is retried."""
    try:
        shell.write(["ipset", "restore"], lines)
        return
    except ConvergeError as error:
        if SET_BUSY not in error.stderr:
            raise
    for line in lines:
        argv = ["ipset"] + line.split()
        for _attempt in range(DESTROY_ATTEMPTS):
            rc, err = shell.attempt(argv)
            if rc == 0 or SET_MISSING in err:
                break
            if SET_BUSY not in err:
                raise ConvergeError("%s failed (rc=%d): %s" % (" ".join(argv), rc, err.strip()), argv, rc, err)
            time.sleep(DESTROY_PAUSE)
        else:
            raise ConvergeError("%s: the set stayed in use" % " ".join(argv), argv, rc, err)


def _members_by_set(members):
    found = {}
    for line in members:
        name, member = line.split(" ", 1)
        found.setdefault(name, set()).add(member)
    return found


def put_back(shell, backend, families, before, blocks):
    """Undo a failed run: our chains, jumps and sets as `before` (and its `ipset save` blocks) had them.

    Rules first, each family in one transaction; then every set whose members changed gets them
    back (its twin still holds them after a swap, else it is rebuilt from its saved block, hash
    seed included), and the sets the run created are destroyed, no rule of ours using them.
    """
    tables, now_blocks, _digest = read_live(shell, backend, families)
    now = LiveState(tables, *parse_set_blocks(now_blocks))
    for family in families:
        old, new = before.tables[family], now.tables[family]
        if (old.chains, old.jumps) == (new.chains, new.jumps):
            continue
        names = sorted(set(old.chains) | set(new.chains))
        lines = ["*filter"] + [":%s - [0:0]" % name for name in names]
        lines += ["-D %s %s" % (chain, spec) for chain, _position, spec in new.jumps]
        lines += ["-A %s %s" % (name, rule) for name in sorted(old.chains) for rule in old.chains[name]]
        lines += ["-I %s %d %s" % (chain, position + 1, spec) for chain, position, spec in sorted(old.jumps)]
        lines += ["-X %s" % name for name in names if name not in old.chains] + ["COMMIT"]
        shell.write([iptables_tools(backend, family)[1], "--noflush", "--wait"], lines)
    saved = {block.split(" ", 2)[1]: block for block in blocks}
    old_members, new_members = _members_by_set(before.members), _members_by_set(now.members)
    set_lines, used = [], set()
    for name in sorted(before.sets):
        if name in now.sets and new_members.get(name) == old_members.get(name):
            continue
        if name not in now.sets:
            set_lines += saved[name].splitlines()
            continue
        twin = naming.temp_set(name)
        if twin not in now.sets or new_members.get(twin) != old_members.get(name):
            if twin in now.sets:
                set_lines.append("destroy %s" % twin)
            set_lines += [(line.replace(name, twin, 1) if line.startswith(("create ", "add ")) else line)
                          for line in saved[name].splitlines()]
        set_lines.append("swap %s %s" % (twin, name))
        used.add(twin)
    if set_lines:
        shell.write(["ipset", "restore"], [line for line in set_lines if line])
    created = sorted((set(now.sets) | used) - set(before.sets))
    if created:
        destroy_sets(shell, ["destroy %s" % name for name in created])


@contextmanager
def put_back_on_failure(shell, backend, families, before, blocks):
    """A run that fails part way leaves the node as it found it, and says so (or why it could not)."""
    try:
        yield
    except ConvergeError as error:
        if shell.check_mode:
            raise
        if error.settled:  # the new rules are whole: put back, they would be undone for a leftover set
            error.args = ("%s (the new rules are in place; the next run removes the sets left over)" % error,)
            raise
        try:
            put_back(shell, backend, families, before, blocks)
        except ConvergeError as undo:
            raise ConvergeError("%s; putting our previous rules and sets back failed too: %s" % (error, undo),
                                error.cmd, error.rc, error.stderr) from error
        error.args = ("%s (our previous rules and sets were put back)" % error,)
        raise


def state_text(tables, sets):
    """Our rules and set members as a reviewer reads them; the same layout for live and desired."""
    lines = []
    for family in sorted(tables):
        table = tables[family]
        lines.append("# IPv%d filter table" % family)
        lines += ["-I %s %d %s" % (chain, position + 1, spec) for chain, position, spec in table["jumps"]]
        for name in sorted(table["chains"]):
            lines.append(":%s" % name)
            lines += ["-A %s %s" % (name, rule) for rule in table["chains"][name]]
    if sets:
        lines.append("# ipsets")
    for name in sorted(sets):
        kind, family, members = sets[name]
        lines.append("create %s %s family %s" % (name, kind, {4: "inet", 6: "inet6"}.get(family, "?")))
        lines += ["add %s %s" % (name, member) for member in sorted(members, key=member_sort_key)]
    return "\n".join(lines) + "\n" if lines else ""


def live_text(live, families):
    tables = {family: {"jumps": live.tables[family].jumps, "chains": live.tables[family].chains} for family in families}
    members = {}
    for line in live.members:
        name, member = line.split(" ", 1)
        members.setdefault(name, []).append(member)
    sets = {name: (item.type, item.family, members.get(name, ())) for name, item in live.sets.items()
            if _managed(item, families)}
    return state_text(tables, sets)


def desired_text(desired):
    tables = {table.family: {"jumps": [(JUMP_CHAIN, 0, table.jump)], "chains": table.chain_map}
              for table in desired.tables}
    sets = {item.name: (item.type, item.family, item.members) for item in desired.sets}
    return state_text(tables, sets)


@contextmanager
def node_lock(state_dir, timeout=DEFAULT_LOCK_TIMEOUT):
    """An exclusive flock under the node's state directory, so two runs never interleave."""
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    handle = os.open(os.path.join(state_dir, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ConvergeError("another run holds %s (waited %.0f s)"
                                        % (os.path.join(state_dir, LOCK_FILE), timeout)) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(handle)  # closing the descriptor releases the lock


@dataclass
class Result:
    changed: bool
    backend: str
    commands: list
    counts: dict
    summary: dict
    diff: dict | None = None
    after: object = None


def converge(desired, run, families=(4, 6), backend="auto", check_mode=False, state_dir=None,
             want_diff=False, lock_timeout=DEFAULT_LOCK_TIMEOUT, fingerprint=None, connections=None,
             after=None):
    """Make the node's state equal the desired one, or remove ours when `desired` is None.

    `desired` is a render.Desired or a callable returning one (rendered only when needed).
    With a `fingerprint` of the desired state (render.fingerprint) and a `state_dir`, a run
    whose live state is byte for byte the one a previous run found converged stops after
    reading it. `connections` (a conntrack.ConnectionCutter) cuts, after a run that changed
    the rules, the connections they no longer allow. `after(backend)` runs last, still under the
    lock, once the node is converged (persist.py saves the state there); its result is returned
    as Result.after.
    """
    if backend not in BACKENDS:
        raise ConvergeError("backend must be one of %s, not %r" % (", ".join(BACKENDS), backend))
    families = tuple(sorted(families))
    shell = Shell(run, check_mode)
    record = Record(state_dir if fingerprint and desired is not None else None)
    try:
        with node_lock(state_dir, lock_timeout) if state_dir else _no_lock():
            seen = None if want_diff else record.load()
            # A node found converged is read in the tables it was found in: if our state there is still
            # byte for byte the recorded one, asking which backend the node uses would change nothing.
            recorded = seen.get("backend") if backend == "auto" and seen else None
            trusted = recorded in CHOSEN_BACKENDS
            chosen = recorded if trusted else choose_backend(shell, backend, families)
            texts, blocks, digest = read_saves(shell, chosen, families)
            entry = {"fingerprint": fingerprint, "backend": chosen, "families": list(families), "live": digest}
            if seen is not None and {key: seen.get(key) for key in entry} == entry:
                return Result(False, chosen, shell.commands, seen["counts"], Changes().summary,
                              after=after(chosen) if after else None)
            if trusted:  # the record is stale: choose the backend as a first run does
                detected = choose_backend(shell, backend, families)
                if detected != chosen:
                    chosen = detected
                    texts, blocks, digest = read_saves(shell, chosen, families)
                    entry = dict(entry, backend=chosen, live=digest)
            tables = {family: parse_iptables_save(text, family) for family, text in texts.items()}
            if callable(desired):
                desired = desired()
            _check_families(desired, families)
            live = LiveState(tables, *parse_set_blocks(blocks))
            with put_back_on_failure(shell, chosen, families, live, blocks):
                if desired is None:
                    changes = plan_absent(live, families)
                    apply(shell, changes, chosen)
                else:
                    changes = apply_present(shell, desired, live, families, chosen)
            if connections is not None and changes.changed:
                changes.summary["connections_cut"] = connections.run(shell, families)
            counts = desired.counts() if desired is not None else {"chains": 0, "rules": 0, "sets": 0, "members": 0}
            if not changes.changed and not check_mode:
                record.save(dict(entry, counts=counts))
            done = after(chosen) if after else None
    except ConvergeError as exc:
        exc.commands = shell.commands
        raise
    diff = None
    if want_diff:
        diff = {"before": live_text(live, families), "after": desired_text(desired) if desired is not None else ""}
    return Result(changes.changed, chosen, shell.commands, counts, changes.summary, diff, done)


def _check_families(desired, families):
    if desired is not None and tuple(table.family for table in desired.tables) != families:
        raise ConvergeError("the desired state covers IPv%s, the run manages IPv%s"
                            % ("+".join(str(table.family) for table in desired.tables), "+".join(map(str, families))))


@contextmanager
def _no_lock():
    yield
