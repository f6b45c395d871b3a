"""``python -m deeppp.report``: see :mod:`deeppp.report.cli`."""

from __future__ import annotations

import sys

from deeppp.cli import run_cli
from deeppp.report.cli import PROG, main

if __name__ == "__main__":
    sys.exit(run_cli(main, PROG))
