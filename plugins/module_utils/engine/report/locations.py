# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where each policy and each of its fields is written: file and line, for lint findings and for
the rules a report names. A policy keeps only its file (Policy.source), so the files are read
again here, once each, with the same reader that loaded them (ingest/yamldoc.py)."""

from __future__ import annotations

import os

from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.manifests import flatten_lists
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.yamldoc import read_documents


def _document_key(obj, default_namespace):
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
        return None
    namespace = metadata.get("namespace")
    return "%s/%s" % (namespace if isinstance(namespace, str) and namespace else default_namespace, metadata["name"])


def shown_path(path, roots):
    """A file below one of the paths a user gave, named from the directory holding that path
    (policies/web.yaml for /builds/team/repo/policies/web.yaml under /builds/team/repo/policies):
    what a reviewer sees in the repository, whatever directory the run was in."""
    normal = os.path.normpath(path)
    for root in sorted((os.path.normpath(str(root)) for root in roots), key=len, reverse=True):
        if normal == root or normal.startswith(root.rstrip(os.sep) + os.sep):
            return os.path.relpath(normal, os.path.dirname(root) or os.curdir)
    return path


class PolicyLocations:
    """The file and line of any field of the given policies. A policy given as data (its source is
    an option such as policy_objects[2], not a file) has no lines. roots: the paths the user gave,
    which files are named from (shown_path)."""

    def __init__(self, policies, default_namespace="default", roots=()):
        self._roots = tuple(roots)
        self._sources = {policy.key: policy.source for policy in policies}
        self._documents = {}
        self._where = {}
        for source in sorted(set(self._sources.values())):
            if not os.path.isfile(source):
                continue
            documents, _problems = read_documents(source)
            for document in documents:
                for item in flatten_lists(document):
                    if isinstance(item.obj, dict) and item.obj.get("kind") == "NetworkPolicy":
                        # A snapshot's policies always name their namespace; a file's may take the default.
                        key = _document_key(item.obj, default_namespace)
                        if self._sources.get(key) == source:
                            self._documents[key] = item

    def file(self, policy_key):
        """The policy's file as shown to people (shown_path), or the option that held it."""
        return shown_path(self._sources.get(policy_key, ""), self._roots)

    def line(self, policy_key, field=""):
        """The line of a field of the policy (or of its nearest written ancestor), or None."""
        document = self._documents.get(policy_key)
        return document.line_of(field) if document is not None else None

    def where(self, policy_key, field=""):
        """{file, line} of a field of the policy (a report asks for the same few many times)."""
        if (policy_key, field) not in self._where:
            self._where[(policy_key, field)] = {"file": self.file(policy_key), "line": self.line(policy_key, field)}
        return dict(self._where[(policy_key, field)])
