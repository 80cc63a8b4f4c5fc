"""A real Kubernetes API server for tests: etcd and kube-apiserver as processes, in a temp dir.

The binaries are the ones scripts/build-kube builds (kube-apiserver v1.34.4, etcd 3.6; their
directory is $NETPOL_KUBE_BIN, set by scripts/env). The server is a real one in everything a
client sees: TLS with a CA made here, token and client-certificate authentication, RBAC,
the default admission plugins, server-side defaulting and pagination. No controller manager,
scheduler or kubelet runs, so `populate` writes what they would: each namespace's default
ServiceAccount, and the status of nodes and pods through the status subresource.

    with running_apiserver() as server:
        api = server.client("admin")
        populate(api, load_scenario(path).cluster)
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from netpol_lab.scenario import Scenario, snapshot

READY_TIMEOUT = 90  # seconds: a cold start on 2 busy cores takes 5-15 s
STOP_TIMEOUT = 10
ADMIN_USER = "netpol-admin"
# A token-file user named as a ServiceAccount is one to RBAC: a binding to ServiceAccount
# netpol/netpol-resolve (docs/rbac.md) applies to it exactly as to that account's own tokens.
RESTRICTED_USER = "system:serviceaccount:netpol:netpol-resolve"
RESTRICTED_GROUPS = "system:serviceaccounts,system:serviceaccounts:netpol"
CERT_USER = "netpol-cert-admin"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"


class ApiServerError(Exception):
    """The server could not be started (missing binaries, a process that died, no readiness)."""


@dataclass(frozen=True)
class ApiServer:
    """A running server: where it is and the credentials of its three users."""

    url: str
    ca: str
    admin_token: str
    restricted_token: str
    client_cert: str
    client_key: str
    directory: str
    pids: tuple = ()  # etcd's and kube-apiserver's, for tests that check nothing outlives a stop

    def kubeconfig(self, user="admin"):
        """Writes a kubeconfig for user (admin, restricted or cert) and returns its path:
        tests reach the server the way a user's tooling does."""
        credentials = {"admin": {"token": self.admin_token}, "restricted": {"token": self.restricted_token},
                       "cert": {"client-certificate": self.client_cert, "client-key": self.client_key}}[user]
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": user,
            "clusters": [{"name": "lab", "cluster": {"server": self.url, "certificate-authority": self.ca}}],
            "users": [{"name": user, "user": credentials}],
            "contexts": [{"name": user, "context": {"cluster": "lab", "user": user}}],
        }
        path = os.path.join(self.directory, "kubeconfig-%s.yaml" % user)
        with open(path, "w", encoding="utf-8") as stream:
            json.dump(config, stream, indent=2)  # JSON is YAML
        return path

    def client(self, user="admin"):
        """An official-client ApiClient for user, built from its kubeconfig."""
        return k8s_config.new_client_from_config(config_file=self.kubeconfig(user))


def _free_ports(count):
    """count distinct loopback ports free now (the kernel's choice, all held until all are
    chosen); the servers bind them a moment later."""
    with contextlib.ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _index in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]


def _binaries(bin_dir):
    """Paths of etcd and kube-apiserver; a missing one is an error that says how to build it."""
    bin_dir = bin_dir or os.environ.get("NETPOL_KUBE_BIN")
    if not bin_dir:
        raise ApiServerError("NETPOL_KUBE_BIN is not set: source scripts/env (after scripts/setup)")
    paths = [os.path.join(bin_dir, name) for name in ("etcd", "kube-apiserver")]
    missing = [path for path in paths if not os.access(path, os.X_OK)]
    if missing:
        raise ApiServerError("missing %s: run scripts/build-kube (scripts/setup runs it)" % ", ".join(missing))
    return paths


def _openssl(directory, name, subject, extensions, signer=None):
    """Makes name.key and name.crt (EC P-256, 2 days) with openssl, self-signed or signed by signer
    (the name of a CA made before). A config file per certificate states every extension."""
    lines = ["[req]", "distinguished_name = dn", "prompt = no", "x509_extensions = ext", "[dn]"]
    lines += ["%s = %s" % pair for pair in subject] + ["[ext]"] + extensions
    config = os.path.join(directory, name + ".cnf")
    with open(config, "w", encoding="utf-8") as stream:
        stream.write("\n".join(lines) + "\n")
    command = ["openssl", "req", "-x509", "-config", config, "-newkey", "ec", "-pkeyopt",
               "ec_paramgen_curve:prime256v1", "-noenc", "-days", "2",
               "-keyout", os.path.join(directory, name + ".key"), "-out", os.path.join(directory, name + ".crt")]
    if signer:
        command += ["-CA", os.path.join(directory, signer + ".crt"), "-CAkey", os.path.join(directory, signer + ".key")]
    _run(command)


