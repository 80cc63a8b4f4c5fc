# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each lint check on policy files written by hand, with the file, line and field it names."""

from __future__ import annotations

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.lint import lint
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.locations import PolicyLocations
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.regions import outside_endpoints
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.workloads import group_workloads
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.manifests import load_policies
from report_cases import SHOP, SHOP_OWNERS, write

POLICIES = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: nobody
  namespace: shop
spec:
  podSelector:
    matchLabels: {app: nothing}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-ingress
  namespace: shop
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
    - from:
        - podSelector: {matchLabels: {app: ghost}}
        - namespaceSelector: {matchLabels: {team: ops}}
      ports:
        - port: 80
        - port: http
    - from:
        - podSelector: {matchLabels: {app: ghost}}
        - namespaceSelector: {matchLabels: {team: nobody}}
  egress:
    - {}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: db-egress
  namespace: elsewhere
spec:
  podSelector: {}
  egress:
    - to:
        - namespaceSelector: {}
      ports:
        - port: postgres
"""


def findings(tmp_path, text):
    path = write(tmp_path / "policies", "shop.yaml", text)
    policies = load_policies([str(tmp_path / "policies")])
    endpoints = [endpoint for workload in group_workloads(SHOP, SHOP_OWNERS) for endpoint in workload.endpoints]
    found = lint(SHOP, policies, PolicyLocations(policies, roots=[str(tmp_path / "policies")]),
                 endpoints + outside_endpoints(SHOP, policies))
    return path, found


def test_each_check_names_its_file_line_and_field(tmp_path):
    _path, found = findings(tmp_path, POLICIES)
    assert [(item.check, item.file, item.line, item.policy, item.field, item.message) for item in found] == [
        ("selects-no-pod", "policies/shop.yaml", 7, "shop/nobody", "spec.podSelector",
         "selects no pod: no running pod of namespace shop matches it; the policy isolates nothing"),
        ("peer-matches-nothing", "policies/shop.yaml", 20, "shop/web-ingress", "spec.ingress[0].from[0]",
         "this peer matches no running pod"),
        # web pods declare no container port named http (report_cases' pods have no ports).
        ("named-port-undefined", "policies/shop.yaml", 24, "shop/web-ingress", "spec.ingress[0].ports[1].port",
         "named port http/TCP: none of the pods this policy selects defines it, so it allows nothing"),
        ("rule-peers-match-nothing", "policies/shop.yaml", 25, "shop/web-ingress", "spec.ingress[1]",
         "none of the rule's peers matches a running pod: the rule allows nothing"),
        ("rules-ignored", "policies/shop.yaml", 28, "shop/web-ingress", "spec.egress",
         "1 egress rule(s) ignored: policyTypes does not list Egress"),
        ("selects-no-pod", "policies/shop.yaml", 37, "elsewhere/db-egress", "spec.podSelector",
         "selects no pod: namespace elsewhere is not in the cluster facts; the policy isolates nothing"),
        # Egress named ports resolve against the peers' pods: no pod of any namespace names a port postgres.
        ("named-port-undefined", "policies/shop.yaml", 42, "elsewhere/db-egress", "spec.egress[0].ports[0].port",
         "named port postgres/TCP: none of the pods of the rule's peers defines it, so it allows nothing"),
    ]
    assert str(found[0]) == ("policies/shop.yaml:7: shop/nobody: spec.podSelector: selects no pod: no running pod of namespace"
                             " shop matches it; the policy isolates nothing [selects-no-pod]")


def test_valid_policies_that_do_what_they_seem_have_no_finding(tmp_path):
    _path, found = findings(tmp_path, """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-ingress
  namespace: shop
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
    - from:
        - namespaceSelector: {matchLabels: {team: ops}}
        - ipBlock: {cidr: 192.168.0.0/16}
      ports:
        - port: 80
""")
    assert found == []
