# -*- coding: utf-8 -*-
"""Write the cluster facts the connectivity report reads, as a kubectl JSON snapshot.

    python3 ci/snapshot.py build/cluster.json

The file holds the cluster's Namespaces, Nodes and Pods, as
`kubectl get namespaces,nodes,pods -A -o json` prints them. NetworkPolicies are left out on
purpose: this repository holds the policies, and the report would count the cluster's own in
both sets of its diff.

It uses the collection's own reader (the official Python client, already in the execution
environment; no kubectl needed) and the credentials the playbooks use: K8S_AUTH_HOST, K8S_AUTH_API_KEY and
K8S_AUTH_SSL_CA_CERT, or a kubeconfig (K8S_AUTH_KUBECONFIG, KUBECONFIG, ~/.kube/config, with
K8S_AUTH_CONTEXT), or the in-cluster service account. It needs `list` on namespaces, nodes and
pods, no more: the ClusterRole of kubenet.netpol's docs/rbac.md. Every list is read whole,
page by page; any error stops it with exit code 1 and writes nothing, so a report never runs
on a partial cluster.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile


def _collection_on_path(environ):
    """The installed collection's Python code, found where ansible finds collections."""
    paths = environ.get("ANSIBLE_COLLECTIONS_PATH") or environ.get("ANSIBLE_COLLECTIONS_PATHS") or \
        os.pathsep.join([os.path.expanduser("~/.ansible/collections"), "/usr/share/ansible/collections"])
    for path in reversed(paths.split(os.pathsep)):
        if path and path not in sys.path:
            sys.path.insert(0, os.path.expanduser(path))


_collection_on_path(os.environ)
# The collection's own reader: the same client, auth options, paging and errors as its live mode.
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.auth import AUTH_ARG_SPEC  # noqa: E402 pylint: disable=wrong-import-position
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.live import (  # noqa: E402 pylint: disable=wrong-import-position
    FACT_KINDS, read_objects)
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import InputError  # noqa: E402 pylint: disable=wrong-import-position

TRUE_WORDS = ("1", "true", "yes", "on")


def auth_from(environ):
    """The auth options from their K8S_AUTH_* variables, as the collection's modules read them."""
    auth = {}
    for name, option in AUTH_ARG_SPEC.items():
        value = environ.get(option["env"])
        if value is not None and option["type"] == "bool":
            value = value.lower() in TRUE_WORDS
        auth[name] = value
    return auth


def snapshot(environ):
    """The namespaces, nodes and pods of the cluster as one kubectl List, or InputError."""
    _host, objects = read_objects(auth_from(environ), kinds=FACT_KINDS)
    return {"apiVersion": "v1", "kind": "List", "items": [item for kind in FACT_KINDS for item in objects[kind]]}


def write_atomically(path, data):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=directory, prefix=".snapshot-")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(data, stream)
    os.replace(partial, path)


def main(argv=None, environ=None):
    argv = sys.argv[1:] if argv is None else argv
    environ = os.environ if environ is None else environ
    if len(argv) != 1:
        print("usage: python3 ci/snapshot.py OUTPUT.json", file=sys.stderr)
        return 2
    try:
        data = snapshot(environ)
    except InputError as exc:
        print("snapshot: %s" % exc, file=sys.stderr)
        return 1
    write_atomically(argv[0], data)
    counts = {kind: sum(1 for item in data["items"] if item["kind"] == kind) for kind in FACT_KINDS}
    print("snapshot: %s: %d namespaces, %d nodes, %d pods"
          % (argv[0], counts["Namespace"], counts["Node"], counts["Pod"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
