"""AutoPruner: the pruner loss, its schedule, and the hard snap (reasoning: ``docs/autopruner.md``).

``L_TOT = L_classifier + L_pruner(w)`` with, for every gate group (the inputs, or all hidden
nodes together), ``L_pruner = strength * (B + beta * P)``:

* the **budget term** ``B = n * ((N_soft - k_t) / n)^2`` (nodes; ``N_soft = sum(s_i) / v``) or
  ``B = n * ((C_soft - C_t) / C_full)^2`` (multiplications, with soft per-layer node counts). It
  pushes every gate of the group down with the same force while the group is over budget; the
  classifier gradient resists for the nodes it needs, so the nodes that give way are the ones the
  tagger misses least. One ``B`` over all hidden layers lets the layers compete: that learns the
  per-layer allocation. The target ``k_t`` steps from the group size down to ``k``.
* the **polarisation term** ``P``: for the assignment ``A`` (the ``k`` largest logits, at least
  one per layer) a BCE pulling ``s_i`` to the pre-set value ``v``, and for the others a hinge in
  logit space, ``relu(w_i - w_closed)``, whose gradient does not vanish as the gate closes.
  ``beta`` ramps from 0 to 1 over the first settle epoch, once ``B`` has ranked the gates.
* the hard **snap** (rejected gates set to exactly 0, kept gates frozen at their value) happens
  only once the gates are separated (rejected < ``snap_threshold``, kept within
  ``open_tolerance`` of ``v``) and the network output moves by less than ``snap_tolerance`` on
  the validation jets.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F

from deeppp import DeepppError
from deeppp.contracts import multiplications
from ml.gates import Gate, GatedTagger
from ml.settings import BudgetUnit, PrunerSettings

Phase = Literal["warmup", "prune", "settle", "finetune"]


class PrunerError(DeepppError):
    """The gates did not separate within the allowed epochs; the message says by how much."""


@dataclass
class GateGroup:
    """Gates that share one budget: the input layer, or all hidden layers together.

    ``budget`` is a node count (``unit == 'nodes'``) or a multiplication count; for the latter,
    ``neighbour_widths`` gives the fixed widths before the first and after the last gated layer
    (the input count and the output width 1). Every layer of the group keeps at least one node,
    otherwise the network would be cut in two.
    """

    name: str
    gate: Gate
    unit: BudgetUnit
    budget: int
    neighbour_widths: tuple[int, int] = (0, 1)

    @property
    def size(self) -> int:
        return self.gate.n_nodes

    @property
    def sizes(self) -> tuple[int, ...]:
        return self.gate.sizes

    @property
    def full_budget(self) -> int:
        if self.unit == "nodes":
            return self.size
        return int(multiplications(self._widths([float(n) for n in self.sizes])))

    def _widths(self, counts: Sequence[float | torch.Tensor]) -> list[float | torch.Tensor]:
        return [self.neighbour_widths[0], *counts, self.neighbour_widths[1]]

    def cost_of(self, counts: Sequence[float | torch.Tensor]) -> float | torch.Tensor:
        """Budget usage (nodes or multiplications) for given per-layer node counts."""
        if self.unit == "nodes":
            return sum(counts)
        return multiplications(self._widths(counts))

    def target_at_step(self, step: int, n_steps: int) -> float:
        """Budget target after pruning step ``step`` (0-based) of ``n_steps``: linear in budget."""
        full = self.full_budget
        return full - (full - self.budget) * (step + 1) / n_steps

    def select(self, budget: float) -> torch.Tensor:
        """Boolean mask of the gates that stay open for ``budget`` (all layers concatenated):
        largest logits first, the best node of every layer always included.

        Nodes: exactly ``max(round(budget), n_layers)`` gates. Multiplications: greedy in logit
        order, adding a node whenever the total still fits, so the result is within budget and
        no further node fits.
        """
        logits = self.gate.logits.detach()
        # The best node of each layer (first one on ties) gets an infinite bonus: a padded
        # [layers, widest] view makes this one argmax instead of a loop with a sync per layer.
        padded_index = self._padded_index(logits.device)
        padded = torch.cat([logits, logits.new_full((1,), -math.inf)])[padded_index]
        best = padded_index.gather(1, padded.argmax(dim=1, keepdim=True)).squeeze(1)
        bonus = torch.zeros_like(logits).index_fill_(0, best, math.inf)
        # Stable sort: ties are broken by position, so the choice is deterministic.
        order = torch.sort(logits + bonus, descending=True, stable=True).indices
        if self.unit == "nodes":
            chosen = torch.zeros_like(logits, dtype=torch.bool)
            chosen[order[: max(round(budget), len(self.sizes))]] = True
            return chosen
        chosen_cpu = torch.zeros(self.size, dtype=torch.bool)
        layer_of = [i for i, n in enumerate(self.sizes) for _ in range(n)]
        counts = [0] * len(self.sizes)
        for index in order[: len(self.sizes)].tolist():  # one node per layer, unconditionally
            chosen_cpu[index] = True
            counts[layer_of[index]] += 1
        for index in order[len(self.sizes) :].tolist():
            trial = list(counts)
            trial[layer_of[index]] += 1
            if self.cost_of(trial) <= budget + 1e-9:
                chosen_cpu[index] = True
                counts = trial
        return chosen_cpu.to(logits.device)

    def _padded_index(self, device: torch.device) -> torch.Tensor:
        """``[layers, widest]`` flat node indices, padded with ``size`` (points at -inf)."""
        cached = getattr(self, "_padded", None)
        if cached is None or cached.device != device:
            widest = max(self.sizes)
            rows, offset = [], 0
            for n in self.sizes:
                rows.append(list(range(offset, offset + n)) + [self.size] * (widest - n))
                offset += n
            cached = torch.tensor(rows, device=device)
            self._padded = cached
        return cached

    def loss(
        self, target: float, beta: float, gate_target: float, closed_logit: float
    ) -> torch.Tensor:
        """``B + beta * P`` for the current gate values (see module docstring)."""
        logits = self.gate.logits
        values = torch.sigmoid(logits)
        if self.unit == "nodes":
            used: float | torch.Tensor = values.sum() / gate_target
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
        # vanishes as the gate closes and would leave rejected gates at ~1e-2 for many epochs.
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
        if self.unit == "nodes":
            used = float(values.sum()) / gate_target
            coefficient = scale * 2.0 * self.size * (used - target) / full**2 / gate_target
            gradient = slope * coefficient
        else:
            counts = [float(v.sum()) / gate_target for v in torch.split(values, list(self.sizes))]
            used = float(self.cost_of(counts))
            widths = self._widths(counts)
            coefficient = scale * 2.0 * self.size * (used - target) / full**2 / gate_target
            # d(cost)/d(count of layer l) = width before + width after
            per_layer = torch.tensor(
                [float(widths[i] + widths[i + 2]) * coefficient for i in range(len(self.sizes))],
                dtype=logits.dtype,
                device=logits.device,
            )
            gradient = slope * torch.repeat_interleave(
                per_layer, torch.tensor(self.sizes, device=logits.device)
            )
        if beta > 0.0:
            keep = self.select(target)
            polarisation = torch.where(
                keep, values - gate_target, (logits > closed_logit).to(values.dtype)
            )
            gradient = gradient + polarisation * (scale * beta)
        if logits.grad is None:
            logits.grad = gradient
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
        groups.append(GateGroup("inputs", net.input_gate, "nodes", input_keep, (0, 1)))
    if hidden_budget is not None:
        assert net.hidden_gate is not None
        groups.append(GateGroup("hidden", net.hidden_gate, unit, hidden_budget, (net.layout[0], 1)))
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
            return (
                min(1.0, (epoch - self.prune_end) + fraction) if self.settings.settle_ramp else 1.0
            )
        if phase != "prune":
            return 0.0
        span = self.prune_end - self.settings.warmup_epochs
        return (
            ((epoch - self.settings.warmup_epochs) + fraction)
            / span
            * self.settings.prune_polarisation
        )

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

    def add_gradients(self, epoch: int, fraction: float) -> None:
        """Closed-form gradient of :meth:`loss`, added to the gate logits (see GateGroup)."""
        beta = self.beta(epoch, fraction)
        for group, target in zip(self.groups, self.targets(epoch), strict=True):
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
        kept = {g.name: [int(m.sum()) for m in g.gate.kept_per_layer()] for g in self.groups}
        return SnapReport(epoch, separation, change, kept)

    def _freeze(self, net: GatedTagger) -> None:
        gates = {"inputs": net.input_gate, "hidden": net.hidden_gate}
        for group in self.groups:
            gate = gates[group.name]
            assert gate is not None
            mask = group.select(group.budget).to(gate.logits.device)
            gate.freeze(torch.where(mask, gate.values().detach(), 0.0))

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
