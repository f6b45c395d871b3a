"""Figures of the ml studies, drawn from each study's JSON payload alone (so a figure can be
redrawn from the JSON without the models). Every figure stays within
:data:`deeppp.plotting.MAX_HEIGHT_INCHES` (about 650 px at the saved resolution), uses one
colour/marker/line style per method (:data:`deeppp.plotting.FAMILY_STYLES`), shows
uncertainties on every rejection, and never prints an axis multiplier.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.patches import Patch

from deeppp.plotting import (
    MAX_HEIGHT_INCHES,
    family_label,
    family_style,
    figure_bytes,
    label,
    plain_numbers,
    style,
)

Payload = dict[str, Any]
Files = dict[str, bytes]


def _png(fig: Any) -> bytes:
    return figure_bytes(fig, max_height_inches=MAX_HEIGHT_INCHES)


def _none_to_nan(values: Sequence[float | None]) -> np.ndarray:
    return np.array([math.nan if v is None else v for v in values], dtype=float)


def _metric_axis_label(payload: Payload, key: str, prefix: str = "") -> str:
    text = payload["metric_labels"][key]
    text = text.replace("1/eps_B", r"$1/\varepsilon_B$").replace("eps_S", r"$\varepsilon_S$")
    return f"{prefix}{text}"


def _panel_title(ax: Any, text: str) -> None:
    """A panel's name inside its top-right corner (a title would collide with the label)."""
    ax.text(0.98, 0.97, text, transform=ax.transAxes, ha="right", va="top", fontsize=10)


def _note(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=11)
    ax.set_xticks([])
    ax.set_yticks([])


# --- ROC ----------------------------------------------------------------------------------------


