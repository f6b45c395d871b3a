"""Atomic file writing: a crash never leaves a half-written file under its final name.

Everything is written to a temporary file in the destination directory (same filesystem, so the
final ``os.replace`` is atomic) and renamed only after the writer finished without error.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from deeppp import DeepppError


@contextlib.contextmanager
def atomic_path(final_path: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``final_path``; rename it into place on success.

    On any exception the temporary file is removed and nothing appears under ``final_path``.
    ``suffix`` defaults to the final file's suffix because some writers (uproot, matplotlib)
    choose the format from it.
    """
    final = Path(final_path)
    parent = final.parent if str(final.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        # A writer killed with SIGKILL cannot clean up; its leftovers carry our prefix.
        for stale in parent.glob(f".{glob.escape(final.name)}.*"):
            stale.unlink(missing_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{final.name}.", suffix=final.suffix if suffix is None else suffix, dir=parent
        )
    except OSError as err:
        raise DeepppError(f"cannot write {final}: {err.strerror or err}") from err
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(final_path: str | os.PathLike[str], text: str) -> None:
    with atomic_path(final_path) as tmp:
        tmp.write_text(text)


def write_json_atomic(final_path: str | os.PathLike[str], payload: Any) -> None:
    """Write JSON with sorted keys and a trailing newline, so equal content gives equal bytes."""
    write_text_atomic(
        final_path, json.dumps(payload, indent=2, sort_keys=True, default=_jsonable) + "\n"
    )


def _jsonable(value: Any) -> Any:
    """Let numpy scalars/arrays and paths pass through ``json.dumps``."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
