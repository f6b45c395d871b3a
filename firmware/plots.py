"""Firmware figures (PNG, mplhep ATLAS style, "deeppp Simulation" label).

Cost plots compare every model at the one reference precision (``firmware.reference_precision``)
so that pruning, not the precision, moves the points. The x axis is the pruned fraction of
multiplications (sum of n_in x n_out) with respect to the unpruned network, the FPGA cost the
ml stage budgets in. Methods are told apart by marker and colour (legend); each point carries a
short budget label, placed where it overlaps no other label or marker. Every figure is at most
~650 px tall at the report's resolution; no axis uses an offset multiplier (it would run into
the experiment label).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from deeppp.contracts import MODEL_FAMILY_LABELS, parse_model_name
from deeppp.handoffs import FirmwareReport
from deeppp.metrics import weighted_roc
from deeppp.plotting import EPS_S_GRID, family_style, label, rejection_curve, save, style

#: Inches at the report's 110 dpi: 6 in = 660 px; figures stay at or below 5.8 in.
_HEIGHT = 5.4


def _family_styles(families: Sequence[str]) -> dict[str, tuple[str, str]]:
    """(marker, colour) per method: the styles every stage uses (``deeppp.plotting``)."""
    return {f: (family_style(f).marker, family_style(f).colour) for f in set(families)}


def short_label(model: str) -> str:
    """The budget part of a model name (the method is in the legend): ``30 %``, ``5 in``."""
    try:
        name = parse_model_name(model)
    except ValueError:
        return model
    if name.family == "unpruned":
        text = "unpruned"
    elif name.hidden_percent is not None:
        text = f"{name.hidden_percent} %"
    elif name.input_keep is not None:
        text = f"{name.input_keep} in" + (" alt" if name.alternative_layout else "")
    elif (multiplications := getattr(name, "multiplication_percent", None)) is not None:
        text = f"{multiplications} % mult."
    else:
        text = model
    return text + (f" s{name.replica}" if name.replica else "")


def _by_family(rows: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["family"], []).append(row)
    return groups


def _method_label(family: str) -> str:
    return MODEL_FAMILY_LABELS.get(family, family)


def place_labels(ax: Any, points: Sequence[tuple[float, float, str]], fontsize: float = 7) -> None:
    """Annotate each (x, y) with its text at the first nearby offset whose box overlaps no
    marker, no earlier label and stays inside the axes; a leader line marks far placements."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    to_display = ax.transData.transform
    frame = ax.get_window_extent(renderer)
    taken = []
    for x, y in to_display([(p[0], p[1]) for p in points]) if points else []:
        taken.append((x - 5, y - 5, x + 5, y + 5))
    near = [(4, 4), (4, -11), (-4, 4), (-4, -11), (0, 8), (0, -16), (7, -3), (-7, -3)]
    far = [(dx * r, dy * r) for r in (2.5, 4.0, 5.5) for dx, dy in near]
    for x, y, text in points:
        chosen = None
        for dx, dy in [*near, *far]:
            ha = "left" if dx > 0 else ("right" if dx < 0 else "center")
            annotation = ax.annotate(
                text,
                (x, y),
                xytext=(dx, dy),
                textcoords="offset points",
                fontsize=fontsize,
                ha=ha,
                arrowprops=(
                    {"arrowstyle": "-", "lw": 0.5, "color": "grey"} if (dx, dy) in far else None
                ),
            )
            box = annotation.get_window_extent(renderer)
            inside = (
                box.x0 >= frame.x0
                and box.x1 <= frame.x1
                and box.y0 >= frame.y0
                and box.y1 <= frame.y1
            )
            overlaps = any(
                box.x0 < x1 and box.x1 > x0 and box.y0 < y1 and box.y1 > y0
                for x0, y0, x1, y1 in taken
            )
            if inside and not overlaps:
                chosen = (box.x0, box.y0, box.x1, box.y1)
                break
            annotation.remove()
        if chosen is None:  # crowded: the nearest placement, overlapping
            annotation = ax.annotate(
                text, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=fontsize
            )
            box = annotation.get_window_extent(renderer)
            chosen = (box.x0, box.y0, box.x1, box.y1)
        taken.append(chosen)


