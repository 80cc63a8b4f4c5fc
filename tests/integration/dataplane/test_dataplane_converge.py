# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converging real netfilter state in a fresh network namespace per test (needs root).

Each test drives dataplane.converge with a runner that records every command, so "writes
nothing" is asserted on the commands that ran, not inferred from the output.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import pytest

from dataplane_plans import STANDARD_POLICIES, STANDARD_PODS, desired, netpol, node_slice, remote_pods, without

from ansible_collections.kubenet.netpol.plugins.module_utils.node import naming
from ansible_collections.kubenet.netpol.plugins.module_utils.node.dataplane import RECORD_FILE, ConvergeError, converge, node_lock
from ansible_collections.kubenet.netpol.plugins.module_utils.node.render import RenderOptions, fingerprint

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, netfilter)")]

FOREIGN_V4 = """*filter
:KUBE-FORWARD - [0:0]
:KUBE-SERVICES - [0:0]
:DOCKER - [0:0]
:DOCKER-USER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -m set --match-set admins src -j ACCEPT
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m mark --mark 0x4000/0x4000 -m comment --comment "kubernetes forwarding rules" -j ACCEPT
-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m udp --dport 53 -j REJECT --reject-with icmp-port-unreachable
-A DOCKER-USER -j RETURN
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
COMMIT
"""
FOREIGN_V6 = """*filter
:KUBE-FORWARD - [0:0]
-A FORWARD -j KUBE-FORWARD
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
COMMIT
"""


def run_converge(runner, state_dir, state=None, **kwargs):
    return converge(desired() if state is None else state, runner, state_dir=state_dir, **kwargs)


def snapshot(runner):
    return runner.filter_lines(4), runner.filter_lines(6), runner.ipset_lines()


def foreign(lines):
    return [line for line in lines if naming.PREFIX not in line]


def chain_rules(lines, chain):
    return [line for line in lines if line.startswith("-A %s " % chain)]


def set_names(runner):
    return set(runner.run("ipset", "list", "-n").split())


def test_first_converge_creates_our_state_and_a_rerun_writes_nothing(runner, state_dir):
    first = run_converge(runner, state_dir)
    assert first.changed and first.backend == "default"
    assert [call[0] for call in runner.writes()] == [
        ("ipset", "restore"),
        ("iptables-restore", "--noflush", "--wait"), ("ip6tables-restore", "--noflush", "--wait")]
    v4, v6, sets = snapshot(runner)
    jump = '-A FORWARD -m comment --comment "kubenet-netpol: network policies" -j KUBENET-FORWARD'
    assert chain_rules(v4, "FORWARD") == [jump] and chain_rules(v6, "FORWARD") == [jump]
    assert chain_rules(v4, "KUBENET-FORWARD")[0] == "-A KUBENET-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN"
    assert set_names(runner) == {item.name for item in desired().sets}

    runner.calls.clear()
    second = run_converge(runner, state_dir)
    assert not second.changed
    assert runner.writes() == []
    assert not [call for call in runner.calls if "restore" in " ".join(call[0])]
    assert snapshot(runner) == (v4, v6, sets)


def test_check_mode_writes_nothing_and_its_diff_shows_rules_and_members(runner, state_dir):
    empty = snapshot(runner)
    check = run_converge(runner, state_dir, check_mode=True, want_diff=True)
    assert check.changed
    assert runner.writes() == []
    assert snapshot(runner) == empty
    assert [command for command in check.commands if "not run" in command] == [
        command for command in check.commands if "restore" in command]
    assert "-I FORWARD 1 -m comment" in check.diff["after"]
    dispatch = naming.set_name("hash:ip", 4, "D", "ingress", "x/deny-ingress", "x/from-blue")
    assert "add %s 10.244.1.12" % dispatch in check.diff["after"]
    assert naming.PREFIX not in check.diff["before"]

    run_converge(runner, state_dir)
    more = desired(pods=STANDARD_PODS + remote_pods(1))  # y/peer-0 joins x/from-blue's peers
    runner.calls.clear()
    check = run_converge(runner, state_dir, state=more, check_mode=True, want_diff=True)
    peers = naming.set_name("hash:ip", 4, "P", "x/from-blue", "ingress", 0, 0)
    assert check.changed and check.summary["sets_swapped"] == [peers]  # x/c has no IPv6: no IPv6 peer set
    assert check.summary["chains_written"] == []
    assert "add %s 10.244.20.1" % peers in check.diff["after"]
    assert "add %s 10.244.20.1" % peers not in check.diff["before"]
    assert runner.writes() == []


