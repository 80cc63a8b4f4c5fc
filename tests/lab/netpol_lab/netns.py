"""Commands in network namespaces, run in parallel, and the processes that live in them."""

import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from netpol_lab.topology import LabError

RUN_NETNS = "/run/netns"


def run_all(commands, inputs=None):
    """Run every argv at once and return their outputs; LabError naming each one that failed.

    inputs: stdin text per command. Each process is fed and read by its own thread, so none waits
    for another one's input.
    """
    inputs = inputs or [None] * len(commands)
    processes = [subprocess.Popen(argv, stdin=subprocess.PIPE if text is not None else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for argv, text in zip(commands, inputs)]
    with ThreadPoolExecutor(max_workers=max(1, len(processes))) as pool:
        results = list(pool.map(lambda pair: pair[0].communicate(pair[1]), zip(processes, inputs)))
    failures = ["%s: exit %d: %s" % (" ".join(argv[:6]), process.returncode, err.strip())
                for argv, process, (_out, err) in zip(commands, processes, results) if process.returncode != 0]
    if failures:
        raise LabError("\n".join(failures))
    return [out for out, _err in results]


def ip_batches(batches):
    """netns -> `ip` batch lines ("" for the root namespace); all namespaces at once."""
    commands = [["ip", "-batch", "-"] if not netns else ["ip", "-n", netns, "-batch", "-"] for netns in batches]
    run_all(commands, ["\n".join(lines) + "\n" for lines in batches.values()])


def set_sysctls(settings):
    """netns -> ["key=value", ...]."""
    run_all([["ip", "netns", "exec", netns, "sysctl", "-q", "-w"] + values for netns, values in settings.items()])


def in_netns(netns, argv):
    return ["ip", "netns", "exec", netns] + list(argv)


def namespaces():
    """Names of every named netns on this machine."""
    try:
        return sorted(os.listdir(RUN_NETNS))
    except FileNotFoundError:
        return []


def netns_pids(names):
    """Pids of every process that lives in one of these namespaces."""
    if not names:
        return set()
    outputs = run_all([["ip", "netns", "pids", name] for name in names])
    return {int(pid) for output in outputs for pid in output.split()}


def running(pid):
    """Alive and not a zombie (a zombie waits for its parent and holds nothing)."""
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def stop(pids, grace=2.0):
    """SIGTERM, then SIGKILL for whatever still runs after the grace period."""
    pids = {pid for pid in pids if pid != os.getpid()}
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            pids = {pid for pid in pids if running(pid)}
            if not pids:
                return
            time.sleep(0.02)
    if pids:
        raise LabError("processes %s did not stop" % ", ".join(map(str, sorted(pids))))


def delete_namespaces(names):
    existing = set(namespaces())
    lines = ["netns delete %s" % name for name in names if name in existing]
    if lines:
        ip_batches({"": lines})


def wait_for_files(paths, timeout, logs):
    """Wait until every path exists (a pid file written once the process listens); LabError with its log otherwise."""
    deadline = time.monotonic() + timeout
    missing = list(paths)
    while missing and time.monotonic() < deadline:
        missing = [path for path in missing if not os.path.exists(path)]
        if missing:
            time.sleep(0.01)
    if missing:
        details = []
        for path in missing:
            log = logs.get(path, "")
            text = open(log, encoding="utf-8", errors="replace").read()[-2000:] if log and os.path.exists(log) else ""
            details.append("%s did not appear within %.0f s%s" % (path, timeout, (": " + text.strip()) if text else ""))
        raise LabError("\n".join(details))
