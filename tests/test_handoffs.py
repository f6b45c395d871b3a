"""ModelMetrics, the typed metrics.json hand-off: round trip, validation on write and read."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from deeppp.handoffs import (
    HandoffError,
    Measurement,
    ModelMetrics,
    Performance,
    Rejection,
    TrainingCost,
    read_model_metrics,
)

SAMPLE = {
    "n_jets": 300,
    "n_signal_jets": 100,
    "n_background_jets": 200,
    "n_events": 200,
    "n_signal_events": 100,
    "n_background_events": 100,
}


def metrics(**changes: object) -> ModelMetrics:
    rejections = tuple(
        Rejection(v, 1.0, 50, 0, signal_efficiency=e, n_background_selected=40)
        for e, v in ((0.4, 80.0), (0.65, None))
    )
    base = {
        "model": "autopruner_h30",
        "family": "autopruner",
        "seed": 7,
        "replica": 0,
        "layout": (3, 2, 1),
        "feature_names": ("a", "b", "c"),
        "parameters": 11,
        "budget": {"unit": "hidden", "value": 30, "target": 2, "cost_unit": "nodes"},
        "gauge_decay": True,
        "test": Performance(SAMPLE, Measurement(0.93, 0.004, 50, 0), rejections),
        "training": TrainingCost(1000, 40, 2.5, 2),
        "wall_time_s": 1.25,
    }
    return ModelMetrics(**{**base, **changes})  # type: ignore[arg-type]


def test_round_trip_and_efficiencies_come_from_the_file(tmp_path: Path) -> None:
    m = metrics()
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(m.to_json()))
    back = read_model_metrics(path)
    assert back == m
    # Efficiencies other than 50/60/70 % are read from the data, not assumed.
    assert back.test.signal_efficiencies == (0.4, 0.65)
    assert back.test.rejection(0.65).value is None  # infinite rejection: null, not a number
    data = json.loads(path.read_text())
    assert data["test"]["rejection_40"]["value"] == 80.0
    assert data["hidden_nodes"] == 2 and data["multiplications"] == 8 and data["inputs"] == 3
    with pytest.raises(HandoffError, match=r"no rejection at eps_S = 0\.5"):
        back.test.rejection(0.5)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("family"), r"missing 'family'"),
        (
            lambda d: d["test"]["auc"].update(value="0.9"),
            r"test\.auc\.value: expected int or float or null, got str",
        ),
        (lambda d: d["test"].pop("rejection_65"), r"test: missing 'rejection_65'"),
        (lambda d: d.update(hidden_nodes=5), r"hidden_nodes: 5 disagrees with the layout"),
        (
            lambda d: d["training"].update(jet_passes=True),
            r"training\.jet_passes: expected int, got a boolean",
        ),
        (lambda d: d["test"].update(signal_efficiencies=[1.5]), r"1\.5 is not in \(0, 1\)"),
    ],
)
def test_invalid_files_are_refused_naming_the_key(tmp_path: Path, edit, message: str) -> None:
    data = metrics().to_json()
    edit(data)
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(data))
    with pytest.raises(HandoffError, match=message):
        read_model_metrics(path)


def test_non_finite_values_are_refused_on_write_and_read(tmp_path: Path) -> None:
    bad = metrics(test=Performance(SAMPLE, Measurement(math.nan, None, 50, 0), ()))
    with pytest.raises(HandoffError, match="not JSON-serialisable"):
        bad.to_json()
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(metrics().to_json()).replace("0.93", "NaN"))
    with pytest.raises(HandoffError, match=r"auc\.value: must be finite"):
        read_model_metrics(path)
    with pytest.raises(HandoffError, match="2 feature names for 3 inputs"):
        metrics(feature_names=("a", "b"))
    (tmp_path / "junk.json").write_text("{")
    with pytest.raises(HandoffError, match="not a readable JSON file"):
        read_model_metrics(tmp_path / "junk.json")
