"""Plotting shared by every stage: mplhep's ATLAS style, the "deeppp Simulation" label, atomic
PNG writing, and the ROC-curve helpers (rejection vs signal efficiency) of ml and firmware.

The ATLAS *style* (fonts, ticks) is what the users of this benchmark read every day; the ATLAS
*label* is reserved for the collaboration's own results, so our plots say "deeppp" instead.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt
import mplhep
import numpy as np
from matplotlib.ticker import ScalarFormatter

from deeppp.atomic import atomic_path
from deeppp.contracts import MODEL_FAMILY_LABELS, parse_model_name

EXPERIMENT = "deeppp"
#: Resolution of every saved PNG; with :data:`MAX_HEIGHT_INCHES` a figure stays within ~650 px
#: in height, so the report pane (1280 x 720) never clips its top.
DPI = 110
MAX_HEIGHT_INCHES = 5.9


@dataclass(frozen=True)
class Style:
    """How one model family is drawn everywhere (ml studies, firmware, report)."""

    colour: str
    marker: str
    linestyle: str | tuple[int, tuple[int, ...]]


#: One colour, marker and line style per model family (keys: ``deeppp.contracts``
#: ``MODEL_FAMILY_LABELS``), chosen to stay distinguishable with all of them in one plot
#: (colour-blind-safe Okabe-Ito colours; markers and dashes differ too, for greyscale print).
FAMILY_STYLES: dict[str, Style] = {
    "unpruned": Style("#000000", "*", "-"),
    "autopruner": Style("#D55E00", "o", "-"),
    "random": Style("#999999", "X", ":"),
    "oneshot": Style("#0072B2", "s", "--"),
    "gradual": Style("#009E73", "^", "-."),
    "ptr": Style("#E69F00", "v", (0, (6, 2))),
    "l0": Style("#CC79A7", "D", (0, (3, 1, 1, 1))),
    "retrained": Style("#56B4E9", "P", (0, (1, 1))),
}
_FALLBACK = ("#332288", "#117733", "#882255", "#44AA99", "#AA4499")


def family_style(family: str) -> Style:
    """The style of a model family (a method name, ``unpruned`` or ``retrained``)."""
    if family in FAMILY_STYLES:
        return FAMILY_STYLES[family]
    index = sum(map(ord, family)) % len(_FALLBACK)
    return Style(_FALLBACK[index], "h", "-")


def model_style(name: str) -> Style:
    """The style of a model by name (its family's); unknown names get a fallback."""
    try:
        return family_style(parse_model_name(name).family)
    except ValueError:
        return family_style(name)


def family_label(family: str) -> str:
    return MODEL_FAMILY_LABELS.get(family, family)


def use_style() -> None:
    plt.style.use(mplhep.style.ATLAS)


def experiment_label(
    ax: Any, text: str = "Simulation", rlabel: str = "√s = 14 TeV", **kwargs: Any
) -> None:
    """Put "deeppp Simulation" (bold/italic as ATLAS does) in the top-left corner of ``ax``."""
    kwargs.setdefault("loc", 0)
    mplhep.label.exp_label(exp=EXPERIMENT, text=text, rlabel=rlabel, ax=ax, data=True, **kwargs)


#: Signal-efficiency grid of the ROC plots (below 0.2 the rejection is statistics-limited).
EPS_S_GRID = np.linspace(0.2, 1.0, 161)


def style() -> None:
    use_style()


def plain_numbers(ax: Any) -> None:
    """No offset or multiplier text ("1e-2", "+9.5e-1") on linear axes: it collides with the
    label in the top-left corner and hides the scale; tick labels carry the full values."""
    for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
        if scale == "linear" and isinstance(axis.get_major_formatter(), ScalarFormatter):
            formatter = ScalarFormatter(useOffset=False)
            formatter.set_scientific(False)
            axis.set_major_formatter(formatter)


def label(ax: Any, extra: str | None = None) -> None:
    """The project's "deeppp Simulation" label plus an optional note below it."""
    plain_numbers(ax)
    experiment_label(ax, rlabel="", fontsize=13)
    if extra:
        ax.text(0.03, 0.90, extra, transform=ax.transAxes, fontsize=10, va="top")


def figure_bytes(fig: Any, max_height_inches: float | None = None) -> bytes:
    """PNG bytes of ``fig`` (then closed), without the software stamp (same plot, same bytes).

    ``max_height_inches``: refuse taller figures (e.g. :data:`MAX_HEIGHT_INCHES`, beyond which
    the report clips them)."""
    height = fig.get_size_inches()[1]
    if max_height_inches is not None and height > max_height_inches + 1e-9:
        plt.close(fig)
        raise ValueError(
            f"figure is {height:.2f} in tall ({height * DPI:.0f} px); at most "
            f"{max_height_inches} in ({max_height_inches * DPI:.0f} px): split it"
        )
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=DPI, format="png", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def save(fig: Any, path: str | os.PathLike[str]) -> None:
    """Write ``fig`` as PNG atomically (:func:`figure_bytes`)."""
    data = figure_bytes(fig)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def rejection_curve(eps_s: np.ndarray, eps_b: np.ndarray) -> np.ndarray:
    """1/eps_B on :data:`EPS_S_GRID` (nan where no background is left)."""
    eps_b_grid = np.interp(EPS_S_GRID, eps_s, eps_b)
    with np.errstate(divide="ignore"):
        rejection = np.where(
            eps_b_grid > 0, 1.0 / np.where(eps_b_grid > 0, eps_b_grid, 1.0), np.nan
        )
    return rejection


def roc_with_ratio(
    path: str | os.PathLike[str],
    curves: Sequence[tuple[str, np.ndarray]],
    reference: str,
    title: str | None = None,
) -> None:
    """``curves``: (legend, rejection on EPS_S_GRID); the ratio panel divides by ``reference``."""
    style()
    fig, (ax, ratio) = plt.subplots(
        2, 1, figsize=(7, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05}
    )
    ref = dict(curves)[reference]
    for i, (name, rejection) in enumerate(curves):
        ls = "-" if name == reference else ("--" if i % 2 else "-.")
        ax.plot(EPS_S_GRID, rejection, ls, label=name, lw=1.6)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio.plot(EPS_S_GRID, rejection / ref, ls, lw=1.4)
    ax.set_yscale("log")
    ax.set_ylim(bottom=1.0)
    ax.set_ylabel(r"Background rejection $1/\varepsilon_B$")
    ax.legend(fontsize=9, loc="upper right")
    label(ax, title)
    ratio.axhline(1.0, color="grey", lw=0.8)
    ratio.set_ylim(0.5, 2.0)
    ratio.set_ylabel(f"ratio to\n{reference}", fontsize=10)
    ratio.set_xlabel(r"Signal efficiency $\varepsilon_S$")
    ratio.set_xlim(EPS_S_GRID[0], 1.0)
    save(fig, path)
