# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ulogd2 in a node's namespace with the collection's example configuration (examples/ulogd/ulogd.conf),
writing the denied packets as JSON where a test says: the reader of docs/operations.md, for real."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time

from netpol_lab.netns import in_netns
from netpol_lab.topology import LabError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
EXAMPLE_CONF = os.path.join(ROOT, "examples", "ulogd", "ulogd.conf")
START_TIMEOUT = 10.0


@contextlib.contextmanager
def ulogd_in(netns, log_file, work_dir):
    """Run ulogd2 in `netns` until the block ends, its JSON going to `log_file` (its own log and
    configuration in `work_dir`); the process is killed on the way out, whatever happens."""
    if not shutil.which("ulogd"):
        raise LabError("ulogd2 is not installed (scripts/setup installs ulogd2 and ulogd2-json)")
    started = os.path.join(work_dir, "ulogd-%s.log" % netns)
    with open(EXAMPLE_CONF, encoding="utf-8") as handle:
        text = handle.read()
    text = re.sub(r'(?m)^file=".*"$', 'file="%s"' % log_file, text)
    text = re.sub(r'(?m)^logfile=".*"$', 'logfile="%s"' % started, text)
    config = os.path.join(work_dir, "ulogd-%s.conf" % netns)
    with open(config, "w", encoding="utf-8") as handle:
        handle.write(text)
    process = subprocess.Popen(in_netns(netns, ["ulogd", "-c", config]), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _entered_main_loop(started):
            if process.poll() is not None:
                raise LabError("ulogd exited: %s" % process.stderr.read())
            if time.monotonic() > deadline:
                raise LabError("ulogd did not start within %.0f s" % START_TIMEOUT)
            time.sleep(0.05)
        yield log_file
    finally:
        process.kill()
        process.wait()


def _entered_main_loop(log_path):
    try:
        with open(log_path, encoding="utf-8") as handle:
            return "entering main loop" in handle.read()
    except FileNotFoundError:
        return False
