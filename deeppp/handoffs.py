"""Typed hand-offs between stages: what one stage writes and the next one reads.

Each hand-off is a frozen dataclass with ``to_json``/``from_json``; ``from_json`` checks every
key and type and raises :class:`HandoffError` naming the file and the key, so a malformed or
foreign file is a one-line error in the reader, never a ``KeyError`` deep inside it. Writers
build the dataclass (validated by construction) and serialise it; readers never use ``.get()``
chains on raw JSON.

Pure Python on purpose (no numpy, torch or uproot): the report layer reads these files without
importing the stage packages.

Two hand-offs live here:

* :class:`ModelMetrics`, the ``metrics.json`` of one trained tagger (ml -> studies, firmware,
  report). The signal efficiencies at which rejections are quoted are read from the file
  (``test.signal_efficiencies``), never assumed.
* :class:`FirmwareReport`, the ``report.json`` of one firmware build (firmware -> report).

``metrics.json`` layout (``docs/data_contracts.md``)::


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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, TypeVar

from deeppp import DeepppError


class HandoffError(DeepppError):
    """A hand-off file is missing, not JSON, or lacks/mistypes a key; names the file and key."""


# ============================================================================================
# ModelMetrics: metrics.json of one trained tagger
# ============================================================================================


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


# ============================================================================================
# FirmwareReport: report.json of one firmware build
# ============================================================================================


T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# Validation helpers (shared by every hand-off class)
# --------------------------------------------------------------------------------------------


class _Reader:
    """Typed access to one JSON object; errors name ``where`` (file and key path)."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise HandoffError(f"{where}: expected a JSON object, found {_kind(data)}")
        self.data: dict[str, Any] = data
        self.where = where

    def sub(self, key: str) -> _Reader:
        return _Reader(self.raw(key), f"{self.where}.{key}")

    def raw(self, key: str) -> Any:
        if key not in self.data:
            raise HandoffError(f"{self.where}: lacks '{key}'")
        return self.data[key]

    def has(self, key: str) -> bool:
        return key in self.data

    def text(self, key: str, optional: bool = False) -> Any:
        return self._typed(key, (str,), "a string", optional)

    def flag(self, key: str, optional: bool = False) -> Any:
        return self._typed(key, (bool,), "true/false", optional)

    def integer(self, key: str, optional: bool = False) -> Any:
        value = self._typed(key, (int,), "an integer", optional)
        if isinstance(value, bool):
            raise HandoffError(f"{self.where}.{key}: expected an integer, found true/false")
        return value

    def number(self, key: str, optional: bool = False) -> Any:
        value = self._typed(key, (int, float), "a number", optional)
        if isinstance(value, bool):
            raise HandoffError(f"{self.where}.{key}: expected a number, found true/false")
        if value is not None and not math.isfinite(value):
            raise HandoffError(f"{self.where}.{key}: not a finite number")
        return None if value is None else float(value)

    def int_list(self, key: str) -> tuple[int, ...]:
        values = self._typed(key, (list,), "a list", False)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise HandoffError(f"{self.where}.{key}: expected a list of integers")
        return tuple(values)

    def str_list(self, key: str) -> tuple[str, ...]:
        values = self._typed(key, (list,), "a list", False)
        if not all(isinstance(v, str) for v in values):
            raise HandoffError(f"{self.where}.{key}: expected a list of strings")
        return tuple(values)

    def literal(self, key: str, allowed: Sequence[str]) -> Any:
        value = self.text(key)
        if value not in allowed:
            raise HandoffError(
                f"{self.where}.{key}: {value!r} is not one of {', '.join(map(repr, allowed))}"
            )
        return value

    def mapping(self, key: str) -> dict[str, Any]:
        value = self._typed(key, (dict,), "an object", False)
        return dict(value)

    def _typed(self, key: str, types: tuple[type, ...], name: str, optional: bool) -> Any:
        if key not in self.data:
            raise HandoffError(f"{self.where}: lacks '{key}'")
        value = self.data[key]
        if value is None and optional:
            return None
        if not isinstance(value, types):
            raise HandoffError(f"{self.where}.{key}: expected {name}, found {_kind(value)}")
        return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "true/false",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def read_json_file(path: str | os.PathLike[str], what: str) -> Any:
    """Parse a JSON hand-off file; every failure is a :class:`HandoffError` naming the file."""
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError as err:
        raise HandoffError(f"{p}: {what} does not exist") from err
    except IsADirectoryError as err:
        raise HandoffError(f"{p}: {what} is a directory, not a file") from err
    except UnicodeDecodeError as err:
        raise HandoffError(f"{p}: {what} is not text (binary file?)") from err
    except OSError as err:
        raise HandoffError(f"{p}: cannot read {what}: {err.strerror or err}") from err
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise HandoffError(f"{p}: {what} is not valid JSON ({err.msg}, line {err.lineno})") from err


