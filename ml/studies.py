"""The ml studies: each computes one JSON payload from the saved models (this module) and draws
its figures from that JSON alone (:mod:`ml.figures`); JSON and PNGs are swapped in as one set.

Studies (files: ``deeppp.contracts.ML_STUDY_OUTPUTS``):

* ``baseline``: the unpruned tagger over seeds (ROC with its bootstrap band, losses).
* ``methods``: every method at every budget against the unpruned net and AutoPruner against
  every method, as paired differences (AUC, 1/eps_B) with confidence intervals, mean +- seed
  spread; training cost; Pareto fronts of quality vs cost and vs multiplications; the cost to
  reach the unpruned AUC.
* ``regularisation``: every method with and without the shared gauge decay.
* ``inputs``: input-feature selection per method; AutoPruner's ranking in two layouts.
* ``hidden``: what AutoPruner's gates do over the optimiser steps (measured), the loss of every
  method's training, the per-layer allocation, ROC curves.
* ``retrain``: AutoPruner's layout trained from scratch.
* ``stability``: seed-to-seed spread, and whether two hidden layouts rank the inputs alike
  within seed noise (permutation test, :mod:`ml.agreement`).
* ``summary``: one row per model (CSV), the headline table per method and budget (Markdown),
  ROC curves of every method.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deeppp.atomic import atomic_outputs, json_text
from deeppp.contracts import (
    BUDGET_UNIT_LABELS,
    JETS_TREE,
    LABEL_BRANCH,
    ML_STUDY_OUTPUTS,
    ML_TEST_SCORES_FILE,
    MODEL_FAMILY_LABELS,
    REFERENCE_METHOD,
    RETRAINED,
    UNPRUNED,
    WEIGHT_BRANCH,
    BudgetUnit,
    budget_token,
    model_name,
)
from deeppp.metrics import efficiency_key
from deeppp.plotting import EPS_S_GRID
from deeppp.provenance import provenance
from ml import agreement, figures
from ml.evaluation import (
    ModelResult,
    ModelStore,
    finite_or_none,
    paired_over_seeds,
    pareto_front,
    seed_summary,
)
from ml.settings import MLSettings, model_names, seed_names, study_models

logger = logging.getLogger(__name__)

Payload = dict[str, Any]


def run_study(
    study: str,
    config: dict[str, Any],
    models_dir: str | os.PathLike[str],
    dataset_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
) -> Payload:
    """Run one study: compute its JSON, draw its figures from it, write all files as one set
    (the JSON last). Returns the payload."""
    settings = MLSettings.from_config(config)
    names = study_models(settings, study)
    store = ModelStore(models_dir, dataset_dir, settings, declared=names)
    record = provenance("ml", config, settings.seed, study=study, inputs=store.digests(names))
    payload = COMPUTE[study](settings, store)
    payload["provenance"] = record
    files = figures.DRAW[study](payload)
    outputs = ML_STUDY_OUTPUTS[study]
    if study != "summary":
        files[outputs[0]] = json_text(payload, outputs[0]).encode()
    else:
        files[ML_TEST_SCORES_FILE] = test_scores_root(settings, store, record)
    missing = set(outputs) ^ set(files)
    if missing:
        raise AssertionError(f"study {study}: files {sorted(missing)} do not match the contract")
    # The first output (the JSON, or the CSV) goes in last: Snakemake sees a complete set.
    order = [*outputs[1:], outputs[0]]
    out = Path(out_dir)
    with atomic_outputs([out / f for f in order]) as temps:
        for filename, tmp in zip(order, temps, strict=True):
            tmp.write_bytes(files[filename])
    return payload


def test_scores_root(settings: MLSettings, store: ModelStore, record: dict[str, Any]) -> bytes:
    """``test_scores.root``: every core model's logits on the same test jets, with the label,
    weight and event of each jet, so that the report pairs any two models event by event
    without loading a network (and whether or not a model has firmware)."""
    import tempfile

    from deeppp.rootio import write_root

    branches: dict[str, np.ndarray] = {
        LABEL_BRANCH: store.test.labels.numpy().astype(np.int32),
        WEIGHT_BRANCH: store.test.weights.numpy().astype(np.float64),
        "event": np.asarray(store.events, dtype=np.int64),
    }
    for name in model_names(settings, core_only=True):
        branches[f"logit_{name}"] = np.asarray(store[name].scores, dtype=np.float64)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, ML_TEST_SCORES_FILE)
        write_root(path, {JETS_TREE: branches}, record, atomic=False)
        return path.read_bytes()


# --- helpers ------------------------------------------------------------------------------------


def metric_keys(settings: MLSettings) -> list[str]:
    return ["auc", *(efficiency_key(e) for e in settings.signal_efficiencies)]


def metric_labels(settings: MLSettings) -> dict[str, str]:
    labels = {"auc": "ROC AUC"}
    for e in settings.signal_efficiencies:
        labels[efficiency_key(e)] = f"1/eps_B at eps_S = {round(e * 100)} %"
    return labels


def setting_label(unit: str, value: int) -> str:
    if unit == "inputs":
        return f"{value} input features"
    return f"{value} {BUDGET_UNIT_LABELS[unit]}"


def replicas(store: ModelStore, base: str) -> list[ModelResult]:
    return [store[n] for n in seed_names(base, store.settings.seeds)]


def model_entry(r: ModelResult, keys: list[str]) -> dict[str, Any]:
    m = r.metrics
    return {
        "model": r.name,
        "layout": list(m.layout),
        "hidden_nodes": m.hidden_nodes,
        "multiplications": m.multiplications,
        "metrics": {k: r.boot.summary(k) for k in keys},
        "jet_passes": m.training.jet_passes,
        "epochs": m.training.epochs,
        "optimiser_steps": m.training.optimiser_steps,
    }


def group_summary(
    runs: list[ModelResult],
    keys: list[str],
    unpruned: list[ModelResult],
    level: float,
    reference: list[ModelResult] | None = None,
    margin: float = 0.002,
) -> dict[str, Any]:
    """Mean +- seed spread of metrics and cost, paired differences to the unpruned net (and of
    the reference method minus this one)."""
    out: dict[str, Any] = {
        "models": [r.name for r in runs],
        "metrics": {k: seed_summary([r.value(k) for r in runs]) for k in keys},
        "hidden_nodes": seed_summary([float(r.metrics.hidden_nodes) for r in runs]),
        "inputs": seed_summary([float(r.metrics.inputs) for r in runs]),
        "multiplications": seed_summary([float(r.metrics.multiplications) for r in runs]),
        "cost": {
            "jet_passes": seed_summary([float(r.metrics.training.jet_passes) for r in runs]),
            "epochs": seed_summary([r.metrics.training.epochs for r in runs]),
            "optimiser_steps": seed_summary(
                [float(r.metrics.training.optimiser_steps) for r in runs]
            ),
        },
        "vs_unpruned": {
            k: paired_over_seeds(list(zip(runs, unpruned, strict=True)), k, level) for k in keys
        },
    }
    if reference is not None:
        out["reference_minus_this"] = {
            k: paired_over_seeds(list(zip(reference, runs, strict=True)), k, level) for k in keys
        }
    auc = out["vs_unpruned"]["auc"]
    # Not significantly worse: the interval reaches zero (a wide interval always does).
    out["not_significantly_worse_than_unpruned"] = bool(
        auc["ci_high"] is not None and auc["ci_high"] >= 0.0
    )
    # Reaches the unpruned AUC (non-inferiority): at most `margin` below it at the CI level.
    out["reaches_unpruned_auc"] = bool(auc["ci_low"] is not None and auc["ci_low"] >= -margin)
    return out


def loss_trace(r: ModelResult) -> dict[str, list[float]]:
    """The classifier-loss trace of every training a model ran, end to end, against training
    jets seen (in epochs of the full training split)."""
    epochs, losses = [], []
    offset = 0.0
    train_jets = max(r.history["fits"][0]["train_jets"], 1) if r.history["fits"] else 1
    for fit in r.history["fits"]:
        scale = fit["train_jets"] / train_jets
        for epoch, loss in fit["loss_trace"]:
            epochs.append(round(offset + epoch * scale, 6))
            losses.append(loss)
        offset += fit["jet_passes"] / train_jets
    return {"epoch": epochs, "loss": losses}


def roc_entry(r: ModelResult) -> dict[str, Any]:
    return {
        "rejection": [finite_or_none(v) for v in r.rejection],
        "band_low": [finite_or_none(v) for v in r.rejection_band[0]],
        "band_high": [finite_or_none(v) for v in r.rejection_band[1]],
    }


def common(settings: MLSettings, store: ModelStore) -> dict[str, Any]:
    return {
        "seeds": settings.seeds,
        "confidence_level": settings.confidence_level,
        "bootstrap_samples": settings.bootstrap_samples,
        "bootstrap_unit": "event",
        "sample": store.sample(),
        "metrics": metric_keys(settings),
        "metric_labels": metric_labels(settings),
        "family_labels": dict(MODEL_FAMILY_LABELS),
        "eps_s_grid": [round(float(v), 6) for v in EPS_S_GRID],
    }


def extreme_hidden(settings: MLSettings) -> list[tuple[BudgetUnit, int]]:
    """The tightest and loosest hidden-node budget (and the tightest multiplication budget):
    what the per-setting figures show, so they stay readable for any grid."""
    out: list[tuple[BudgetUnit, int]] = []
    if settings.hidden_budgets_percent:
        hidden = sorted(settings.hidden_budgets_percent)
        out += [("hidden", p) for p in dict.fromkeys([hidden[0], hidden[-1]])]
    if settings.multiplication_budgets_percent and len(out) < 2:
        out.append(("multiplications", min(settings.multiplication_budgets_percent)))
    return out


# --- studies ------------------------------------------------------------------------------------


def compute_baseline(settings: MLSettings, store: ModelStore) -> Payload:
    keys = metric_keys(settings)
    runs = replicas(store, UNPRUNED)
    first = runs[0]
    fit = first.history["fits"][0]
    records = [h for h in fit["history"] if h["phase"] != "init"]
    payload = {
        **common(settings, store),
        "models": [r.name for r in runs],
        "per_seed": {r.name: model_entry(r, keys) for r in runs},
        "summary": {k: seed_summary([r.value(k) for r in runs]) for k in keys},
        "seed_differences": {
            r.name: {k: paired_over_seeds([(r, first)], k, settings.confidence_level) for k in keys}
            for r in runs[1:]
        },
        "roc": {r.name: roc_entry(r) for r in runs},
        "loss": {
            "epoch": [h["epoch"] for h in records],
            "train_loss": [h["train_loss"] for h in records],
            "val_loss": [h["val_loss"] for h in records],
            "best_step": fit["best_step"],
            "steps_per_epoch": fit["steps_per_epoch"],
        },
    }
    return payload


def _method_table(
    settings: MLSettings,
    store: ModelStore,
    budgets: Sequence[tuple[BudgetUnit, int]],
    gauge: bool = True,
) -> dict[str, Any]:
    keys = metric_keys(settings)
    unpruned = replicas(store, UNPRUNED)
    table: dict[str, Any] = {}
    for unit, value in budgets:
        token = budget_token(unit, value)
        ref_runs = None
        if REFERENCE_METHOD in settings.methods:
            ref_runs = replicas(store, model_name(REFERENCE_METHOD, unit, value, gauge_decay=gauge))
        methods = {}
        for method in settings.methods:
            runs = replicas(store, model_name(method, unit, value, gauge_decay=gauge))
            reference = ref_runs if method != REFERENCE_METHOD else None
            methods[method] = group_summary(
                runs, keys, unpruned, settings.confidence_level, reference, settings.auc_margin
            )
        table[token] = {
            "unit": unit,
            "value": value,
            "label": setting_label(unit, value),
            "methods": methods,
        }
    return table


def compute_methods(settings: MLSettings, store: ModelStore) -> Payload:
    keys = metric_keys(settings)
    unpruned = replicas(store, UNPRUNED)
    table = _method_table(settings, store, settings.budgets())
    points = []
    for token, entry in table.items():
        for method, summary in entry["methods"].items():
            point = {
                "setting": token,
                "method": method,
                "jet_passes": summary["cost"]["jet_passes"]["mean"],
                "multiplications": summary["multiplications"]["mean"],
            }
            for k in keys:
                point[k] = summary["metrics"][k]["mean"]
                point[f"{k}_vs_unpruned"] = summary["vs_unpruned"][k]["mean"]
            points.append(point)
    fronts = {
        cost: {
            k: [
                points[i]["setting"] + "/" + points[i]["method"]
                for i in pareto_front(points, k, cost)
            ]
            for k in keys
        }
        for cost in ("jet_passes", "multiplications")
    }
    reach: dict[str, Any] = {}
    for method in settings.methods:
        reach[method] = {
            token: {
                "reaches_unpruned_auc": entry["methods"][method]["reaches_unpruned_auc"],
                "jet_passes": entry["methods"][method]["cost"]["jet_passes"]["mean"],
            }
            for token, entry in table.items()
        }
    cheapest: dict[str, Any] = {}
    for token, entry in table.items():
        reaching = [
            (s["cost"]["jet_passes"]["mean"], m)
            for m, s in entry["methods"].items()
            if s["reaches_unpruned_auc"]
        ]
        cheapest[token] = min(reaching)[1] if reaching else None
    return {
        **common(settings, store),
        "reference": UNPRUNED,
        "reference_method": REFERENCE_METHOD if REFERENCE_METHOD in settings.methods else None,
        "auc_margin": settings.auc_margin,
        "methods": list(settings.methods),
        "unpruned": {
            "models": [r.name for r in unpruned],
            "metrics": {k: seed_summary([r.value(k) for r in unpruned]) for k in keys},
            "multiplications": unpruned[0].metrics.multiplications,
            "jet_passes": seed_summary([float(r.metrics.training.jet_passes) for r in unpruned]),
        },
        "settings": table,
        "points": points,
        "pareto_fronts": fronts,
        "cost_to_reach_unpruned_auc": reach,
        "cheapest_reaching_unpruned_auc": cheapest,
    }


def compute_regularisation(settings: MLSettings, store: ModelStore) -> Payload:
    keys = metric_keys(settings)
    budgets: list[tuple[BudgetUnit, int]] = [("hidden", p) for p in settings.without_gauge_decay]
    with_gauge = _method_table(settings, store, budgets, gauge=True)
    without = _method_table(settings, store, budgets, gauge=False)
    effect: dict[str, Any] = {}
    for unit, value in budgets:
        token = budget_token(unit, value)
        effect[token] = {
            method: {
                k: paired_over_seeds(
                    list(
                        zip(
                            replicas(store, model_name(method, unit, value)),
                            replicas(store, model_name(method, unit, value, gauge_decay=False)),
                            strict=True,
                        )
                    ),
                    k,
                    settings.confidence_level,
                )
                for k in keys
            }
            for method in settings.methods
        }
    return {
        **common(settings, store),
        "gauge_decay": settings.schedule.gauge_decay,
        "methods": list(settings.methods),
        "with_gauge_decay": with_gauge,
        "without_gauge_decay": without,
        "with_minus_without": effect,
    }


def _ranking(runs: list[ModelResult]) -> list[str]:
    """Features by mean decision score over seeds (highest first); ties by name."""
    scores: dict[str, float] = {}
    for r in runs:
        for name, value in r.history["details"].get("feature_scores", {}).items():
            scores[name] = scores.get(name, 0.0) + float(value) / len(runs)
    return sorted(scores, key=lambda n: (-scores[n], n))


def compute_inputs(settings: MLSettings, store: ModelStore) -> Payload:
    keys = metric_keys(settings)
    budgets: list[tuple[BudgetUnit, int]] = [("inputs", k) for k in settings.input_budgets]
    table = _method_table(settings, store, budgets)
    features = list(store.test.feature_names)
    selections: dict[str, Any] = {}
    rankings: dict[str, Any] = {}
    layouts = {"A": list(settings.training.hidden_layout)}
    if settings.alt_hidden_layout is not None and REFERENCE_METHOD in settings.methods:
        layouts["B"] = list(settings.alt_hidden_layout)
    for k in settings.input_budgets:
        token = budget_token("inputs", k)
        selections[token] = {}
        rankings[token] = {}
        for method in settings.methods:
            runs = replicas(store, model_name(method, "inputs", k))
            selections[token][method] = {r.name: list(r.metrics.feature_names) for r in runs}
            rankings[token][method] = _ranking(runs)
        if "B" in layouts:
            runs = replicas(
                store, model_name(REFERENCE_METHOD, "inputs", k, alternative_layout=True)
            )
            selections[token][f"{REFERENCE_METHOD}_alt"] = {
                r.name: list(r.metrics.feature_names) for r in runs
            }
            rankings[token][f"{REFERENCE_METHOD}_alt"] = _ranking(runs)
    unpruned = replicas(store, UNPRUNED)
    return {
        **common(settings, store),
        "budgets": list(settings.input_budgets),
        "methods": list(settings.methods),
        "layouts": layouts,
        "features": features,
        "unpruned": {k: seed_summary([r.value(k) for r in unpruned]) for k in keys},
        "settings": table,
        "selections": selections,
        "rankings": rankings,
    }


def compute_hidden(settings: MLSettings, store: ModelStore) -> Payload:
    keys = metric_keys(settings)
    budgets = [(u, v) for u, v in settings.budgets() if u != "inputs"]
    table = _method_table(settings, store, budgets)
    shown = extreme_hidden(settings)
    gates: dict[str, Any] = {}
    if REFERENCE_METHOD in settings.methods:
        for unit, value in shown:
            r = store[model_name(REFERENCE_METHOD, unit, value)]
            fit = r.history["fits"][0]
            details = r.history["details"]
            schedule = details["schedule"]["optimiser_steps"]
            warmup = schedule["warmup"]
            step_len = schedule["pruning_step"]
            n_steps = schedule["pruning"] // max(step_len, 1)
            gates[budget_token(unit, value)] = {
                "model": r.name,
                "steps": [h["step"] for h in fit["history"]],
                "values": [h["gates"]["hidden"] for h in fit["history"]],
                "pruning_step_starts": [warmup + j * step_len for j in range(n_steps)],
                "commit_step": warmup + n_steps * step_len,
                "snap_step": details["snap"]["step"],
                "steps_per_epoch": details["schedule"]["steps_per_epoch"],
                "gate_dynamics": details["gate_dynamics"]["hidden"],
                "snap": details["snap"],
            }
    allocation: dict[str, Any] = {}
    for unit, value in budgets:
        token = budget_token(unit, value)
        allocation[token] = {}
        for method in settings.methods:
            runs = replicas(store, model_name(method, unit, value))
            per_seed = np.array([r.metrics.nodes_per_layer for r in runs], dtype=float)
            allocation[token][method] = {
                "values": per_seed.astype(int).tolist(),
                "mean": per_seed.mean(axis=0).tolist(),
                "seed_spread": per_seed.std(axis=0, ddof=1).tolist() if len(runs) > 1 else None,
            }
    first_unpruned = store[UNPRUNED]
    losses: dict[str, Any] = {UNPRUNED: loss_trace(first_unpruned)}
    rocs: dict[str, Any] = {}
    for unit, value in shown:
        token = budget_token(unit, value)
        losses[token] = {m: loss_trace(store[model_name(m, unit, value)]) for m in settings.methods}
        rocs[token] = {UNPRUNED: roc_entry(first_unpruned)}
        rocs[token].update(
            {m: roc_entry(store[model_name(m, unit, value)]) for m in settings.methods}
        )
    return {
        **common(settings, store),
        "methods": list(settings.methods),
        "hidden_layout": list(settings.training.hidden_layout),
        "shown": [budget_token(u, v) for u, v in shown],
        "setting_labels": {budget_token(u, v): setting_label(u, v) for u, v in budgets},
        "settings": table,
        "gates": gates,
        "allocation": allocation,
        "loss": losses,
        "roc": rocs,
        "metrics_of": keys,
    }


def compute_retrain(settings: MLSettings, store: ModelStore) -> Payload:
    keys = metric_keys(settings)
    unpruned = replicas(store, UNPRUNED)
    budgets = [(u, v) for u, v in settings.budgets() if u != "inputs"]
    pairs: dict[str, Any] = {}
    rocs: dict[str, Any] = {}
    for unit, value in budgets:
        token = budget_token(unit, value)
        auto = replicas(store, model_name(REFERENCE_METHOD, unit, value))
        retrained = replicas(store, model_name(RETRAINED, unit, value))
        pairs[token] = {
            "label": setting_label(unit, value),
            "autopruner": group_summary(auto, keys, unpruned, settings.confidence_level),
            "retrained": group_summary(retrained, keys, unpruned, settings.confidence_level),
            "autopruner_minus_retrained": {
                k: paired_over_seeds(
                    list(zip(auto, retrained, strict=True)), k, settings.confidence_level
                )
                for k in keys
            },
        }
    for shown_unit, shown_value in extreme_hidden(settings):
        token = budget_token(shown_unit, shown_value)
        rocs[token] = {
            UNPRUNED: roc_entry(unpruned[0]),
            REFERENCE_METHOD: roc_entry(
                store[model_name(REFERENCE_METHOD, shown_unit, shown_value)]
            ),
            RETRAINED: roc_entry(store[model_name(RETRAINED, shown_unit, shown_value)]),
        }
    return {
        **common(settings, store),
        "unpruned": {k: seed_summary([r.value(k) for r in unpruned]) for k in keys},
        "settings": pairs,
        "roc": rocs,
    }


def compute_stability(settings: MLSettings, store: ModelStore) -> Payload:
    keys = metric_keys(settings)
    unpruned = replicas(store, UNPRUNED)
    spread: dict[str, Any] = {}
    for unit, value in settings.budgets():
        token = budget_token(unit, value)
        runs = replicas(store, model_name(REFERENCE_METHOD, unit, value))
        spread[token] = {
            "label": setting_label(unit, value),
            "metrics": {k: seed_summary([r.value(k) for r in runs]) for k in keys},
            "bootstrap_uncertainty_mean": {
                k: float(np.mean([r.boot.summary(k)["uncertainty"] or 0.0 for r in runs]))
                for k in keys
            },
        }
    allocation: dict[str, Any] = {}
    for percent in settings.hidden_budgets_percent:
        runs = replicas(store, model_name(REFERENCE_METHOD, "hidden", percent))
        per_seed = np.array([r.metrics.nodes_per_layer for r in runs], dtype=float)
        allocation[budget_token("hidden", percent)] = {
            "values": per_seed.astype(int).tolist(),
            "mean": per_seed.mean(axis=0).tolist(),
            "seed_spread": per_seed.std(axis=0, ddof=1).tolist(),
        }
    features = list(store.test.feature_names)
    frequency: dict[str, Any] = {}
    layouts: dict[str, Any] = {}
    for k in settings.input_budgets:
        token = budget_token("inputs", k)
        runs_a = replicas(store, model_name(REFERENCE_METHOD, "inputs", k))
        frequency[token] = {
            f: sum(f in r.metrics.feature_names for r in runs_a) / len(runs_a) for f in features
        }
        if settings.alt_hidden_layout is None:
            continue
        runs_b = replicas(store, model_name(REFERENCE_METHOD, "inputs", k, alternative_layout=True))
        scores_a = [r.history["details"]["feature_scores"] for r in runs_a]
        scores_b = [r.history["details"]["feature_scores"] for r in runs_b]
        selected_a = [list(r.metrics.feature_names) for r in runs_a]
        selected_b = [list(r.metrics.feature_names) for r in runs_b]
        layouts[token] = {
            "layout_a": list(settings.training.hidden_layout),
            "layout_b": list(settings.alt_hidden_layout),
            "ranking_spearman": agreement.layout_agreement(scores_a, scores_b, agreement.spearman),
            "selection_jaccard": agreement.layout_agreement(
                selected_a, selected_b, agreement.jaccard
            ),
        }
    return {
        **common(settings, store),
        "unpruned": {k: seed_summary([r.value(k) for r in unpruned]) for k in keys},
        "autopruner": spread,
        "allocation": allocation,
        "hidden_layout": list(settings.training.hidden_layout),
        "features": features,
        "selection_frequency": frequency,
        "layouts": layouts,
    }


def compute_summary(settings: MLSettings, store: ModelStore) -> Payload:
    keys = metric_keys(settings)
    rows = []
    for name in study_models(settings, "summary"):
        r = store[name]
        m = r.metrics
        row: dict[str, Any] = {
            "model": name,
            "family": m.family,
            "budget": r.parsed.setting,
            "seed_replica": m.replica,
            "gauge_decay": m.gauge_decay,
            "inputs": m.inputs,
            "nodes_per_layer": "-".join(map(str, m.nodes_per_layer)),
            "hidden_nodes": m.hidden_nodes,
            "multiplications": m.multiplications,
            "parameters": m.parameters,
        }
        for k in keys:
            summary = r.boot.summary(k)
            row[k] = summary["value"]
            row[f"{k}_unc"] = summary["uncertainty"]
        row["epochs"] = m.training.epochs
        row["jet_passes"] = m.training.jet_passes
        row["wall_time_s"] = m.wall_time_s
        rows.append(row)
    table = _method_table(settings, store, settings.budgets())
    rocs: dict[str, Any] = {}
    for unit, value in extreme_hidden(settings):
        token = budget_token(unit, value)
        rocs[token] = {UNPRUNED: roc_entry(store[UNPRUNED])}
        rocs[token].update(
            {m: roc_entry(store[model_name(m, unit, value)]) for m in settings.methods}
        )
    # Wall time (not reproducible, so only here: summary.csv/md, never in a study JSON).
    wall: dict[str, float] = {}
    for row in rows:
        if row["budget"] and row["gauge_decay"] and "_alt" not in row["budget"]:
            key = f"{row['budget']}/{row['family']}"
            wall[key] = wall.get(key, 0.0) + row["wall_time_s"] / settings.seeds
    unpruned = replicas(store, UNPRUNED)
    return {
        **common(settings, store),
        "rows": rows,
        "auc_margin": settings.auc_margin,
        "wall_time_s": wall,
        "settings": table,
        "unpruned": {k: seed_summary([r.value(k) for r in unpruned]) for k in keys},
        "roc": rocs,
        "csv": _csv(rows),
    }


def _csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: (
                    f"{v:.6g}"
                    if isinstance(v, float) and math.isfinite(v)
                    else ("" if v is None else v)
                )
                for k, v in row.items()
            }
        )
    return buffer.getvalue()


COMPUTE: dict[str, Callable[[MLSettings, ModelStore], Payload]] = {
    "baseline": compute_baseline,
    "methods": compute_methods,
    "regularisation": compute_regularisation,
    "inputs": compute_inputs,
    "hidden": compute_hidden,
    "retrain": compute_retrain,
    "stability": compute_stability,
    "summary": compute_summary,
}
