"""The six pruning studies of issue 4 and the summary table, each written as JSON + PNG.

Every study reads trained models (``models/{model}/{model.pt,metrics.json,history.json}``) and the
test split, and writes to the study directory (``{results}/ml/``) the files named in
:data:`deeppp.contracts.ML_STUDY_OUTPUTS`. ROC curves are recomputed from ``model.pt`` on the test jets, so a study
checks the saved networks, not numbers copied from training.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from deeppp.atomic import write_json_atomic, write_text_atomic
from deeppp.contracts import ML_STUDY_OUTPUTS, dataset_file_name, hidden_nodes_for_percent
from deeppp.metrics import efficiency_key, weighted_roc
from deeppp.plotting import EPS_S_GRID, rejection_curve, roc_with_ratio
from deeppp.provenance import provenance
from deeppp.rootio import InputFileError
from ml import plots
from ml.dataset import JetSample, read_split
from ml.jobs import file_digest, tagger_logits
from ml.model_io import load_model
from ml.settings import (
    MLSettings,
    model_names,
    study_models,
)


@dataclass
class ModelResult:
    """A trained model's files plus its ROC on the test jets."""

    name: str
    metrics: dict[str, Any]
    history: dict[str, Any]
    rejection: np.ndarray

    def value(self, key: str) -> float:
        entry = self.metrics["test"][key]
        return math.nan if entry["value"] is None else float(entry["value"])

    def error(self, key: str) -> float:
        entry = self.metrics["test"][key]
        return math.nan if entry["uncertainty"] is None else float(entry["uncertainty"])


class ModelStore:
    """Loads models lazily; every study reads the test split once."""

    def __init__(
        self,
        models_dir: str | os.PathLike[str],
        dataset_dir: str | os.PathLike[str],
        declared: list[str] | None = None,
    ) -> None:
        # A study may read only the models study_models() declares: those are its Snakemake
        # inputs, and reading any other would race with that model's training job.
        self.declared = None if declared is None else set(declared)
        self.models_dir = Path(models_dir)
        self.test_path = Path(dataset_dir, dataset_file_name("test"))
        self._test: JetSample | None = None
        self._cache: dict[str, ModelResult] = {}
        self.provenance: dict[str, Any] | None = None

    @property
    def test(self) -> JetSample:
        if self._test is None:
            self._test = read_split(self.test_path)
        return self._test

    def __getitem__(self, name: str) -> ModelResult:
        if self.declared is not None and name not in self.declared:
            raise KeyError(f"model {name!r} is read but not declared in study_models()")
        if name not in self._cache:
            directory = self.models_dir / name
            files = {}
            for filename in ("metrics.json", "history.json"):
                path = directory / filename
                if not path.is_file():
                    raise InputFileError(f"{path}: missing (train model {name} first)")
                try:
                    files[filename] = json.loads(path.read_text())
                except json.JSONDecodeError as err:
                    raise InputFileError(f"{path}: not valid JSON ({err})") from err
            sequential, meta = load_model(directory / "model.pt")
            scores = tagger_logits(sequential, meta, self.test)
            eps_s, eps_b = weighted_roc(self.test.labels.numpy(), scores, self.test.weights.numpy())
            self._cache[name] = ModelResult(
                name,
                files["metrics.json"],
                files["history.json"],
                rejection_curve(eps_s, eps_b),
            )
        return self._cache[name]

    def digests(self, names: list[str]) -> dict[str, str]:
        return {f"{n}/model.pt": file_digest(self.models_dir / n / "model.pt") for n in names}


