"""What every stage CLI shares: one-line errors and a non-zero exit instead of tracebacks."""

from __future__ import annotations

import sys
from collections.abc import Callable

from deeppp import DeepppError

#: Exit status for user errors (bad config, bad input file, bad arguments), as argparse uses.
USAGE_ERROR = 2


def run_cli(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Run ``main(argv)``; print a :class:`DeepppError` as ``<prog>: error: <message>``."""
    try:
        return int(main(argv) or 0)
    except DeepppError as err:
        prog = sys.argv[0].rsplit("/", 1)[-1] if sys.argv and sys.argv[0] else "deeppp"
        print(f"{prog}: error: {err}", file=sys.stderr)
        return USAGE_ERROR
