"""Figures of the ml studies: mplhep ATLAS style, "deeppp Simulation" label, PNG written atomically
(the style and the ROC helpers shared with firmware live in :mod:`deeppp.plotting`).

ROC curves are drawn as background rejection 1/eps_B (log scale) versus signal efficiency eps_S,
with a ratio panel to a reference model, as in ATLAS flavour-tagging papers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from deeppp.plotting import label, save, style

LAYER_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def gates_vs_epoch(
    path: str | os.PathLike[str],
    panels: Sequence[tuple[str, list[int], list[list[list[float]]], list[float]]],
    n_layers: int,
) -> None:
    """One row per model, one column per hidden layer: every gate value versus epoch.

    ``panels``: (title, epochs, gates[epoch][layer][node], vertical markers at pruning steps/snap).
    """
    style()
    fig, axes = plt.subplots(
        len(panels),
        n_layers,
        figsize=(3.2 * n_layers, 2.6 * len(panels)),
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    for row, (title, epochs, gates, markers) in enumerate(panels):
        for layer in range(n_layers):
            ax = axes[row][layer]
            values = np.array([g[layer] for g in gates])  # [epoch, node]
            ax.plot(
                epochs, values, color=LAYER_COLOURS[layer % len(LAYER_COLOURS)], lw=0.5, alpha=0.6
            )
            for m in markers:
                ax.axvline(m, color="grey", lw=0.6, ls=":")
            kept = int((values[-1] > 0).sum())
            ax.text(
                0.97,
                0.95,
                f"{title}\nlayer {layer + 1}: {kept}/{values.shape[1]} kept",
                transform=ax.transAxes,
                ha="right",
                va="top",
                fontsize=8,
            )
            ax.set_ylim(-0.05, 1.05)
            if row == len(panels) - 1:
                ax.set_xlabel("Epoch", fontsize=10)
            if layer == 0:
                ax.set_ylabel(r"gate $\sigma(w_i)$", fontsize=10)
            ax.tick_params(labelsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    label(axes[0][0])
    save(fig, path)


LAYER_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def loss_curves(
    path: str | os.PathLike[str],
    traces: Sequence[tuple[str, list[tuple[float, float]], list[float], float | None]],
    ylabel: str = "Classifier loss (training, weighted BCE)",
) -> None:
    """``traces``: (legend, [(epoch, loss)], pruning-step epochs, snap epoch)."""
    style()
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for i, (name, trace, steps, snap) in enumerate(traces):
        colour = f"C{i}"
        x, y = zip(*trace, strict=True) if trace else ((), ())
        ax.plot(x, y, color=colour, lw=1.2, label=name)
        for s in steps:
            ax.axvline(s, color=colour, lw=0.6, ls=":")
        if snap is not None:
            ax.axvline(snap, color=colour, lw=1.0, ls="--")
    ax.set_xlabel("Epoch")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=9, title="dotted: pruning steps, dashed: snap", title_fontsize=8)
    label(ax)
    save(fig, path)


def grouped_bars(
    path: str | os.PathLike[str],
    groups: Sequence[str],
    series: Sequence[tuple[str, Sequence[float], Sequence[float] | None]],
    ylabel: str,
    xlabel: str,
    reference: float | None = None,
) -> None:
    """Bars per group for several series (with optional error bars)."""
    style()
    fig, ax = plt.subplots(figsize=(8, 5.5))
    n = max(len(series), 1)
    width = 0.8 / n
    x = np.arange(len(groups))
    for i, (name, values, errors) in enumerate(series):
        ax.bar(x + (i - (n - 1) / 2) * width, values, width, yerr=errors, label=name, capsize=2)
    if reference is not None:
        ax.axhline(reference, color="black", lw=0.8, ls="--")
    ax.set_xticks(x, list(groups), fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=9)
    label(ax)
    save(fig, path)


def points_with_errors(
    path: str | os.PathLike[str],
    series: Sequence[tuple[str, Sequence[float], Sequence[float], Sequence[float] | None]],
    xlabel: str,
    ylabel: str,
    reference: tuple[str, float, float | None] | None = None,
    second: tuple[str, Sequence[tuple[str, Sequence[float], Sequence[float]]]] | None = None,
    logy_second: bool = False,
) -> None:
    """Markers with error bars per series; optional horizontal reference band and a second
    panel (e.g. training cost) sharing the x axis."""
    style()
    if second is None:
        fig, ax = plt.subplots(figsize=(8, 5.5))
        axes = [ax]
    else:
        fig, axes = plt.subplots(2, 1, figsize=(8, 8), sharex=True, gridspec_kw={"hspace": 0.08})
    ax = axes[0]
    for i, (name, x, y, err) in enumerate(series):
        ax.errorbar(x, y, yerr=err, fmt="os^vD"[i % 5] + "-", label=name, capsize=3, lw=1, ms=5)
    if reference is not None:
        ref_name, ref_value, ref_err = reference
        ax.axhline(ref_value, color="black", lw=0.8, ls="--", label=ref_name)
        if ref_err:
            ax.axhspan(ref_value - ref_err, ref_value + ref_err, color="grey", alpha=0.2)
    ax.set_ylabel(ylabel)
    ax.margins(x=0.08)
    ax.legend(fontsize=9)
    label(ax)
    if second is not None:
        ylabel2, series2 = second
        for i, (name, x, y) in enumerate(series2):
            axes[1].plot(x, y, "os^vD"[i % 5] + "-", label=name, lw=1, ms=5)
        axes[1].set_ylabel(ylabel2)
        if logy_second:
            axes[1].set_yscale("log")
        axes[1].legend(fontsize=9)
    for axis in axes:
        axis.margins(x=0.08)
    axes[-1].set_xlabel(xlabel)
    save(fig, path)


def selection_matrix(
    path: str | os.PathLike[str],
    features: Sequence[str],
    columns: Sequence[str],
    matrix: np.ndarray,
    colour_label: str,
) -> None:
    """Heat map: features (rows, ranked) versus settings (columns)."""
    style()
    fig, ax = plt.subplots(figsize=(2.2 + 0.9 * len(columns), 2.0 + 0.22 * len(features)))
    image = ax.imshow(matrix, aspect="auto", cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(columns)), list(columns), rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(features)), list(features), fontsize=7)
    ax.tick_params(which="minor", left=False, right=False, top=False, bottom=False)
    fig.colorbar(image, ax=ax, label=colour_label)
    label(ax)
    fig.tight_layout()
    save(fig, path)


def spread(
    path: str | os.PathLike[str],
    settings_labels: Sequence[str],
    values: Sequence[Sequence[float]],
    ylabel: str,
    reference: tuple[str, float] | None = None,
) -> None:
    """Seed-to-seed spread: every seed as a dot, mean +- standard deviation as an error bar."""
    style()
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(settings_labels) + 2), 5.5))
    for i, vals in enumerate(values):
        v = np.asarray(vals, dtype=float)
        ax.plot(
            np.full(v.size, i) + np.linspace(-0.12, 0.12, v.size),
            v,
            "o",
            ms=4,
            color="C0",
            alpha=0.7,
        )
        ax.errorbar(
            i + 0.3,
            v.mean(),
            yerr=v.std(ddof=1) if v.size > 1 else 0.0,
            fmt="s",
            color="C1",
            capsize=3,
        )
    if reference is not None:
        ax.axhline(reference[1], color="black", lw=0.8, ls="--", label=reference[0])
        ax.legend(fontsize=9)
    ax.set_xticks(
        range(len(settings_labels)), list(settings_labels), rotation=30, ha="right", fontsize=9
    )
    ax.set_ylabel(ylabel)
    label(ax, "dots: seeds; squares: mean $\\pm$ std. dev.")
    save(fig, path)
