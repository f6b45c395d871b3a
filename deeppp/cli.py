"""What every stage CLI shares: one-line errors and a non-zero exit instead of tracebacks."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from deeppp import DeepppError


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``prog: error: ... (see --help)``), like ours."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message} (see --help)\n")


#: Exit status for user errors (bad config, bad input file, bad arguments), as argparse uses.
USAGE_ERROR = 2


def run_cli(
    main: Callable[[list[str] | None], int | None],
    prog: str | None = None,
    argv: list[str] | None = None,
) -> int:
    """Run ``main(argv)``; print a :class:`DeepppError` as ``<prog>: error: <message>``.

    ``prog`` should match the argparse ``prog`` so both kinds of error read the same; by default
    it is ``python -m <package>`` for a package's ``__main__``.
    """
    try:
        return int(main(argv) or 0)
    except DeepppError as err:
        print(f"{prog or _default_prog()}: error: {err}", file=sys.stderr)
        return USAGE_ERROR


def _default_prog() -> str:
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path("deeppp")
    return f"python -m {script.parent.name}" if script.name == "__main__.py" else script.name
