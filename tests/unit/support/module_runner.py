# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module's main() as Ansible runs it, with its arguments, and return its result."""

from __future__ import annotations

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class _Exit(Exception):
    def __init__(self, result):
        super().__init__(result)
        self.result = result


def module_runner(monkeypatch, module):
    """run(args) -> the module's result, with failed and the warnings it raised (for a test's fixture)."""
    warnings = []

    def exit_json(_module, **result):
        raise _Exit(dict(result, failed=False, warnings=list(warnings)))

    def fail_json(_module, msg, **result):
        raise _Exit(dict(result, failed=True, msg=msg, warnings=list(warnings)))

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda _module, warning: warnings.append(warning))

    def run_module(args):
        warnings.clear()
        with patch_module_args(args), pytest.raises(_Exit) as exited:
            module.main()
        return exited.value.result

    return run_module
