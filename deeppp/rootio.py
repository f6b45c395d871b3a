"""Deterministic, atomic ROOT I/O on top of uproot, with input validation.

uproot stamps every file with the wall-clock time (TFile/TKey/TTree ``fDatime``) and a random
``uuid1``; both are replaced here by fixed values derived from the file content's provenance, so
the same inputs and seed give byte-identical ROOT files. The provenance record is stored as a
JSON ``TObjString`` named ``provenance`` that ROOT itself can read.
"""

from __future__ import annotations

import contextlib
import datetime as _real_datetime
import hashlib
import json
import os
import struct
import uuid
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import awkward as ak
import numpy as np
import uproot

from deeppp import DeepppError
from deeppp.atomic import atomic_path
from deeppp.contracts import PROVENANCE_KEY

#: ROOT's own epoch for TDatime is 1995; any fixed moment works, this one is easy to recognise.
_FIXED_MOMENT = _real_datetime.datetime(2000, 1, 1, 0, 0, 0)


class InputFileError(DeepppError):
    """An input file is missing, truncated, or does not follow the expected schema."""


class _FixedDatetime(_real_datetime.datetime):
    @classmethod
    def now(cls, tz: _real_datetime.tzinfo | None = None) -> _real_datetime.datetime:  # type: ignore[override]
        return _FIXED_MOMENT


class _FixedDatetimeModule:
    """Stands in for the ``datetime`` module inside uproot's writers."""

    datetime = _FixedDatetime

    def __getattr__(self, name: str) -> Any:
        return getattr(_real_datetime, name)


@contextlib.contextmanager
def _frozen_uproot_clock() -> Iterator[None]:
    import uproot.writing._cascade as cascade
    import uproot.writing._cascadentuple as cascadentuple
    import uproot.writing._cascadetree as cascadetree
    import uproot.writing.writable as writable

    fake = _FixedDatetimeModule()
    with contextlib.ExitStack() as stack:
        for module in (cascade, cascadetree, cascadentuple, writable):
            stack.enter_context(mock.patch.object(module, "datetime", fake))
        yield


def write_root(
    path: str | os.PathLike[str],
    trees: Mapping[str, Mapping[str, Any]],
    provenance: Mapping[str, Any],
    *,
    compression_level: int = 1,
    atomic: bool = True,
) -> None:
    """Write ``trees`` (name -> {branch: array}) and ``provenance`` to ``path`` atomically.

    Jagged collections should be given as ``ak.zip`` records so they share one counter branch
    (``n<collection>``) and the file stays readable by ROOT. Empty trees are allowed.
    ``atomic=False`` writes straight to ``path``: for a temporary path handed out by
    :func:`deeppp.atomic.atomic_outputs`, which renames a whole set of files at once.
    """
    provenance_json = json.dumps(provenance, sort_keys=True, default=_jsonable)
    digest = hashlib.sha256(provenance_json.encode()).digest()
    counter = iter(range(1 << 30))

    def deterministic_uuid() -> uuid.UUID:
        # One UUID per directory/file, reproducible for identical provenance.
        return uuid.UUID(
            bytes=hashlib.sha256(digest + next(counter).to_bytes(4, "little")).digest()[:16]
        )

    # uproot stores the path it was given in the TFile header; handing it an open file object
    # keeps the random temporary name out of the bytes.
    with (
        atomic_path(path) if atomic else contextlib.nullcontext(Path(path)) as tmp,
        _frozen_uproot_clock(),
        open(tmp, "w+b") as sink,
        uproot.recreate(
            sink, uuid_function=deterministic_uuid, compression=uproot.ZLIB(compression_level)
        ) as out,
    ):
        out[PROVENANCE_KEY] = provenance_json
        for name, branches in trees.items():
            # Explicit TTree (uproot >= 5.7 would write an RNTuple on plain assignment).
            arrays = {key: _as_array(value) for key, value in branches.items()}
            tree = out.mktree(name, {key: _branch_type(value) for key, value in arrays.items()})
            tree.extend(arrays)


