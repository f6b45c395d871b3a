"""Synthetic jet datasets in the reconstruction -> ml contract format, for tests and benchmarks.

Not physics: a handful of informative features (signal shifted with respect to background, one
pair correlated, one only useful in combination) among many pure-noise features, so a test can
check that feature selection keeps exactly the informative ones. Written with
``deeppp.rootio.write_root`` exactly like the real ``dataset/{split}.root`` files.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from deeppp.contracts import JETS_TREE, SPLITS
from deeppp.provenance import provenance
from deeppp.rootio import write_root


def synthetic_feature_names(n_features: int, n_informative: int) -> list[str]:
    return [f"informative_{i}" for i in range(n_informative)] + [
        f"noise_{i}" for i in range(n_features - n_informative)
    ]


def synthetic_jets(
    n_jets: int, n_features: int, n_informative: int, seed: int, separation: float = 1.0
) -> dict[str, np.ndarray]:
    """One split's branches: features, ``label``, ``weight`` and bookkeeping columns."""
    if not 1 <= n_informative <= n_features:
        raise ValueError("need 1 <= n_informative <= n_features")
    rng = np.random.default_rng(seed)
    label = (rng.random(n_jets) < 0.5).astype(np.int32)
    x = rng.normal(size=(n_jets, n_features))
    sig = label == 1
    # Decreasing separation power, so a ranking has a well-defined order.
    shifts = separation * np.linspace(1.2, 0.6, n_informative)
    x[sig, :n_informative] += shifts
    if n_informative >= 2:
        # Last informative feature: same mean for both classes, separates through the width only.
        x[:, n_informative - 1] = rng.normal(size=n_jets) * np.where(sig, 2.0, 0.7)
    # Background weights in [0.5, 1.5] mimic the (pT, eta) flattening weights; signal weight 1.
    weight = np.where(sig, 1.0, rng.uniform(0.5, 1.5, n_jets)).astype(np.float32)
    names = synthetic_feature_names(n_features, n_informative)
    branches: dict[str, np.ndarray] = {
        name: x[:, i].astype(np.float32) for i, name in enumerate(names)
    }
    branches["label"] = label
    branches["weight"] = weight
    pt = rng.uniform(250.0, 1000.0, n_jets).astype(np.float32)
    branches["jet_pt"] = pt
    branches["jet_eta"] = rng.uniform(-2.0, 2.0, n_jets).astype(np.float32)
    branches["jet_phi"] = rng.uniform(-np.pi, np.pi, n_jets).astype(np.float32)
    branches["jet_mass"] = rng.uniform(50.0, 200.0, n_jets).astype(np.float32)
    branches["event_number"] = np.arange(n_jets, dtype=np.int64)
    branches["chunk"] = np.zeros(n_jets, dtype=np.int32)
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
    names = synthetic_feature_names(n_features, n_informative)
    for index, (split, n_jets) in enumerate(zip(SPLITS, (n_train, n_val, n_test), strict=True)):
        branches = synthetic_jets(
            n_jets, n_features, n_informative, seed * 1000 + index, separation
        )
        record = provenance(
            "synthetic", None, seed, split=split, feature_names=names, n_informative=n_informative
        )
        write_root(out / f"{split}.root", {JETS_TREE: branches}, record)
    return out
