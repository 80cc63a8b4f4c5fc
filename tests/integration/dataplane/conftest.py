# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Network namespaces for the dataplane tests: each test gets fresh ones, removed even on failure.

A fresh namespace has its own empty filter tables and ipsets, so a namespace is a node.
"""

from __future__ import annotations

import subprocess
import uuid

import pytest


def sh(argv, stdin=None, check=True, timeout=60):
    """Run a command; on failure show its stderr in the test report."""
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise AssertionError("%s failed (rc=%d): %s" % (" ".join(argv), done.returncode, done.stderr))
    return done


class NetnsRunner:
    """The dataplane's runner inside a namespace; it records every call (argv, stdin)."""

    def __init__(self, netns):
        self.netns = netns
        self.calls = []

    def __call__(self, argv, stdin=None):
        self.calls.append((tuple(argv), stdin))
        done = sh(["ip", "netns", "exec", self.netns] + list(argv), stdin=stdin, check=False)
        return done.returncode, done.stdout, done.stderr

    def writes(self):
        """The calls that fed a payload (restores); a no-op run must have none."""
        return [call for call in self.calls if call[1] is not None]

    def run(self, *argv, check=True):
        """A command of the test itself (not recorded): setup, drift, inspection."""
        return sh(["ip", "netns", "exec", self.netns] + list(argv), check=check).stdout

    def filter_lines(self, family=4, tool="iptables"):
        """The filter table as iptables-save prints it, without the header comments."""
        save = "%s-save" % (tool if family == 4 else tool.replace("iptables", "ip6tables"))
        return [line for line in self.run(save, "-t", "filter").splitlines() if not line.startswith("#")]

    def ipset_lines(self):
        """`ipset save` without the per-boot initval, sorted (the kernel lists members in hash order)."""
        lines = []
        for line in self.run("ipset", "save").splitlines():
            if line.startswith("create "):
                line = line.split(" initval ")[0]
            lines.append(line)
        return sorted(lines)


@pytest.fixture
def make_netns():
    """Create uniquely named namespaces on demand; all are deleted when the test ends."""
    created = []

    def make(role="node"):
        name = "kn-%s-%s" % (role, uuid.uuid4().hex[:8])
        sh(["ip", "netns", "add", name])
        created.append(name)
        sh(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"])
        return name

    yield make
    for name in reversed(created):
        sh(["ip", "netns", "del", name], check=False)


@pytest.fixture
def netns(make_netns):
    return make_netns()


@pytest.fixture
def runner(netns):
    return NetnsRunner(netns)


@pytest.fixture
def runner_in():
    """A runner for another namespace of the test (pods, outside hosts)."""
    return NetnsRunner


@pytest.fixture
def state_dir(tmp_path):
    return str(tmp_path / "state")