def _finite(value: Any) -> Any:
    """JSON has no NaN/inf: map them to null, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, np.ndarray):
        return _finite(value.tolist())
    return value


def _summary_entry(result: ModelResult) -> dict[str, Any]:
    m = result.metrics
    return {
        "layout": m["layout"],
        "nodes_per_layer": m["nodes_per_layer"],
        "hidden_nodes": m["hidden_nodes"],
        "multiplications": m["multiplications"],
        "test": dict(m["test"]),
        "epochs": m["training"]["epochs"],
        "jet_passes": m["training"]["jet_passes"],
    }


def run_study(
    study: str,
    config: dict[str, Any],
    models_dir: str | os.PathLike[str],
    dataset_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
) -> dict[str, Any]:
    """Run one study; returns its JSON payload (also written to ``out_dir``)."""
    settings = MLSettings.from_config(config)
    names = study_models(settings, study)
    store = ModelStore(models_dir, dataset_dir, declared=names)
    out = Path(out_dir)
    record = provenance("ml", config, settings.seed, study=study, inputs=store.digests(names))
    store.provenance = record
    payload = _STUDIES[study](settings, store, out)
    if study != "summary":
        payload = _finite(payload)
        payload["provenance"] = record
        write_json_atomic(out / ML_STUDY_OUTPUTS[study][0], payload)
    return payload


def _baseline(settings: MLSettings, store: ModelStore, out: Path) -> dict[str, Any]:
    r = store["unpruned"]
    roc_with_ratio(
        out / "baseline_roc.png", [("unpruned", r.rejection)], "unpruned", "IL(39)+4xHL(64)+OL"
    )
    fit = r.history["fits"][0]
    epochs = [h["epoch"] for h in fit["history"][1:]]
    plots.points_with_errors(
        out / "baseline_loss.png",
        [
            ("training", epochs, [h["train_loss"] for h in fit["history"][1:]], None),
            ("validation", epochs, [h["val_loss"] for h in fit["history"][1:]], None),
        ],
        "Epoch",
        "Weighted BCE loss",
    )
    return {
        "model": "unpruned",
        **_summary_entry(r),
        "best_epoch": fit["best_epoch"],
        "roc": {"eps_s": EPS_S_GRID.tolist(), "rejection": r.rejection.tolist()},
    }


def _feature_ranking(store: ModelStore, models: list[tuple[int, str]]) -> list[str]:
    """Features ordered by the smallest input budget that still selects them; ties (and features
    never selected) by the mean gate value at the end of the pruning phase."""
    first = store[models[0][1]]
    names = first.history["feature_names_all"]
    smallest = dict.fromkeys(names, math.inf)
    gate_sum = dict.fromkeys(names, 0.0)
    for k, model in sorted(models):
        details = store[model].history["details"]
        for name in details["selected_features"]:
            smallest[name] = min(smallest[name], k)
        for name, value in details["input_gates_at_prune_end"].items():
            gate_sum[name] += value
    return sorted(names, key=lambda n: (smallest[n], -gate_sum[n], names.index(n)))


def _inputs(settings: MLSettings, store: ModelStore, out: Path) -> dict[str, Any]:
    ks = list(settings.input_budgets)
    layouts = {"A": ([f"autopruner_in{k}" for k in ks], settings.training.hidden_layout)}
    if settings.alt_hidden_layout is not None:
        layouts["B"] = ([f"autopruner_in{k}_alt" for k in ks], settings.alt_hidden_layout)
    ref = store["unpruned"]
    result: dict[str, Any] = {"budgets": ks, "layouts": {}}
    rankings: dict[str, list[str]] = {}
    selections: dict[str, dict[int, list[str]]] = {}
    for tag, (models, hidden) in layouts.items():
        rankings[tag] = _feature_ranking(store, list(zip(ks, models, strict=True)))
        selections[tag] = {
            k: store[m].metrics["feature_names"] for k, m in zip(ks, models, strict=True)
        }
        result["layouts"][tag] = {
            "hidden_layout": list(hidden),
            "ranking": rankings[tag],
            "models": {
                m: {"k": k, "selected": selections[tag][k], **_summary_entry(store[m])}
                for k, m in zip(ks, models, strict=True)
            },
        }
    if "B" in rankings:
        names = rankings["A"]
        rho = spearmanr(
            [rankings["A"].index(n) for n in names], [rankings["B"].index(n) for n in names]
        )
        result["layout_independence"] = {
            "spearman_rank_correlation": float(rho.statistic),
            "selected_overlap": {
                str(k): len(set(selections["A"][k]) & set(selections["B"][k])) / k for k in ks
            },
        }
    eff = efficiency_key(settings.signal_efficiencies[0])
    series = [
        (
            f"layout {tag}: {'-'.join(map(str, hidden))}",
            ks,
            [store[m].value("auc") for m in models],
            [store[m].error("auc") for m in models],
        )
        for tag, (models, hidden) in layouts.items()
    ]
    second = [
        (f"layout {tag}", ks, [store[m].value(eff) for m in models])
        for tag, (models, _) in layouts.items()
    ] + [("unpruned", ks, [ref.value(eff)] * len(ks))]
    plots.points_with_errors(
        out / "inputs_performance.png",
        series,
        "Number of input features kept, k",
        "ROC AUC (test)",
        reference=("unpruned (all features)", ref.value("auc"), ref.error("auc")),
        second=(f"$1/\\varepsilon_B$ at $\\varepsilon_S$ = {eff.split('_')[1]} %", second),
        logy_second=True,
    )
    features = rankings["A"]
    columns = [f"{tag}: k={k}" for tag in layouts for k in ks]
    matrix = np.array(
        [[1.0 if f in selections[tag][k] else 0.0 for tag in layouts for k in ks] for f in features]
    )
    plots.selection_matrix(out / "inputs_ranking.png", features, columns, matrix, "selected")
    return result


def _pruning_markers(details: dict[str, Any]) -> list[float]:
    """Epochs at which each pruning step starts (its budget target drops)."""
    w, steps, per = details["warmup_epochs"], details["pruning_steps"], details["epochs_per_step"]
    return [float(w + j * per) for j in range(steps)]


def _hidden(settings: MLSettings, store: ModelStore, out: Path) -> dict[str, Any]:
    models = [f"autopruner_h{p}" for p in settings.hidden_budgets_percent]
    ref = store["unpruned"]
    result: dict[str, Any] = {"budget_unit": settings.budget_unit, "models": {}}
    gate_panels: list[Any] = []
    traces: list[tuple[str, list[tuple[float, float]], list[float], float | None]] = []
    n_layers = len(settings.training.hidden_layout)
    for p, m in zip(settings.hidden_budgets_percent, models, strict=True):
        r = store[m]
        fit = r.history["fits"][0]
        details = r.history["details"]
        snap_epoch = details["snap"]["epoch"]
        steps = _pruning_markers(details)
        result["models"][m] = {
            "percent": p,
            "requested_nodes": hidden_nodes_for_percent(p, settings.training.hidden_layout),
            "budget": details["budget"],
            "snap": details["snap"],
            "extraction_max_abs_diff": details["extraction_max_abs_diff"],
            **_summary_entry(r),
            "classifier_loss_per_epoch": [h["train_loss"] for h in fit["history"][1:]],
            "val_auc_per_epoch": [h["val_auc"] for h in fit["history"][1:]],
        }
        gate_panels.append(
            (
                m,
                [h["epoch"] for h in fit["history"]],
                [h["gates"]["hidden"] for h in fit["history"]],
                [*steps, float(snap_epoch)],
            )
        )
        traces.append((m, [tuple(t) for t in fit["loss_trace"]], steps, float(snap_epoch)))
    ref_fit = ref.history["fits"][0]
    traces.append(("unpruned", [tuple(t) for t in ref_fit["loss_trace"]], [], None))
    plots.gates_vs_epoch(out / "hidden_gates.png", gate_panels, n_layers)
    plots.loss_curves(out / "hidden_loss.png", traces)
    layers = [f"layer {i + 1}" for i in range(n_layers)]
    plots.grouped_bars(
        out / "hidden_allocation.png",
        layers,
        [
            (
                f"{m} ({store[m].metrics['hidden_nodes']} nodes)",
                store[m].metrics["nodes_per_layer"],
                None,
            )
            for m in models
        ],
        "Nodes kept",
        "Hidden layer",
        reference=float(settings.training.hidden_layout[0]),
    )
    roc_with_ratio(
        out / "hidden_roc.png", [(n, store[n].rejection) for n in ["unpruned", *models]], "unpruned"
    )
    result["unpruned"] = _summary_entry(ref)
    return result


def _auc_difference(a: ModelResult, b: ModelResult) -> dict[str, float]:
    # Same test jets, so the bootstrap errors are correlated; the quadrature sum is conservative.
    return {
        "value": a.value("auc") - b.value("auc"),
        "uncertainty_uncorrelated": math.hypot(a.error("auc"), b.error("auc")),
    }


def _retrain(settings: MLSettings, store: ModelStore, out: Path) -> dict[str, Any]:
    pairs = [(f"autopruner_h{p}", f"retrained_h{p}") for p in settings.hidden_budgets_percent]
    ref = store["unpruned"]
    result: dict[str, Any] = {"pairs": {}}
    for auto, retrained in pairs:
        a, r = store[auto], store[retrained]
        result["pairs"][retrained] = {
            "autopruner": _summary_entry(a),
            "retrained": _summary_entry(r),
            "auc_autopruner_minus_retrained": _auc_difference(a, r),
        }
    nodes = [store[a].metrics["hidden_nodes"] for a, _ in pairs]
    plots.points_with_errors(
        out / "retrain_auc.png",
        [
            (
                "AutoPruner (pruned during training)",
                nodes,
                [store[a].value("auc") for a, _ in pairs],
                [store[a].error("auc") for a, _ in pairs],
            ),
            (
                "same layout, retrained from scratch",
                nodes,
                [store[r].value("auc") for _, r in pairs],
                [store[r].error("auc") for _, r in pairs],
            ),
        ],
        "Hidden nodes kept",
        "ROC AUC (test)",
        reference=("unpruned", ref.value("auc"), ref.error("auc")),
    )
    roc_with_ratio(
        out / "retrain_roc.png",
        [("unpruned", ref.rejection)] + [(n, store[n].rejection) for pair in pairs for n in pair],
        "unpruned",
    )
    return result


def _ptr(settings: MLSettings, store: ModelStore, out: Path) -> dict[str, Any]:
    pairs = [(f"autopruner_h{p}", f"ptr_h{p}") for p in settings.hidden_budgets_percent]
    ref = store["unpruned"]
    result: dict[str, Any] = {"pairs": {}}
    for auto, ptr in pairs:
        a, b = store[auto], store[ptr]
        result["pairs"][ptr] = {
            "autopruner": {**_summary_entry(a), "wall_time_s": a.metrics["timing"]["wall_time_s"]},
            "ptr": {
                **_summary_entry(b),
                "wall_time_s": b.metrics["timing"]["wall_time_s"],
                "steps": b.metrics.get("ptr_steps"),
            },
            "auc_autopruner_minus_ptr": _auc_difference(a, b),
            "jet_pass_ratio_autopruner_over_ptr": a.metrics["training"]["jet_passes"]
            / b.metrics["training"]["jet_passes"],
            "wall_time_ratio_autopruner_over_ptr": a.metrics["timing"]["wall_time_s"]
            / max(b.metrics["timing"]["wall_time_s"], 1e-9),
        }
    nodes = [store[a].metrics["hidden_nodes"] for a, _ in pairs]
    plots.points_with_errors(
        out / "ptr_comparison.png",
        [
            (
                "AutoPruner",
                nodes,
                [store[a].value("auc") for a, _ in pairs],
                [store[a].error("auc") for a, _ in pairs],
            ),
            (
                "prune/train/repeat (L1)",
                nodes,
                [store[b].value("auc") for _, b in pairs],
                [store[b].error("auc") for _, b in pairs],
            ),
        ],
        "Hidden nodes kept",
        "ROC AUC (test)",
        reference=("unpruned", ref.value("auc"), ref.error("auc")),
        second=(
            "Training cost (jet passes)",
            [
                (
                    "AutoPruner",
                    nodes,
                    [store[a].metrics["training"]["jet_passes"] for a, _ in pairs],
                ),
                (
                    "prune/train/repeat",
                    nodes,
                    [store[b].metrics["training"]["jet_passes"] for _, b in pairs],
                ),
            ],
        ),
        logy_second=True,
    )
    roc_with_ratio(
        out / "ptr_roc.png",
        [("unpruned", ref.rejection)] + [(n, store[n].rejection) for pair in pairs for n in pair],
        "unpruned",
    )
    return result


def _jaccard(a: list[str], b: list[str]) -> float:
    return len(set(a) & set(b)) / len(set(a) | set(b))


def _stability(settings: MLSettings, store: ModelStore, out: Path) -> dict[str, Any]:
    replicas = range(settings.stability_seeds)

    def names(base: str) -> list[str]:
        return [base if i == 0 else f"{base}_seed{i}" for i in replicas]

    result: dict[str, Any] = {"seeds": settings.stability_seeds, "hidden": {}, "inputs": {}}
    labels, aucs = [], []
    allocation_series = []
    for p in settings.hidden_budgets_percent:
        base = f"autopruner_h{p}"
        runs = [store[n] for n in names(base)]
        auc = np.array([r.value("auc") for r in runs])
        alloc = np.array([r.metrics["nodes_per_layer"] for r in runs], dtype=float)
        result["hidden"][base] = {
            "auc": auc.tolist(),
            "auc_mean": float(auc.mean()),
            "auc_std": float(auc.std(ddof=1)),
            "auc_bootstrap_uncertainty_mean": float(np.mean([r.error("auc") for r in runs])),
            "nodes_per_layer": alloc.astype(int).tolist(),
            "nodes_per_layer_mean": alloc.mean(axis=0).tolist(),
            "nodes_per_layer_std": alloc.std(axis=0, ddof=1).tolist(),
        }
        labels.append(base)
        aucs.append(auc.tolist())
        allocation_series.append(
            (base, alloc.mean(axis=0).tolist(), alloc.std(axis=0, ddof=1).tolist())
        )
    all_features = store["unpruned"].history["feature_names_all"]
    frequency_columns, frequency = [], []
    for k in settings.input_budgets:
        base = f"autopruner_in{k}"
        runs = [store[n] for n in names(base)]
        selected = [r.metrics["feature_names"] for r in runs]
        auc = np.array([r.value("auc") for r in runs])
        pairs = [_jaccard(a, b) for a, b in itertools.combinations(selected, 2)]
        result["inputs"][base] = {
            "selected": selected,
            "mean_pairwise_jaccard": float(np.mean(pairs)),
            "selected_by_all_seeds": sorted(
                set.intersection(*map(set, selected)), key=all_features.index
            ),
            "auc": auc.tolist(),
            "auc_mean": float(auc.mean()),
            "auc_std": float(auc.std(ddof=1)),
        }
        labels.append(base)
        aucs.append(auc.tolist())
        frequency_columns.append(f"k={k}")
        frequency.append([sum(f in s for s in selected) / len(selected) for f in all_features])
    plots.spread(
        out / "stability_auc.png",
        labels,
        aucs,
        "ROC AUC (test)",
        ("unpruned", store["unpruned"].value("auc")),
    )
    plots.grouped_bars(
        out / "stability_allocation.png",
        [f"layer {i + 1}" for i in range(len(settings.training.hidden_layout))],
        allocation_series,
        f"Nodes kept (mean $\\pm$ std over {settings.stability_seeds} seeds)",
        "Hidden layer",
    )
    matrix = np.array(frequency).T
    order = np.argsort(-matrix.sum(axis=1), kind="stable")
    plots.selection_matrix(
        out / "stability_features.png",
        [all_features[i] for i in order],
        frequency_columns,
        matrix[order],
        "fraction of seeds selecting",
    )
    return result


def _summary(settings: MLSettings, store: ModelStore, out: Path) -> dict[str, Any]:
    rows = []
    for name in model_names(settings):
        m = store[name].metrics
        row: dict[str, Any] = {
            "model": name,
            "kind": m["kind"],
            "inputs": m["inputs"],
            "nodes_per_layer": "-".join(map(str, m["nodes_per_layer"])),
            "hidden_nodes": m["hidden_nodes"],
            "multiplications": m["multiplications"],
            "parameters": m["parameters"],
            "auc": m["test"]["auc"]["value"],
            "auc_unc": m["test"]["auc"]["uncertainty"],
        }
        for eff in settings.signal_efficiencies:
            key = efficiency_key(eff)
            row[key] = m["test"][key]["value"]
            row[f"{key}_unc"] = m["test"][key]["uncertainty"]
        row["epochs"] = m["training"]["epochs"]
        row["jet_passes"] = m["training"]["jet_passes"]
        row["wall_time_s"] = m["timing"]["wall_time_s"]
        rows.append(row)
    table = pd.DataFrame(rows)
    buffer = io.StringIO()
    table.to_csv(
        buffer, index=False, float_format="%.6g", quoting=csv.QUOTE_MINIMAL, lineterminator="\n"
    )
    write_text_atomic(out / "summary.csv", buffer.getvalue())
    shown = table.copy()
    shown["auc"] = [
        f"{v:.4f} ± {u:.4f}" for v, u in zip(table["auc"], table["auc_unc"], strict=True)
    ]
    for eff in settings.signal_efficiencies:
        key = efficiency_key(eff)
        shown[key] = [
            "inf" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1f} ± {u:.1f}"
            for v, u in zip(table[key], table[f"{key}_unc"].fillna(0.0), strict=True)
        ]
        shown = shown.drop(columns=f"{key}_unc")
    shown = shown.drop(columns="auc_unc").rename(
        columns={
            efficiency_key(e): f"1/eps_B @ eps_S={round(e * 100)}%"
            for e in settings.signal_efficiencies
        }
    )
    markdown = (
        "# ML summary: all trained taggers (test split)\n\n"
        "Uncertainties: bootstrap standard deviation over test jets. `wall_time_s` is the only column "
        "that differs between identical runs.\n\n" + shown.to_markdown(index=False) + "\n"
        f"\n<!-- provenance: {json.dumps(store.provenance, sort_keys=True)} -->\n"
    )
    write_text_atomic(out / "summary.md", markdown)
    core = ["unpruned"] + [
        f"{kind}_h{p}"
        for p in settings.hidden_budgets_percent
        for kind in ("autopruner", "retrained", "ptr")
    ]
    roc_with_ratio(out / "roc_all.png", [(n, store[n].rejection) for n in core], "unpruned")
    return {"rows": rows}


_STUDIES = {
    "baseline": _baseline,
    "inputs": _inputs,
    "hidden": _hidden,
    "retrain": _retrain,
    "ptr": _ptr,
    "stability": _stability,
    "summary": _summary,
}
