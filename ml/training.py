"""The training loop every model shares, with a plain and a pruning variant.

Weighted BCE-with-logits (per-jet weights, normalised by their sum), Adam, mini-batches in a
seeded random order; on CPU bitwise reproducible for a seed and thread count.

:func:`train_loop` runs epochs of optimiser steps and asks a :class:`TrainingHooks` object what
to add at each step (a pruner gradient, a penalty, a mask) and when to stop. :class:`PlainHooks`
is plain training with early stopping on the validation loss (the best epoch is restored);
pruning methods subclass it with a schedule counted in optimiser steps and checkpoints between
epoch ends.

A non-finite loss, or non-finite weights at a checkpoint, stop the training at once with
:class:`TrainingDivergedError` (a diverged network must never be saved and scored).
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from deeppp import DeepppError
from deeppp.metrics import weighted_auc
from ml.gates import GatedTagger
from ml.settings import MLConfigError, TrainingSettings

logger = logging.getLogger(__name__)


class TrainingDivergedError(DeepppError):
    """The loss or the weights became NaN or infinite; the message says where."""


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when available, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
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

    def __len__(self) -> int:
        return int(self.y.shape[0])


def weighted_bce(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    per_jet = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    return (per_jet * weights).sum() / weights.sum()


@dataclass
class FitResult:
    """Checkpoint history, a finer classifier-loss trace, and what the training cost."""

    history: list[dict[str, Any]] = field(default_factory=list)
    loss_trace: list[tuple[float, float]] = field(default_factory=list)
    train_jets: int = 0
    steps_per_epoch: int = 1
    optimiser_steps: int = 0
    #: Jets pushed forward and backward through the network: the deterministic cost measure.
    jet_passes: int = 0
    best_step: int = -1
    stopped: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    wall_time_s: float = 0.0
    #: Wall time and step count per phase (not written to files: not reproducible).
    phase_seconds: dict[str, float] = field(default_factory=dict)
    phase_steps: dict[str, int] = field(default_factory=dict)

    @property
    def epochs(self) -> float:
        """Training jets seen, in units of the training split."""
        return self.jet_passes / max(self.train_jets, 1)

    def record(self) -> dict[str, Any]:
        """The reproducible part, as written to ``history.json``."""
        return {
            "history": self.history,
            "loss_trace": self.loss_trace,
            "train_jets": self.train_jets,
            "steps_per_epoch": self.steps_per_epoch,
            "optimiser_steps": self.optimiser_steps,
            "jet_passes": self.jet_passes,
            "best_step": self.best_step,
            "stopped": self.stopped,
            "details": self.details,
        }


def _round(values: torch.Tensor) -> list[float]:
    return [float(f"{v:.6g}") for v in values.detach().cpu().tolist()]


def gate_snapshot(net: GatedTagger) -> dict[str, Any]:
    """Current (deterministic) gate values per group and layer, for the history."""
    out: dict[str, Any] = {}
    if net.input_gate is not None:
        out["inputs"] = [_round(net.input_gate.reference_values())]
    if net.hidden_gate is not None:
        out["hidden"] = [_round(v) for v in net.hidden_gate.layer_values()]
    return out


def network_logits(net: GatedTagger, x: torch.Tensor, batch: int = 65536) -> torch.Tensor:
    """Logits in evaluation mode (deterministic gates), in batches."""
    was_training = net.training
    net.eval()
    with torch.no_grad():
        logits = torch.cat([net(x[i : i + batch]) for i in range(0, x.shape[0], batch)])
    net.train(was_training)
    return logits


def evaluate(net: GatedTagger, data: Tensors) -> tuple[float, float]:
    """Weighted loss and weighted AUC; a non-finite output is a diverged network."""
    logits = network_logits(net, data.x)
    loss = float(weighted_bce(logits, data.y, data.w))
    if not math.isfinite(loss):
        raise TrainingDivergedError(
            "validation loss is not finite: the network diverged "
            "(lower ml.learning_rate or the pruner strength)"
        )
    auc = weighted_auc(data.y.cpu().numpy(), logits.cpu().numpy(), data.w.cpu().numpy())
    return loss, auc


class TrainingHooks:
    """What a training adds to the plain loop. The base class is plain training with early
    stopping on the validation loss; pruning methods override the step hooks."""

    #: Early stopping on the validation loss and restoring the best checkpoint.
    early_stopping = True
    #: The starting network is a candidate for the best checkpoint (fine-tuning, retraining).
    keep_start = False

    def __init__(self, gauge_layers: Sequence[int] = (), gauge_decay: float = 0.0) -> None:
        #: Indices of the Linear layers whose weights get the gauge decay (the weights that
        #: follow a prunable unit), and its strength.
        self.gauge_layers = frozenset(gauge_layers)
        self.gauge_decay = gauge_decay
        self.net: GatedTagger | None = None
        self.optimiser: torch.optim.Optimizer | None = None

    def param_groups(self, net: GatedTagger, settings: TrainingSettings) -> list[dict[str, Any]]:
        """Adam parameter groups: weights (weight decay), biases, gauge-decayed weights."""
        layers = net.dense_layers
        return [
            {
                "params": [m.weight for i, m in enumerate(layers) if i not in self.gauge_layers],
                "weight_decay": settings.weight_decay,
            },
            {"params": [m.bias for m in layers], "weight_decay": 0.0},
            {
                "params": [m.weight for i, m in enumerate(layers) if i in self.gauge_layers],
                "weight_decay": settings.weight_decay + self.gauge_decay,
            },
        ]

    def set_gauge_decay(self, value: float, settings: TrainingSettings) -> None:
        assert self.optimiser is not None
        self.optimiser.param_groups[2]["weight_decay"] = settings.weight_decay + value

    def start(self, net: GatedTagger, optimiser: torch.optim.Optimizer) -> None:
        self.net, self.optimiser = net, optimiser

    def step_limit(self) -> int | None:
        """Stop after this many optimiser steps (None: epochs decide)."""
        return None

    def phase(self, step: int) -> str:
        return "train"

    def before_step(self, step: int) -> None:
        """Before the forward pass of optimiser step ``step`` (0-based)."""

    def extra_loss(self, step: int) -> torch.Tensor | None:
        """A term added to the classifier loss (autograd), e.g. a penalty on gate parameters."""
        return None

    def zero_grad(self) -> None:
        """Clear the gradients of parameters outside the main optimiser."""

    def after_backward(self, step: int) -> None:
        """Gradients are there; add closed-form ones here."""

    def after_step(self, step: int) -> None:
        """The main optimiser stepped; step other optimisers, apply masks, observe."""

    def checkpoint_due(self, steps_done: int) -> bool:
        """Evaluate and record after ``steps_done`` steps even if the epoch is not over."""
        return False

    def at_checkpoint(self, steps_done: int, record: dict[str, Any]) -> bool:
        """After a checkpoint (``record`` may be extended); True stops the training."""
        return False

    def finish(self, result: FitResult) -> None:
        """After the last step (e.g. raise when the method did not converge)."""


class PlainHooks(TrainingHooks):
    """Plain training (early stopping); optionally with the gauge decay on some layers, from
    optimiser step ``gauge_from_step`` on (as AutoPruner applies it only after its warm-up: on a
    network that has not learned yet, the strong L2 can drive it to a dead, constant output)."""

    def __init__(
        self, gauge_layers: Sequence[int] = (), gauge_decay: float = 0.0, gauge_from_step: int = 0
    ) -> None:
        super().__init__(gauge_layers, gauge_decay if gauge_from_step <= 0 else 0.0)
        self.pending_gauge = gauge_decay
        self.gauge_from_step = gauge_from_step
        self.training: TrainingSettings | None = None

    def param_groups(self, net: GatedTagger, settings: TrainingSettings) -> list[dict[str, Any]]:
        self.training = settings
        return super().param_groups(net, settings)

    def before_step(self, step: int) -> None:
        if step == self.gauge_from_step and step > 0 and self.gauge_layers:
            assert self.training is not None
            self.set_gauge_decay(self.pending_gauge, self.training)


class EpochLoop:
    """The loop shared by every training: epochs of seeded mini-batches, one optimiser step per
    batch with the hooks around it, checkpoints at epoch ends and where the hooks ask, early
    stopping for plain training."""

    def __init__(
        self,
        net: GatedTagger,
        train: Tensors,
        val: Tensors,
        settings: TrainingSettings,
        seed: int,
        hooks: TrainingHooks,
        desc: str,
    ) -> None:
        self.net, self.train, self.val, self.settings = net, train, val, settings
        self.hooks, self.desc = hooks, desc
        net.to(train.x.device)
        net.train()
        self.steps_per_epoch = max(1, -(-len(train) // settings.batch_size))
        self.result = FitResult(train_jets=len(train), steps_per_epoch=self.steps_per_epoch)
        self.generator = torch.Generator().manual_seed(seed)
        self.optimiser = torch.optim.Adam(
            hooks.param_groups(net, settings), lr=settings.learning_rate
        )
        hooks.start(net, self.optimiser)
        self.step = 0
        self.trace_every = max(1, self.steps_per_epoch // 10)
        self.loss_sum, self.loss_n, self.trace_sum, self.trace_n = 0.0, 0, 0.0, 0

    def optimiser_step(self, index: torch.Tensor, phase: str) -> None:
        """One step: hooks, classifier loss (+ the hooks' term), divergence check, updates."""
        hooks, step = self.hooks, self.step
        started = time.perf_counter()
        hooks.before_step(step)
        loss = weighted_bce(self.net(self.train.x[index]), self.train.y[index], self.train.w[index])
        extra = hooks.extra_loss(step)
        total = loss if extra is None else loss + extra
        self.optimiser.zero_grad(set_to_none=True)
        hooks.zero_grad()
        total.backward()
        value = float(loss.detach())
        if not math.isfinite(value) or (extra is not None and not bool(torch.isfinite(extra))):
            raise TrainingDivergedError(
                f"{self.desc}: non-finite loss at optimiser step {step} (epoch "
                f"{step / self.steps_per_epoch:.2f}, phase {phase}); the training diverged: "
                f"lower ml.learning_rate (now {self.settings.learning_rate:g})"
            )
        hooks.after_backward(step)
        self.optimiser.step()
        hooks.after_step(step)
        self.step += 1
        result = self.result
        result.jet_passes += int(index.numel())
        seconds = time.perf_counter() - started
        result.phase_seconds[phase] = result.phase_seconds.get(phase, 0.0) + seconds
        result.phase_steps[phase] = result.phase_steps.get(phase, 0) + 1
        self.loss_sum += value
        self.loss_n += 1
        self.trace_sum += value
        self.trace_n += 1

    def trace(self, end_of_epoch: bool) -> None:
        """About ten classifier-loss points per epoch (the bumps of the pruning steps)."""
        if self.trace_n == self.trace_every or (end_of_epoch and self.trace_n):
            epoch = round(self.step / self.steps_per_epoch, 6)
            self.result.loss_trace.append((epoch, self.trace_sum / self.trace_n))
            self.trace_sum, self.trace_n = 0.0, 0

    def checkpoint(self, phase: str) -> bool:
        """Validation metrics and gate values; returns whether the hooks stop the training."""
        if not all(bool(torch.isfinite(p).all()) for p in self.net.parameters()):
            raise TrainingDivergedError(
                f"{self.desc}: non-finite weights after {self.step} optimiser steps (the training"
                " diverged; lower ml.learning_rate)"
            )
        val_loss, val_auc = evaluate(self.net, self.val)
        record: dict[str, Any] = {
            "step": self.step,
            "epoch": round(self.step / self.steps_per_epoch, 6),
            "phase": phase,
            "train_loss": self.loss_sum / self.loss_n if self.loss_n else None,
            "val_loss": val_loss,
            "val_auc": val_auc,
            "gates": gate_snapshot(self.net),
        }
        self.loss_sum, self.loss_n = 0.0, 0
        stop = self.hooks.at_checkpoint(self.step, record)
        self.result.history.append(record)
        return stop

    def run(self, max_epochs: int) -> FitResult:
        start = time.perf_counter()
        hooks, result, settings = self.hooks, self.result, self.settings
        limit = hooks.step_limit()
        epoch_limit = (
            max_epochs if limit is None else max(max_epochs, -(-limit // self.steps_per_epoch))
        )
        best_loss, best_state, waited = math.inf, None, 0
        self.checkpoint("init")
        if hooks.early_stopping and hooks.keep_start:
            # Retraining an already trained network: never end worse than where it started.
            best_loss = result.history[0]["val_loss"]
            best_state = copy.deepcopy(self.net.state_dict())
            result.best_step = 0
        bar = tqdm(total=epoch_limit, desc=self.desc, disable=not settings.progress, leave=False)
        stop = False
        for _epoch in range(epoch_limit):
            order = torch.randperm(len(self.train), generator=self.generator).to(
                self.train.x.device
            )
            checkpointed = False
            for batch in range(self.steps_per_epoch):
                phase = hooks.phase(self.step)
                index = order[batch * settings.batch_size : (batch + 1) * settings.batch_size]
                self.optimiser_step(index, phase)
                self.trace(end_of_epoch=batch == self.steps_per_epoch - 1)
                checkpointed = hooks.checkpoint_due(self.step)
                if checkpointed:
                    stop = self.checkpoint(phase)
                if stop or (limit is not None and self.step >= limit):
                    break
            self.trace(end_of_epoch=True)
            if not checkpointed and not stop:
                stop = self.checkpoint(hooks.phase(self.step - 1))
            record = result.history[-1]
            bar.update()
            bar.set_postfix(phase=record["phase"], val_auc=f"{record['val_auc']:.4f}")
            if stop or (limit is not None and self.step >= limit):
                break
            if not hooks.early_stopping:
                continue
            if record["val_loss"] < best_loss:
                best_loss, waited = record["val_loss"], 0
                best_state = copy.deepcopy(self.net.state_dict())
                result.best_step = self.step
            else:
                waited += 1
                if waited >= settings.patience:
                    result.stopped = f"early stopping after {waited} epochs without improvement"
                    break
        bar.close()
        result.optimiser_steps = self.step
        if not result.stopped:
            reached = limit is not None and self.step >= limit
            result.stopped = "hooks" if stop else ("step limit" if reached else "epochs")
        hooks.finish(result)
        if best_state is not None:
            self.net.load_state_dict(best_state)
        else:
            result.best_step = self.step
        result.wall_time_s = time.perf_counter() - start
        return result


def train_loop(
    net: GatedTagger,
    train: Tensors,
    val: Tensors,
    settings: TrainingSettings,
    seed: int,
    hooks: TrainingHooks,
    *,
    max_epochs: int | None = None,
    desc: str = "training",
) -> FitResult:
    """Train ``net`` in place with ``hooks``; ``max_epochs`` defaults to the setting (a step
    limit of the hooks extends it)."""
    loop = EpochLoop(net, train, val, settings, seed, hooks, desc)
    return loop.run(max_epochs if max_epochs is not None else settings.max_epochs)


def fit_plain(
    net: GatedTagger,
    train: Tensors,
    val: Tensors,
    settings: TrainingSettings,
    seed: int,
    *,
    max_epochs: int | None = None,
    gauge_layers: Sequence[int] = (),
    gauge_decay: float = 0.0,
    gauge_from_step: int = 0,
    keep_start: bool = False,
    desc: str = "training",
) -> FitResult:
    """Plain training with early stopping (optionally gauge decay on ``gauge_layers`` from
    optimiser step ``gauge_from_step`` on; ``keep_start``: the starting network competes for
    the best checkpoint, for fine-tuning and retraining)."""
    hooks = PlainHooks(gauge_layers, gauge_decay, gauge_from_step)
    hooks.keep_start = keep_start
    return train_loop(net, train, val, settings, seed, hooks, max_epochs=max_epochs, desc=desc)


def scores_of(net: GatedTagger, data: Tensors) -> np.ndarray:
    """Test-time logits as numpy (deterministic gates)."""
    return network_logits(net, data.x).cpu().numpy()
