# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for the tests of examples/gitops-repo: a copy of the example, its pipelines' commands as
data, and the example's cluster as a lab scenario with the example's own policies."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from netpol_lab.scenario import load_scenario, snapshot

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
EXAMPLE = ROOT / "examples" / "gitops-repo"
# The example's cluster (no policies; its expected table is the example's policies' meaning).
CLUSTER_SCENARIO = HERE / "example-cluster.yaml"
RECAP = re.compile(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)
PLAYBOOK_TIMEOUT = 600


def copy_example(destination):
    """A fresh copy of the example repository, as a team's clone of it would be (no build output)."""
    shutil.copytree(EXAMPLE, destination, ignore=shutil.ignore_patterns("__pycache__", "build", "collections", "context"))
    return Path(destination)


def gitlab_ci():
    with open(EXAMPLE / ".gitlab-ci.yml", encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def github_workflow():
    with open(EXAMPLE / ".github" / "workflows" / "netpol.yml", encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def gitlab_lines(job, key="script"):
    """The shell lines of a GitLab job's script (or before_script / after_script), with those of the
    hidden jobs it extends first, as the runner assembles them."""
    jobs = gitlab_ci()
    lines = []
    spec = jobs[job]
    extended = spec.get("extends", [])
    for parent in [extended] if isinstance(extended, str) else extended:
        lines += jobs[parent].get(key, [])
    return lines + spec.get(key, [])


def github_runs(job):
    """The `run` scripts of a GitHub job's steps, in order."""
    return [step["run"] for step in github_workflow()["jobs"][job]["steps"] if "run" in step]


def commands(text_or_lines, prefix):
    """Every command line of a script that starts with prefix (multi-line scripts split into lines)."""
    text = "\n".join(text_or_lines) if isinstance(text_or_lines, list) else text_or_lines
    return [line.strip() for line in text.splitlines() if line.strip().startswith(prefix)]


def pipeline_env(repo, **extra):
    """The environment a pipeline job gives ansible-playbook (ANSIBLE_CONFIG as both pipelines set it),
    plus the test's own collection path (scripts/env), without colour so the output can be read."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(Path(repo) / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_DEPRECATION_WARNINGS="False")
    env.update(extra)
    return env


def run_script(lines, cwd, env, timeout=PLAYBOOK_TIMEOUT):
    """Run a job's lines in one bash, stopping at the first failure, as a GitLab runner does."""
    script = "set -eo pipefail\n" + "\n".join(lines) + "\n"
    return subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
                          check=False, timeout=timeout)


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=ci", "-c", "user.email=ci@example.invalid",
                           "-c", "init.defaultBranch=main", "-c", "advice.detachedHead=false"] + list(args),
                          check=True, capture_output=True, text=True).stdout


def example_policies(repo=EXAMPLE):
    """Every NetworkPolicy document of a repository's policies/ directory, in file order."""
    documents = []
    for path in sorted(Path(repo, "policies").rglob("*.yaml")):
        with open(path, encoding="utf-8") as stream:
            documents += [document for document in yaml.safe_load_all(stream) if document]
    return documents


def example_scenario(directory, repo=EXAMPLE):
    """The example's cluster with a repository's policies, as a scenario file (for the lab and the engine)."""
    with open(CLUSTER_SCENARIO, encoding="utf-8") as stream:
        obj = yaml.safe_load(stream)
    obj["policies"] = example_policies(repo)
    path = Path(directory) / "gitops-example.yaml"
    path.write_text(yaml.safe_dump(obj, sort_keys=False))
    return path


def cluster_snapshot(path):
    """The example's cluster as `kubectl get namespaces,nodes,pods -A -o json` (no policies: Git has them)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(snapshot(load_scenario(CLUSTER_SCENARIO))))
    return path


def recap(output):
    """{host: (changed, unreachable, failed)} from a PLAY RECAP."""
    return {host: (int(changed), int(unreachable), int(failed))
            for host, changed, unreachable, failed in RECAP.findall(output)}


def line_of(path, text):
    """The 1-based line of the first line of a file that contains text."""
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError("%s not in %s" % (text, path))


def merge_request(tmp_path, change=None):
    """A GitLab-like checkout: origin with main (the example as is), and the merge request's branch
    checked out in a clone, after `change(clone)` was committed on it."""
    origin = tmp_path / "origin.git"
    seed = copy_example(tmp_path / "seed")
    git(seed, "init", "-q")
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "policies")
    subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(origin)], check=True)
    clone = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", "file://%s" % origin, str(clone)], check=True)
    git(clone, "checkout", "-q", "-b", "change")
    if change is not None:
        change(clone)
        git(clone, "commit", "-q", "-a", "-m", "the change under review")
    return clone
