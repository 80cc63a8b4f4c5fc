# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""examples/gitops-repo, the repository a platform team copies: its execution environment builds a
context, its pipelines name every step, and their steps run for real from a copy of it: the check,
and the review job's report with the target branch as a git worktree, against the example's
expectations. (The job against a real API server: test_gitops_apiserver.py; the enforce steps on
the lab's nodes: test_gitops_lab.py.)"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml
from apiserver_testing import FakeGitLab
from gitops_testing import (CLUSTER_SCENARIO, EXAMPLE, ROOT, cluster_snapshot, commands, copy_example, example_scenario,
                            git, github_runs, github_workflow, gitlab_ci, gitlab_lines, line_of, merge_request,
                            pipeline_env, run_script)
from netpol_lab import scenario as scenarios
from netpol_lab.expected import parse_expected, probed_rows
from packaging.requirements import Requirement

from ansible_collections.kubenet.netpol.plugins.module_utils.engine import explain

CHECK = "ansible-playbook kubenet.netpol.check -e @inventory/group_vars/all.yml"
DRY_RUN = "ansible-playbook kubenet.netpol.enforce -i inventory/cluster.k8s_nodes.yml --check --diff"
ENFORCE = "ansible-playbook kubenet.netpol.enforce -i inventory/cluster.k8s_nodes.yml | tee build/enforce.log"
REPORT = "ansible-playbook kubenet.netpol.report -e @inventory/group_vars/all.yml -e @ci/report-vars.yml"
WORKTREE = "git worktree add --detach build/baseline FETCH_HEAD"
DRIFT = "sed -n '/PLAY RECAP/,$p' build/enforce.log | grep -E 'changed=[1-9]'"
SNAPSHOT = "python3 ci/snapshot.py build/cluster.json"
NODE_TOOLS = ("iptables", "ipset", "conntrack", "iproute2")
SECRET_PATTERNS = (r"-----BEGIN [A-Z ]*PRIVATE KEY-----", r"\beyJ[A-Za-z0-9_-]{20,}\.", r"\bglpat-[A-Za-z0-9_-]{10,}",
                   r"\bgh[pousr]_[A-Za-z0-9]{20,}", r"\bAKIA[0-9A-Z]{16}\b")
CREDENTIALS = ("K8S_AUTH_HOST", "K8S_AUTH_API_KEY", "K8S_AUTH_SSL_CA_CERT", "SSH_PRIVATE_KEY")


@pytest.fixture
def repo(tmp_path):
    return copy_example(tmp_path / "repo")


# 1. The execution environment

def test_the_execution_environment_makes_a_build_context_with_the_repository_requirements(tmp_path):
    builder = shutil.which("ansible-builder")
    assert builder, "ansible-builder is installed by test-requirements.txt (scripts/setup)"
    context = tmp_path / "context"
    result = subprocess.run([builder, "create", "--file", str(EXAMPLE / "execution-environment.yml"),
                             "--context", str(context)], capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    build_files = [context / name for name in ("Containerfile", "Dockerfile") if (context / name).exists()]
    assert len(build_files) == 1, sorted(path.name for path in context.iterdir())
    instructions = build_files[0].read_text()
    definition = yaml.safe_load((EXAMPLE / "execution-environment.yml").read_text())
    assert 'ARG EE_BASE_IMAGE="%s"' % definition["images"]["base_image"]["name"] in instructions
    assert "ansible-core>=2.19,<2.20" in instructions
    assert "COPY _build /build" in instructions and "collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in instructions
    assert "COPY _build/requirements.txt requirements.txt" in instructions and "COPY _build/bindep.txt bindep.txt" in instructions
    for name in ("requirements.yml", "requirements.txt", "bindep.txt"):
        assert (context / "_build" / name).read_text() == (EXAMPLE / name).read_text(), name
    assert "--user-pip=requirements.txt --user-bindep=bindep.txt" in instructions
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert [item["name"] for item in galaxy["collections"]] == ["kubenet.netpol"], "kubernetes.core is not needed"
    assert (context / "_build" / "exclude-bindep.txt").read_text().split() == list(NODE_TOOLS)

    # What the image build's introspection step makes of it with this collection installed: the
    # controller's Python libraries and system packages, and none of the nodes' tools.
    written = {kind: tmp_path / ("introspected-%s.txt" % kind) for kind in ("pip", "bindep")}
    result = subprocess.run(["python", str(context / "_build" / "scripts" / "introspect.py"), "introspect",
                             "--user-pip", str(EXAMPLE / "requirements.txt"), "--user-bindep", str(EXAMPLE / "bindep.txt"),
                             "--exclude-bindep-reqs", str(context / "_build" / "exclude-bindep.txt"),
                             "--write-pip", str(written["pip"]), "--write-bindep", str(written["bindep"]),
                             str(ROOT / "build" / "collections")], capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    pip_lines = [line.split("#")[0].strip() for line in written["pip"].read_text().splitlines() if line.strip()]
    system = [line.split()[0] for line in written["bindep"].read_text().splitlines() if line.strip()]
    assert {Requirement(line).name.lower() for line in pip_lines} >= {"kubernetes", "netaddr", "pyyaml", "jmespath"}
    assert not set(system) & set(NODE_TOOLS), system
    assert "git" in system and "openssh-clients" in system


def test_the_python_pins_lie_within_the_collection_ranges():
    ranges = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            ranges[requirement.name.lower()] = requirement.specifier
    pins = [Requirement(line) for line in (EXAMPLE / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    assert sorted(pin.name.lower() for pin in pins) == ["jmespath", "kubernetes", "netaddr", "pyyaml"]
    for pin in pins:
        (version,) = [spec.version for spec in pin.specifier if spec.operator == "=="]
        assert ranges[pin.name.lower()].contains(version), "%s outside the collection's %s" % (pin, ranges[pin.name.lower()])


# 2. The pipelines

def test_the_gitlab_pipeline_names_every_step_for_the_right_events():
    jobs = gitlab_ci()
    assert jobs["stages"] == ["validate", "review", "enforce"]
    assert commands(gitlab_lines("check"), "ansible-playbook") == [CHECK]
    assert commands(gitlab_lines("dry-run"), "ansible-playbook") == [DRY_RUN]
    review = gitlab_lines("connectivity-diff")
    assert SNAPSHOT in review and WORKTREE in review
    assert 'git fetch --no-tags --depth=1 origin "$CI_MERGE_REQUEST_TARGET_BRANCH_NAME"' in review
    assert commands(review, "ansible-playbook") == [REPORT]
    posting = gitlab_lines("connectivity-diff", "after_script")
    assert commands(posting, "python3 ci/gitlab_note.py") == ["python3 ci/gitlab_note.py build/comment.md"]
    enforce = gitlab_lines("enforce")
    assert commands(enforce, "ansible-playbook") == [ENFORCE]
    assert any(DRIFT in line and '"$CI_PIPELINE_SOURCE" = schedule' in line for line in enforce)
    assert "set -o pipefail" in enforce
    on_merge_request = [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert jobs["dry-run"]["rules"] == on_merge_request and jobs["connectivity-diff"]["rules"] == on_merge_request
    assert "rules" not in jobs["check"], "the check runs in every pipeline"
    enforce_rules = [rule["if"] for rule in jobs["enforce"]["rules"]]
    assert all(rule.startswith("$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH") for rule in enforce_rules)
    assert any('"schedule"' in rule for rule in enforce_rules) and any('"push"' in rule for rule in enforce_rules)
    assert jobs["enforce"]["resource_group"] and jobs["enforce"]["stage"] == "enforce"
    assert jobs["variables"]["ANSIBLE_CONFIG"] == "$CI_PROJECT_DIR/ansible.cfg"


def test_the_github_workflow_names_every_step_for_the_right_events():
    workflow = github_workflow()
    events = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads the key `on` as true
    assert {"pull_request", "push", "schedule"} <= set(events)
    assert events["push"]["branches"] == ["main"] and events["schedule"][0]["cron"]
    jobs = workflow["jobs"]
    assert commands(github_runs("check"), "ansible-playbook") == [CHECK]
    assert commands(github_runs("dry-run"), "ansible-playbook") == [DRY_RUN]
    review = "\n".join(github_runs("connectivity-diff"))
    assert SNAPSHOT in review and WORKTREE in review and 'origin "$TARGET_BRANCH"' in review
    assert commands(review, "ansible-playbook") == [REPORT]
    assert 'gh pr comment "$PR_NUMBER" --edit-last --create-if-none --body-file build/comment.md' in review
    assert jobs["connectivity-diff"]["permissions"]["pull-requests"] == "write"
    assert workflow["permissions"] == {"contents": "read"}
    enforce = "\n".join(github_runs("enforce"))
    assert commands(enforce, "ansible-playbook") == [ENFORCE] and DRIFT in enforce
    for job in ("dry-run", "connectivity-diff"):
        assert "github.event_name == 'pull_request'" in jobs[job]["if"] and jobs[job]["needs"] == "check"
    assert "refs/heads/main" in jobs["enforce"]["if"] and jobs["enforce"]["concurrency"]["cancel-in-progress"] is False
    drift = [step for step in jobs["enforce"]["steps"] if "Drift" in step.get("name", "")]
    assert drift and drift[0]["if"] == "github.event_name == 'schedule'"
    assert workflow["env"]["ANSIBLE_CONFIG"] == "${{ github.workspace }}/ansible.cfg"
    for job in jobs.values():  # the local actions each job uses exist
        for step in job["steps"]:
            if step.get("uses", "").startswith("./"):
                assert (EXAMPLE / step["uses"] / "action.yml").is_file(), step["uses"]


def test_both_pipelines_run_the_same_commands():
    gitlab = [line.replace("$CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "$TARGET_BRANCH")  # each CI's name for it
              for job in ("check", "dry-run", "connectivity-diff", "enforce") for line in gitlab_lines(job)]
    github = "\n".join(run for job in ("check", "dry-run", "connectivity-diff", "enforce") for run in github_runs(job))
    for prefix in ("ansible-playbook", "python3 ci/snapshot.py", "git ", "rm -rf", "mkdir -p build/baseline"):
        assert sorted(set(commands(gitlab, prefix))) == sorted(set(commands(github, prefix))), prefix


def test_the_readme_shows_the_pipelines_commands_and_its_links_resolve():
    readme = (EXAMPLE / "README.md").read_text()
    for command in (CHECK, DRY_RUN, REPORT, SNAPSHOT, ENFORCE.partition(" |")[0]):
        assert command in readme, command
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if "://" not in target:
            assert (EXAMPLE / target).exists(), target
    assert "estimate" in readme.split("## A thousand nodes")[1].splitlines()[0]


def test_credentials_come_from_ci_secrets_and_never_from_the_files():
    gitlab_text = (EXAMPLE / ".gitlab-ci.yml").read_text()
    github_text = (EXAMPLE / ".github" / "workflows" / "netpol.yml").read_text()
    for name in CREDENTIALS:
        assert "secrets.%s" % name in github_text, name
        assert re.search(r"^#\s+%s\s" % name, gitlab_text, re.M), "%s is documented as a CI/CD variable" % name
    assert '"$SSH_PRIVATE_KEY"' in gitlab_text and "NETPOL_NOTE_TOKEN" in gitlab_text
    for path in EXAMPLE.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            text = path.read_text(errors="replace")
            for pattern in SECRET_PATTERNS:
                assert not re.search(pattern, text), "%s looks like a credential in %s" % (pattern, path)


# 3. The check step, as the pipelines run it

def test_the_check_step_passes_then_names_the_file_and_line_of_a_broken_policy(repo):
    (check,) = commands(gitlab_lines("check"), "ansible-playbook")
    result = run_script([check], repo, pipeline_env(repo))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "10 NetworkPolicies valid; 0 warning(s)" in output

    broken = repo / "policies" / "shop" / "web-egress.yaml"
    broken.write_text(broken.read_text().replace("port: 8443", "port: 84430"))
    line = line_of(broken, "port: 84430")
    result = run_script([check], repo, pipeline_env(repo))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "policies/shop/web-egress.yaml:%d: shop/web-egress: spec.egress[1].ports[0].port" % line in output, output


def test_the_repository_setting_makes_a_warning_fail_the_check(repo):
    """netpol_strict_validation: true in inventory/group_vars/all.yml reaches the check step."""
    (check,) = commands(gitlab_lines("check"), "ansible-playbook")
    shifted = repo / "policies" / "billing" / "api-from-shop.yaml"
    shifted.write_text(shifted.read_text().replace("          podSelector:\n            matchLabels:\n              app: web\n",
                                                   "          podSelector:\n            matchLabels:\n              app: web\n"
                                                   "        - ipBlock:\n            cidr: 10.1.2.3/16\n"))
    result = run_script([check], repo, pipeline_env(repo))
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "strict" in output, output
    assert "policies/billing/api-from-shop.yaml:%d" % line_of(shifted, "cidr: 10.1.2.3/16") in output, output


# 4. The review job's report: expectations and the diff against the target branch

def test_the_example_policies_mean_the_hand_reasoned_table(tmp_path):
    """The policies do what README.md and expectations.yaml say, on the example's cluster."""
    scenario = scenarios.load_scenario(example_scenario(tmp_path))
    rows = probed_rows(scenario)
    expectation = parse_expected(scenario.expected)
    assert not expectation.unused_lines(rows)
    engine = explain.truth_table(explain.ClusterVerdicts(scenario.cluster, scenario.policies),
                                 scenarios.scenario_endpoints(scenario), scenario.probes, scenario.name)
    assert engine == dict(expectation.table(rows), scenario=scenario.name)
    assert scenarios.load_scenario(CLUSTER_SCENARIO).policies == ()


def _review_job(clone):
    """The review job's lines, its facts from the example cluster's snapshot instead of the API
    (the API server case: test_gitops_apiserver.py); then its after_script without posting."""
    lines = gitlab_lines("connectivity-diff")
    assert lines.count(SNAPSHOT) == 1
    cluster_snapshot(clone / "build" / "cluster.json")
    env = pipeline_env(clone, CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main", CI_JOB_URL="https://ci.example/jobs/7")
    result = run_script([line for line in lines if line != SNAPSHOT], clone, env)
    comment = run_script([line for line in gitlab_lines("connectivity-diff", "after_script")
                          if "gitlab_note.py" not in line], clone, env)
    assert comment.returncode == 0, comment.stdout + comment.stderr
    return result, result.stdout + result.stderr, (clone / "build" / "comment.md").read_text()


def test_the_review_job_reports_no_change_and_every_expectation_met(tmp_path):
    def reword(clone):  # a comment-only edit of a policy: nothing changes for any connection
        policy = clone / "policies" / "shop" / "default-deny.yaml"
        policy.write_text(policy.read_text().replace("# Every pod", "# Each pod"))

    clone = merge_request(tmp_path, reword)
    result, output, comment = _review_job(clone)
    assert result.returncode == 0, output
    assert "expectations: 6 checked, 0 violated" in output
    assert "diff against the baseline: 0 newly denied, 0 newly allowed" in output
    assert git(clone, "worktree", "list").count("build/baseline") == 1
    assert comment.startswith("<!-- kubenet-netpol-review -->")
    assert "## Expectations (6 checked, 0 violated)" in comment and "https://ci.example/jobs/7" in comment
    report = json.loads((clone / "build" / "report" / "report.json").read_text())
    assert all(item["passed"] for item in report["expectations"])


def test_the_review_job_shows_what_a_change_denies_and_fails_on_the_broken_expectation(tmp_path):
    """Removing the billing API's ingress rule cuts the storefront off it: the diff names the pair
    and the policy that now isolates it, the expectation fails with its file and line."""
    clone = merge_request(tmp_path, lambda clone: git(clone, "rm", "-q", "policies/billing/api-from-shop.yaml"))
    result, output, comment = _review_job(clone)
    assert result.returncode != 0, output
    expectation_line = line_of(clone / "expectations.yaml", "name: the storefront reaches the billing API")
    assert "expectations.yaml:%d: expectation" % expectation_line in output
    assert "the storefront reaches the billing API" in output
    assert "diff against the baseline: 1 newly denied, 0 newly allowed" in output
    diff = json.loads((clone / "build" / "report" / "diff.json").read_text())
    (change,) = diff["changes"]
    assert (change["from"], change["to"], change["change"], change["ports"]) == (
        "shop/web", "billing/api", "newly denied", ["TCP/8443"])
    assert "| shop/web | billing/api | TCP/8443 |" in comment
    assert "## Expectations (6 checked, 1 violated)" in comment
    assert (clone / "build" / "baseline" / "policies" / "billing" / "api-from-shop.yaml").exists()


# The comment: its body from the report's files, and its note on GitLab

def test_the_comment_says_when_the_report_made_no_diff_and_fits_a_github_comment(tmp_path):
    missing = run_script(["python3 ci/review_comment.py %s https://ci.example/jobs/3" % (tmp_path / "none")], EXAMPLE,
                         pipeline_env(EXAMPLE))
    assert missing.returncode == 0 and "No diff was made: the report step failed" in missing.stdout
    report = tmp_path / "report"
    report.mkdir()
    (report / "diff.md").write_text("## NetworkPolicy change: effect on connectivity\n\n" + "| a | b |\n" * 10000)
    (report / "report.md").write_text("# Report\n\n## TCP/80\n\nmatrix\n\n## Lint (0)\n\n- nothing\n\n## Expectations (1 checked, 0 violated)\n")
    big = run_script(["python3 ci/review_comment.py %s" % report], EXAMPLE, pipeline_env(EXAMPLE))
    assert big.returncode == 0
    assert len(big.stdout) <= 60000 and big.stdout.rstrip().endswith("(cut at 60000 characters: the whole diff is in the job's artifacts)")
    (report / "diff.md").write_text("## NetworkPolicy change: effect on connectivity\n\nNo connection changes.\n")
    body = run_script(["python3 ci/review_comment.py %s" % report], EXAMPLE, pipeline_env(EXAMPLE)).stdout
    assert "## Lint (0)" in body and "## Expectations (1 checked, 0 violated)" in body and "matrix" not in body


def test_the_gitlab_note_is_created_once_then_updated_and_a_bad_token_is_named(tmp_path):
    comment = tmp_path / "comment.md"
    comment.write_text("<!-- kubenet-netpol-review -->\nfirst\n")
    with FakeGitLab(project="platform%2Fnetpol", merge_request=5, token="right") as gitlab:
        env = pipeline_env(EXAMPLE, CI_API_V4_URL=gitlab.api, CI_PROJECT_ID="platform/netpol", CI_MERGE_REQUEST_IID="5",
                           NETPOL_NOTE_TOKEN="wrong")
        post = "python3 ci/gitlab_note.py %s" % comment
        refused = run_script([post], EXAMPLE, env)
        assert refused.returncode == 1 and "HTTP 401" in refused.stderr and "scope api" in refused.stderr
        env["NETPOL_NOTE_TOKEN"] = "right"
        assert "created note 3" in run_script([post], EXAMPLE, env).stdout
        comment.write_text("<!-- kubenet-netpol-review -->\nsecond\n")
        assert "updated note 3" in run_script([post], EXAMPLE, env).stdout
        bodies = [note["body"] for note in gitlab.notes]
        assert bodies == ["Looks good to me", "added 1 commit", "<!-- kubenet-netpol-review -->\nsecond\n"]
        del env["CI_MERGE_REQUEST_IID"]
        outside = run_script([post], EXAMPLE, env)
        assert outside.returncode == 2 and "CI_MERGE_REQUEST_IID" in outside.stderr
