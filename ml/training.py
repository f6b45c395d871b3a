"""The training loop shared by plain, AutoPruner, retrained and prune/train/repeat models.

Weighted BCE-with-logits (per-jet weights, normalised by their sum), Adam, mini-batches in a
seeded random order. Plain training stops early on the validation loss and restores the best
epoch. AutoPruner training runs warm-up, pruning steps and settling without early stopping (the
validation loss is expected to rise at each pruning step) and ends with the snap; the extracted
network is then fine-tuned as a plain training. On CPU the result is bitwise reproducible for a
seed and thread count.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from deeppp.metrics import weighted_auc
from ml.autopruner import PrunerSchedule, SnapReport
from ml.gates import GatedTagger
from ml.settings import TrainingSettings


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when available, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        from ml.settings import MLConfigError

        raise MLConfigError("ml.device: cuda requested but no CUDA device is available")
    return torch.device(name)


def configure_torch(settings: TrainingSettings, seed: int) -> torch.device:
    """Threads, deterministic kernels and the global seed (used by layer initialisation)."""
    torch.set_num_threads(settings.threads)
    device = resolve_device(settings.device)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    return device


@dataclass(frozen=True)
class Tensors:
    """Standardised features, labels and weights of one split, on the training device."""

    x: torch.Tensor
    y: torch.Tensor
    w: torch.Tensor

    def to(self, device: torch.device) -> Tensors:
        return Tensors(self.x.to(device), self.y.to(device), self.w.to(device))


def weighted_bce(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    per_jet = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    return (per_jet * weights).sum() / weights.sum()


@dataclass
class FitResult:
    """Per-epoch history, a finer classifier-loss trace, and the cost of the training."""

    history: list[dict[str, Any]] = field(default_factory=list)
    loss_trace: list[tuple[float, float]] = field(default_factory=list)
    epochs_run: int = 0
    best_epoch: int = -1
    snap: SnapReport | None = None
    wall_time_s: float = 0.0
    train_jets: int = 0
    #: Wall time of each epoch's training steps (not written to files: it is not reproducible).
    epoch_seconds: list[float] = field(default_factory=list)
    epoch_phases: list[str] = field(default_factory=list)

    @property
    def jet_passes(self) -> int:
        """Jets pushed forward and backward through the network: the deterministic cost measure."""
        return self.epochs_run * self.train_jets


def _round(values: torch.Tensor) -> list[float]:
    return [float(f"{v:.6g}") for v in values.detach().cpu().tolist()]


def _gate_snapshot(net: GatedTagger) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if net.input_gate is not None:
        out["inputs"] = [_round(net.input_gate.values())]
    if net.hidden_gate is not None:
        out["hidden"] = [_round(v) for v in net.hidden_gate.layer_values()]
    return out


def evaluate(
    net: GatedTagger, data: Tensors, batch: int = 65536
) -> tuple[float, float, np.ndarray]:
    """Weighted validation loss, weighted AUC and the logits."""
    net.eval()
    with torch.no_grad():
        logits = torch.cat([net(data.x[i : i + batch]) for i in range(0, len(data.y), batch)])
        loss = float(weighted_bce(logits, data.y, data.w))
    net.train()
    scores = logits.cpu().numpy()
    auc = weighted_auc(data.y.cpu().numpy(), scores, data.w.cpu().numpy())
    return loss, auc, scores


def fit(
    net: GatedTagger,
    train: Tensors,
    val: Tensors,
    settings: TrainingSettings,
    seed: int,
    *,
    schedule: PrunerSchedule | None = None,
    gate_learning_rate: float = 0.3,
    gauge_decay: float = 0.0,
    max_settle_epochs: int = 0,
    max_epochs: int | None = None,
    desc: str = "training",
) -> FitResult:
    """Train ``net`` in place and return its history.

    Without ``schedule``: plain training with early stopping on the validation loss (the best
    epoch is restored). With ``schedule``: warm-up (gates inactive, i.e. plain training), pruning
    steps and settling, ending with the snap; the fine-tuning that follows is a plain ``fit`` of
    the extracted network (``ml.recipes.train_autopruner``).
    """
    start = time.perf_counter()
    device = train.x.device
    net.to(device)
    net.train()
    result = FitResult(train_jets=len(train.y))
    generator = torch.Generator().manual_seed(seed)
    # Weights right after a trainable gate get the pruner's gauge term during pruning (a coupled
    # L2 via Adam's weight_decay, i.e. + gauge_decay/2 * |W|^2 in the loss): without it the
    # network undoes a shrinking gate by growing these weights, and the gate value stops
    # measuring how much the node matters (docs/autopruner.md).
    gate_params = (
        [p for p in net.gate_parameters() if p.requires_grad] if schedule is not None else []
    )
    after_gate: set[int] = set()
    if net.input_gate is not None and net.input_gate.logits in gate_params:
        after_gate.add(0)
    if net.hidden_gate is not None and net.hidden_gate.logits in gate_params:
        after_gate |= set(range(1, len(net.linears)))
    param_groups: list[dict[str, Any]] = [
        {
            "params": [m.weight for i, m in enumerate(net.dense_layers) if i not in after_gate],
            "weight_decay": settings.weight_decay,
        },
        {"params": [m.bias for m in net.dense_layers]},
        {
            "params": [m.weight for i, m in enumerate(net.dense_layers) if i in after_gate],
            "weight_decay": settings.weight_decay,
        },
    ]
    optimiser = torch.optim.Adam(param_groups, lr=settings.learning_rate)
    # Plain SGD (with momentum) for the gate logits, not Adam: Adam normalises each gate's step,
    # so every gate would fall at the same speed while the group is over budget, whatever the
    # classifier's resistance; with SGD a gate the tagger needs falls measurably slower, and that
    # difference is what ranks the nodes (docs/autopruner.md).
    gate_optimiser = (
        torch.optim.SGD(gate_params, lr=gate_learning_rate, momentum=0.9) if gate_params else None
    )
    for p in gate_params:
        p.requires_grad_(False)  # gates only train once pruning starts

    n_train = len(train.y)
    steps = max(1, -(-n_train // settings.batch_size))
    trace_every = max(1, steps // 10)
    if schedule is None:
        epoch_limit = max_epochs if max_epochs is not None else settings.max_epochs
    else:
        epoch_limit = schedule.prune_end + max_settle_epochs
        # Warm-up is plain training: the gates join (function unchanged) when pruning starts.
        net.deactivate_gates()
    best_loss, best_state, waited = float("inf"), None, 0
    val_loss, val_auc, _ = evaluate(net, val)
    result.history.append(
        {
            "epoch": 0,
            "phase": "init",
            "train_loss": None,
            "pruner_loss": None,
            "val_loss": val_loss,
            "val_auc": val_auc,
            "gates": _gate_snapshot(net),
        }
    )
    bar = tqdm(range(epoch_limit), desc=desc, disable=not settings.progress, leave=False)
    for epoch in bar:
        phase = schedule.phase(epoch) if schedule is not None else "train"
        pruning = phase in ("prune", "settle")
        if pruning:
            net.activate_gates()
            for p in gate_params:
                p.requires_grad_(True)
            optimiser.param_groups[2]["weight_decay"] = gauge_decay
        epoch_start = time.perf_counter()
        order = torch.randperm(n_train, generator=generator).to(device)
        cls_sum, trace_sum, trace_n = 0.0, 0.0, 0
        for step in range(steps):
            index = order[step * settings.batch_size : (step + 1) * settings.batch_size]
            cls_loss = weighted_bce(net(train.x[index]), train.y[index], train.w[index])
            optimiser.zero_grad(set_to_none=True)
            if pruning:
                gate_optimiser.zero_grad(set_to_none=True)  # type: ignore[union-attr]
            cls_loss.backward()
            if pruning:
                # L_TOT = L_classifier + L_pruner: the pruner's gradient is added in closed form.
                schedule.add_gradients(epoch, step / steps)  # type: ignore[union-attr]
            optimiser.step()
            if pruning:
                gate_optimiser.step()  # type: ignore[union-attr]
            value = float(cls_loss.detach())
            cls_sum += value
            trace_sum += value
            trace_n += 1
            if trace_n == trace_every or step == steps - 1:
                result.loss_trace.append(
                    (round(epoch + (step + 1) / steps, 6), trace_sum / trace_n)
                )
                trace_sum, trace_n = 0.0, 0
        result.epoch_seconds.append(time.perf_counter() - epoch_start)
        result.epoch_phases.append(phase)
        pruner_value = None
        if pruning:
            with torch.no_grad():
                pruner_value = float(schedule.loss(epoch, 1.0))  # type: ignore[union-attr, arg-type]
        snap = schedule.try_snap(net, epoch, val.x) if phase == "settle" else None  # type: ignore[union-attr]
        val_loss, val_auc, _ = evaluate(net, val)
        result.history.append(
            {
                "epoch": epoch + 1,
                "phase": "snap" if snap is not None else phase,
                "train_loss": cls_sum / steps,
                "pruner_loss": pruner_value,
                "val_loss": val_loss,
                "val_auc": val_auc,
                "targets": schedule.targets(epoch) if schedule is not None else None,
                "gates": _gate_snapshot(net),
            }
        )
        result.epochs_run = epoch + 1
        bar.set_postfix(phase=phase, loss=f"{cls_sum / steps:.4f}", val_auc=f"{val_auc:.4f}")
        if snap is not None:
            result.snap = snap
            result.best_epoch = epoch + 1
            break
        if schedule is None:
            if val_loss < best_loss:
                best_loss, best_state, waited = val_loss, copy.deepcopy(net.state_dict()), 0
                result.best_epoch = epoch + 1
            else:
                waited += 1
                if waited >= settings.patience:
                    break
    bar.close()
    if schedule is not None and result.snap is None:
        raise schedule.failure(result.epochs_run - 1)
    if best_state is not None:
        net.load_state_dict(best_state)
    result.wall_time_s = time.perf_counter() - start
    return result
