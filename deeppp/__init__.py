"""Shared infrastructure of the deeppp benchmark: configuration, provenance and atomic,
deterministic I/O.

Each pipeline stage (``generation``, ``reconstruction``, ``ml``, ``firmware``) is its own package;
this one holds only what every stage needs in exactly the same way.
"""

from __future__ import annotations

__version__ = "0.1.0"


class DeepppError(Exception):
    """An error the user can fix (bad config, bad input file, unwritable path).

    CLIs print it as one line and exit non-zero instead of showing a traceback.
    """


class CheckError(DeepppError):
    """An internal consistency check failed (two implementations that must agree do not, a
    physics invariant is broken): the output would be wrong, not merely unwanted.

    CLIs exit with :data:`deeppp.cli.CHECK_FAILED` instead of the usage-error code, so a
    workflow or a user can tell "fix your input" from "this result cannot be trusted".
    """
