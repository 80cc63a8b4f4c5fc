# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Workload matrices of the shop (report_cases.py), every cell reasoned by hand from the specification.

The shop: Deployment shop/web (web-5d8f-a, a canary, on n1; web-5d8f-b on n2), StatefulSet shop/db
(db-0), bare pod ops/probe. Policies: shop/db-ingress lets app=web pods of shop reach app=db on
TCP 5432; shop/web-ingress lets namespace team=ops reach app=web on TCP 80; shop/canary-extra lets
team=ops reach canary=true pods on TCP 8080. Nothing isolates egress. A pod isolated by several
policies is allowed by the first rule, in policy-name order, that allows the connection.
"""

from __future__ import annotations

import json

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.matrix import workload_matrices
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.ports import parse_port_spec
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.reasons import ReasonTable
from report_cases import FROM_OPS, SHOP, SHOP_NAMESPACES, SHOP_OWNERS, SHOP_POLICIES, WEB_1, WEB_2, cluster, judged_with, pod, policy, texts

NOT_ISOLATED = ["egress not isolated", "ingress not isolated"]
DB_CLOSED = ["ingress isolated by shop/db-ingress (no rule allows)"]
WEB_1_CLOSED = "ingress isolated by shop/canary-extra, shop/web-ingress (no rule allows)"
WEB_2_CLOSED = "ingress isolated by shop/web-ingress (no rule allows)"


def matrices(facts, policies, owners, *port_sets):
    workloads, judged = judged_with(facts, policies, owners)
    sets = [[parse_port_spec(text) for text in port_set] for port_set in port_sets] if port_sets else None
    return workload_matrices(judged, workloads, sets)


def table(matrix):
    """{(from, to): (verdict, pairs, allowed pairs, denied pairs, allowed_by texts, denied_by texts)}."""
    return {(cell.source, cell.destination): (cell.verdict, cell.pairs, cell.allowed_pairs, cell.denied_pairs,
                                              texts(cell.allowed_by), texts(cell.denied_by)) for cell in matrix.cells}


def test_tcp_80_every_cell_with_what_decides_it():
    [matrix] = matrices(SHOP, SHOP_POLICIES, SHOP_OWNERS, ["TCP/80"])
    assert table(matrix) == {
        # probe is in team=ops: web-ingress rule 0 opens both web pods on 80 (canary-extra, first by
        # name for the canary, allows 8080 only); db only takes app=web on 5432.
        ("ops/probe", "shop/db"): ("denied", 1, 0, 1, [], DB_CLOSED),
        ("ops/probe", "shop/web"): ("allowed", 2, 2, 0, ["egress not isolated", "ingress allowed by shop/web-ingress rule 0"], []),
        ("shop/db", "ops/probe"): ("allowed", 1, 1, 0, NOT_ISOLATED, []),
        # db is not in team=ops: both web pods refuse it.
        ("shop/db", "shop/web"): ("denied", 2, 0, 2, [], [WEB_1_CLOSED, WEB_2_CLOSED]),
        ("shop/web", "ops/probe"): ("allowed", 2, 2, 0, NOT_ISOLATED, []),
        ("shop/web", "shop/db"): ("denied", 2, 0, 2, [], DB_CLOSED),
        # web-a -> web-b and web-b -> web-a: a pod to itself is no pair; neither is from team=ops.
        ("shop/web", "shop/web"): ("denied", 2, 0, 2, [], [WEB_1_CLOSED, WEB_2_CLOSED]),
    }  # ops/probe and shop/db have one pod each: no cell to themselves


def test_partial_when_some_pod_pairs_are_allowed():
    [matrix] = matrices(SHOP, SHOP_POLICIES, SHOP_OWNERS, ["TCP/8080"])
    # On 8080 only the canary (web-5d8f-a) takes team=ops, by canary-extra; web-5d8f-b stays closed.
    assert table(matrix)[("ops/probe", "shop/web")] == (
        "partial", 2, 1, 1, ["egress not isolated", "ingress allowed by shop/canary-extra rule 0"], [WEB_2_CLOSED])


def test_partial_when_some_ports_of_the_set_are_allowed():
    [matrix] = matrices(SHOP, SHOP_POLICIES, SHOP_OWNERS, ["TCP/80-81"])
    # 80 is open to probe on both web pods, 81 on neither: each pair is allowed on part of the set only.
    assert table(matrix)[("ops/probe", "shop/web")] == (
        "partial", 2, 0, 0, ["egress not isolated", "ingress allowed by shop/web-ingress rule 0"], [WEB_1_CLOSED, WEB_2_CLOSED])
    assert [item.spec for item in matrix.ports] == ["TCP/80-81"]


def test_one_matrix_per_port_set_given():
    found = matrices(SHOP, SHOP_POLICIES, SHOP_OWNERS, ["TCP/5432"], ["UDP/53", "TCP/22"])
    assert [[item.spec for item in matrix.ports] for matrix in found] == [["TCP/5432"], ["UDP/53", "TCP/22"]]
    # web -> db on 5432 is db-ingress rule 0; on UDP 53 and TCP 22 only unisolated pairs are open.
    assert table(found[0])[("shop/web", "shop/db")] == (
        "allowed", 2, 2, 0, ["egress not isolated", "ingress allowed by shop/db-ingress rule 0"], [])
    assert {key: value[0] for key, value in table(found[1]).items() if value[0] == "allowed"} == {
        ("shop/db", "ops/probe"): "allowed", ("shop/web", "ops/probe"): "allowed"}


def test_without_ports_the_ports_the_policies_tell_apart_each_with_its_own_matrix():
    found = matrices(SHOP, SHOP_POLICIES, SHOP_OWNERS)
    # The policies name TCP 80, 5432 and 8080; every other port of every protocol gives one and the
    # same matrix (only unisolated pairs open), so it is one matrix. Fewest ports first.
    assert [[item.spec for item in matrix.ports] for matrix in found] == [
        ["TCP/80"], ["TCP/5432"], ["TCP/8080"],
        ["TCP/1-79", "TCP/81-5431", "TCP/5433-8079", "TCP/8081-65535", "UDP", "SCTP"]]
    rest = table(found[3])
    assert rest[("ops/probe", "shop/web")] == ("denied", 2, 0, 2, [], [WEB_1_CLOSED, WEB_2_CLOSED])
    assert rest[("shop/web", "shop/db")] == ("denied", 2, 0, 2, [], DB_CLOSED)


def test_partial_between_ip_families():
    # Dual-stack pods; web admits 10.244.2.0/24 only, an IPv4 block: probe reaches web over IPv4,
    # never over IPv6.
    probe = pod("ops/probe", {"app": "probe"}, ("10.244.2.11", "fd00:10:244:2::11"), "n2")
    web = pod("shop/web", {"app": "web"}, ("10.244.1.10", "fd00:10:244:1::10"), "n1")
    ipv4_only = policy("shop/web-from-block", {"podSelector": {"matchLabels": {"app": "web"}},
                                               "ingress": [{"from": [{"ipBlock": {"cidr": "10.244.2.0/24"}}], "ports": [{"port": 80}]}]})
    [matrix] = matrices(cluster(SHOP_NAMESPACES, [probe, web]), (ipv4_only,), {}, ["TCP/80"])
    assert table(matrix)[("ops/probe", "shop/web")] == (
        "partial", 1, 0, 0, ["egress not isolated", "ingress allowed by shop/web-from-block rule 0"],
        ["ingress isolated by shop/web-from-block (no rule allows)"])


def test_a_host_network_pod_reaches_pods_of_its_own_node_whatever_the_policies():
    # ops/agent uses n2's network (10.10.0.2): to web-5d8f-b on n2 it is the pod's own node, never
    # filtered; to web-5d8f-a on n1 it is an outside address that team=ops does not match.
    agent = pod("ops/agent", {"app": "agent"}, "10.10.0.2", "n2", host_network=True)
    [matrix] = matrices(cluster(SHOP_NAMESPACES, [WEB_1, WEB_2, agent]), SHOP_POLICIES, SHOP_OWNERS, ["TCP/80"])
    assert table(matrix)[("ops/agent", "shop/web")] == ("partial", 2, 1, 1, ["own node: never filtered"], [WEB_1_CLOSED])


def test_rules_name_their_file_and_line_in_the_json():
    located = policy("shop/web-ingress", {"podSelector": {"matchLabels": {"app": "web"}},
                                          "ingress": [{"from": [FROM_OPS], "ports": [{"port": 80}]}]})

    class Locations:
        def where(self, key, field):
            return {"file": "policies/%s.yaml" % key.split("/")[1], "line": {"spec.ingress[0]": 9, "metadata.name": 4}[field]}

    [matrix] = matrices(SHOP, (located,), SHOP_OWNERS, ["TCP/80"])
    reasons = ReasonTable(Locations())
    cells = {(cell["from"], cell["to"]): cell for cell in matrix.to_dict(reasons)["cells"]}
    assert [reasons.dicts[index] for index in cells[("ops/probe", "shop/web")]["allowed_by"]] == [
        {"kind": "not-isolated", "direction": "egress", "text": "egress not isolated"},
        {"kind": "rule", "direction": "ingress", "policy": "shop/web-ingress", "rule": 0,
         "file": "policies/web-ingress.yaml", "line": 9, "text": "ingress allowed by shop/web-ingress rule 0"}]
    assert [reasons.dicts[index] for index in cells[("shop/db", "shop/web")]["denied_by"]] == [{
        "kind": "isolated", "direction": "ingress", "policies": ["shop/web-ingress"],
        "locations": [{"policy": "shop/web-ingress", "file": "policies/web-ingress.yaml", "line": 4}],
        "text": WEB_2_CLOSED}]
    # Each reason once, whatever the number of cells naming it.
    assert len(reasons.dicts) == len({json.dumps(item, sort_keys=True) for item in reasons.dicts})
    assert matrix.to_dict(reasons)["ports"] == ["TCP/80"]


def test_pods_that_do_not_run_are_in_no_workload():
    finished = pod("ops/job", {"app": "job"}, "10.244.2.20", "n2", phase="Succeeded")
    workloads, _judged = judged_with(cluster(SHOP_NAMESPACES, [WEB_1, WEB_2, finished]), SHOP_POLICIES, SHOP_OWNERS)
    assert [workload.id for workload in workloads] == ["shop/web"]
    assert [endpoint.name for endpoint in workloads[0].endpoints] == [WEB_1.key, WEB_2.key]
