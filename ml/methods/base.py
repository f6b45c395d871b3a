"""What every pruning method shares: its inputs, its result, and the building blocks of the
recipes (standardised tensors, gauge-decay layers, magnitude scores, extraction + fine-tuning).

A method is a function ``MethodInputs -> TrainedTagger`` registered in :mod:`ml.methods`: it
gets the dataset, a :class:`ml.settings.Budget` and a seed, and returns a pruned plain
``nn.Sequential`` with its standardisation and every training it ran (the cost).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ml.dataset import JetSample, Standardisation
from ml.gates import GatedTagger, extract_sequential
from ml.selection import group_cost
from ml.settings import Budget, MLSettings, check_group_budget
from ml.training import FitResult, Tensors, configure_torch, fit_plain

logger = logging.getLogger(__name__)


@dataclass
class TrainedTagger:
    """A finished model plus its training record."""

    sequential: nn.Sequential
    feature_names: list[str]
    standardisation: Standardisation
    fits: list[FitResult]
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def jet_passes(self) -> int:
        return sum(f.jet_passes for f in self.fits)

    @property
    def optimiser_steps(self) -> int:
        return sum(f.optimiser_steps for f in self.fits)

    @property
    def epochs(self) -> float:
        """Jets seen in units of the training split (all trainings)."""
        train_jets = self.fits[0].train_jets if self.fits else 1
        return self.jet_passes / max(train_jets, 1)

    @property
    def wall_time_s(self) -> float:
        return sum(f.wall_time_s for f in self.fits)


@dataclass(frozen=True)
class MethodInputs:
    """What a method gets: the dataset, the budget, the seed and the settings."""

    samples: dict[str, JetSample]
    budget: Budget
    seed: int
    settings: MLSettings
    hidden_layout: tuple[int, ...]
    gauge_decay: bool = True
    name: str = "model"

    @property
    def feature_names(self) -> list[str]:
        return list(self.samples["train"].feature_names)

    @property
    def n_inputs(self) -> int:
        return len(self.feature_names)

    @property
    def gauge_strength(self) -> float:
        """The shared regulariser, or 0 for the ``_nogauge`` runs."""
        return self.settings.schedule.gauge_decay if self.gauge_decay else 0.0

    @property
    def group_sizes(self) -> tuple[int, ...]:
        return (self.n_inputs,) if self.budget.group == "inputs" else self.hidden_layout

    @property
    def neighbour_widths(self) -> tuple[int, int]:
        return (0, 1) if self.budget.group == "inputs" else (self.n_inputs, 1)

    @property
    def target(self) -> int:
        """The budget in the group's unit (inputs, hidden nodes or multiplications)."""
        target = self.budget.target(self.n_inputs, self.hidden_layout)
        if self.budget.unit == "inputs":
            check_group_budget(target, self.n_inputs, f"model {self.name}: input budget")
        return target

    @property
    def full_usage(self) -> int:
        return int(group_cost(list(self.group_sizes), self.budget.cost_unit, self.neighbour_widths))

    def usage(self, counts: list[int]) -> int:
        return int(group_cost(counts, self.budget.cost_unit, self.neighbour_widths))

    @property
    def gauge_layers(self) -> tuple[int, ...]:
        """Linear layers whose weights follow a prunable unit of the group."""
        if self.budget.group == "inputs":
            return (0,)
        return tuple(range(1, len(self.hidden_layout) + 1))

    def budget_record(self) -> dict[str, Any]:
        return {
            "unit": self.budget.unit,
            "value": self.budget.value,
            "target": self.target,
            "cost_unit": self.budget.cost_unit,
        }


@dataclass(frozen=True)
class PruningMethod:
    """A registered method: its name (a key of ``deeppp.contracts.PRUNING_METHODS``) and the
    function that trains a pruned tagger."""

    name: str
    train: Callable[[MethodInputs], TrainedTagger]


