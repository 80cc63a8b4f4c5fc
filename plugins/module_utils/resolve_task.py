# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The netpol_resolve task, whichever process runs it.

The module runs it in a Python of its own; the action plugin of the same name runs it inside the
controller's worker when the task is on the controller anyway (no module payload to build, no second
interpreter). Both take the options, the checks between them and the result from here, so the two
paths cannot drift apart.
"""

from __future__ import annotations

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.planner import build_plan
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.auth import AUTH_ARG_SPEC, auth_argument_spec
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import InputError, problem_dicts
from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.sources import (
    POLICY_SOURCES, load_sources, source_argument_spec)
from ansible_collections.kubenet.netpol.plugins.module_utils.plan.slicing import restrict_nodes

FACT_SOURCES = ("snapshot", "cluster", "api")
OPTION_RULES = {"mutually_exclusive": [FACT_SOURCES], "required_one_of": [FACT_SOURCES]}
LIBRARIES = (("netaddr", "netaddr"), ("PyYAML", "yaml"))


class ResolveFailure(Exception):
    """The task fails: msg for the user, details (such as every input problem) in the result."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = details


def argument_spec(env_fallback):
    """The module's options; env_fallback is Ansible's, passed in so this file imports no Ansible."""
    return {
        **source_argument_spec(),
        "nodes": {"type": "list", "elements": "str"},
        "api": {"type": "bool"},
        "policy_source": {"type": "str", "choices": list(POLICY_SOURCES), "default": "repository"},
        "request_timeout": {"type": "int", "default": 30},
        **auth_argument_spec(env_fallback),
    }


def needed_libraries(params):
    """(name shown to the user, import name) of every library these options need."""
    return LIBRARIES + ((("kubernetes", "kubernetes"),) if params["api"] else ())


def resolve(params):
    """(result, warnings) of the validated options: the plan, its counts and the input warnings.

    ResolveFailure when the input is invalid or names a node the facts do not have."""
    api = None
    if params["api"]:
        api = {name: params[name] for name in AUTH_ARG_SPEC}
        api["timeout"] = params["request_timeout"]
    input_warnings = []
    try:
        cluster, policies = load_sources(params["policies"], params["policy_objects"], params["snapshot"],
                                         params["cluster"], params["default_namespace"], strict=params["strict"],
                                         warnings=input_warnings, api=api, policy_source=params["policy_source"])
    except InputError as exc:
        raise ResolveFailure(str(exc), problems=problem_dicts(exc.problems)) from None

    plan = build_plan(cluster, policies)
    if params["nodes"] is not None:
        unknown = [name for name in params["nodes"] if name not in plan["nodes"]]
        if unknown:
            raise ResolveFailure("nodes: not in the cluster facts: %s" % ", ".join(unknown))
        plan = restrict_nodes(plan, params["nodes"])
    warnings = [str(warning) for warning in input_warnings] + list(plan["warnings"])
    return {"changed": False, "plan": plan, "counts": plan["counts"],
            "input_warnings": problem_dicts(input_warnings)}, warnings
