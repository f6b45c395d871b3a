"""The comparison with published figures: our numbers beside the cited ones, never a published
number without its quoted source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from deeppp import DeepppError
from deeppp.report import build_comparison, load_references

REPO = Path(__file__).resolve().parents[1]


def _metrics(path: Path, name: str, auc: float, rejections: tuple[float, float, float]) -> Path:
    test = {"auc": {"value": auc, "uncertainty": 0.01}, "n_jets": 1000}
    for eff, value in zip((50, 60, 70), rejections, strict=True):
        test[f"rejection_{eff}"] = {"value": value, "uncertainty": value / 10}
    path.mkdir(parents=True)
    (path / "metrics.json").write_text(
        json.dumps({"model": name, "hidden_nodes": 77, "multiplications": 1955, "test": test})
    )
    return path / "metrics.json"


def test_published_reference_file_is_sound():
    references = load_references(REPO / "report" / "atlas_reference.yaml")
    assert any(r["rejection_points"] for r in references), "at least one published figure"
    for reference in references:
        for point in reference["rejection_points"]:
            assert 0 < point["signal_efficiency"] < 1
            assert point["background_rejection"] > 1
            assert str(point["background_rejection"]).rstrip("0").rstrip(".") in point[
                "quote"
            ].replace(",", "")


def test_comparison_sets_our_figures_beside_the_published_ones(tmp_path):
    metrics = [
        _metrics(tmp_path / "a", "unpruned", 0.95, (120.0, 60.0, 25.0)),
        _metrics(tmp_path / "b", "autopruner_h30", 0.94, (100.0, 50.0, 20.0)),
    ]
    rows = build_comparison(metrics, REPO / "report" / "atlas_reference.yaml", tmp_path / "out")
    assert [r["source"] for r in rows[:2]] == ["deeppp: unpruned", "deeppp: autopruner_h30"]
    assert rows[0]["rejection_50"] == "120.0 ± 12.0"
    assert rows[0]["auc"] == "0.9500 ± 0.0100"
    published = [r for r in rows if r["source"].startswith("atlas-gn2x-2023")]
    assert {r["background"] for r in published} == {"multijet", "top"}
    html = (tmp_path / "out" / "comparison.html").read_text()
    assert "no pile-up" in html.lower()
    assert "background rejection factor of 40" in html, "the quoted sentence is shown"
    assert (tmp_path / "out" / "comparison.png").stat().st_size > 10_000


def test_a_published_number_without_its_quote_is_refused(tmp_path):
    document = yaml.safe_load((REPO / "report" / "atlas_reference.yaml").read_text())
    for reference in document["references"]:
        for value in reference.get("values") or []:
            value.pop("quote", None)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(document))
    with pytest.raises(DeepppError, match="without its quoted source"):
        load_references(bad)


def test_missing_metrics_file_is_named(tmp_path):
    with pytest.raises(DeepppError, match="metrics file does not exist"):
        build_comparison(
            [tmp_path / "none" / "metrics.json"], REPO / "report" / "atlas_reference.yaml", tmp_path
        )
