# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: k8s_nodes
short_description: The Kubernetes cluster's nodes as an inventory
version_added: 1.0.0
description:
  - Lists the cluster's Nodes with the official C(kubernetes) client (page by page) and makes each a host,
    named as the Node, in the group O(group) (C(netpol_nodes), which C(playbooks/enforce.yml) converges).
  - Each host gets C(ansible_host) (its first address of O(address_types), in that order), C(netpol_node_name)
    (the Node's name, which maps the cluster's pods to the host by their C(spec.nodeName); override it per host
    when the inventory name differs), and C(k8s_labels). Each label becomes a group
    C(k8s_label_<key>_<value>) (characters that are not letters, digits or underscores become underscores).
  - The auth options are those of C(kubernetes.core) (with their C(K8S_AUTH_*) environment variables), so one
    kubeconfig or service account serves the inventory and M(kubenet.netpol.netpol_resolve).
  - An API error fails the inventory source; an error is never read as "no nodes".
author:
  - kubenet.netpol contributors (@kubenet)
requirements:
  - kubernetes (the official Python client)
extends_documentation_fragment:
  - kubenet.netpol.k8s_auth_options
  - constructed
options:
  plugin:
    description: The name of this plugin; it makes the file an inventory source of this plugin.
    type: str
    required: true
    choices: [kubenet.netpol.k8s_nodes]
  group:
    description: The group every node joins.
    type: str
    default: netpol_nodes
  address_types:
    description: The Node address types that give C(ansible_host), tried in order.
    type: list
    elements: str
    default: [InternalIP, ExternalIP]
  request_timeout:
    description: Seconds to wait for each page of the list.
    type: int
    default: 30
"""

EXAMPLES = r"""
# k8s_nodes.yml (the file name must end in k8s_nodes.yml or k8s_nodes.yaml)
plugin: kubenet.netpol.k8s_nodes
kubeconfig: ~/.kube/config
context: production
# Only the worker nodes get policies enforced; the control plane keeps its own rules:
groups:
  workers: "'node-role.kubernetes.io/control-plane' not in k8s_labels"
"""

import os
import re

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable

from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.auth import AUTH_ARG_SPEC
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.live import read_objects
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import InputError

_UNSAFE_GROUP_CHARS = re.compile(r"[^A-Za-z0-9_]")


def label_group(key, value):
    """A group name for a label, as Ansible allows group names."""
    return _UNSAFE_GROUP_CHARS.sub("_", "k8s_label_%s_%s" % (key, value))


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = "kubenet.netpol.k8s_nodes"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(("k8s_nodes.yml", "k8s_nodes.yaml"))

    def _auth(self):
        """The auth options, each from the source file or else its K8S_AUTH_* variable, as for the modules."""
        auth = {}
        for name, option in AUTH_ARG_SPEC.items():
            value = self.get_option(name)
            if value is None and os.environ.get(option["env"]) is not None:
                value = os.environ[option["env"]]
                if option["type"] == "bool":
                    value = value.lower() in ("1", "true", "yes", "on")
            auth[name] = value
        return auth

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        try:
            _host, objects = read_objects(self._auth(), kinds=("Node",), timeout=self.get_option("request_timeout"))
        except InputError as exc:
            raise AnsibleParserError("kubenet.netpol.k8s_nodes: %s" % exc) from None
        group = self.inventory.add_group(self.get_option("group"))
        strict = self.get_option("strict")
        for node in objects["Node"]:
            self._add_node(node, group, strict)

    def _add_node(self, node, group, strict):
        metadata = node.get("metadata") or {}
        name = metadata.get("name")
        if not isinstance(name, str) or not name:
            return
        labels = metadata.get("labels") or {}
        host = self.inventory.add_host(name, group=group)
        addresses = {}
        for entry in (node.get("status") or {}).get("addresses") or ():
            addresses.setdefault(entry.get("type"), entry.get("address"))
        for address_type in self.get_option("address_types"):
            if addresses.get(address_type):
                self.inventory.set_variable(host, "ansible_host", addresses[address_type])
                break
        self.inventory.set_variable(host, "netpol_node_name", name)
        self.inventory.set_variable(host, "k8s_labels", labels)
        for key, value in sorted(labels.items()):
            self.inventory.add_child(self.inventory.add_group(label_group(key, value)), host)
        variables = self.inventory.get_host(host).get_vars()
        self._set_composite_vars(self.get_option("compose"), variables, host, strict=strict)
        self._add_host_to_composed_groups(self.get_option("groups"), variables, host, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, host, strict=strict)
