# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Laws of NetworkPolicy that must hold for any cluster and policy set (hypothesis).

Isolation is decided here independently of the resolver, straight from the API rule: a pod is
isolated in a direction when a policy of its namespace selects it and has that policyType.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.explain import ClusterVerdicts, explain, truth_table
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import EGRESS, INGRESS
from cluster_strategies import PROBES, clusters, endpoints, policies, policy_sets
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.slicing import node_slice, restrict_nodes
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.planner import build_plan
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.selectors import selector_matches

SETTINGS = settings(max_examples=60, deadline=None)


def table(cluster, policy_set):
    return truth_table(ClusterVerdicts(cluster, policy_set), endpoints(cluster), PROBES, "case")


def selects(policy, pod, direction):
    return (pod.selectable and policy.namespace == pod.namespace and direction in policy.policy_types
            and selector_matches(policy.pod_selector, dict(pod.labels)))


def isolated(pod, direction, policy_set):
    return pod is not None and any(selects(policy, pod, direction) for policy in policy_set)


@SETTINGS
@given(cluster=clusters(), policy_set=policy_sets())
def test_an_unisolated_pod_admits_every_source_that_may_send(cluster, policy_set):
    resolver = ClusterVerdicts(cluster, policy_set)
    for destination in endpoints(cluster):
        if destination.pod is None or isolated(destination.pod, INGRESS, policy_set):
            continue
        for source in endpoints(cluster):
            if source is destination or isolated(source.pod, EGRESS, policy_set):
                continue
            for probe in PROBES:
                assert explain(resolver, source, destination, probe.protocol, probe.port).allowed, \
                    (source.name, destination.name, probe)


@SETTINGS
@given(cluster=clusters(), policy_set=policy_sets(), idle=policies("idle", pod_selector={"matchLabels": {"app": "none"}}))
def test_a_policy_that_selects_no_pod_changes_no_verdict(cluster, policy_set, idle):
    assert table(cluster, policy_set + (idle,)) == table(cluster, policy_set)


@SETTINGS
@given(cluster=clusters(), policy_set=policy_sets(min_size=2), data=st.data())
def test_the_order_of_policies_changes_nothing(cluster, policy_set, data):
    shuffled = tuple(data.draw(st.permutations(policy_set)))
    assert table(cluster, shuffled) == table(cluster, policy_set)
    assert build_plan(cluster, shuffled) == build_plan(cluster, policy_set)


@SETTINGS
@given(cluster=clusters(), policy_set=policy_sets(max_size=3), extra=policies("extra"))
def test_adding_a_policy_denies_only_by_newly_isolating_an_end(cluster, policy_set, extra):
    pods = {pod.key: pod for pod in cluster.pods}
    before = table(cluster, policy_set)
    after = table(cluster, policy_set + (extra,))
    for source, destination, protocol, port in before["allowed"]:
        if [source, destination, protocol, port] in after["allowed"]:
            continue
        source_pod, destination_pod = pods.get(source), pods.get(destination)
        newly_egress = (source_pod is not None and selects(extra, source_pod, EGRESS)
                        and not isolated(source_pod, EGRESS, policy_set))
        newly_ingress = (destination_pod is not None and selects(extra, destination_pod, INGRESS)
                         and not isolated(destination_pod, INGRESS, policy_set))
        assert newly_egress or newly_ingress, (source, destination, protocol, port)


@SETTINGS
@given(cluster=clusters(), policy_set=policy_sets())
def test_the_plan_lists_each_selectable_pod_on_its_own_node_only(cluster, policy_set):
    plan = build_plan(cluster, policy_set)
    listed = {}
    for node_name, node in plan["nodes"].items():
        for item in node["pods"]:
            listed.setdefault(item["pod"], []).append((node_name, item))
    assert set(listed) == {pod.key for pod in cluster.pods if pod.selectable}
    for pod in cluster.pods:
        if not pod.selectable:
            continue
        [(node_name, item)] = listed[pod.key]
        assert node_name == pod.node
        assert item["ips"] == list(pod.ips)
        for direction in (INGRESS, EGRESS):
            expected = sorted(policy.key for policy in policy_set if selects(policy, pod, direction))
            assert item[direction.lower()] == expected


@SETTINGS
@given(cluster=clusters(), policy_set=policy_sets())
def test_a_node_slice_holds_exactly_the_policies_its_pods_need(cluster, policy_set):
    plan = build_plan(cluster, policy_set)
    for node_name in plan["nodes"]:
        found = node_slice(plan, node_name)
        local = sorted(pod.key for pod in cluster.pods if pod.selectable and pod.node == node_name)
        pods = {pod.key: pod for pod in cluster.pods}
        expected = {}
        for policy in policy_set:
            for direction in (INGRESS, EGRESS):
                targets = [key for key in local if selects(policy, pods[key], direction)]
                if targets:
                    expected[(policy.key, direction.lower())] = targets
        assert {(item["policy"], item["direction"]): item["targets"] for item in found["policies"]} == expected
        for item in found["policies"]:
            for rule in item["rules"]:
                for clause in rule["clauses"]:
                    assert clause["targets"] is None or 0 < len(clause["targets"]) <= len(set(clause["targets"]) & set(item["targets"]))
        # Cutting the plan down to this node changes nothing the node sees.
        assert node_slice(restrict_nodes(plan, [node_name]), node_name) == found
