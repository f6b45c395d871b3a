"""Reading the ``dataset/{train,val,test}.root`` files into tensors, and feature standardisation.

The feature list comes from the file's provenance (``feature_names``, in order) and must be the
same in all three splits; files that lack it, lack branches, or hold non-finite values are
rejected with the file named (``deeppp.rootio.InputFileError``). Each jet's event
(label, chunk, event number) is read too: the metrics bootstrap resamples whole events.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from deeppp.contracts import (
    CHUNK_BRANCH,
    EVENT_NUMBER_BRANCH,
    JETS_TREE,
    LABEL_BRANCH,
    SPLITS,
    WEIGHT_BRANCH,
    dataset_file_name,
)
from deeppp.metrics import event_clusters
from deeppp.rootio import InputFileError, read_provenance, read_tree

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JetSample:
    """One split: raw features ``[n_jets, n_features]``, labels (1 = signal), per-jet weights
    and the event index of every jet (jets of one event share it)."""

    features: torch.Tensor
    labels: torch.Tensor
    weights: torch.Tensor
    feature_names: tuple[str, ...]
    source: str
    events: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def select_features(self, names: list[str] | tuple[str, ...]) -> JetSample:
        """The same jets with only ``names`` (in that order) as features."""
        index = [self.feature_names.index(n) for n in names]
        return JetSample(
            self.features[:, index],
            self.labels,
            self.weights,
            tuple(names),
            self.source,
            self.events,
        )


@dataclass(frozen=True)
class Standardisation:
    """Per-feature mean and standard deviation of the training split (float32)."""

    mean: torch.Tensor
    std: torch.Tensor

    @classmethod
    def fit(cls, sample: JetSample) -> Standardisation:
        x = sample.features.to(torch.float64)
        mean = x.mean(dim=0)
        std = x.std(dim=0, unbiased=False)
        # A constant feature (e.g. a default value in every jet) carries no information; std 1
        # keeps it finite instead of dividing by zero.
        std = torch.where(std > 1e-12, std, torch.ones_like(std))
        return cls(mean.to(torch.float32), std.to(torch.float32))

    def apply(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.mean) / self.std

    def subset(self, index: list[int]) -> Standardisation:
        return Standardisation(self.mean[index].clone(), self.std[index].clone())


def read_split(path: str | os.PathLike[str]) -> JetSample:
    """Read one split file following the reconstruction -> ml contract."""
    record = read_provenance(path)
    names = record.get("feature_names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise InputFileError(
            f"{path}: provenance has no 'feature_names' list (not a dataset file?)"
        )
    required = [*names, LABEL_BRANCH, WEIGHT_BRANCH]
    event_branches = [CHUNK_BRANCH, EVENT_NUMBER_BRANCH]
    arrays = read_tree(path, JETS_TREE, required=required, filter_name=[*required, *event_branches])
    if len(arrays) == 0:
        raise InputFileError(f"{path}: tree '{JETS_TREE}' holds no jets")
    features = np.stack([np.asarray(arrays[n], dtype=np.float32) for n in names], axis=1)
    labels = np.asarray(arrays[LABEL_BRANCH], dtype=np.float32)
    weights = np.asarray(arrays[WEIGHT_BRANCH], dtype=np.float32)
    bad_columns = [n for i, n in enumerate(names) if not np.all(np.isfinite(features[:, i]))]
    if bad_columns:
        raise InputFileError(f"{path}: non-finite values in features {bad_columns[:5]}")
    if not np.all(np.isin(labels, (0.0, 1.0))):
        raise InputFileError(f"{path}: 'label' must be 0 or 1")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise InputFileError(f"{path}: 'weight' must be finite and non-negative")
    if labels.min() == labels.max():
        raise InputFileError(f"{path}: only one class present (need signal and background jets)")
    if all(b in arrays.fields for b in event_branches):
        events = event_clusters(
            labels, np.asarray(arrays[CHUNK_BRANCH]), np.asarray(arrays[EVENT_NUMBER_BRANCH])
        )
    else:
        logger.warning(
            "%s: no '%s'/'%s' branches; the bootstrap treats every jet as its own event",
            path,
            CHUNK_BRANCH,
            EVENT_NUMBER_BRANCH,
        )
        events = None
    return JetSample(
        torch.from_numpy(features),
        torch.from_numpy(labels),
        torch.from_numpy(weights),
        tuple(names),
        str(path),
        events,
    )


def read_dataset(directory: str | os.PathLike[str]) -> dict[str, JetSample]:
    """``{split: JetSample}`` for train, val and test; the feature lists must agree."""
    samples = {split: read_split(Path(directory, dataset_file_name(split))) for split in SPLITS}
    reference = samples["train"].feature_names
    for _split, sample in samples.items():
        if sample.feature_names != reference:
            raise InputFileError(f"{sample.source}: feature_names differ from the train split's")
    return samples
