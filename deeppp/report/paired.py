"""Paired comparisons of taggers on the same test jets: a bootstrap over test *events*.

Two taggers scored on the same jets share most of their statistical fluctuation, so the
uncertainty of their difference is far smaller than the two uncertainties added in quadrature.
Each bootstrap replicate draws test events with replacement (the jets of one event stay
together: a QCD event gives up to two jets) and recomputes both taggers' AUC and 1/eps_B on the
same replicate; the difference (AUC) or ratio (1/eps_B) of each replicate gives a percentile
confidence interval. Weights are the per-jet flattening weights, as in every deeppp metric.

A replicate only reweights jets, so each tagger's jets are sorted once and every replicate is a
cumulative sum: thousands of replicates on 10^4 jets take well under a second.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from deeppp.metrics import point_metrics


@dataclass(frozen=True)
class PairedDifference:
    """``model`` against ``reference`` on the same jets, for one quantity.

    ``kind`` is "difference" (AUC: model - reference) or "ratio" (1/eps_B: model / reference);
    ``low``/``high`` bound the central ``level`` percentile interval of the bootstrap replicates;
    ``null`` is the value of no change (0 or 1)."""

    quantity: str
    model: str
    reference: str
    kind: str
    value: float | None
    low: float | None
    high: float | None
    std: float | None
    level: float
    n_bootstrap: int
    #: Replicates where the quantity was undefined (no background left above the cut).
    n_undefined: int

    @property
    def null(self) -> float:
        return 0.0 if self.kind == "difference" else 1.0

    @property
    def significant(self) -> bool:
        """The interval excludes "no change"."""
        if self.low is None or self.high is None:
            return False
        return not (self.low <= self.null <= self.high)


class _SortedTagger:
    """One tagger's jets in descending score, and where each distinct threshold ends."""

    def __init__(self, scores: np.ndarray) -> None:
        self.order = np.argsort(-scores, kind="mergesort")
        ranked = scores[self.order]
        last = np.r_[np.flatnonzero(np.diff(ranked)), ranked.size - 1]
        # without ties every jet ends a threshold: skip the (costly) selection
        self.last = None if last.size == ranked.size else last

    def curve(self, signal_w: np.ndarray, background_w: np.ndarray) -> tuple[np.ndarray, ...]:
        """(eps_S, eps_B) at every distinct threshold, one row per replicate; the curve of
        deeppp.metrics.weighted_roc without its (0, 0) start."""
        s = np.cumsum(signal_w[:, self.order], axis=1)
        b = np.cumsum(background_w[:, self.order], axis=1)
        if self.last is not None:
            s, b = s[:, self.last], b[:, self.last]
        s /= s[:, -1:]
        b /= b[:, -1:]
        return s, b


def _auc_rows(eps_s: np.ndarray, eps_b: np.ndarray) -> np.ndarray:
    """Trapezoidal area under each row's curve, starting from (0, 0) (as np.trapezoid)."""
    first = 0.5 * eps_b[:, 0] * eps_s[:, 0]
    return first + 0.5 * np.sum(np.diff(eps_b, axis=1) * (eps_s[:, 1:] + eps_s[:, :-1]), axis=1)