# --------------------------------------------------------------------------------------------
# Firmware -> report: ``firmware/{model}/report.json``
# --------------------------------------------------------------------------------------------

#: Tools a firmware figure can come from (docs/data_contracts.md, "firmware -> report").
FIRMWARE_TOOLS: tuple[str, ...] = (
    "torch",
    "numpy-fixed-point",
    "hls4ml-emulation",
    "da4ml-emulator",
    "da4ml-pipeline",
    "da4ml-estimate",
    "verilator",
    "yosys",
    "nextpnr-ecp5",
    "vitis",
    "vivado",
)

#: The one set of resource key names, whatever tool produced the number: LUT sites (logic
#: LUTs, inverters and shift-register LUTs), flip-flops, carry cells, DSP slices, block RAM in
#: 18 Kb units (a 36 Kb RAM counts 2), latency and initiation interval in clock cycles,
#: latency in ns, and the longest combinational path between two registers in cells.
RESOURCE_KEYS: tuple[str, ...] = (
    "lut",
    "ff",
    "carry",
    "dsp",
    "bram_18k",
    "latency_cycles",
    "latency_ns",
    "initiation_interval",
    "longest_path_cells",
)

BuildRole = Literal["scanned", "reference"]
BUILD_ROLES: tuple[str, ...] = ("scanned", "reference")
FIRMWARE_REPORT_FORMAT = "deeppp-firmware-report-v2"


@dataclass(frozen=True)
class Figure:
    """A number with the tool that produced it, or ``value=None`` and the reason it is missing.

    A figure a tool could not produce here is never filled in from elsewhere.
    """

    value: float | int | None
    tool: str | None
    skipped: str | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if self.value is None:
            if self.tool is not None or not self.skipped:
                raise ValueError("a missing figure has no tool and says why it is missing")
        else:
            if self.tool not in FIRMWARE_TOOLS:
                raise ValueError(f"unknown tool {self.tool!r}")
            if isinstance(self.value, float) and not math.isfinite(self.value):
                raise ValueError(f"{self.tool} figure is not finite")

    @classmethod
    def of(cls, value: float | int | None, tool: str, note: str | None = None) -> Figure:
        if value is None:
            return cls.missing(f"{tool} reported no value")
        return cls(value, tool, None, note)

    @classmethod
    def missing(cls, reason: str) -> Figure:
        return cls(None, None, reason)

    @property
    def measured(self) -> bool:
        return self.value is not None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value, "tool": self.tool}
        if self.skipped is not None:
            out["skipped"] = self.skipped
        if self.note is not None:
            out["note"] = self.note
        return out

    @classmethod
    def from_json(cls, data: Any, where: str) -> Figure:
        r = _Reader(data, where)
        value = r.raw("value")
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise HandoffError(f"{where}.value: expected a number or null, found {_kind(value)}")
        tool = r.text("tool", optional=True)
        skipped = r.text("skipped", optional=True) if r.has("skipped") else None
        note = r.text("note", optional=True) if r.has("note") else None
        try:
            return cls(value, tool, skipped, note)
        except ValueError as err:
            raise HandoffError(f"{where}: {err}") from err


def _figures_to_json(figures: Mapping[str, Figure]) -> dict[str, Any]:
    return {key: figure.to_json() for key, figure in figures.items()}


