# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The seed's worked examples, pair by pair: the verdict and the policy rule that decides it.

A user asks "why may A reach B?"; the answer must name the policy and the rule index the seed
would point at, not merely say allowed or denied.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.kubenet.netpol.plugins.module_utils.engine import explain
from netpol_lab import scenario as scenarios

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"


def ask(scenario_name, source, destination, protocol, port):
    """explain() for one pair of a seed scenario; the reasons joined for easy matching."""
    scenario = scenarios.load_scenario(SCENARIO_DIR / ("%s.yaml" % scenario_name))
    endpoints = {endpoint.name: endpoint for endpoint in scenarios.scenario_endpoints(scenario)}
    resolver = explain.ClusterVerdicts(scenario.cluster, scenario.policies)
    verdict = explain.explain(resolver, endpoints[source], endpoints[destination], protocol, port)
    return verdict, "\n".join(verdict.reasons)


# (scenario, source, destination, protocol, port, reason the allowing side must give)
ALLOWED = [
    # Section 2: each of the three ingress sources, then the egress rule.
    ("seed-2-test-network-policy", "default/frontend", "default/db", "TCP", 6379,
     "default/db is isolated for ingress by default/test-network-policy; "
     "allowed by default/test-network-policy ingress rule 0"),
    ("seed-2-test-network-policy", "myproject/app", "default/db", "TCP", 6379,
     "allowed by default/test-network-policy ingress rule 0"),
    ("seed-2-test-network-policy", "ext-172-17-0-5", "default/db", "TCP", 6379,
     "allowed by default/test-network-policy ingress rule 0"),
    ("seed-2-test-network-policy", "ext-172-17-2-5", "default/db", "TCP", 6379,
     "allowed by default/test-network-policy ingress rule 0"),
    ("seed-2-test-network-policy", "default/db", "ext-10-0-0-5", "TCP", 5978,
     "default/db is isolated for egress by default/test-network-policy; "
     "allowed by default/test-network-policy egress rule 0"),
    # Section 3: AND in one peer, OR over two peers.
    ("seed-3-and-one-peer", "alice/client", "x/db", "TCP", 80, "allowed by x/db-and ingress rule 0"),
    ("seed-3-or-two-peers", "alice/other", "x/db", "TCP", 80, "allowed by x/db-or ingress rule 0"),
    ("seed-3-or-two-peers", "x/client", "x/db", "TCP", 80, "allowed by x/db-or ingress rule 0"),
    # Sections 4.2 and 4.4: the allow-all policy answers, the deny policy only isolates.
    ("seed-4-2-default-allow-ingress", "other/c", "default/a", "UDP", 81,
     "allowed by default/allow-all-ingress ingress rule 0"),
    ("seed-4-4-default-allow-egress", "default/a", "ext-a", "TCP", 80,
     "allowed by default/allow-all-egress egress rule 0"),
    # Section 5.2: the busybox with access=true.
    ("seed-5-2-access-nginx", "default/busybox-access", "default/nginx", "TCP", 80,
     "default/nginx is isolated for ingress by default/access-nginx; allowed by default/access-nginx ingress rule 0"),
    # Section 6 (protocol repaired).
    ("seed-6-corrected", "default/frontend", "default/db", "TCP", 6379,
     "allowed by default/test-network-policy ingress rule 0"),
]

# (scenario, source, destination, protocol, port, reason the refusing side must give)
DENIED = [
    ("seed-2-test-network-policy", "ext-172-17-1-5", "default/db", "TCP", 6379,
     "default/db is isolated for ingress by default/test-network-policy; no ingress rule"),
    ("seed-2-test-network-policy", "other/frontend", "default/db", "TCP", 6379,
     "default/db is isolated for ingress by default/test-network-policy; no ingress rule"),
    ("seed-2-test-network-policy", "default/frontend", "default/db", "TCP", 5978,
     "default/db is isolated for ingress by default/test-network-policy; no ingress rule"),
    ("seed-2-test-network-policy", "default/db", "default/frontend", "TCP", 6379,
     "default/db is isolated for egress by default/test-network-policy; no egress rule"),
    ("seed-2-test-network-policy", "default/db", "ext-10-0-0-5", "TCP", 6379,
     "default/db is isolated for egress by default/test-network-policy; no egress rule"),
    ("seed-3-and-one-peer", "alice/other", "x/db", "TCP", 80, "x/db is isolated for ingress by x/db-and; no ingress rule"),
    ("seed-3-and-one-peer", "x/client", "x/db", "TCP", 80, "x/db is isolated for ingress by x/db-and; no ingress rule"),
    ("seed-3-or-two-peers", "bob/client", "x/db", "TCP", 80, "x/db is isolated for ingress by x/db-or; no ingress rule"),
    ("seed-4-1-default-deny-ingress", "default/a", "default/b", "TCP", 80,
     "default/b is isolated for ingress by default/default-deny-ingress; no ingress rule"),
    ("seed-4-3-default-deny-egress", "default/a", "other/c", "TCP", 80,
     "default/a is isolated for egress by default/default-deny-egress; no egress rule"),
    ("seed-4-5-default-deny-all", "default/a", "default/b", "TCP", 80,
     "default/a is isolated for egress by default/default-deny-all; no egress rule"),
    ("seed-4-5-default-deny-all", "default/a", "default/b", "TCP", 80,
     "default/b is isolated for ingress by default/default-deny-all; no ingress rule"),
    ("seed-5-2-access-nginx", "default/busybox", "default/nginx", "TCP", 80,
     "default/nginx is isolated for ingress by default/access-nginx; no ingress rule"),
    ("seed-5-2-access-nginx", "other/busybox-access", "default/nginx", "TCP", 80,
     "default/nginx is isolated for ingress by default/access-nginx; no ingress rule"),
    ("seed-6-corrected", "default/frontend", "default/db", "TCP", 80,
     "default/db is isolated for ingress by default/test-network-policy; no ingress rule"),
]


def _id(case):
    return "%s:%s->%s:%s/%s" % case[:5]


@pytest.mark.parametrize("case", ALLOWED, ids=[_id(case) for case in ALLOWED])
def test_seed_pair_is_allowed_by_the_named_rule(case):
    scenario, source, destination, protocol, port, reason = case
    verdict, text = ask(scenario, source, destination, protocol, port)
    assert verdict.allowed, text
    assert reason in text


@pytest.mark.parametrize("case", DENIED, ids=[_id(case) for case in DENIED])
def test_seed_pair_is_denied_and_the_isolating_policy_is_named(case):
    scenario, source, destination, protocol, port, reason = case
    verdict, text = ask(scenario, source, destination, protocol, port)
    assert not verdict.allowed, text
    assert reason in text


def test_external_source_is_said_to_be_outside_the_cluster():
    verdict, text = ask("seed-2-test-network-policy", "ext-172-17-0-5", "default/db", "TCP", 6379)
    assert verdict.allowed
    assert "ext-172-17-0-5 is outside the cluster" in text


def test_unisolated_side_says_so():
    verdict, text = ask("seed-2-test-network-policy", "default/frontend", "default/db", "TCP", 6379)
    assert verdict.allowed
    assert "default/frontend is not isolated for egress" in text


def test_deny_policy_is_listed_among_the_isolating_policies_but_never_allows():
    verdict, text = ask("seed-4-2-default-allow-ingress", "default/a", "default/b", "TCP", 80)
    assert verdict.allowed
    assert "default/allow-all-ingress" in text and "default/default-deny-ingress" in text
    assert "allowed by default/default-deny-ingress" not in text
