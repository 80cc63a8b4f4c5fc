#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: netpol_report
short_description: Report what NetworkPolicies allow, workload to workload, with lint, expectations and a diff
version_added: 1.0.0
description:
  - Reads NetworkPolicy manifests and the facts of a cluster from the same sources as
    M(kubenet.netpol.netpol_resolve), validates them, and reports their effect for people who review
    policy changes, as data and, with O(output_dir), as C(report.json), C(report.md) and a
    self-contained C(report.html), plus C(diff.json) and C(diff.md) when O(baseline_policies) is given.
  - "B(Matrix by workload): running pods are grouped into workloads (a pod's controller, a ReplicaSet
    of a Deployment counting as the Deployment; pods without a controller by their labels), and for
    each set of ports every workload pair is C(allowed), C(denied) or C(partial) (some pod pairs or
    ports allowed, some not), naming the rules that allow it and the policies that isolate it.
    Without O(ports), ports are cut where the policies tell them apart and ports with equal matrices
    share one."
  - "B(Diff): the connections that the policies newly allow and newly deny compared with
    O(baseline_policies) on the same facts, by workload pair and ports, with the rule that now
    allows each, or the policies that now isolate it."
  - "B(Expectations): the team's tests in a YAML file (O(expectations)); every violated expectation
    is listed with the workload pairs that violate it and why, and fails the task when
    O(fail_on_violations) is true."
  - "B(Lint): policies selecting no pod, rules of a direction policyTypes ignores, rules or peers
    matching no pod, named ports no destination defines, and policies wholly shadowed by others,
    each with its file, line and field."
  - Every verdict and every reason is the one verdict the nodes enforce (the plan of
    M(kubenet.netpol.netpol_resolve)), asked once per class of pods that no policy tells apart.
    The formats, the expectations file and the lint checks are described in C(docs/report.md).
author:
  - kubenet.netpol contributors (@kubenet)
requirements:
  - netaddr >= 1.2
  - PyYAML
  - Jinja2
notes:
  - Paths are read on the host that runs the module; run it on the controller (for example in a play on
    C(localhost), as the C(kubenet.netpol.report) playbook does).
  - To compare two Git revisions, check the base revision out beside the working tree (for example
    C(git worktree add ../base origin/main)) and pass its policy directory as O(baseline_policies);
    the module never runs Git.
  - O(default_namespace) is also the namespace of a manifest of O(baseline_policies) that names none; the pods'
    C(metadata.ownerReferences) group them into workloads.
  - Policies of O(snapshot) and O(policy_objects) belong to both policy sets of the diff. Take the
    snapshot without C(networkpolicies) when the repository holds the policies, or both sets get
    the live ones too.
seealso:
  - module: kubenet.netpol.netpol_resolve
    description: Resolves the same sources into the plan the nodes enforce.