def test_drift_is_reported_by_check_mode_and_repaired(runner, state_dir):
    run_converge(runner, state_dir)
    clean = snapshot(runner)
    policy_chain = naming.policy_chain("x/allow-b-to-a", "ingress")
    pod_chain = naming.pod_chain("ingress", ("x/deny-ingress", "x/from-blue"))
    # allow-b-to-a's peers are x/b, the pods egress-b dispatches (and deny-ingress alone isolates
    # for ingress): one set, named after the smallest user, the egress dispatch.
    peers = naming.set_name("hash:ip", 4, "D", "egress", "x/egress-b")
    runner.run("iptables", "-D", policy_chain, "1")
    runner.run("iptables", "-F", pod_chain)
    runner.run("ipset", "add", peers, "10.9.9.9")
    runner.run("ip6tables", "-D", "FORWARD", "1")
    runner.calls.clear()

    check = run_converge(runner, state_dir, check_mode=True)
    assert check.changed and runner.writes() == []
    assert check.summary["chains_written"] == ["%s (IPv4)" % name for name in sorted([policy_chain, pod_chain])]
    assert check.summary["sets_swapped"] == [peers]
    assert check.summary["jumps_fixed"] == [6]

    assert run_converge(runner, state_dir).changed
    assert snapshot(runner) == clean
    assert not run_converge(runner, state_dir).changed


def test_foreign_chains_rules_and_sets_survive_every_run(runner, state_dir):
    runner.run("ipset", "create", "admins", "hash:ip")
    runner.run("ipset", "add", "admins", "192.0.2.7")
    subprocess.run(["ip", "netns", "exec", runner.netns, "iptables-restore", "--noflush"], input=FOREIGN_V4,
                   text=True, check=True)
    subprocess.run(["ip", "netns", "exec", runner.netns, "ip6tables-restore", "--noflush"], input=FOREIGN_V6,
                   text=True, check=True)
    before = [foreign(lines) for lines in snapshot(runner)]

    run_converge(runner, state_dir)
    v4 = runner.filter_lines(4)
    assert chain_rules(v4, "FORWARD")[0].endswith("-j KUBENET-FORWARD")
    assert [foreign(lines) for lines in snapshot(runner)] == before

    # Another agent inserts above our jump: we move our own jump back to the top, nothing else.
    runner.run("iptables", "-I", "FORWARD", "1", "-s", "192.0.2.1", "-j", "DROP")
    runner.run("iptables", "-A", "FORWARD", "-s", "192.0.2.2", "-j", "DROP")
    before = [foreign(lines) for lines in snapshot(runner)]
    moved = run_converge(runner, state_dir)
    assert moved.summary["jumps_fixed"] == [4] and moved.summary["chains_written"] == []
    assert chain_rules(runner.filter_lines(4), "FORWARD")[0].endswith("-j KUBENET-FORWARD")
    assert [foreign(lines) for lines in snapshot(runner)] == before

    run_converge(runner, state_dir, state=desired(policies=without(STANDARD_POLICIES, "x/egress-b")))
    assert [foreign(lines) for lines in snapshot(runner)] == before
    converge(None, runner, state_dir=state_dir)
    assert [foreign(lines) for lines in snapshot(runner)] == before
    assert all(naming.PREFIX not in "\n".join(lines) for lines in snapshot(runner))


