"""Scoring saved models on the shared test jets, and the paired comparisons the studies report.

Every study recomputes each model's scores from its ``model.pt`` on the same test split, so a
study checks the saved networks, not numbers copied from training. All models of a study share
one :class:`deeppp.metrics.EventBootstrap` (whole events resampled), which makes the difference
of two models' metrics in one resample a *paired* difference.

Across seeds a setting is summarised as mean +- seed spread (standard deviation over seeds).
A seed-averaged paired difference gets two uncertainties: the bootstrap spread of the averaged
difference (test-sample noise, common to all seeds because they share the test jets) and the
standard error over seeds (training noise); its interval combines both (normal approximation),
and a difference is called significant only when that interval excludes zero.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deeppp.contracts import ML_MODEL_FILES, ModelName, dataset_file_name, parse_model_name
from deeppp.handoffs import ModelMetrics, read_model_metrics
from deeppp.metrics import (
    BootstrapMetrics,
    EventBootstrap,
    SortedScores,
    bootstrap_metrics,
    check_sample,
    efficiency_key,
    paired_difference,
)
from deeppp.plotting import EPS_S_GRID
from deeppp.rootio import InputFileError
from ml.dataset import JetSample, read_split
from ml.model_io import load_tagger
from ml.settings import MLSettings

logger = logging.getLogger(__name__)


def normal_quantile(level: float) -> float:
    """Two-sided normal quantile for confidence ``level`` (``statistics.NormalDist``)."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 2.0)


@dataclass
class ModelResult:
    """A saved model's files plus its scores' metrics on the shared test jets."""

    name: str
    parsed: ModelName
    metrics: ModelMetrics
    history: dict[str, Any]
    boot: BootstrapMetrics
    rejection: np.ndarray  # 1/eps_B on EPS_S_GRID (nan where no background is left)
    rejection_band: tuple[np.ndarray, np.ndarray]  # 16 % / 84 % bootstrap quantiles
    scores: np.ndarray  # logits on the shared test jets, in test-file order

    def value(self, key: str) -> float:
        return self.boot.central[key]


class ModelStore:
    """Loads the models a study declared, scores them on the test split with one shared event
    bootstrap; every problem with a model's files is a one-line ``InputFileError``/``HandoffError``
    naming the file."""

    def __init__(
        self,
        models_dir: str | os.PathLike[str],
        dataset_dir: str | os.PathLike[str],
        settings: MLSettings,
        declared: list[str] | None = None,
    ) -> None:
        # A study may read only the models study_models() declares: those are its Snakemake
        # inputs, and reading any other would race with that model's training job.
        self.declared = None if declared is None else set(declared)
        self.models_dir = Path(models_dir)
        self.test_path = Path(dataset_dir, dataset_file_name("test"))
        self.settings = settings
        self.keys = ("auc", *(efficiency_key(e) for e in settings.signal_efficiencies))
        self._test: JetSample | None = None
        self._bootstrap: EventBootstrap | None = None
        self._cache: dict[str, ModelResult] = {}

    @property
    def test(self) -> JetSample:
        if self._test is None:
            self._test = read_split(self.test_path)
        return self._test

    @property
    def events(self) -> np.ndarray:
        events = self.test.events
        return np.arange(len(self.test)) if events is None else events

    @property
    def bootstrap(self) -> EventBootstrap:
        if self._bootstrap is None:
            self._bootstrap = EventBootstrap(
                self.events, self.settings.bootstrap_samples, self.settings.seed
            )
        return self._bootstrap

    def sample(self) -> dict[str, int]:
        return check_sample(self.test.labels.numpy(), self.events)

    def __contains__(self, name: str) -> bool:
        return self.declared is None or name in self.declared

    def __getitem__(self, name: str) -> ModelResult:
        if name not in self:
            raise KeyError(f"model {name!r} is read but not declared in study_models()")
        if name not in self._cache:
            self._cache[name] = self._load(name)
        return self._cache[name]

    def _load(self, name: str) -> ModelResult:
        directory = self.models_dir / name
        model_file, metrics_file, history_file = (directory / f for f in ML_MODEL_FILES)
        tagger = load_tagger(model_file)
        metrics = read_model_metrics(metrics_file)
        try:
            history = json.loads(history_file.read_text())
        except FileNotFoundError as err:
            raise InputFileError(f"{history_file}: missing (train model {name} first)") from err
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise InputFileError(f"{history_file}: not valid JSON ({err})") from err
        test = self.test
        missing = [f for f in tagger.feature_names if f not in test.feature_names]
        if missing:
            raise InputFileError(f"{model_file}: features {missing[:3]} are not in {test.source}")
        raw = test.select_features(list(tagger.feature_names)).features.numpy()
        scores = tagger.logits(raw)
        labels, weights = test.labels.numpy(), test.weights.numpy()
        boot = bootstrap_metrics(
            labels, scores, weights, self.settings.signal_efficiencies, self.bootstrap
        )
        rejection, band = rejection_with_band(labels, scores, weights, self.bootstrap)
        return ModelResult(
            name, parse_model_name(name), metrics, history, boot, rejection, band, scores
        )

    def digests(self, names: list[str]) -> dict[str, str]:
        from ml.jobs import file_digest

        return {
            f"{n}/{ML_MODEL_FILES[0]}": file_digest(self.models_dir / n / ML_MODEL_FILES[0])
            for n in names
        }


