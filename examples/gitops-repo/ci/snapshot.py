# -*- coding: utf-8 -*-
"""Write the cluster facts the connectivity report reads, as a kubectl JSON snapshot.

    python3 ci/snapshot.py build/cluster.json

The file holds the cluster's Namespaces, Nodes and Pods, as
`kubectl get namespaces,nodes,pods -A -o json` prints them. NetworkPolicies are left out on
purpose: this repository holds the policies, and the report would count the cluster's own in
both sets of its diff.

It uses the official Python client (already in the execution environment, no kubectl needed)
and the credentials the playbooks use: K8S_AUTH_HOST, K8S_AUTH_API_KEY and
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

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

PAGE_SIZE = 500
TIMEOUT = 30  # seconds per page
LISTS = (("Namespace", "namespaces", "list_namespace"), ("Node", "nodes", "list_node"),
         ("Pod", "pods", "list_pod_for_all_namespaces"))
TRUE_WORDS = ("1", "true", "yes", "on")


def configuration(environ):
    """A client configuration from the K8S_AUTH_* variables, a kubeconfig, or the service account."""
    conf = client.Configuration()
    host = environ.get("K8S_AUTH_HOST")
    kubeconfig = environ.get("K8S_AUTH_KUBECONFIG")
    if kubeconfig or not host:
        path = kubeconfig or environ.get("KUBECONFIG") or "~/.kube/config"
        first = os.path.expanduser(path.split(os.pathsep)[0])
        if not kubeconfig and not os.path.exists(first) and environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(client_configuration=conf)
        else:
            config.load_kube_config(config_file=path, context=environ.get("K8S_AUTH_CONTEXT"),
                                    client_configuration=conf, persist_config=False)
    if host:
        conf.host = host
    if environ.get("K8S_AUTH_API_KEY"):
        conf.api_key = {"authorization": "Bearer " + environ["K8S_AUTH_API_KEY"]}
    if environ.get("K8S_AUTH_SSL_CA_CERT"):
        conf.ssl_ca_cert = environ["K8S_AUTH_SSL_CA_CERT"]
    if environ.get("K8S_AUTH_VERIFY_SSL"):
        conf.verify_ssl = environ["K8S_AUTH_VERIFY_SSL"].lower() in TRUE_WORDS
    return conf


def list_all(call, kind):
    """Every item of one list, page by page, each with the kind and apiVersion kubectl prints."""
    items = []
    token = None
    while True:
        response = call(limit=PAGE_SIZE, _continue=token, _request_timeout=TIMEOUT, _preload_content=False)
        body = json.loads(response.data)
        items.extend(dict(item, kind=kind, apiVersion="v1") for item in body.get("items") or ())
        token = (body.get("metadata") or {}).get("continue")
        if not token:
            return items


class SnapshotError(Exception):
    """The cluster could not be read whole; the message says which list and why."""


def _reason(host, resource, exc):
    if isinstance(exc, ApiException):
        hint = {401: ": not authenticated, check the token or certificate",
                403: ": forbidden, the identity needs the ClusterRole of docs/rbac.md (list %s)" % resource,
                410: ": the list changed too much while it was read page by page, run again"}
        return "%s: listing %s failed: HTTP %s %s%s" % (host, resource, exc.status, exc.reason, hint.get(exc.status, ""))
    return "%s: listing %s failed: %s: %s" % (host, resource, type(exc).__name__, exc)


def snapshot(api_client):
    """The namespaces, nodes and pods of the cluster as one kubectl List, or SnapshotError."""
    core = client.CoreV1Api(api_client)
    items = []
    for kind, resource, method in LISTS:
        try:
            items.extend(list_all(getattr(core, method), kind))
        except (ApiException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise SnapshotError(_reason(api_client.configuration.host, resource, exc)) from None
    return {"apiVersion": "v1", "kind": "List", "items": items}


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
        api_client = client.ApiClient(configuration(environ))
    except (config.ConfigException, OSError, ValueError, TypeError) as exc:
        print("snapshot: no usable Kubernetes credentials: %s" % exc, file=sys.stderr)
        return 1
    try:
        data = snapshot(api_client)
    except SnapshotError as exc:
        print("snapshot: %s" % exc, file=sys.stderr)
        return 1
    finally:
        api_client.close()
    write_atomically(argv[0], data)
    counts = {kind: sum(1 for item in data["items"] if item["kind"] == kind) for kind, _resource, _method in LISTS}
    print("snapshot: %s: %d namespaces, %d nodes, %d pods"
          % (argv[0], counts["Namespace"], counts["Node"], counts["Pod"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
