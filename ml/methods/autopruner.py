"""AutoPruner (ICHEP 2022): gates ``sigmoid(w_i)`` trained with the pruner loss during one
training, snapped to exactly the budget, extracted, fine-tuned (``ml.autopruner``, loss and
schedule). :func:`train_gated_pruner` also serves the random-selection control, which runs the
same recipe with a fixed, seeded assignment instead of the learned ranking.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from ml.autopruner import (
    GateDynamics,
    GateGroup,
    PrunerSchedule,
    SnapReport,
    describe_schedule,
    make_groups,
    schedule_warning,
)
from ml.gates import GatedTagger
from ml.methods.base import (
    MethodInputs,
    PruningMethod,
    TrainedTagger,
    finetune_extracted,
    selection_details,
    start,
)
from ml.selection import select_by_score
from ml.settings import TrainingSettings
from ml.training import FitResult, TrainingHooks, gate_snapshot, train_loop

logger = logging.getLogger(__name__)


class GateSGD:
    """SGD with momentum 0.9 for the gate logits, the same arithmetic as ``torch.optim.SGD``
    (``buf = 0.9 buf + grad``, first ``buf = grad``; ``w -= lr buf``) without its per-step
    Python overhead, which is a sizeable part of a small tagger's step."""

    MOMENTUM = 0.9

    def __init__(self, params: list[torch.nn.Parameter], lr: float) -> None:
        self.params = params
        self.lr = lr
        self.buffers: list[torch.Tensor | None] = [None] * len(params)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            buffer = self.buffers[i]
            if buffer is None:
                buffer = self.buffers[i] = torch.clone(p.grad).detach()
            else:
                buffer.mul_(self.MOMENTUM).add_(p.grad)
            p.add_(buffer, alpha=-self.lr)


class GatedPrunerHooks(TrainingHooks):
    """Warm-up (gates off), pruning steps and settling of the AutoPruner schedule, ending at
    the snap; checkpoints every ``record_every`` optimiser steps once pruning has started."""

    early_stopping = False

    def __init__(
        self,
        schedule: PrunerSchedule,
        training: TrainingSettings,
        gauge_layers: tuple[int, ...],
        gauge_decay: float,
        val_x: torch.Tensor,
        record_every: int,
    ) -> None:
        super().__init__(gauge_layers, 0.0)
        self.schedule = schedule
        self.training = training
        self.pending_gauge = gauge_decay
        self.val_x = val_x
        self.record_every = record_every
        self.dynamics = GateDynamics(schedule.groups, schedule.settings.snap_threshold)
        self.snap: SnapReport | None = None
        self.gate_optimiser: GateSGD | None = None

    @property
    def gate_params(self) -> list[torch.nn.Parameter]:
        return [g.gate.logits for g in self.schedule.groups]

    def start(self, net: GatedTagger, optimiser: torch.optim.Optimizer) -> None:
        super().start(net, optimiser)
        # Plain SGD with momentum for the gates, not Adam: Adam normalises each gate's step, so
        # every gate would fall at the same speed while the group is over budget, whatever the
        # classifier's resistance (docs/autopruner.md).
        self.gate_optimiser = GateSGD(self.gate_params, self.schedule.settings.gate_learning_rate)
        for p in self.gate_params:
            p.requires_grad_(False)  # gates only train once pruning starts
        net.deactivate_gates()  # warm-up is plain training

    def step_limit(self) -> int:
        return self.schedule.last_step

    def phase(self, step: int) -> str:
        return self.schedule.phase(step)

    def pruning(self, step: int) -> bool:
        return self.schedule.phase(step) in ("prune", "settle")

    def before_step(self, step: int) -> None:
        if step == self.schedule.prune_start:
            assert self.net is not None
            self.net.activate_gates()  # function unchanged: weights divided by the gate values
            for p in self.gate_params:
                p.requires_grad_(True)
            # Weights right after a trainable gate get the gauge term while pruning: without it
            # the network undoes a shrinking gate by growing them (docs/autopruner.md).
            self.set_gauge_decay(self.pending_gauge, self.training)

    def zero_grad(self) -> None:
        assert self.gate_optimiser is not None
        self.gate_optimiser.zero_grad(set_to_none=True)

    def after_backward(self, step: int) -> None:
        if self.pruning(step):
            # L_TOT = L_classifier + L_pruner: the pruner's gradient is added in closed form.
            self.schedule.add_gradients(step)

    def after_step(self, step: int) -> None:
        if not self.pruning(step):
            return
        assert self.gate_optimiser is not None
        self.gate_optimiser.step()
        self.dynamics.observe(step + 1)
        if step + 1 == self.schedule.prune_end:
            self.dynamics.at_commit(step + 1)

    def checkpoint_due(self, steps_done: int) -> bool:
        return steps_done > self.schedule.prune_start and (
            steps_done % self.record_every == 0 or steps_done == self.schedule.prune_end
        )

    def at_checkpoint(self, steps_done: int, record: dict[str, Any]) -> bool:
        if steps_done == 0:
            return False
        last = steps_done - 1
        record["targets"] = self.schedule.targets(last)
        record["beta"] = self.schedule.beta(last)
        if not self.pruning(last):
            return False
        with torch.no_grad():
            loss = self.schedule.loss(last)
        record["pruner_loss"] = None if loss is None else float(loss)
        assert self.net is not None
        snap = self.schedule.try_snap(self.net, steps_done, self.val_x)
        if snap is None:
            return False
        self.snap = snap
        record["phase"] = "snap"
        record["gates"] = gate_snapshot(self.net)  # the frozen values (0 = pruned)
        return True

    def finish(self, result: FitResult) -> None:
        if self.snap is None:
            raise self.schedule.failure(result.optimiser_steps)