def prepare(
    samples: dict[str, JetSample],
    standardisation: Standardisation,
    device: torch.device,
    feature_names: list[str] | None = None,
) -> dict[str, Tensors]:
    """Standardised tensors of every split (optionally a subset of the features)."""
    if feature_names is not None:
        index = [samples["train"].feature_names.index(n) for n in feature_names]
        samples = {k: v.select_features(feature_names) for k, v in samples.items()}
        standardisation = standardisation.subset(index)
    return {
        split: Tensors(standardisation.apply(s.features), s.labels, s.weights).to(device)
        for split, s in samples.items()
    }


def start(inputs: MethodInputs) -> tuple[Standardisation, torch.device, dict[str, Tensors]]:
    """Standardisation of the training split, the device (seeded), and the tensors."""
    standardisation = Standardisation.fit(inputs.samples["train"])
    device = configure_torch(inputs.settings.training, inputs.seed)
    return standardisation, device, prepare(inputs.samples, standardisation, device)


def train_plain(
    samples: dict[str, JetSample],
    hidden_layout: tuple[int, ...],
    settings: MLSettings,
    seed: int,
    desc: str,
    feature_names: list[str] | None = None,
) -> TrainedTagger:
    """The reference tagger (or a retrained reduced layout): dense ReLU net, early stopping."""
    names = (
        list(feature_names) if feature_names is not None else list(samples["train"].feature_names)
    )
    samples = {k: v.select_features(names) for k, v in samples.items()}
    standardisation = Standardisation.fit(samples["train"])
    device = configure_torch(settings.training, seed)
    net = GatedTagger(len(names), hidden_layout)
    data = prepare(samples, standardisation, device)
    result = fit_plain(net, data["train"], data["val"], settings.training, seed, desc=desc)
    sequential, _ = extract_sequential(net.cpu())
    return TrainedTagger(sequential, names, standardisation, [result])


def kept_feature_names(inputs: MethodInputs, kept_inputs: torch.Tensor) -> list[str]:
    return [n for n, keep in zip(inputs.feature_names, kept_inputs.tolist(), strict=True) if keep]


def finetune_extracted(
    inputs: MethodInputs,
    net: GatedTagger,
    standardisation: Standardisation,
    device: torch.device,
    seed_offset: int = 1,
) -> tuple[nn.Sequential, list[str], Standardisation, FitResult | None, float]:
    """Extract the plain network of ``net`` (gates frozen), check it computes the same function
    on the test jets, and fine-tune it as a plain training (``finetune_epochs``, early stopping).

    Returns the network, its features, their standardisation, the fine-tuning record (None when
    ``finetune_epochs`` is 0) and the extraction's largest output difference.
    """
    net = net.cpu()
    sequential, kept_inputs = extract_sequential(net)
    names = kept_feature_names(inputs, kept_inputs)
    index = [i for i, keep in enumerate(kept_inputs.tolist()) if keep]
    test_x = standardisation.apply(inputs.samples["test"].features)
    net.eval()
    with torch.no_grad():
        diff = float((sequential(test_x[:, index]).squeeze(-1) - net(test_x)).abs().max())
    reduced = standardisation.subset(index)
    epochs = inputs.settings.schedule.finetune_epochs
    if epochs <= 0:
        return sequential, names, reduced, None, diff
    small = GatedTagger.from_sequential(sequential)
    data = prepare(inputs.samples, standardisation, device, names)
    result = fit_plain(
        small,
        data["train"],
        data["val"],
        inputs.settings.training,
        inputs.seed + seed_offset,
        max_epochs=epochs,
        keep_start=True,
        desc=f"{inputs.name} fine-tune",
    )
    sequential, _ = extract_sequential(small.cpu())
    return sequential, names, reduced, result, diff


