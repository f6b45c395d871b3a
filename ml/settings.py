"""Typed view of the ``ml`` config section, and the model names the stage produces.

The schema (``deeppp/schema.yaml``) checks types and ranges of single keys; what depends on the
data or on several keys at once (an input budget larger than the number of features, a hidden
budget smaller than one node per layer) is checked here, with a message naming the key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from deeppp import DeepppError
from deeppp.contracts import (
    ML_STUDY_OUTPUTS,
    hidden_nodes_for_percent,
    parse_model_name,
)


class MLConfigError(DeepppError):
    """An ml setting is inconsistent with the data or with another setting; names the key."""


BudgetUnit = Literal["nodes", "multiplications"]


@dataclass(frozen=True)
class TrainingSettings:
    """Optimiser, batching and stopping rules shared by every training of the stage."""

    hidden_layout: tuple[int, ...] = (64, 64, 64, 64)
    batch_size: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    max_epochs: int = 30
    patience: int = 4
    device: str = "auto"
    threads: int = 1
    progress: bool = True


@dataclass(frozen=True)
class PrunerSettings:
    """AutoPruner loss and schedule (reasoning in ``docs/autopruner.md``)."""

    gate_target: float = 1.0
    gate_init: float = 0.9
    gate_learning_rate: float = 0.3
    strength: float = 1.0
    gauge_decay: float = 0.03
    prune_polarisation: float = 0.0
    settle_ramp: bool = True
    warmup_epochs: int = 2
    pruning_steps: int = 4
    epochs_per_step: int = 1
    max_settle_epochs: int = 10
    finetune_epochs: int = 6
    snap_threshold: float = 1e-3
    open_tolerance: float = 0.1
    snap_tolerance: float = 0.05


@dataclass(frozen=True)
class PtrSettings:
    """Classic prune/train/repeat baseline: node-level L1-norm pruning with retraining."""

    prune_fraction: float = 0.2
    max_epochs_per_step: int = 10


@dataclass(frozen=True)
class MLSettings:
    """Everything the stage reads from the config, with defaults matching the schema."""

    seed: int = 0
    training: TrainingSettings = field(default_factory=TrainingSettings)
    pruner: PrunerSettings = field(default_factory=PrunerSettings)
    ptr: PtrSettings = field(default_factory=PtrSettings)
    budget_unit: BudgetUnit = "nodes"
    hidden_budgets_percent: tuple[int, ...] = (30, 50, 70)
    input_budgets: tuple[int, ...] = (5, 10, 20, 30)
    alt_hidden_layout: tuple[int, ...] | None = (32, 32)
    stability_seeds: int = 3
    bootstrap_samples: int = 200
    signal_efficiencies: tuple[float, ...] = (0.5, 0.6, 0.7)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MLSettings:
        """Build from a validated config (``deeppp.config.load_config``)."""
        ml = dict(config.get("ml", {}))
        training = TrainingSettings(
            hidden_layout=tuple(ml.get("hidden_layout", TrainingSettings.hidden_layout)),
            batch_size=ml.get("batch_size", TrainingSettings.batch_size),
            learning_rate=ml.get("learning_rate", TrainingSettings.learning_rate),
            weight_decay=ml.get("weight_decay", TrainingSettings.weight_decay),
            max_epochs=ml.get("max_epochs", TrainingSettings.max_epochs),
            patience=ml.get("patience", TrainingSettings.patience),
            device=ml.get("device", TrainingSettings.device),
            threads=ml.get("threads", TrainingSettings.threads),
            progress=ml.get("progress", TrainingSettings.progress),
        )
        pruner = PrunerSettings(**ml.get("autopruner", {}))
        ptr = PtrSettings(**ml.get("ptr", {}))
        alt = ml.get("alt_hidden_layout", cls.alt_hidden_layout)
        settings = cls(
            seed=int(config.get("seed", 0)),
            training=training,
            pruner=pruner,
            ptr=ptr,
            budget_unit=ml.get("budget_unit", cls.budget_unit),
            hidden_budgets_percent=tuple(
                ml.get("hidden_budgets_percent", cls.hidden_budgets_percent)
            ),
            input_budgets=tuple(ml.get("input_budgets", cls.input_budgets)),
            alt_hidden_layout=None if alt is None else tuple(alt),
            stability_seeds=ml.get("stability_seeds", cls.stability_seeds),
            bootstrap_samples=ml.get("bootstrap_samples", cls.bootstrap_samples),
            signal_efficiencies=tuple(ml.get("signal_efficiencies", cls.signal_efficiencies)),
        )
        settings.check_structure()
        return settings

    def check_structure(self) -> None:
        """Checks that need several keys at once (but not the data)."""
        n_layers = len(self.training.hidden_layout)
        for percent in self.hidden_budgets_percent:
            check_group_budget(
                hidden_nodes_for_percent(percent, self.training.hidden_layout),
                sum(self.training.hidden_layout),
                f"ml.hidden_budgets_percent ({percent} %)",
                minimum=n_layers,
            )
        if self.pruner.gate_init <= self.pruner.snap_threshold:
            raise MLConfigError(
                "ml.autopruner.gate_init must be above ml.autopruner.snap_threshold"
            )

    def check_features(self, n_features: int) -> None:
        """Input budgets against the number of features actually in the dataset."""
        for k in self.input_budgets:
            check_group_budget(k, n_features, "ml.input_budgets")


def check_group_budget(k: int, group_size: int, what: str, minimum: int = 1) -> None:
    """A budget must keep at least ``minimum`` and at most all of the group's gates."""
    if not isinstance(k, int) or isinstance(k, bool):
        raise MLConfigError(f"{what}: budget {k!r} is not an integer number of gates")
    if k < minimum:
        reason = (
            "must be positive" if minimum <= 1 else f"needs at least {minimum} (one node per layer)"
        )
        raise MLConfigError(f"{what}: budget of {k} gates {reason}")
    if k > group_size:
        raise MLConfigError(f"{what}: budget of {k} gates exceeds the group size of {group_size}")


