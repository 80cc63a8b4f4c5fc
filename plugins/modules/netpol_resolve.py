#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: netpol_resolve
short_description: Resolve Kubernetes NetworkPolicies into a per-node enforcement plan
version_added: 1.0.0
description:
  - Reads NetworkPolicy manifests (files, directories, or objects) and the facts of a cluster
    (a kubectl JSON snapshot, or API objects), validates all of them, and
    resolves them into the per-node plan that each node enforces.
  - Every input is validated before anything is resolved. On invalid input the module fails
    and names every problem at once, each with its file, line, object and field.
  - The plan lists every rule of every policy that selects a pod once for the whole cluster, as
    clauses of peer address sets, ipBlocks and port ranges with named ports already resolved;
    every distinct peer address set once; and for each node its pods with the policies that
    isolate them. The P(kubenet.netpol.node_slice#filter) filter makes the slice one node
    converges. Its format is described in C(docs/plan-format.md).
  - This module only reads its inputs, so it never reports a change.
author:
  - kubenet.netpol contributors (@kubenet)
requirements:
  - netaddr >= 1.2
  - PyYAML
  - kubernetes (the official Python client), with O(api=true)
notes:
  - "Paths are read on the host that runs the module: run it once on the controller with
    C(delegate_to: localhost) and C(run_once: true), and hand each node its slice with the
    P(kubenet.netpol.node_slice#filter) filter."
  - A policy that is defined identically in two sources (for example in the repository and in the
    snapshot) counts once; two different definitions of the same namespace/name are an error.
  - Policies that are valid but probably not what their author meant (a policy selecting no pod,
    a named port no pod declares) are reported as warnings and in RV(plan.warnings).
seealso:
  - plugin: kubenet.netpol.node_slice
    plugin_type: filter
    description: Makes one node's slice of the plan.
  - module: kubernetes.core.k8s_info
    description: Reads the namespaces, pods and nodes to pass as O(cluster).
options:
  api:
    description:
      - Read the cluster facts (and, with O(policy_source=cluster) or O(policy_source=both), the cluster's
        NetworkPolicies) live from the Kubernetes API with the official C(kubernetes) client, page by page,
        authenticated by the auth options below (those of C(kubernetes.core), so its C(module_defaults) carry over).
      - Any API error (unreachable, timeout, 401, 403, an expired continue token) fails the module before any
        plan exists; an error is never read as "no pods". C(docs/rbac.md) has the ClusterRole it needs.
      - Exactly one of O(snapshot), O(cluster) and O(api) gives the cluster facts.
    type: bool
  policy_source:
    description:
      - Which policies are enforced. C(repository) (the default) takes only O(policies) and O(policy_objects);
        Git is the source of truth, and a policy deleted from the repository stops being enforced.
      - C(cluster) takes the cluster's own NetworkPolicies (from O(snapshot) or O(api)) and O(policy_objects).
      - C(both) takes both; where both define one namespace/name differently, the repository's definition is
        enforced and a warning names the policy.
    type: str
    choices: [repository, cluster, both]
    default: repository
  request_timeout:
    description: Seconds to wait for each page of a list from the API (with O(api)).
    type: int
    default: 30
  nodes:
    description:
      - Return the plan of these nodes only (the counts and warnings still describe the whole cluster).
      - Naming a node that is not in the cluster facts is an error.
      - Omit it to get the plan of every node.
    type: list
    elements: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - kubenet.netpol.policy_sources
  - kubenet.netpol.k8s_auth_options
attributes:
  action:
    description: The task has an action plugin of the same name that runs on the controller.
    support: full
    details:
      - On the controller (a local connection without become, async or a task environment) an action
        plugin runs the task in Ansible's own worker process, with the same options and result;
        anywhere else, or when a library is missing there, the module runs as usual.
  check_mode:
    support: full
    details:
      - The module only reads its inputs; it runs the same way in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Resolve the repository's policies against a kubectl snapshot
  kubenet.netpol.netpol_resolve:
    policies:
      - "{{ playbook_dir }}/../policies"
    snapshot: /var/tmp/cluster.json
  delegate_to: localhost
  run_once: true
  register: netpol

- name: Read the live cluster with kubernetes.core
  kubernetes.core.k8s_info:
    kind: "{{ item }}"
  loop: [Namespace, Pod, Node]
  delegate_to: localhost
  run_once: true
  register: netpol_facts

- name: Resolve against the live objects, for the nodes of this play only
  kubenet.netpol.netpol_resolve:
    policies:
      - "{{ playbook_dir }}/../policies"
    cluster:
      namespaces: "{{ netpol_facts.results[0].resources }}"
      pods: "{{ netpol_facts.results[1].resources }}"
      nodes: "{{ netpol_facts.results[2].resources }}"
    nodes: "{{ ansible_play_hosts }}"
  delegate_to: localhost
  run_once: true
  register: netpol

- name: Show which policies isolate each pod of node-1
  ansible.builtin.debug:
    msg: "{{ netpol.plan.nodes['node-1'].pods }}"

- name: Show the policies that node-1 enforces, with their local targets
  ansible.builtin.debug:
    msg: "{{ (netpol.plan | kubenet.netpol.node_slice('node-1')).policies }}"
"""

RETURN = r"""
plan:
  description:
    - The per-node plan, as C(docs/plan-format.md) describes it.
  returned: success
  type: dict
  contains:
    nodes:
      description:
        - Each node (only the nodes in O(nodes) when it is given), keyed by node name, with C(node),
          C(pod_cidrs) and C(pods) (each local pod with its IPs and the policies isolating it for
          C(ingress) and C(egress)).
      type: dict
      sample:
        node-1:
          node: node-1
          pod_cidrs: [10.244.1.0/24]
          pods:
            - pod: x/a
              ips: [10.244.1.10]
              ingress: [x/allow-b]
              egress: []
    policies:
      description:
        - Every policy that selects at least one pod (when O(nodes) is given, one that selects a pod
          of those nodes), keyed by namespace/name, with the rules of each direction of its
          policyTypes (C(ingress), C(egress)) as C(clauses), by their index in the manifest.
        - A clause's C(targets) is null when it applies to every pod the policy selects, else the
          pods (across the cluster) that give its named port that number.
      type: dict
      sample:
        x/allow-b:
          ingress:
            - index: 0
              clauses:
                - peers: {pod_set: 1b4f0e9851971998, ip_blocks: []}
                  ports: [{protocol: TCP, port: 80, end_port: 80}]
                  targets: null
    peer_sets:
      description: The peer pod addresses of the clauses, by the key the clauses use; each distinct set once.
      type: dict
      sample:
        1b4f0e9851971998: [10.244.1.11]
    counts:
      description: The same as RV(counts).
      type: dict
    warnings:
      description:
        - Policies that are valid but probably not what their author meant, such as a policy
          that selects no pod. Each is also shown as an Ansible warning.
      type: list
      elements: str
      sample: ["policy x/foo selects no pod"]
counts:
  description: Sizes of the whole resolution, whatever O(nodes) restricts the plan to.
  returned: success
  type: dict
  sample: {policies: 12, pods: 40, nodes: 3, isolated_ingress: 9, isolated_egress: 4}
input_warnings:
  description:
    - What the API server accepts but probably means something else than written (a CIDR with host
      bits set, a null rule read as C({})), each located like RV(problems); also shown as warnings.
      With O(strict=true) these are errors instead.
  returned: success
  type: list
  elements: dict
  sample:
    - file: policies/web.yaml
      line: 14
      obj: x/allow-web
      field: spec.ingress[0].from[0].ipBlock.cidr
      message: '"10.0.0.1/24" has host bits set: the API server reads it as 10.0.0.0/24 ...'
      severity: warning
problems:
  description:
    - Every problem of the input, when the module fails because the input is invalid.
    - C(file) is a path, or the option that held the data (for example C(policy_objects[2]));
      C(line) is null when the source has no lines; C(obj) is the namespace/name of the object
      when known.
  returned: failure
  type: list
  elements: dict
  sample:
    - file: policies/web.yaml
      line: 12
      obj: x/allow-web
      field: spec.ingress[0].ports[0].port
      message: must be between 1 and 65535
      severity: error
"""

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.kubenet.netpol.plugins.module_utils.libraries import missing_libraries
from ansible_collections.kubenet.netpol.plugins.module_utils.resolve_task import (
    OPTION_RULES, ResolveFailure, argument_spec, needed_libraries, resolve)


def main():
    module = AnsibleModule(argument_spec=argument_spec(env_fallback), supports_check_mode=True, **OPTION_RULES)
    for name, error in missing_libraries(needed_libraries(module.params)):
        module.fail_json(msg=missing_required_lib(name), exception=error)
    try:
        result, warnings = resolve(module.params)
    except ResolveFailure as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    for warning in warnings:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
