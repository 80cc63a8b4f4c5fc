"""Entry point of `python -m netpol_lab` (what tests/lab/netpol-lab runs)."""

import sys

from netpol_lab.cli import main

sys.exit(main())
