"""Typed view of the ``ml`` config section, and the model names the stage produces.

The schema (``deeppp/schema.yaml``) checks types and ranges of single keys and holds the
defaults; the dataclass defaults below repeat them so a test or benchmark can build settings
without a config, and ``tests/test_ml_settings.py`` fails when the two disagree. What depends on
the data or on several keys at once (an input budget larger than the number of features, a
hidden budget smaller than one node per layer) is checked here, with a message naming the key.

Pure Python (no torch): the Snakefile imports this module at parse time.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass, field, fields
from typing import Any

from deeppp import DeepppError
from deeppp.contracts import (
    ML_STUDY_OUTPUTS,
    PRUNING_METHODS,
    REFERENCE_METHOD,
    RETRAINED,
    UNPRUNED,
    BudgetUnit,
    hidden_nodes_for_percent,
    model_name,
    multiplications,
    parse_model_name,
)

logger = logging.getLogger(__name__)


class MLConfigError(DeepppError):
    """An ml setting is inconsistent with the data or with another setting; names the key."""


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
class ScheduleSettings:
    """The pruning schedule every method that prunes during training follows, counted in
    optimiser steps (the gates and masks move per step, not per epoch; docs/autopruner.md).

    ``gauge_decay`` is the regulariser all methods share: an L2 term on the weights that follow
    a prunable unit, applied while the method decides what to prune.
    """

    warmup_steps: int = 150
    pruning_steps: int = 4
    steps_per_pruning_step: int = 150
    max_settle_steps: int = 750
    finetune_epochs: int = 6
    gauge_decay: float = 0.03

    @property
    def prune_end_step(self) -> int:
        return self.warmup_steps + self.pruning_steps * self.steps_per_pruning_step


@dataclass(frozen=True)
class PrunerSettings:
    """AutoPruner loss and snap (reasoning in ``docs/autopruner.md``)."""

    gate_target: float = 1.0
    gate_init: float = 0.9
    gate_learning_rate: float = 0.3
    strength: float = 1.0
    prune_polarisation: float = 0.0
    settle_ramp_steps: int = 75
    snap_threshold: float = 1e-3
    open_tolerance: float = 0.1
    snap_tolerance: float = 0.05
    #: Gate learning rate x optimiser steps a pruning step needs before the ranking forms
    #: (measured, docs/autopruner.md); fewer gives a warning.
    min_gate_travel: float = 45.0


@dataclass(frozen=True)
class L0Settings:
    """Hard-concrete gates (Louizos, Welling, Kingma, ICLR 2018) with a budget penalty."""

    temperature: float = 2.0 / 3.0
    stretch_low: float = -0.1
    stretch_high: float = 1.1
    initial_keep_probability: float = 0.8
    learning_rate: float = 0.05
    strength: float = 1.0


@dataclass(frozen=True)
class PtrSettings:
    """Prune/train/repeat: magnitude pruning, each time retraining the extracted network."""

    prune_fraction: float = 0.5
    max_epochs_per_step: int = 4


@dataclass(frozen=True)
class MLSettings:
    """Everything the stage reads from the config."""

    seed: int = 0
    training: TrainingSettings = field(default_factory=TrainingSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    pruner: PrunerSettings = field(default_factory=PrunerSettings)
    l0: L0Settings = field(default_factory=L0Settings)
    ptr: PtrSettings = field(default_factory=PtrSettings)
    methods: tuple[str, ...] = tuple(PRUNING_METHODS)
    hidden_budgets_percent: tuple[int, ...] = (10, 30)
    input_budgets: tuple[int, ...] = (5,)
    multiplication_budgets_percent: tuple[int, ...] = ()
    without_gauge_decay: tuple[int, ...] = ()
    alt_hidden_layout: tuple[int, ...] | None = (32, 32)
    seeds: int = 3
    bootstrap_samples: int = 200
    confidence_level: float = 0.95
    auc_margin: float = 0.002
    signal_efficiencies: tuple[float, ...] = (0.5, 0.6, 0.7)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MLSettings:
        """Build from a validated config (``deeppp.config.load_config``: defaults filled in)."""
        ml = dict(config.get("ml", {}))
        nested = {
            "training": None,
            "schedule": ScheduleSettings,
            "pruner": PrunerSettings,
            "l0": L0Settings,
            "ptr": PtrSettings,
        }
        training = TrainingSettings(
            **{
                f.name: _tuple(ml[f.name]) if f.name == "hidden_layout" else ml[f.name]
                for f in fields(TrainingSettings)
                if f.name in ml
            }
        )
        sections: dict[str, Any] = {"training": training}
        for key, kind in nested.items():
            if kind is not None:
                config_key = "autopruner" if key == "pruner" else key
                sections[key] = kind(**ml.get(config_key, {}))
        top = {
            f.name: _tuple(ml[f.name])
            for f in fields(cls)
            if f.name not in nested and f.name != "seed" and f.name in ml
        }
        settings = cls(seed=int(config.get("seed", 0)), **sections, **top)
        settings.check_structure()
        return settings

    def check_structure(self) -> None:
        """Checks that need several keys at once (but not the data)."""
        layout = self.training.hidden_layout
        n_layers = len(layout)
        for percent in self.hidden_budgets_percent:
            check_group_budget(
                hidden_nodes_for_percent(percent, layout),
                sum(layout),
                f"ml.hidden_budgets_percent ({percent} %)",
                minimum=n_layers,
            )
        for percent in self.without_gauge_decay:
            if percent not in self.hidden_budgets_percent:
                raise MLConfigError(
                    f"ml.without_gauge_decay: {percent} is not one of ml.hidden_budgets_percent"
                )
        unknown = [m for m in self.methods if m not in PRUNING_METHODS]
        if unknown:
            raise MLConfigError(
                f"ml.methods: unknown {unknown} (known: {', '.join(PRUNING_METHODS)})"
            )
        if self.pruner.gate_init <= self.pruner.snap_threshold:
            raise MLConfigError(
                "ml.autopruner.gate_init must be above ml.autopruner.snap_threshold"
            )
        if not self.l0.stretch_low < 0.0 < 1.0 < self.l0.stretch_high:
            raise MLConfigError("ml.l0: need stretch_low < 0 < 1 < stretch_high")

    def check_features(self, n_features: int) -> None:
        """Input budgets against the number of features actually in the dataset."""
        for k in self.input_budgets:
            check_group_budget(k, n_features, "ml.input_budgets")

    def budgets(self) -> list[tuple[BudgetUnit, int]]:
        """Every (unit, value) budget of the config, in the order of the tables."""
        out: list[tuple[BudgetUnit, int]] = [("hidden", p) for p in self.hidden_budgets_percent]
        out += [("multiplications", p) for p in self.multiplication_budgets_percent]
        out += [("inputs", k) for k in self.input_budgets]
        return out


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def check_group_budget(k: int, group_size: int, what: str, minimum: int = 1) -> None:
    """A budget must keep at least ``minimum`` and at most all of the group's units."""
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
    """Training seed of seed replica ``replica``. All models of one replica share it, so the
    unpruned net and every method start from the same initialisation (paired comparisons)."""
    digest = hashlib.sha256(f"deeppp-ml:{global_seed}:{replica}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


@dataclass(frozen=True)
class Budget:
    """What a pruned model may keep: ``value`` input features, ``value`` % of the hidden
    nodes, or ``value`` % of the multiplications of the unpruned network."""

    unit: BudgetUnit
    value: int

    def target(self, n_inputs: int, hidden_layout: tuple[int, ...]) -> int:
        """The budget in its group's own unit: inputs, hidden nodes or multiplications."""
        if self.unit == "inputs":
            return self.value
        if self.unit == "hidden":
            return hidden_nodes_for_percent(self.value, hidden_layout)
        full = multiplications([n_inputs, *hidden_layout, 1])
        return math.ceil(self.value * full / 100)

    @property
    def group(self) -> str:
        """The gate group the budget acts on."""
        return "inputs" if self.unit == "inputs" else "hidden"

    @property
    def cost_unit(self) -> str:
        """How the group's usage is counted: ``nodes`` or ``multiplications``."""
        return "multiplications" if self.unit == "multiplications" else "nodes"


@dataclass(frozen=True)
class ModelSpec:
    """What one model name means: how it is trained, with which budget and seed."""

    name: str
    family: str  # "unpruned", "retrained" or a pruning method
    hidden_layout: tuple[int, ...]
    seed: int
    replica: int = 0
    budget: Budget | None = None
    gauge_decay: bool = True
    source_model: str | None = None  # retrained: the AutoPruner model whose layout it takes

    @property
    def base_name(self) -> str:
        return self.name.split("_seed")[0]


def model_spec(settings: MLSettings, name: str) -> ModelSpec:
    """Parse a model name (``unpruned``, ``autopruner_h30``, ``l0_in10_alt_seed1`` ...)."""
    try:
        parsed = parse_model_name(name)
    except ValueError as err:
        raise MLConfigError(str(err)) from None
    replica = parsed.replica
    seed = derive_seed(settings.seed, replica)
    layout = settings.training.hidden_layout
    if parsed.family == UNPRUNED:
        return ModelSpec(name, UNPRUNED, layout, seed, replica)
    assert parsed.budget_unit is not None and parsed.budget_value is not None
    budget = Budget(parsed.budget_unit, parsed.budget_value)
    if parsed.alternative_layout:
        if settings.alt_hidden_layout is None:
            raise MLConfigError(f"{name}: ml.alt_hidden_layout is null")
        layout = settings.alt_hidden_layout
    if budget.unit == "inputs":
        check_group_budget(budget.value, 10**9, f"model {name}")
    else:
        if not 1 <= budget.value <= 100:
            raise MLConfigError(f"model {name}: budget of {budget.value} % must be within 1..100")
        if budget.unit == "hidden":
            check_group_budget(
                budget.target(1, layout), sum(layout), f"model {name}", minimum=len(layout)
            )
    source = None
    if parsed.family == RETRAINED:
        source = model_name(
            REFERENCE_METHOD,
            budget.unit,
            budget.value,
            alternative_layout=parsed.alternative_layout,
            gauge_decay=parsed.gauge_decay,
            replica=replica,
        )
    return ModelSpec(
        name,
        parsed.family,
        layout,
        seed,
        replica,
        budget=budget,
        gauge_decay=parsed.gauge_decay,
        source_model=source,
    )


def seed_names(name: str, seeds: int) -> list[str]:
    """``name`` for replica 0 and ``name_seed<i>`` for the other replicas."""
    return [name if i == 0 else f"{name}_seed{i}" for i in range(seeds)]


def setting_names(settings: MLSettings) -> list[str]:
    """One name per model setting (replica 0): unpruned, every method at every budget, the
    retrained AutoPruner layouts, the alternative-layout input models and the runs without
    gauge decay."""
    names = [UNPRUNED]
    autopruner = REFERENCE_METHOD in settings.methods
    for unit, value in settings.budgets():
        names += [model_name(m, unit, value) for m in settings.methods]
        if autopruner and unit != "inputs":
            names.append(model_name(RETRAINED, unit, value))
    if autopruner and settings.alt_hidden_layout is not None:
        names += [
            model_name(REFERENCE_METHOD, "inputs", k, alternative_layout=True)
            for k in settings.input_budgets
        ]
    for percent in settings.without_gauge_decay:
        names += [model_name(m, "hidden", percent, gauge_decay=False) for m in settings.methods]
    return names


def model_names(settings: MLSettings, *, core_only: bool = False) -> list[str]:
    """Every model the config produces, in a stable order.

    ``core_only``: the seed-0 model of the unpruned net and of every method at every budget
    (one model per setting, what firmware builds); without the seed replicas and the study-only
    models (retrained layouts, alternative-layout input models, runs without gauge decay).
    """
    settings_only = setting_names(settings)
    if core_only:
        parsed = [parse_model_name(n) for n in settings_only]
        return [
            p.name
            for p in parsed
            if p.family != RETRAINED and not p.alternative_layout and p.gauge_decay
        ]
    return [
        replica_name
        for replica in range(settings.seeds)
        for name in settings_only
        for replica_name in [name if replica == 0 else f"{name}_seed{replica}"]
    ]


def study_models(settings: MLSettings, study: str) -> list[str]:
    """Models a study reads (its Snakemake inputs). Here, not in ml.studies, so that parsing the
    workflow never imports torch."""
    every = model_names(settings)

    def having(predicate: Any) -> list[str]:
        return [n for n in every if predicate(parse_model_name(n))]

    unpruned = having(lambda p: p.family == UNPRUNED)
    if study == "baseline":
        return unpruned
    if study == "methods":
        return having(
            lambda p: (
                p.family == UNPRUNED
                or (p.family in PRUNING_METHODS and p.gauge_decay and not p.alternative_layout)
            )
        )
    if study == "regularisation":
        percents = set(settings.without_gauge_decay)
        return unpruned + having(
            lambda p: (
                p.family in PRUNING_METHODS
                and p.budget_unit == "hidden"
                and p.budget_value in percents
            )
        )
    if study == "inputs":
        return unpruned + having(lambda p: p.budget_unit == "inputs")
    if study == "hidden":
        return unpruned + having(
            lambda p: (
                p.family in PRUNING_METHODS
                and p.budget_unit in ("hidden", "multiplications")
                and p.gauge_decay
            )
        )
    if study == "retrain":
        return unpruned + having(
            lambda p: (
                p.family in (REFERENCE_METHOD, RETRAINED)
                and p.budget_unit in ("hidden", "multiplications")
                and p.gauge_decay
            )
        )
    if study == "stability":
        return unpruned + having(
            lambda p: p.family == REFERENCE_METHOD and p.gauge_decay and p.budget_unit is not None
        )
    if study == "summary":
        return every
    raise ValueError(f"unknown study {study!r} (known: {', '.join(ML_STUDY_OUTPUTS)})")
