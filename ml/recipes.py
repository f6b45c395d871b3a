"""How each kind of model is trained: plain, AutoPruner, retrained from scratch, prune/train/repeat.

Every recipe returns a :class:`TrainedTagger`: the plain ``nn.Sequential`` that is saved, the
features it uses with their standardisation, and what the training cost (epochs, jet passes,
wall time) so the studies can compare methods on equal terms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from deeppp.contracts import hidden_nodes_for_percent, multiplications
from ml.autopruner import PrunerSchedule, make_groups
from ml.dataset import JetSample, Standardisation
from ml.gates import GatedTagger, extract_sequential
from ml.settings import (
    MLSettings,
    ModelSpec,
    check_group_budget,
)
from ml.training import FitResult, Tensors, configure_torch, fit


@dataclass
class TrainedTagger:
    """A finished model plus its training record."""

    sequential: nn.Sequential
    feature_names: list[str]
    standardisation: Standardisation
    fits: list[FitResult]
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def epochs(self) -> int:
        return sum(f.epochs_run for f in self.fits)

    @property
    def jet_passes(self) -> int:
        return sum(f.jet_passes for f in self.fits)

    @property
    def wall_time_s(self) -> float:
        return sum(f.wall_time_s for f in self.fits)


def _tensors(
    samples: dict[str, JetSample], standardisation: Standardisation, device: torch.device
) -> dict[str, Tensors]:
    return {
        split: Tensors(standardisation.apply(s.features), s.labels, s.weights).to(device)
        for split, s in samples.items()
    }


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
    data = _tensors(samples, standardisation, device)
    result = fit(net, data["train"], data["val"], settings.training, seed, desc=desc)
    sequential, _ = extract_sequential(net.cpu())
    return TrainedTagger(sequential, names, standardisation, [result])


def hidden_budget(
    settings: MLSettings, percent: int, n_inputs: int, hidden_layout: tuple[int, ...]
) -> int:
    """Budget of a hidden-pruning model: nodes, or multiplications of the whole network."""
    if settings.budget_unit == "nodes":
        return hidden_nodes_for_percent(percent, hidden_layout)
    full = multiplications([n_inputs, *hidden_layout, 1])
    return math.ceil(percent * full / 100)


def train_autopruner(
    samples: dict[str, JetSample], spec: ModelSpec, settings: MLSettings
) -> TrainedTagger:
    """One training with gates and the pruner loss; the snapped network is extracted."""
    names = list(samples["train"].feature_names)
    n_inputs = len(names)
    if spec.input_keep is not None:
        check_group_budget(spec.input_keep, n_inputs, f"model {spec.name}: input budget")
    budget = (
        hidden_budget(settings, spec.hidden_percent, n_inputs, spec.hidden_layout)
        if spec.hidden_percent is not None
        else None
    )
    standardisation = Standardisation.fit(samples["train"])
    p = settings.pruner
    device = configure_torch(settings.training, spec.seed)
    net = GatedTagger(
        n_inputs,
        spec.hidden_layout,
        input_gate=spec.input_keep is not None,
        hidden_gates=budget is not None,
        gate_init=p.gate_init,
    )
    groups = make_groups(
        net, input_keep=spec.input_keep, hidden_budget=budget, unit=settings.budget_unit
    )
    schedule = PrunerSchedule(p, groups)
    data = _tensors(samples, standardisation, device)
    pruning = fit(
        net,
        data["train"],
        data["val"],
        settings.training,
        spec.seed,
        schedule=schedule,
        gate_learning_rate=p.gate_learning_rate,
        gauge_decay=p.gauge_decay,
        max_settle_epochs=p.max_settle_epochs,
        desc=spec.name,
    )
    snap = pruning.snap
    assert snap is not None  # fit() raises PrunerError when the gates never separate
    net = net.cpu()
    sequential, kept_inputs = extract_sequential(net)
    kept_names = [n for n, keep in zip(names, kept_inputs.tolist(), strict=True) if keep]
    index = [i for i, keep in enumerate(kept_inputs.tolist()) if keep]
    # Agreement of the extracted network with the snapped gated one, on the test jets.
    test_x = standardisation.apply(samples["test"].features)
    with torch.no_grad():
        extraction_diff = float(
            (sequential(test_x[:, index]).squeeze(-1) - net(test_x)).abs().max()
        )
    result = pruning
    if p.finetune_epochs > 0:
        # Fine-tuning after the snap is plain training of the extracted, smaller network.
        small = GatedTagger.from_sequential(sequential)
        reduced = {k: v.select_features(kept_names) for k, v in samples.items()}
        small_data = _tensors(reduced, standardisation.subset(index), device)
        finetune = fit(
            small,
            small_data["train"],
            small_data["val"],
            settings.training,
            spec.seed + 1,
            max_epochs=p.finetune_epochs,
            desc=f"{spec.name} fine-tune",
        )
        sequential, _ = extract_sequential(small.cpu())
        result = _join(pruning, finetune)
    details: dict[str, Any] = {
        "budget": {
            "unit": settings.budget_unit if budget is not None else "nodes",
            "hidden": budget,
            "inputs": spec.input_keep,
        },
        "snap": {
            "epoch": snap.epoch + 1,
            "separation": snap.separation,
            "max_abs_logit_change": snap.max_abs_logit_change,
            "tolerance": p.snap_tolerance,
        },
        "extraction_max_abs_diff": extraction_diff,
        "prune_end_epoch": schedule.prune_end,
        "warmup_epochs": p.warmup_epochs,
        "pruning_steps": p.pruning_steps,
        "epochs_per_step": p.epochs_per_step,
    }
    if net.input_gate is not None:
        # Gate values when the budget alone had acted (before polarisation): how strongly the
        # tagger held on to each feature; the input-selection study ranks features with them.
        at_prune_end = result.history[schedule.prune_end]["gates"]["inputs"][0]
        details["input_gates_at_prune_end"] = dict(zip(names, at_prune_end, strict=True))
        details["selected_features"] = kept_names
    return TrainedTagger(sequential, kept_names, standardisation.subset(index), [result], details)


def _join(pruning: FitResult, finetune: FitResult) -> FitResult:
    """One history for the whole AutoPruner training: pruning, snap, then fine-tuning (whose
    records carry the frozen gate values of the snap, for continuous gate plots)."""
    offset = pruning.epochs_run
    gates = pruning.history[-1]["gates"]
    history = list(pruning.history)
    for record in finetune.history[1:]:
        history.append(
            {**record, "epoch": record["epoch"] + offset, "phase": "finetune", "gates": gates}
        )
    return FitResult(
        history=history,
        loss_trace=pruning.loss_trace + [(round(e + offset, 6), v) for e, v in finetune.loss_trace],
        epochs_run=offset + finetune.epochs_run,
        best_epoch=offset + finetune.best_epoch,
        snap=pruning.snap,
        wall_time_s=pruning.wall_time_s + finetune.wall_time_s,
        train_jets=pruning.train_jets,
        epoch_seconds=pruning.epoch_seconds + finetune.epoch_seconds,
        epoch_phases=pruning.epoch_phases + ["finetune"] * finetune.epochs_run,
    )


def _node_scores(net: GatedTagger, kept_inputs: torch.Tensor) -> list[torch.Tensor]:
    """L1 norm of each hidden node's incoming weights from surviving nodes, relative to the
    layer mean (Li et al., "Pruning Filters for Efficient ConvNets", ICLR 2017, at node level;
    the per-layer normalisation makes layers with different fan-in comparable)."""
    scores = []
    previous = kept_inputs
    assert net.hidden_gate is not None
    for layer, kept in zip(net.dense_layers[:-1], net.hidden_gate.kept_per_layer(), strict=True):
        kept = kept.cpu()
        l1 = layer.weight.detach().cpu()[:, previous].abs().sum(dim=1)
        mean = l1[kept].mean()
        scores.append(torch.where(kept, l1 / mean, torch.full_like(l1, math.inf)))
        previous = kept
    return scores


def train_ptr(
    samples: dict[str, JetSample], spec: ModelSpec, settings: MLSettings
) -> TrainedTagger:
    """Classic prune/train/repeat: train the full net, then repeatedly remove the hidden nodes
    with the smallest relative L1 norm (globally, at least one per layer) until the budget usage
    (nodes, or multiplications) has dropped by ``prune_fraction``, and retrain with early
    stopping, until the AutoPruner model's budget is met."""
    assert spec.hidden_percent is not None
    names = list(samples["train"].feature_names)
    n_inputs = len(names)
    target = hidden_budget(settings, spec.hidden_percent, n_inputs, spec.hidden_layout)

    def usage(counts: list[int]) -> int:
        if settings.budget_unit == "nodes":
            return sum(counts)
        return multiplications([n_inputs, *counts, 1])

    standardisation = Standardisation.fit(samples["train"])
    device = configure_torch(settings.training, spec.seed)
    net = GatedTagger(n_inputs, spec.hidden_layout, hidden_gates=True)
    hidden_gate = net.hidden_gate
    assert hidden_gate is not None
    hidden_gate.freeze(torch.ones(hidden_gate.n_nodes))  # hard 0/1 masks, never trained
    data = _tensors(samples, standardisation, device)
    fits = [
        fit(net, data["train"], data["val"], settings.training, spec.seed, desc=f"{spec.name} full")
    ]
    steps_record = []
    kept_inputs = torch.ones(n_inputs, dtype=torch.bool)
    layer_of = [i for i, n in enumerate(spec.hidden_layout) for _ in range(n)]
    counts = list(spec.hidden_layout)
    step = 0
    while usage(counts) > target:
        step += 1
        # Remove a fixed fraction of the budget per step (iterative magnitude pruning, Han et al.
        # 2015); the last step stops exactly at the budget (nodes) or just below it (multiplications).
        step_target = max(
            target,
            min(usage(counts) - 1, round(usage(counts) * (1.0 - settings.ptr.prune_fraction))),
        )
        net = net.cpu()
        scores = _node_scores(net, kept_inputs)
        kept = hidden_gate.kept().cpu()
        best_per_layer = set()  # never remove a layer's last node
        offset = 0
        for layer_scores in scores:
            finite = torch.where(torch.isinf(layer_scores), -torch.inf, layer_scores)
            best_per_layer.add(offset + int(torch.argmax(finite)))
            offset += layer_scores.numel()
        for index in torch.argsort(torch.cat(scores), stable=True).tolist():
            if usage(counts) <= step_target:
                break
            if kept[index] and index not in best_per_layer:
                kept[index] = False
                counts[layer_of[index]] -= 1
        hidden_gate.freeze(kept.to(torch.float32))
        net.to(device)
        result = fit(
            net,
            data["train"],
            data["val"],
            settings.training,
            spec.seed + step,
            max_epochs=settings.ptr.max_epochs_per_step,
            desc=f"{spec.name} step {step}",
        )
        fits.append(result)
        steps_record.append(
            {
                "step": step,
                "hidden_nodes": sum(counts),
                "multiplications": multiplications([n_inputs, *counts, 1]),
                "nodes_per_layer": list(counts),
                "epochs": result.epochs_run,
                "val_auc": result.history[result.best_epoch]["val_auc"],
            }
        )
    sequential, _ = extract_sequential(net.cpu())
    details = {
        "steps": steps_record,
        "criterion": "relative L1 norm of incoming weights",
        "budget": {"unit": settings.budget_unit, "hidden": target},
    }
    return TrainedTagger(sequential, names, standardisation, fits, details)


def multiplication_count(sequential: nn.Sequential) -> int:
    widths = [m.in_features for m in sequential if isinstance(m, nn.Linear)][:1] + [
        m.out_features for m in sequential if isinstance(m, nn.Linear)
    ]
    return multiplications(widths)
