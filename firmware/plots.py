"""Firmware figures (PNG, mplhep ATLAS style, "Simulation" label), drawn with the ml helpers.

x axis of the cost plots: the pruned fraction of multiplications (sum of n_in x n_out) with
respect to the unpruned network, the FPGA cost measure the ml stage budgets in; each point is
labelled with its model name and chosen precision <W,I> (each model is built at its own precision)
so node budgets (AutoPruner 30/50/70 %) stay identifiable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from deeppp.contracts import MODEL_FAMILY_LABELS
from deeppp.metrics import weighted_roc
from deeppp.plotting import EPS_S_GRID, label, rejection_curve, save, style

_MARKERS = {
    "unpruned": "*",
    "autopruner": "o",
    "retrained": "s",
    "ptr": "^",
    "autopruner_in": "D",
    "other": "P",
}


def _by_family(rows: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["family"], []).append(row)
    return groups


def _annotate(ax: Any, rows: Sequence[dict[str, Any]], column: str) -> None:
    for row in rows:
        if row[column] is not None:
            ax.annotate(
                f"{row['model']} {row['precision'].removeprefix('ap_fixed')}",
                (row["pruned_fraction"], row[column]),
                fontsize=6,
                xytext=(3, 3),
                textcoords="offset points",
            )


def resources_vs_pruning(path: str | os.PathLike[str], rows: Sequence[dict[str, Any]]) -> None:
    """LUTs of the RTL design: da4ml estimate for every model, Yosys where it ran."""
    style()
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    for family, members in _by_family(rows).items():
        x = [r["pruned_fraction"] for r in members]
        ax.scatter(
            x,
            [r["lut_da4ml_estimate"] for r in members],
            marker=_MARKERS.get(family, "P"),
            label=f"{MODEL_FAMILY_LABELS.get(family, family)} (da4ml estimate)",
        )
        with_yosys = [r for r in members if r["lut_yosys"] is not None]
        if with_yosys:
            ax.scatter(
                [r["pruned_fraction"] for r in with_yosys],
                [r["lut_yosys"] for r in with_yosys],
                marker=_MARKERS.get(family, "P"),
                facecolors="none",
                edgecolors="k",
                label=f"{MODEL_FAMILY_LABELS.get(family, family)} (Yosys)",
            )
    _annotate(ax, rows, "lut_da4ml_estimate")
    ax.set_yscale("log")
    luts = [r[c] for r in rows for c in ("lut_da4ml_estimate", "lut_yosys") if r[c]]
    if luts:  # room for the labels above the largest design
        ax.set_ylim(min(luts) / 3, max(luts) * 10)
    ax.set_xlim(-0.05, 1.05)
    ax.set_xlabel("Pruned fraction of multiplications")
    ax.set_ylabel("LUTs (da4ml RTL)")
    ax.legend(fontsize=8, loc="lower left")
    label(ax, "da4ml Verilog, bit-accurate fixed point")
    fig.tight_layout()
    save(fig, path)


def latency_vs_pruning(path: str | os.PathLike[str], rows: Sequence[dict[str, Any]]) -> None:
    style()
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    for family, members in _by_family(rows).items():
        members = [r for r in members if r["latency_ns"] is not None]
        ax.scatter(
            [r["pruned_fraction"] for r in members],
            [r["latency_ns"] for r in members],
            marker=_MARKERS.get(family, "P"),
            label=MODEL_FAMILY_LABELS.get(family, family),
        )
    _annotate(ax, rows, "latency_ns")
    ax.set_xlabel("Pruned fraction of multiplications")
    ax.set_ylabel("Latency [ns] (stages x clock period)")
    latencies = [r["latency_ns"] for r in rows if r["latency_ns"] is not None]
    ax.set_ylim(0, 1.5 * max(latencies) if latencies else 1.0)
    ax.set_xlim(-0.05, 1.05)
    secondary = ax.twinx()
    periods = {r["latency_ns"] / r["latency_cycles"] for r in rows if r["latency_cycles"]}
    if len(periods) == 1:
        period = periods.pop()
        low, high = ax.get_ylim()
        secondary.set_ylim(low / period, high / period)
        secondary.set_ylabel("Latency [clock cycles]")
    else:
        secondary.set_axis_off()
    ax.legend(fontsize=8, loc="lower left")
    label(ax, "da4ml Verilog")
    fig.tight_layout()
    save(fig, path)


def roc_float_vs_firmware(
    path: str | os.PathLike[str], scores: Mapping[str, Mapping[str, np.ndarray]]
) -> None:
    """Rejection vs signal efficiency: float (solid) and firmware (dashed), ratio firmware/float."""
    style()
    fig, (ax, ratio) = plt.subplots(
        2, 1, figsize=(7, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05}
    )
    for i, (model, s) in enumerate(scores.items()):
        colour = f"C{i % 10}"
        curves = {}
        for kind, column, ls in (
            ("float", "logit_float", "-"),
            ("firmware", "logit_fixed_point", "--"),
        ):
            eps_s, eps_b = weighted_roc(s["label"], s[column], s["weight"])
            curves[kind] = rejection_curve(eps_s, eps_b)
            ax.plot(EPS_S_GRID, curves[kind], ls, color=colour, lw=1.5, label=f"{model} ({kind})")
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio.plot(EPS_S_GRID, curves["firmware"] / curves["float"], "-", color=colour, lw=1.3)
    ax.set_yscale("log")
    ax.set_ylabel(r"Background rejection $1/\varepsilon_B$")
    ax.legend(fontsize=8, loc="upper right", ncol=2)
    label(ax, "firmware = bit-accurate fixed point")
    ratio.axhline(1.0, color="grey", lw=0.8)
    ratio.set_ylabel("firmware / float", fontsize=10)
    ratio.set_xlabel(r"Signal efficiency $\varepsilon_S$")
    ratio.set_xlim(EPS_S_GRID[0], 1.0)
    save(fig, path)


def precision_scan(path: str | os.PathLike[str], reports: Sequence[dict[str, Any]]) -> None:
    """AUC(fixed) - AUC(float) versus total bits (best integer-bit choice per width)."""
    style()
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    drawn = 0
    for i, report in enumerate(reports):
        scan = report["precision"].get("scan")
        if not scan:
            continue
        auc_float = report["precision"]["auc_float"]
        widths = sorted({p["total_bits"] for p in scan})
        best = [max(p["auc"] for p in scan if p["total_bits"] == w) - auc_float for w in widths]
        ax.plot(widths, best, "o-", color=f"C{i % 10}", lw=1.2, ms=4, label=report["model"])
        chosen = report["precision"]["chosen"]["total_bits"]
        ax.plot([chosen], [best[widths.index(chosen)]], "o", color=f"C{i % 10}", ms=9, mfc="none")
        drawn += 1
    tolerances = {
        r["precision"].get("auc_tolerance") for r in reports if r["precision"].get("scan")
    }
    for tol in tolerances:
        if tol is not None:
            ax.axhline(-tol, color="grey", ls=":", lw=1.0)
    ax.set_xlabel("Total bits W of ap_fixed<W,I> (best I)")
    ax.set_ylabel("AUC(firmware) - AUC(float)")
    ax.set_ylim(bottom=max(ax.get_ylim()[0], -0.05))
    if drawn:
        ax.legend(fontsize=7, ncol=2, loc="lower right")
    label(ax, "open circle: chosen precision; dotted: tolerance")
    save(fig, path)
