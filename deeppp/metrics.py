"""Tagger performance: ROC AUC and background rejection 1/eps_B at fixed signal efficiency, with
uncertainties and paired differences from a bootstrap over *events*.

All metrics use the per-jet weights (the background (pT, eta) spectrum flattened onto the
signal's), i.e. the same weighted problem the tagger is trained on.

Uncertainties: a background event gives up to two jets, and jets of one event are correlated, so
the bootstrap resamples events (all jets of a drawn event enter together, identified by
(label, chunk, event number)), never single jets. A resample is a vector of per-jet
multiplicities (how often the jet's event was drawn); a weighted metric with weights
``w * multiplicity`` is the metric of the resampled data set. Models scored on the same test jets
share the resamples, so the difference of two models' metrics in one resample is a *paired*
difference; its spread is far smaller than the quadrature sum of the two uncertainties.

Refusals (:class:`MetricsError`): non-finite scores (a diverged network must never look like a
perfect tagger), a class without weight, and samples with fewer than
:data:`MIN_EVENTS_PER_CLASS` signal or background events.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from deeppp import DeepppError

#: Fewest test events of each class for which metrics and their bootstrap are quoted. Below
#: this the bootstrap distribution of the AUC is too coarse to mean anything (and a rejection
#: at eps_S = 50 % rests on a handful of background jets).
MIN_EVENTS_PER_CLASS = 30
#: A rejection resting on fewer background jets above the cut than this is flagged
#: ``low_statistics`` in the metrics.
MIN_SELECTED_BACKGROUND = 10


class MetricsError(DeepppError):
    """Scores or sample unfit for a performance metric; the message says why."""


def check_scores(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> None:
    """Refuse non-finite scores, mismatched lengths, negative weights and a class without weight."""
    scores = np.asarray(scores)
    labels = np.asarray(labels)
    weights = np.asarray(weights)
    if not (scores.shape == labels.shape == weights.shape) or scores.ndim != 1:
        raise MetricsError(
            f"scores {scores.shape}, labels {labels.shape} and weights {weights.shape} differ"
        )
    bad = int(np.count_nonzero(~np.isfinite(scores)))
    if bad:
        raise MetricsError(
            f"{bad} of {scores.size} tagger scores are NaN or infinite (a diverged network?); "
            "refusing to compute a ROC from them"
        )
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise MetricsError("jet weights must be finite and non-negative")
    for value, name in ((1, "signal"), (0, "background")):
        if not float(np.sum(weights[labels == value])) > 0.0:
            raise MetricsError(f"no {name} jets with positive weight in the sample")


def weighted_roc(
    labels: np.ndarray, scores: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(eps_s, eps_b)`` for every distinct score threshold, from (0, 0) to (1, 1).

    The same curve as ``sklearn.metrics.roc_curve(..., drop_intermediate=False)`` (checked in the
    tests) without importing scikit-learn, which costs seconds in every training job.
    """
    check_scores(labels, scores, weights)
    roc = SortedScores(labels, scores)
    eps_s, eps_b = roc.curve(np.asarray(weights, dtype=np.float64)[None, :])
    return eps_s[0], eps_b[0]


def weighted_auc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> float:
    eps_s, eps_b = weighted_roc(labels, scores, weights)
    return float(np.trapezoid(eps_s, eps_b))


def rejection_at(eps_s: np.ndarray, eps_b: np.ndarray, target: float) -> float:
    """1/eps_B at signal efficiency ``target``; inf if eps_B = 0 there.

    eps_B is interpolated linearly between the last ROC point below ``target`` and the first at
    or above it (the ROC has vertical steps where only background passes, so interpolating in
    eps_S alone would be ambiguous).
    """
    eps_b_at = _eps_b_at(eps_s[None, :], eps_b[None, :], target)[0]
    return math.inf if eps_b_at <= 0.0 else 1.0 / float(eps_b_at)


