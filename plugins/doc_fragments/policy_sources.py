# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The policy and cluster-facts options of the modules that read them, documented once (the argument
spec is ingest/sources.source_argument_spec)."""

from __future__ import annotations


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    DOCUMENTATION = r"""
options:
  policies:
    description:
      - Paths to NetworkPolicy manifests. A directory stands for every C(.yaml), C(.yml) and
        C(.json) file below it, hidden directories excepted.
      - "A file may hold several YAML documents, and a document may be a C(kind: List) of policies."
      - A relative path is taken from the directory the module runs in; prefer absolute paths,
        for example under C(playbook_dir).
    type: list
    elements: path
    default: []
  policy_objects:
    description:
      - "NetworkPolicy manifests given as data, for example the RV(kubernetes.core.k8s_info#module:resources)
        of a C(NetworkPolicy) query. A C(kind: List) stands for its items."
    type: list
    elements: dict
    default: []
  snapshot:
    description:
      - Path to the JSON output of C(kubectl get namespaces,pods,nodes,networkpolicies -A -o json).
      - Its NetworkPolicy items are added to the policies.
      - One source alone gives the cluster facts, O(snapshot) or O(cluster) (or, where the module has it, C(api)).
    type: path
  cluster:
    description:
      - The cluster facts as API objects, as RV(kubernetes.core.k8s_info#module:resources) returns them.
        An object without C(kind) takes the kind of the list it is in.
      - One source alone gives the cluster facts, O(snapshot) or O(cluster) (or, where the module has it, C(api)).
    type: dict
    suboptions:
      namespaces:
        description: Namespace objects; their labels are what namespaceSelectors match.
        type: list
        elements: dict
        default: []
      pods:
        description:
          - Pod objects; their labels, IPs, node, host network, phase and container ports are used (and, for a
            report, their owner references, which group them into workloads).
        type: list
        elements: dict
        default: []
      nodes:
        description: Node objects; every node gets a slice of the plan.
        type: list
        elements: dict
        default: []
  default_namespace:
    description:
      - The namespace of a manifest that names none, as C(kubectl apply) would use the current namespace.
      - A name the API server would refuse as a namespace (not a DNS-1123 label) is an error.
    type: str
    default: default
  strict:
    description:
      - Manifests are validated as the API server of Kubernetes 1.34 validates them. What it accepts
        with a warning, or reads differently than it is written (a CIDR with host bits set, a null rule
        read as C({}), a missing C(spec.podSelector)), is reported as a warning with its line and
        used as the API server reads it, unless O(strict) is true, which makes every such
        warning an error.
    type: bool
    default: false
"""
