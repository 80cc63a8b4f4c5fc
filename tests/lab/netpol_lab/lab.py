"""Bring a lab up and tear it down: namespaces, links, sshd per node, an agent per endpoint.

Nothing is added to the host's root namespace: the controller side (Ansible) runs inside the
underlay netns, whose bridge holds 10.10.0.254 and fd00:10:10::fe.
"""

import os
import secrets
import shutil
import sys

from netpol_lab import netns, sshd, wiring
from netpol_lab.scenario import load_scenario, write_sources
from netpol_lab.topology import NETNS_PATTERN, RUN_PATTERN, STATE_ROOT, LabError, load_lab, plan_lab

AGENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "agent.py")
READY_TIMEOUT = 10.0


def new_run_id():
    taken = {match.group(1) for match in map(NETNS_PATTERN.match, netns.namespaces()) if match}
    while True:
        run = "npl" + secrets.token_hex(2)
        if run not in taken and not os.path.lexists(os.path.join(STATE_ROOT, run)):
            return run


def _run_dir(run, run_dir):
    """Where the run keeps its state; a --run-dir must be new or empty, since down removes it."""
    if run_dir is None:
        return os.path.join(STATE_ROOT, run)
    run_dir = os.path.abspath(run_dir)
    if os.path.exists(run_dir) and os.listdir(run_dir):
        raise LabError("--run-dir %s exists and is not empty: the lab removes its run dir on down" % run_dir)
    return run_dir


def _make_run_dir(lab):
    """Create the run dir; one elsewhere is linked from /tmp/netpol-lab/<run> so `down` finds it."""
    os.makedirs(STATE_ROOT, mode=0o755, exist_ok=True)
    os.makedirs(lab.run_dir, mode=0o700, exist_ok=True)
    link = os.path.join(STATE_ROOT, lab.run)
    if lab.run_dir != link:
        os.symlink(lab.run_dir, link)


def _agent_dir(lab):
    return os.path.join(lab.run_dir, "agents")


def _agent_files(lab, namespace):
    """Pid file and log of the agent of a netns (one agent per netns, and netns names are unique)."""
    base = os.path.join(_agent_dir(lab), namespace)
    return base + ".pid", base + ".log"


def start_agents(lab):
    """One agent per endpoint netns, started detached (setsid -f) and all at once; wait until all listen."""
    os.makedirs(_agent_dir(lab), exist_ok=True)
    commands = []
    logs = {}
    for name, (namespace, ips) in sorted(lab.agents().items()):
        pidfile, log = _agent_files(lab, namespace)
        argv = [sys.executable, "-I", AGENT, "--name", name, "--pidfile", pidfile]
        argv.extend("--ip=" + ip for ip in ips)
        for protocol, option in (("TCP", "--tcp"), ("UDP", "--udp")):
            if lab.ports.get(protocol):
                argv.append("%s=%s" % (option, ",".join(map(str, lab.ports[protocol]))))
        commands.append(["setsid", "-f", "sh", "-c", 'exec "$@" >"$0" 2>&1 </dev/null', log]
                        + netns.in_netns(namespace, argv))
        logs[pidfile] = log
    netns.run_all(commands)
    netns.wait_for_files(list(logs), READY_TIMEOUT, logs)


def agent_pidfiles(lab):
    return [_agent_files(lab, namespace)[0] for namespace, _ips in lab.agents().values()]


def wire(lab):
    netns.ip_batches({"": wiring.namespace_batch(lab)})
    netns.set_sysctls(wiring.sysctls(lab))
    netns.ip_batches(wiring.bridge_batches(lab))
    netns.ip_batches(wiring.link_batches(lab))


