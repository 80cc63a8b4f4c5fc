"""`netpol-lab observe RUN`: the observed table of a lab that is already up, for its current scenario.

`probe` owns its lab from up to down; a tool that brings the lab up and enforces on its own
(Molecule's create and converge steps) needs the same real-packet table from the running lab,
with nothing built, enforced or torn down.
"""

from netpol_lab.scenario import load_scenario
from netpol_lab.lab import find_runs
from netpol_lab.prober import probe
from netpol_lab.topology import LabError, load_lab, topology_key


def observe(run):
    """The table of the run's current scenario (run id or run dir), in the shape `netpol-lab truth` prints."""
    lab = load_lab(find_runs([run])[0])
    if lab.status != "up":
        raise LabError("lab %s is %s, not up" % (lab.run, lab.status))
    scenario = load_scenario(lab.current_scenario)
    if topology_key(scenario) != lab.key:
        raise LabError("lab %s was not built for its current scenario %s" % (lab.run, lab.current_scenario))
    return probe(lab, scenario, lab.scenario)
