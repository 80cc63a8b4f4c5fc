# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Glue between Ansible's arguments and the engine, shared by the module and the filters.

Ansible hands over plain data (lists of API objects, policies from several sources); this
turns it into engine inputs and reports bad data as Problems, like every other input.
"""

from __future__ import annotations

import dataclasses

try:
    import netaddr
except ImportError:  # pragma: no cover - the module and the filters report it first
    netaddr = None

from ansible_collections.kubenet.netpol.plugins.module_utils.errors import InputError, Problem
from ansible_collections.kubenet.netpol.plugins.module_utils.facts import cluster_from_api_objects
from ansible_collections.kubenet.netpol.plugins.module_utils.validate import validate_ip_block
from ansible_collections.kubenet.netpol.plugins.module_utils.yamldoc import Document

CLUSTER_KINDS = (("namespaces", "Namespace"), ("pods", "Pod"), ("nodes", "Node"))
CONVERSION_ERRORS = (KeyError, TypeError, ValueError, AttributeError) + ((netaddr.AddrFormatError,) if netaddr else ())


def _conversion_problem(where, exc):
    if isinstance(exc, KeyError):
        return Problem(where, "missing field %s" % exc.args[0])
    return Problem(where, "malformed object: %s" % exc)


def _typed_objects(cluster, source):
    """The objects of each list, with the kind their list implies; (items, locations, problems).

    Objects listed by kubernetes.core.k8s_info or taken from a List's items may lack kind.
    """
    problems = []
    items = []
    locations = []
    unknown = sorted(set(cluster) - {key for key, _kind in CLUSTER_KINDS})
    if unknown:
        problems.append(Problem(source, "unknown key(s): %s (expected namespaces, pods, nodes)" % ", ".join(unknown)))
    for key, kind in CLUSTER_KINDS:
        objects = cluster.get(key) or []
        if not isinstance(objects, list):
            problems.append(Problem("%s.%s" % (source, key), "must be a list of %s objects" % kind))
            continue
        for index, obj in enumerate(objects):
            where = "%s.%s[%d]" % (source, key, index)
            if not isinstance(obj, dict):
                problems.append(Problem(where, "must be a %s object (a mapping)" % kind))
            elif obj.get("kind", kind) != kind:
                problems.append(Problem(where, "must be a %s, not a %s" % (kind, obj.get("kind")), field="kind"))
            else:
                items.append(dict(obj, kind=kind))
                locations.append(where)
    return items, locations, problems


def cluster_from_dict(cluster, source="cluster"):
    """A Cluster from {namespaces, pods, nodes}: lists of API objects, or InputError."""
    if not isinstance(cluster, dict):
        raise InputError([Problem(source, "must be a mapping with the keys namespaces, pods and nodes")])
    items, locations, problems = _typed_objects(cluster, source)
    if problems:
        raise InputError(problems)
    try:
        return cluster_from_api_objects(items)
    except CONVERSION_ERRORS:
        pass
    # Convert each object alone only now, to name every malformed one and where it is.
    for item, where in zip(items, locations):
        try:
            cluster_from_api_objects([item])
        except CONVERSION_ERRORS as exc:
            problems.append(_conversion_problem(where, exc))
    raise InputError(problems)


def merge_policies(groups):
    """One policy set from several sources (files, arguments, snapshot, scenario).

    A policy defined the same way in two sources counts once; two different definitions of
    one namespace/name are a problem, because enforcing either would be a guess.
    """
    merged = {}
    problems = []
    for group in groups:
        for policy in group:
            first = merged.get(policy.key)
            if first is None:
                merged[policy.key] = policy
            elif dataclasses.replace(first, source="") != dataclasses.replace(policy, source=""):
                problems.append(Problem(policy.source, "duplicate policy with a different definition in %s"
                                        % first.source, policy.key, "metadata.name"))
    if problems:
        raise InputError(problems)
    return tuple(merged.values())


def problem_dicts(problems):
    """Problems as plain dicts (file, line, obj, field, message) for a module's result."""
    return [dataclasses.asdict(problem) for problem in problems]


def ip_block_problems(block, source):
    """Problems of an ipBlock ({cidr, except}), judged exactly as inside a manifest."""
    return validate_ip_block(Document(block, source), "", block)
