# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shadowed policies on the shop's pods (report_cases.py: web-5d8f-a, a canary, and web-5d8f-b of
shop/web; db-0; ops/probe), each case reasoned by hand from the definition in shadows.py."""

from __future__ import annotations

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.lint import lint
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.locations import PolicyLocations
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.regions import outside_endpoints
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.shadows import shadowed_policies
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.workloads import group_workloads
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.resolve import Resolver
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.manifests import load_policies
from report_cases import FROM_OPS, SHOP, SHOP_OWNERS, policy, write

WEB = {"matchLabels": {"app": "web"}}
DB = {"matchLabels": {"app": "db"}}
WEB_80_FROM_OPS = policy("shop/web-80-from-ops", {"podSelector": WEB, "ingress": [{"from": [FROM_OPS], "ports": [{"port": 80}]}]})
WEB_FROM_OPS = policy("shop/web-from-ops", {"podSelector": WEB, "ingress": [{"from": [FROM_OPS]}]})


def endpoints(policies):
    pods = [endpoint for workload in group_workloads(SHOP, SHOP_OWNERS) for endpoint in workload.endpoints]
    return pods + outside_endpoints(SHOP, policies)


def shadowed(*policies):
    return shadowed_policies(SHOP, policies, Resolver(SHOP, policies), endpoints(policies))


def egress(name, *blocks):
    return policy("shop/%s" % name, {"podSelector": DB, "policyTypes": ["Egress"],
                                     "egress": [{"to": [{"ipBlock": block} for block in blocks], "ports": [{"port": 5978}]}]})


def test_a_policy_allowing_less_than_another_on_the_same_pods_is_shadowed():
    # Both isolate the two web pods; web-from-ops allows team=ops on every port, so on 80 too.
    assert shadowed(WEB_80_FROM_OPS, WEB_FROM_OPS) == {"shop/web-80-from-ops": ["shop/web-from-ops"]}


def test_two_identical_policies_shadow_each_other():
    copy = policy("shop/web-80-copy", {"podSelector": WEB, "ingress": [{"from": [FROM_OPS], "ports": [{"port": 80}]}]})
    assert shadowed(WEB_80_FROM_OPS, copy) == {"shop/web-80-from-ops": ["shop/web-80-copy"],
                                               "shop/web-80-copy": ["shop/web-80-from-ops"]}


def test_a_policy_that_alone_isolates_a_pod_is_not_shadowed():
    # canary-from-ops isolates only the canary; web-5d8f-b is isolated by web-80-from-ops alone, and
    # canary-from-ops allows the canary more (every port) than web-80-from-ops does.
    canary = policy("shop/canary-from-ops", {"podSelector": {"matchLabels": {"canary": "true"}}, "ingress": [{"from": [FROM_OPS]}]})
    assert shadowed(WEB_80_FROM_OPS, canary) == {}


def test_ipblocks_are_compared_address_by_address():
    wide = egress("wide", {"cidr": "10.0.0.0/16"})
    narrow = egress("narrow", {"cidr": "10.0.0.0/24"})
    holed = egress("holed", {"cidr": "10.0.0.0/16", "except": ["10.0.5.0/24"]})
    # narrow's /24 lies in wide and in holed (the hole is 10.0.5.0/24); holed's addresses lie in wide;
    # 10.0.5.1 is allowed by wide alone.
    assert shadowed(wide, narrow, holed) == {"shop/narrow": ["shop/holed", "shop/wide"], "shop/holed": ["shop/narrow", "shop/wide"]}
    halves = egress("halves", {"cidr": "10.0.0.0/17"}, {"cidr": "10.0.128.0/17"})
    assert shadowed(wide, halves) == {"shop/wide": ["shop/halves"], "shop/halves": ["shop/wide"]}  # the same addresses
    assert shadowed(wide, egress("half", {"cidr": "10.0.0.0/17"})) == {"shop/half": ["shop/wide"]}


def test_a_default_deny_is_never_shadowed():
    # deny-all isolates every pod of shop and allows nothing: it is there to isolate.
    deny_all = policy("shop/deny-all", {"podSelector": {}, "policyTypes": ["Ingress"]})
    assert shadowed(deny_all, WEB_FROM_OPS) == {}


def test_the_other_ends_policies_do_not_count():
    # probe may send nothing at all, yet web-80-from-ops adds nothing to what web-from-ops allows web.
    silent = policy("ops/probe-silent", {"podSelector": {}, "policyTypes": ["Egress"]})
    assert shadowed(WEB_80_FROM_OPS, WEB_FROM_OPS, silent) == {"shop/web-80-from-ops": ["shop/web-from-ops"]}


def test_lint_names_the_shadowed_policy_by_file_and_line(tmp_path):
    write(tmp_path / "policies", "web.yaml", """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  namespace: shop
  name: web-80-from-ops
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: ops}}}], ports: [{port: 80}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {namespace: shop, name: web-from-ops}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: ops}}}]}]
""")
    policies = load_policies([str(tmp_path / "policies")])
    [finding] = lint(SHOP, policies, PolicyLocations(policies, roots=[str(tmp_path / "policies")]), endpoints(policies))
    assert str(finding) == ("policies/web.yaml:5: shop/web-80-from-ops: metadata.name: shadowed by shop/web-from-ops: every"
                            " connection it allows is allowed by these policies, which isolate the same pods [shadowed]")