def _figures_from_json(r: _Reader, key: str, required: Sequence[str] = ()) -> dict[str, Figure]:
    sub = r.sub(key)
    out = {}
    for name, value in sub.data.items():
        if name not in RESOURCE_KEYS:
            raise HandoffError(
                f"{sub.where}: unknown resource key '{name}' (known: {', '.join(RESOURCE_KEYS)})"
            )
        out[name] = Figure.from_json(value, f"{sub.where}.{name}")
    for name in required:
        if name not in out:
            raise HandoffError(f"{sub.where}: lacks '{name}'")
    return out


@dataclass(frozen=True)
class AucLoss:
    """AUC(float) - AUC(fixed point) on the same jets, with a paired event-bootstrap interval."""

    value: float
    ci_low: float
    ci_high: float
    confidence: float
    n_bootstrap: int
    tolerance: float
    n_jets: int
    n_events: int

    @property
    def exceeds_tolerance(self) -> bool:
        return self.value > self.tolerance

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "confidence": self.confidence,
            "n_bootstrap": self.n_bootstrap,
            "tolerance": self.tolerance,
            "exceeds_tolerance": self.exceeds_tolerance,
            "n_jets": self.n_jets,
            "n_events": self.n_events,
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> AucLoss:
        r = _Reader(data, where)
        loss = cls(
            r.number("value"),
            r.number("ci_low"),
            r.number("ci_high"),
            r.number("confidence"),
            r.integer("n_bootstrap"),
            r.number("tolerance"),
            r.integer("n_jets"),
            r.integer("n_events"),
        )
        if r.flag("exceeds_tolerance") != loss.exceeds_tolerance:
            raise HandoffError(f"{where}.exceeds_tolerance contradicts value and tolerance")
        return loss


@dataclass(frozen=True)
class Check:
    """Two implementations compared bit by bit on ``n_jets`` jets; any mismatch stops the build."""

    name: str
    build: str
    tool: str
    reference: str
    n_jets: int
    mismatches: int

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "build": self.build,
            "tool": self.tool,
            "reference": self.reference,
            "n_jets": self.n_jets,
            "mismatches": self.mismatches,
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> Check:
        r = _Reader(data, where)
        return cls(
            r.text("name"),
            r.literal("build", BUILD_ROLES),
            r.literal("tool", FIRMWARE_TOOLS),
            r.literal("reference", FIRMWARE_TOOLS),
            r.integer("n_jets"),
            r.integer("mismatches"),
        )


@dataclass(frozen=True)
class FirmwareBuild:
    """The firmware of one model at one precision ``ap_fixed<total_bits, integer_bits>``.

    ``scanned``: the precision the scan chose for this model (the design one would deploy);
    ``reference``: the common precision every model is also built at, for comparisons.
    ``resources`` uses :data:`RESOURCE_KEYS`; ``part_percent`` is the share of the configured
    FPGA part; ``details`` holds the raw tool outputs (da4ml estimate, Yosys cell counts and
    per-stage paths, hls4ml precisions, vendor reports).
    """

    role: str
    total_bits: int
    integer_bits: int
    auc: float
    rejection: dict[str, float | None]
    auc_loss_test: AucLoss
    resources: dict[str, Figure]
    carry_cell: str | None
    latency_basis: str
    part_percent: dict[str, float | None]
    checks: tuple[Check, ...]
    project_dir: str | None
    same_as: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.role not in BUILD_ROLES:
            raise ValueError(f"unknown build role {self.role!r}")
        if not 1 <= self.integer_bits < self.total_bits:
            raise ValueError(
                f"need 1 <= integer_bits < total_bits, got <{self.total_bits},{self.integer_bits}>"
            )
        missing = [key for key in RESOURCE_KEYS if key not in self.resources]
        if missing:
            raise ValueError(f"resources lack {', '.join(missing)}")

    @property
    def precision(self) -> str:
        return f"ap_fixed<{self.total_bits},{self.integer_bits}>"

    @property
    def mismatches(self) -> int:
        return sum(check.mismatches for check in self.checks)

    def value(self, key: str) -> float | int | None:
        return self.resources[key].value

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "precision": {
                "total_bits": self.total_bits,
                "integer_bits": self.integer_bits,
                "type": self.precision,
            },
            "auc": self.auc,
            "rejection": dict(self.rejection),
            "auc_loss_test": self.auc_loss_test.to_json(),
            "resources": _figures_to_json(self.resources),
            "carry_cell": self.carry_cell,
            "latency_basis": self.latency_basis,
            "part_percent": dict(self.part_percent),
            "checks": [check.to_json() for check in self.checks],
            "project_dir": self.project_dir,
            "same_as": self.same_as,
            "details": self.details,
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> FirmwareBuild:
        r = _Reader(data, where)
        precision = r.sub("precision")
        rejection = r.sub("rejection")
        percent = r.sub("part_percent")
        checks = r.raw("checks")
        if not isinstance(checks, list):
            raise HandoffError(f"{where}.checks: expected a list, found {_kind(checks)}")
        try:
            return cls(
                role=r.literal("role", BUILD_ROLES),
                total_bits=precision.integer("total_bits"),
                integer_bits=precision.integer("integer_bits"),
                auc=r.number("auc"),
                rejection={k: rejection.number(k, optional=True) for k in rejection.data},
                auc_loss_test=AucLoss.from_json(r.raw("auc_loss_test"), f"{where}.auc_loss_test"),
                resources=_figures_from_json(r, "resources", RESOURCE_KEYS),
                carry_cell=r.text("carry_cell", optional=True),
                latency_basis=r.text("latency_basis"),
                part_percent={k: percent.number(k, optional=True) for k in percent.data},
                checks=tuple(
                    Check.from_json(c, f"{where}.checks[{i}]") for i, c in enumerate(checks)
                ),
                project_dir=r.text("project_dir", optional=True),
                same_as=r.text("same_as", optional=True),
                details=r.mapping("details"),
            )
        except ValueError as err:
            raise HandoffError(f"{where}: {err}") from err