def rejection_with_band(
    labels: np.ndarray, scores: np.ndarray, weights: np.ndarray, bootstrap: EventBootstrap
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """1/eps_B on :data:`EPS_S_GRID` and its 16-84 % bootstrap band (event resamples)."""
    sorted_scores = SortedScores(labels, scores)
    weights = np.asarray(weights, dtype=np.float64)
    central = _rejection_grid(*sorted_scores.curve(weights[None, :]))[0]
    rows = [_rejection_grid(*sorted_scores.curve(weights[None, :] * m)) for m in bootstrap.blocks()]
    replicas = np.vstack(rows)
    replicas = np.where(np.isfinite(replicas), replicas, np.nan)
    low, high = np.full(EPS_S_GRID.size, np.nan), np.full(EPS_S_GRID.size, np.nan)
    usable = np.isfinite(replicas).sum(axis=0) >= 2  # quantiles need a few finite resamples
    if usable.any():
        low[usable], high[usable] = np.nanquantile(replicas[:, usable], [0.16, 0.84], axis=0)
    return central, (low, high)


def _rejection_grid(eps_s: np.ndarray, eps_b: np.ndarray) -> np.ndarray:
    """Row-wise 1/eps_B on the grid (left-searchsorted interpolation, as for the metrics)."""
    out = np.empty((eps_s.shape[0], EPS_S_GRID.size))
    for row, (s, b) in enumerate(zip(eps_s, eps_b, strict=True)):
        i = np.clip(np.searchsorted(s, EPS_S_GRID, side="left"), 1, s.size - 1)
        s0, s1, b0, b1 = s[i - 1], s[i], b[i - 1], b[i]
        with np.errstate(invalid="ignore", divide="ignore"):
            at = np.where(s1 > s0, b0 + (b1 - b0) * (EPS_S_GRID - s0) / (s1 - s0), b1)
            out[row] = np.where(at > 0, 1.0 / np.where(at > 0, at, 1.0), np.nan)
    return out


def finite_or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def seed_summary(values: list[float]) -> dict[str, Any]:
    """Mean and seed spread (standard deviation over seeds) of one quantity."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return {
        "values": [finite_or_none(v) for v in values],
        "mean": float(np.mean(finite)) if finite else None,
        "seed_spread": float(np.std(finite, ddof=1)) if len(finite) > 1 else None,
        "n_seeds": len(values),
        "n_finite": len(finite),
    }


def paired_over_seeds(
    pairs: list[tuple[ModelResult, ModelResult]], key: str, confidence_level: float
) -> dict[str, Any]:
    """``a - b`` for metric ``key``, per seed (paired bootstrap CI) and averaged over seeds.

    The averaged difference's interval combines the bootstrap spread of the seed average and
    the standard error over seeds (module docstring).
    """
    per_seed = [
        {"a": a.name, "b": b.name, **paired_difference(a.boot, b.boot, key, confidence_level)}
        for a, b in pairs
    ]
    with np.errstate(invalid="ignore"):  # inf - inf where both rejections are infinite
        stacked = np.vstack([a.boot.replicas[key] - b.boot.replicas[key] for a, b in pairs])
    finite_rows = np.all(np.isfinite(stacked), axis=0)
    averaged = stacked[:, finite_rows].mean(axis=0)
    values = [p["value"] for p in per_seed]
    finite_values = [v for v in values if v is not None]
    mean = float(np.mean(finite_values)) if len(finite_values) == len(values) else None
    boot_sd = float(averaged.std(ddof=1)) if averaged.size > 1 else None
    seed_sd = float(np.std(finite_values, ddof=1)) if len(finite_values) > 1 else None
    z = normal_quantile(confidence_level)
    if mean is None or boot_sd is None:
        low = high = None
        total = None
    else:
        total = math.hypot(boot_sd, (seed_sd or 0.0) / math.sqrt(len(values)))
        low, high = mean - z * total, mean + z * total
    return {
        "mean": mean,
        "seed_spread": seed_sd,
        "bootstrap_sd_of_mean": boot_sd,
        "total_uncertainty": total,
        "ci_low": low,
        "ci_high": high,
        "confidence_level": confidence_level,
        "significant": bool(low is not None and high is not None and (low > 0 or high < 0)),
        "n_seeds": len(pairs),
        "per_seed": per_seed,
    }


def pareto_front(points: list[dict[str, Any]], quality: str, cost: str) -> list[int]:
    """Indices of the points no other point beats in both (higher ``quality``, lower ``cost``),
    sorted by cost."""
    usable = [
        i for i, p in enumerate(points) if p.get(quality) is not None and p.get(cost) is not None
    ]
    front = []
    for i in usable:
        qi, ci = points[i][quality], points[i][cost]
        dominated = any(
            points[j][quality] >= qi
            and points[j][cost] <= ci
            and (points[j][quality] > qi or points[j][cost] < ci)
            for j in usable
            if j != i
        )
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: (points[i][cost], -points[i][quality]))
