"""Prune/train/repeat (the classic iterative pruning of the talk, after Han et al. 2015): train
the full network (plain, early stopping), then repeatedly remove the units with the smallest
magnitude score (:func:`ml.methods.base.magnitude_scores`) until the usage has dropped by
``prune_fraction`` of what is left, *extract* the smaller network and retrain it (plain, early
stopping, at most ``max_epochs_per_step``), until the budget is met. Every training gets the
shared gauge decay on the weights that follow the prunable units. The cost is the sum over all
trainings."""

from __future__ import annotations

from typing import Any

import torch

from ml.gates import GatedTagger, extract_sequential
from ml.methods.base import (
    MAGNITUDE_CRITERION,
    MethodInputs,
    PruningMethod,
    TrainedTagger,
    group_gate,
    kept_feature_names,
    magnitude_scores,
    mask_net,
    prepare,
    selection_details,
    start,
    train_full,
)
from ml.selection import select_by_score
from ml.training import FitResult, fit_plain


def train_ptr(inputs: MethodInputs) -> TrainedTagger:
    settings = inputs.settings
    standardisation, device, data = start(inputs)
    net = mask_net(inputs, standardisation)
    group = inputs.budget.group
    fits: list[FitResult] = [train_full(inputs, net, data)]
    sizes = list(inputs.group_sizes)
    # Which of the original units are still alive (all layers concatenated).
    alive = torch.ones(sum(sizes), dtype=torch.bool)
    names = list(inputs.feature_names)
    steps: list[dict[str, Any]] = []
    all_scores = torch.zeros(sum(sizes))
    step = 0
    while True:
        counts = [int(m.sum()) for m in torch.split(alive, sizes)]
        usage = inputs.usage(counts)
        if usage <= inputs.target:
            break
        step += 1
        step_target = max(
            inputs.target,
            min(usage - 1, round(usage * (1.0 - settings.ptr.prune_fraction))),
        )
        net = net.cpu()
        scores = magnitude_scores(net, group)
        # Scores of the current (extracted) network mapped back onto the original units.
        full_scores = torch.full((sum(sizes),), -torch.inf)
        full_scores[alive] = scores
        all_scores = torch.where(alive, full_scores, all_scores)
        kept = select_by_score(
            full_scores, sizes, inputs.budget.cost_unit, step_target, inputs.neighbour_widths
        )
        group_gate(net, group).freeze(kept[alive].float())
        sequential, kept_inputs = extract_sequential(net)
        if group == "inputs":
            names = [n for n, keep in zip(names, kept_inputs.tolist(), strict=True) if keep]
        alive = kept
        net = GatedTagger.from_sequential(sequential)
        # The next step prunes this smaller network: fresh all-open masks on its group.
        net = _with_masks(net, group)
        data = prepare(inputs.samples, standardisation, device, names)
        result = fit_plain(
            net,
            data["train"],
            data["val"],
            settings.training,
            inputs.seed + step,
            max_epochs=settings.ptr.max_epochs_per_step,
            gauge_layers=inputs.gauge_layers,
            gauge_decay=inputs.gauge_strength,
            keep_start=True,
            desc=f"{inputs.name} step {step}",
        )
        fits.append(result)
        counts = [int(m.sum()) for m in torch.split(alive, sizes)]
        steps.append(
            {
                "step": step,
                "usage": inputs.usage(counts),
                "kept_per_layer": counts,
                "epochs": round(result.epochs, 4),
                "val_auc": result.history[-1]["val_auc"],
            }
        )
    sequential, _ = extract_sequential(net.cpu())
    index = [inputs.feature_names.index(n) for n in names]
    details = {
        **selection_details(inputs, alive, all_scores),
        "criterion": MAGNITUDE_CRITERION,
        "steps": steps,
    }
    assert kept_feature_names(inputs, _input_mask(inputs, names)) == names
    return TrainedTagger(sequential, names, standardisation.subset(index), fits, details)


def _input_mask(inputs: MethodInputs, names: list[str]) -> torch.Tensor:
    return torch.tensor([n in names for n in inputs.feature_names])


def _with_masks(net: GatedTagger, group: str) -> GatedTagger:
    """``net`` rebuilt with an all-open, frozen mask gate on ``group``."""
    masked = GatedTagger(
        net.layout[0],
        net.layout[1:-1],
        input_gate=group == "inputs",
        hidden_gates=group == "hidden",
    )
    masked.load_state_dict(net.state_dict(), strict=False)
    gate = group_gate(masked, group)
    gate.freeze(torch.ones(gate.n_nodes))
    return masked


METHOD = PruningMethod("ptr", train_ptr)
