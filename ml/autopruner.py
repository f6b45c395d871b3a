"""AutoPruner: the pruner loss, its schedule, and the hard snap (``docs/autopruner.md``).

``L_TOT = L_classifier + L_pruner(w)`` with, for every gate group (the inputs, or all hidden
nodes together), ``L_pruner = strength * (B + beta * P)``:

* the **budget term** ``B = n * ((N_soft - k_t) / n)^2`` (nodes; ``N_soft = sum(s_i) / v``) or
  ``B = n * ((C_soft - C_t) / C_full)^2`` (multiplications, with soft per-layer node counts). It
  pushes every gate of the group down with the same force while the group is over budget; the
  classifier gradient resists for the nodes it needs, so the nodes that give way are the ones the
  tagger misses least. Sharing one ``B`` over all hidden layers lets the layers compete, which is
  what learns the per-layer allocation. The target ``k_t`` steps from the group size down to
  ``k`` in ``pruning_steps`` steps (the loss bumps at each step and recovers).
* the **polarisation term** ``P = sum_i BCE(s_i, v * a_i)``, where ``a_i = 1`` for the ``k`` gates
  with the largest logits (at least one per hidden layer) and 0 otherwise; ``beta`` ramps from 0
  to 1 over the first settle epoch, once ``B`` has already ranked the gates. Its gradient,
  ``s_i - v a_i``, does not vanish relative to the classifier's, so the rejected gates keep
  falling towards 0 and exactly ``k`` gates go to the pre-set value ``v``.
* The hard **snap** (rejected gates set to exactly 0, kept gates frozen at their value) happens only
  once the gates are separated (rejected < ``snap_threshold``, kept within ``open_tolerance`` of
  ``v``) and the network output moves by less than ``snap_tolerance`` on the validation jets.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F

from deeppp import DeepppError
from ml.gates import Gate, GatedTagger
from ml.settings import BudgetUnit, PrunerSettings

Phase = Literal["warmup", "prune", "settle", "finetune"]


class PrunerError(DeepppError):
    """The gates did not separate within the allowed epochs; the message says by how much."""


def multiplications(widths: Sequence[float | torch.Tensor]) -> float | torch.Tensor:
    """Dense-network FPGA cost: sum over layers of n_in x n_out (soft counts allowed)."""
    return sum(a * b for a, b in itertools.pairwise(widths))  # type: ignore[return-value]


@dataclass
class GateGroup:
    """Gates that share one budget: the input layer, or all hidden layers together.

    ``budget`` is a node count (``unit == 'nodes'``) or a multiplication count; for the latter,
    ``neighbour_widths`` gives the fixed widths before the first and after the last gated layer
    (the input count and the output width 1).
    """

    name: str
    gates: list[Gate]
    unit: BudgetUnit
    budget: int
    neighbour_widths: tuple[int, int] = (0, 1)
    min_per_layer: int = 1

    @property
    def size(self) -> int:
        return sum(g.n_nodes for g in self.gates)

    @property
    def full_budget(self) -> int:
        if self.unit == "nodes":
            return self.size
        return int(multiplications(self._widths([float(g.n_nodes) for g in self.gates])))

    def _widths(self, counts: Sequence[float | torch.Tensor]) -> list[float | torch.Tensor]:
        return [self.neighbour_widths[0], *counts, self.neighbour_widths[1]]

    def cost_of(self, counts: Sequence[float | torch.Tensor]) -> float | torch.Tensor:
        """Budget usage (nodes or multiplications) for given per-layer node counts."""
        if self.unit == "nodes":
            return sum(counts)  # type: ignore[return-value]
        return multiplications(self._widths(counts))

    def target_at_step(self, step: int, n_steps: int) -> float:
        """Budget target after pruning step ``step`` (0-based) of ``n_steps``: linear in budget."""
        full = self.full_budget
        return full - (full - self.budget) * (step + 1) / n_steps

    def select(self, budget: float) -> list[torch.Tensor]:
        """Which gates stay open for ``budget``: largest logits first, at least one per layer.

        Nodes: exactly ``round(budget)`` gates. Multiplications: greedy in logit order, adding a
        node whenever the total still fits (so the result is within budget and no further node fits).
        """
        logits = [g.logits.detach().cpu() for g in self.gates]
        masks = [torch.zeros(g.n_nodes, dtype=torch.bool) for g in self.gates]
        counts = [0] * len(self.gates)
        for layer, w in enumerate(logits):  # the best node of each layer first
            masks[layer][int(torch.argmax(w))] = True
            counts[layer] = 1
        flat = torch.cat(logits)
        # Stable sort: ties are broken by position, so the choice is deterministic.
        order_tensor = torch.sort(flat, descending=True, stable=True).indices
        if self.unit == "nodes":
            forced = torch.cat(masks)
            free = order_tensor[~forced[order_tensor]][: max(0, round(budget) - len(self.gates))]
            chosen = forced.clone()
            chosen[free] = True
            return list(torch.split(chosen, [g.n_nodes for g in self.gates]))
        order = order_tensor.tolist()
        layer_of = [i for i, g in enumerate(self.gates) for _ in range(g.n_nodes)]
        offset = [sum(g.n_nodes for g in self.gates[:i]) for i in range(len(self.gates))]
        for index in order:
            layer = layer_of[index]
            node = index - offset[layer]
            if masks[layer][node]:
                continue
            trial = list(counts)
            trial[layer] += 1
            if self.cost_of(trial) <= budget + 1e-9:
                masks[layer][node] = True
                counts = trial
        return masks

    def loss(self, target: float, beta: float, gate_target: float, closed_logit: float) -> torch.Tensor:
        """``B + beta * P`` for the current gate values (see module docstring)."""
        values = [g.values() for g in self.gates]
        counts = [v.sum() / gate_target for v in values]
        scale = float(self.full_budget)
        budget_term = self.size * ((self.cost_of(counts) - target) / scale) ** 2
        if beta <= 0.0:
            return budget_term
        keep = torch.cat(self.select(target)).to(self.gates[0].logits.device)
        logits = torch.cat([g.logits for g in self.gates])
        # Kept: BCE towards the pre-set value (gradient s - v). Rejected: a hinge in logit space
        # (gradient 1 until w < closed_logit), because BCE towards 0 has gradient s, which
        # vanishes as the gate closes and would leave rejected gates at ~1e-2 for many epochs.
        opened = F.binary_cross_entropy_with_logits(
            logits[keep], torch.full_like(logits[keep], gate_target), reduction="sum"
        )
        closed = torch.relu(logits[~keep] - closed_logit).sum()
        return budget_term + beta * (opened + closed)

    def separation(self, gate_target: float) -> dict[str, float]:
        """How far the gates are from the hard decision at the final budget."""
        masks = torch.cat(self.select(self.budget))
        values = torch.cat([g.values().detach().cpu() for g in self.gates])
        kept, rejected = values[masks], values[~masks]
        return {
            "min_kept": float(kept.min()),
            "max_kept_deviation": float((kept - gate_target).abs().max()),
            "max_rejected": float(rejected.max()) if rejected.numel() else 0.0,
            "n_kept": int(masks.sum()),
        }


@dataclass
class SnapReport:
    """What the hard snap did: gate separation before it and the output change it caused."""

    epoch: int
    separation: dict[str, dict[str, float]]
    max_abs_logit_change: float
    kept_per_layer: dict[str, list[int]] = field(default_factory=dict)


def make_groups(
    net: GatedTagger,
    *,
    input_keep: int | None,
    hidden_budget: int | None,
    unit: BudgetUnit,
) -> list[GateGroup]:
    """Gate groups of a tagger built with the matching gate layers."""
    groups: list[GateGroup] = []
    if input_keep is not None:
        assert net.input_gate is not None
        groups.append(GateGroup("inputs", [net.input_gate], "nodes", input_keep, (0, 1)))
    if hidden_budget is not None:
        assert net.hidden_gates is not None
        groups.append(
            GateGroup("hidden", list(net.hidden_gates), unit, hidden_budget, (net.layout[0], 1))  # type: ignore[arg-type]
        )
    return groups


class PrunerSchedule:
    """Phase, budget target and ``beta`` as a function of training progress (epoch + fraction)."""

    def __init__(self, settings: PrunerSettings, groups: list[GateGroup]) -> None:
        self.settings = settings
        self.groups = groups
        self.prune_end = settings.warmup_epochs + settings.pruning_steps * settings.epochs_per_step
        self.snapped_at: int | None = None
        # A decade below the snap threshold, so rejected gates pass it with margin.
        threshold = settings.snap_threshold / 10.0
        self.closed_logit = math.log(threshold / (1.0 - threshold))

    def phase(self, epoch: int) -> Phase:
        if self.snapped_at is not None:
            return "finetune"
        if epoch < self.settings.warmup_epochs:
            return "warmup"
        if epoch < self.prune_end:
            return "prune"
        return "settle"

    def targets(self, epoch: int) -> list[float]:
        phase = self.phase(epoch)
        if phase == "warmup":
            return [float(g.full_budget) for g in self.groups]
        if phase == "prune":
            step = (epoch - self.settings.warmup_epochs) // self.settings.epochs_per_step
            return [g.target_at_step(step, self.settings.pruning_steps) for g in self.groups]
        return [float(g.budget) for g in self.groups]

    def beta(self, epoch: int, fraction: float) -> float:
        """Polarisation weight: a linear ramp from 0 over the pruning phase to 1 at settling."""
        phase = self.phase(epoch)
        if phase == "settle":
            # Ramped over the first settle epoch: while beta is small the classifier can still
            # lift a needed gate over the boundary before the assignment hardens.
            return min(1.0, (epoch - self.prune_end) + fraction) if self.settings.settle_ramp else 1.0
        if phase != "prune":
            return 0.0
        span = self.prune_end - self.settings.warmup_epochs
        return ((epoch - self.settings.warmup_epochs) + fraction) / span * self.settings.prune_polarisation

    def loss(self, epoch: int, fraction: float) -> torch.Tensor | None:
        phase = self.phase(epoch)
        if phase in ("warmup", "finetune"):
            return None
        beta = self.beta(epoch, fraction)
        total = sum(
            g.loss(t, beta, self.settings.gate_target, self.closed_logit)
            for g, t in zip(self.groups, self.targets(epoch), strict=True)
        )
        return self.settings.strength * total  # type: ignore[return-value]

    def separation(self) -> dict[str, dict[str, float]]:
        return {g.name: g.separation(self.settings.gate_target) for g in self.groups}

    def is_separated(self) -> bool:
        s = self.settings
        return all(
            sep["max_rejected"] <= s.snap_threshold and sep["max_kept_deviation"] <= s.open_tolerance
            for sep in self.separation().values()
        )

    def try_snap(self, net: GatedTagger, epoch: int, val_x: torch.Tensor) -> SnapReport | None:
        """Snap when separated and the output change stays within tolerance; else ``None``."""
        if self.phase(epoch) != "settle" or self.beta(epoch, 1.0) < 1.0 or not self.is_separated():
            return None
        snapped = copy.deepcopy(net)
        self._freeze(snapped)
        with torch.no_grad():
            change = float((snapped(val_x) - net(val_x)).abs().max())
        if change > self.settings.snap_tolerance:
            return None
        separation = self.separation()
        self._freeze(net)
        self.snapped_at = epoch
        kept = {
            g.name: [int(gate.kept().sum()) for gate in g.gates] for g in self.groups
        }
        return SnapReport(epoch, separation, change, kept)

    def _freeze(self, net: GatedTagger) -> None:
        by_name = {"inputs": [net.input_gate], "hidden": list(net.hidden_gates or [])}
        for group in self.groups:
            masks = group.select(group.budget)
            for gate, mask in zip(by_name[group.name], masks, strict=True):
                assert gate is not None
                gate.freeze(torch.where(mask.to(gate.logits.device), gate.values().detach(), 0.0))

    def failure(self, epoch: int) -> PrunerError:
        details = "; ".join(
            f"{name}: largest rejected gate {sep['max_rejected']:.2e} (needs <= "
            f"{self.settings.snap_threshold:g}), kept gates off target by up to {sep['max_kept_deviation']:.3f}"
            for name, sep in self.separation().items()
        )
        return PrunerError(
            f"AutoPruner gates not separated after {epoch + 1} epochs ({details}); "
            "increase ml.autopruner.max_settle_epochs or ml.autopruner.strength"
        )
