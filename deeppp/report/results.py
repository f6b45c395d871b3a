"""The one place where the report layer reads the stages' result files.

Everything the overview, the tables and the comparison show goes through these functions, so a
change of a hand-off format (docs/data_contracts.md) is a change here only. Each reader returns
a small frozen dataclass and raises :class:`deeppp.DeepppError` naming the file when a required
key is missing; keys that a later format adds are ignored unless documented and read below.

Formats read (docs/data_contracts.md):

- ``models/{model}/metrics.json`` -> :class:`ModelQuality` (``model``, ``layout``, ``inputs``,
  ``hidden_nodes``, ``multiplications``, ``parameters``, ``test.{n_jets, auc, rejection_<eff>}``
  as ``{value, uncertainty}``, ``training.{epochs, jet_passes}``, ``provenance.versions``);
- ``firmware/{model}/report.json`` -> :class:`FirmwareCost` (via
  :class:`deeppp.handoffs.FirmwareReport`: ``builds.reference`` precision, resources as
  ``{value, tool}``, AUC; ``clock_period_ns``, ``float.auc``);
- ``ml/test_scores.root`` (tree ``jets``: label, weight, event, ``logit_<model>``) ->
  :class:`TestScores` for paired comparisons on the same test jets;
- ``dataset/{split}.root`` provenance -> :class:`SampleSizes`;
- an optional b-tagging JSON of the reconstruction stage -> :class:`BTagging`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deeppp import DeepppError
from deeppp.contracts import JETS_TREE, LABEL_BRANCH, MODEL_FAMILY_LABELS, WEIGHT_BRANCH
from deeppp.contracts import parse_model_name as _parse_model_name

if TYPE_CHECKING:
    import numpy as np

_REJECTION_KEY = re.compile(r"^rejection_(\d{1,3})$")


@dataclass(frozen=True)
class Measurement:
    """A value with its statistical uncertainty (standard deviation); ``None`` = not available.

    ``value = None`` with a rejection means no background jet passed the cut (1/eps_B beyond what
    the test sample can measure)."""

    value: float | None
    uncertainty: float | None = None

    @property
    def is_finite(self) -> bool:
        return self.value is not None and math.isfinite(self.value)


@dataclass(frozen=True)
class ModelQuality:
    """Test-set quality and size of one trained tagger (its ``metrics.json``)."""

    name: str
    family: str
    auc: Measurement
    #: 1/eps_B keyed by signal efficiency in percent (50 -> eps_S = 0.50).
    rejection: dict[int, Measurement]
    inputs: int | None
    hidden_nodes: int | None
    multiplications: int | None
    parameters: int | None
    n_test_jets: int | None
    epochs: int | None
    jet_passes: int | None
    versions: dict[str, str] = field(default_factory=dict)
    #: Requested budget of a pruned model, as its metrics state it (None for the unpruned net).
    budget: Any = None

    @property
    def family_label(self) -> str:
        return MODEL_FAMILY_LABELS.get(self.family, self.family)

    @property
    def efficiencies_percent(self) -> list[int]:
        return sorted(self.rejection)


@dataclass(frozen=True)
class FirmwareCost:
    """FPGA cost of one tagger (its firmware ``report.json``), each number with its tool."""

    name: str
    precision: str
    #: "reference": the common precision every model is also built at (the cross-model columns
    #: use it); "per-model scan" for a model's own scanned precision.
    precision_role: str
    lut: int | None
    lut_tool: str | None
    ff: int | None
    ff_tool: str | None
    dsp: int | None
    latency_cycles: int | None
    latency_ns: float | None
    initiation_interval: int | None
    clock_period_ns: float | None
    auc_float: float | None
    auc_firmware: float | None


@dataclass(frozen=True)
class SampleSizes:
    """Jets per split and class, and the events they come from."""

    jets: dict[str, int]
    signal_jets: dict[str, int]
    background_jets: dict[str, int]
    #: Events with at least one jet in the test split, per process.
    test_events: dict[str, int] = field(default_factory=dict)
    #: Generated events per process (from the configuration).
    generated_events: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TestScores:
    """Per-jet float scores of several models on the same test jets, for paired comparisons."""

    labels: np.ndarray
    weights: np.ndarray
    #: Jets of one event share a group id (background events give up to two jets).
    event_ids: np.ndarray | None
    scores: dict[str, np.ndarray]


@dataclass(frozen=True)
class BTagging:
    """Light- and c-jet rejection of the detector's track-jet b-tagging, if the stage wrote it."""

    source: str
    #: Free-form rows: tagger, b efficiency, light and c rejection (as the stage wrote them).
    rows: list[dict[str, Any]]