def test_a_removed_policy_loses_its_chains_and_sets_after_the_rules_change(runner, state_dir):
    run_converge(runner, state_dir)
    smaller = desired(policies=without(STANDARD_POLICIES, "x/egress-b"))
    gone_chains = {naming.policy_chain("x/egress-b", "egress"), naming.pod_chain("egress", ("x/egress-b",))}
    # egress-b dispatches x/b, whose addresses are also allow-b-to-a's peers and the ingress
    # dispatch of the pods deny-ingress alone isolates (x/b): that shared set is named after the
    # egress dispatch (the smallest user), so it goes and its other users get a set named after the
    # ingress dispatch, created before the rules move. Rule 0's IPv4 peers (x/a, x/e) and the /0
    # blocks of rule 1 go; rule 0's IPv6 peer (x/a) shares the set of x/a's ingress dispatch,
    # named after that dispatch: it stays.
    gone_sets = {naming.set_name("hash:ip", family, "D", "egress", "x/egress-b") for family in (4, 6)} | {
        naming.set_name("hash:ip", 4, "P", "x/egress-b", "egress", 0, 0)} | {
        naming.set_name("hash:net", family, "N", "x/egress-b", "egress", 1, 0, "block", number)
        for family, number in ((4, 0), (6, 1))}
    new_sets = {naming.set_name("hash:ip", family, "D", "ingress", "x/deny-ingress") for family in (4, 6)}
    assert {item.name for item in desired().sets} - {item.name for item in smaller.sets} == gone_sets
    assert {item.name for item in smaller.sets} - {item.name for item in desired().sets} == new_sets
    runner.calls.clear()

    result = run_converge(runner, state_dir, state=smaller)
    assert sorted(result.summary["sets_destroyed"]) == sorted(gone_sets)
    assert sorted(result.summary["sets_created"]) == sorted(new_sets)
    assert sorted(result.summary["chains_deleted"]) == sorted(
        ["%s (IPv%d)" % (name, family) for name in gone_chains for family in (4, 6)])
    writes = runner.writes()
    assert [call[0][0] for call in writes] == ["ipset", "iptables-restore", "ip6tables-restore", "ipset"]
    assert writes[-1][1].splitlines() == ["destroy %s" % name for name in sorted(gone_sets)]
    v4, v6 = snapshot(runner)[:2]
    assert not any(name in line for name in gone_chains for line in v4 + v6)
    assert not gone_sets & set_names(runner)
    assert not run_converge(runner, state_dir, state=smaller).changed


def _entries_of_referenced_sets(listing):
    """(name, references, entries) of each of our sets in `ipset list -t` output."""
    found = []
    for block in listing.split("Name: ")[1:]:
        name = block.split("\n", 1)[0].strip()
        references = re.search(r"^References: (\d+)", block, re.M)
        entries = re.search(r"^Number of entries: (\d+)", block, re.M)
        if naming.is_ours(name) and references and entries:
            found.append((name, int(references.group(1)), int(entries.group(1))))
    return found


def test_no_set_in_use_is_ever_empty_while_members_change(runner, state_dir, tmp_path):
    small = desired(pods=STANDARD_PODS + remote_pods(50))
    large = desired(pods=STANDARD_PODS + remote_pods(400)[200:], policies=without(STANDARD_POLICIES, "x/egress-b"))
    run_converge(runner, state_dir, state=small)
    listing = tmp_path / "listing.txt"
    with open(listing, "w", encoding="utf-8") as out:
        watcher = subprocess.Popen(["ip", "netns", "exec", runner.netns, "sh", "-c", "while :; do ipset list -t; done"],
                                   stdout=out, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.2)
            for state in (large, small, large, small):
                run_converge(runner, state_dir, state=state)
            time.sleep(0.2)
        finally:
            watcher.kill()
            watcher.wait()
    seen = _entries_of_referenced_sets(listing.read_text(encoding="utf-8"))
    peers = naming.set_name("hash:ip", 4, "P", "x/from-blue", "ingress", 0, 0)
    assert {entries for name, refs, entries in seen if name == peers} >= {51, 201}  # the watcher saw both states
    assert [item for item in seen if item[1] > 0 and item[2] == 0] == []
    for argv, payload in runner.writes():
        if argv[0] == "ipset":
            lines = payload.splitlines()
            assert not [line for line in lines if line.startswith(("flush", "del "))]
            for number, line in enumerate(lines):
                if line.startswith("swap "):
                    twin, live = line.split()[1:]
                    assert twin == naming.temp_set(live)
                    assert "create %s hash:" % twin in "\n".join(lines[:number])
    assert not set_names(runner) & {naming.temp_set(name) for name in set_names(runner)}, "every twin is destroyed"


