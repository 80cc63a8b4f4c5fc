# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster facts read live from the Kubernetes API with the official client.

Every list is read whole, page by page (limit/continue), before anything else happens, and any
error (unreachable, timeout, 401/403, an expired continue token, a bad kubeconfig) stops the run
as a located problem: an error is never read as "no pods". The auth options are those of
kubernetes.core (one argument spec, ingest/auth.py, and one doc fragment), so a play's
module_defaults for that collection carry over; the client is built in one place (api_client).
"""

from __future__ import annotations

import json
import os

try:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.client.exceptions import ApiException
    import urllib3
except ImportError:  # pragma: no cover - the module reports the missing library first
    k8s_client = k8s_config = ApiException = urllib3 = None

from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.facts import cluster_from_documents
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import InputError, Problem
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.yamldoc import Document

DEFAULT_PAGE_SIZE = 500
DEFAULT_TIMEOUT = 30
FACT_KINDS = ("Namespace", "Node", "Pod")
RESOURCES = {"Namespace": "namespaces", "Node": "nodes", "Pod": "pods", "NetworkPolicy": "networkpolicies"}
API_VERSIONS = {"Namespace": "v1", "Node": "v1", "Pod": "v1", "NetworkPolicy": "networking.k8s.io/v1"}


def _configuration(auth):
    """A client Configuration: kubeconfig (path or dict) or in-cluster first, explicit options on top."""
    configuration = k8s_client.Configuration()
    explicit_host = auth.get("host")
    kubeconfig = auth.get("kubeconfig")
    if isinstance(kubeconfig, dict):
        k8s_config.load_kube_config_from_dict(kubeconfig, context=auth.get("context"), client_configuration=configuration,
                                              persist_config=False)
    elif kubeconfig or not explicit_host:
        path = os.path.expanduser(kubeconfig or os.environ.get("KUBECONFIG") or k8s_config.KUBE_CONFIG_DEFAULT_LOCATION)
        if not kubeconfig and not os.path.exists(path) and os.environ.get("KUBERNETES_SERVICE_HOST"):
            k8s_config.load_incluster_config(client_configuration=configuration)
        else:
            k8s_config.load_kube_config(config_file=path, context=auth.get("context"),
                                        client_configuration=configuration, persist_config=False)
    if explicit_host:
        configuration.host = explicit_host
    if auth.get("api_key"):
        configuration.api_key = {"authorization": "Bearer " + auth["api_key"]}
    for option, attribute in (("username", "username"), ("password", "password"), ("ca_cert", "ssl_ca_cert"),
                              ("client_cert", "cert_file"), ("client_key", "key_file"), ("proxy", "proxy")):
        if auth.get(option):
            setattr(configuration, attribute, auth[option])
    if auth.get("validate_certs") is not None:
        configuration.verify_ssl = auth["validate_certs"]
    return configuration


def api_client(auth):
    """The one place a client is built from the auth options."""
    return k8s_client.ApiClient(_configuration(auth))


def _where(configuration_host):
    return "Kubernetes API %s" % configuration_host


def _pages(list_call, kind, page_size, timeout):
    """Every item of a list, page by page, each with its kind and apiVersion (list items come without them)."""
    items = []
    token = None
    while True:
        response = list_call(limit=page_size, _continue=token, _request_timeout=timeout, _preload_content=False)
        body = json.loads(response.data)
        items.extend(dict(item, kind=kind, apiVersion=API_VERSIONS[kind]) for item in body.get("items") or ())
        token = (body.get("metadata") or {}).get("continue")
        if not token:
            return items


def _problem(host, what, exc):
    """An API error in words a user acts on; the run stops before any node is touched."""
    where = _where(host)
    if ApiException is not None and isinstance(exc, ApiException):
        status = exc.status
        reason = {401: "not authenticated: check the token, client certificate or kubeconfig",
                  403: "forbidden: the user may not list %s (see docs/rbac.md for the ClusterRole it needs)" % what,
                  410: "the list changed too much while it was read page by page (its continue token expired): run again"}
        return Problem(where, "listing %s failed: HTTP %s: %s" % (what, status, reason.get(status, exc.reason)))
    return Problem(where, "listing %s failed: %s: %s" % (what, type(exc).__name__, exc))


def read_objects(auth, kinds=FACT_KINDS, page_size=DEFAULT_PAGE_SIZE, timeout=None):
    """(host, {kind: objects}) of the kinds asked, as the API lists them, or InputError."""
    try:
        client = api_client(auth)
    except (k8s_config.ConfigException, OSError, ValueError, TypeError) as exc:
        raise InputError([Problem("kubeconfig", "cannot build a Kubernetes client: %s" % exc)]) from None
    host = client.configuration.host
    timeout = timeout or DEFAULT_TIMEOUT
    core = k8s_client.CoreV1Api(client)
    calls = {"Namespace": core.list_namespace, "Node": core.list_node, "Pod": core.list_pod_for_all_namespaces,
             "NetworkPolicy": k8s_client.NetworkingV1Api(client).list_network_policy_for_all_namespaces}
    objects = {}
    try:
        for kind in kinds:
            try:
                objects[kind] = _pages(calls[kind], kind, page_size, timeout)
            except (ApiException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
                raise InputError([_problem(host, RESOURCES[kind], exc)]) from None
    finally:
        client.close()
    return host, objects


def read_cluster(auth, with_policies=False, page_size=DEFAULT_PAGE_SIZE, timeout=None):
    """(Cluster, policy Documents) from the live API; each object named by its API path for problems."""
    host, objects = read_objects(auth, FACT_KINDS + (("NetworkPolicy",) if with_policies else ()), page_size, timeout)
    facts = [Document(item, _object_name(host, item)) for kind in FACT_KINDS for item in objects[kind]]
    policies = [Document(item, _object_name(host, item)) for item in objects.get("NetworkPolicy", ())]
    return cluster_from_documents(facts), policies


def _object_name(host, item):
    metadata = item.get("metadata") or {}
    name = "%s/%s" % (metadata.get("namespace"), metadata.get("name")) if metadata.get("namespace") else metadata.get("name")
    return "%s %s %s" % (_where(host), item["kind"], name)