options:
  ports:
    description:
      - The ports to report on, one matrix per item. An item is a comma-separated list of C(PROTOCOL)
        (every port of it), C(PROTOCOL/PORT) or C(PROTOCOL/FIRST-LAST), for example C(TCP/80),
        C(TCP/80,TCP/443) or C(UDP).
      - Omit it to report on every port of every protocol, cut where the policies tell ports apart,
        with one matrix per group of ports whose matrices are equal.
    type: list
    elements: str
  baseline_policies:
    description:
      - Paths to the policy manifests to compare with (for example the target branch's checkout);
        the report then has a diff. Omit it for no diff.
    type: list
    elements: path
  expectations:
    description:
      - Path to an expectations file (the format is in C(docs/report.md)). It is validated like the
        manifests, every problem located by file, line and field.
    type: path
  output_dir:
    description:
      - Directory to write C(report.json), C(report.md), C(report.html) and, with
        O(baseline_policies), C(diff.json) and C(diff.md) into; created when missing.
      - Only files whose content changes are written. Omit it to write nothing.
    type: path
  fail_on_violations:
    description:
      - Fail when an expectation is violated, listing every violated expectation (after the files are written).
    type: bool
    default: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - kubenet.netpol.policy_sources
attributes:
  check_mode:
    support: full
    details:
      - In check mode the report is made and returned, and no file is written; RV(files) says which would change.
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Report on the repository's policies against a kubectl snapshot
  kubenet.netpol.netpol_report:
    policies:
      - "{{ playbook_dir }}/../policies"
    snapshot: /var/tmp/cluster.json
    output_dir: "{{ playbook_dir }}/../build/report"
  delegate_to: localhost
  run_once: true
  register: netpol_report

- name: Review a merge request against the target branch, with the team's expectations
  kubenet.netpol.netpol_report:
    policies:
      - "{{ ci_project_dir }}/policies"
    baseline_policies:
      - "{{ ci_project_dir }}/../base/policies"    # git worktree add ../base origin/main
    expectations: "{{ ci_project_dir }}/expectations.yaml"
    snapshot: /var/tmp/cluster.json
    ports: [TCP/80, TCP/443, UDP/53]
    output_dir: "{{ ci_project_dir }}/build/report"
  delegate_to: localhost
  run_once: true

- name: Show what the report found
  ansible.builtin.debug:
    msg: "{{ netpol_report.summary.lines }}"
"""

RETURN = r"""
summary:
  description: Sizes and counts of the report, and C(lines), the same in a few lines of text.
  returned: success
  type: dict
  sample:
    namespaces: 3
    workloads: 5
    pods: 5
    policies: 2
    port_sets: 2
    lint: 0
    expectations: {checked: 3, violated: 0}
    lines: ["5 workloads (5 running pods) in 3 namespaces, 2 policies", "TCP/6379: 11 allowed, 0 partial, 9 denied workload pairs"]
report:
  description:
    - The whole report, as C(report.json) holds it (C(docs/report.md)) - C(workloads), C(matrices) (each with
      its C(ports) and C(cells), a cell with C(from), C(to), C(verdict), pod pair counts, C(allowed_by) and
      C(denied_by)), C(lint) and C(expectations).
  returned: success
  type: dict
diff:
  description:
    - The changes against O(baseline_policies), as C(diff.json) holds it - C(summary) and C(changes), each with
      C(from), C(to), C(change) (C(newly allowed) or C(newly denied)), C(ports), C(pairs), C(now) and C(before).
    - Null without O(baseline_policies).
  returned: success
  type: dict
  sample:
    summary: {newly_denied: 1, newly_allowed: 0, pairs_newly_denied: 1, pairs_newly_allowed: 0}
    changes:
      - from: default/frontend
        to: shop/web
        change: newly denied
        ports: [TCP, UDP, SCTP]
        families: [4]
        pairs: 1
        now: [{kind: isolated, direction: ingress, policies: [shop/default-deny-ingress],
               text: ingress isolated by shop/default-deny-ingress (no rule allows)}]
        before: [{kind: not-isolated, direction: ingress, text: ingress not isolated}]
violations:
  description: The violated expectations (as in C(report.expectations)); each is also in the failure message.
  returned: always
  type: list
  elements: dict
files:
  description: The files of O(output_dir), and whether each changed (or would, in check mode).
  returned: success
  type: list
  elements: dict
  sample:
    - {path: build/report/report.html, changed: true}
input_warnings:
  description:
    - What the API server accepts but probably means something else than written, each located;
      also shown as warnings. With O(strict=true) these are errors instead.
  returned: success
  type: list
  elements: dict
problems:
  description:
    - Every problem of the input (manifests, facts, owner references, the expectations file), when the
      module fails because the input is invalid, each with C(file), C(line), C(obj), C(field) and C(message).
  returned: failure
  type: list
  elements: dict
  sample:
    - file: expectations.yaml
      line: 7
      obj: web reaches the database
      field: expectations[0].expect
      message: "must be allowed or denied, found 'allow'"
      severity: error
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.build import build_report
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.expectations import load_expectations
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.files import json_text, write_files
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.html import render_html
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.locations import PolicyLocations
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.markdown import render_diff, render_report
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.owners import owners_from_cluster, owners_from_snapshot
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.report.ports import parse_port_spec
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import InputError, problem_dicts
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.sources import load_sources, source_argument_spec
from ansible_collections.kubenet.netpol.plugins.module_utils.libraries import missing_libraries

FACT_SOURCES = ("snapshot", "cluster")


def argument_spec():
    return {
        **source_argument_spec(),
        "ports": {"type": "list", "elements": "str"},
        "baseline_policies": {"type": "list", "elements": "path"},
        "expectations": {"type": "path"},
        "output_dir": {"type": "path"},
        "fail_on_violations": {"type": "bool", "default": True},
    }


def port_sets(items):
    """The ports option as lists of PortRanges, or ValueError naming the item."""
    found = []
    for index, item in enumerate(items):
        try:
            found.append([parse_port_spec(part.strip()) for part in item.split(",")])
        except ValueError as exc:
            raise ValueError("ports[%d]: %s" % (index, exc)) from None
    return found


def load_inputs(params, warnings):
    """(cluster, policies, owners, baseline policies or None, expectations), or InputError with every problem."""
    problems = []

    def sources(paths):
        try:
            return load_sources(paths, params["policy_objects"], params["snapshot"], params["cluster"],
                                params["default_namespace"], strict=params["strict"], warnings=warnings)
        except InputError as exc:
            problems.extend(exc.problems)
            return None, ()

    def attempt(loader, *args):
        try:
            return loader(*args)
        except InputError as exc:
            problems.extend(exc.problems)
            return None

    cluster, policies = sources(params["policies"])
    baseline = None
    if params["baseline_policies"] is not None:
        baseline = sources(params["baseline_policies"])[1]
    if params["snapshot"]:
        owners = attempt(owners_from_snapshot, params["snapshot"])
    else:
        owners = attempt(owners_from_cluster, params["cluster"])
    expectations = attempt(load_expectations, params["expectations"]) if params["expectations"] else ()
    if problems:
        raise InputError(dict.fromkeys(problems))  # the facts' problems once, though read for both policy sets
    return cluster, policies, owners, baseline, expectations


def report_files(outcome):
    """{file name: text} of a report."""
    contents = {"report.json": json_text(outcome.report), "report.md": render_report(outcome.report),
                "report.html": render_html(outcome.report, outcome.diff)}
    if outcome.diff is not None:
        contents.update({"diff.json": json_text(outcome.diff), "diff.md": render_diff(outcome.diff)})
    return contents


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[FACT_SOURCES],
        required_one_of=[FACT_SOURCES],
        supports_check_mode=True,
    )
    for name, error in missing_libraries((("netaddr", "netaddr"), ("PyYAML", "yaml"), ("Jinja2", "jinja2"))):
        module.fail_json(msg=missing_required_lib(name), exception=error)
    params = module.params
    try:
        ports = port_sets(params["ports"]) if params["ports"] is not None else None
    except ValueError as exc:
        module.fail_json(msg=str(exc))

    input_warnings = []
    try:
        cluster, policies, owners, baseline, expectations = load_inputs(params, input_warnings)
    except InputError as exc:
        module.fail_json(msg=str(exc), problems=problem_dicts(exc.problems), violations=[])
    for warning in input_warnings:
        module.warn(str(warning))

    snapshot = [params["snapshot"]] if params["snapshot"] else []
    locations = PolicyLocations(policies, params["default_namespace"], params["policies"] + snapshot)
    if baseline is not None:
        baseline = (baseline, PolicyLocations(baseline, params["default_namespace"], params["baseline_policies"] + snapshot))
    outcome = build_report(cluster, policies, owners, locations, ports, expectations, baseline)
    for finding in outcome.findings:
        module.warn(str(finding))

    files = []
    if params["output_dir"]:
        files = write_files(params["output_dir"], report_files(outcome), module.check_mode)
    result = {"changed": any(item["changed"] for item in files), "summary": outcome.report["summary"], "report": outcome.report,
              "diff": outcome.diff, "files": files, "input_warnings": problem_dicts(input_warnings),
              "violations": [violated.to_dict() for violated in outcome.violated]}
    if outcome.violated and params["fail_on_violations"]:
        lines = ["%d of %d expectations violated:" % (len(outcome.violated), len(outcome.results))]
        for violated in outcome.violated:
            lines.extend(violated.lines())
        module.fail_json(msg="\n".join(lines), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