def test_a_failed_step_fails_loudly_and_puts_our_previous_state_back(runner, state_dir):
    run_converge(runner, state_dir)
    before = snapshot(runner)
    bigger = desired(policies=STANDARD_POLICIES + (netpol("x/new", {
        "podSelector": {"matchLabels": {"app": "b"}},
        "ingress": [{"from": [{"ipBlock": {"cidr": "192.168.0.0/16"}}]}]}),))

    def failing(argv, stdin=None):
        if argv[0] == "iptables-restore":
            return 1, "", "iptables-restore: line 3 failed (simulated)"
        return runner(argv, stdin)

    with pytest.raises(ConvergeError, match="simulated") as failure:
        converge(bigger, failing, state_dir=state_dir)
    assert failure.value.cmd[0] == "iptables-restore" and "put back" in str(failure.value)
    assert snapshot(runner) == before  # the sets the run created or swapped too
    v4, v6 = snapshot(runner)[:2]
    referenced = set(re.findall(r"--match-set (\S+)", "\n".join(v4 + v6)))
    assert referenced <= set_names(runner)
    assert chain_rules(v4, "KUBENET-FORWARD")[0].endswith("RELATED,ESTABLISHED -j RETURN")
    assert run_converge(runner, state_dir, state=bigger).changed
    assert not run_converge(runner, state_dir, state=bigger).changed


def test_a_later_family_the_kernel_refuses_changes_no_chain(runner, state_dir):
    """IPv4 is written, then IPv6 refused: IPv4 is put back, so no chain of either family changed."""
    run_converge(runner, state_dir)
    before = snapshot(runner)[:2]
    bigger = desired(policies=STANDARD_POLICIES + (netpol("x/new", {
        "podSelector": {"matchLabels": {"app": "b"}},
        "ingress": [{"from": [{"ipBlock": {"cidr": "192.168.0.0/16"}}]}]}),))

    refused = []

    def failing_ipv6(argv, stdin=None):
        if argv[0] == "ip6tables-restore" and not refused:
            refused.append(runner.filter_lines(4))  # what IPv4 held when IPv6 was refused
            return 2, "", "ip6tables-restore: line 3 failed (simulated)"
        return runner(argv, stdin)

    with pytest.raises(ConvergeError, match="simulated.*put back") as failure:
        converge(bigger, failing_ipv6, state_dir=state_dir)
    assert failure.value.cmd == ["ip6tables-restore", "--noflush", "--wait"]
    assert refused[0] != before[0], "IPv4 was written before IPv6 was refused"
    assert snapshot(runner)[:2] == before


def test_a_set_of_ours_with_the_wrong_type_stops_the_run_before_any_write(runner, state_dir):
    name = naming.set_name("hash:ip", 4, "D", "ingress", "x/deny-ingress", "x/from-blue")
    runner.run("ipset", "create", name, "hash:net")
    with pytest.raises(ConvergeError, match="exists as hash:net"):
        run_converge(runner, state_dir)
    assert runner.writes() == []


def test_the_lock_keeps_two_runs_apart(runner, state_dir):
    with node_lock(state_dir):
        with pytest.raises(ConvergeError, match="another run"):
            run_converge(runner, state_dir, lock_timeout=0.2)
    assert runner.calls == []
    assert run_converge(runner, state_dir).changed


def test_auto_backend_follows_a_node_whose_rules_are_in_legacy_tables(runner, state_dir):
    runner.run("iptables-legacy", "-A", "FORWARD", "-s", "192.0.2.9", "-j", "DROP")
    result = run_converge(runner, state_dir)
    assert result.backend == "legacy"
    assert "-A FORWARD -s 192.0.2.9/32 -j DROP" in runner.filter_lines(4, "iptables-legacy")
    assert chain_rules(runner.filter_lines(4, "iptables-legacy"), "FORWARD")[0].endswith("-j KUBENET-FORWARD")
    assert naming.PREFIX not in "\n".join(runner.filter_lines(4, "iptables-nft"))
    assert not run_converge(runner, state_dir).changed
    assert converge(None, runner, state_dir=state_dir).backend == "legacy"
    assert runner.filter_lines(4, "iptables-legacy")[-2:] == ["-A FORWARD -s 192.0.2.9/32 -j DROP", "COMMIT"]
    assert naming.PREFIX not in "\n".join(runner.filter_lines(4, "iptables-legacy"))


