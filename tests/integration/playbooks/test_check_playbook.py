# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubenet.netpol.check, the shipped validation entry point, run as a merge-request pipeline runs it."""

from __future__ import annotations

import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
GOOD = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.1/8}}]
"""
BAD = GOOD.replace("name: web,", "name: Web,")


def run_check(tmp_path, *extra):
    """ansible-playbook kubenet.netpol.check from the repository directory, with a relative path."""
    (tmp_path / "policies").mkdir(exist_ok=True)
    command = ["ansible-playbook", "kubenet.netpol.check", "-e", json.dumps({"netpol_policy_paths": ["policies"]})]
    environment = dict(os.environ, ANSIBLE_NOCOLOR="1")
    return subprocess.run(command + list(extra), cwd=tmp_path, capture_output=True, text=True, check=False,
                          env=environment, timeout=300)


def test_valid_policies_pass_with_their_warnings(tmp_path):
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "web.yaml").write_text(GOOD)
    result = run_check(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 NetworkPolicies valid; 1 warning(s)" in result.stdout
    assert "policies/web.yaml:7" in result.stdout + result.stderr and "host bits" in result.stdout + result.stderr


def test_every_problem_fails_the_check_naming_file_line_policy_and_field(tmp_path):
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "web.yaml").write_text(BAD)
    (tmp_path / "policies" / "other.yaml").write_text(GOOD.replace("web", "api").replace("10.0.0.1/8", "300.0.0.0/8"))
    result = run_check(tmp_path)
    assert result.returncode != 0
    assert "policies/web.yaml:3: shop/Web: metadata.name" in result.stdout
    assert "policies/other.yaml:7: shop/api: spec.ingress[0].from[0].ipBlock.cidr" in result.stdout


def test_strict_makes_the_warning_an_error(tmp_path):
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "web.yaml").write_text(GOOD)
    result = run_check(tmp_path, "-e", "netpol_strict_validation=true")
    assert result.returncode != 0 and "strict" in result.stdout
