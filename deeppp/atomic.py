"""Atomic file writing: a crash never leaves a half-written file under its final name.

Everything is written to a temporary file in the destination directory (same filesystem, so the
final ``os.replace`` is atomic), flushed to disk (``fsync`` of the file, then of the directory
after the rename, so a power cut cannot leave an empty file under the final name) and renamed
only after the writer finished without error. The final file gets the permissions the process
umask allows (``0o666 & ~umask``), as ``open()`` would have given it.

Targets that are not regular files (a symlink, a FIFO, a device such as ``/dev/null``, a
directory) are refused instead of being silently replaced by a regular file.

Temporary names carry a tag, the host and the writer's process id
(``.<name>.deeppp-tmp-<host>-<pid>-<random><suffix>``). A writer killed with SIGKILL cannot
clean up; the next writer of the same file removes such leftovers, but only its own kind: a
tagged temporary of a process that no longer runs on this host, or one older than
:data:`STALE_SECONDS` (other hosts of a cluster). A concurrent writer's live temporary file and
unrelated dot-files are never touched.

Outputs that form a set (several files, or a directory) use :func:`atomic_outputs` and
:func:`atomic_directory`: every member is written to a temporary name first and swapped in only
when all of them were written.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import stat
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from deeppp import DeepppError

#: Marks deeppp's temporary files; nothing else is ever removed by the clean-up.
TEMP_TAG = "deeppp-tmp"
#: A tagged temporary file older than this (seconds) is stale whoever wrote it.
STALE_SECONDS = 24 * 3600

_HOST = re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname())[:32] or "host"


def _current_umask() -> int:
    # os.umask can only be read by setting it; restore immediately.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _describe_kind(mode: int) -> str | None:
    """None for a regular file, else what the path is (for the refusal message)."""
    if stat.S_ISREG(mode):
        return None
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def check_target(final: Path) -> None:
    """Refuse to replace anything but a regular file (or nothing)."""
    try:
        mode = os.lstat(final).st_mode
    except FileNotFoundError:
        return
    except OSError as err:
        raise DeepppError(f"cannot write {final}: {err.strerror or err}") from err
    kind = _describe_kind(mode)
    if kind is not None:
        raise DeepppError(f"refusing to write {final}: it is {kind}, not a regular file")


def _temp_prefix(final: Path) -> str:
    return f".{final.name}.{TEMP_TAG}-"


def _is_stale(path: Path, now: float) -> bool:
    """A tagged temporary whose writer is gone (same host) or that is older than a day."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if now - info.st_mtime > STALE_SECONDS:
        return True
    match = re.search(rf"\.{TEMP_TAG}-(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)-", path.name)
    if match is None or match["host"] != _HOST:
        return False
    pid = int(match["pid"])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's process
    return False