def up(scenario, scenario_path, ports, run_dir=None):
    """Build the lab for a loaded scenario; on any failure (or interrupt) remove what was built."""
    run = new_run_id()
    lab = plan_lab(scenario, scenario_path, run, _run_dir(run, run_dir), ports)
    _make_run_dir(lab)
    lab.save()
    try:
        wire(lab)
        sshd.prepare(lab)
        sshd.write_inventory(lab)
        sshd.start(lab)
        start_agents(lab)
        lab.status = "up"
        set_scenario(lab, scenario_path)
    except BaseException:
        down(lab)
        raise
    return lab


def set_scenario(lab, scenario_path):
    """Make a scenario the current one: a copy in the run dir, and its kubectl snapshot (what the enforce
    step reads), recorded in lab.json."""
    shutil.copyfile(scenario_path, lab.current_scenario)
    write_sources(load_scenario(scenario_path), lab.current_snapshot, lab.current_policies)
    lab.scenario = os.path.abspath(scenario_path)
    lab.save()


def _pids_from_files(paths, run_dir):
    """Pids of our own pid files, if the process still runs our command line (never a reused pid)."""
    pids = set()
    for path in paths:
        try:
            with open(path, encoding="utf-8") as handle:
                pid = int(handle.read().strip())
            with open("/proc/%d/cmdline" % pid, "rb") as handle:
                if run_dir.encode() in handle.read():
                    pids.add(pid)
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return pids


def down(lab):
    """Stop every process of the lab, delete its namespaces, remove its run dir."""
    existing = netns.namespaces()
    names = sorted(name for name in existing if name in lab.namespaces or name.startswith(lab.prefix))
    pids = netns.netns_pids(names) | _pids_from_files(sshd.pidfiles(lab) + agent_pidfiles(lab), lab.run_dir)
    netns.stop(pids)
    netns.delete_namespaces(names)
    remove_run_dir(lab.run, lab.run_dir)


def remove_run_dir(run, run_dir):
    link = os.path.join(STATE_ROOT, run)
    if os.path.islink(link):
        os.unlink(link)
    shutil.rmtree(run_dir, ignore_errors=True)


def find_runs(targets=()):
    """Run dirs for run ids or paths; with none, every run recorded under /tmp/netpol-lab."""
    if not targets:
        names = os.listdir(STATE_ROOT) if os.path.isdir(STATE_ROOT) else []
        targets = sorted(name for name in names
                         if RUN_PATTERN.match(name) and os.path.exists(os.path.join(STATE_ROOT, name, "lab.json")))
    runs = []
    for target in targets:
        path = os.path.join(STATE_ROOT, target) if RUN_PATTERN.match(target) else target
        if not os.path.exists(os.path.join(path, "lab.json")):
            raise LabError("%s: no lab.json, not a lab run (use down --all for leftovers)" % target)
        runs.append(os.path.realpath(path))
    return runs


def leftover_runs():
    """Run ids that still own a netns or a state dir, recorded or not (e.g. an `up` killed half way)."""
    runs = {match.group(1) for match in map(NETNS_PATTERN.match, netns.namespaces()) if match}
    if os.path.isdir(STATE_ROOT):
        runs.update(name for name in os.listdir(STATE_ROOT) if RUN_PATTERN.match(name))
    return sorted(runs)


def sweep_run(run):
    """Remove what a run left behind, found by its prefix alone: netns, the processes in them, its dir."""
    names = [name for name in netns.namespaces() if name.startswith(run + "-")]
    netns.stop(netns.netns_pids(names))
    netns.delete_namespaces(names)
    remove_run_dir(run, os.path.realpath(os.path.join(STATE_ROOT, run)))


def down_runs(targets=(), everything=False):
    """`netpol-lab down`: the named runs (or all recorded ones), then with everything=True the leftovers."""
    stopped = []
    for run_dir in find_runs(targets):
        lab = load_lab(run_dir)
        down(lab)
        stopped.append(lab.run)
    swept = leftover_runs() if everything else []
    for run in swept:
        sweep_run(run)
    return stopped, swept


def require_root():
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, sshd)")
