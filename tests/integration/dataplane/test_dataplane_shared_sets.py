# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sets shared by equal member lists, converged in a fresh namespace (needs root).

Two policies on n1 allow the same peers: x/p1 (on x/a) every pod of namespaces with team=blue,
x/p2 (on x/c) the app=d pods of those namespaces. While y holds only app=d pods both lists are
equal and the two rules share one set, named after the smaller user, x/p1's clause.
"""

from __future__ import annotations

import os
import re

import pytest

from dataplane_plans import desired, netpol, pod

from ansible_collections.kubenet.netpol.plugins.module_utils.node import naming
from ansible_collections.kubenet.netpol.plugins.module_utils.node.dataplane import converge

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, netfilter)")]

PODS = (pod("x/a", "n1", ["10.244.1.10"], "a"), pod("x/c", "n1", ["10.244.1.12"], "c"),
        pod("y/d", "n2", ["10.244.2.10"], "d"))
POLICIES = (
    netpol("x/p1", {"podSelector": {"matchLabels": {"app": "a"}},
                    "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "blue"}}}],
                                 "ports": [{"port": 80}]}]}),
    netpol("x/p2", {"podSelector": {"matchLabels": {"app": "c"}},
                    "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "blue"}},
                                           "podSelector": {"matchLabels": {"app": "d"}}}],
                                 "ports": [{"port": 81}]}]}),
)
SHARED = naming.set_name("hash:ip", 4, "P", "x/p1", "ingress", 0, 0)
OWN_P2 = naming.set_name("hash:ip", 4, "P", "x/p2", "ingress", 0, 0)
BOTH_GROW = PODS + (pod("y/w", "n2", ["10.244.2.30"], "d"),)  # app=d: both lists gain it
P1_GROWS = PODS + (pod("y/z", "n2", ["10.244.2.20"], "z"),)  # not app=d: only x/p1's list gains it


def state(pods):
    return desired(pods=pods, policies=POLICIES, families=(4,))


def peers_seen(runner):
    """{policy: members of the set its rule matches} as the kernel holds them now."""
    lines = runner.filter_lines(4)
    seen = {}
    for policy in ("x/p1", "x/p2"):
        chain = naming.policy_chain(policy, "ingress")
        rule = next(line for line in lines if line.startswith("-A %s " % chain))
        name = re.search(r"--match-set (\S+) ", rule).group(1)
        listing = runner.run("ipset", "list", name)
        seen[policy] = frozenset(listing.split("Members:\n", 1)[1].split())
    return seen


class Watching:
    """The runner, looking at what each policy's rule matches after every write that changes state."""

    def __init__(self, runner):
        self.runner = runner
        self.seen = []

    def __call__(self, argv, stdin=None):
        result = self.runner(argv, stdin)
        if stdin is not None:
            self.seen.append(peers_seen(self.runner))
        return result


def test_equal_peer_lists_share_one_set(runner, state_dir):
    converge(state(PODS), runner, families=(4,), state_dir=state_dir)
    assert set(runner.run("ipset", "list", "-n").split()) == {  # the peers; x/a, x/c, both (the dispatch)
        SHARED, naming.set_name("hash:ip", 4, "D", "ingress", "x/p1"), naming.set_name("hash:ip", 4, "D", "ingress", "x/p2"),
        naming.set_name("hash:ip", 4, "I", "ingress")}
    assert peers_seen(runner) == {"x/p1": {"10.244.2.10"}, "x/p2": {"10.244.2.10"}}
    rules = "\n".join(runner.filter_lines(4))
    assert rules.count("--match-set %s src" % SHARED) == 2


def test_a_change_every_user_follows_is_a_swap_and_writes_no_rule(runner, state_dir):
    converge(state(PODS), runner, families=(4,), state_dir=state_dir)
    runner.calls.clear()
    result = converge(state(BOTH_GROW), runner, families=(4,), state_dir=state_dir)
    assert result.summary["sets_swapped"] == [SHARED] and result.summary["chains_written"] == []
    twin = naming.temp_set(SHARED)
    assert [(call[0], call[1].splitlines()) for call in runner.writes()] == [  # no iptables-restore at all
        (("ipset", "restore"), ["create %s hash:ip family inet" % twin, "add %s 10.244.2.10" % twin,
                                "add %s 10.244.2.30" % twin, "swap %s %s" % (twin, SHARED)]),
        (("ipset", "restore"), ["destroy %s" % twin])]
    assert peers_seen(runner) == {"x/p1": {"10.244.2.10", "10.244.2.30"}, "x/p2": {"10.244.2.10", "10.244.2.30"}}


def test_a_user_splitting_off_or_joining_never_sees_the_other_members(runner, state_dir):
    """x/p1 keeps the shared set's name when its list grows, so x/p2 must move to a set of its
    own; then x/p2 joins again. At no instant may x/p2's rule match y/z, nor x/p1's rule lose y/d."""
    converge(state(PODS), runner, families=(4,), state_dir=state_dir)
    alone, grown = frozenset({"10.244.2.10"}), frozenset({"10.244.2.10", "10.244.2.20"})

    split = Watching(runner)
    result = converge(state(P1_GROWS), split, families=(4,), state_dir=state_dir)
    assert result.summary["sets_swapped"] == [SHARED] and result.summary["sets_created"] == [OWN_P2]
    assert split.seen and all(seen["x/p2"] == alone and seen["x/p1"] in (alone, grown) for seen in split.seen)
    assert split.seen[-1] == {"x/p1": grown, "x/p2": alone}
    created = [line for call in runner.writes() if call[0][0] == "ipset" for line in call[1].splitlines()
               if line.startswith("create ")]
    assert "create %s hash:ip family inet" % naming.bridge_set(SHARED) in created
    assert set(runner.run("ipset", "list", "-n").split()) == {item.name for item in state(P1_GROWS).sets}

    join = Watching(runner)
    result = converge(state(PODS), join, families=(4,), state_dir=state_dir)
    assert result.summary["sets_destroyed"] == [OWN_P2]
    assert join.seen and all(seen["x/p2"] == alone and seen["x/p1"] in (alone, grown) for seen in join.seen)
    assert join.seen[-1] == {"x/p1": alone, "x/p2": alone}
    assert set(runner.run("ipset", "list", "-n").split()) == {item.name for item in state(PODS).sets}
    assert not converge(state(PODS), runner, families=(4,), state_dir=state_dir).changed
