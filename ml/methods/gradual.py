"""Gradual magnitude pruning inside one training (Zhu & Gupta, "To prune, or not to prune:
exploring the efficacy of pruning for model compression", ICLR 2018 workshop, arXiv:1710.01878),
structured at node level: after a plain warm-up of ``t0`` optimiser steps, the units with the
smallest magnitude score are masked every ``dt`` steps, the pruned share following their cubic
schedule ``s_t = s_f (1 - (1 - (t - t0) / (n dt))^3)`` up to the budget at ``t0 + n dt``. It
uses the shared schedule (``t0`` = ``warmup_steps``, ``n`` = ``pruning_steps``, ``dt`` =
``steps_per_pruning_step``) and the shared gauge decay from ``t0`` on; the masked network is
then extracted and fine-tuned like every other method's."""

from __future__ import annotations

from typing import Any

import torch

from ml.gates import GatedTagger
from ml.methods.base import (
    MAGNITUDE_CRITERION,
    MethodInputs,
    PruningMethod,
    TrainedTagger,
    finetune_extracted,
    group_gate,
    magnitude_scores,
    mask_net,
    selection_details,
    start,
)
from ml.selection import select_by_score
from ml.training import TrainingHooks, train_loop


def cubic_target(full: float, budget: float, j: int, n: int) -> float:
    """Budget usage allowed after pruning update ``j`` (1..n) of ``n``: Zhu & Gupta's cubic
    sparsity schedule with initial sparsity 0, in units of usage (nodes or multiplications)."""
    return full - (full - budget) * (1.0 - (1.0 - j / n) ** 3)


class GradualHooks(TrainingHooks):
    """Mask updates at ``t0 + j dt`` (j = 1..n); training ends with the last one."""

    early_stopping = False

    def __init__(self, inputs: MethodInputs) -> None:
        super().__init__(inputs.gauge_layers, 0.0)
        self.inputs = inputs
        self.schedule = inputs.settings.schedule
        self.updates: list[dict[str, Any]] = []
        self.scores: torch.Tensor | None = None
        self.kept: torch.Tensor | None = None

    def step_limit(self) -> int:
        return self.schedule.prune_end_step

    def phase(self, step: int) -> str:
        return "warmup" if step < self.schedule.warmup_steps else "prune"

    def before_step(self, step: int) -> None:
        if step == self.schedule.warmup_steps:
            self.set_gauge_decay(self.inputs.gauge_strength, self.inputs.settings.training)

    def after_step(self, step: int) -> None:
        done = step + 1 - self.schedule.warmup_steps
        dt = self.schedule.steps_per_pruning_step
        if done <= 0 or done % dt:
            return
        j = done // dt
        assert self.net is not None
        net: GatedTagger = self.net
        inputs = self.inputs
        target = cubic_target(inputs.full_usage, inputs.target, j, self.schedule.pruning_steps)
        scores = magnitude_scores(net, inputs.budget.group)
        kept = select_by_score(
            scores, inputs.group_sizes, inputs.budget.cost_unit, target, inputs.neighbour_widths
        )
        gate = group_gate(net, inputs.budget.group)
        gate.freeze(kept.to(gate.frozen_values))
        self.scores, self.kept = scores, kept
        per_layer = [int(m.sum()) for m in torch.split(kept, list(inputs.group_sizes))]
        self.updates.append(
            {"step": step + 1, "target": round(target, 3), "usage": inputs.usage(per_layer)}
        )

    def checkpoint_due(self, steps_done: int) -> bool:
        start_step = self.schedule.warmup_steps
        return (
            steps_done > start_step
            and (steps_done - start_step) % self.schedule.steps_per_pruning_step == 0
        )


def train_gradual(inputs: MethodInputs) -> TrainedTagger:
    settings = inputs.settings
    standardisation, device, data = start(inputs)
    net = mask_net(inputs, standardisation)
    hooks = GradualHooks(inputs)
    pruning = train_loop(
        net, data["train"], data["val"], settings.training, inputs.seed, hooks, desc=inputs.name
    )
    assert hooks.kept is not None
    kept, scores = hooks.kept, hooks.scores
    sequential, names, reduced, finetune, diff = finetune_extracted(
        inputs, net, standardisation, device
    )
    details = {
        **selection_details(inputs, kept, scores),
        "criterion": MAGNITUDE_CRITERION,
        "updates": hooks.updates,
        "extraction_max_abs_diff": diff,
    }
    fits = [pruning] if finetune is None else [pruning, finetune]
    return TrainedTagger(sequential, names, reduced, fits, details)


METHOD = PruningMethod("gradual", train_gradual)
