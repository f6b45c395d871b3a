"""Choosing which units survive a budget, from one score per unit.

Every method ends with this decision: AutoPruner and the L0 gates rank by their gate logits, the
magnitude methods by a weight norm, the random control by seeded random numbers. A group is the
input layer or all hidden layers together (so the per-layer allocation follows the scores), and
every layer keeps at least one unit (else the network would be cut in two).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from deeppp.contracts import multiplications


def group_cost(
    counts: Sequence[float | torch.Tensor],
    cost_unit: str,
    neighbour_widths: tuple[int, int],
) -> float | torch.Tensor:
    """Budget usage of per-layer unit counts: the number of units, or the multiplications of
    the whole network (``neighbour_widths``: the fixed widths before and after the group)."""
    if cost_unit == "nodes":
        return sum(counts)
    return multiplications([neighbour_widths[0], *counts, neighbour_widths[1]])


def select_by_score(
    scores: torch.Tensor,
    sizes: Sequence[int],
    cost_unit: str,
    budget: float,
    neighbour_widths: tuple[int, int] = (0, 1),
) -> torch.Tensor:
    """Boolean mask (all layers concatenated) of the units kept for ``budget``: highest scores
    first, the best unit of every layer always included.

    Nodes: exactly ``max(round(budget), n_layers)`` units. Multiplications: greedy in score
    order, adding a unit whenever the total still fits, so the result is within budget and no
    further unit fits. Equal scores are ordered by position (deterministic); callers that must
    not depend on that check the margin (:func:`selection_margin`).
    """
    sizes = [int(n) for n in sizes]
    n = sum(sizes)
    scores = scores.detach().reshape(-1)
    device = scores.device
    # The best unit of each layer (first one on ties) gets an infinite bonus: a padded
    # [layers, widest] view makes this one argmax instead of a loop with a sync per layer.
    padded_index = _padded_index(tuple(sizes), device)
    padded = torch.cat([scores, scores.new_full((1,), -math.inf)])[padded_index]
    best = padded_index.gather(1, padded.argmax(dim=1, keepdim=True)).squeeze(1)
    bonus = torch.zeros_like(scores).index_fill_(0, best, math.inf)
    order = torch.sort(scores + bonus, descending=True, stable=True).indices
    if cost_unit == "nodes":
        chosen = torch.zeros(n, dtype=torch.bool, device=device)
        chosen[order[: max(round(budget), len(sizes))]] = True
        return chosen
    chosen_cpu = torch.zeros(n, dtype=torch.bool)
    layer_of = [i for i, width in enumerate(sizes) for _ in range(width)]
    counts = [0] * len(sizes)
    for index in order[: len(sizes)].tolist():  # one unit per layer, unconditionally
        chosen_cpu[index] = True
        counts[layer_of[index]] += 1
    for index in order[len(sizes) :].tolist():
        trial = list(counts)
        trial[layer_of[index]] += 1
        if group_cost(trial, cost_unit, neighbour_widths) <= budget + 1e-9:
            chosen_cpu[index] = True
            counts = trial
    return chosen_cpu.to(device)


_PADDED: dict[tuple[tuple[int, ...], str], torch.Tensor] = {}


def _padded_index(sizes: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """``[layers, widest]`` flat unit indices, padded with ``sum(sizes)`` (points at -inf)."""
    key = (sizes, str(device))
    if key not in _PADDED:
        widest, total = max(sizes), sum(sizes)
        rows, offset = [], 0
        for width in sizes:
            rows.append(list(range(offset, offset + width)) + [total] * (widest - width))
            offset += width
        _PADDED[key] = torch.tensor(rows, device=device)
    return _PADDED[key]


def selection_margin(scores: torch.Tensor, kept: torch.Tensor) -> float:
    """Smallest kept score minus the largest rejected score (negative: the per-layer minimum
    or the cost greedy kept a lower-scored unit); inf when nothing was rejected."""
    scores = scores.detach().reshape(-1).cpu()
    kept = kept.reshape(-1).cpu()
    if bool(kept.all()):
        return math.inf
    return float(scores[kept].min() - scores[~kept].max())
