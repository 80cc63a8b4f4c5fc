# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Faults of the node tools (issue #13, point 2), against the real kernel in a fresh namespace (needs root).

A rule the kernel rejects only when the table is committed (iptables-restore --test accepts it), a
set of a type ipset does not know: the run fails naming the command and the kernel's or
ipset's words, and our part of the node is exactly what it was before. Two runs at once on
one node, as two processes: the second waits for the first, or gives up with a clear message
when the lock timeout passes first.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time

import pytest

from cluster_states import STATES, grid, live_desired, plan_of, rendered, verdicts

from ansible_collections.kubenet.netpol.plugins.module_utils.node import naming
from ansible_collections.kubenet.netpol.plugins.module_utils.node.dataplane import ConvergeError, converge
from ansible_collections.kubenet.netpol.plugins.module_utils.node.render import IpSet

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, netfilter)")]

OLD, NEW = STATES[0], dict(STATES[-1])  # a's tier, every optional policy, the peers: sets and chains all change
KERNEL_REJECTS = "-p udp -m comment --comment kernel-rejects -j REJECT --reject-with tcp-reset"


def ours(runner):
    """Our part of the node as the tools print it (the filter tables without their dated header lines)."""
    tables = [[line for line in runner.run(tool, "-t", "filter").splitlines()
               if naming.PREFIX in line and not line.startswith("#")] for tool in ("iptables-save", "ip6tables-save")]
    return tables, [line for line in runner.run("ipset", "save").splitlines() if naming.PREFIX in line]


def with_rule(state_of_rules, family, rule):
    """The desired state with one more rule at the end of our top chain of a family."""
    tables = tuple(dataclasses.replace(table, chains=tuple(
        (name, rules + (rule,) if name == naming.TOP_CHAIN else rules) for name, rules in table.chains))
        if table.family == family else table for table in state_of_rules.tables)
    return dataclasses.replace(state_of_rules, tables=tables)


@pytest.mark.parametrize("family", [4, 6])
def test_a_rule_the_kernel_rejects_fails_the_run_clearly_and_leaves_our_state_as_it_was(runner, state_dir, family):
    converge(rendered(OLD), runner, state_dir=state_dir)
    before = ours(runner)
    broken = with_rule(rendered(NEW), family, KERNEL_REJECTS)
    with pytest.raises(ConvergeError) as failure:
        converge(broken, runner, state_dir=state_dir)
    message = str(failure.value)
    tool = "iptables-restore" if family == 4 else "ip6tables-restore"
    assert message.startswith(tool) and "Invalid argument" in message, message
    assert "--test" not in message, "only the kernel refuses the rule: no test run could have caught it"
    assert ours(runner) == before
    assert converge(rendered(NEW), runner, state_dir=state_dir).changed  # the node is not stuck
    assert not converge(rendered(NEW), runner, state_dir=state_dir).changed


def test_a_set_type_ipset_does_not_know_fails_the_run_clearly_and_leaves_our_state_as_it_was(runner, state_dir):
    converge(rendered(OLD), runner, state_dir=state_dir)
    before = ours(runner)
    state = rendered(NEW)
    unknown = IpSet(naming.PREFIX + "Z4-unknown-type", 4, "hash:nosuch", ("10.244.1.10",))
    broken = dataclasses.replace(with_rule(state, 4, "-m set --match-set %s src -j RETURN" % unknown.name),
                                 sets=state.sets + (unknown,))
    with pytest.raises(ConvergeError) as failure:
        converge(broken, runner, state_dir=state_dir)
    message = str(failure.value)
    assert message.startswith("ipset restore") and "hash:nosuch" in message, message
    assert ours(runner) == before
    assert converge(rendered(NEW), runner, state_dir=state_dir).changed
    assert not converge(rendered(NEW), runner, state_dir=state_dir).changed