def draw_roc(
    ax: Any,
    ratio: Any,
    grid: np.ndarray,
    curves: dict[str, dict[str, Any]],
    reference: str,
    labels: dict[str, str],
    families: dict[str, str] | None = None,
) -> None:
    """Rejection vs eps_S with the reference's bootstrap band; the ratio panel divides by the
    reference and shows the band as its relative uncertainty (so the panel is never flat)."""
    ref = _none_to_nan(curves[reference]["rejection"])
    ratios = []
    for name, entry in curves.items():
        family = (families or {}).get(name, name)
        st = family_style(family)
        rejection = _none_to_nan(entry["rejection"])
        lw = 2.2 if name == reference else 1.5
        ax.plot(
            grid, rejection, color=st.colour, ls=st.linestyle, lw=lw, label=labels.get(name, name)
        )
        if name == reference:
            low, high = _none_to_nan(entry["band_low"]), _none_to_nan(entry["band_high"])
            ax.fill_between(grid, low, high, color=st.colour, alpha=0.15, lw=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio.fill_between(
                    grid,
                    low / ref,
                    high / ref,
                    color="grey",
                    alpha=0.3,
                    lw=0,
                    label=f"{labels.get(name, name)}: 68 % bootstrap band",
                )
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                relative = rejection / ref
            ratio.plot(grid, relative, color=st.colour, ls=st.linestyle, lw=1.3)
            ratios.append(relative)
    ax.set_yscale("log")
    _rejection_limits(ax, [_none_to_nan(c["rejection"]) for c in curves.values()])
    ax.set_ylabel(r"Background rejection $1/\varepsilon_B$")
    ratio.axhline(1.0, color="black", lw=0.8)
    # Range from where the rejection is statistically stable (eps_S >= 0.3), capped.
    stable = grid >= 0.3
    finite = (
        np.concatenate([r[stable][np.isfinite(r[stable])] for r in ratios])
        if ratios
        else np.array([])
    )
    bottom, top = (
        (float(np.quantile(finite, 0.02)), float(np.quantile(finite, 0.98)))
        if finite.size
        else (0.9, 1.1)
    )
    pad = max(0.05, 0.1 * (top - bottom))
    ratio.set_ylim(max(0.0, min(bottom, 0.95) - pad), min(max(top, 1.05) + pad, 3.0))
    ratio.set_ylabel("ratio", fontsize=10)
    ratio.set_xlabel(r"Signal efficiency $\varepsilon_S$")
    ratio.set_xlim(grid[0], 1.0)
    plain_numbers(ratio)


def _rejection_limits(ax: Any, curves: list[np.ndarray]) -> None:
    """From 1 to a decade above the largest finite rejection: room for the label and legend."""
    finite = np.concatenate([c[np.isfinite(c)] for c in curves]) if curves else np.array([])
    top = float(finite.max()) if finite.size else 10.0
    ax.set_ylim(1.0, 10 ** math.ceil(math.log10(max(top, 10.0)) + 0.7))


def _roc_figure(
    panels: list[tuple[str, dict[str, Any]]],
    grid: np.ndarray,
    reference: str,
    labels: dict[str, str],
    families: dict[str, str] | None = None,
) -> bytes:
    style()
    n = max(len(panels), 1)
    fig, axes = plt.subplots(
        2,
        n,
        figsize=(6.2 * n, 5.8),
        sharex=True,
        squeeze=False,
        gridspec_kw={"height_ratios": [3, 1], "hspace": 0.06},
    )
    for col, (title, curves) in enumerate(panels):
        draw_roc(axes[0][col], axes[1][col], grid, curves, reference, labels, families)
        axes[0][col].legend(fontsize=8, loc="upper right", title=title, title_fontsize=9)
        label(axes[0][col])
    if not panels:
        _note(axes[0][0], "no model to show")
    fig.subplots_adjust(left=0.09, right=0.98, top=0.97, bottom=0.13, wspace=0.22)
    return _png(fig)


def _method_labels(payload: Payload) -> dict[str, str]:
    return {k: v for k, v in payload["family_labels"].items()}


# --- baseline -----------------------------------------------------------------------------------


def draw_baseline(payload: Payload) -> Files:
    grid = np.array(payload["eps_s_grid"])
    models = payload["models"]
    labels = {
        m: ("unpruned, seed 0" if i == 0 else f"unpruned, seed {i}") for i, m in enumerate(models)
    }
    curves = {m: payload["roc"][m] for m in models}
    style()
    fig, (ax, ratio) = plt.subplots(
        2, 1, figsize=(7, 5.8), sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.06}
    )
    ref = models[0]
    shades = ["#000000", "#555555", "#999999", "#BBBBBB", "#DDDDDD"]
    ref_curve = _none_to_nan(curves[ref]["rejection"])
    for i, m in enumerate(models):
        rejection = _none_to_nan(curves[m]["rejection"])
        colour = shades[min(i, len(shades) - 1)]
        ax.plot(
            grid,
            rejection,
            color=colour,
            lw=2.0 if i == 0 else 1.2,
            ls="-" if i == 0 else "--",
            label=labels[m],
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            if i == 0:
                low, high = (
                    _none_to_nan(curves[m]["band_low"]),
                    _none_to_nan(curves[m]["band_high"]),
                )
                ax.fill_between(
                    grid,
                    low,
                    high,
                    color="grey",
                    alpha=0.25,
                    lw=0,
                    label="seed 0: 68 % bootstrap band (events)",
                )
                ratio.fill_between(
                    grid, low / ref_curve, high / ref_curve, color="grey", alpha=0.3, lw=0
                )
            else:
                ratio.plot(grid, rejection / ref_curve, color=colour, lw=1.2, ls="--")
    ax.set_yscale("log")
    _rejection_limits(ax, [_none_to_nan(c["rejection"]) for c in curves.values()])
    ax.set_ylabel(r"Background rejection $1/\varepsilon_B$")
    ax.legend(fontsize=9, loc="lower left")
    label(ax, "unpruned tagger: seed-to-seed and test-sample spread")
    ratio.axhline(1.0, color="black", lw=0.8)
    ratio.set_ylabel("ratio to\nseed 0", fontsize=10)
    ratio.set_xlabel(r"Signal efficiency $\varepsilon_S$")
    ratio.set_xlim(grid[0], 1.0)
    ratio.set_ylim(0.5, 1.5)
    plain_numbers(ratio)
    roc = _png(fig)

    loss = payload["loss"]
    style()
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.plot(
        loss["epoch"],
        loss["train_loss"],
        "o-",
        color="#0072B2",
        ms=4,
        label="training (mean over the epoch)",
    )
    ax.plot(loss["epoch"], loss["val_loss"], "s-", color="#D55E00", ms=4, label="validation")
    best = loss["best_step"] / loss["steps_per_epoch"]
    ax.axvline(best, color="grey", ls=":", lw=1.0, label=f"restored (best) epoch {best:.0f}")
    ax.set_xlabel("Epoch")
    ax.set_ylabel("Weighted BCE loss")
    ax.legend(fontsize=9)
    label(ax, "unpruned tagger, seed 0")
    return {"baseline_roc.png": roc, "baseline_loss.png": _png(fig)}


# --- methods ------------------------------------------------------------------------------------


def _difference_panel(
    ax: Any, payload: Payload, table: dict[str, Any], key: str, field: str, methods: Sequence[str]
) -> None:
    """Paired difference (``field`` of each method entry) per setting: seed-mean with its
    combined interval, one dot per seed."""
    tokens = list(table)
    n = max(len(methods), 1)
    width = 0.8 / n
    for i, method in enumerate(methods):
        st = family_style(method)
        xs, ys, lows, highs = [], [], [], []
        for t, token in enumerate(tokens):
            entry = table[token]["methods"].get(method, {}).get(field, {}).get(key)
            if entry is None or entry["mean"] is None:
                continue
            x = t + (i - (n - 1) / 2) * width
            xs.append(x)
            ys.append(entry["mean"])
            lows.append(entry["mean"] - entry["ci_low"])
            highs.append(entry["ci_high"] - entry["mean"])
            seeds = [p["value"] for p in entry["per_seed"] if p["value"] is not None]
            ax.plot([x] * len(seeds), seeds, ".", color=st.colour, ms=3, alpha=0.6)
        if xs:
            ax.errorbar(
                xs,
                ys,
                yerr=[lows, highs],
                fmt=st.marker,
                color=st.colour,
                capsize=2,
                ms=5,
                lw=1,
                label=family_label(method),
            )
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set_xticks(range(len(tokens)), [table[t]["label"] for t in tokens], fontsize=8, rotation=15)
    ax.set_ylabel(_metric_axis_label(payload, key, "Δ "), fontsize=10)
    plain_numbers(ax)


def draw_methods(payload: Payload) -> Files:
    keys = payload["metrics"]
    shown = [k for k in keys if k == "auc" or k in ("rejection_50", "rejection_70")] or keys[:3]
    methods = payload["methods"]
    table = payload["settings"]
    style()
    fig, axes = plt.subplots(1, len(shown), figsize=(5.2 * len(shown), 5.4), squeeze=False)
    for ax, key in zip(axes[0], shown, strict=True):
        _difference_panel(ax, payload, table, key, "vs_unpruned", methods)
    axes[0][0].legend(fontsize=8, loc="lower left")
    label(axes[0][0], f"method - unpruned, paired; bars: {payload['confidence_level']:.0%} CI")
    fig.tight_layout()
    quality = _png(fig)
    return {
        "methods_quality.png": quality,
        "methods_cost.png": _pareto_figure(
            payload, shown, "jet_passes", "Training cost [jet passes]"
        ),
        "methods_multiplications.png": _pareto_figure(
            payload, shown, "multiplications", "Multiplications of the pruned network"
        ),
    }


def _pareto_figure(payload: Payload, keys: Sequence[str], cost: str, xlabel: str) -> bytes:
    points = payload["points"]
    settings = list(payload["settings"])
    fills: list[Any] = ["full", "none", "left", "bottom", "right", "top"]
    style()
    fig, axes = plt.subplots(1, len(keys), figsize=(5.2 * len(keys), 5.4), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        front = set(payload["pareto_fronts"][cost][key])
        for point in points:
            st = family_style(point["method"])
            fill = fills[settings.index(point["setting"]) % len(fills)]
            if point[cost] is None or point[key] is None:
                continue
            ax.plot(
                point[cost],
                point[key],
                st.marker,
                color=st.colour,
                fillstyle=fill,
                ms=8 if f"{point['setting']}/{point['method']}" in front else 6,
            )
        ordered = [p for p in points if f"{p['setting']}/{p['method']}" in front]
        ordered.sort(key=lambda p: p[cost])
        if ordered:
            ax.step(
                [p[cost] for p in ordered],
                [p[key] for p in ordered],
                where="post",
                color="black",
                lw=0.8,
                ls=":",
                label="Pareto front",
            )
        reference = payload["unpruned"]["metrics"][key]["mean"]
        if reference is not None:
            ax.axhline(reference, color="black", lw=0.8, ls="--", label="unpruned (seed mean)")
        if cost == "jet_passes":
            ax.set_xscale("log")
        ax.set_xlabel(xlabel, fontsize=10)
        ax.set_ylabel(_metric_axis_label(payload, key) + " (seed mean)", fontsize=10)
        if key != "auc":
            ax.set_yscale("log")
        plain_numbers(ax)
    handles = [
        plt.Line2D(
            [],
            [],
            color=family_style(m).colour,
            marker=family_style(m).marker,
            ls="",
            label=family_label(m),
        )
        for m in payload["methods"]
    ]
    handles += [
        plt.Line2D(
            [],
            [],
            color="black",
            marker="o",
            fillstyle=fills[i % len(fills)],
            ls="",
            label=payload["settings"][s]["label"],
        )
        for i, s in enumerate(settings)
    ]
    axes[0][0].legend(handles=handles, fontsize=7, loc="lower right", ncol=2)
    label(axes[0][0], "larger markers: on the Pareto front")
    fig.tight_layout()
    return _png(fig)


# --- regularisation -----------------------------------------------------------------------------


def draw_regularisation(payload: Payload) -> Files:
    keys = [k for k in payload["metrics"] if k in ("auc", "rejection_50")] or payload["metrics"][:2]
    methods = payload["methods"]
    style()
    fig, axes = plt.subplots(1, len(keys), figsize=(6.0 * len(keys), 5.2), squeeze=False)
    effect = payload["with_minus_without"]
    if not effect:
        for ax in axes[0]:
            _note(ax, "no runs without gauge decay configured\n(ml.without_gauge_decay is empty)")
        label(axes[0][0])
        return {"regularisation.png": _png(fig)}
    tokens = list(effect)
    for ax, key in zip(axes[0], keys, strict=True):
        for t, token in enumerate(tokens):
            for i, method in enumerate(methods):
                entry = effect[token][method][key]
                if entry["mean"] is None:
                    continue
                st = family_style(method)
                x = i + t * (len(methods) + 1)
                ax.errorbar(
                    [x],
                    [entry["mean"]],
                    yerr=[[entry["mean"] - entry["ci_low"]], [entry["ci_high"] - entry["mean"]]],
                    fmt=st.marker,
                    color=st.colour,
                    capsize=3,
                    ms=6,
                    label=family_label(method) if (t == 0) else None,
                )
                seeds = [p["value"] for p in entry["per_seed"] if p["value"] is not None]
                ax.plot([x] * len(seeds), seeds, ".", color=st.colour, ms=3, alpha=0.6)
        ax.axhline(0.0, color="black", lw=0.8)
        ax.set_xticks(
            [(len(methods) - 1) / 2 + t * (len(methods) + 1) for t in range(len(tokens))],
            [payload["with_gauge_decay"][t]["label"] for t in tokens],
            fontsize=9,
        )
        ax.set_ylabel(_metric_axis_label(payload, key, "Δ ") + ": with - without", fontsize=10)
        plain_numbers(ax)
    axes[0][0].legend(fontsize=8, loc="lower left")
    label(
        axes[0][0],
        f"gauge decay {payload['gauge_decay']:g} vs none, paired; "
        f"{payload['confidence_level']:.0%} CI",
    )
    fig.tight_layout()
    return {"regularisation.png": _png(fig)}


# --- inputs -------------------------------------------------------------------------------------


def draw_inputs(payload: Payload) -> Files:
    keys = [k for k in payload["metrics"] if k in ("auc", "rejection_50")] or payload["metrics"][:2]
    methods = payload["methods"]
    budgets = payload["budgets"]
    table = payload["settings"]
    style()
    fig, axes = plt.subplots(1, len(keys), figsize=(6.0 * len(keys), 5.2), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        n = len(methods)
        for i, method in enumerate(methods):
            st = family_style(method)
            xs, ys, errs = [], [], []
            for k in budgets:
                entry = table[f"in{k}"]["methods"][method]["metrics"][key]
                if entry["mean"] is None:
                    continue
                offset = (
                    (i - (n - 1) / 2)
                    * 0.08
                    * (max(budgets) - min(budgets) + 1)
                    / max(len(budgets), 1)
                )
                xs.append(k + offset)
                ys.append(entry["mean"])
                errs.append(entry["seed_spread"] or 0.0)
            ax.errorbar(
                xs,
                ys,
                yerr=errs,
                fmt=st.marker,
                ls=st.linestyle,
                color=st.colour,
                capsize=3,
                ms=5,
                lw=1,
                label=family_label(method),
            )
        ref = payload["unpruned"][key]
        if ref["mean"] is not None:
            ax.axhline(ref["mean"], color="black", lw=0.8, ls="--", label="unpruned, all features")
            if ref["seed_spread"]:
                ax.axhspan(
                    ref["mean"] - ref["seed_spread"],
                    ref["mean"] + ref["seed_spread"],
                    color="grey",
                    alpha=0.2,
                )
        ax.set_xlabel("Input features kept")
        ax.set_ylabel(_metric_axis_label(payload, key), fontsize=10)
        if key != "auc":
            ax.set_yscale("log")
        ax.set_xticks(budgets)
        ax.margins(x=0.2)
        plain_numbers(ax)
    axes[0][0].legend(fontsize=8, loc="lower right")
    label(axes[0][0], "mean over seeds, bars: seed spread")
    fig.tight_layout()
    performance = _png(fig)
    return {"inputs_performance.png": performance, "inputs_ranking.png": _ranking_figure(payload)}


def _ranking_figure(payload: Payload) -> bytes:
    """Which features each seed selected (AutoPruner, both layouts) at the smallest budget,
    features ordered by AutoPruner's ranking; two side-by-side panels keep it short."""
    token = f"in{min(payload['budgets'])}"
    selections = payload["selections"][token]
    ranking = payload["rankings"][token].get("autopruner") or payload["features"]
    columns: list[tuple[str, list[str]]] = []
    for key, tag in (("autopruner", "A"), ("autopruner_alt", "B")):
        for i, (_model, selected) in enumerate(selections.get(key, {}).items()):
            columns.append((f"{tag}{i}", selected))
    if not columns:
        first = next(iter(selections))
        columns = [(m, s) for m, s in selections[first].items()]
    half = (len(ranking) + 1) // 2
    halves = [ranking[:half], ranking[half:]]
    style()
    fig, axes = plt.subplots(1, 2, figsize=(3.0 + 0.5 * len(columns) * 2, MAX_HEIGHT_INCHES - 0.1))
    cmap = ListedColormap(["#F0F0F0", "#D55E00"])
    norm = BoundaryNorm([-0.5, 0.5, 1.5], cmap.N)
    for ax, features in zip(axes, halves, strict=True):
        matrix = (
            np.array([[1.0 if f in sel else 0.0 for _, sel in columns] for f in features])
            if features
            else np.zeros((1, len(columns)))
        )
        ax.imshow(matrix, aspect="auto", cmap=cmap, norm=norm)
        ax.set_xticks(range(len(columns)), [c for c, _ in columns], fontsize=8)
        ax.set_yticks(range(len(features)), features, fontsize=7)
        ax.tick_params(which="both", length=0)
        ax.set_xlabel("layout, seed", fontsize=9)
    layouts = payload["layouts"]
    legend = [
        Patch(color="#D55E00", label="selected"),
        Patch(color="#F0F0F0", label="not selected"),
    ]
    fig.legend(
        handles=legend,
        loc="upper right",
        ncol=2,
        fontsize=8,
        frameon=False,
        bbox_to_anchor=(0.99, 0.995),
    )
    text = "; ".join(f"{tag} = {'-'.join(map(str, layout))}" for tag, layout in layouts.items())
    fig.suptitle(
        f"AutoPruner, {token[2:]} features kept; rows ranked by the gate logits at the commit."
        f"\nLayouts: {text}",
        fontsize=8,
        x=0.02,
        y=0.995,
        ha="left",
    )
    fig.subplots_adjust(left=0.2, right=0.98, top=0.9, bottom=0.08, wspace=0.9)
    return _png(fig)


# --- hidden -------------------------------------------------------------------------------------


def draw_hidden(payload: Payload) -> Files:
    files: Files = {}
    shown = payload["shown"]
    layers = len(payload["hidden_layout"])
    colours = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
    style()
    rows = max(len(payload["gates"]), 1)
    fig, axes = plt.subplots(
        rows,
        layers,
        figsize=(3.0 * layers, min(2.7 * rows + 0.6, MAX_HEIGHT_INCHES)),
        sharex="row",
        sharey=True,
        squeeze=False,
    )
    if not payload["gates"]:
        _note(axes[0][0], "AutoPruner not among ml.methods")
    for row, (token, entry) in enumerate(payload["gates"].items()):
        steps = np.array(entry["steps"])
        for layer in range(layers):
            ax = axes[row][layer]
            values = np.array([g[layer] for g in entry["values"]])
            ax.plot(steps, values, color=colours[layer % len(colours)], lw=0.5, alpha=0.6)
            for s in entry["pruning_step_starts"]:
                ax.axvline(s, color="grey", lw=0.6, ls=":")
            ax.axvline(entry["commit_step"], color="black", lw=0.9, ls="--")
            ax.axvline(entry["snap_step"], color="#D55E00", lw=0.9, ls="-")
            kept = int((values[-1] > 0).sum())
            ax.set_title(
                f"{payload['setting_labels'][token]}, layer {layer + 1}: "
                f"{kept}/{values.shape[1]} kept",
                fontsize=8,
            )
            ax.set_ylim(-0.05, 1.05)
            ax.tick_params(labelsize=7)
            if row == rows - 1:
                ax.set_xlabel("Optimiser step", fontsize=9)
            if layer == 0:
                ax.set_ylabel(r"gate $\sigma(w_i)$", fontsize=9)
            plain_numbers(ax)
    fig.suptitle(
        "AutoPruner hidden gates; dotted: pruning steps start, "
        "dashed: commit (polarisation on), solid: snap",
        fontsize=9,
    )
    fig.subplots_adjust(left=0.07, right=0.99, top=0.92, bottom=0.1, wspace=0.08, hspace=0.25)
    files["hidden_gates.png"] = _png(fig)

    style()
    n = max(len(shown), 1)
    fig, axes = plt.subplots(1, n, figsize=(6.5 * n, 5.2), squeeze=False, sharey=True)
    for ax, token in zip(axes[0], shown, strict=False):
        unpruned = payload["loss"]["unpruned"]
        ax.plot(unpruned["epoch"], unpruned["loss"], color="black", lw=1.0, label="unpruned")
        for method, trace in payload["loss"][token].items():
            st = family_style(method)
            ax.plot(
                trace["epoch"],
                trace["loss"],
                color=st.colour,
                ls=st.linestyle,
                lw=1.0,
                label=family_label(method),
            )
        ax.set_xlabel("Training jets seen [epochs of the training split]", fontsize=9)
        ax.set_ylabel("Classifier loss (training, weighted BCE)", fontsize=9)
        _panel_title(ax, payload["setting_labels"][token])
        plain_numbers(ax)
    axes[0][0].legend(fontsize=8)
    label(axes[0][0], "seed 0; every training a method runs, end to end")
    fig.tight_layout()
    files["hidden_loss.png"] = _png(fig)

    allocation = payload["allocation"]
    tokens = list(allocation)
    methods = payload["methods"]
    style()
    fig, axes = plt.subplots(
        1,
        max(len(tokens), 1),
        figsize=(max(5.0 * len(tokens), 6.0), 5.2),
        squeeze=False,
        sharey=True,
    )
    for ax, token in zip(axes[0], tokens, strict=False):
        width = 0.8 / max(len(methods), 1)
        x = np.arange(layers)
        for i, method in enumerate(methods):
            st = family_style(method)
            entry = allocation[token][method]
            ax.bar(
                x + (i - (len(methods) - 1) / 2) * width,
                entry["mean"],
                width,
                yerr=entry["seed_spread"],
                color=st.colour,
                capsize=2,
                label=family_label(method),
            )
        ax.axhline(payload["hidden_layout"][0], color="black", lw=0.8, ls="--")
        ax.set_xticks(x, [f"layer {i + 1}" for i in range(layers)], fontsize=9)
        _panel_title(ax, payload["setting_labels"][token])
        ax.set_ylabel("Nodes kept (mean over seeds, bars: spread)", fontsize=9)
        plain_numbers(ax)
    if tokens:
        axes[0][0].legend(fontsize=7)
        label(axes[0][0])
    fig.tight_layout()
    files["hidden_allocation.png"] = _png(fig)

    grid = np.array(payload["eps_s_grid"])
    labels = _method_labels(payload)
    panels = [(payload["setting_labels"][t], payload["roc"][t]) for t in shown]
    files["hidden_roc.png"] = _roc_figure(panels, grid, "unpruned", labels)
    return files


# --- retrain ------------------------------------------------------------------------------------


def draw_retrain(payload: Payload) -> Files:
    keys = [k for k in payload["metrics"] if k in ("auc", "rejection_50")] or payload["metrics"][:2]
    tokens = list(payload["settings"])
    style()
    fig, axes = plt.subplots(1, len(keys), figsize=(6.0 * len(keys), 5.2), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        for i, family in enumerate(("autopruner", "retrained")):
            st = family_style(family)
            xs, ys, lo, hi = [], [], [], []
            for t, token in enumerate(tokens):
                entry = payload["settings"][token][family]["vs_unpruned"][key]
                if entry["mean"] is None:
                    continue
                xs.append(t + (i - 0.5) * 0.25)
                ys.append(entry["mean"])
                lo.append(entry["mean"] - entry["ci_low"])
                hi.append(entry["ci_high"] - entry["mean"])
                seeds = [p["value"] for p in entry["per_seed"] if p["value"] is not None]
                ax.plot([xs[-1]] * len(seeds), seeds, ".", color=st.colour, ms=3, alpha=0.6)
            ax.errorbar(
                xs,
                ys,
                yerr=[lo, hi],
                fmt=st.marker,
                color=st.colour,
                capsize=3,
                ms=6,
                label=family_label(family),
            )
        ax.axhline(0.0, color="black", lw=0.8)
        ax.set_xticks(
            range(len(tokens)), [payload["settings"][t]["label"] for t in tokens], fontsize=9
        )
        ax.set_ylabel(_metric_axis_label(payload, key, "Δ ") + " vs unpruned", fontsize=10)
        plain_numbers(ax)
    axes[0][0].legend(fontsize=8, loc="lower left")
    label(axes[0][0], f"paired, {payload['confidence_level']:.0%} CI; dots: seeds")
    fig.tight_layout()
    grid = np.array(payload["eps_s_grid"])
    labels = _method_labels(payload)
    panels = [(payload["settings"][t]["label"], payload["roc"][t]) for t in payload["roc"]]
    return {
        "retrain_auc.png": _png(fig),
        "retrain_roc.png": _roc_figure(panels, grid, "unpruned", labels),
    }


# --- stability ----------------------------------------------------------------------------------


def draw_stability(payload: Payload) -> Files:
    files: Files = {}
    entries = payload["autopruner"]
    tokens = list(entries)
    style()
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(tokens) + 2), 5.0))
    for i, token in enumerate(tokens):
        summary = entries[token]["metrics"]["auc"]
        values = _none_to_nan(summary["values"])
        ax.plot(
            np.full(values.size, i) + np.linspace(-0.12, 0.12, values.size),
            values,
            "o",
            ms=4,
            color="#D55E00",
            alpha=0.7,
        )
        boot = entries[token]["bootstrap_uncertainty_mean"]["auc"]
        ax.errorbar(
            i + 0.3,
            summary["mean"],
            yerr=summary["seed_spread"] or 0.0,
            fmt="s",
            color="black",
            capsize=3,
        )
        ax.errorbar(i + 0.42, summary["mean"], yerr=boot, fmt="none", ecolor="grey", capsize=3)
    ref = payload["unpruned"]["auc"]
    if ref["mean"] is not None:
        ax.axhline(ref["mean"], color="black", lw=0.8, ls="--", label="unpruned (seed mean)")
        ax.legend(fontsize=9, loc="lower right")
    ax.set_xticks(
        range(len(tokens)),
        [entries[t]["label"] for t in tokens],
        rotation=20,
        ha="right",
        fontsize=9,
    )
    ax.set_ylabel("ROC AUC (test)")
    label(ax, "AutoPruner; dots: seeds; black: mean ± seed spread; grey: bootstrap")
    fig.tight_layout()
    files["stability_auc.png"] = _png(fig)

    allocation = payload["allocation"]
    layers = len(payload["hidden_layout"])
    style()
    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    width = 0.8 / max(len(allocation), 1)
    for i, (token, entry) in enumerate(allocation.items()):
        x = np.arange(layers) + (i - (len(allocation) - 1) / 2) * width
        ax.bar(
            x,
            entry["mean"],
            width,
            yerr=entry["seed_spread"],
            capsize=2,
            color=["#D55E00", "#E69F00", "#F0E442", "#CC79A7"][i % 4],
            label=token.replace("h", "") + " % of hidden nodes",
        )
        for s, values in enumerate(entry["values"]):
            ax.plot(x + (s - 1) * 0.03, values, ".", color="black", ms=3)
    ax.set_xticks(range(layers), [f"layer {i + 1}" for i in range(layers)])
    ax.set_ylabel(f"Nodes kept (mean ± spread over {payload['seeds']} seeds)")
    if allocation:
        ax.legend(fontsize=9)
    label(ax, "AutoPruner; dots: single seeds")
    fig.tight_layout()
    files["stability_allocation.png"] = _png(fig)

    features = payload["features"]
    frequency = payload["selection_frequency"]
    columns = list(frequency)
    matrix = (
        np.array([[frequency[c][f] for c in columns] for f in features])
        if columns
        else np.zeros((len(features), 1))
    )
    order = np.argsort(-matrix.sum(axis=1), kind="stable")
    seeds = payload["seeds"]
    levels = np.arange(seeds + 1) / seeds
    cmap = plt.get_cmap("Blues", seeds + 1)
    norm = BoundaryNorm(np.r_[levels - 0.5 / seeds, 1.0 + 0.5 / seeds], cmap.N)
    half = (len(features) + 1) // 2
    style()
    fig, axes = plt.subplots(
        1, 2, figsize=(max(8.0, 5.0 + 1.2 * max(len(columns), 1) * 2), MAX_HEIGHT_INCHES - 0.1)
    )
    image = None
    for ax, rows in zip(axes, (order[:half], order[half:]), strict=True):
        image = ax.imshow(
            matrix[rows] if len(rows) else np.zeros((1, matrix.shape[1])),
            aspect="auto",
            cmap=cmap,
            norm=norm,
        )
        ax.set_xticks(range(len(columns)), [c.replace("in", "k = ") for c in columns], fontsize=8)
        ax.set_yticks(range(len(rows)), [features[i] for i in rows], fontsize=7)
        ax.tick_params(which="both", length=0)
    assert image is not None
    bar = fig.colorbar(image, ax=list(axes), ticks=levels, fraction=0.05)
    bar.ax.set_yticklabels([f"{round(v * seeds)}/{seeds}" for v in levels], fontsize=8)
    bar.set_label("seeds selecting the feature", fontsize=9)
    fig.suptitle("AutoPruner input selection across seeds (main layout)", fontsize=9)
    fig.subplots_adjust(left=0.2, right=0.86, top=0.94, bottom=0.06, wspace=1.5)
    files["stability_features.png"] = _png(fig)

    layouts = payload["layouts"]
    style()
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.0), squeeze=False)
    if not layouts:
        for ax in axes[0]:
            _note(ax, "no alternative layout (ml.alt_hidden_layout is null)")
    for ax, (measure, title) in zip(
        axes[0],
        (
            ("ranking_spearman", "Spearman ρ of the gate-logit ranking"),
            ("selection_jaccard", "Jaccard index of the selected sets"),
        ),
        strict=True,
    ):
        titles: list[str] = []
        for t, (token, entry) in enumerate(layouts.items()):
            result = entry[measure]
            within, across = result["within_layout"], result["across_layouts"]
            ax.plot(
                np.full(len(within), t - 0.15),
                within,
                "o",
                color="#0072B2",
                ms=5,
                label="same layout, other seed" if t == 0 else None,
            )
            ax.plot(
                np.full(len(across), t + 0.15),
                across,
                "s",
                color="#D55E00",
                ms=5,
                label="other layout" if t == 0 else None,
            )
            titles.append(
                f"k = {token[2:]}: p = {result['p_value']:.2f} "
                f"(smallest attainable {result['smallest_attainable_p']:.2f})"
            )
        ax.set_xticks(range(len(layouts)), [f"k = {t[2:]}" for t in layouts])
        ax.set_xlim(-0.6, max(len(layouts), 1) - 0.4)
        ax.set_ylabel(title, fontsize=10)
        plain_numbers(ax)
        if layouts:
            ax.legend(
                fontsize=8,
                loc="lower left",
                title="permutation test: " + "; ".join(titles),
                title_fontsize=8,
            )
    label(axes[0][0])
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    files["stability_layouts.png"] = _png(fig)
    return files


