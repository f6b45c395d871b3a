"""L0 regularisation with hard-concrete gates (Louizos, Welling, Kingma, "Learning Sparse Neural
Networks through L0 Regularization", ICLR 2018), with a budget constraint.

Each unit of the group gets a stochastic gate (:class:`ml.gates.HardConcreteGate`, one sample
per mini-batch). After the shared plain warm-up the gates switch on and a penalty on the
*expected* budget usage (the expected number of non-zero gates, or the expected multiplications
from the per-layer expected counts) pushes it below the same stepped target AutoPruner uses:
``strength * n * (relu(E[usage] - target_t) / full)^2``. The gate parameters ``log_alpha`` train
with Adam. At the end of the pruning steps the units with the largest ``log_alpha`` are kept,
exactly within the budget, their deterministic test-time gate values are folded into the
weights, and the extracted network is fine-tuned like every other method's.
"""

from __future__ import annotations

from typing import Any

import torch

from ml.gates import GatedTagger, HardConcreteGate
from ml.methods.base import (
    MethodInputs,
    PruningMethod,
    TrainedTagger,
    finetune_extracted,
    group_gate,
    selection_details,
    start,
)
from ml.selection import group_cost, select_by_score
from ml.training import TrainingHooks, train_loop

#: Smallest value a kept gate is frozen at: a kept unit whose deterministic gate is 0 stays in
#: the network (and the fine-tuning can revive it) instead of silently undercutting the budget.
MIN_KEPT_GATE = 1e-3


class L0Hooks(TrainingHooks):
    """Plain warm-up, then gates + expected-usage penalty; commit at the end of the pruning."""

    early_stopping = False

    def __init__(self, inputs: MethodInputs, gate: HardConcreteGate, record_every: int) -> None:
        super().__init__(inputs.gauge_layers, 0.0)
        self.inputs = inputs
        self.gate = gate
        self.schedule = inputs.settings.schedule
        self.l0 = inputs.settings.l0
        self.record_every = record_every
        self.gate_optimiser: torch.optim.Optimizer | None = None
        self.expected_at_commit: float | None = None

    def start(self, net: GatedTagger, optimiser: torch.optim.Optimizer) -> None:
        super().start(net, optimiser)
        self.gate_optimiser = torch.optim.Adam([self.gate.logits], lr=self.l0.learning_rate)
        self.gate.logits.requires_grad_(False)
        net.deactivate_gates()

    def step_limit(self) -> int:
        return self.schedule.prune_end_step

    def phase(self, step: int) -> str:
        return "warmup" if step < self.schedule.warmup_steps else "prune"

    def before_step(self, step: int) -> None:
        if step == self.schedule.warmup_steps:
            assert self.net is not None
            self.net.activate_gates()
            self.gate.logits.requires_grad_(True)
            self.set_gauge_decay(self.inputs.gauge_strength, self.inputs.settings.training)

    def target(self, step: int) -> float:
        j = (step - self.schedule.warmup_steps) // self.schedule.steps_per_pruning_step
        full, budget = self.inputs.full_usage, self.inputs.target
        return full - (full - budget) * (j + 1) / self.schedule.pruning_steps

    def expected_usage(self) -> torch.Tensor:
        probability = self.gate.keep_probability()
        counts = [p.sum() for p in torch.split(probability, list(self.gate.sizes))]
        return torch.as_tensor(
            group_cost(counts, self.inputs.budget.cost_unit, self.inputs.neighbour_widths)
        )

    def extra_loss(self, step: int) -> torch.Tensor | None:
        if step < self.schedule.warmup_steps:
            return None
        full = float(self.inputs.full_usage)
        excess = torch.relu(self.expected_usage() - self.target(step)) / full
        return self.l0.strength * self.gate.n_nodes * excess**2

    def zero_grad(self) -> None:
        assert self.gate_optimiser is not None
        self.gate_optimiser.zero_grad(set_to_none=True)

    def after_step(self, step: int) -> None:
        if step >= self.schedule.warmup_steps:
            assert self.gate_optimiser is not None
            self.gate_optimiser.step()

    def checkpoint_due(self, steps_done: int) -> bool:
        return steps_done > self.schedule.warmup_steps and (
            steps_done % self.record_every == 0 or steps_done == self.schedule.prune_end_step
        )

    def at_checkpoint(self, steps_done: int, record: dict[str, Any]) -> bool:
        if steps_done > self.schedule.warmup_steps:
            with torch.no_grad():
                record["expected_usage"] = float(self.expected_usage())
            record["target"] = self.target(steps_done - 1)
        return False


def train_l0(inputs: MethodInputs) -> TrainedTagger:
    settings = inputs.settings
    standardisation, device, data = start(inputs)
    group = inputs.budget.group
    l0 = settings.l0
    generator = torch.Generator().manual_seed(inputs.seed + 104729)

    def factory(sizes: Any) -> HardConcreteGate:
        return HardConcreteGate(
            sizes,
            l0.initial_keep_probability,
            l0.temperature,
            (l0.stretch_low, l0.stretch_high),
            generator,
        )

    net = GatedTagger(
        inputs.n_inputs,
        inputs.hidden_layout,
        input_gate=group == "inputs",
        hidden_gates=group == "hidden",
        gate_factory=factory,
    )
    gate = group_gate(net, group)
    steps_per_epoch = max(1, -(-len(data["train"]) // settings.training.batch_size))
    record_every = max(1, min(steps_per_epoch, settings.schedule.steps_per_pruning_step // 2))
    hooks = L0Hooks(inputs, gate, record_every)
    pruning = train_loop(
        net, data["train"], data["val"], settings.training, inputs.seed, hooks, desc=inputs.name
    )
    with torch.no_grad():
        expected = float(hooks.expected_usage())
        scores = gate.logits.detach().cpu().clone()
        kept = select_by_score(
            scores,
            inputs.group_sizes,
            inputs.budget.cost_unit,
            inputs.target,
            inputs.neighbour_widths,
        )
        values = gate.deterministic().detach().cpu()
        nonzero = int((values > 0).sum())
        gate.freeze(torch.where(kept, values.clamp(min=MIN_KEPT_GATE), 0.0))
    sequential, names, reduced, finetune, diff = finetune_extracted(
        inputs, net, standardisation, device
    )
    details = {
        **selection_details(inputs, kept, scores),
        "expected_usage_at_commit": round(expected, 4),
        "deterministic_nonzero_gates_at_commit": nonzero,
        "extraction_max_abs_diff": diff,
    }
    fits = [pruning] if finetune is None else [pruning, finetune]
    return TrainedTagger(sequential, names, reduced, fits, details)


METHOD = PruningMethod("l0", train_l0)
