# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The example's cluster on a real kube-apiserver, read with the identity of docs/rbac.md, and a
stand-in for GitLab's merge request notes API: what the example's pipelines talk to."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml
from kubernetes import client, utils
from kubernetes.client.exceptions import ApiException

from netpol_lab.apiserver import create_node, create_pod
from netpol_lab.scenario import Scenario, load_scenario, snapshot

RBAC_DOC = Path(__file__).resolve().parents[3] / "docs" / "rbac.md"
RBAC_WAIT = 30  # seconds: RBAC's authorizer sees a new binding through its informers, not at once


def _ignore_conflict(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except ApiException as exc:
        if exc.status != 409:
            raise


def write_cluster(api, cluster):
    """A scenario's cluster on the server. Namespaces the server made itself (default, kube-system)
    get the scenario's labels; every namespace gets the ServiceAccount pods need (no controller
    manager runs to make it)."""
    core = client.CoreV1Api(api)
    for obj in snapshot(Scenario("write", cluster, (), (), ()))["items"]:
        if obj["kind"] == "Namespace":
            name = obj["metadata"]["name"]
            _ignore_conflict(core.create_namespace, body=obj)
            core.patch_namespace(name, body={"metadata": {"labels": obj["metadata"]["labels"]}})
            _ignore_conflict(core.create_namespaced_service_account, name, body={"metadata": {"name": "default"}})
        elif obj["kind"] == "Node":
            create_node(core, obj)
        else:
            create_pod(core, obj)


def grant_documented_role(server):
    """Apply the ClusterRole and binding of docs/rbac.md, and wait until the restricted identity
    (the ServiceAccount netpol/netpol-resolve) may list pods."""
    text = RBAC_DOC.read_text()
    (block,) = re.findall(r"^```yaml\n(.*?)^```$", text, flags=re.M | re.S)
    admin = server.client("admin")
    for document in yaml.safe_load_all(block):
        if document:
            utils.create_from_dict(admin, document)
    restricted = client.CoreV1Api(server.client("restricted"))
    deadline = time.monotonic() + RBAC_WAIT
    while True:
        try:
            restricted.list_pod_for_all_namespaces(limit=1)
            return
        except ApiException as exc:
            if exc.status != 403 or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def restricted_env(server):
    """The CI variables of the example's pipelines, for the documented read-only identity."""
    return {"K8S_AUTH_HOST": server.url, "K8S_AUTH_API_KEY": server.restricted_token, "K8S_AUTH_SSL_CA_CERT": server.ca}


def load_cluster(path):
    return load_scenario(path).cluster


class FakeGitLab:
    """GitLab's merge request notes API (GET, POST, PUT) for one project, checking the token."""

    def __init__(self, project, merge_request, token):
        self.base = "/api/v4/projects/%s/merge_requests/%s/notes" % (project, merge_request)
        self.token = token
        self.notes = [{"id": 1, "body": "Looks good to me", "system": False},
                      {"id": 2, "body": "added 1 commit", "system": True}]
        self.requests = []
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def api(self):
        return "http://127.0.0.1:%d/api/v4" % self.server.server_address[1]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _reply(self, status, data):
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _route(self, method):
                path = self.path.split("?")[0]
                fake.requests.append((method, self.path))
                if self.headers.get("PRIVATE-TOKEN") != fake.token:
                    return self._reply(401, {"message": "401 Unauthorized"})
                length = int(self.headers.get("Content-Length") or 0)
                data = json.loads(self.rfile.read(length)) if length else None
                if method == "GET" and path == fake.base:
                    return self._reply(200, fake.notes)
                if method == "POST" and path == fake.base:
                    note = {"id": max(note["id"] for note in fake.notes) + 1, "body": data["body"], "system": False}
                    fake.notes.append(note)
                    return self._reply(201, note)
                if method == "PUT" and path.startswith(fake.base + "/"):
                    note_id = int(path.rsplit("/", 1)[1])
                    for note in fake.notes:
                        if note["id"] == note_id:
                            note["body"] = data["body"]
                            return self._reply(200, note)
                return self._reply(404, {"message": "404 Not found"})

            def do_GET(self):  # noqa: N802 (http.server's names)
                self._route("GET")

            def do_POST(self):  # noqa: N802
                self._route("POST")

            def do_PUT(self):  # noqa: N802
                self._route("PUT")

        return Handler
