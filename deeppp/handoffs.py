"""Typed hand-offs between stages: :class:`ModelMetrics`, the ``metrics.json`` of one trained
tagger (ml -> studies, firmware, report).

Pure Python (no numpy, torch): the report stage imports it without the ML stack. Validated on
write (:meth:`ModelMetrics.to_json`) and on read (:meth:`ModelMetrics.from_json`,
:func:`read_model_metrics`): a missing key or a value of the wrong type is a one-line
:class:`HandoffError` naming the file and the key. The signal efficiencies at which rejections
are quoted are read from the file (``test.signal_efficiencies``), never assumed.

JSON layout (``docs/data_contracts.md``)::

    {"model": "autopruner_h30", "family": "autopruner", "seed": ..., "replica": 0,
     "layout": [39, 20, 19, 19, 19, 1], "inputs": 39, "nodes_per_layer": [...],
     "hidden_nodes": 77, "multiplications": ..., "parameters": ..., "feature_names": [...],
     "budget": {"unit": "hidden", "value": 30, "target": 77, "cost_unit": "nodes"} | null,
     "gauge_decay": true,
     "test": {"n_jets": ..., "sample": {"n_signal_events": ..., ...},
              "signal_efficiencies": [0.5, 0.7],
              "auc": {"value", "uncertainty", "n_bootstrap", "n_infinite"},
              "rejection_50": {... , "signal_efficiency": 0.5, "n_background_selected": ...,
                               "low_statistics": false}, ...},
     "training": {"jet_passes", "optimiser_steps", "epochs", "trainings"},
     "timing": {"wall_time_s"},   # the only block that differs between identical runs
     "details": {...method specific...}, "provenance": {...}}
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deeppp import DeepppError


class HandoffError(DeepppError):
    """A hand-off file or payload does not follow its contract; names the file and key."""


def rejection_key(signal_efficiency: float) -> str:
    """``rejection_50`` for eps_S = 0.50 (the key in ``metrics.json``)."""
    return f"rejection_{round(signal_efficiency * 100):d}"


def _get(mapping: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(mapping, dict):
        raise HandoffError(f"{where}: expected an object")
    if key not in mapping:
        raise HandoffError(f"{where}: missing '{key}'")
    value = mapping[key]
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise HandoffError(f"{where}.{key}: expected {_names(kind)}, got a boolean")
    if not isinstance(value, kind):
        raise HandoffError(f"{where}.{key}: expected {_names(kind)}, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise HandoffError(f"{where}.{key}: must be finite (null stands for 'none')")
    return value


def _names(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join("null" if k is type(None) else k.__name__ for k in kinds)


_NUMBER = (int, float)
_OPTIONAL_NUMBER = (int, float, type(None))


@dataclass(frozen=True)
class Measurement:
    """A metric with its bootstrap standard deviation (``None``: not defined, e.g. inf)."""

    value: float | None
    uncertainty: float | None
    n_bootstrap: int
    n_infinite: int

    @classmethod
    def from_json(cls, data: Any, where: str) -> Measurement:
        return cls(
            value=_get(data, "value", _OPTIONAL_NUMBER, where),
            uncertainty=_get(data, "uncertainty", _OPTIONAL_NUMBER, where),
            n_bootstrap=_get(data, "n_bootstrap", int, where),
            n_infinite=_get(data, "n_infinite", int, where),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "uncertainty": self.uncertainty,
            "n_bootstrap": self.n_bootstrap,
            "n_infinite": self.n_infinite,
        }


@dataclass(frozen=True)
class Rejection(Measurement):
    """1/eps_B at one signal efficiency; ``value`` None = infinite (no background passed)."""

    signal_efficiency: float = 0.0
    n_background_selected: int = 0
    low_statistics: bool = False

    @classmethod
    def from_json(cls, data: Any, where: str) -> Rejection:
        base = Measurement.from_json(data, where)
        return cls(
            **base.__dict__,
            signal_efficiency=float(_get(data, "signal_efficiency", _NUMBER, where)),
            n_background_selected=_get(data, "n_background_selected", int, where),
            low_statistics=_get(data, "low_statistics", bool, where),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            **super().to_json(),
            "signal_efficiency": self.signal_efficiency,
            "n_background_selected": self.n_background_selected,
            "low_statistics": self.low_statistics,
        }


SAMPLE_KEYS = (
    "n_jets",
    "n_signal_jets",
    "n_background_jets",
    "n_events",
    "n_signal_events",
    "n_background_events",
)


@dataclass(frozen=True)
class Performance:
    """Performance on the test split with the sample it rests on."""

    sample: dict[str, int]
    auc: Measurement
    rejections: tuple[Rejection, ...]

    @property
    def signal_efficiencies(self) -> tuple[float, ...]:
        return tuple(r.signal_efficiency for r in self.rejections)

    def rejection(self, signal_efficiency: float) -> Rejection:
        for r in self.rejections:
            if math.isclose(r.signal_efficiency, signal_efficiency):
                return r
        raise HandoffError(
            f"no rejection at eps_S = {signal_efficiency} (have {list(self.signal_efficiencies)})"
        )

    @classmethod
    def from_json(cls, data: Any, where: str) -> Performance:
        sample_data = _get(data, "sample", dict, where)
        sample = {k: _get(sample_data, k, int, f"{where}.sample") for k in SAMPLE_KEYS}
        effs = _get(data, "signal_efficiencies", list, where)
        rejections = []
        for eff in effs:
            if not isinstance(eff, _NUMBER) or isinstance(eff, bool) or not 0 < eff < 1:
                raise HandoffError(f"{where}.signal_efficiencies: {eff!r} is not in (0, 1)")
            key = rejection_key(eff)
            rejections.append(Rejection.from_json(_get(data, key, dict, where), f"{where}.{key}"))
        return cls(
            sample,
            Measurement.from_json(_get(data, "auc", dict, where), f"{where}.auc"),
            tuple(rejections),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "n_jets": self.sample["n_jets"],
            "sample": dict(self.sample),
            "signal_efficiencies": list(self.signal_efficiencies),
            "auc": self.auc.to_json(),
        }
        for r in self.rejections:
            out[rejection_key(r.signal_efficiency)] = r.to_json()
        return out


@dataclass(frozen=True)
class TrainingCost:
    """What producing the model cost. ``jet_passes`` (jets pushed forward and backward through
    a network, summed over every training the method ran) is the primary, reproducible measure;
    wall time is kept apart because it differs between identical runs."""

    jet_passes: int
    optimiser_steps: int
    epochs: float
    trainings: int

    @classmethod
    def from_json(cls, data: Any, where: str) -> TrainingCost:
        return cls(
            jet_passes=_get(data, "jet_passes", int, where),
            optimiser_steps=_get(data, "optimiser_steps", int, where),
            epochs=float(_get(data, "epochs", _NUMBER, where)),
            trainings=_get(data, "trainings", int, where),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "jet_passes": self.jet_passes,
            "optimiser_steps": self.optimiser_steps,
            "epochs": self.epochs,
            "trainings": self.trainings,
        }


@dataclass(frozen=True)
class ModelMetrics:
    """``metrics.json`` of one trained tagger."""

    model: str
    family: str
    seed: int
    replica: int
    layout: tuple[int, ...]
    feature_names: tuple[str, ...]
    parameters: int
    budget: dict[str, Any] | None
    gauge_decay: bool
    test: Performance
    training: TrainingCost
    wall_time_s: float
    details: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def inputs(self) -> int:
        return self.layout[0]

    @property
    def nodes_per_layer(self) -> tuple[int, ...]:
        return self.layout[1:-1]

    @property
    def hidden_nodes(self) -> int:
        return sum(self.nodes_per_layer)

    @property
    def multiplications(self) -> int:
        return sum(a * b for a, b in zip(self.layout[:-1], self.layout[1:], strict=True))

    def __post_init__(self) -> None:
        if len(self.layout) < 2 or any(not isinstance(w, int) or w < 1 for w in self.layout):
            raise HandoffError(f"{self.model}: invalid layout {list(self.layout)}")
        if len(self.feature_names) != self.layout[0]:
            raise HandoffError(
                f"{self.model}: {len(self.feature_names)} feature names for {self.layout[0]} inputs"
            )
        if not math.isfinite(self.wall_time_s) or self.wall_time_s < 0:
            raise HandoffError(f"{self.model}: wall time must be finite and non-negative")

    def to_json(self) -> dict[str, Any]:
        out = {
            "model": self.model,
            "family": self.family,
            "seed": self.seed,
            "replica": self.replica,
            "layout": list(self.layout),
            "inputs": self.inputs,
            "nodes_per_layer": list(self.nodes_per_layer),
            "hidden_nodes": self.hidden_nodes,
            "multiplications": self.multiplications,
            "parameters": self.parameters,
            "feature_names": list(self.feature_names),
            "budget": self.budget,
            "gauge_decay": self.gauge_decay,
            "test": self.test.to_json(),
            "training": self.training.to_json(),
            "timing": {"wall_time_s": self.wall_time_s},
            "details": self.details,
            "provenance": self.provenance,
        }
        # Validated on write: what is written must read back (finite numbers, every key).
        try:
            text = json.dumps(out, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise HandoffError(f"{self.model} metrics: not JSON-serialisable ({err})") from err
        ModelMetrics.from_json(json.loads(text), f"{self.model} metrics")
        return out

    @classmethod
    def from_json(cls, data: Any, where: str) -> ModelMetrics:
        layout = _get(data, "layout", list, where)
        names = _get(data, "feature_names", list, where)
        if not all(isinstance(n, str) for n in names):
            raise HandoffError(f"{where}.feature_names: must be strings")
        budget = _get(data, "budget", (dict, type(None)), where)
        metrics = cls(
            model=_get(data, "model", str, where),
            family=_get(data, "family", str, where),
            seed=_get(data, "seed", int, where),
            replica=_get(data, "replica", int, where),
            layout=tuple(layout),
            feature_names=tuple(names),
            parameters=_get(data, "parameters", int, where),
            budget=budget,
            gauge_decay=_get(data, "gauge_decay", bool, where),
            test=Performance.from_json(_get(data, "test", dict, where), f"{where}.test"),
            training=TrainingCost.from_json(
                _get(data, "training", dict, where), f"{where}.training"
            ),
            wall_time_s=float(
                _get(_get(data, "timing", dict, where), "wall_time_s", _NUMBER, f"{where}.timing")
            ),
            details=_get(data, "details", dict, where),
            provenance=_get(data, "provenance", dict, where),
        )
        for key in ("hidden_nodes", "multiplications", "inputs"):
            if key in data and data[key] != getattr(metrics, key):
                raise HandoffError(f"{where}.{key}: {data[key]} disagrees with the layout")
        return metrics


def read_model_metrics(path: str | os.PathLike[str]) -> ModelMetrics:
    """Read and validate a ``metrics.json``; every problem is one :class:`HandoffError` line."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError as err:
        raise HandoffError(f"{p}: metrics file does not exist") from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise HandoffError(f"{p}: not a readable JSON file ({err})") from err
    return ModelMetrics.from_json(data, str(p))