@dataclass(frozen=True)
class ScanPoint:
    """One (W, I) of the precision scan: AUC and paired loss vs float with its upper bound."""

    total_bits: int
    integer_bits: int
    auc: float
    loss: float
    loss_upper: float

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: Any, where: str) -> ScanPoint:
        r = _Reader(data, where)
        return cls(
            r.integer("total_bits"),
            r.integer("integer_bits"),
            r.number("auc"),
            r.number("loss"),
            r.number("loss_upper"),
        )


@dataclass(frozen=True)
class PrecisionScan:
    """How the model's own precision was chosen (``mode: fixed`` = from the config)."""

    mode: str
    total_bits: int
    integer_bits: int
    tolerance: float
    within_tolerance: bool | None = None
    rule: str | None = None
    confidence: float | None = None
    n_bootstrap: int | None = None
    scan_file: str | None = None
    n_jets: int | None = None
    n_events: int | None = None
    auc_float: float | None = None
    points: tuple[ScanPoint, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "points"}
        out["points"] = [p.to_json() for p in self.points]
        return out

    @classmethod
    def from_json(cls, data: Any, where: str) -> PrecisionScan:
        r = _Reader(data, where)
        points = r.raw("points")
        if not isinstance(points, list):
            raise HandoffError(f"{where}.points: expected a list, found {_kind(points)}")
        return cls(
            mode=r.literal("mode", ("scan", "fixed")),
            total_bits=r.integer("total_bits"),
            integer_bits=r.integer("integer_bits"),
            tolerance=r.number("tolerance"),
            within_tolerance=r.flag("within_tolerance", optional=True),
            rule=r.text("rule", optional=True),
            confidence=r.number("confidence", optional=True),
            n_bootstrap=r.integer("n_bootstrap", optional=True),
            scan_file=r.text("scan_file", optional=True),
            n_jets=r.integer("n_jets", optional=True),
            n_events=r.integer("n_events", optional=True),
            auc_float=r.number("auc_float", optional=True),
            points=tuple(
                ScanPoint.from_json(p, f"{where}.points[{i}]") for i, p in enumerate(points)
            ),
        )


