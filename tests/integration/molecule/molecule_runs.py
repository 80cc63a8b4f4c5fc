# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running a Molecule scenario through scripts/molecule as CI does, and finding what a run left behind."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from netpol_lab import netns

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "molecule"


def molecule(scenario, ephemeral, *args, timeout):
    """`scripts/molecule SCENARIO ARGS` with its own ephemeral dir: (exit code, output)."""
    env = dict(os.environ, MOLECULE_EPHEMERAL_DIRECTORY=ephemeral, NO_COLOR="1")
    done = subprocess.run([str(SCRIPT), scenario] + list(args), env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    return done.returncode, done.stdout + done.stderr


def processes_naming(text):
    """Pids of running processes whose command line names text (a run dir: sshd, agents, qemu, the switch)."""
    pids = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as handle:
                if text.encode() in handle.read() and netns.running(int(entry)):
                    pids.append(int(entry))
        except OSError:
            continue
    return pids