def test_a_set_a_foreign_rule_still_uses_fails_the_run_but_the_new_rules_stay(runner, state_dir):
    """Only the destruction of a stale set failed: putting the old rules back would undo a whole change."""
    converge(rendered(OLD), runner, state_dir=state_dir)
    new = rendered(NEW)
    stale = [item for item in rendered(OLD).sets if item.name not in {kept.name for kept in new.sets}]
    assert stale, "the change leaves a set of ours unused"
    tool = "iptables" if stale[0].family == 4 else "ip6tables"
    foreign = ["FORWARD", "-m", "set", "--match-set", stale[0].name, "src", "-j", "RETURN"]
    runner.run(tool, "-A", *foreign)
    with pytest.raises(ConvergeError, match="the new rules are in place") as failure:
        converge(new, runner, state_dir=state_dir)
    assert "destroy %s: the set stayed in use" % stale[0].name in str(failure.value)
    live = live_desired(*(runner.run(save, "-t", "filter") for save in ("iptables-save", "ip6tables-save")),
                        runner.run("ipset", "save"))
    packets = grid()  # the rules may still use a bridge set (dataplane.py): same members, another name
    assert verdicts(live, packets) == verdicts(new, packets)
    runner.run(tool, "-D", *foreign)
    assert stale[0].name in converge(new, runner, state_dir=state_dir).summary["sets_destroyed"]
    assert stale[0].name not in runner.run("ipset", "list", "-n").split()
    assert not converge(new, runner, state_dir=state_dir).changed


HOLDER = r"""
import sys, time
from ansible_collections.kubenet.netpol.plugins.module_utils.node.dataplane import node_lock
with node_lock(sys.argv[1]):
    print("holding", flush=True)
    sys.stdin.readline()
"""

MODULE = "ansible_collections.kubenet.netpol.plugins.modules.netpol_chains"


def start_holder(state_dir):
    """Another run's process holding the node's lock until its stdin gets a line."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, state_dir], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert holder.stdout.readline().strip() == "holding"
    return holder


def start_module(runner, tmp_path, state_dir, lock_timeout):
    """netpol_chains run as Ansible runs it on the node, in the background."""
    path = tmp_path / "args.json"
    path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {
        "plan": plan_of(OLD), "state_dir": state_dir, "lock_timeout": lock_timeout}}), encoding="utf-8")
    return subprocess.Popen(["ip", "netns", "exec", runner.netns, sys.executable, "-m", MODULE, str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))


def finish(process, timeout=120):
    out, err = process.communicate(timeout=timeout)
    assert out, err
    return json.loads(out)


def test_a_second_run_waits_for_the_first_then_converges(runner, tmp_path, state_dir):
    holder = start_holder(state_dir)
    try:
        second = start_module(runner, tmp_path, state_dir, lock_timeout=120)
        time.sleep(3.0)  # far longer than a run on an idle node: only the lock can hold it back
        assert second.poll() is None, "the second run did not wait: %s" % (second.communicate(),)
        assert naming.PREFIX not in runner.run("iptables-save"), "it wrote while the other run held the lock"
    finally:
        holder.communicate("release\n", timeout=30)
    result = finish(second)
    assert result["changed"] and not result.get("failed"), result
    assert naming.PREFIX in runner.run("iptables-save")


def test_a_second_run_stops_with_a_clear_message_when_the_lock_timeout_passes(runner, tmp_path, state_dir):
    holder = start_holder(state_dir)
    try:
        began = time.monotonic()
        result = finish(start_module(runner, tmp_path, state_dir, lock_timeout=2))
        waited = time.monotonic() - began
    finally:
        holder.communicate("release\n", timeout=30)
    assert result.get("failed"), result
    assert "another run holds %s" % os.path.join(state_dir, "netpol.lock") in result["msg"], result["msg"]
    assert "waited 2 s" in result["msg"], result["msg"]
    assert waited >= 2.0
    assert runner.run("ipset", "list", "-n") == "" and naming.PREFIX not in runner.run("iptables-save")
