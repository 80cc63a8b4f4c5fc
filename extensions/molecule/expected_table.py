# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Print the table a scenario's hand-written `expected` section describes, as JSON.

verify.yml compares the lab's real packets with it. The rows come from the scenario's
endpoints and probes alone (tests/lab/netpol_lab/expected.py), never from the engine, so a
row the engine and the lab both get wrong is still caught. Exit 2: no `expected` section.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

LAB_DIR = Path(__file__).resolve().parents[2] / "tests" / "lab"
if str(LAB_DIR) not in sys.path:
    sys.path.insert(0, str(LAB_DIR))

from netpol_lab.scenario import load_scenario  # noqa: E402  (tests/lab is not on the default path)
from netpol_lab.expected import parse_expected, probed_rows  # noqa: E402  (tests/lab is not on the default path)


def main(argv):
    if len(argv) != 2:
        print("usage: expected_table.py SCENARIO", file=sys.stderr)
        return 2
    scenario = load_scenario(argv[1])
    if scenario.expected is None:
        print("%s has no expected section" % argv[1], file=sys.stderr)
        return 2
    rows = probed_rows(scenario)
    expectation = parse_expected(scenario.expected)
    unused = expectation.unused_lines(rows)
    if unused:
        print("expected lines that match no row: %s" % "; ".join(unused), file=sys.stderr)
        return 2
    print(json.dumps(expectation.table(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