def test_only_the_listed_families_are_touched(runner, state_dir):
    result = converge(desired(families=(4,)), runner, families=(4,), state_dir=state_dir)
    assert result.changed
    assert not [call for call in runner.calls if call[0][0].startswith("ip6tables")]
    assert naming.PREFIX not in "\n".join(runner.filter_lines(6))
    assert not [line for line in runner.ipset_lines() if "family inet6" in line]


def test_state_absent_removes_everything_ours_rules_before_sets(runner, state_dir):
    run_converge(runner, state_dir)
    runner.calls.clear()
    result = converge(None, runner, state_dir=state_dir)
    assert result.changed
    assert [call[0][0] for call in runner.writes()] == ["iptables-restore", "ip6tables-restore", "ipset"]
    assert all(naming.PREFIX not in "\n".join(lines) for lines in snapshot(runner))
    runner.calls.clear()
    assert not converge(None, runner, state_dir=state_dir).changed
    assert runner.writes() == []


def test_a_temporary_set_left_by_an_interrupted_run_is_cleaned_up(runner, state_dir):
    run_converge(runner, state_dir)
    twin = naming.temp_set(naming.set_name("hash:ip", 4, "P", "x/from-blue", "ingress", 0, 0))
    runner.run("ipset", "create", twin, "hash:ip")
    result = run_converge(runner, state_dir)
    assert result.summary["sets_destroyed"] == [twin]
    assert twin not in set_names(runner)
    assert not run_converge(runner, state_dir).changed


def test_a_node_found_converged_is_recognised_by_its_record_until_anything_drifts(runner, state_dir):
    plan = node_slice()
    marker = fingerprint(plan, RenderOptions())
    renders = []

    def lazily():
        renders.append(1)
        return desired()

    assert converge(lazily, runner, state_dir=state_dir, fingerprint=marker).changed
    assert not converge(lazily, runner, state_dir=state_dir, fingerprint=marker).changed  # compared in full
    assert len(renders) == 2
    again = converge(lazily, runner, state_dir=state_dir, fingerprint=marker)
    assert not again.changed and len(renders) == 2  # the record matched: nothing rendered, nothing written
    assert again.counts == desired().counts()
    # ... and read in the tables the record names: no probe of the other backend's tables
    assert again.commands == ["iptables-save -t filter", "ip6tables-save -t filter", "ipset save"]

    runner.run("ipset", "add", naming.set_name("hash:ip", 4, "P", "x/from-blue", "ingress", 0, 0), "10.9.9.9")
    runner.calls.clear()
    repaired = converge(lazily, runner, state_dir=state_dir, fingerprint=marker)
    assert repaired.changed and len(renders) == 3
    assert [call[0][0] for call in runner.writes()] == ["ipset", "ipset"]  # the swap, then its twin destroyed

    other = fingerprint(plan, RenderOptions(deny_action="DROP"))
    assert converge(lambda: desired(deny_action="DROP"), runner, state_dir=state_dir, fingerprint=other).changed


def test_a_record_naming_other_tables_than_the_node_uses_is_stale(runner, state_dir):
    # The record says legacy, our state is in the default tables: the legacy read differs from the record,
    # so the run chooses its backend as a first run does, finds the default tables converged, writes nothing.
    marker = fingerprint(node_slice(), RenderOptions())
    assert converge(desired(), runner, state_dir=state_dir, fingerprint=marker).changed
    assert not converge(desired(), runner, state_dir=state_dir, fingerprint=marker).changed  # leaves the record
    path = os.path.join(state_dir, RECORD_FILE)
    with open(path, encoding="utf-8") as handle:
        record = json.load(handle)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(dict(record, backend="legacy"), handle)
    runner.calls.clear()
    result = converge(desired(), runner, state_dir=state_dir, fingerprint=marker)
    assert result.backend == "default" and not result.changed and not runner.writes()
    assert "iptables-legacy-save -t filter" in result.commands  # read first, as the record said
    assert naming.PREFIX not in "\n".join(runner.filter_lines(4, "iptables-legacy"))
