# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes API auth options, as one argument spec (documented once, in the k8s_auth_options
doc fragment). Apart from ingest/live.py, which imports the kubernetes client: a run that reads no
live facts declares these options too, and importing the client takes longer than such a run.
"""

from __future__ import annotations

# The options of kubernetes.core's k8s_auth_options fragment we honour, with their environment variables.
AUTH_ARG_SPEC = {
    "kubeconfig": {"type": "raw", "env": "K8S_AUTH_KUBECONFIG"},
    "context": {"type": "str", "env": "K8S_AUTH_CONTEXT"},
    "host": {"type": "str", "env": "K8S_AUTH_HOST"},
    "api_key": {"type": "str", "no_log": True, "env": "K8S_AUTH_API_KEY"},
    "username": {"type": "str", "env": "K8S_AUTH_USERNAME"},
    "password": {"type": "str", "no_log": True, "env": "K8S_AUTH_PASSWORD"},
    "validate_certs": {"type": "bool", "aliases": ["verify_ssl"], "env": "K8S_AUTH_VERIFY_SSL"},
    "ca_cert": {"type": "path", "aliases": ["ssl_ca_cert"], "env": "K8S_AUTH_SSL_CA_CERT"},
    "client_cert": {"type": "path", "aliases": ["cert_file"], "env": "K8S_AUTH_CERT_FILE"},
    "client_key": {"type": "path", "aliases": ["key_file"], "no_log": False, "env": "K8S_AUTH_KEY_FILE"},
    "proxy": {"type": "str", "env": "K8S_AUTH_PROXY"},
}


def auth_argument_spec(env_fallback):
    """AUTH_ARG_SPEC as AnsibleModule takes it (the env key becomes a fallback)."""
    spec = {}
    for name, option in AUTH_ARG_SPEC.items():
        entry = {key: value for key, value in option.items() if key != "env"}
        entry["fallback"] = (env_fallback, [option["env"]])
        spec[name] = entry
    return spec
