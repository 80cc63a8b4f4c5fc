# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every source of a run read together: policy manifests (the repository's files and objects, the
cluster's own NetworkPolicies) and the cluster facts (a kubectl snapshot, API objects, or the live
API), with every problem of every source at once.

Git is the source of truth: by default only the repository's policies are enforced, so a policy
deleted from Git stops being enforced. policy_source "cluster" takes the cluster's instead, "both"
takes both, the repository winning on a clash with a warning naming the policy. The module and the
filters call this one function, so a source added here reaches all of them.
"""

from __future__ import annotations

import dataclasses

from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.facts import cluster_from_dict, read_snapshot
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.manifests import (
    load_policies, merge_policies, policies_from_documents, policies_from_objects)
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import InputError, Problem
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.validate import dns1123_label_errors, show

POLICY_SOURCES = ("repository", "cluster", "both")


def source_argument_spec():
    """The options of every module that reads the repository's policies and the cluster facts."""
    object_list = {"type": "list", "elements": "dict", "default": []}
    return {
        "policies": {"type": "list", "elements": "path", "default": []},
        "policy_objects": dict(object_list),
        "snapshot": {"type": "path"},
        "cluster": {"type": "dict", "options": {key: dict(object_list) for key in ("namespaces", "pods", "nodes")}},
        "default_namespace": {"type": "str", "default": "default"},
        "strict": {"type": "bool", "default": False},
    }


class _Collector:
    """Runs every loader and keeps all their problems, so one run reports everything."""

    def __init__(self):
        self.problems = []

    def run(self, loader, *args, **kwargs):
        try:
            return loader(*args, **kwargs)
        except InputError as exc:
            self.problems.extend(exc.problems)
            return None


def _read_facts(collect, snapshot, cluster, api, with_policies):
    """(Cluster, the cluster's NetworkPolicy Documents) from the one facts source given."""
    if snapshot:
        return collect.run(read_snapshot, snapshot) or (None, ())
    if api is not None:
        from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.live import read_cluster  # noqa: E501 pylint: disable=import-outside-toplevel
        return collect.run(read_cluster, api, with_policies=with_policies, timeout=api.get("timeout")) or (None, ())
    return collect.run(cluster_from_dict, cluster), ()


def _repository_wins(repository, cluster_policies, warnings):
    """The cluster's policies that the repository does not define; a clash is a warning naming it."""
    defined = {policy.key: policy for policy in repository}
    kept = []
    for policy in cluster_policies:
        mine = defined.get(policy.key)
        if mine is None:
            kept.append(policy)
        elif dataclasses.replace(mine, source="") != dataclasses.replace(policy, source="") and warnings is not None:
            warnings.append(Problem(mine.source, "the repository's definition is enforced; the cluster holds another one"
                                    " (%s)" % policy.source, policy.key, "metadata.name", severity="warning"))
    return kept


def load_sources(policy_paths=(), policy_objects=(), snapshot=None, cluster=None, default_namespace="default",
                 objects_source="policy_objects", strict=False, warnings=None, api=None, policy_source="repository"):
    """(cluster, policies), or InputError with every problem.

    The facts come from snapshot (a path), else api (the auth options of the live API), else cluster
    ({namespaces, pods, nodes} of API objects). What the API server accepts with a warning goes to
    warnings (a list), or with strict is an error. default_namespace, the namespace of manifests
    that name none, must be a namespace name the API server accepts."""
    collect = _Collector()
    collect.problems += [Problem("default_namespace", "namespace %s %s" % (show(default_namespace), error))
                         for error in dns1123_label_errors(default_namespace)]
    repository = []
    if policy_source != "cluster":
        repository += collect.run(load_policies, list(policy_paths), default_namespace, strict, warnings) or ()
    repository += collect.run(policies_from_objects, list(policy_objects), objects_source, default_namespace, strict,
                              warnings) or ()
    facts, cluster_docs = _read_facts(collect, snapshot, cluster, api, with_policies=policy_source != "repository")
    groups = [repository]
    if policy_source != "repository":
        found = collect.run(_validated, cluster_docs, strict, warnings) or ()
        groups.append(_repository_wins(repository, found, warnings))
    policies = collect.run(merge_policies, groups)
    if collect.problems:
        raise InputError(collect.problems)
    return facts, policies


def _validated(documents, strict, warnings):
    policies, problems = policies_from_documents(documents, strict=strict, warnings=warnings)
    if problems:
        raise InputError(problems)
    return policies