def train_full(inputs: MethodInputs, net: GatedTagger, data: dict[str, Tensors]) -> FitResult:
    """The full-network training that one-shot and prune/train/repeat prune from: plain, early
    stopping, the shared gauge decay on the weights after the prunable units from the end of the
    shared warm-up on (as AutoPruner applies it)."""
    settings = inputs.settings
    return fit_plain(
        net,
        data["train"],
        data["val"],
        settings.training,
        inputs.seed,
        gauge_layers=inputs.gauge_layers,
        gauge_decay=inputs.gauge_strength,
        gauge_from_step=settings.schedule.warmup_steps,
        desc=f"{inputs.name} full",
    )


#: How the magnitude methods score a unit (recorded in their ``details``).
MAGNITUDE_CRITERION = "node L2(in) x L2(out) / layer mean; inputs: first-layer column L2"


@torch.no_grad()
def magnitude_scores(net: GatedTagger, group: str) -> torch.Tensor:
    """Structured magnitude score of every unit of ``group`` (all layers concatenated).

    Hidden node: L2 norm of its incoming weights times L2 norm of its outgoing weights, both as
    the network computes them (gates folded in), divided by the mean over the layer's surviving
    nodes. The product is unchanged by the rescaling a ReLU network allows (incoming x c,
    outgoing / c), which makes a one-sided norm arbitrary; the per-layer normalisation makes
    layers with different fan-in comparable (as for the relative L1 norm of Li et al., "Pruning
    Filters for Efficient ConvNets", ICLR 2017). Input feature: L2 norm of its column of the
    first layer (features are standardised, so the norm is how strongly the network reads it).
    Pruned units score -inf.
    """
    columns = net.column_gates(reference=True)
    layers = net.dense_layers
    effective = [
        (layer.weight if gate is None else layer.weight * gate).detach().cpu()
        for layer, gate in zip(layers, columns, strict=True)
    ]
    if group == "inputs":
        kept = net.kept_inputs()
        scores = effective[0].norm(dim=0)
        return torch.where(kept, scores, torch.full_like(scores, -math.inf))
    out = []
    for layer, kept in enumerate(net.kept_hidden()):
        incoming = effective[layer].norm(dim=1)
        outgoing = effective[layer + 1].norm(dim=0)
        score = incoming * outgoing
        mean = score[kept].mean() if bool(kept.any()) else torch.tensor(1.0)
        score = score / torch.clamp(mean, min=1e-30)
        out.append(torch.where(kept, score, torch.full_like(score, -math.inf)))
    return torch.cat(out)


def mask_net(inputs: MethodInputs, standardisation: Standardisation) -> GatedTagger:
    """A tagger with hard 0/1 mask gates on the budget's group (all open)."""
    group = inputs.budget.group
    net = GatedTagger(
        inputs.n_inputs,
        inputs.hidden_layout,
        input_gate=group == "inputs",
        hidden_gates=group == "hidden",
    )
    gate = net.input_gate if group == "inputs" else net.hidden_gate
    assert gate is not None
    gate.freeze(torch.ones(gate.n_nodes))
    return net


def group_gate(net: GatedTagger, group: str) -> Any:
    gate = net.input_gate if group == "inputs" else net.hidden_gate
    assert gate is not None
    return gate


def selection_details(
    inputs: MethodInputs, kept: torch.Tensor, scores: torch.Tensor | None
) -> dict[str, Any]:
    """What was kept (per layer, or which features) and the scores the decision used."""
    out: dict[str, Any] = {"budget": inputs.budget_record()}
    sizes = list(inputs.group_sizes)
    per_layer = [int(m.sum()) for m in torch.split(kept.cpu(), sizes)]
    out["kept_per_layer"] = per_layer
    out["usage"] = inputs.usage(per_layer)
    if inputs.budget.group == "inputs":
        out["selected_features"] = kept_feature_names(inputs, kept.cpu())
        if scores is not None:
            finite = torch.where(torch.isfinite(scores), scores, torch.zeros_like(scores))
            out["feature_scores"] = dict(
                zip(
                    inputs.feature_names,
                    [float(f"{v:.6g}") for v in finite.cpu().tolist()],
                    strict=True,
                )
            )
    return out
