"""`netpol-lab probe`: one lab for a list of scenarios; for each, enforce, then probe.

The enforce step is a hook, `enforce(lab) -> {node: changed}`, called after the scenario became
current (copied to <run-dir>/scenario.yaml, its policies written as <run-dir>/policies.json and its
cluster as the kubectl snapshot <run-dir>/snapshot.json) and before its probes are sent.
The lab is rebuilt only when a scenario needs other nodes, pods, externals or addresses, and
it is always torn down, on success, error or interrupt.
"""

import sys

from netpol_lab.scenario import load_scenario
from netpol_lab import lab as lab_life
from netpol_lab.prober import probe
from netpol_lab.topology import probed_ports, topology_key


def skip_enforce(lab):
    """The hook for --no-enforce: nothing is enforced, so every pair should be allowed."""
    return {}


def probe_scenarios(paths, enforce=skip_enforce, run_dir=None, log=None):
    """The observed table of each scenario, in order. Every scenario is validated before any lab exists.

    log: where progress lines go (default stderr).
    """
    log = log or sys.stderr
    scenarios = [load_scenario(path) for path in paths]
    ports = probed_ports(scenarios)
    lab = None
    tables = []
    try:
        for path, scenario in zip(paths, scenarios):
            if lab is None or lab.key != topology_key(scenario):
                if lab is not None:
                    print("netpol-lab: %s needs another topology: rebuilding the lab" % path, file=log)
                    lab_life.down(lab)
                    print("netpol-lab: lab %s down" % lab.run, file=log)
                    lab = None
                lab = lab_life.up(scenario, path, ports, run_dir)
                print("netpol-lab: lab %s up for %s (%s)" % (lab.run, path, lab.run_dir), file=log)
            lab_life.set_scenario(lab, path)
            changed = enforce(lab)
            if changed:
                print("netpol-lab: %s enforced; changed: %s" % (path, ", ".join(
                    node for node, flag in sorted(changed.items()) if flag) or "nothing"), file=log)
            table = probe(lab, scenario, path)
            if changed:
                table["converge"] = {node: {"changed": flag} for node, flag in sorted(changed.items())}
            tables.append(table)
    finally:
        if lab is not None:
            lab_life.down(lab)
            print("netpol-lab: lab %s down" % lab.run, file=log)
    return tables
