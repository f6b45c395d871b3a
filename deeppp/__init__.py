"""Shared infrastructure of the deeppp benchmark: configuration, provenance and atomic, deterministic I/O.

Each pipeline stage (``generation``, ``reconstruction``, ``ml``, ``firmware``) is its own package;
this one holds only what every stage needs in exactly the same way.
"""

from __future__ import annotations

__version__ = "0.1.0"


class DeepppError(Exception):
    """An error the user can fix (bad config, bad input file, unwritable path).

    CLIs print it as one line and exit non-zero instead of showing a traceback.
    """
