"""Generate one chunk of events with Pythia 8 and write it as a ROOT file.

Events come from ``pythia.nextBatch`` in batches (columnar, no Python loop over particles); each
batch is reduced at once to the final state plus the truth downstream stages need, so memory
stays flat for large chunks.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
from tqdm import tqdm

from deeppp import DeepppError
from deeppp.contracts import EVENTS_TREE
from deeppp.provenance import provenance
from deeppp.rootio import write_root
from generation.events import SpeciesTable, extract, signal_vetoed
from generation.settings import pythia_settings

#: Events per ``nextBatch`` call: large enough that the Python overhead per batch is negligible,
#: small enough that the full (all-particle) record of one batch stays well below 100 MB.
BATCH_SIZE = 100
#: Consecutive batches without a single event after which Pythia is taken to have given up (its
#: ``next()`` fails for every event, e.g. an impossible ``Check:epTolErr``); one empty batch of
#: the last few events could be bad luck.
MAX_EMPTY_BATCHES = 3


@dataclass(frozen=True)
class GenerationSummary:
    """What a chunk run produced; the same numbers are stored in the file's provenance."""

    path: Path
    process: str
    n_events: int
    n_vetoed: int
    n_tried: int
    n_accepted: int
    sigma_gen_mb: float
    sigma_err_mb: float

    @property
    def vetoed_fraction(self) -> float:
        """Fraction of Pythia-accepted events rejected by the c g -> H c veto."""
        total = self.n_events + self.n_vetoed
        return self.n_vetoed / total if total else 0.0


def make_pythia(settings: list[str]) -> Any:
    """A configured, initialised Pythia; a setting Pythia rejects is a :class:`DeepppError`."""
    import pythia8mc

    with _captured_stdout() as captured:
        pythia = pythia8mc.Pythia("", False)
        rejected = [s for s in settings if not pythia.readString(s)]
        initialised = not rejected and pythia.init()
        reason = _first_pythia_error(captured.read_text())
    if rejected:
        raise DeepppError(
            f"Pythia rejected setting {rejected[0]!r}" + (f" ({reason})" if reason else "")
        )
    if not initialised:
        raise DeepppError("Pythia initialisation failed" + (f": {reason}" if reason else ""))
    return pythia


def generate_chunk(
    process: str,
    n_events: int,
    seed: int,
    out_path: str | os.PathLike[str],
    generation_config: dict[str, Any],
    *,
    chunk: int = 0,
    full_config: dict[str, Any] | None = None,
    progress: bool = True,
) -> GenerationSummary:
    """Generate ``n_events`` accepted events of ``process`` and write them to ``out_path``.

    For the signal, c g -> H c events are vetoed and replaced, so the file always holds exactly
    ``n_events`` b g -> H b events; the number vetoed is recorded.
    """
    if n_events <= 0:
        raise DeepppError(f"number of events must be positive, got {n_events}")
    out_path = Path(out_path)
    _check_writable(out_path)
    settings = pythia_settings(process, seed, generation_config)
    pythia = make_pythia(settings)
    species = SpeciesTable(pythia.particleData)

    pieces: list[dict[str, ak.Array]] = []
    n_kept = n_vetoed = empty_batches = 0
    with tqdm(
        total=n_events,
        unit="ev",
        desc=f"{process} chunk {chunk}",
        disable=not progress,
        mininterval=2.0,
    ) as bar:
        while n_kept < n_events:
            batch = pythia.nextBatch(min(BATCH_SIZE, n_events - n_kept))
            if len(batch) == 0:
                empty_batches += 1
                if empty_batches >= MAX_EMPTY_BATCHES:
                    info = pythia.infoPython()
                    raise DeepppError(
                        f"Pythia gave up: no event accepted in {int(info.nTried())} tries "
                        "(its reason is on standard output, e.g. 'PYTHIA Abort from Pythia::next')"
                    )
                continue
            empty_batches = 0
            collections = extract(batch, species)
            if process == "signal":
                # veto on the reduced collections: slicing the full record would copy it
                keep = ~signal_vetoed(batch)
                n_vetoed += int((~keep).sum())
                collections = {name: values[keep] for name, values in collections.items()}
            n_new = len(collections["particles"])
            if n_new:
                pieces.append(collections)
                n_kept += n_new
                bar.update(n_new)

    collections = {name: ak.concatenate([p[name] for p in pieces]) for name in pieces[0]}
    info = pythia.infoPython()
    summary = GenerationSummary(
        path=out_path,
        process=process,
        n_events=n_kept,
        n_vetoed=n_vetoed,
        n_tried=int(info.nTried()),
        n_accepted=int(info.nAccepted()),
        sigma_gen_mb=float(info.sigmaGen()),
        sigma_err_mb=float(info.sigmaErr()),
    )
    record = provenance(
        "generation",
        full_config,
        seed,
        process=process,
        chunk=chunk,
        n_events=summary.n_events,
        n_vetoed=summary.n_vetoed,
        vetoed_fraction=summary.vetoed_fraction,
        n_tried=summary.n_tried,
        n_accepted=summary.n_accepted,
        sigma_gen_mb=summary.sigma_gen_mb,
        sigma_err_mb=summary.sigma_err_mb,
        pythia_version=f"{pythia.settings.parm('Pythia:versionNumber'):.3f}",
        settings=settings,
        changed_settings=_changed_settings(pythia),
    )
    tree = {"event_number": np.arange(n_kept, dtype=np.int64), **collections}
    write_root(out_path, {EVENTS_TREE: tree}, record)
    return summary


def _check_writable(out_path: Path) -> None:
    """Fail before minutes of generation rather than at the final write."""
    parent = out_path.parent if str(out_path.parent) else Path(".")
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise DeepppError(f"cannot write {out_path}: {probe} is not a writable directory")
    if out_path.is_dir():
        raise DeepppError(f"cannot write {out_path}: it is a directory")


def _changed_settings(pythia: Any) -> list[str]:
    """Every setting that differs from Pythia's default, as Pythia itself lists them."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "changed.cmnd")
        pythia.settings.writeFile(str(path), False)
        lines = path.read_text().splitlines()
    return [line for line in lines if line and not line.startswith("!")]


def _first_pythia_error(text: str) -> str:
    """Pythia's own explanation, e.g. 'input string not found in settings databases'."""
    for line in text.splitlines():
        if "PYTHIA Error" in line or "PYTHIA Abort" in line:
            return line.split(":", 1)[-1].strip().rstrip(":")
    return ""


@contextlib.contextmanager
def _captured_stdout() -> Iterator[Path]:
    """Pythia prints from C++ straight to file descriptor 1. Capture it while Pythia reads its
    settings, so a rejected setting becomes one clear line instead of a multi-line listing."""
    with tempfile.TemporaryDirectory() as tmp:
        capture = Path(tmp, "pythia-init.log")
        sys.stdout.flush()
        saved = os.dup(1)
        with open(capture, "wb") as sink:
            os.dup2(sink.fileno(), 1)
            try:
                yield capture
            finally:
                sys.stdout.flush()
                os.dup2(saved, 1)
                os.close(saved)
