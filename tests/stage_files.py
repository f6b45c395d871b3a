"""Tiny stage files for the hostile-input and merge tests: events and features files that follow
the contracts of docs/data_contracts.md (written with deeppp.rootio like the real ones, in
milliseconds, without Pythia), and damaged copies of any deeppp ROOT file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

from deeppp.contracts import EVENTS_TREE, JETS_TREE, PROCESS_LABEL, PROVENANCE_KEY
from deeppp.provenance import provenance
from deeppp.rootio import write_root
from reconstruction import features
from reconstruction.detector import load_detector_card
from reconstruction.pipeline import JET_BRANCH_TYPES

PARTICLE_FIELDS = ("px", "py", "pz", "e", "pid", "charge", "vx", "vy", "vz")
TRUTH_FIELDS = ("px", "py", "pz", "e", "pid", "role")
HADRON_FIELDS = ("px", "py", "pz", "e", "pid", "vx", "vy", "vz", "dx", "dy", "dz")


def write_events(
    path: Path,
    process: str = "background",
    chunk: int = 0,
    n_events: int = 4,
    seed: int = 1,
    raw_provenance: str | None = None,
    with_record: bool = True,
) -> Path:
    """Particle-level events: two back-to-back sprays of pions and photons per event (two
    large-R jets above 250 GeV each), no truth. Enough for ``reconstruction run`` to succeed.
    ``raw_provenance`` replaces the JSON provenance record by any string; ``with_record=False``
    leaves it out (a file written by another tool)."""
    rng = np.random.default_rng(seed)
    per_event: list[dict[str, np.ndarray]] = []
    n = 12
    for _ in range(n_events):
        axis = rng.uniform(-np.pi, np.pi)
        phi = np.concatenate([axis + rng.normal(0, 0.1, n), axis + np.pi + rng.normal(0, 0.1, n)])
        eta = rng.normal(0, 0.1, 2 * n)
        pt = rng.uniform(20, 60, 2 * n)
        px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
        pid = np.where(np.arange(2 * n) % 2 == 0, 211, 22)
        per_event.append(
            {
                "px": px,
                "py": py,
                "pz": pz,
                "e": np.sqrt(px**2 + py**2 + pz**2 + 0.13957**2),
                "pid": pid,
                "charge": np.where(pid == 211, 1.0, 0.0),
                "vx": np.zeros(2 * n),
                "vy": np.zeros(2 * n),
                "vz": np.zeros(2 * n),
            }
        )

    def collection(fields: tuple[str, ...], empty: bool) -> ak.Array:
        def column(event: dict[str, np.ndarray], name: str) -> np.ndarray:
            dtype = np.int32 if name in ("pid", "role") else np.float32
            return np.zeros(0, dtype) if empty else np.asarray(event[name], dtype)

        return ak.zip({f: ak.Array([column(e, f) for e in per_event]) for f in fields})

    tree = {
        "event_number": np.arange(n_events, dtype=np.int64),
        "particles": collection(PARTICLE_FIELDS, empty=False),
        "truth": collection(TRUTH_FIELDS, empty=True),
        "hadrons": collection(HADRON_FIELDS, empty=True),
    }
    record = {"stage": "generation", "process": process, "chunk": chunk, "seed": seed}
    if not with_record or raw_provenance is not None:
        write_raw(path, {EVENTS_TREE: tree}, raw_provenance)
    else:
        write_root(path, {EVENTS_TREE: tree}, record)
    return path


def write_raw(path: Path, trees: dict[str, dict[str, Any]], raw_provenance: str | None) -> Path:
    """Trees plus any string (or nothing) as the provenance record, with plain uproot."""
    with uproot.recreate(path) as out:
        if raw_provenance is not None:
            out[PROVENANCE_KEY] = raw_provenance
        for name, branches in trees.items():
            types = {
                k: v.type.content if isinstance(v, ak.Array) else np.asarray(v).dtype
                for k, v in branches.items()
            }
            out.mktree(name, types).extend(branches)
    return path


def features_columns(
    process: str, chunk: int, n_jets: int, seed: int, pt_range: tuple[float, float] = (250, 1000)
) -> dict[str, np.ndarray]:
    """The jets tree of a features file with random features (one jet per event)."""
    rng = np.random.default_rng([seed, PROCESS_LABEL[process], chunk])
    columns: dict[str, np.ndarray] = {
        name: rng.normal(size=n_jets).astype(features.FEATURE_DTYPE)
        for name in features.FEATURE_NAMES
    }
    values = {
        "label": np.full(n_jets, PROCESS_LABEL[process]),
        "weight": np.ones(n_jets),
        "jet_pt": rng.uniform(*pt_range, n_jets),
        "jet_eta": rng.uniform(-2.0, 2.0, n_jets),
        "jet_phi": rng.uniform(-np.pi, np.pi, n_jets),
        "jet_mass": rng.uniform(50.0, 200.0, n_jets),
        "event_number": np.arange(n_jets),
        "chunk": np.full(n_jets, chunk),
    }
    for name, dtype in JET_BRANCH_TYPES.items():
        columns[name] = np.asarray(values[name], dtype=dtype)
    return columns


def write_features(
    path: Path,
    config: dict[str, Any],
    process: str,
    chunk: int = 0,
    n_jets: int = 50,
    pt_range: tuple[float, float] = (250, 1000),
) -> Path:
    """A features file whose provenance reads like ``reconstruction run``'s for ``config``."""
    card = load_detector_card(config["reconstruction"]["detector_card"])
    record = provenance(
        "reconstruction",
        config,
        config["seed"],
        process=process,
        chunk=chunk,
        detector_card=card,
        feature_names=list(features.FEATURE_NAMES),
    )
    columns = features_columns(process, chunk, n_jets, config["seed"], pt_range)
    write_root(path, {JETS_TREE: columns}, record)
    return path


def with_raw_provenance(source: Path, target: Path, raw: str | None) -> Path:
    """A copy of a flat-tree deeppp file whose provenance record is ``raw`` (None: no record)."""
    with uproot.open(source) as f:
        trees = {
            key: f[key].arrays(library="np")
            for key in f.keys(cycle=False)
            if f[key].classname == "TTree"
        }
    return write_raw(target, trees, raw)


def with_provenance(source: Path, target: Path, **changes: Any) -> Path:
    """A copy of ``source`` (flat trees) with some provenance fields changed."""
    with uproot.open(source) as f:
        record = json.loads(str(f[PROVENANCE_KEY]))
    record.update(changes)
    return with_raw_provenance(source, target, json.dumps(record))


def truncated(source: Path, target: Path, n_bytes: int) -> Path:
    """The first ``n_bytes`` of ``source`` (negative: all but the last ``-n_bytes``)."""
    data = source.read_bytes()
    target.write_bytes(data[:n_bytes])
    return target
