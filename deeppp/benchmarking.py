"""Helpers shared by the scripts in benchmarks/."""

from __future__ import annotations

import resource
import subprocess


def child_peak_rss_mb(command: list[str]) -> float:
    """Run ``command`` to completion and return its peak resident memory in MB.

    Uses the kernel's high-water mark over finished children (``RUSAGE_CHILDREN``), so call it
    before any other child process of the same benchmark has run: the mark never goes down.
    """
    subprocess.run(command, check=True)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0  # kB on Linux
