# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the netpol_chains module file inside a namespace the way Ansible does (a JSON arguments file,
check and diff mode as `_ansible_*` arguments), and return its result."""

from __future__ import annotations

import json
import subprocess
import sys

MODULE = "ansible_collections.kubenet.netpol.plugins.modules.netpol_chains"


def run_module(netns, tmp_path, check=False, diff=False, **args):
    path = tmp_path / "args.json"
    args = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
    path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}), encoding="utf-8")
    done = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-m", MODULE, str(path)],
                          capture_output=True, text=True, check=False, timeout=60)
    return json.loads(done.stdout)
