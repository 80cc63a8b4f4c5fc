# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every source of a run read together: policy manifests (files, objects, a snapshot's) and the
cluster facts (a kubectl snapshot, or API objects), with every problem of every source at once.

The module and the filters call this one function, so a source added here (the live API, say)
reaches all of them, and a user fixes all their inputs in one pass.
"""

from __future__ import annotations

from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.facts import cluster_from_dict, load_snapshot
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.manifests import (
    load_policies, merge_policies, policies_from_objects)
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import InputError


class _Collector:
    """Runs every loader and keeps all their problems, so one run reports everything."""

    def __init__(self):
        self.problems = []

    def run(self, loader, *args):
        try:
            return loader(*args)
        except InputError as exc:
            self.problems.extend(exc.problems)
            return None


def load_sources(policy_paths=(), policy_objects=(), snapshot=None, cluster=None, default_namespace="default",
                 objects_source="policy_objects", strict=False, warnings=None):
    """(cluster, policies), or InputError with every problem. The facts come from snapshot when given,
    else from cluster ({namespaces, pods, nodes} of API objects); a snapshot's policies join the others.
    What the API server accepts with a warning goes to warnings (a list), or with strict is an error."""
    collect = _Collector()
    groups = [
        collect.run(load_policies, list(policy_paths), default_namespace, strict, warnings) or (),
        collect.run(policies_from_objects, list(policy_objects), objects_source, default_namespace, strict, warnings) or (),
    ]
    if snapshot:
        facts, snapshot_policies = collect.run(load_snapshot, snapshot, strict, warnings) or (None, ())
        groups.append(snapshot_policies)
    else:
        facts = collect.run(cluster_from_dict, cluster)
    policies = collect.run(merge_policies, groups)
    if collect.problems:
        raise InputError(collect.problems)
    return facts, policies