def derive_seed(global_seed: int, replica: int) -> int:
    """Training seed of seed replica ``replica``; replica 0 (the main models) share one seed,
    so the unpruned, AutoPruner and retrained models start from comparable initialisations."""
    digest = hashlib.sha256(f"deeppp-ml:{global_seed}:{replica}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


ModelKind = Literal["plain", "autopruner", "retrained", "ptr"]


@dataclass(frozen=True)
class ModelSpec:
    """What one model name means: how it is trained, with which budget and seed."""

    name: str
    kind: ModelKind
    hidden_layout: tuple[int, ...]
    seed: int
    replica: int = 0
    hidden_percent: int | None = None
    input_keep: int | None = None
    source_model: str | None = None  # retrained: the AutoPruner model whose layout it takes

    @property
    def base_name(self) -> str:
        return self.name.split("_seed")[0]


def model_spec(settings: MLSettings, name: str) -> ModelSpec:
    """Parse a model name (``unpruned``, ``autopruner_h30``, ``autopruner_in10_alt_seed1`` ...)."""
    try:
        parsed = parse_model_name(name)
    except ValueError as err:
        raise MLConfigError(str(err)) from None
    replica = parsed.replica
    seed = derive_seed(settings.seed, replica)
    layout = settings.training.hidden_layout
    if parsed.family == "unpruned":
        return ModelSpec(name, "plain", layout, seed, replica)
    if parsed.input_keep is not None:
        if parsed.alternative_layout:
            if settings.alt_hidden_layout is None:
                raise MLConfigError(f"{name}: ml.alt_hidden_layout is null")
            layout = settings.alt_hidden_layout
        k = parsed.input_keep
        check_group_budget(k, 10**9, f"model {name}")
        return ModelSpec(name, "autopruner", layout, seed, replica, input_keep=k)
    assert parsed.hidden_percent is not None
    percent = parsed.hidden_percent
    if not 1 <= percent <= 100:
        raise MLConfigError(f"model {name}: hidden budget {percent} % must be within 1..100")
    check_group_budget(
        hidden_nodes_for_percent(percent, layout), sum(layout), f"model {name}", minimum=len(layout)
    )
    kind: ModelKind = "plain" if parsed.family == "unpruned" else parsed.family  # type: ignore[assignment]
    source = (
        f"autopruner_h{percent}" + (f"_seed{replica}" if replica else "")
        if kind == "retrained"
        else None
    )
    return ModelSpec(name, kind, layout, seed, replica, hidden_percent=percent, source_model=source)


def model_names(settings: MLSettings, *, core_only: bool = False) -> list[str]:
    """Every model the config produces, in a stable order.

    ``core_only`` leaves out the seed replicas and the alternative-layout input-selection models
    (study-only models), for consumers such as firmware that need one model per setting.
    """
    names = ["unpruned"]
    names += [f"autopruner_h{p}" for p in settings.hidden_budgets_percent]
    names += [f"retrained_h{p}" for p in settings.hidden_budgets_percent]
    names += [f"ptr_h{p}" for p in settings.hidden_budgets_percent]
    names += [f"autopruner_in{k}" for k in settings.input_budgets]
    if core_only:
        return names
    if settings.alt_hidden_layout is not None:
        names += [f"autopruner_in{k}_alt" for k in settings.input_budgets]
    for replica in range(1, settings.stability_seeds):
        names += [f"autopruner_h{p}_seed{replica}" for p in settings.hidden_budgets_percent]
        names += [f"autopruner_in{k}_seed{replica}" for k in settings.input_budgets]
    return names


def study_models(settings: MLSettings, study: str) -> list[str]:
    """Models a study reads (its Snakemake inputs). Here, not in ml.studies, so that parsing the
    workflow never imports torch."""
    hidden = [f"autopruner_h{p}" for p in settings.hidden_budgets_percent]
    inputs = [f"autopruner_in{k}" for k in settings.input_budgets]
    if study == "baseline":
        return ["unpruned"]
    if study == "inputs":
        alt = [f"{m}_alt" for m in inputs] if settings.alt_hidden_layout is not None else []
        return ["unpruned", *inputs, *alt]
    if study == "hidden":
        return ["unpruned", *hidden]
    if study == "retrain":
        return ["unpruned", *hidden, *[f"retrained_h{p}" for p in settings.hidden_budgets_percent]]
    if study == "ptr":
        return ["unpruned", *hidden, *[f"ptr_h{p}" for p in settings.hidden_budgets_percent]]
    if study == "stability":
        replicas = [
            m
            for m in model_names(settings)
            if m.startswith(("autopruner_h", "autopruner_in")) and not m.endswith("_alt")
        ]
        return ["unpruned", *replicas]
    if study == "summary":
        return model_names(settings)
    raise ValueError(f"unknown study {study!r} (known: {', '.join(ML_STUDY_OUTPUTS)})")
