# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The diff of a hand-written change, its effect reasoned by hand from the specification.

Namespace x: x/web (app=web), x/api (app=api). Namespace y: y/client (app=client). Nothing
isolates egress.

Baseline: x/api-from-web isolates x/api for ingress and lets app=web pods of x reach it on TCP 8000.
The change adds
- x/deny-all (podSelector {}, policyTypes [Ingress], no rule): every pod of x is now isolated for
  ingress. x/web was not isolated: everything into it is newly denied, from x/api and from
  y/client, on every port. x/api was isolated already: nothing changes for it.
- x/api-from-y: lets namespace y reach app=api on TCP 8000: y/client -> x/api on TCP 8000 is newly
  allowed, by that rule (x/api-from-web, first by name, does not admit y/client).
x/web -> x/api on TCP 8000 stays allowed by x/api-from-web, and nothing into y changes.
"""

from __future__ import annotations

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.connections import Judged
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.diff import policy_diff
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.workloads import group_workloads
from report_cases import cluster, namespaces, pod, policy, texts

SPACE = namespaces(x={}, y={})
FACTS = cluster(SPACE, [pod("x/web", {"app": "web"}, "10.244.1.10"), pod("x/api", {"app": "api"}, "10.244.1.11"),
                        pod("y/client", {"app": "client"}, "10.244.2.10", "n2")])
API_FROM_WEB = policy("x/api-from-web", {"podSelector": {"matchLabels": {"app": "api"}},
                                         "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                                                      "ports": [{"port": 8000}]}]})
DENY_ALL = policy("x/deny-all", {"podSelector": {}, "policyTypes": ["Ingress"]})
API_FROM_Y = policy("x/api-from-y", {"podSelector": {"matchLabels": {"app": "api"}},
                                     "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "y"}}}],
                                                  "ports": [{"port": 8000}]}]})


def changes(new, old):
    workloads = group_workloads(FACTS, {})
    endpoints = [endpoint for workload in workloads for endpoint in workload.endpoints]
    found = policy_diff(Judged(FACTS, new, endpoints), Judged(FACTS, old, endpoints), workloads)
    return [(item.change, item.source, item.destination, [port.spec for port in item.ports], item.families, item.pairs,
             texts(item.now), texts(item.before)) for item in found]


def test_a_deny_all_newly_denies_and_an_allow_rule_newly_allows():
    assert changes((API_FROM_WEB, DENY_ALL, API_FROM_Y), (API_FROM_WEB,)) == [
        ("newly denied", "x/api", "x/web", ["TCP", "UDP", "SCTP"], (4,), 1,
         ["ingress isolated by x/deny-all (no rule allows)"], ["egress not isolated", "ingress not isolated"]),
        ("newly denied", "y/client", "x/web", ["TCP", "UDP", "SCTP"], (4,), 1,
         ["ingress isolated by x/deny-all (no rule allows)"], ["egress not isolated", "ingress not isolated"]),
        ("newly allowed", "y/client", "x/api", ["TCP/8000"], (4,), 1,
         ["egress not isolated", "ingress allowed by x/api-from-y rule 0"], ["ingress isolated by x/api-from-web (no rule allows)"]),
    ]


def test_the_reverse_change_reverses_every_entry():
    reverse = changes((API_FROM_WEB,), (API_FROM_WEB, DENY_ALL, API_FROM_Y))
    assert [item[:4] for item in reverse] == [
        ("newly denied", "y/client", "x/api", ["TCP/8000"]),
        ("newly allowed", "x/api", "x/web", ["TCP", "UDP", "SCTP"]),
        ("newly allowed", "y/client", "x/web", ["TCP", "UDP", "SCTP"]),
    ]


def test_no_change_no_entry():
    assert changes((API_FROM_WEB, DENY_ALL), (DENY_ALL, API_FROM_WEB)) == []
