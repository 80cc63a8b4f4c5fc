# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which controller owns each pod, read from the same facts as the cluster (a kubectl snapshot, or
API objects): the report groups pods into workloads by it.

The engine's Pod has no owner (policies never select by owner), so the owner references are read
here, beside the facts loader, with its located problems: a reference of the wrong type names the
pod and the field, it is never guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.manifests import flatten_lists
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import InputError
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.yamldoc import Document, join_path, read_documents

OWNER_REFERENCES = "metadata.ownerReferences"


@dataclass(frozen=True)
class Owner:
    """A pod's controller (the owner reference with controller: true)."""

    kind: str
    name: str


def _pod_key(obj):
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    namespace = metadata.get("namespace") if isinstance(metadata.get("namespace"), str) else "default"
    name = metadata.get("name") if isinstance(metadata.get("name"), str) else ""
    return "%s/%s" % (namespace, name)


def _controller(document, problems):
    """The controller reference of one Pod document, or None; problems for references of the wrong shape."""
    label = "Pod %s" % _pod_key(document.obj)
    metadata = document.obj.get("metadata")
    references = metadata.get("ownerReferences") if isinstance(metadata, dict) else None
    if references is None:
        return None
    if not isinstance(references, list):
        problems.append(document.problem(OWNER_REFERENCES, "must be a list of owner references", label))
        return None
    controllers = []
    for index, reference in enumerate(references):
        path = join_path(OWNER_REFERENCES, index)
        if not isinstance(reference, dict):
            problems.append(document.problem(path, "must be a mapping (apiVersion, kind, name, uid)", label))
            continue
        if reference.get("controller") is not True:
            continue
        wrong = [key for key in ("kind", "name") if not isinstance(reference.get(key), str) or not reference.get(key)]
        for key in wrong:
            problems.append(document.problem(join_path(path, key), "must be a non-empty string", label))
        if not wrong:
            controllers.append((path, Owner(reference["kind"], reference["name"])))
    if len(controllers) > 1:
        problems.append(document.problem(controllers[1][0], "a pod has at most one controller reference", label))
        return None
    return controllers[0][1] if controllers else None


def _owners(documents):
    owners = {}
    problems = []
    for document in documents:
        owner = _controller(document, problems)
        if owner is not None:
            owners[_pod_key(document.obj)] = owner
    if problems:
        raise InputError(problems)
    return owners


def owners_from_snapshot(path):
    """{namespace/name: Owner} of the snapshot's pods that have a controller, or InputError."""
    documents, problems = read_documents(path)
    if problems:
        raise InputError(problems)
    pods = [item for document in documents for item in flatten_lists(document)
            if isinstance(item.obj, dict) and item.obj.get("kind") == "Pod"]
    return _owners(pods)


def owners_from_cluster(cluster, source="cluster"):
    """{namespace/name: Owner} of the pods of the cluster option ({namespaces, pods, nodes}), or InputError."""
    pods = (cluster or {}).get("pods") or []
    return _owners([Document(obj, "%s.pods[%d]" % (source, index)) for index, obj in enumerate(pods) if isinstance(obj, dict)])