def _eps_b_at(eps_s: np.ndarray, eps_b: np.ndarray, target: float) -> np.ndarray:
    """Row-wise eps_B at eps_S = ``target`` for ROC curves ``[rows, points]``."""
    out = np.empty(eps_s.shape[0])
    for row, (s, b) in enumerate(zip(eps_s, eps_b, strict=True)):
        i = int(np.searchsorted(s, target, side="left"))
        i = min(max(i, 1), s.size - 1)
        s0, s1, b0, b1 = s[i - 1], s[i], b[i - 1], b[i]
        out[row] = b1 if s1 <= s0 else b0 + (b1 - b0) * (target - s0) / (s1 - s0)
    return out


def efficiency_key(eff: float) -> str:
    """``rejection_50`` for eps_S = 0.50."""
    return f"rejection_{round(eff * 100):d}"


def point_metrics(
    labels: np.ndarray, scores: np.ndarray, weights: np.ndarray, efficiencies: tuple[float, ...]
) -> dict[str, float]:
    """AUC and ``rejection_<eff>`` of one sample (no uncertainties)."""
    eps_s, eps_b = weighted_roc(labels, scores, weights)
    # Trapezoidal area of the full weighted ROC: what sklearn's roc_auc_score computes.
    out = {"auc": float(np.trapezoid(eps_s, eps_b))}
    for eff in efficiencies:
        out[efficiency_key(eff)] = rejection_at(eps_s, eps_b, eff)
    return out


