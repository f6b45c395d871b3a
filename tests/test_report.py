"""The report layer: the overview's numbers and conclusion, the paired comparisons behind it,
the summary tables, the comparison with published figures and the report's navigation."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from deeppp import DeepppError
from deeppp.metrics import point_metrics
from deeppp.report import html as h
from deeppp.report import layout
from deeppp.report.captions import caption_facts, read_caption_facts
from deeppp.report.comparison import build_comparison, load_references
from deeppp.report.overview import build_overview, conclusion, facts, render
from deeppp.report.paired import _event_counts, paired_differences
from deeppp.report.results import (
    BTagging,
    FirmwareCost,
    Measurement,
    ModelQuality,
    SampleSizes,
    TestScores,
    read_firmware_cost,
    read_model_quality,
)
from deeppp.report.tables import (
    config_yaml_text,
    write_config_page,
    write_firmware_table,
    write_ml_table,
)

REPO = Path(__file__).resolve().parents[1]
REFERENCE_YAML = REPO / "report" / "atlas_reference.yaml"


# --------------------------------------------------------------------------------------------
# Synthetic inputs
# --------------------------------------------------------------------------------------------


def _metrics(path: Path, name: str, auc: float, rejections: tuple[float, ...], **extra) -> Path:
    test: dict = {"auc": {"value": auc, "uncertainty": 0.01}, "n_jets": 1000}
    for eff, value in zip((50, 60, 70), rejections, strict=True):
        test[f"rejection_{eff}"] = {"value": value, "uncertainty": value / 10}
    path.mkdir(parents=True)
    document = {
        "model": name,
        "inputs": 39,
        "hidden_nodes": 77,
        "multiplications": 1955,
        "test": test,
        "provenance": {"versions": {"python": "3.11.7", "torch": "2.13.0"}},
        **extra,
    }
    (path / "metrics.json").write_text(json.dumps(document))
    return path / "metrics.json"


def _quality(name: str, auc: float, rejection_50: float | None, hidden: int = 256) -> ModelQuality:
    from deeppp.report.results import model_family

    return ModelQuality(
        name=name,
        family=model_family(name),
        auc=Measurement(auc, 0.004),
        rejection={50: Measurement(rejection_50, 5.0), 70: Measurement(20.0, 2.0)},
        inputs=39,
        hidden_nodes=hidden,
        multiplications=hidden * 60,
        parameters=hidden * 61,
        n_test_jets=4000,
        epochs=10,
        jet_passes=10_000,
        versions={"python": "3.11.7", "torch": "2.13.0"},
    )


def _firmware(name: str, lut: int) -> FirmwareCost:
    return FirmwareCost(
        name=name,
        precision="ap_fixed<8,3>",
        precision_role="per-model scan",
        lut=lut,
        lut_tool="yosys",
        ff=lut // 4,
        ff_tool="yosys",
        dsp=0,
        latency_cycles=6,
        latency_ns=30.0,
        initiation_interval=1,
        clock_period_ns=5.0,
        auc_float=0.9,
        auc_firmware=0.9,
    )


def _tagger_sample(n_events: int = 1500, seed: int = 3):
    """Events with one signal jet or two background jets, and taggers of known quality:
    ``good`` and ``same`` are one tagger, ``close`` a slightly noisier copy, ``bad`` much worse."""
    rng = np.random.default_rng(seed)
    labels, events = [], []
    for event in range(n_events):
        jets = 1 if event % 3 == 0 else 2
        labels += [1 if jets == 1 else 0] * jets
        events += [event] * jets
    labels_a = np.array(labels)
    truth = labels_a * 1.6 + rng.normal(size=labels_a.size)
    scores = {
        "unpruned": truth,
        "autopruner_h30": truth + 0.05 * rng.normal(size=labels_a.size),
        "retrained_h30": truth.copy(),
        "ptr_h30": truth + 1.5 * rng.normal(size=labels_a.size),
    }
    weights = rng.uniform(0.5, 1.5, labels_a.size)
    return labels_a, weights, np.array(events), scores


# --------------------------------------------------------------------------------------------
# Paired comparisons
# --------------------------------------------------------------------------------------------


def test_paired_bootstrap_equals_explicit_resampling():
    """The cumulative-sum replicates equal drawing the events and recomputing the metrics."""
    labels, weights, events, scores = _tagger_sample(200)
    pairs = [("ptr_h30", "unpruned")]
    got = paired_differences(
        labels, weights, scores, pairs, [50], event_ids=events, n_bootstrap=30, seed=11
    )
    # the same draws, applied by repeating jets
    counts = np.concatenate(list(_event_counts(int(events.max()) + 1, 30, 11)))
    differences, ratios = [], []
    for replicate in counts:
        index = np.repeat(np.arange(labels.size), replicate[events].astype(int))
        a = point_metrics(labels[index], scores["ptr_h30"][index], weights[index], (0.5,))
        b = point_metrics(labels[index], scores["unpruned"][index], weights[index], (0.5,))
        differences.append(a["auc"] - b["auc"])
        ratios.append(a["rejection_50"] / b["rejection_50"])
    auc = next(d for d in got if d.quantity == "auc")
    rejection = next(d for d in got if d.quantity == "rejection_50")
    assert auc.std == pytest.approx(np.std(differences, ddof=1), rel=1e-9)
    assert auc.low == pytest.approx(np.quantile(differences, 0.025), rel=1e-9)
    assert rejection.std == pytest.approx(np.std(ratios, ddof=1), rel=1e-9)
    central = (
        point_metrics(labels, scores["ptr_h30"], weights, (0.5,))["auc"]
        - point_metrics(labels, scores["unpruned"], weights, (0.5,))["auc"]
    )
    assert auc.value == pytest.approx(central, abs=1e-15)


def test_bootstrap_draws_whole_events():
    """Jets of one event are drawn together (a QCD event gives two jets)."""
    _, _, events, _ = _tagger_sample(300)
    counts = np.concatenate(list(_event_counts(int(events.max()) + 1, 20, 5)))
    multiplicity = counts[:, events]
    for event in np.unique(events):
        jets = np.flatnonzero(events == event)
        assert (multiplicity[:, jets] == multiplicity[:, jets[:1]]).all()
    # ... and an event is drawn as often as a whole, not jet by jet: about e^-1 are never drawn
    assert 0.3 < (counts == 0).mean() < 0.44


def test_pairing_gives_the_small_uncertainty_and_the_right_verdicts():
    labels, weights, events, scores = _tagger_sample()
    pairs = [(m, "unpruned") for m in ("autopruner_h30", "retrained_h30", "ptr_h30")]
    result = {
        (d.model, d.quantity): d
        for d in paired_differences(
            labels, weights, scores, pairs, [50], event_ids=events, n_bootstrap=300, seed=1
        )
    }
    identical = result[("retrained_h30", "auc")]
    assert identical.value == 0.0
    assert identical.std == 0.0
    assert not identical.significant
    assert result[("retrained_h30", "rejection_50")].value == pytest.approx(1.0)
    bad = result[("ptr_h30", "auc")]
    assert bad.value < 0
    assert bad.significant, "a much noisier tagger is significantly worse"
    assert bad.high < 0
    close = result[("autopruner_h30", "auc")]
    # the single-model bootstrap spread, for comparison: pairing removes the shared fluctuation
    single = paired_differences(
        labels,
        weights,
        {"a": scores["autopruner_h30"], "zero": np.zeros_like(labels, dtype=float)},
        [("a", "zero")],
        [],
        event_ids=events,
        n_bootstrap=300,
        seed=1,
    )[0]
    assert close.std < single.std / 3


# --------------------------------------------------------------------------------------------
# Overview
# --------------------------------------------------------------------------------------------


def _overview(scores_for=("unpruned", "autopruner_h30", "retrained_h30", "ptr_h30")):
    labels, weights, events, scores = _tagger_sample()
    aucs = {
        name: point_metrics(labels, scores[name], weights, (0.5, 0.7))["auc"] for name in scores
    }
    models = [
        _quality("unpruned", aucs["unpruned"], 120.0),
        _quality("autopruner_h30", aucs["autopruner_h30"], 110.0, 77),
        _quality("retrained_h30", aucs["retrained_h30"], 120.0, 77),
        _quality("ptr_h30", aucs["ptr_h30"], 40.0, 77),
        _quality("autopruner_h30_seed1", 0.5, 1.0, 77),
    ]
    firmware = [
        _firmware(m.name, lut) for m, lut in zip(models[:4], (30000, 4000, 4200, 3900), strict=True)
    ]
    samples = SampleSizes(
        jets={"train": 9000, "val": 3000, "test": labels.size},
        signal_jets={"train": 3000, "val": 1000, "test": int(labels.sum())},
        background_jets={"train": 6000, "val": 2000, "test": int((labels == 0).sum())},
        test_events={"signal": 500, "background": 1000},
        generated_events={"signal": 5000, "background": 5000},
    )
    test = TestScores(labels, weights, events, {n: scores[n] for n in scores_for})
    return build_overview(
        models,
        firmware,
        samples,
        test,
        btagging=None,
        config={"seed": 7, "ml": {"budget_unit": "nodes"}},
        config_digest="0123456789abcdef",
        n_bootstrap=200,
        level=0.95,
    )


def test_overview_conclusion_states_what_the_numbers_say():
    ov = _overview()
    text = " ".join(conclusion(ov))
    assert re.search(
        r"Significantly lower AUC than the unpruned tagger: prune/train/repeat "
        r"\(30 % hidden: −0\.1\d{3} ± 0\.0\d{3}\)",
        text,
    )
    assert "Significantly higher AUC" not in text
    # identical to the unpruned net, and a copy with tiny noise: both within the noise
    assert re.search(r"The other 2 pruned models are consistent with it in AUC \(ΔAUC from", text)
    # the rejection of the much worse tagger drops significantly too
    assert re.search(
        r"Significant changes of 1/ε<sub>B</sub> \(at ε<sub>S</sub>\): prune/train/repeat at "
        r"30 % hidden \(×0\.\d\d ± 0\.\d\d at 50 %, ×0\.\d\d ± 0\.\d\d at 70 %\)",
        text,
    )
    # best method of the budget and whether its lead over the runner-up is significant
    assert re.search(r"Best AUC per budget: 30 % hidden: AutoPruner[^;]*within the noise\)", text)
    assert "would be flagged by chance alone" in text
    assert "The smallest firmware is prune/train/repeat" in text
    assert "13 % of the unpruned tagger's 30 000" in text.replace("\u2009", " ")
    assert "seed1" not in text, "seed replicas are not headline models"


def test_overview_page_and_facts(tmp_path):
    ov = _overview()
    page = render(ov)
    for name in ("unpruned", "autopruner_h30", "retrained_h30", "ptr_h30"):
        assert name in page
    assert "autopruner_h30_seed1" not in page
    assert "▼" in page, "the significantly worse model is marked"
    assert "Not available" in page, "no b-tagging file given"
    assert "no firmware built" not in page, "every headline model has firmware here"
    partial = ov.__class__(**{**ov.__dict__, "firmware": {"unpruned": ov.firmware["unpruned"]}})
    assert "no firmware built for that model (3 of 4;" in render(partial)
    assert "0123456789abcdef" in page
    assert "torch 2.13.0" in page
    assert "$" not in page
    document = facts(ov)
    assert document["caption"]["n_significant"] >= 1
    assert document["caption"]["conclusion"].startswith("On 4\u2009000 test jets") or document[
        "caption"
    ]["conclusion"].startswith("On ")
    assert "<" not in document["caption"]["conclusion"], "plain text for the RST caption"
    assert "1/ε\\_B" in document["caption"]["conclusion"], "RST markup characters escaped"
    json.dumps(document)  # serialisable


def test_overview_says_when_no_background_passes_the_cut():
    ov = _overview()
    unpruned = ov.models["unpruned"]
    rejection = {**unpruned.rejection, 50: Measurement(None, None)}
    models = {
        **ov.models,
        "unpruned": unpruned.__class__(**{**unpruned.__dict__, "rejection": rejection}),
    }
    text = conclusion(ov.__class__(**{**ov.__dict__, "models": models}))[0]
    assert text.endswith("; no background test jet passes its ε<sub>S</sub> = 50 % cut.")


def test_overview_without_scores_calls_nothing_significant():
    ov = _overview(scores_for=("autopruner_h30",))
    assert ov.paired == {}
    assert "no difference is called significant" in " ".join(conclusion(ov))


def test_overview_says_when_only_part_of_the_test_jets_were_scored():
    ov = _overview()
    assert "that were scored" not in " ".join(conclusion(ov))
    samples = ov.samples.__class__(**{**ov.samples.__dict__, "jets": {"test": 10_000}})
    capped = ov.__class__(**{**ov.__dict__, "samples": samples})
    assert "use the 2\u2009500 of 10\u2009000 test jets that were scored" in " ".join(
        conclusion(capped)
    )


def test_overview_shows_btagging_when_the_stage_wrote_it():
    ov = _overview()
    rows = [{"b_efficiency": 0.7, "light_rejection": 120.0, "tagger": "max S_d0 > 5"}]
    page = render(ov.__class__(**{**ov.__dict__, "btagging": BTagging("x.json", rows)}))
    assert "max S_d0 &gt; 5" in page
    section = page[page.index("b-tagging performance") :]
    assert section.index(">tagger<") < section.index(">b efficiency<"), "tagger column first"
    assert "120" in page
    assert "Not available" not in page


# --------------------------------------------------------------------------------------------
# Adapter (today's formats of docs/data_contracts.md)
# --------------------------------------------------------------------------------------------


def test_adapter_reads_metrics_with_the_efficiencies_they_state(tmp_path):
    path = _metrics(tmp_path / "m", "autopruner_h30", 0.95, (120.0, 60.0, 25.0), budget=77)
    quality = read_model_quality(path)
    assert quality.efficiencies_percent == [50, 60, 70]
    assert quality.rejection[60].value == 60.0
    assert quality.family == "autopruner"
    assert quality.budget == 77
    document = json.loads(path.read_text())
    document["test"]["rejection_70"]["value"] = None  # no background left
    document["test"]["paired"] = {"new": "keys are ignored"}
    path.write_text(json.dumps(document))
    assert not read_model_quality(path).rejection[70].is_finite
    del document["test"]["auc"]
    path.write_text(json.dumps(document))
    with pytest.raises(DeepppError, match="not an ml metrics file"):
        read_model_quality(path)


def _firmware_report(scanned_lut: int, reference_lut: int) -> dict:
    """A valid ``report.json`` (FirmwareReport) whose two builds differ in resources."""
    from deeppp.handoffs import (
        AucLoss,
        Figure,
        FirmwareBuild,
        FirmwareReport,
        PrecisionScan,
    )

    def build(role: str, bits: tuple[int, int], lut: int, auc: float) -> FirmwareBuild:
        resources = {
            "lut": Figure.of(lut, "yosys"),
            "ff": Figure.of(lut // 4, "yosys"),
            "carry": Figure.of(lut // 8, "yosys"),
            "dsp": Figure.of(0, "yosys"),
            "bram_18k": Figure.of(0, "yosys"),
            "latency_cycles": Figure.of(8 if role == "reference" else 6, "da4ml-pipeline"),
            "latency_ns": Figure.of(40.0 if role == "reference" else 30.0, "da4ml-pipeline"),
            "initiation_interval": Figure.of(1, "da4ml-pipeline"),
            "longest_path_cells": Figure.missing("Yosys ltp not run"),
        }
        loss = AucLoss(0.97 - auc, -0.001, 0.003, 0.95, 200, 0.002, 1000, 800)
        return FirmwareBuild(
            role,
            bits[0],
            bits[1],
            auc,
            {"rejection_50": 100.0},
            loss,
            resources,
            "CARRY4",
            "assumes closure at the configured clock, not verified",
            {"lut": 1.0},
            (),
            None,
        )

    report = FirmwareReport(
        model="unpruned",
        layout=(2, 3, 1),
        feature_names=("mass", "d2"),
        multiplications=9,
        test_file="test.root",
        n_test_jets=1000,
        n_test_events=800,
        test_subset="all",
        clock_period_ns=5.0,
        part="xcvu13p-flga2577-2-e",
        float_auc=0.97,
        float_rejection={"rejection_50": 110.0},
        precision_scan=PrecisionScan("fixed", 6, 3, 0.002),
        builds={
            "scanned": build("scanned", (6, 3), scanned_lut, 0.968),
            "reference": build("reference", (8, 4), reference_lut, 0.969),
        },
        provenance={},
    )
    return report.to_json()


def test_adapter_reads_the_reference_build_of_firmware_reports(tmp_path):
    path = tmp_path / "report.json"
    path.write_text(json.dumps(_firmware_report(scanned_lut=1000, reference_lut=2500)))
    cost = read_firmware_cost(path)
    # The cross-model figures come from the common reference precision, not the scanned one.
    assert (cost.precision, cost.precision_role) == ("ap_fixed<8,4>", "reference")
    assert (cost.lut, cost.lut_tool, cost.ff, cost.latency_cycles, cost.latency_ns) == (
        2500,
        "yosys",
        625,
        8,
        40.0,
    )
    assert (cost.auc_float, cost.auc_firmware, cost.dsp) == (0.97, 0.969, 0)
    path.write_text(json.dumps({"model": "x"}))
    with pytest.raises(DeepppError, match="not a firmware report"):
        read_firmware_cost(path)


# --------------------------------------------------------------------------------------------
# Comparison with published figures
# --------------------------------------------------------------------------------------------


def test_published_reference_file_is_sound():
    book = load_references(REFERENCE_YAML)
    assert any(r.points for r in book.references), "at least one published working point"
    for reference in book.references:
        assert reference.differences, f"{reference.id}: say why it differs"
        for point in reference.points:
            assert 0 < point.signal_efficiency < 1
            assert point.background_rejection > 1


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p.update(quote="nowhere"), "without its quoted source"),
        (lambda p: p.update(background_rejection=301), "rejection 301 is not in its quote"),
        (lambda p: p.update(signal_efficiency=0.6), "efficiency 0.6 is not in its quote"),
    ],
)
def test_a_published_number_must_be_in_its_quote(tmp_path, edit, message):
    document = yaml.safe_load(REFERENCE_YAML.read_text())
    point = next(p for r in document["references"] for p in r["points"])
    edit(point)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(document))
    with pytest.raises(DeepppError, match=message):
        load_references(bad)


def _comparison(tmp_path, monkeypatch):
    import deeppp.plotting

    figures = []
    real_save = deeppp.plotting.save
    monkeypatch.setattr(
        deeppp.plotting, "save", lambda fig, path: (figures.append(fig), real_save(fig, path))
    )
    metrics = [
        _metrics(tmp_path / "a", "unpruned", 0.95, (120.0, 60.0, 25.0)),
        _metrics(tmp_path / "b", "autopruner_h30", 0.94, (100.0, 50.0, 20.0)),
    ]
    btagging = BTagging(
        "btagging.json",
        [
            {
                "tagger": "max S_d0 > 5",
                "b_efficiency": 0.73,
                "light_rejection": 11.5,
                "c_rejection": None,
            }
        ],
    )
    rows = build_comparison(metrics, REFERENCE_YAML, tmp_path / "out", 20.0, btagging)
    return rows, figures[0]


def test_comparison_page_is_written_for_readers(tmp_path, monkeypatch):
    rows, _ = _comparison(tmp_path, monkeypatch)
    assert rows[0]["Source"] == "deeppp: unpruned"
    assert rows[0]["1/eps_B at eps_S = 50 %"] == "120 ± 12"
    assert rows[0]["AUC"] == "0.9500 ± 0.0100"
    # deeppp's pile-up is the run's, not a fixed phrase of the reference file
    assert rows[0]["Conditions"] == "14 TeV, fast simulation, pile-up ⟨μ⟩ = 20"
    page = (tmp_path / "out" / "comparison.html").read_text()
    assert "pile-up ⟨μ⟩ = 20" in page and "no pile-up" not in page
    # how hard b-tagging is in deeppp's detector simulation, in numbers
    assert (
        "max S_d0 &gt; 5: b-jet efficiency 73 %, light-jet rejection 11.5, c-jet rejection "
        "beyond the sample" in page
    )
    text = re.sub(r"<[^>]+>", "", page)
    for forbidden in (
        "$",  # raw LaTeX
        "project brief",
        "CDS before",
        "ebusca",
        "retrieved_from",
        "sqrt_s_tev",
        "rejection_50",
        "jet_pt_gev",
    ):
        assert forbidden not in page, forbidden
    assert "H(bb̄)" in text, "math rendered"
    book = load_references(REFERENCE_YAML)
    for reference in book.references:
        for quote in reference.quotes.values():
            rendered = re.sub(r"<[^>]+>", "", h.text_with_math(quote))
            assert text.count(rendered) == 1, f"quote shown once: {quote[:40]}"
        assert reference.short in text
    assert "own pile-up (reconstruction.pileup.mu)" in text, "why the setups differ"
    assert "No working point could be found in the retrievable text of" in text
    with (tmp_path / "out" / "comparison.csv").open() as handle:
        header = next(csv.reader(handle))
    assert "rejection_50" not in header
    assert "1/eps_B at eps_S = 50 %" in header
    facts = read_caption_facts(tmp_path / "out" / "comparison.json")
    assert facts["unpruned_rejection"]["50"] == "120 ± 12"
    assert facts["n_plotted_points"] == 1, "only the multijet point is drawn"


def test_published_points_are_drawn_only_under_their_own_labels(tmp_path, monkeypatch):
    _, fig = _comparison(tmp_path, monkeypatch)
    ours, published = fig.axes[0], fig.axes[1]

    def points(ax):
        return {
            (round(float(x), 3), round(float(y), 3))
            for line in ax.get_lines()
            for x, y in zip(line.get_xdata(), line.get_ydata(), strict=True)
        }

    def texts(ax):
        return " ".join(t.get_text() for t in ax.texts)

    assert (0.5, 300.0) in points(published)
    assert (0.5, 300.0) not in points(ours)
    assert (0.5, 40.0) not in points(published), "a top-jet rejection is not drawn"
    assert "13 TeV" in texts(published)
    assert "14 TeV" not in texts(published)
    assert "13 TeV" not in texts(ours)
    assert "14 TeV" in texts(ours)
    assert fig.get_figheight() * fig.dpi <= 650, "fits a 720-pixel screen"


def test_missing_metrics_file_is_named(tmp_path):
    with pytest.raises(DeepppError, match="metrics file does not exist"):
        build_comparison([tmp_path / "none" / "metrics.json"], REFERENCE_YAML, tmp_path, 0.0)


@pytest.mark.parametrize(
    ("tex", "html"),
    [
        (r"50% $H(b\bar{b})$", "50% <span class='math'>H(bb̄)</span>"),
        (
            r"$1.45^{+0.47}_{-0.45}$",
            "<span class='math'>1.45<sup>+0.47</sup><sub>−0.45</sub></span>",
        ),
        (r"$X\rightarrow b\bar{b}$", "<span class='math'>X→bb̄</span>"),
        (
            r"$p_{\text{T}}$ and $Z\gamma$",
            "<span class='math'>p<sub>T</sub></span> and <span class='math'>Zγ</span>",
        ),
        (r"$1.1\pm0.12$ <b>", "<span class='math'>1.1±0.12</span> &lt;b&gt;"),
        (r"costs \$5", "costs $5"),
    ],
)
def test_math_in_quotes_is_rendered(tex, html):
    assert h.text_with_math(tex) == html


@pytest.mark.parametrize(
    ("value", "uncertainty", "text"),
    [
        (0.97734, 0.00851, "0.9773 ± 0.0085"),
        (214.9, 59.3, "215 ± 59"),
        (6.64, 1.83, "6.6 ± 1.8"),
        (-0.0206, 0.0074, "−0.0206 ± 0.0074"),
        (None, 1.0, "not measurable"),
        (math.inf, None, "not measurable"),
    ],
)
def test_numbers_are_rounded_to_their_uncertainty(value, uncertainty, text):
    assert h.value_with_uncertainty(value, uncertainty) == text


# --------------------------------------------------------------------------------------------
# Tables and configuration
# --------------------------------------------------------------------------------------------


def test_ml_summary_table_shows_every_column(tmp_path):
    rows = [
        {
            "model": "unpruned",
            "kind": "plain",
            "inputs": "39",
            "nodes_per_layer": "64-64-64-64",
            "hidden_nodes": "256",
            "multiplications": "14848",
            "parameters": "15105",
            "auc": "0.977338",
            "auc_unc": "0.00851",
            "rejection_50": "214.9",
            "rejection_50_unc": "59.3",
            "rejection_70": "",
            "rejection_70_unc": "",
            "epochs": "12",
            "jet_passes": "9684",
            "wall_time_s": "3.2",
            "new_metric": "0.123456",
        }
    ]
    source = tmp_path / "summary.csv"
    with source.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    write_ml_table(source, tmp_path / "ml.html")
    page = (tmp_path / "ml.html").read_text()
    assert "0.9773 ± 0.0085" in page
    assert "215 ± 59" in page
    assert "no bkg. left" in page
    assert "1/ε<sub>B</sub> at ε<sub>S</sub> = 70 %" in page
    assert "rejection_50" not in page, "no raw column names for known columns"
    assert "Further columns" in page
    assert "new_metric" in page, "an unknown column is still shown"
    assert "0.1235" in page


def test_firmware_summary_table(tmp_path):
    header = (
        "model,family,inputs,hidden_nodes,multiplications,pruned_fraction,precision,lut,lut_tool,"
        "ff,ff_tool,dsp,dsp_tool,latency_cycles,latency_ns,auc_float,auc_firmware,"
        "rejection_50_float,rejection_50_firmware,hls4ml_mismatches,verilator_mismatches"
    )
    lines = [
        'unpruned,unpruned,39,256,14848,0,"ap_fixed<6,3>",28378,yosys,7240,yosys,0,yosys,8,40,'
        "0.9773,0.9738,214.9,214.9,0,0",
        'autopruner_h30,autopruner,39,77,2038,0.86,"ap_fixed<6,3>",5398,da4ml-estimate,1435,'
        "yosys,0,yosys,7,35,0.9567,0.9545,88.9,62.2,0,",
    ]
    source = tmp_path / "summary.csv"
    source.write_text("\n".join([header, *lines]) + "\n")
    write_firmware_table(source, tmp_path / "fw.html")
    page = (tmp_path / "fw.html").read_text()
    assert "&lt;6,3&gt;" in page
    assert "28\u2009378" in page
    assert "86 %" in page
    assert "da4ml-estimate" in page, "mixed LUT tools are named per cell"
    assert "FF, DSP counted by yosys for every model" in page
    assert "0 / not run" in page
    assert "Further columns" not in page
    assert (
        "hls4ml emulation agrees bit by bit with the fixed-point reference for all 2 of 2" in page
    )
    assert "Verilator simulation of the Verilog agrees bit by bit" in page
    assert "for all 1 of 2 models checked" in page
    source.write_text(source.read_text().replace(",0,0\n", ",565,0\n", 1))
    write_firmware_table(source, tmp_path / "fw.html")
    page = (tmp_path / "fw.html").read_text()
    assert "hls4ml emulation differs from the fixed-point reference for unpruned" in page


def test_config_page_is_highlighted_and_in_workflow_order(tmp_path):
    config = {"ml": {"max_epochs": 12}, "seed": 7, "generation": {"x": 1}, "zzz": 0}
    text = config_yaml_text(config)
    assert [line.split(":")[0] for line in text.splitlines() if not line.startswith(" ")] == [
        "seed",
        "generation",
        "ml",
        "zzz",
    ]
    assert yaml.safe_load(text) == config
    (tmp_path / "c.yaml").write_text(text)
    write_config_page(tmp_path / "c.yaml", tmp_path / "c.html", "abc")
    page = (tmp_path / "c.html").read_text()
    assert "max_epochs" in page
    assert "<span" in page, "syntax highlighted"
    assert "\\n" not in page


# --------------------------------------------------------------------------------------------
# Navigation and captions
# --------------------------------------------------------------------------------------------


def test_report_sorts_in_workflow_order():
    """Snakemake sorts categories, subcategories and entries alphabetically."""
    assert sorted(layout.CATEGORIES.values()) == list(layout.CATEGORIES.values())
    assert sorted(layout.ML_STUDIES.values()) == list(layout.ML_STUDIES.values())
    from deeppp.contracts import ML_STUDY_OUTPUTS

    assert set(layout.ML_STUDIES) == set(ML_STUDY_OUTPUTS), "every study has its number"
    for study, files in ML_STUDY_OUTPUTS.items():
        number = layout.ML_STUDIES[study].split(".")[0]
        for name in files:
            if name.endswith(".png"):
                assert layout.entry_name(name, "ml").startswith(f"{number}."), name
    from deeppp.contracts import RECONSTRUCTION_PLOTS

    for name in RECONSTRUCTION_PLOTS:
        group = layout.reconstruction_subcategory(name)
        assert group is not None, f"{name}: no subcategory"
        assert layout.entry_name(name).startswith(group.split(".")[0] + "."), name
    # an output nobody named yet still gets a readable name, after the numbered ones
    assert layout.entry_name("pileup_jets.png", "reconstruction") == "Pileup jets"
    assert sorted(["Pileup jets", layout.entry_name("trimmed_mass.png")])[0].startswith("1.1 ")
    args = layout.report_args("summary.csv", "firmware")
    assert args["labels"][layout.RESULT_LABEL].endswith("(CSV)")


def test_caption_strings_cannot_turn_into_rst_markup():
    from docutils.core import publish_parts

    from deeppp.report.captions import rst_safe

    facts = rst_safe({"text": "ptr_h30 * |x| `y` ε_B_ 1/ε_B", "n": 3, "list": ["a_"]})
    assert facts["n"] == 3
    html = publish_parts(f"Result: {facts['text']} {facts['list'][0]}", writer_name="html")["body"]
    assert "ptr_h30 * |x| `y` ε_B_ 1/ε_B a_" in html.replace("&quot;", '"')


def test_caption_facts_are_read_when_the_report_is_rendered(tmp_path):
    facts_of = caption_facts("json")

    class Output:
        json = str(tmp_path / "out.json")

    assert facts_of({}, Output()) == {}, "before the job ran"
    (tmp_path / "out.json").write_text(json.dumps({"caption": {"overlap": 0.65}, "big": [1] * 9}))
    assert facts_of({}, Output()) == {"overlap": 0.65}
    assert caption_facts(0)({}, [Output.json]) == {"overlap": 0.65}
    (tmp_path / "out.json").write_text("{broken")
    with pytest.raises(DeepppError, match="cannot read caption facts"):
        facts_of({}, Output())