def read_provenance(path: str | os.PathLike[str]) -> dict[str, Any]:
    with open_root(path) as f:
        return provenance_of(f, path)


def provenance_of(f: uproot.ReadOnlyDirectory, path: str | os.PathLike[str]) -> dict[str, Any]:
    """The provenance record of an open file: a JSON object, else :class:`InputFileError`."""
    try:
        if PROVENANCE_KEY not in f:
            raise InputFileError(f"{path}: no '{PROVENANCE_KEY}' record (not written by deeppp?)")
        record = json.loads(str(f[PROVENANCE_KEY]))
    except InputFileError:
        raise
    except Exception as err:  # truncated file, or a record that is not JSON
        raise InputFileError(
            f"{path}: unreadable '{PROVENANCE_KEY}' record ({_reason(err)})"
        ) from err
    if not isinstance(record, dict):
        raise InputFileError(f"{path}: '{PROVENANCE_KEY}' record is not a JSON object")
    return record


#: What uproot raises when the bytes it reads are not what the file's own index promised: a
#: truncated file ("expected Chunk of length N, received M bytes"), a garbled basket or streamer.
DAMAGED_FILE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    zlib.error,
    struct.error,
    uproot.deserialization.DeserializationError,
)


@contextlib.contextmanager
def open_root(path: str | os.PathLike[str]) -> Iterator[uproot.ReadOnlyDirectory]:
    """Open a ROOT file, turning every low-level failure into an error that names the file.

    uproot reads lazily: a file truncated after its header opens fine and fails only when a tree
    or record is read, so reading errors inside the ``with`` block are reported the same way
    (only read inside it: an OSError there is taken for a damaged input).
    """
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"{p}: input file does not exist")
    if not p.is_file():
        raise InputFileError(f"{p}: not a regular file (a directory?)")
    try:
        f = uproot.open(p)
    except Exception as err:  # uproot raises many types for truncated/garbage files
        raise InputFileError(f"{p}: not a readable ROOT file ({_reason(err)})") from err
    try:
        yield f
    except DAMAGED_FILE_ERRORS as err:
        raise InputFileError(f"{p}: damaged or truncated ROOT file ({_reason(err)})") from err
    finally:
        f.close()


def _reason(err: BaseException) -> str:
    """``Type: message`` on one line, shortened (uproot's messages span several lines)."""
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:200]}"


def read_tree(
    path: str | os.PathLike[str],
    tree: str,
    required: Sequence[str],
    *,
    filter_name: Sequence[str] | None = None,
) -> ak.Array:
    """Read ``tree`` from ``path`` as an awkward record array, checking the schema first.

    ``required`` lists branch names (or ``collection_field`` names of zipped collections) that
    must exist. Missing tree/branches and truncated baskets raise :class:`InputFileError`.
    """
    with open_root(path) as f:
        if tree not in f:
            raise InputFileError(
                f"{path}: no tree '{tree}' (wrong schema; keys: {sorted(f.keys(cycle=False))})"
            )
        try:
            t = f[tree]
            available = set(t.keys())
        except Exception as err:
            raise InputFileError(f"{path}: cannot read tree '{tree}' ({_reason(err)})") from err
        missing = [b for b in required if b not in available]
        if missing:
            raise InputFileError(f"{path}: tree '{tree}' lacks branches {missing} (wrong schema)")
        try:
            return t.arrays(filter_name=list(filter_name) if filter_name is not None else None)
        except Exception as err:
            raise InputFileError(f"{path}: cannot read tree '{tree}' ({_reason(err)})") from err


def _as_array(value: Any) -> Any:
    return value if isinstance(value, ak.Array) else np.asarray(value)


def _branch_type(value: Any) -> Any:
    if isinstance(value, ak.Array):
        return value.type.content
    return value.dtype


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
