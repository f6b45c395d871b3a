"""Paired, event-level bootstrap of the weighted ROC AUC for several score vectors at once.

The firmware question is a *difference*: how much AUC does the fixed-point network lose against
the float one on the same jets? Resampling the two score vectors independently would add the
full sampling noise of each AUC to the difference; resampling the jets once and evaluating both
scores on the same resample keeps only the noise of the difference (tiny when most jets keep
their rank). Jets of one event are not independent (both leading large-R jets of a QCD event),
so whole events are resampled: an event is (label, chunk, event_number) of the dataset, and
signal and background events are resampled separately so that every resample keeps both classes.

A resample is a vector of integer multiplicities per event; each jet's weight is multiplied by
its event's multiplicity. For a fixed score vector the jet order is sorted once, and the AUCs of
a whole batch of resamples are cumulative sums of a (batch x jets) weight matrix in that order:
about a millisecond per resample for 10^4 jets, whatever the number of candidates.

(A general event-level paired bootstrap is being added to ``deeppp.metrics`` by the ml stage;
this module is the firmware's own until the two are unified.)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from deeppp.metrics import weighted_auc

#: Resamples x jets evaluated at once (memory: 8 bytes each, ~32 MB per batch).
_BATCH_ELEMENTS = 4_000_000


def event_index(labels: np.ndarray, chunk: np.ndarray, event_number: np.ndarray) -> np.ndarray:
    """Per jet, the index 0..E-1 of its event; an event is (label, chunk, event_number)."""
    keys = np.stack(
        [
            np.asarray(labels, dtype=np.int64),
            np.asarray(chunk, dtype=np.int64),
            np.asarray(event_number, dtype=np.int64),
        ],
        axis=1,
    )
    _, index = np.unique(keys, axis=0, return_inverse=True)
    return np.asarray(index, dtype=np.int64).reshape(-1)


@dataclass(frozen=True)
class Interval:
    """Central value (on the jets as they are) and bootstrap quantiles of a statistic."""

    value: float
    low: float
    high: float


class PairedEventBootstrap:
    """The same ``n_resamples`` event resamples applied to every score vector it is given.

    ``labels``, ``weights`` and ``events`` (from :func:`event_index`) describe the jets;
    ``seed`` fixes the resamples, so equal inputs give equal intervals.
    """

    def __init__(
        self,
        labels: np.ndarray,
        weights: np.ndarray,
        events: np.ndarray,
        n_resamples: int,
        seed: int,
    ) -> None:
        self.labels = np.asarray(labels, dtype=np.int64)
        self.weights = np.asarray(weights, dtype=np.float64)
        self.events = np.asarray(events, dtype=np.int64)
        if not len(self.labels) == len(self.weights) == len(self.events):
            raise ValueError("labels, weights and events must have one entry per jet")
        if n_resamples < 1:
            raise ValueError("need at least one resample")
        self.n_resamples = int(n_resamples)
        self.seed = int(seed)
        self.n_events = int(self.events.max()) + 1 if len(self.events) else 0
        event_label = np.full(self.n_events, -1, dtype=np.int64)
        event_label[self.events] = self.labels
        if (event_label[self.events] != self.labels).any():
            raise ValueError(
                "an event holds jets of both labels; events are (label, chunk, number)"
            )
        # Events per class: each resample draws as many events of a class as it has.
        self._classes = [np.flatnonzero(event_label == c) for c in (0, 1)]
        if any(len(c) == 0 for c in self._classes):
            raise ValueError("the bootstrap needs signal and background events")

    @property
    def n_jets(self) -> int:
        return len(self.labels)

    def _batches(self) -> Iterator[np.ndarray]:
        """(batch, n_jets) multiplicity-times-weight matrices; identical on every call."""
        per_batch = max(1, _BATCH_ELEMENTS // max(1, self.n_jets))
        for batch, start in enumerate(range(0, self.n_resamples, per_batch)):
            size = min(per_batch, self.n_resamples - start)
            rng = np.random.default_rng([self.seed, batch])
            offsets = (np.arange(size) * self.n_events)[:, None]
            counts = np.zeros(size * self.n_events, dtype=np.float64)
            for members in self._classes:
                drawn = members[rng.integers(0, len(members), size=(size, len(members)))]
                counts += np.bincount((drawn + offsets).ravel(), minlength=size * self.n_events)
            yield counts.reshape(size, self.n_events)[:, self.events] * self.weights[None, :]

    def auc_resamples(self, scores: Sequence[np.ndarray]) -> np.ndarray:
        """AUC of every score vector on every resample, shape (len(scores), n_resamples)."""
        orders = [_Sorted(np.asarray(s, dtype=np.float64), self.labels) for s in scores]
        out = np.empty((len(orders), self.n_resamples))
        start = 0
        for weights in self._batches():
            stop = start + len(weights)
            for k, order in enumerate(orders):
                out[k, start:stop] = order.auc(weights)
            start = stop
        return out

    def auc(self, scores: np.ndarray) -> float:
        """The AUC on the jets as they are (no resampling)."""
        return weighted_auc(self.labels, np.asarray(scores, dtype=np.float64), self.weights)


class _Sorted:
    """One score vector sorted once; the weighted AUC for many weight vectors in that order.

    Same curve as :func:`deeppp.metrics.weighted_roc`: one ROC point per distinct score
    (ties form one step), trapezoidal area.
    """

    def __init__(self, scores: np.ndarray, labels: np.ndarray) -> None:
        if not np.isfinite(scores).all():
            raise ValueError("scores must be finite")
        self.order = np.argsort(-scores, kind="mergesort")
        sorted_scores = scores[self.order]
        self.signal = labels[self.order] == 1
        self.last = np.r_[np.flatnonzero(np.diff(sorted_scores)), len(scores) - 1]

    def auc(self, weights: np.ndarray) -> np.ndarray:
        w = weights[:, self.order]
        signal = np.cumsum(np.where(self.signal, w, 0.0), axis=1)[:, self.last]
        background = np.cumsum(np.where(self.signal, 0.0, w), axis=1)[:, self.last]
        eps_s = signal / signal[:, -1:]
        eps_b = background / background[:, -1:]
        zeros = np.zeros((len(w), 1))
        eps_s, eps_b = np.hstack([zeros, eps_s]), np.hstack([zeros, eps_b])
        return np.sum(np.diff(eps_b, axis=1) * (eps_s[:, 1:] + eps_s[:, :-1]) * 0.5, axis=1)


def quantile(samples: np.ndarray, level: float) -> float:
    """Bootstrap percentile (linear interpolation, deterministic)."""
    return float(np.quantile(np.asarray(samples, dtype=np.float64), level))


def loss_interval(
    bootstrap: PairedEventBootstrap,
    reference_scores: np.ndarray,
    scores: np.ndarray,
    confidence: float,
) -> Interval:
    """AUC(reference) - AUC(scores), central value and two-sided ``confidence`` interval."""
    samples = bootstrap.auc_resamples([reference_scores, scores])
    loss = samples[0] - samples[1]
    alpha = 1.0 - confidence
    value = bootstrap.auc(reference_scores) - bootstrap.auc(scores)
    return Interval(value, quantile(loss, alpha / 2), quantile(loss, 1 - alpha / 2))