def _no_offset(ax: Any) -> None:
    formatter = ax.yaxis.get_major_formatter()
    if hasattr(formatter, "set_useOffset"):
        formatter.set_useOffset(False)
        formatter.set_scientific(False)


def _scatter_by_family(ax: Any, rows: Sequence[dict[str, Any]], column: str) -> None:
    styles = _family_styles([row["family"] for row in rows])
    for family, members in _by_family(rows).items():
        members = [r for r in members if r[column] is not None]
        if not members:
            continue
        marker, colour = styles[family]
        ax.scatter(
            [r["pruned_fraction"] for r in members],
            [r[column] for r in members],
            marker=marker,
            color=colour,
            s=60 if marker == "*" else 30,
            label=_method_label(family),
            zorder=3,
        )


def resources_vs_pruning(path: str | os.PathLike[str], rows: Sequence[dict[str, Any]]) -> None:
    """LUTs and flip-flops of every model at the reference precision vs pruned fraction."""
    style()
    fig, axes = plt.subplots(1, 2, figsize=(11.5, _HEIGHT))
    precision = rows[0]["reference_precision"]
    for ax, column, name in ((axes[0], "lut", "LUTs"), (axes[1], "ff", "Flip-flops")):
        _scatter_by_family(ax, rows, column)
        values = [r[column] for r in rows if r[column] is not None]
        tools = sorted({r[f"{column}_tool"] for r in rows if r[column] is not None})
        ax.set_yscale("log")
        if values:
            ax.set_ylim(min(values) / 2.5, max(values) * 6)
        ax.set_xlim(-0.05, 1.05)
        ax.set_xlabel("Pruned fraction of multiplications")
        ax.set_ylabel(f"{name} ({', '.join(tools)})")
        label(ax, f"every model at {precision}")
        place_labels(
            ax,
            [
                (r["pruned_fraction"], r[column], short_label(r["model"]))
                for r in rows
                if r[column] is not None
            ],
        )
    axes[0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    save(fig, path)


def latency_vs_pruning(path: str | os.PathLike[str], rows: Sequence[dict[str, Any]]) -> None:
    """Pipeline depth and longest register-to-register path at the reference precision."""
    style()
    fig, axes = plt.subplots(1, 2, figsize=(11.5, _HEIGHT))
    precision = rows[0]["reference_precision"]
    unpruned = next((r for r in rows if r["family"] == "unpruned"), None)
    panels = (
        (axes[0], "latency_cycles", "Latency [clock cycles]"),
        (axes[1], "longest_path_cells", "Longest path [cells]"),
    )
    for ax, column, ylabel in panels:
        _scatter_by_family(ax, rows, column)
        values = [r[column] for r in rows if r[column] is not None]
        ax.set_ylim(0, 1.45 * max(values) if values else 1.0)
        ax.set_xlim(-0.05, 1.05)
        ax.yaxis.get_major_locator().set_params(integer=True)
        if unpruned is not None and unpruned[column] is not None:
            ax.axhline(unpruned[column], color="grey", ls=":", lw=1.0, zorder=1)
        ax.set_xlabel("Pruned fraction of multiplications")
        ax.set_ylabel(ylabel)
        place_labels(
            ax,
            [
                (r["pruned_fraction"], r[column], short_label(r["model"]))
                for r in rows
                if r[column] is not None
            ],
        )
        _no_offset(ax)
    label(axes[0], f"every model at {precision}; dotted: unpruned")
    label(axes[1], "LUT + carry cells between registers (Yosys)")
    if not any(r["longest_path_cells"] is not None for r in rows):
        axes[1].text(0.5, 0.5, "Yosys did not run", transform=axes[1].transAxes, ha="center")
    period = next(
        (r["latency_ns"] / r["latency_cycles"] for r in rows if r["latency_cycles"]), None
    )
    if period is not None:
        secondary = axes[0].twinx()
        low, high = axes[0].get_ylim()
        secondary.set_ylim(low * period, high * period)
        secondary.set_ylabel(f"Latency [ns], {period:g} ns clock (not verified)", fontsize=11)
    axes[0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    save(fig, path)


def roc_float_vs_firmware(
    path: str | os.PathLike[str],
    scores: Mapping[str, Mapping[str, np.ndarray]],
    precision: str,
) -> None:
    """Rejection vs signal efficiency: float (solid), firmware at the reference precision
    (dashed); lower panel firmware / float."""
    style()
    fig, (ax, ratio) = plt.subplots(
        2,
        1,
        figsize=(7.5, _HEIGHT + 0.4),
        sharex=True,
        gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05},
    )
    colours = plt.get_cmap("tab10")
    for i, (model, s) in enumerate(scores.items()):
        colour = colours(i % 10)
        curves = {}
        for kind, ls in (("float", "-"), ("firmware", "--")):
            eps_s, eps_b = weighted_roc(s["label"], s[kind], s["weight"])
            curves[kind] = rejection_curve(eps_s, eps_b)
            ax.plot(EPS_S_GRID, curves[kind], ls, color=colour, lw=1.4, label=f"{model} ({kind})")
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio.plot(EPS_S_GRID, curves["firmware"] / curves["float"], "-", color=colour, lw=1.2)
    ax.set_yscale("log")
    ax.set_ylabel(r"Background rejection $1/\varepsilon_B$")
    ax.legend(fontsize=7, loc="upper right", ncol=2)
    label(ax, f"firmware = bit-accurate {precision}")
    ratio.axhline(1.0, color="grey", lw=0.8)
    ratio.set_ylabel("firmware / float", fontsize=10)
    ratio.set_xlabel(r"Signal efficiency $\varepsilon_S$")
    ratio.set_xlim(EPS_S_GRID[0], 1.0)
    _no_offset(ratio)
    save(fig, path)


def precision_scan(path: str | os.PathLike[str], reports: Sequence[FirmwareReport]) -> None:
    """AUC loss (validation jets, best I per W) vs total bits W, one curve per model; the
    error bars reach the paired-bootstrap upper bound; open circle: the chosen W."""
    style()
    scanned = [r for r in reports if r.precision_scan.mode == "scan" and r.precision_scan.points]
    fig, ax = plt.subplots(figsize=(11.0, _HEIGHT))
    families = _family_styles([_family(r.model) for r in scanned])
    colours = plt.get_cmap("tab20")
    dashes = itertools.cycle(["-", "--", "-.", ":"])
    for i, report in enumerate(scanned):
        scan = report.precision_scan
        best: dict[int, Any] = {}
        for point in scan.points:
            w = point.total_bits
            if w not in best or point.loss_upper < best[w].loss_upper:
                best[w] = point
        widths = sorted(best)
        loss = np.array([best[w].loss for w in widths]) * 1e3
        upper = np.array([best[w].loss_upper for w in widths]) * 1e3
        colour = colours(i % 20)
        marker = families[_family(report.model)][0]
        ax.errorbar(
            widths,
            loss,
            yerr=[np.zeros_like(loss), np.maximum(upper - loss, 0.0)],
            color=colour,
            marker=marker,
            ms=4,
            lw=1.1,
            ls=next(dashes),
            capsize=2,
            label=report.model,
        )
        chosen = scan.total_bits
        if chosen in best:
            ax.plot(
                [chosen], [best[chosen].loss * 1e3], "o", color=colour, ms=11, mfc="none", mew=1.4
            )
    tolerances = sorted({r.precision_scan.tolerance for r in scanned})
    for tol in tolerances:
        ax.axhline(tol * 1e3, color="grey", ls=":", lw=1.0)
    ax.set_xlabel("Total bits W of ap_fixed<W,I> (best I per W)")
    ax.set_ylabel(r"AUC loss vs float [$10^{-3}$]")
    all_widths = [p.total_bits for r in scanned for p in r.precision_scan.points]
    if all_widths:
        ax.set_xlim(min(all_widths) - 0.5, max(all_widths) + 0.5)
    low, high = ax.get_ylim()
    ax.set_ylim(max(low, -5.0), min(max(high, 4.0 * max(tolerances, default=0.002) * 1e3), 40.0))
    _no_offset(ax)
    if scanned:
        ax.legend(fontsize=7, ncol=1, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    label(ax, "validation jets; bar: 95 % upper bound; circle: chosen W; dotted: tolerance")
    fig.tight_layout()
    save(fig, path)


def _family(model: str) -> str:
    try:
        return parse_model_name(model).family
    except ValueError:
        return "other"
