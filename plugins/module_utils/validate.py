# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of NetworkPolicy manifests (placeholder: to be completed)."""

from __future__ import annotations


def validate_policy(document, default_namespace="default"):
    obj = document.obj
    problems = []
    if not isinstance(obj, dict):
        return [document.problem("", "a manifest must be a mapping")]
    if obj.get("apiVersion") != "networking.k8s.io/v1":
        problems.append(document.problem("apiVersion", "must be networking.k8s.io/v1"))
    if obj.get("kind") != "NetworkPolicy":
        problems.append(document.problem("kind", "must be NetworkPolicy"))
    del default_namespace
    return problems
