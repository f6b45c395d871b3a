"""Choosing a model's own ``ap_fixed<W,I>``: a precision scan with statistics.

For every (W, I) of the grid the bit-accurate network is evaluated on the *validation* jets and
compared with the float network on the same jets: loss = AUC(float) - AUC(fixed). Its
uncertainty comes from a paired event bootstrap (:mod:`firmware.paired_bootstrap`): the same
resamples for the float scores and every candidate. For each W the integer-bit choice I with the
smallest loss upper bound is kept; W *passes* when that upper bound (one-sided quantile
``confidence``) is within the tolerance. The chosen W is the smallest one such that it and every
wider W of the grid pass.

Why both conditions: a narrow format can pass by a statistical fluctuation while the next wider
ones fail (rounding errors are not monotonic in W on a finite sample). The old rule — the
smallest W whose central AUC is within tolerance — picked 7, 8, 9 or 10 bits on bootstrap copies
of one validation set; requiring the upper bound and every wider width to pass makes the choice
reproducible (``tests/test_firmware.py`` shows a seeded case).

The test-set loss of the chosen format, with its paired interval, is reported separately
(:func:`paired_auc_loss`), and flagged when it exceeds the tolerance.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from deeppp.handoffs import AucLoss, PrecisionScan, ScanPoint
from firmware.fixed_point import FixedFormat, QuantisedNetwork
from firmware.jets import Jets
from firmware.network import DenseNetwork
from firmware.paired_bootstrap import PairedEventBootstrap, loss_interval, quantile
from firmware.settings import PrecisionSettings

logger = logging.getLogger(__name__)

RULE = (
    "smallest W whose paired-bootstrap upper bound of AUC(float) - AUC(fixed) on the validation "
    "jets is within the tolerance, every wider W of the grid passing too (best I per W)"
)


@dataclass(frozen=True)
class Candidate:
    fmt: FixedFormat
    auc: float
    loss: float
    loss_upper: float


def scan_grid(total_bits: Sequence[int], integer_bits: Sequence[int]) -> list[FixedFormat]:
    return [
        FixedFormat(w, i)
        for w in sorted(set(total_bits))
        for i in sorted(set(integer_bits))
        if i < w
    ]


def evaluate_grid(
    network: DenseNetwork,
    jets: Jets,
    grid: Sequence[FixedFormat],
    bootstrap: PairedEventBootstrap,
    confidence: float,
    progress: bool = False,
) -> tuple[float, list[Candidate]]:
    """AUC(float) and, per grid point, AUC, loss and loss upper bound (paired resamples)."""
    float_scores = network.forward(jets.x)[:, 0]
    scores = [float_scores]
    for fmt in tqdm(grid, desc="precision scan", unit="format", disable=not progress, leave=False):
        scores.append(QuantisedNetwork.from_network(network, fmt).logits(jets.x)[:, 0])
    resampled = bootstrap.auc_resamples(scores)
    auc_float = bootstrap.auc(float_scores)
    candidates = []
    for k, fmt in enumerate(grid, start=1):
        auc = bootstrap.auc(scores[k])
        upper = quantile(resampled[0] - resampled[k], confidence)
        candidates.append(Candidate(fmt, auc, auc_float - auc, upper))
    return auc_float, candidates


def best_per_width(candidates: Sequence[Candidate]) -> dict[int, Candidate]:
    """Per W, the I with the smallest loss upper bound (ties: larger AUC, then fewer integer
    bits)."""
    best: dict[int, Candidate] = {}
    for c in candidates:
        w = c.fmt.total_bits
        key = (c.loss_upper, -c.auc, c.fmt.integer_bits)
        if w not in best or key < (best[w].loss_upper, -best[w].auc, best[w].fmt.integer_bits):
            best[w] = c
    return best


def choose_width(candidates: Sequence[Candidate], tolerance: float) -> tuple[Candidate, bool]:
    """The stable choice (module docstring); ``(widest best, False)`` if the widest W fails."""
    best = best_per_width(candidates)
    widths = sorted(best)
    chosen: Candidate | None = None
    for w in reversed(widths):
        if best[w].loss_upper > tolerance:
            break
        chosen = best[w]
    if chosen is None:
        return best[widths[-1]], False
    return chosen, True


def smallest_central_width(
    auc_float: float, candidates: Sequence[Candidate], tolerance: float
) -> FixedFormat:
    """The previous rule (for comparison only): smallest W with a central AUC within tolerance."""
    good = [c for c in candidates if c.auc >= auc_float - tolerance]
    if not good:
        widest = max(c.fmt.total_bits for c in candidates)
        good = [c for c in candidates if c.fmt.total_bits == widest]
    smallest = min(c.fmt.total_bits for c in good)
    return max(
        (c for c in good if c.fmt.total_bits == smallest),
        key=lambda c: (c.auc, -c.fmt.integer_bits),
    ).fmt


def scan_precision(
    network: DenseNetwork,
    jets: Jets,
    settings: PrecisionSettings,
    seed: int,
    scan_file: str,
    progress: bool = False,
) -> tuple[FixedFormat, PrecisionScan]:
    """The model's own precision (``mode: scan`` or ``fixed``) and how it was chosen."""
    if settings.mode == "fixed":
        fmt = FixedFormat(settings.total_bits, settings.integer_bits)
        return fmt, PrecisionScan(
            "fixed", fmt.total_bits, fmt.integer_bits, settings.auc_tolerance, rule="config"
        )
    grid = scan_grid(settings.scan_total_bits, settings.scan_integer_bits)
    if not grid:
        raise ValueError("empty precision scan grid")
    bootstrap = PairedEventBootstrap(
        jets.labels, jets.weights, jets.events, settings.bootstrap_samples, seed
    )
    auc_float, candidates = evaluate_grid(
        network, jets, grid, bootstrap, settings.confidence, progress
    )
    chosen, ok = choose_width(candidates, settings.auc_tolerance)
    if not ok:
        logger.warning(
            "no width of the scan grid keeps the AUC loss upper bound within %.4g; using %s",
            settings.auc_tolerance,
            chosen.fmt,
        )
    return chosen.fmt, PrecisionScan(
        mode="scan",
        total_bits=chosen.fmt.total_bits,
        integer_bits=chosen.fmt.integer_bits,
        tolerance=settings.auc_tolerance,
        within_tolerance=ok,
        rule=RULE,
        confidence=settings.confidence,
        n_bootstrap=settings.bootstrap_samples,
        scan_file=scan_file,
        n_jets=jets.n_jets,
        n_events=jets.n_events,
        auc_float=auc_float,
        points=tuple(
            ScanPoint(c.fmt.total_bits, c.fmt.integer_bits, c.auc, c.loss, c.loss_upper)
            for c in candidates
        ),
    )


def paired_auc_loss(
    bootstrap: PairedEventBootstrap,
    float_scores: np.ndarray,
    fixed_scores: np.ndarray,
    settings: PrecisionSettings,
) -> AucLoss:
    """AUC(float) - AUC(fixed) on the test jets with its two-sided paired interval."""
    interval = loss_interval(bootstrap, float_scores, fixed_scores, settings.confidence)
    return AucLoss(
        value=interval.value,
        ci_low=interval.low,
        ci_high=interval.high,
        confidence=settings.confidence,
        n_bootstrap=bootstrap.n_resamples,
        tolerance=settings.auc_tolerance,
        n_jets=bootstrap.n_jets,
        n_events=bootstrap.n_events,
    )