def remove_stale_temporaries(final: Path) -> None:
    """Remove leftovers of killed writers of ``final`` (see the module docstring)."""
    now = time.time()
    prefix = _temp_prefix(final)
    try:
        candidates = [p for p in final.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return
    for path in candidates:
        if _is_stale(path, now):
            with contextlib.suppress(OSError):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()


def _new_temp_name(final: Path, suffix: str) -> Path:
    token = secrets.token_hex(4)
    return final.parent / f"{_temp_prefix(final)}{_HOST}-{os.getpid()}-{token}{suffix}"


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (no-op where directories cannot be fsynced)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _prepare(final_path: str | os.PathLike[str]) -> Path:
    final = Path(final_path)
    if not final.name:
        raise DeepppError(f"cannot write {final_path!s}: not a file path")
    parent = final.parent if str(final.parent) else Path(".")
    final = parent / final.name
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DeepppError(f"cannot write {final}: {err.strerror or err}") from err
    check_target(final)
    remove_stale_temporaries(final)
    return final


def _finish_file(tmp: Path, final: Path) -> None:
    """fsync, set the umask permissions, re-check the target and rename into place."""
    _fsync_path(tmp)
    os.chmod(tmp, 0o666 & ~_current_umask())
    check_target(final)  # it may have become a symlink/FIFO while we wrote
    os.replace(tmp, final)


@contextlib.contextmanager
def atomic_path(final_path: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``final_path``; rename it into place on success.

    On any exception the temporary file is removed and nothing appears under ``final_path``
    (an existing file there is left as it was). ``suffix`` defaults to the final file's suffix
    because some writers (uproot, matplotlib) choose the format from it.
    """
    with atomic_outputs([final_path], suffixes=[suffix]) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_outputs(
    final_paths: Sequence[str | os.PathLike[str]],
    suffixes: Sequence[str | None] | None = None,
) -> Iterator[list[Path]]:
    """Yield one temporary path per output; all are renamed into place only if the block ends
    without error, in the order given (put the file the workflow waits for last).

    If the block fails, none of the outputs is replaced: a set of files that belong together
    (dataset splits; model, metrics and history; a study's JSON and its figures) never mixes
    old and new members.
    """
    finals = [_prepare(p) for p in final_paths]
    if len({f.resolve() for f in finals}) != len(finals):
        raise DeepppError(f"the same output is named twice: {[str(f) for f in finals]}")
    suffixes = list(suffixes) if suffixes is not None else [None] * len(finals)
    temps: list[Path] = []
    try:
        for final, suffix in zip(finals, suffixes, strict=True):
            tmp = _new_temp_name(final, final.suffix if suffix is None else suffix)
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except OSError as err:
                raise DeepppError(f"cannot write {final}: {err.strerror or err}") from err
            os.close(fd)
            temps.append(tmp)
        yield list(temps)
        for tmp, final in zip(temps, finals, strict=True):
            _finish_file(tmp, final)
        for directory in {f.parent for f in finals}:
            fsync_directory(directory)
    except BaseException:
        for tmp in temps:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_directory(final_dir: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a fresh temporary directory next to ``final_dir``; swap it in on success.

    The previous ``final_dir`` (if any) is moved aside, the new one renamed into place and the
    old one deleted, so readers see either the old or the new directory, never a mixture. On
    failure the temporary directory is deleted and ``final_dir`` is untouched. ``final_dir``
    must be a directory (or absent): a file or symlink there is refused.
    """
    final = Path(final_dir)
    parent = final.parent if str(final.parent) else Path(".")
    final = parent / final.name
    try:
        parent.mkdir(parents=True, exist_ok=True)
        mode = os.lstat(final).st_mode if os.path.lexists(final) else None
    except OSError as err:
        raise DeepppError(f"cannot write {final}: {err.strerror or err}") from err
    if mode is not None and not stat.S_ISDIR(mode):
        raise DeepppError(f"refusing to replace {final}: it is {_describe_kind(mode)}")
    remove_stale_temporaries(final)
    tmp = _new_temp_name(final, "")
    try:
        tmp.mkdir(mode=0o777)
    except OSError as err:
        raise DeepppError(f"cannot write {final}: {err.strerror or err}") from err
    try:
        yield tmp
        old = _new_temp_name(final, ".old") if mode is not None else None
        if old is not None:
            os.replace(final, old)
        os.replace(tmp, final)
        fsync_directory(parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_text_atomic(final_path: str | os.PathLike[str], text: str) -> None:
    with atomic_path(final_path) as tmp:
        tmp.write_text(text)


def write_json_atomic(final_path: str | os.PathLike[str], payload: Any) -> None:
    """Write JSON with sorted keys and a trailing newline, so equal content gives equal bytes.

    Non-finite floats are refused: JSON has no NaN or Infinity (Python's ``json`` would write
    invalid JSON), and a writer must say what an infinite value means (e.g. ``null`` plus a
    count) rather than leave it to the reader.
    """
    try:
        text = json.dumps(payload, indent=2, sort_keys=True, default=_jsonable, allow_nan=False)
    except ValueError as err:
        raise DeepppError(
            f"cannot write {final_path}: {err} (NaN or infinity in the data)"
        ) from err
    write_text_atomic(final_path, text + "\n")


def _jsonable(value: Any) -> Any:
    """Let numpy scalars/arrays and paths pass through ``json.dumps``."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def refuse_overwriting_inputs(
    output: str | os.PathLike[str], inputs: Sequence[str | os.PathLike[str] | None]
) -> None:
    """Refuse an output path that names one of the inputs (same path, or the same file through
    a hard link): the final rename would replace the input with the output."""
    out = Path(output)
    for source in inputs:
        if source is None:
            continue
        src = Path(source)
        same = out.resolve() == src.resolve()
        if not same and out.exists() and src.exists():
            with contextlib.suppress(OSError):
                same = os.path.samefile(out, src)
        if same:
            raise DeepppError(f"refusing to write {out}: it is the input {src}")
