"""AutoPruner: the pruner loss, its schedule in optimiser steps, and the hard snap
(reasoning and measurements: ``docs/autopruner.md``).

``L_TOT = L_classifier + L_pruner(w)`` with, for every gate group (the inputs, or all hidden
nodes together), ``L_pruner = strength * (B + beta * P)``:

* the **budget term** ``B = n * ((N_soft - k_t) / n)^2`` (nodes; ``N_soft = sum(s_i) / v``) or
  ``B = n * ((C_soft - C_t) / C_full)^2`` (multiplications, with soft per-layer node counts). It
  pushes every gate of the group down with the same force while the group is over budget; the
  classifier gradient resists for the nodes it needs, so the gates that give way are those of
  the nodes the tagger misses least. One ``B`` over all hidden layers lets the layers compete:
  that learns the per-layer allocation. The target ``k_t`` steps from the group size down to
  ``k`` in ``pruning_steps`` steps of ``steps_per_pruning_step`` optimiser steps each.
* the **polarisation term** ``P``: for the assignment ``A`` (the ``k`` largest logits, at least
  one per layer) a BCE pulling ``s_i`` to the pre-set value ``v``, and for the others a hinge in
  logit space, ``relu(w_i - w_closed)``, whose gradient does not vanish as the gate closes.
  ``beta`` ramps from 0 to 1 over ``settle_ramp_steps`` once the pruning steps are done: this is
  the *commit*; the assignment at that moment is what the network keeps.
* the hard **snap** (rejected gates set to exactly 0, kept gates frozen at their value) happens
  at a checkpoint once the gates are separated (rejected < ``snap_threshold``, kept within
  ``open_tolerance`` of ``v``) and the network output moves by less than ``snap_tolerance`` on
  the validation jets.

The random-selection control uses the same machinery with a fixed, seeded assignment
(:attr:`GateGroup.fixed`): the same loss, schedule and snap, only the choice is not learned.
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F

from deeppp import DeepppError
from ml.gates import Gate, GatedTagger
from ml.selection import group_cost, select_by_score, selection_margin
from ml.settings import PrunerSettings, ScheduleSettings

logger = logging.getLogger(__name__)

Phase = Literal["warmup", "prune", "settle", "finetune"]


class PrunerError(DeepppError):
    """The gates did not separate within the allowed steps; the message says by how much."""


@dataclass
class GateGroup:
    """Gates that share one budget: the input layer, or all hidden layers together.

    ``budget`` is a node count (``cost_unit == 'nodes'``) or a multiplication count; for the
    latter, ``neighbour_widths`` gives the fixed widths before the first and after the last
    gated layer (the input count and the output width 1). ``fixed``: a preset assignment (the
    random control) that replaces the learned ranking.
    """

    name: str
    gate: Gate
    cost_unit: str
    budget: int
    neighbour_widths: tuple[int, int] = (0, 1)
    fixed: torch.Tensor | None = None

    @property
    def size(self) -> int:
        return self.gate.n_nodes

    @property
    def sizes(self) -> tuple[int, ...]:
        return self.gate.sizes

    @property
    def full_budget(self) -> int:
        return int(self.cost_of([float(n) for n in self.sizes]))

    def cost_of(self, counts: list[float] | list[torch.Tensor]) -> Any:
        """Budget usage (nodes or multiplications) for given per-layer node counts."""
        return group_cost(counts, self.cost_unit, self.neighbour_widths)

    def target_at_step(self, step: int, n_steps: int) -> float:
        """Budget target after pruning step ``step`` (0-based) of ``n_steps``: linear in budget."""
        full = self.full_budget
        return full - (full - self.budget) * (step + 1) / n_steps

    def scores(self) -> torch.Tensor:
        """What the assignment ranks: the logits, with a fixed assignment always first."""
        logits = self.gate.logits.detach()
        if self.fixed is None:
            return logits
        return logits + torch.where(self.fixed.to(logits.device), math.inf, 0.0)

    def select(self, budget: float) -> torch.Tensor:
        """Boolean mask of the gates that stay open for ``budget`` (all layers concatenated)."""
        return select_by_score(
            self.scores(), self.sizes, self.cost_unit, budget, self.neighbour_widths
        )

    def loss(
        self, target: float, beta: float, gate_target: float, closed_logit: float
    ) -> torch.Tensor:
        """``B + beta * P`` for the current gate values (see module docstring)."""
        logits = self.gate.logits
        values = torch.sigmoid(logits)
        if self.cost_unit == "nodes":
            used: Any = values.sum() / gate_target
        else:
            used = self.cost_of(
                [v.sum() / gate_target for v in torch.split(values, list(self.sizes))]
            )
        budget_term = torch.as_tensor(self.size * ((used - target) / float(self.full_budget)) ** 2)
        if beta <= 0.0:
            return budget_term
        keep = self.select(target).to(logits.dtype)
        # Kept: BCE towards the pre-set value (gradient s - v). Rejected: a hinge in logit space
        # (gradient 1 until w < closed_logit), because BCE towards 0 has gradient s, which
        # vanishes as the gate closes and would leave rejected gates at ~1e-2 for many steps.
        opened = F.binary_cross_entropy_with_logits(
            logits, torch.full_like(logits, gate_target), reduction="none"
        )
        closed = torch.relu(logits - closed_logit)
        polarisation = (keep * opened + (1.0 - keep) * closed).sum()
        return budget_term + beta * polarisation

    @torch.no_grad()
    def add_gradient(
        self, target: float, beta: float, gate_target: float, closed_logit: float, scale: float
    ) -> None:
        """Add ``scale * d(B + beta P)/dw`` to the logits' gradient, in closed form.

        The same gradient autograd gets from :meth:`loss` (checked in the tests) with a handful
        of tensor operations instead of a graph: in the per-batch-overhead regime of a small
        tagger this keeps an AutoPruner step close to a plain one.
        """
        logits = self.gate.logits
        values = torch.sigmoid(logits)
        slope = values * (1.0 - values)
        full = float(self.full_budget)
        if self.cost_unit == "nodes":
            used = values.sum() / gate_target
            coefficient = scale * 2.0 * self.size * (used - target) / full**2 / gate_target
            gradient = slope * coefficient
        else:
            counts = [v.sum() / gate_target for v in torch.split(values, list(self.sizes))]
            used = self.cost_of(counts)
            widths: list[Any] = [self.neighbour_widths[0], *counts, self.neighbour_widths[1]]
            coefficient = scale * 2.0 * self.size * (used - target) / full**2 / gate_target
            # d(cost)/d(count of layer l) = width before + width after
            per_layer = torch.stack(
                [
                    torch.as_tensor(widths[i] + widths[i + 2], dtype=logits.dtype)
                    for i in range(len(self.sizes))
                ]
            ).to(logits.device)
            gradient = (
                slope
                * torch.repeat_interleave(per_layer, torch.tensor(self.sizes, device=logits.device))
                * coefficient
            )
        if beta > 0.0:
            keep = self.select(target)
            polarisation = torch.where(
                keep, values - gate_target, (logits > closed_logit).to(values.dtype)
            )
            gradient = gradient + polarisation * (scale * beta)
        if logits.grad is None:
            logits.grad = gradient.clone()
        else:
            logits.grad.add_(gradient)

    def separation(self, gate_target: float) -> dict[str, float]:
        """How far the gates are from the hard decision at the final budget."""
        mask = self.select(self.budget).cpu()
        values = self.gate.values().detach().cpu()
        kept, rejected = values[mask], values[~mask]
        return {
            "min_kept": float(kept.min()),
            "max_kept_deviation": float((kept - gate_target).abs().max()),
            "max_rejected": float(rejected.max()) if rejected.numel() else 0.0,
            "n_kept": int(mask.sum()),
        }


@dataclass
class SnapReport:
    """What the hard snap did: gate separation before it and the output change it caused."""

    step: int
    separation: dict[str, dict[str, float]]
    max_abs_logit_change: float
    kept_per_layer: dict[str, list[int]] = field(default_factory=dict)


def make_groups(
    net: GatedTagger,
    *,
    input_keep: int | None,
    hidden_budget: int | None,
    cost_unit: str,
) -> list[GateGroup]:
    """Gate groups of a tagger built with the matching gate layers."""
    groups: list[GateGroup] = []
    if input_keep is not None:
        assert net.input_gate is not None
        groups.append(GateGroup("inputs", net.input_gate, "nodes", input_keep, (0, 1)))
    if hidden_budget is not None:
        assert net.hidden_gate is not None
        groups.append(
            GateGroup("hidden", net.hidden_gate, cost_unit, hidden_budget, (net.layout[0], 1))
        )
    return groups


def schedule_warning(schedule: ScheduleSettings, pruner: PrunerSettings) -> str | None:
    """A warning when a pruning step gets fewer optimiser steps than the gates need.

    The budget term moves a gate logit by about ``gate_learning_rate`` x (a force of order one)
    per optimiser step; below ``min_gate_travel`` in units of that product the gates have not
    separated by how much the classifier needs each node before the next step lowers the target
    again, and the ranking is decided by the initial state (measured: docs/autopruner.md).
    """
    travel = pruner.gate_learning_rate * schedule.steps_per_pruning_step
    if travel >= pruner.min_gate_travel:
        return None
    needed = math.ceil(pruner.min_gate_travel / pruner.gate_learning_rate)
    return (
        f"ml.schedule.steps_per_pruning_step = {schedule.steps_per_pruning_step} optimiser steps "
        f"at gate learning rate {pruner.gate_learning_rate:g} is too few for the gates to rank "
        f"the units (need about {needed}; ml.autopruner.min_gate_travel); expect a "
        "selection close to the initial state"
    )


def describe_schedule(schedule: ScheduleSettings, steps_per_epoch: int) -> dict[str, Any]:
    """The schedule in optimiser steps and, derived from it, in epochs (for logs and records)."""
    phases = {
        "warmup": schedule.warmup_steps,
        "pruning_step": schedule.steps_per_pruning_step,
        "pruning": schedule.pruning_steps * schedule.steps_per_pruning_step,
        "max_settle": schedule.max_settle_steps,
    }
    return {
        "steps_per_epoch": steps_per_epoch,
        "optimiser_steps": phases,
        "epochs": {k: round(v / steps_per_epoch, 4) for k, v in phases.items()},
        "finetune_epochs": schedule.finetune_epochs,
    }


class PrunerSchedule:
    """Phase, budget target and ``beta`` as a function of the optimiser step."""

    def __init__(
        self, pruner: PrunerSettings, schedule: ScheduleSettings, groups: list[GateGroup]
    ) -> None:
        self.settings = pruner
        self.schedule = schedule
        self.groups = groups
        self.prune_start = schedule.warmup_steps
        self.prune_end = schedule.prune_end_step
        self.snapped_at: int | None = None
        # A decade below the snap threshold, so rejected gates pass it with margin.
        threshold = pruner.snap_threshold / 10.0
        self.closed_logit = math.log(threshold / (1.0 - threshold))

    @property
    def last_step(self) -> int:
        """Steps after which an unseparated pruner gives up."""
        return self.prune_end + self.schedule.max_settle_steps

    def phase(self, step: int) -> Phase:
        if self.snapped_at is not None:
            return "finetune"
        if step < self.prune_start:
            return "warmup"
        if step < self.prune_end:
            return "prune"
        return "settle"

    def pruning_step(self, step: int) -> int:
        return (step - self.prune_start) // self.schedule.steps_per_pruning_step

    def targets(self, step: int) -> list[float]:
        phase = self.phase(step)
        if phase == "warmup":
            return [float(g.full_budget) for g in self.groups]
        if phase == "prune":
            j = self.pruning_step(step)
            return [g.target_at_step(j, self.schedule.pruning_steps) for g in self.groups]
        return [float(g.budget) for g in self.groups]

    def beta(self, step: int) -> float:
        """Polarisation weight: 0 (or a ramp to ``prune_polarisation``) while pruning, then a
        ramp to 1 over ``settle_ramp_steps`` (while it is small the classifier can still lift a
        gate it needs over the boundary before the assignment hardens)."""
        phase = self.phase(step)
        if phase == "settle":
            ramp = self.settings.settle_ramp_steps
            return 1.0 if ramp <= 0 else min(1.0, (step - self.prune_end + 1) / ramp)
        if phase != "prune":
            return 0.0
        span = self.prune_end - self.prune_start
        return (step - self.prune_start + 1) / span * self.settings.prune_polarisation

    def loss(self, step: int) -> torch.Tensor | None:
        if self.phase(step) in ("warmup", "finetune"):
            return None
        beta = self.beta(step)
        total = torch.zeros(())
        for g, t in zip(self.groups, self.targets(step), strict=True):
            total = total + g.loss(t, beta, self.settings.gate_target, self.closed_logit).cpu()
        return self.settings.strength * total

    def add_gradients(self, step: int) -> None:
        """Closed-form gradient of :meth:`loss`, added to the gate logits (see GateGroup)."""
        beta = self.beta(step)
        for group, target in zip(self.groups, self.targets(step), strict=True):
            group.add_gradient(
                target, beta, self.settings.gate_target, self.closed_logit, self.settings.strength
            )

    def separation(self) -> dict[str, dict[str, float]]:
        return {g.name: g.separation(self.settings.gate_target) for g in self.groups}

    def is_separated(self) -> bool:
        s = self.settings
        return all(
            sep["max_rejected"] <= s.snap_threshold
            and sep["max_kept_deviation"] <= s.open_tolerance
            for sep in self.separation().values()
        )

    def try_snap(self, net: GatedTagger, step: int, val_x: torch.Tensor) -> SnapReport | None:
        """Snap when separated and the output change stays within tolerance; else ``None``."""
        if self.phase(step) != "settle" or self.beta(step) < 1.0 or not self.is_separated():
            return None
        snapped = copy.deepcopy(net)
        self._freeze(snapped)
        was_training = net.training
        net.eval()
        snapped.eval()
        with torch.no_grad():
            change = float((snapped(val_x) - net(val_x)).abs().max())
        net.train(was_training)
        if change > self.settings.snap_tolerance:
            return None
        separation = self.separation()
        self._freeze(net)
        self.snapped_at = step
        kept = {g.name: [int(m.sum()) for m in g.gate.kept_per_layer()] for g in self.groups}
        return SnapReport(step, separation, change, kept)

    def _freeze(self, net: GatedTagger) -> None:
        gates = {"inputs": net.input_gate, "hidden": net.hidden_gate}
        for group in self.groups:
            gate = gates[group.name]
            assert gate is not None
            mask = group.select(group.budget).to(gate.logits.device)
            gate.freeze(torch.where(mask, gate.values().detach(), 0.0))

    def failure(self, step: int) -> PrunerError:
        details = "; ".join(
            f"{name}: largest rejected gate {sep['max_rejected']:.2e} (needs <= "
            f"{self.settings.snap_threshold:g}), kept gates off target by up to "
            f"{sep['max_kept_deviation']:.3f}"
            for name, sep in self.separation().items()
        )
        return PrunerError(
            f"AutoPruner gates not separated after {step} optimiser steps ({details}); "
            "increase ml.schedule.max_settle_steps or ml.autopruner.strength"
        )


class GateDynamics:
    """What the gates did over time, measured per optimiser step (docs/autopruner.md):
    the first step each gate fell below 0.5, 0.05 and the snap threshold, the assignment and
    its margin at the commit (end of the pruning steps), and whether the final kept set is that
    assignment."""

    LEVELS = (0.5, 0.05)

    def __init__(self, groups: list[GateGroup], snap_threshold: float) -> None:
        self.groups = groups
        self.levels = (*self.LEVELS, snap_threshold)
        self.first_below = {
            g.name: torch.full((len(self.levels), g.size), -1, dtype=torch.long) for g in groups
        }
        self._levels: torch.Tensor | None = None
        self.commit: dict[str, Any] = {}
        self.committed_masks: dict[str, torch.Tensor] = {}
        self.commit_scores: dict[str, torch.Tensor] = {}

    def level_tensor(self, like: torch.Tensor) -> torch.Tensor:
        """The levels as a ``[levels, 1]`` column, made once (this runs every step)."""
        if self._levels is None or self._levels.device != like.device:
            self._levels = torch.tensor(self.levels, dtype=like.dtype, device=like.device)
            self._levels = self._levels.unsqueeze(1)
        return self._levels

    @torch.no_grad()
    def observe(self, step: int) -> None:
        """After an optimiser step: record gates crossing each level for the first time."""
        for g in self.groups:
            values = g.gate.values().detach()
            record = self.first_below[g.name]
            if record.device != values.device:  # kept on the gates' device: no sync per step
                record = self.first_below[g.name] = record.to(values.device)
            newly = (values.unsqueeze(0) < self.level_tensor(values)) & (record < 0)
            record.masked_fill_(newly, step)

    @torch.no_grad()
    def at_commit(self, step: int) -> None:
        """At the end of the pruning steps: the assignment the polarisation starts from."""
        for g in self.groups:
            mask = g.select(g.budget)
            values = g.gate.values().detach().cpu()
            self.committed_masks[g.name] = mask.cpu()
            self.commit_scores[g.name] = g.gate.logits.detach().cpu().clone()
            self.commit[g.name] = {
                "step": step,
                "logit_margin": selection_margin(g.gate.logits, mask),
                "value_margin": selection_margin(values, mask.cpu()),
                "max_gate": float(values.max()),
                "min_gate": float(values.min()),
                "gates_below_0.05": int((values < 0.05).sum()),
            }

    def summary(self, final_masks: dict[str, torch.Tensor], prune_start: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for g in self.groups:
            record = self.first_below[g.name].cpu()
            final = final_masks[g.name].cpu()
            rejected = ~final
            commit = self.commit.get(g.name)
            entry: dict[str, Any] = {"commit": commit}
            for i, level in enumerate(self.levels):
                steps = record[i][rejected]
                closed = steps[steps >= 0]
                entry[f"rejected_below_{level:g}"] = {
                    "count": int(closed.numel()),
                    "of": int(rejected.sum()),
                    "first_step": int(closed.min()) if closed.numel() else None,
                    "median_step": int(closed.median()) if closed.numel() else None,
                    "last_step": int(closed.max()) if closed.numel() else None,
                    "before_commit": None
                    if commit is None
                    else int((closed < commit["step"]).sum()),
                }
                kept_steps = record[i][final]
                entry[f"kept_ever_below_{level:g}"] = int((kept_steps >= 0).sum())
            if g.name in self.committed_masks:
                entry["final_equals_commit"] = bool(
                    torch.equal(self.committed_masks[g.name], final)
                )
            entry["prune_start_step"] = prune_start
            out[g.name] = entry
        return out
