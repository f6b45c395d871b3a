"""Do two hidden layouts rank the input features alike, within seed-to-seed noise?

The talk claims the input ranking is independent of the hidden layout. A ranking also varies
from seed to seed, so the claim only means something against that noise. With ``n`` seeds per
layout, the pairwise agreements (Spearman rank correlation of the feature scores, Jaccard index
of the selected sets) *within* a layout measure seed noise, those *across* layouts measure seed
noise plus any layout effect. The statistic is mean(within) - mean(across); its null
distribution comes from every relabelling of the ``2n`` models into two groups of ``n``
(exact permutation test). ``p`` is the fraction of relabellings with a statistic at least the
observed one; the smallest attainable ``p`` is ``2 / C(2n, n)`` (0.1 for 3 seeds, 0.008 for 5),
so with 3 seeds the test can never reject at 5 % — the verdict says so.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.stats import spearmanr


def spearman(a: dict[str, float], b: dict[str, float]) -> float:
    """Rank correlation of two feature -> score maps over their common features."""
    names = sorted(set(a) & set(b))
    rho = spearmanr([a[n] for n in names], [b[n] for n in names]).statistic
    return float(rho) if math.isfinite(rho) else 0.0


def jaccard(a: Sequence[str], b: Sequence[str]) -> float:
    union = set(a) | set(b)
    return len(set(a) & set(b)) / len(union) if union else 1.0


def layout_agreement(
    group_a: Sequence[Any],
    group_b: Sequence[Any],
    similarity: Callable[[Any, Any], float],
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Permutation test of "layouts agree within seed noise" (module docstring)."""
    models = list(group_a) + list(group_b)
    n_a = len(group_a)
    n = len(models)
    if n_a < 2 or len(group_b) < 2:
        raise ValueError("need at least two seeds per layout")
    sim = np.ones((n, n))
    for i, j in itertools.combinations(range(n), 2):
        sim[i, j] = sim[j, i] = similarity(models[i], models[j])

    def statistic(labels: tuple[int, ...]) -> tuple[float, list[float], list[float]]:
        in_a = set(labels)
        within: list[float] = []
        across: list[float] = []
        for i, j in itertools.combinations(range(n), 2):
            same = (i in in_a) == (j in in_a)
            (within if same else across).append(sim[i, j])
        return float(np.mean(within) - np.mean(across)), within, across

    observed, within, across = statistic(tuple(range(n_a)))
    null = [statistic(c)[0] for c in itertools.combinations(range(n), n_a)]
    p_value = float(np.mean([s >= observed - 1e-12 for s in null]))
    p_min = float(np.mean([s >= max(null) - 1e-12 for s in null]))
    if p_min > alpha:
        verdict = (
            f"cannot be tested at {alpha:g} with {n_a} seeds per layout (smallest attainable "
            f"p = {p_min:.3f}); more seeds needed"
        )
    elif p_value <= alpha:
        verdict = "layouts disagree beyond seed noise"
    else:
        verdict = "layouts agree within seed noise"
    return {
        "within_layout": [float(v) for v in within],
        "across_layouts": [float(v) for v in across],
        "mean_within": float(np.mean(within)),
        "mean_across": float(np.mean(across)),
        "statistic": observed,
        "p_value": p_value,
        "smallest_attainable_p": p_min,
        "alpha": alpha,
        "agree_within_seed_noise": bool(p_value > alpha),
        "testable": bool(p_min <= alpha),
        "verdict": verdict,
    }