def _load_json(path: Path, what: str, article: str = "a") -> dict[str, Any]:
    """A JSON object from ``path``; every failure is one line naming the file."""
    try:
        text = path.read_text()
    except FileNotFoundError as err:
        raise DeepppError(f"{path}: {what} does not exist") from err
    except UnicodeDecodeError as err:
        raise DeepppError(f"{path}: not {article} {what} (not UTF-8 text)") from err
    except OSError as err:
        raise DeepppError(f"{path}: cannot read ({err.strerror or err})") from err
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise DeepppError(f"{path}: not {article} {what} (invalid JSON: {err.msg})") from err
    if not isinstance(document, dict):
        raise DeepppError(f"{path}: not {article} {what} (expected a JSON object)")
    return document


def _number(value: Any) -> float | None:
    """A finite number, or None (null); booleans, text and NaN/inf are refused (ValueError)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a number")
    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not finite (null stands for 'none')")
    return float(value)


def _measurement(entry: Any) -> Measurement:
    if isinstance(entry, Mapping):
        return Measurement(_number(entry.get("value")), _number(entry.get("uncertainty")))
    return Measurement(_number(entry))


def model_family(name: str) -> str:
    """The model family of a name of the ml stage's grammar, or "other"."""
    try:
        return _parse_model_name(name).family
    except ValueError:
        return "other"


