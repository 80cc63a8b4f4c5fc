"""The enforce hook of `netpol-lab probe`: the real playbooks/enforce.yml, run from the
underlay netns against every lab node over SSH, exactly as a user runs it."""

import os
import re
import subprocess

from netpol_lab.netns import in_netns
from netpol_lab.topology import LabError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PLAYBOOK = os.path.join(ROOT, "playbooks", "enforce.yml")
RECAP = re.compile(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)
LOG_TAIL = 40


def ansible_environment(lab):
    """Settings a lab run needs, on top of the caller's environment (collections path included)."""
    return dict(os.environ, ANSIBLE_PIPELINING="True", ANSIBLE_FORKS=str(max(5, len(lab.nodes))),
                ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="False", ANSIBLE_HOST_KEY_CHECKING="False",
                ANSIBLE_DEPRECATION_WARNINGS="False")


def playbook_command(lab, extra_args=()):
    """The playbook reads the lab's current scenario as a user's run reads a cluster: the policies from a
    repository file, the facts from a kubectl snapshot."""
    return in_netns(lab.underlay, [
        "ansible-playbook", "-i", lab.inventory, PLAYBOOK, "-e", "netpol_snapshot_path=%s" % lab.current_snapshot,
        "-e", '{"netpol_policy_paths": ["%s"]}' % lab.current_policies,
    ] + list(extra_args))


def run_playbook(lab, extra_args=()):
    """Run enforce.yml; return ({node: changed}, output). A failed run is a LabError with the log's tail."""
    result = subprocess.run(playbook_command(lab, extra_args), env=ansible_environment(lab),
                            capture_output=True, text=True, check=False)
    output = result.stdout + result.stderr
    runs = len([name for name in os.listdir(lab.run_dir) if name.startswith("enforce-")])
    log = os.path.join(lab.run_dir, "enforce-%d.log" % (runs + 1))
    with open(log, "w", encoding="utf-8") as handle:
        handle.write(output)
    recap = {host: (int(changed), int(unreachable), int(failed)) for host, changed, unreachable, failed
             in RECAP.findall(output)}
    if result.returncode != 0 or any(counts[1] or counts[2] for counts in recap.values()):
        tail = "\n".join(output.splitlines()[-LOG_TAIL:])
        raise LabError("enforce playbook failed (exit %d, full log %s):\n%s" % (result.returncode, log, tail))
    return {node.name: recap.get(node.name, (0, 0, 0))[0] > 0 for node in lab.nodes}, output


def enforce(lab):
    """The probe hook: converge every node to the current scenario; {node: changed}."""
    changed, _output = run_playbook(lab)
    return changed