def _run(command):
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise ApiServerError("%s not found (Debian package openssl)" % command[0]) from exc
    except subprocess.CalledProcessError as exc:
        raise ApiServerError("%s failed: %s" % (" ".join(command), exc.stderr.strip())) from exc


def make_pki(directory):
    """The CA, the serving certificate (for 127.0.0.1), an admin client certificate (its O is
    the group system:masters) and the service-account signing key pair."""
    _openssl(directory, "ca", [("CN", "netpol-test-ca")],
             ["basicConstraints = critical,CA:TRUE", "keyUsage = critical,keyCertSign,cRLSign",
              "subjectKeyIdentifier = hash"])
    _openssl(directory, "server", [("CN", "kube-apiserver")],
             ["basicConstraints = critical,CA:FALSE", "keyUsage = critical,digitalSignature",
              "extendedKeyUsage = serverAuth", "subjectAltName = IP:127.0.0.1,DNS:localhost"], signer="ca")
    _openssl(directory, "client", [("CN", CERT_USER), ("O", "system:masters")],
             ["basicConstraints = critical,CA:FALSE", "keyUsage = critical,digitalSignature",
              "extendedKeyUsage = clientAuth"], signer="ca")
    sa_key = os.path.join(directory, "sa.key")
    _run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", sa_key])
    _run(["openssl", "pkey", "-in", sa_key, "-pubout", "-out", os.path.join(directory, "sa.pub")])


def _write_tokens(directory):
    """--token-auth-file: token,user,uid,"groups". Returns (path, admin token, restricted token)."""
    admin, restricted = secrets.token_hex(16), secrets.token_hex(16)
    path = os.path.join(directory, "tokens.csv")
    with open(path, "w", encoding="utf-8") as stream:
        stream.write('%s,%s,%s,"system:masters"\n' % (admin, ADMIN_USER, ADMIN_USER))
        stream.write('%s,%s,%s,"%s"\n' % (restricted, RESTRICTED_USER, RESTRICTED_USER, RESTRICTED_GROUPS))
    return path, admin, restricted


