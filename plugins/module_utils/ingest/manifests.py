# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load policy manifests from files and directories, validated, as Policy objects.

Nothing is returned unless everything is valid: every problem of a run is raised at once
in one InputError, so that no node is touched on bad input.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import replace

from ansible_collections.kubenet.netpol.plugins.module_utils.gc_pause import without_cycle_collection
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import InputError, Problem
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import policy_from_manifest
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.validate import validate_policy
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.yamldoc import Document, read_documents

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def manifest_files(paths):
    """Files named on the command line, and every manifest file below named directories."""
    files = []
    problems = []
    for path in paths:
        path = str(path)
        if os.path.isdir(path):
            for top, dirs, names in os.walk(path):
                dirs[:] = sorted(name for name in dirs if not name.startswith("."))
                files.extend(os.path.join(top, name) for name in sorted(names) if name.endswith(MANIFEST_SUFFIXES))
        elif os.path.isfile(path):
            files.append(path)
        else:
            problems.append(Problem(path, "no such file or directory"))
    return files, problems


LIST_KINDS = ("List", "NetworkPolicyList")  # what kubectl apply unpacks into its items


def flatten_lists(document):
    """A kind: List (or NetworkPolicyList) stands for its items; each item keeps its own field lines."""
    obj = document.obj
    if isinstance(obj, dict) and obj.get("kind") in LIST_KINDS and isinstance(obj.get("items"), list):
        items = document.child("items")
        flat = []
        for index in range(len(obj["items"])):
            flat.extend(flatten_lists(items.child(index)))
        return flat
    return [document]


def policies_from_documents(documents, default_namespace="default", strict=False, warnings=None):
    """Validate and convert; (policies, problems), duplicates of namespace/name included.

    What the API server accepts but warns about goes to warnings (a list, when given); with strict,
    it is a problem like any other."""
    problems = []
    policies = []
    seen = {}
    for document in documents:
        found = _severe(validate_policy(document, default_namespace), strict, warnings)
        if found:
            problems.extend(found)
            continue
        policy = policy_from_manifest(document.obj, default_namespace, document.file)
        if policy.key in seen:
            first = seen[policy.key]
            problems.append(document.problem("metadata.name", "duplicate policy: %s is also defined in %s"
                                             % (policy.key, first)))
            continue
        where = document.file
        line = document.line_of("")
        seen[policy.key] = where if line is None else "%s:%d" % (where, line)
        policies.append(policy)
    return policies, problems


def _severe(found, strict, warnings):
    """The problems that stop the run; warnings are set aside, or with strict made errors."""
    severe = []
    for problem in found:
        if problem.severity == "error":
            severe.append(problem)
        elif strict:
            severe.append(replace(problem, severity="error", message=problem.message + " (an error with strict validation)"))
        elif warnings is not None:
            warnings.append(problem)
    return severe


def load_documents(paths):
    """Every manifest document under the paths, Lists flattened; (documents, problems)."""
    files, problems = manifest_files(paths)
    documents = []
    for path in files:
        found, file_problems = read_documents(path)
        problems.extend(file_problems)
        for document in found:
            documents.extend(flatten_lists(document))
    return documents, problems


def load_policies(paths, default_namespace="default", strict=False, warnings=None):
    """All NetworkPolicies under the paths, or InputError with every problem found."""
    with without_cycle_collection():
        documents, problems = load_documents(paths)
        policies, policy_problems = policies_from_documents(documents, default_namespace, strict, warnings)
    problems.extend(policy_problems)
    if problems:
        raise InputError(problems)
    return tuple(policies)


def policies_from_objects(objects, source, default_namespace="default", strict=False, warnings=None):
    """Policies given as already-parsed objects (module arguments, filter input)."""
    documents = []
    for index, obj in enumerate(objects):
        documents.extend(flatten_lists(Document(obj, "%s[%d]" % (source, index))))
    policies, problems = policies_from_documents(documents, default_namespace, strict, warnings)
    if problems:
        raise InputError(problems)
    return tuple(policies)


def merge_policies(groups):
    """One policy set from several sources (files, arguments, snapshot).

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