# --- summary ------------------------------------------------------------------------------------


def _format(entry: dict[str, Any], digits: int) -> str:
    if entry["mean"] is None:
        return "inf"
    spread = entry["seed_spread"]
    return (
        f"{entry['mean']:.{digits}f} ± {spread:.{digits}f}"
        if spread is not None
        else f"{entry['mean']:.{digits}f}"
    )


def _format_difference(entry: dict[str, Any], digits: int) -> str:
    if entry["mean"] is None or entry["ci_low"] is None:
        return "n/a"
    mark = " *" if entry["significant"] else ""
    return (
        f"{entry['mean']:+.{digits}f} "
        f"[{entry['ci_low']:+.{digits}f}, {entry['ci_high']:+.{digits}f}]{mark}"
    )


def summary_markdown(payload: Payload) -> str:
    keys = payload["metrics"]
    digits = {k: (4 if k == "auc" else 1) for k in keys}
    labels = payload["metric_labels"]
    sample = payload["sample"]
    lines = [
        "# ML summary: every method and budget (test split)",
        "",
        f"Test sample: {sample['n_jets']} jets ({sample['n_signal_jets']} signal, "
        f"{sample['n_background_jets']} background) from {sample['n_events']} events. "
        f"Values: mean ± spread over {payload['seeds']} seeds. Differences: method minus "
        f"unpruned, paired on the same test events, seed-averaged, with the "
        f"{payload['confidence_level']:.0%} interval (bootstrap over events "
        f"({payload['bootstrap_samples']} resamples) combined with the seed-to-seed standard "
        "error); * = the interval excludes zero.",
        "",
    ]
    header = [
        "budget",
        "method",
        *(labels[k] for k in keys),
        *(f"Δ {labels[k]}" for k in keys),
        "multiplications",
        "jet passes",
        "wall time [s]",
    ]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    unpruned = payload["unpruned"]
    lines.append(
        "| - | unpruned | "
        + " | ".join(_format(unpruned[k], digits[k]) for k in keys)
        + " | "
        + " | ".join("0" for _ in keys)
        + " | - | - | - |"
    )
    for token, entry in payload["settings"].items():
        for method, s in entry["methods"].items():
            cells = [entry["label"], payload["family_labels"].get(method, method)]
            cells += [_format(s["metrics"][k], digits[k]) for k in keys]
            cells += [_format_difference(s["vs_unpruned"][k], digits[k]) for k in keys]
            wall = payload["wall_time_s"].get(f"{token}/{method}")
            cells += [
                f"{s['multiplications']['mean']:.0f}",
                f"{s['cost']['jet_passes']['mean']:.3g}",
                "-" if wall is None else f"{wall:.1f}",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Cost to reach the unpruned AUC: methods whose AUC is at most {payload['auc_margin']:g} "
        "below the unpruned tagger's (lower end of the paired interval above "
        f"-{payload['auc_margin']:g}), per budget, cheapest first (mean jet passes):",
        "",
    ]
    for entry in payload["settings"].values():
        reaching = sorted(
            (s["cost"]["jet_passes"]["mean"], payload["family_labels"].get(m, m))
            for m, s in entry["methods"].items()
            if s["reaches_unpruned_auc"]
        )
        listed = ", ".join(f"{name} ({passes:.3g})" for passes, name in reaching) or "none"
        lines.append(f"- {entry['label']}: {listed}")
    record = json.dumps(payload["provenance"], sort_keys=True)
    lines += ["", f"<!-- provenance: {record} -->", ""]
    return "\n".join(lines)


def draw_summary(payload: Payload) -> Files:
    grid = np.array(payload["eps_s_grid"])
    labels = _method_labels(payload)
    panels = [(payload["settings"][t]["label"], payload["roc"][t]) for t in payload["roc"]]
    return {
        "summary.csv": payload["csv"].encode(),
        "summary.md": summary_markdown(payload).encode(),
        "roc_all.png": _roc_figure(panels, grid, "unpruned", labels),
    }


DRAW: dict[str, Callable[[Payload], Files]] = {
    "baseline": draw_baseline,
    "methods": draw_methods,
    "regularisation": draw_regularisation,
    "inputs": draw_inputs,
    "hidden": draw_hidden,
    "retrain": draw_retrain,
    "stability": draw_stability,
    "summary": draw_summary,
}
