"""Tagger performance: ROC AUC and background rejection 1/eps_B at fixed signal efficiency.

All metrics use the per-jet weights (the background (pT, eta) spectrum flattened onto the
signal's), i.e. the same weighted problem the tagger is trained on. Statistical uncertainties come
from a bootstrap over test jets (resampling with replacement, fixed seed), so they are
reproducible.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def weighted_roc(
    labels: np.ndarray, scores: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(eps_s, eps_b)`` for every distinct score threshold, from (0, 0) to (1, 1).

    The same curve as ``sklearn.metrics.roc_curve(..., drop_intermediate=False)`` (checked in the
    tests) without importing scikit-learn, which costs seconds in every training job.
    """
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores = scores[order]
    y = np.asarray(labels, dtype=np.float64)[order]
    w = np.asarray(weights, dtype=np.float64)[order]
    signal = np.cumsum(w * y)
    background = np.cumsum(w * (1.0 - y))
    # One point per distinct threshold: the last jet of each run of equal scores.
    last = np.r_[np.flatnonzero(np.diff(sorted_scores)), sorted_scores.size - 1]
    eps_s = np.r_[0.0, signal[last] / signal[-1]]
    eps_b = np.r_[0.0, background[last] / background[-1]]
    return eps_s, eps_b


def weighted_auc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> float:
    eps_s, eps_b = weighted_roc(labels, scores, weights)
    return float(np.trapezoid(eps_s, eps_b))


def rejection_at(eps_s: np.ndarray, eps_b: np.ndarray, target: float) -> float:
    """1/eps_B at signal efficiency ``target`` (linear interpolation on the ROC); inf if eps_B = 0."""
    eps_b_at = float(np.interp(target, eps_s, eps_b))
    return math.inf if eps_b_at <= 0.0 else 1.0 / eps_b_at


def point_metrics(
    labels: np.ndarray, scores: np.ndarray, weights: np.ndarray, efficiencies: tuple[float, ...]
) -> dict[str, float]:
    eps_s, eps_b = weighted_roc(labels, scores, weights)
    # Trapezoidal area of the full weighted ROC: what sklearn's roc_auc_score computes, at half the cost.
    out = {"auc": float(np.trapezoid(eps_s, eps_b))}
    for eff in efficiencies:
        out[efficiency_key(eff)] = rejection_at(eps_s, eps_b, eff)
    return out


def efficiency_key(eff: float) -> str:
    """``rejection_50`` for eps_S = 0.50."""
    return f"rejection_{round(eff * 100):d}"


def tagger_metrics(
    labels: np.ndarray,
    scores: np.ndarray,
    weights: np.ndarray,
    efficiencies: tuple[float, ...],
    n_bootstrap: int,
    seed: int,
) -> dict[str, Any]:
    """Central values plus bootstrap standard deviations (``{key: {value, uncertainty}}``).

    A rejection that is infinite in some resamples (no background left above the cut) gets the
    uncertainty of the finite ones and a count of the infinite ones; JSON gets ``null`` for inf.
    """
    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    central = point_metrics(labels, scores, weights, efficiencies)
    rng = np.random.default_rng(seed)
    n = len(labels)
    samples: dict[str, list[float]] = {key: [] for key in central}
    for _ in range(n_bootstrap):
        index = rng.integers(0, n, n)
        if labels[index].min() == labels[index].max():
            continue
        for key, value in point_metrics(
            labels[index], scores[index], weights[index], efficiencies
        ).items():
            samples[key].append(value)
    result: dict[str, Any] = {}
    for key, value in central.items():
        finite = np.array([v for v in samples[key] if math.isfinite(v)])
        result[key] = {
            "value": value if math.isfinite(value) else None,
            "uncertainty": float(finite.std(ddof=1)) if finite.size > 1 else None,
            "n_bootstrap": len(samples[key]),
            "n_infinite": len(samples[key]) - int(finite.size),
        }
    return result
