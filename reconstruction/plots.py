"""Reconstruction plots (PNG, ATLAS style, "Simulation"): features, jet mass, track-jet tagging.

Inputs are the per-chunk features files (``jets`` tree and the ``track_jets`` diagnostics tree).
Distributions are normalised to unit area; the background is shown unweighted.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import awkward as ak
import matplotlib.pyplot as plt
import numpy as np

from deeppp.atomic import atomic_path
from deeppp.contracts import TRACK_JETS_TREE
from deeppp.plotting import experiment_label, use_style  # also selects the Agg backend
from deeppp.rootio import InputFileError, open_root
from reconstruction import features
from reconstruction.labels import FLAVOUR_B, FLAVOUR_C, FLAVOUR_LIGHT
from reconstruction.merge import read_features_file
from reconstruction.pipeline import describe_error

SIGNAL_STYLE = {"color": "tab:red", "label": r"$H\rightarrow b\bar{b}$ (signal)"}
BACKGROUND_STYLE = {"color": "tab:blue", "label": "QCD multijet"}
ENERGY_LABEL = "√s = 14 TeV, Pythia 8 + fast simulation"
COUNT_FEATURES = {"n_vr_track_jets"} | {
    f"trackjet{i}_{name}"
    for i in range(1, features.N_TRACK_JETS + 1)
    for name in ("n_tracks", "n_displaced")
}


def _label(ax: plt.Axes, extra: str = "") -> None:
    experiment_label(ax, rlabel="", fontsize=13)
    ax.text(
        0.04,
        0.88,
        ENERGY_LABEL + (f"\n{extra}" if extra else ""),
        transform=ax.transAxes,
        fontsize=9,
        va="top",
    )


def _save(fig: plt.Figure, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path


def _binning(values: Sequence[np.ndarray], integer: bool, n_bins: int = 40) -> np.ndarray:
    pooled = (
        np.concatenate([v for v in values if len(v)])
        if any(len(v) for v in values)
        else np.zeros(1)
    )
    if integer:
        lo, hi = np.floor(pooled.min()), np.ceil(np.percentile(pooled, 99.5))
        return np.arange(lo - 0.5, max(hi, lo + 1) + 1.5)
    lo, hi = np.percentile(pooled, [0.5, 99.5])
    if hi <= lo:
        hi = lo + 1.0
    return np.linspace(lo, hi, n_bins + 1)


def _normalised_step(ax: plt.Axes, values: np.ndarray, bins: np.ndarray, style: dict) -> None:
    if len(values) == 0:
        return
    counts, _ = np.histogram(np.clip(values, bins[0], bins[-1]), bins=bins)
    errors = np.sqrt(counts)
    norm = counts.sum() * np.diff(bins)
    ax.stairs(counts / norm, bins, linewidth=1.4, **style)
    centres = 0.5 * (bins[1:] + bins[:-1])
    ax.errorbar(
        centres,
        counts / norm,
        yerr=errors / norm,
        fmt="none",
        ecolor=style["color"],
        elinewidth=1.0,
    )


def _present(jets: dict[str, np.ndarray], name: str) -> np.ndarray:
    """Entries where a feature holds a measured value, not its 'missing' default."""
    feature = features.FEATURE_BY_NAME[name]
    if not name.startswith("trackjet"):
        return np.ones(len(jets[name]), dtype=bool)
    index = int(name[len("trackjet")])
    present = jets["n_vr_track_jets"] >= index
    if "_sd0_" in name:
        present &= jets[name] != feature.default
    return present


def plot_feature_grid(
    jets: dict[str, np.ndarray], names: Sequence[str], title: str, path: Path
) -> Path:
    n_cols = 4 if len(names) > 9 else 3
    n_rows = int(np.ceil(len(names) / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4.6 * n_cols, 3.9 * n_rows), squeeze=False)
    signal = jets["label"] == 1
    for ax, name in zip(axes.flat, names, strict=False):
        feature = features.FEATURE_BY_NAME[name]
        present = _present(jets, name)
        values = jets[name].astype(float)
        bins = _binning([values[present]], integer=name in COUNT_FEATURES)
        _normalised_step(ax, values[present & signal], bins, SIGNAL_STYLE)
        _normalised_step(ax, values[present & ~signal], bins, BACKGROUND_STYLE)
        ax.set_xlabel(f"{name}" + (f" [{feature.unit}]" if feature.unit else ""), fontsize=10)
        ax.set_ylabel("normalised", fontsize=10)
        ax.tick_params(labelsize=8)
        ax.ticklabel_format(axis="y", style="plain")  # no '1e-2' offset text over the labels
        missing_s = 1 - present[signal].mean() if signal.any() else 0.0
        missing_b = 1 - present[~signal].mean() if (~signal).any() else 0.0
        if missing_s > 0 or missing_b > 0:
            ax.text(
                0.97,
                0.97,
                f"missing: {100 * missing_s:.0f}% sig, {100 * missing_b:.0f}% bkg",
                transform=ax.transAxes,
                ha="right",
                va="top",
                fontsize=7,
            )
    for ax in axes.flat[len(names) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8, loc="center right")
    experiment_label(axes.flat[0], rlabel="", fontsize=10)
    fig.suptitle(
        f"{title}: signal vs background, normalised (missing values not shown); "
        "√s = 14 TeV, Pythia 8 + fast simulation",
        fontsize=12,
    )
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.07, top=0.93, wspace=0.3, hspace=0.35)
    return _save(fig, path)


def plot_trimmed_mass(jets: dict[str, np.ndarray], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 5.5))
    bins = np.arange(0, 255, 5.0)
    signal = jets["label"] == 1
    _normalised_step(ax, jets["fatjet_mass"][signal].astype(float), bins, SIGNAL_STYLE)
    _normalised_step(ax, jets["fatjet_mass"][~signal].astype(float), bins, BACKGROUND_STYLE)
    ax.axvline(125.0, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("large-R jet trimmed mass [GeV]")
    ax.set_ylabel("normalised / GeV")
    ax.legend(loc="upper right", fontsize=10)
    ax.set_ylim(0, ax.get_ylim()[1] * 1.35)
    _label(ax, "anti-$k_t$ R = 1.0, trimmed, $p_T$ > 250 GeV, |$\\eta$| < 2")
    return _save(fig, path)


def plot_n_track_jets(jets: dict[str, np.ndarray], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 5.5))
    bins = np.arange(-0.5, 9.5)
    signal = jets["label"] == 1
    _normalised_step(ax, jets["n_vr_track_jets"][signal].astype(float), bins, SIGNAL_STYLE)
    _normalised_step(ax, jets["n_vr_track_jets"][~signal].astype(float), bins, BACKGROUND_STYLE)
    ax.set_xlabel("number of associated VR track jets")
    ax.set_ylabel("normalised")
    ax.legend(loc="upper right", fontsize=10)
    ax.set_ylim(0, ax.get_ylim()[1] * 1.35)
    _label(ax, r"VR: $\rho$ = 30 GeV, $R \in$ [0.02, 0.4], $p_T$ > 7 GeV")
    return _save(fig, path)


FLAVOUR_STYLES = (
    (FLAVOUR_B, {"color": "tab:red", "label": "b-labelled track jets"}),
    (FLAVOUR_C, {"color": "tab:green", "label": "c-labelled track jets"}),
    (FLAVOUR_LIGHT, {"color": "tab:blue", "label": "light-labelled track jets"}),
)


def plot_sd0_by_flavour(track_jets: ak.Array, path: Path) -> Path:
    """Signed d0 significance of the b-tagging tracks of b-, c- and light-labelled track jets."""
    fig, ax = plt.subplots(figsize=(7, 5.5))
    bins = np.linspace(-20, 40, 61)
    for flavour, style in FLAVOUR_STYLES:
        tracks = track_jets.trk[track_jets.flavour == flavour]
        sd0 = ak.to_numpy(ak.flatten(tracks.sd0[tracks.btag == 1])).astype(float)
        _normalised_step(ax, sd0, bins, style)
    ax.set_yscale("log")
    ax.set_xlabel(r"track signed $d_0$ significance $S_{d_0}$")
    ax.set_ylabel("normalised")
    ax.legend(loc="upper right", fontsize=10)
    ax.set_ylim(1e-5, 30)
    _label(ax, "tracks of VR track jets in selected large-R jets")
    return _save(fig, path)


def plot_sv_mass_by_flavour(track_jets: ak.Array, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 5.5))
    bins = np.linspace(0, 8, 41)
    for flavour, style in FLAVOUR_STYLES:
        values = ak.to_numpy(track_jets.sv_mass[track_jets.flavour == flavour]).astype(float)
        _normalised_step(ax, values, bins, style)
    ax.set_yscale("log")
    ax.set_xlabel("secondary-vertex proxy mass [GeV] (0: fewer than two displaced tracks)")
    ax.set_ylabel("normalised / GeV")
    ax.legend(loc="upper right", fontsize=10)
    _label(ax, "VR track jets in selected large-R jets")
    return _save(fig, path)


def read_track_jets(path: str | os.PathLike[str]) -> ak.Array:
    with open_root(path) as f:
        if TRACK_JETS_TREE not in f:
            raise InputFileError(f"{path}: no tree '{TRACK_JETS_TREE}' (not a features file?)")
        try:
            arrays = f[TRACK_JETS_TREE].arrays(["flavour", "sv_mass", "trk_sd0", "trk_btag"])
        except Exception as err:
            raise InputFileError(
                f"{path}: cannot read tree '{TRACK_JETS_TREE}' ({describe_error(err)})"
            ) from err
    return ak.zip(
        {
            "flavour": arrays.flavour,
            "sv_mass": arrays.sv_mass,
            "trk": ak.zip({"sd0": arrays.trk_sd0, "btag": arrays.trk_btag}),
        },
        depth_limit=1,
    )


def make_plots(
    feature_files: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str]
) -> list[Path]:
    """All reconstruction plots from the given features files; returns the PNG paths."""
    out = Path(out_dir)
    loaded = [read_features_file(p)[0] for p in feature_files]
    jets = {k: np.concatenate([c[k] for c in loaded]) for k in loaded[0]}
    track_jets = ak.concatenate([read_track_jets(p) for p in feature_files])
    use_style()
    # Plain tick labels: mathtext tick labels cost most of the plotting time on a small machine.
    plt.rcParams["axes.formatter.use_mathtext"] = False
    try:
        written = [
            plot_feature_grid(
                jets,
                features.FEATURE_NAMES[:9],
                "large-R jet features",
                out / "features_fatjet.png",
            )
        ]
        for i in range(1, features.N_TRACK_JETS + 1):
            names = [n for n in features.FEATURE_NAMES if n.startswith(f"trackjet{i}_")]
            written.append(
                plot_feature_grid(
                    jets, names, f"VR track jet {i} features", out / f"features_trackjet{i}.png"
                )
            )
        written.append(plot_trimmed_mass(jets, out / "trimmed_mass.png"))
        written.append(plot_n_track_jets(jets, out / "n_vr_track_jets.png"))
        written.append(plot_sd0_by_flavour(track_jets, out / "trackjet_sd0_flavour.png"))
        written.append(plot_sv_mass_by_flavour(track_jets, out / "trackjet_sv_mass_flavour.png"))
    finally:
        plt.style.use("default")
    return written
