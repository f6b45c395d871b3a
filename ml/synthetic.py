"""Synthetic jet datasets in the reconstruction -> ml contract format, for tests and benchmarks.

Not physics: a handful of informative features (signal shifted with respect to background,
decreasing in strength, the weakest one separating only through its width) among pure-noise
features. The informative features sit at *seeded random column positions* and every feature
has a neutral name (``feature_07``), so a pruner cannot pass a test by favouring the first
columns or by breaking ties by position; the truth is in the files' provenance
(``informative_features``, strongest first) and :func:`informative_features`.

Like real data, a background event gives two jets (the two leading jets of a QCD event) and a
signal event one: jets of one event share (label, chunk, event number), which the event-level
bootstrap uses. Written with ``deeppp.rootio.write_root`` exactly like ``dataset/{split}.root``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from deeppp.contracts import (
    CHUNK_BRANCH,
    EVENT_NUMBER_BRANCH,
    JETS_TREE,
    LABEL_BRANCH,
    SPLITS,
    WEIGHT_BRANCH,
    dataset_file_name,
)
from deeppp.provenance import provenance
from deeppp.rootio import read_provenance, write_root


def synthetic_feature_names(n_features: int, n_informative: int | None = None) -> list[str]:
    """Neutral names ``feature_00`` ... (``n_informative`` is accepted and ignored: the names
    say nothing about which features are informative)."""
    return [f"feature_{i:02d}" for i in range(n_features)]


def informative_columns(n_features: int, n_informative: int, seed: int) -> list[int]:
    """Column of each informative feature, strongest first: a seeded random draw."""
    if not 1 <= n_informative <= n_features:
        raise ValueError("need 1 <= n_informative <= n_features")
    rng = np.random.default_rng([seed, 7])
    return [int(c) for c in rng.choice(n_features, n_informative, replace=False)]


def synthetic_jets(
    n_jets: int,
    n_features: int,
    informative: int | Sequence[int],
    seed: int,
    separation: float = 1.0,
) -> dict[str, np.ndarray]:
    """One split's branches: features, label, weight and the event bookkeeping columns.

    ``informative``: the informative columns (strongest first), or their number, in which case
    the columns are :func:`informative_columns` with seed 0 (the same for every call, so splits
    drawn with different ``seed`` agree).
    """
    if isinstance(informative, int):
        informative = informative_columns(n_features, informative, 0)
    informative = list(informative)
    rng = np.random.default_rng(seed)
    n_informative = len(informative)
    label = (rng.random(n_jets) < 0.5).astype(np.int32)
    # Signal first, then background (as merged files are ordered before shuffling).
    label = np.sort(label)[::-1].copy()
    x = rng.normal(size=(n_jets, n_features))
    sig = label == 1
    shifts = separation * np.linspace(1.2, 0.6, n_informative)
    for column, shift in zip(informative, shifts, strict=True):
        x[sig, column] += shift
    if n_informative >= 2:
        # Weakest informative feature: same mean for both classes, separates through the width.
        x[:, informative[-1]] = rng.normal(size=n_jets) * np.where(sig, 2.0, 0.7)
    # Background weights in [0.5, 1.5] mimic the (pT, eta) flattening weights; signal weight 1.
    weight = np.where(sig, 1.0, rng.uniform(0.5, 1.5, n_jets)).astype(np.float32)
    names = synthetic_feature_names(n_features)
    branches: dict[str, np.ndarray] = {
        name: x[:, i].astype(np.float32) for i, name in enumerate(names)
    }
    branches[LABEL_BRANCH] = label
    branches[WEIGHT_BRANCH] = weight
    branches["jet_pt"] = rng.uniform(250.0, 1000.0, n_jets).astype(np.float32)
    branches["jet_eta"] = rng.uniform(-2.0, 2.0, n_jets).astype(np.float32)
    branches["jet_phi"] = rng.uniform(-np.pi, np.pi, n_jets).astype(np.float32)
    branches["jet_mass"] = rng.uniform(50.0, 200.0, n_jets).astype(np.float32)
    # One jet per signal event, two per background event (numbered per process).
    n_signal = int(sig.sum())
    event = np.empty(n_jets, dtype=np.int64)
    event[:n_signal] = np.arange(n_signal)
    event[n_signal:] = np.arange(n_jets - n_signal) // 2
    branches[EVENT_NUMBER_BRANCH] = event
    branches[CHUNK_BRANCH] = np.zeros(n_jets, dtype=np.int32)
    return branches


def write_synthetic_dataset(
    directory: str | os.PathLike[str],
    n_train: int = 4000,
    n_val: int = 1500,
    n_test: int = 2000,
    n_features: int = 39,
    n_informative: int = 5,
    seed: int = 1,
    separation: float = 1.0,
) -> Path:
    """Write ``{directory}/{train,val,test}.root`` (tree ``jets``) and return ``directory``."""
    out = Path(directory)
    names = synthetic_feature_names(n_features)
    columns = informative_columns(n_features, n_informative, seed)
    truth = [names[c] for c in columns]
    for index, (split, n_jets) in enumerate(zip(SPLITS, (n_train, n_val, n_test), strict=True)):
        branches = synthetic_jets(n_jets, n_features, columns, seed * 1000 + index, separation)
        record = provenance(
            "synthetic",
            None,
            seed,
            split=split,
            feature_names=names,
            informative_features=truth,
        )
        write_root(out / dataset_file_name(split), {JETS_TREE: branches}, record)
    return out


def informative_features(directory: str | os.PathLike[str]) -> list[str]:
    """The informative features of a synthetic dataset, strongest first (from its provenance)."""
    record = read_provenance(Path(directory, dataset_file_name(SPLITS[0])))
    return list(record["informative_features"])