def _interp_rows(x: float, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """``np.interp(x, [0, *xp[i]], [0, *fp[i]])`` for every row ``i`` at once (rows of ``xp``
    non-decreasing): the last point at or below ``x`` and the next one, as np.interp picks."""
    rows = np.arange(xp.shape[0])
    n = xp.shape[1]
    count = (xp <= x).sum(axis=1)  # index of the point at or below x on the padded curve
    below = count - 1
    x0 = np.where(below >= 0, xp[rows, np.maximum(below, 0)], 0.0)
    f0 = np.where(below >= 0, fp[rows, np.maximum(below, 0)], 0.0)
    above = np.minimum(count, n - 1)
    x1, f1 = xp[rows, above], fp[rows, above]
    with np.errstate(invalid="ignore", divide="ignore"):
        value = f0 + (f1 - f0) / (x1 - x0) * (x - x0)
    return np.where(count >= n, fp[:, -1], value)


def _replicate_quantities(
    tagger: _SortedTagger,
    signal_w: np.ndarray,
    background_w: np.ndarray,
    efficiencies_percent: list[int],
) -> dict[str, np.ndarray]:
    eps_s, eps_b = tagger.curve(signal_w, background_w)
    out = {"auc": _auc_rows(eps_s, eps_b)}
    for percent in efficiencies_percent:
        at = _interp_rows(percent / 100, eps_s, eps_b)
        with np.errstate(divide="ignore"):
            out[f"rejection_{percent}"] = np.where(at > 0, 1.0 / np.where(at > 0, at, 1.0), np.inf)
    return out


def _event_counts(
    n_groups: int, n_bootstrap: int, seed: int, batch: int = 64
) -> Iterator[np.ndarray]:
    """How often each event is drawn, ``batch`` replicates at a time (bounded memory)."""
    rng = np.random.default_rng(seed)
    for start in range(0, n_bootstrap, batch):
        size = min(batch, n_bootstrap - start)
        draws = rng.integers(0, n_groups, (size, n_groups))
        yield np.stack([np.bincount(row, minlength=n_groups) for row in draws]).astype(float)


#: Jet x replicate cells evaluated together: a few arrays of this many floats (~160 MB each).
_CELLS_PER_BATCH = 20_000_000


def _batch_size(n_jets: int) -> int:
    """Replicates per batch: 64, fewer for large test sets (the paper config's ~10^6 jets)."""
    return max(1, min(64, _CELLS_PER_BATCH // max(n_jets, 1)))


def paired_differences(
    labels: np.ndarray,
    weights: np.ndarray,
    scores: dict[str, np.ndarray],
    pairs: list[tuple[str, str]],
    efficiencies_percent: list[int],
    *,
    event_ids: np.ndarray | None = None,
    n_bootstrap: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> list[PairedDifference]:
    """AUC differences and 1/eps_B ratios for every ``(model, reference)`` pair in ``pairs``,
    all on the same bootstrap replicates (so any two comparisons are themselves consistent)."""
    labels = np.asarray(labels)
    weights = np.asarray(weights, dtype=np.float64)
    groups = np.arange(len(labels)) if event_ids is None else np.asarray(event_ids)
    n_groups = int(groups.max()) + 1
    names = sorted({name for pair in pairs for name in pair})
    taggers = {name: _SortedTagger(np.asarray(scores[name], dtype=np.float64)) for name in names}
    parts: dict[str, list[dict[str, np.ndarray]]] = {name: [] for name in names}
    for counts in _event_counts(n_groups, n_bootstrap, seed, _batch_size(labels.size)):
        multiplicity = counts[:, groups]
        signal_w = multiplicity * (weights * (labels == 1))
        background_w = multiplicity * (weights * (labels == 0))
        for name in names:
            parts[name].append(
                _replicate_quantities(taggers[name], signal_w, background_w, efficiencies_percent)
            )
    replicates = {
        name: {q: np.concatenate([p[q] for p in chunks]) for q in chunks[0]}
        for name, chunks in parts.items()
    }
    efficiencies = tuple(p / 100 for p in efficiencies_percent)
    central = {name: point_metrics(labels, scores[name], weights, efficiencies) for name in names}
    tail = (1.0 - level) / 2.0
    results = []
    for model, reference in pairs:
        for quantity in ["auc", *(f"rejection_{p}" for p in efficiencies_percent)]:
            kind = "difference" if quantity == "auc" else "ratio"
            a, b = replicates[model][quantity], replicates[reference][quantity]
            c_a, c_b = central[model][quantity], central[reference][quantity]
            if kind == "difference":
                values, value = a - b, c_a - c_b
            else:
                with np.errstate(invalid="ignore", divide="ignore"):
                    values = a / b
                value = c_a / c_b if math.isfinite(c_a) and math.isfinite(c_b) else math.nan
            finite = values[np.isfinite(values)]
            defined = finite.size >= max(10, n_bootstrap // 2)
            low, high = np.quantile(finite, [tail, 1.0 - tail]) if defined else (None, None)
            results.append(
                PairedDifference(
                    quantity=quantity,
                    model=model,
                    reference=reference,
                    kind=kind,
                    value=float(value) if math.isfinite(value) else None,
                    low=None if low is None else float(low),
                    high=None if high is None else float(high),
                    std=float(finite.std(ddof=1)) if defined else None,
                    level=level,
                    n_bootstrap=n_bootstrap,
                    n_undefined=int(values.size - finite.size),
                )
            )
    return results
