# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A node's plan slice written by hand, shared by the verdict and the conntrack tests.

Node n1 (own address 10.10.0.1); x/a (10.244.1.10) isolated for ingress by x/web (rule 0: TCP
8080 from the peer set {10.244.2.5}, and TCP 9000-9100 from 192.168.0.0/16 except 192.168.1.0/24
for x/a only), x/b (10.244.1.11) isolated for egress by x/out (rule 0: UDP to anything), x/c
(10.244.1.12) not isolated.
"""

from __future__ import annotations

import copy

import pytest

from ansible_collections.kubenet.netpol.plugins.module_utils.plan.contract import PLAN_VERSION

SLICE = {
    "version": PLAN_VERSION,
    "node": "n1",
    "addresses": ["10.10.0.1"],
    "pods": [{"pod": "x/a", "ips": ["10.244.1.10"], "ingress": ["x/web"], "egress": []},
             {"pod": "x/b", "ips": ["10.244.1.11"], "ingress": [], "egress": ["x/out"]},
             {"pod": "x/c", "ips": ["10.244.1.12"], "ingress": [], "egress": []}],
    "policies": [
        {"policy": "x/web", "direction": "ingress", "targets": ["x/a"], "rules": [{"index": 0, "clauses": [
            {"peers": {"pod_set": "s", "ip_blocks": []}, "ports": [{"protocol": "TCP", "port": 8080, "end_port": 8080}],
             "targets": None},
            {"peers": {"pod_set": None, "ip_blocks": [{"cidr": "192.168.0.0/16", "except": ["192.168.1.0/24"]}]},
             "ports": [{"protocol": "TCP", "port": 9000, "end_port": 9100}], "targets": ["x/a"]}]}]},
        {"policy": "x/out", "direction": "egress", "targets": ["x/b"], "rules": [{"index": 0, "clauses": [
            {"peers": None, "ports": [{"protocol": "UDP", "port": None, "end_port": None}], "targets": None}]}]},
    ],
    "peer_sets": {"s": ["10.244.2.5"]},
}


@pytest.fixture
def sample_slice():
    return copy.deepcopy(SLICE)
