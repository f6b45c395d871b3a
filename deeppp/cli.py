"""What every stage CLI shares: one-line errors and a non-zero exit instead of tracebacks."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

from deeppp import CheckError, DeepppError


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``prog: error: ... (see --help)``), like ours."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message} (see --help)\n")


#: Exit status for user errors (bad config, bad input file, bad arguments), as argparse uses.
USAGE_ERROR = 2
#: Exit status when an internal check failed (:class:`deeppp.CheckError`): the result is wrong.
CHECK_FAILED = 3
#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130
#: Exit status after SIGTERM (128 + SIGTERM): Slurm, Snakemake or ``kill`` stopped the job.
TERMINATED = 143


class _Terminated(BaseException):
    """Raised by the SIGTERM handler, so that ``finally`` blocks (the atomic writers' clean-up
    of their temporary files) run before the process exits."""


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return

    def handler(signum: int, frame: object) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_cli(
    main: Callable[[list[str] | None], int | None],
    prog: str | None = None,
    argv: list[str] | None = None,
) -> int:
    """Run ``main(argv)``; every expected failure becomes one line on stderr and an exit code.

    - :class:`deeppp.CheckError` (an internal check failed): ``<prog>: check failed: ...``,
      exit :data:`CHECK_FAILED`;
    - any other :class:`DeepppError` (bad config, input or arguments): ``<prog>: error: ...``,
      exit :data:`USAGE_ERROR`;
    - Ctrl-C: ``<prog>: interrupted``, exit :data:`INTERRUPTED`, no traceback (outputs are
      written atomically, so nothing half-written is left under a final name);
    - SIGTERM: ``<prog>: terminated``, exit :data:`TERMINATED`, after the writers removed their
      temporary files (the default action would kill the process on the spot and leave them).

    ``prog`` should match the argparse ``prog`` so both kinds of error read the same; by default
    it is ``python -m <package>`` for a package's ``__main__``. Anything else is a bug and keeps
    its traceback.
    """
    name = prog or _default_prog()
    try:
        with _sigterm_unwinds():
            return int(main(argv) or 0)
    except _Terminated:
        print(f"{name}: terminated", file=sys.stderr)
        return TERMINATED
    except CheckError as err:
        print(f"{name}: check failed: {_one_line(err)}", file=sys.stderr)
        return CHECK_FAILED
    except DeepppError as err:
        print(f"{name}: error: {_one_line(err)}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return INTERRUPTED


def _one_line(err: BaseException) -> str:
    """The message on one line (a multi-line message would break log parsing)."""
    return " ".join(str(err).split()) or type(err).__name__


def _default_prog() -> str:
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path("deeppp")
    return f"python -m {script.parent.name}" if script.name == "__main__.py" else script.name
