"""Plotting shared by every stage: mplhep's ATLAS style, the "deeppp Simulation" label, atomic
PNG writing, and the ROC-curve helpers (rejection vs signal efficiency) of ml and firmware.

The ATLAS *style* (fonts, ticks) is what the users of this benchmark read every day; the ATLAS
*label* is reserved for the collaboration's own results, so our plots say "deeppp" instead.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt
import mplhep
import numpy as np

from deeppp.atomic import atomic_path

EXPERIMENT = "deeppp"


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


def label(ax: Any, extra: str | None = None) -> None:
    """The project's "deeppp Simulation" label plus an optional note below it."""
    experiment_label(ax, rlabel="", fontsize=13)
    if extra:
        ax.text(0.03, 0.90, extra, transform=ax.transAxes, fontsize=10, va="top")


def save(fig: Any, path: str | os.PathLike[str]) -> None:
    """Write ``fig`` as PNG atomically, without the software stamp (same plot, same bytes)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png", metadata={"Software": None})
    plt.close(fig)


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