def _die_with_parent():
    """Runs in the child before exec: the kernel kills it if the test process dies (SIGKILL, a
    CI timeout), so no server outlives its test even when no finally block runs."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG


def _start(processes, name, command, directory):
    """Starts command with its output in directory/name.log; appends (name, process, log) to processes."""
    log_path = os.path.join(directory, name + ".log")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   preexec_fn=_die_with_parent)  # pylint: disable=subprocess-popen-preexec-fn
    processes.append((name, process, log_path))


def _etcd_command(etcd, directory, client_port, peer_port):
    """A one-member etcd on loopback. No fsync: the data is thrown away with the test."""
    client_url, peer_url = "http://127.0.0.1:%d" % client_port, "http://127.0.0.1:%d" % peer_port
    return [etcd, "--name", "lab", "--data-dir", os.path.join(directory, "etcd"),
            "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
            "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
            "--initial-cluster", "lab=" + peer_url, "--unsafe-no-fsync", "--log-level", "warn"]


def _apiserver_command(apiserver, directory, etcd_port, port, token_file):
    def path(name):
        return os.path.join(directory, name)

    return [apiserver, "--etcd-servers", "http://127.0.0.1:%d" % etcd_port,
            "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", str(port),
            "--tls-cert-file", path("server.crt"), "--tls-private-key-file", path("server.key"),
            "--cert-dir", path("certs"), "--client-ca-file", path("ca.crt"), "--token-auth-file", token_file,
            "--authorization-mode", "RBAC",
            "--service-account-key-file", path("sa.pub"), "--service-account-signing-key-file", path("sa.key"),
            "--service-account-issuer", SERVICE_ACCOUNT_ISSUER, "--service-cluster-ip-range", "10.96.0.0/16"]


def _log_tail(path, lines=30):
    with open(path, encoding="utf-8", errors="replace") as stream:
        return "".join(stream.readlines()[-lines:])


def _wait_ready(server, processes):
    """Polls /readyz (which covers etcd, RBAC's bootstrap roles and every post-start hook) until
    it answers ok; a process that exits meanwhile is an error carrying its log."""
    context = ssl.create_default_context(cafile=server.ca)
    request = urllib.request.Request(server.url + "/readyz", headers={"Authorization": "Bearer " + server.admin_token})
    deadline = time.monotonic() + READY_TIMEOUT
    last = "no answer"
    while time.monotonic() < deadline:
        for name, process, log in processes:
            if process.poll() is not None:
                raise ApiServerError("%s exited with %s:\n%s" % (name, process.returncode, _log_tail(log)))
        try:
            with urllib.request.urlopen(request, context=context, timeout=5) as response:
                if response.read() == b"ok":
                    return
        except urllib.error.HTTPError as exc:
            last = "HTTP %s: %s" % (exc.code, exc.read().decode(errors="replace")[-500:])
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.2)
    log = _log_tail(processes[-1][2])
    raise ApiServerError("kube-apiserver not ready after %ds (%s):\n%s" % (READY_TIMEOUT, last, log))


def _stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def running_apiserver(bin_dir=None):
    """etcd and kube-apiserver on free loopback ports, yielded as an ApiServer once ready. Both
    processes are stopped and the temp dir removed on the way out, whatever happened."""
    etcd, apiserver = _binaries(bin_dir)
    directory = tempfile.mkdtemp(prefix="netpol-apiserver-")
    processes = []
    try:
        make_pki(directory)
        token_file, admin_token, restricted_token = _write_tokens(directory)
        etcd_port, peer_port, port = _free_ports(3)
        _start(processes, "etcd", _etcd_command(etcd, directory, etcd_port, peer_port), directory)
        _start(processes, "kube-apiserver", _apiserver_command(apiserver, directory, etcd_port, port, token_file),
               directory)
        server = ApiServer("https://127.0.0.1:%d" % port, os.path.join(directory, "ca.crt"), admin_token,
                           restricted_token, os.path.join(directory, "client.crt"),
                           os.path.join(directory, "client.key"), directory,
                           tuple(process.pid for _name, process, _log in processes))
        _wait_ready(server, processes)
        yield server
    finally:
        for _name, process, _log in reversed(processes):
            _stop(process)
        shutil.rmtree(directory, ignore_errors=True)


# What no controller writes here, written as the controllers and kubelets would.

def create_namespace(core, obj):
    """A namespace and its default ServiceAccount (kube-controller-manager's job): the
    ServiceAccount admission plugin refuses pods in a namespace without one."""
    core.create_namespace(body=obj)
    core.create_namespaced_service_account(obj["metadata"]["name"], body={"metadata": {"name": "default"}})


def _without_status(obj):
    return {key: value for key, value in obj.items() if key != "status"}


def create_node(core, obj):
    """A node, then its addresses through the status subresource (create drops status)."""
    core.create_node(body=_without_status(obj))
    core.patch_node_status(obj["metadata"]["name"], body={"status": obj["status"]})


def create_pod(core, obj):
    """A pod already bound to its node (spec.nodeName: no scheduler), then its phase and IPs
    through the status subresource, as its kubelet would report them."""
    metadata = obj["metadata"]
    core.create_namespaced_pod(metadata["namespace"], body=_without_status(obj))
    core.patch_namespaced_pod_status(metadata["name"], metadata["namespace"], body={"status": obj["status"]})


_CREATE = {"Namespace": create_namespace, "Node": create_node, "Pod": create_pod}


def populate(api_client, cluster):
    """Writes a lab Cluster to the server. The objects are the lab's kubectl snapshot of it
    (scenario.snapshot), so the server holds what the lab's playbook runs read from a file."""
    core = k8s_client.CoreV1Api(api_client)
    for obj in snapshot(Scenario("populate", cluster, (), (), ()))["items"]:
        _CREATE[obj["kind"]](core, obj)


def create_policies(api_client, manifests):
    """NetworkPolicy manifests (a scenario's .manifests, say), each in its namespace."""
    networking = k8s_client.NetworkingV1Api(api_client)
    for manifest in manifests:
        networking.create_namespaced_network_policy(manifest["metadata"].get("namespace", "default"), body=manifest)