@dataclass(frozen=True)
class FirmwareReport:
    """``firmware/{model}/report.json``: one model's firmware at its scanned and the reference
    precision, every number with its tool, every bit-exactness check with its count."""

    model: str
    layout: tuple[int, ...]
    feature_names: tuple[str, ...]
    multiplications: int
    test_file: str
    n_test_jets: int
    n_test_events: int
    test_subset: str
    clock_period_ns: float
    part: str
    float_auc: float
    float_rejection: dict[str, float | None]
    precision_scan: PrecisionScan
    builds: dict[str, FirmwareBuild]
    provenance: dict[str, Any]

    def __post_init__(self) -> None:
        if set(self.builds) != set(BUILD_ROLES):
            raise ValueError(f"builds must be exactly {', '.join(BUILD_ROLES)}")
        for role, build in self.builds.items():
            if build.role != role:
                raise ValueError(f"builds.{role} holds a {build.role} build")
        if len(self.layout) < 2 or self.layout[-1] != 1:
            raise ValueError(f"layout {list(self.layout)} is not a one-logit tagger")
        if len(self.feature_names) != self.layout[0]:
            raise ValueError("one feature name per input")

    @property
    def inputs(self) -> int:
        return self.layout[0]

    @property
    def hidden_nodes(self) -> int:
        return sum(self.layout[1:-1])

    @property
    def scanned(self) -> FirmwareBuild:
        return self.builds["scanned"]

    @property
    def reference(self) -> FirmwareBuild:
        return self.builds["reference"]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FIRMWARE_REPORT_FORMAT,
            "model": self.model,
            "network": {
                "layout": list(self.layout),
                "inputs": self.inputs,
                "hidden_nodes": self.hidden_nodes,
                "hidden_per_layer": list(self.layout[1:-1]),
                "multiplications": self.multiplications,
                "feature_names": list(self.feature_names),
            },
            "test_set": {
                "file": self.test_file,
                "n_jets": self.n_test_jets,
                "n_events": self.n_test_events,
                "subset": self.test_subset,
            },
            "clock_period_ns": self.clock_period_ns,
            "part": self.part,
            "float": {"tool": "torch", "auc": self.float_auc, "rejection": self.float_rejection},
            "precision_scan": self.precision_scan.to_json(),
            "builds": {role: build.to_json() for role, build in self.builds.items()},
            "provenance": self.provenance,
        }

    @classmethod
    def from_json(cls, data: Any, source: str = "report.json") -> FirmwareReport:
        r = _Reader(data, source)
        fmt = r.text("format")
        if fmt != FIRMWARE_REPORT_FORMAT:
            raise HandoffError(
                f"{source}: format {fmt!r} is not {FIRMWARE_REPORT_FORMAT!r} (rebuild the firmware)"
            )
        network, test, floating = r.sub("network"), r.sub("test_set"), r.sub("float")
        builds = r.sub("builds")
        rejection = floating.sub("rejection")
        try:
            return cls(
                model=r.text("model"),
                layout=network.int_list("layout"),
                feature_names=network.str_list("feature_names"),
                multiplications=network.integer("multiplications"),
                test_file=test.text("file"),
                n_test_jets=test.integer("n_jets"),
                n_test_events=test.integer("n_events"),
                test_subset=test.text("subset"),
                clock_period_ns=r.number("clock_period_ns"),
                part=r.text("part"),
                float_auc=floating.number("auc"),
                float_rejection={k: rejection.number(k, optional=True) for k in rejection.data},
                precision_scan=PrecisionScan.from_json(
                    r.raw("precision_scan"), f"{source}.precision_scan"
                ),
                builds={
                    role: FirmwareBuild.from_json(builds.raw(role), f"{source}.builds.{role}")
                    for role in BUILD_ROLES
                },
                provenance=r.mapping("provenance"),
            )
        except ValueError as err:
            raise HandoffError(f"{source}: {err}") from err

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> FirmwareReport:
        return cls.from_json(read_json_file(path, "firmware report"), str(path))

    def write(self, path: str | os.PathLike[str]) -> None:
        """Validate by a round trip, then write atomically (sorted keys: same report, same
        bytes)."""
        from deeppp.atomic import write_json_atomic

        payload = self.to_json()
        FirmwareReport.from_json(json.loads(json.dumps(payload)), str(path))
        write_json_atomic(path, payload)


def as_type(value: Any, kind: type[T], where: str) -> T:
    """``value`` if it is a ``kind``; else a :class:`HandoffError` naming ``where``."""
    if not isinstance(value, kind):
        raise HandoffError(f"{where}: expected {kind.__name__}, found {_kind(value)}")
    return value