def random_assignment(group: GateGroup, seed: int) -> torch.Tensor:
    """A seeded random selection within the group's budget (the control's fixed choice)."""
    scores = torch.rand(group.size, generator=torch.Generator().manual_seed(seed))
    return select_by_score(
        scores, group.sizes, group.cost_unit, group.budget, group.neighbour_widths
    )


def train_gated_pruner(inputs: MethodInputs, *, random_selection: bool = False) -> TrainedTagger:
    """One training with gates and the pruner loss; the snapped network is extracted and
    fine-tuned. ``random_selection``: the assignment is a fixed random one (the control)."""
    settings = inputs.settings
    standardisation, device, data = start(inputs)
    p, sched = settings.pruner, settings.schedule
    warning = schedule_warning(sched, p)
    if warning:
        logger.warning("%s: %s", inputs.name, warning)
    group = inputs.budget.group
    net = GatedTagger(
        inputs.n_inputs,
        inputs.hidden_layout,
        input_gate=group == "inputs",
        hidden_gates=group == "hidden",
        gate_init=p.gate_init,
    )
    target = inputs.target
    groups = make_groups(
        net,
        input_keep=target if group == "inputs" else None,
        hidden_budget=target if group == "hidden" else None,
        cost_unit=inputs.budget.cost_unit,
    )
    if random_selection:
        for g in groups:
            g.fixed = random_assignment(g, inputs.seed + 7919)
    schedule = PrunerSchedule(p, sched, groups)
    steps_per_epoch = max(1, -(-len(data["train"]) // settings.training.batch_size))
    record_every = max(1, min(steps_per_epoch, sched.steps_per_pruning_step // 2))
    described = describe_schedule(sched, steps_per_epoch)
    logger.info("%s: schedule %s", inputs.name, described)
    hooks = GatedPrunerHooks(
        schedule,
        settings.training,
        inputs.gauge_layers,
        inputs.gauge_strength,
        data["val"].x,
        record_every,
    )
    pruning = train_loop(
        net, data["train"], data["val"], settings.training, inputs.seed, hooks, desc=inputs.name
    )
    snap = hooks.snap
    assert snap is not None  # finish() raised otherwise
    gate = groups[0].gate
    kept = gate.kept().cpu()
    # The ranking the commit used: the gate logits at the end of the pruning steps.
    commit_scores = hooks.dynamics.commit_scores.get(groups[0].name)
    dynamics = hooks.dynamics.summary({g.name: g.gate.kept() for g in groups}, schedule.prune_start)
    sequential, names, reduced, finetune, diff = finetune_extracted(
        inputs, net, standardisation, device
    )
    details: dict[str, Any] = {
        **selection_details(inputs, kept, commit_scores),
        "schedule": described,
        "snap": {
            "step": snap.step,
            "epoch": round(snap.step / steps_per_epoch, 4),
            "separation": snap.separation,
            "max_abs_logit_change": snap.max_abs_logit_change,
            "tolerance": p.snap_tolerance,
        },
        "gate_dynamics": dynamics,
        "extraction_max_abs_diff": diff,
        "random_assignment": random_selection,
        "schedule_warning": warning,
    }
    pruning.details = {"phase": "pruning"}
    fits = [pruning] if finetune is None else [pruning, finetune]
    if finetune is not None:
        finetune.details = {"phase": "finetune"}
    return TrainedTagger(sequential, names, reduced, fits, details)


METHOD = PruningMethod("autopruner", lambda inputs: train_gated_pruner(inputs))