def read_model_quality(path: str | Path) -> ModelQuality:
    """``models/{model}/metrics.json``; efficiencies are whatever ``rejection_<eff>`` keys exist."""
    path = Path(path)
    metrics = _load_json(path, "ml metrics file", "an")
    try:
        test = metrics["test"]
        rejection = {
            int(match[1]): _measurement(entry)
            for key, entry in test.items()
            if (match := _REJECTION_KEY.match(key))
        }
        if not rejection:
            raise KeyError("no rejection_<eps_S> figures in 'test'")
        training = metrics.get("training") or {}
        return ModelQuality(
            name=str(metrics["model"]),
            family=model_family(str(metrics["model"])),
            auc=_measurement(test["auc"]),
            rejection=rejection,
            inputs=metrics.get("inputs"),
            hidden_nodes=metrics.get("hidden_nodes"),
            multiplications=metrics.get("multiplications"),
            parameters=metrics.get("parameters"),
            n_test_jets=test.get("n_jets"),
            epochs=training.get("epochs"),
            jet_passes=training.get("jet_passes"),
            versions=dict((metrics.get("provenance") or {}).get("versions") or {}),
            budget=metrics.get("budget"),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise DeepppError(f"{path}: not an ml metrics file ({type(err).__name__}: {err})") from err


def _int_or_none(value: Any) -> int | None:
    return None if value is None else round(float(value))


def read_firmware_cost(path: str | Path) -> FirmwareCost:
    """``firmware/{model}/report.json`` (:class:`deeppp.handoffs.FirmwareReport`): the resources
    of the build at the common reference precision, the one cross-model comparisons use (each
    model's own scanned precision would mix pruning with a precision choice)."""
    from deeppp.handoffs import FirmwareReport, HandoffError

    try:
        report = FirmwareReport.read(path)
    except HandoffError as err:
        raise DeepppError(f"not a firmware report: {err}") from err
    build = report.reference
    lut, ff = build.resources["lut"], build.resources["ff"]
    ns = build.value("latency_ns")
    return FirmwareCost(
        name=report.model,
        precision=build.precision,
        precision_role="reference",
        lut=_int_or_none(lut.value),
        lut_tool=lut.tool,
        ff=_int_or_none(ff.value),
        ff_tool=ff.tool,
        dsp=_int_or_none(build.value("dsp")),
        latency_cycles=_int_or_none(build.value("latency_cycles")),
        latency_ns=None if ns is None else float(ns),
        initiation_interval=_int_or_none(build.value("initiation_interval")),
        clock_period_ns=report.clock_period_ns,
        auc_float=report.float_auc,
        auc_firmware=build.auc,
    )


def read_sample_sizes(
    dataset_files: Mapping[str, str | Path], generated_events: Mapping[str, int] | None = None
) -> SampleSizes:
    """Jets per split from the dataset files' provenance; test events from the test jets."""
    import numpy as np

    from deeppp.rootio import read_provenance, read_tree

    jets, signal, background = {}, {}, {}
    for split, path in dataset_files.items():
        record = read_provenance(path)
        try:
            jets[split] = int(record["n_jets"])
            signal[split] = int(record["n_signal"])
            background[split] = int(record["n_background"])
        except (KeyError, TypeError, ValueError) as err:
            raise DeepppError(f"{path}: dataset provenance lacks {err}") from err
    test_events: dict[str, int] = {}
    if "test" in dataset_files:
        test = read_tree(dataset_files["test"], JETS_TREE, [LABEL_BRANCH, "chunk", "event_number"])
        label = np.asarray(test[LABEL_BRANCH])
        for process, wanted in (("signal", 1), ("background", 0)):
            rows = label == wanted
            keys = set(
                zip(
                    np.asarray(test["chunk"])[rows].tolist(),
                    np.asarray(test["event_number"])[rows].tolist(),
                    strict=True,
                )
            )
            test_events[process] = len(keys)
    return SampleSizes(jets, signal, background, test_events, dict(generated_events or {}))


def read_test_scores(path: str | Path) -> TestScores:
    """``ml/test_scores.root``: every core model's logits on the same test jets (test-file
    order), with label, weight and event, written by the ml stage's summary; jets of one event
    share ``event``, so a bootstrap can resample whole events."""
    import numpy as np

    from deeppp.rootio import open_root

    path = Path(path)
    with open_root(path) as f:
        if JETS_TREE not in f:
            raise DeepppError(f"{path}: not an ml test-scores file (no tree '{JETS_TREE}')")
        tree = f[JETS_TREE]
        names = [str(k) for k in tree.keys(recursive=False)]
        required = [LABEL_BRANCH, WEIGHT_BRANCH, "event"]
        missing = [b for b in required if b not in names]
        logits = [b for b in names if b.startswith("logit_")]
        if missing or not logits:
            lacking = ", ".join(missing) or "logit_<model>"
            raise DeepppError(f"{path}: not an ml test-scores file (lacks {lacking})")
        arrays = tree.arrays(required + logits, library="np")
    return TestScores(
        labels=np.asarray(arrays[LABEL_BRANCH], dtype=np.int64),
        weights=np.asarray(arrays[WEIGHT_BRANCH], dtype=np.float64),
        event_ids=np.asarray(arrays["event"], dtype=np.int64),
        scores={b.removeprefix("logit_"): np.asarray(arrays[b], dtype=np.float64) for b in logits},
    )


def read_btagging(path: str | Path | None) -> BTagging | None:
    """The reconstruction stage's b-tagging figures, or ``None`` when it has not written any.

    Accepted layout (until the stage documents its own): a JSON object with a list under
    ``taggers`` (or ``working_points``), each entry a flat object of numbers and names."""
    if path is None or not Path(path).is_file():
        return None
    document = _load_json(Path(path), "b-tagging performance file")
    rows = document.get("taggers", document.get("working_points"))
    if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
        raise DeepppError(f"{path}: expected a list of taggers under 'taggers'")
    return BTagging(str(path), [dict(r) for r in rows])


def json_text(payload: Any) -> str:
    """JSON as every deeppp file writes it: sorted keys, no NaN/inf, a trailing newline."""
    try:
        return json.dumps(payload, indent=2, sort_keys=True, allow_nan=False) + "\n"
    except ValueError as err:
        raise DeepppError(f"cannot write JSON: {err} (NaN or infinity in the data)") from err


def config_digest(config_text: str) -> str:
    """sha256 of the configuration as the workflow used it (first 16 hex digits)."""
    import hashlib

    return hashlib.sha256(config_text.encode()).hexdigest()[:16]


def all_efficiencies(models: Sequence[ModelQuality]) -> list[int]:
    """Signal efficiencies (percent) at which any of the models states a rejection."""
    return sorted({percent for m in models for percent in m.rejection})


def common_efficiencies(models: Sequence[ModelQuality]) -> list[int]:
    """Signal efficiencies (percent) at which every model states a rejection."""
    if not models:
        return []
    shared = set(models[0].rejection)
    for m in models[1:]:
        shared &= set(m.rejection)
    return sorted(shared)
