"""The jets a firmware build is evaluated on: standardised features, labels, weights, events.

Dataset files are ordered signal first, then background (docs/data_contracts.md), so "the
first N jets" of a file would be signal only. A cap (``firmware.max_test_jets``) therefore draws
whole events, the same fraction of signal and background events, with a fixed seed; jets keep
their file order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deeppp import DeepppError
from deeppp.contracts import JETS_TREE, LABEL_BRANCH, WEIGHT_BRANCH
from deeppp.rootio import read_tree
from firmware.paired_bootstrap import event_index
from ml.model_io import Tagger

#: Event identity in a dataset file: with the label (process), unique per event.
EVENT_BRANCHES = ("chunk", "event_number")


@dataclass(frozen=True)
class Jets:
    """Standardised features (float64, model input order) and per-jet bookkeeping."""

    x: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    events: np.ndarray  # event index 0..E-1 of each jet (firmware.paired_bootstrap.event_index)
    file: str
    subset: str

    @property
    def n_jets(self) -> int:
        return len(self.labels)

    @property
    def n_events(self) -> int:
        return int(self.events.max()) + 1 if len(self.events) else 0


def stratified_event_sample(
    labels: np.ndarray, events: np.ndarray, max_jets: int, seed: int
) -> np.ndarray:
    """Sorted jet indices of whole events: the same random fraction of signal and background
    events, chosen so that about ``max_jets`` jets remain (at least one event per class)."""
    n_jets = len(labels)
    if max_jets >= n_jets:
        return np.arange(n_jets)
    fraction = max_jets / n_jets
    rng = np.random.default_rng([seed, 0xF1])
    keep_event = np.zeros(int(events.max()) + 1, dtype=bool)
    for label in (0, 1):
        members = np.unique(events[labels == label])
        n_keep = max(1, round(fraction * len(members)))
        keep_event[rng.choice(members, size=n_keep, replace=False)] = True
    return np.flatnonzero(keep_event[events])


def load_jets(path: str | Path, tagger: Tagger, max_jets: int | None, seed: int) -> Jets:
    """Read and standardise the jets of a dataset split (``test.root``, ``val.root``)."""
    names = list(tagger.feature_names)
    branches = [*names, LABEL_BRANCH, WEIGHT_BRANCH, *EVENT_BRANCHES]
    table = read_tree(path, JETS_TREE, required=branches, filter_name=branches)
    if len(table) == 0:
        raise DeepppError(f"{path}: tree '{JETS_TREE}' is empty")
    labels = np.asarray(table[LABEL_BRANCH], dtype=np.int64)
    if not np.isin(labels, (0, 1)).all():
        raise DeepppError(f"{path}: labels must be 0 (background) or 1 (signal)")
    if labels.min() == labels.max():
        raise DeepppError(f"{path}: holds only label {labels[0]} (need signal and background)")
    events = event_index(labels, table["chunk"], table["event_number"])
    subset = f"all {len(labels)} jets"
    keep = np.arange(len(labels))
    if max_jets is not None and max_jets < len(labels):
        keep = stratified_event_sample(labels, events, max_jets, seed)
        subset = (
            f"{len(keep)} of {len(labels)} jets: whole events, the same fraction of signal and "
            f"background events (firmware.max_test_jets = {max_jets}, seed {seed})"
        )
    raw = np.stack([np.asarray(table[name], dtype=np.float32)[keep] for name in names], axis=1)
    x = tagger.standardise(raw).astype(np.float64)  # the same float32 standardisation as ml
    if not np.isfinite(x).all():
        raise DeepppError(f"{path}: non-finite feature values after standardisation")
    weights = np.asarray(table[WEIGHT_BRANCH], dtype=np.float64)[keep]
    if not (np.isfinite(weights).all() and (weights >= 0).all()):
        raise DeepppError(f"{path}: weights must be finite and non-negative")
    _, events = np.unique(events[keep], return_inverse=True)
    return Jets(x, labels[keep], weights, events.reshape(-1), Path(path).name, subset)