class SortedScores:
    """One model's scores sorted once: the ROC for any set of per-jet weights (e.g. bootstrap
    multiplicities) is then a cumulative sum, without sorting again."""

    def __init__(self, labels: np.ndarray, scores: np.ndarray) -> None:
        scores = np.asarray(scores, dtype=np.float64)
        self.order = np.argsort(-scores, kind="mergesort")
        sorted_scores = scores[self.order]
        self.is_signal = np.asarray(labels, dtype=np.float64)[self.order]
        # One point per distinct threshold: the last jet of each run of equal scores.
        self.last = np.r_[np.flatnonzero(np.diff(sorted_scores)), sorted_scores.size - 1]

    def curve(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(eps_s, eps_b)``, each ``[rows, points]``, for weights ``[rows, n_jets]``."""
        w = weights[:, self.order]
        signal = np.cumsum(w * self.is_signal, axis=1)[:, self.last]
        background = np.cumsum(w * (1.0 - self.is_signal), axis=1)[:, self.last]
        zeros = np.zeros((w.shape[0], 1))
        with np.errstate(invalid="ignore", divide="ignore"):
            eps_s = np.hstack([zeros, signal / signal[:, -1:]])
            eps_b = np.hstack([zeros, background / background[:, -1:]])
        return eps_s, eps_b

    def metrics(
        self, weights: np.ndarray, efficiencies: tuple[float, ...]
    ) -> dict[str, np.ndarray]:
        """``{"auc": [rows], "rejection_<eff>": [rows]}`` (inf where eps_B = 0)."""
        eps_s, eps_b = self.curve(weights)
        out = {"auc": np.sum(np.diff(eps_b, axis=1) * (eps_s[:, 1:] + eps_s[:, :-1]) / 2.0, axis=1)}
        for eff in efficiencies:
            at = _eps_b_at(eps_s, eps_b, eff)
            with np.errstate(divide="ignore"):
                out[efficiency_key(eff)] = np.where(
                    at > 0.0, 1.0 / np.where(at > 0, at, 1.0), np.inf
                )
        return out


def event_clusters(
    labels: np.ndarray, chunks: np.ndarray | None, event_numbers: np.ndarray | None
) -> np.ndarray:
    """Event index (0 .. n_events - 1) of every jet; jets of one event share it.

    An event is (label, chunk, event number): signal and background events are generated
    separately, so the label stands for the process. Without event information each jet is its
    own event.
    """
    n = len(labels)
    if chunks is None or event_numbers is None:
        return np.arange(n)
    keys = np.stack(
        [
            np.asarray(labels, dtype=np.int64),
            np.asarray(chunks, dtype=np.int64),
            np.asarray(event_numbers, dtype=np.int64),
        ],
        axis=1,
    )
    _, clusters = np.unique(keys, axis=0, return_inverse=True)
    return clusters.reshape(-1)


def check_sample(labels: np.ndarray, clusters: np.ndarray) -> dict[str, int]:
    """Counts of jets and events per class; refuses samples below :data:`MIN_EVENTS_PER_CLASS`."""
    labels = np.asarray(labels)
    counts = {
        "n_jets": int(labels.size),
        "n_signal_jets": int(np.count_nonzero(labels == 1)),
        "n_background_jets": int(np.count_nonzero(labels == 0)),
        "n_events": int(np.unique(clusters).size),
        "n_signal_events": int(np.unique(clusters[labels == 1]).size),
        "n_background_events": int(np.unique(clusters[labels == 0]).size),
    }
    for name in ("signal", "background"):
        if counts[f"n_{name}_events"] < MIN_EVENTS_PER_CLASS:
            raise MetricsError(
                f"only {counts[f'n_{name}_events']} {name} events "
                f"({counts[f'n_{name}_jets']} jets) "
                f"in the test sample; metrics need at least {MIN_EVENTS_PER_CLASS} of each class"
            )
    return counts


class EventBootstrap:
    """Bootstrap over events: ``n_samples`` resamples of the test sample's events, as per-jet
    multiplicities (how often each jet's event was drawn). One instance shared by several models
    makes their metric differences paired.

    The multiplicities are generated in blocks of rows (each block from its own seeded stream),
    so memory stays bounded for millions of test jets and every pass sees the same resamples.
    """

    #: Matrix elements per block (rows x jets), about 160 MB of float64.
    BLOCK_ELEMENTS = 20_000_000

    def __init__(self, clusters: np.ndarray, n_samples: int, seed: int) -> None:
        self.clusters = np.asarray(clusters)
        self.n_events = int(self.clusters.max()) + 1 if self.clusters.size else 0
        self.n_samples = int(n_samples)
        self.seed = int(seed)
        self.rows_per_block = max(1, self.BLOCK_ELEMENTS // max(self.clusters.size, 1))

    def blocks(self) -> Iterator[np.ndarray]:
        """Multiplicity matrices ``[rows, n_jets]``, ``n_samples`` rows in all."""
        for block, start in enumerate(range(0, self.n_samples, self.rows_per_block)):
            rows = min(self.rows_per_block, self.n_samples - start)
            rng = np.random.default_rng([self.seed, block])
            draws = rng.integers(0, self.n_events, size=(rows, self.n_events))
            per_event = np.stack([np.bincount(d, minlength=self.n_events) for d in draws])
            yield per_event[:, self.clusters].astype(np.float64)


@dataclass
class BootstrapMetrics:
    """One model's metrics: central values and their values in each bootstrap resample."""

    central: dict[str, float]
    replicas: dict[str, np.ndarray]
    n_background_selected: dict[str, int]

    def summary(self, key: str) -> dict[str, Any]:
        """``{value, uncertainty, n_bootstrap, n_infinite}``; JSON-safe (inf -> null)."""
        value = self.central[key]
        replicas = self.replicas[key]
        finite = replicas[np.isfinite(replicas)]
        return {
            "value": value if math.isfinite(value) else None,
            "uncertainty": float(finite.std(ddof=1)) if finite.size > 1 else None,
            "n_bootstrap": int(replicas.size),
            "n_infinite": int(replicas.size - finite.size),
        }


def bootstrap_metrics(
    labels: np.ndarray,
    scores: np.ndarray,
    weights: np.ndarray,
    efficiencies: tuple[float, ...],
    bootstrap: EventBootstrap,
) -> BootstrapMetrics:
    """Central metrics and their replicas under the shared event resamples."""
    check_scores(labels, scores, weights)
    weights = np.asarray(weights, dtype=np.float64)
    sorted_scores = SortedScores(labels, scores)
    central_values = sorted_scores.metrics(weights[None, :], efficiencies)
    central = {key: float(values[0]) for key, values in central_values.items()}
    blocks = [sorted_scores.metrics(weights[None, :] * m, efficiencies) for m in bootstrap.blocks()]
    replicas = {key: np.concatenate([b[key] for b in blocks]) for key in central}
    # Unweighted background jets above the threshold that keeps eps_S = eff: how many jets a
    # rejection rests on.
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    signal = scores[labels == 1]
    order = np.argsort(-signal, kind="mergesort")
    signal_fraction = np.cumsum(weights[labels == 1][order]) / weights[labels == 1].sum()
    selected = {}
    for eff in efficiencies:
        index = min(int(np.searchsorted(signal_fraction, eff, side="left")), signal.size - 1)
        threshold = signal[order][index]
        selected[efficiency_key(eff)] = int(np.count_nonzero(scores[labels == 0] >= threshold))
    return BootstrapMetrics(central, replicas, selected)


def tagger_metrics(
    labels: np.ndarray,
    scores: np.ndarray,
    weights: np.ndarray,
    efficiencies: tuple[float, ...],
    n_bootstrap: int,
    seed: int,
    clusters: np.ndarray | None = None,
) -> dict[str, Any]:
    """Central values plus bootstrap standard deviations over events (``{key: {value,
    uncertainty, ...}}``) and the sample counts.

    ``clusters``: event index per jet (:func:`event_clusters`); None = every jet its own event.
    A rejection that is infinite in some resamples (no background left above the cut) gets the
    uncertainty of the finite ones and a count of the infinite ones; JSON gets ``null`` for inf.
    """
    labels = np.asarray(labels)
    check_scores(labels, np.asarray(scores), np.asarray(weights))
    clusters = np.arange(labels.size) if clusters is None else np.asarray(clusters)
    counts = check_sample(labels, clusters)
    bootstrap = EventBootstrap(clusters, n_bootstrap, seed)
    result = bootstrap_metrics(labels, scores, weights, efficiencies, bootstrap)
    out: dict[str, Any] = {"sample": counts, "auc": result.summary("auc")}
    for eff in efficiencies:
        key = efficiency_key(eff)
        entry = result.summary(key)
        entry["signal_efficiency"] = eff
        entry["n_background_selected"] = result.n_background_selected[key]
        entry["low_statistics"] = result.n_background_selected[key] < MIN_SELECTED_BACKGROUND
        out[key] = entry
    return out


def paired_difference(
    a: BootstrapMetrics, b: BootstrapMetrics, key: str, confidence_level: float
) -> dict[str, Any]:
    """``a - b`` for metric ``key`` with a percentile bootstrap confidence interval.

    Both must come from the same :class:`EventBootstrap` (same test jets, same resamples).
    Resamples where either rejection is infinite are left out and counted.
    """
    ra, rb = a.replicas[key], b.replicas[key]
    if ra.shape != rb.shape:
        raise MetricsError("paired difference of metrics from different bootstraps")
    both = np.isfinite(ra) & np.isfinite(rb)
    diff = ra[both] - rb[both]
    value = a.central[key] - b.central[key]
    alpha = (1.0 - confidence_level) / 2.0
    if diff.size >= 2:
        low, high = (float(q) for q in np.quantile(diff, [alpha, 1.0 - alpha]))
        spread: float | None = float(diff.std(ddof=1))
    else:
        low = high = math.nan
        spread = None
    finite = math.isfinite(value) and math.isfinite(low) and math.isfinite(high)
    return {
        "value": value if math.isfinite(value) else None,
        "ci_low": low if finite else None,
        "ci_high": high if finite else None,
        "confidence_level": confidence_level,
        "uncertainty": spread,
        "n_bootstrap": int(diff.size),
        "n_dropped_infinite": int(ra.size - diff.size),
        "significant": bool(finite and (low > 0.0 or high < 0.0)),
    }
