# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes API auth options, documented once (the argument spec is ingest/auth.AUTH_ARG_SPEC)."""

from __future__ import annotations


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - A kubeconfig, as a file path or as the parsed content (a dict). Without it, and without O(host), the
        C(KUBECONFIG) environment variable or C(~/.kube/config) is read, or the in-cluster service account
        configuration when the module runs in a pod.
      - The environment variable C(K8S_AUTH_KUBECONFIG) sets it too.
    type: raw
  context:
    description: The kubeconfig context to use (C(K8S_AUTH_CONTEXT)).
    type: str
  host:
    description: The API server URL, overriding the kubeconfig's (C(K8S_AUTH_HOST)).
    type: str
  api_key:
    description: A bearer token (C(K8S_AUTH_API_KEY)).
    type: str
  username:
    description: A user for basic authentication (C(K8S_AUTH_USERNAME)).
    type: str
  password:
    description: The password of O(username) (C(K8S_AUTH_PASSWORD)).
    type: str
  validate_certs:
    description: Whether to verify the API server's certificate (C(K8S_AUTH_VERIFY_SSL)).
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description: The CA certificate file that signed the API server's certificate (C(K8S_AUTH_SSL_CA_CERT)).
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description: A client certificate file (C(K8S_AUTH_CERT_FILE)).
    type: path
    aliases: [cert_file]
  client_key:
    description: The key file of O(client_cert) (C(K8S_AUTH_KEY_FILE)).
    type: path
    aliases: [key_file]
  proxy:
    description: An HTTP proxy URL for the API requests (C(K8S_AUTH_PROXY)).
    type: str
notes:
  - The token and the password are never logged (C(no_log)).
"""
