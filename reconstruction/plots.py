"""Reconstruction plots (PNG, ATLAS style, "deeppp Simulation"): features, jet mass, b-tagging.

Inputs are the per-chunk features files (``jets`` tree and the ``track_jets`` diagnostics tree).
Distributions are normalised to unit area and weighted with the generator's event weights (the
samples over-sample high pTHat); the background is not flattened. Every figure is sized for the
report (about 900 x 600 pixels): the 39 features come in groups of at most five panels.

The plots that state a result (trimmed-mass peak, b-tagging performance) also get their report
caption written here, with the numbers measured on the same jets
(``captions/{plot}.rst``, :data:`deeppp.contracts.RECONSTRUCTION_DATA_CAPTIONS`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import matplotlib.pyplot as plt
import mplhep
import numpy as np

from deeppp.atomic import write_json_atomic, write_text_atomic
from deeppp.contracts import BTAGGING_FILE, RECONSTRUCTION_DATA_CAPTIONS, TRACK_JETS_TREE
from deeppp.plotting import experiment_label, save, use_style  # also selects the Agg backend
from deeppp.provenance import provenance
from deeppp.rootio import InputFileError, open_root
from reconstruction import features
from reconstruction.calibration import mass_peak_gev
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
#: Features whose value 0 means "not formed" (fewer than two displaced tracks): a spike that
#: would flatten everything else, so it is quoted as a fraction and left out of the histogram.
ZERO_SPIKE_FEATURES = {
    f"trackjet{i}_{name}"
    for i in range(1, features.N_TRACK_JETS + 1)
    for name in ("sv_mass", "sv_energy_fraction")
}
#: Report-sized figures: about 900 x 600 pixels at the saving resolution (110 dpi).
FIGURE_SIZE = (8.2, 5.5)


def feature_groups() -> list[tuple[str, str, list[str]]]:
    """(plot stem, title, features) of every feature figure, in feature order."""
    groups = [
        (
            "features_fatjet_kinematics",
            "large-R jet kinematics",
            ["fatjet_pt", "fatjet_eta", "fatjet_mass", "n_vr_track_jets"],
        ),
        (
            "features_fatjet_substructure",
            "large-R jet substructure",
            ["fatjet_d2", "fatjet_c2", "fatjet_tau21", "fatjet_tau32", "fatjet_sqrt_d12"],
        ),
    ]
    for i in range(1, features.N_TRACK_JETS + 1):
        p = f"trackjet{i}_"
        groups += [
            (
                f"features_trackjet{i}_kinematics",
                f"VR track jet {i}: kinematics",
                [p + n for n in ("pt_fraction", "dr", "mass", "n_tracks")],
            ),
            (
                f"features_trackjet{i}_impact_parameters",
                f"VR track jet {i}: impact parameters",
                [p + n for n in ("sd0_1", "sd0_2", "sd0_3", "n_displaced")],
            ),
            (
                f"features_trackjet{i}_secondary_vertex",
                f"VR track jet {i}: secondary-vertex proxy",
                [p + n for n in ("sv_mass", "sv_energy_fraction")],
            ),
        ]
    return groups


def _label(ax: plt.Axes, extra: str = "", fontsize: int = 13) -> None:
    experiment_label(ax, rlabel="", fontsize=fontsize)
    ax.text(
        0.04,
        0.88,
        ENERGY_LABEL + (f"\n{extra}" if extra else ""),
        transform=ax.transAxes,
        fontsize=9,
        va="top",
    )


def _plain_axis(ax: plt.Axes) -> None:
    """No '1e-2' offset text above the axis, where it would run into the experiment label."""
    if ax.get_yscale() == "linear":
        ax.ticklabel_format(axis="y", style="plain", useOffset=False)


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


def _normalised_step(
    ax: plt.Axes,
    values: np.ndarray,
    bins: np.ndarray,
    style: dict,
    weights: np.ndarray | None = None,
) -> None:
    """Unit-area step histogram with (weighted) Poisson error bars (``mplhep.histplot``);
    entries outside the range go to the first or last bin, so every jet is counted."""
    if len(values) == 0:
        return
    w = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=float)
    clipped = np.clip(values, bins[0], bins[-1])
    counts, _ = np.histogram(clipped, bins=bins, weights=w)
    errors = np.sqrt(np.histogram(clipped, bins=bins, weights=w * w)[0])
    if counts.sum() <= 0:
        return
    norm = counts.sum() * np.diff(bins)
    mplhep.histplot(
        counts / norm, bins, yerr=errors / norm, histtype="step", ax=ax, linewidth=1.4, **style
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


def _weighted_fraction(mask: np.ndarray, weights: np.ndarray) -> float:
    total = float(weights.sum())
    return float(weights[mask].sum()) / total if total > 0 else 0.0


def plot_feature_group(
    jets: dict[str, np.ndarray], names: Sequence[str], title: str, path: Path
) -> Path:
    n_cols = 2 if len(names) <= 4 else 3
    n_rows = int(np.ceil(len(names) / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=FIGURE_SIZE, squeeze=False)
    signal = jets["label"] == 1
    weights = jets["weight"].astype(float)
    for ax, name in zip(axes.flat, names, strict=False):
        feature = features.FEATURE_BY_NAME[name]
        present = _present(jets, name)
        values = jets[name].astype(float)
        notes = []
        for mask, who in ((signal, "sig"), (~signal, "bkg")):
            missing = 1 - _weighted_fraction(present[mask], weights[mask]) if mask.any() else 0.0
            if missing > 0:
                notes.append(f"missing {100 * missing:.0f}% {who}")
        if name in ZERO_SPIKE_FEATURES:
            for mask, who in ((signal, "sig"), (~signal, "bkg")):
                inside = present & mask
                zero = (
                    _weighted_fraction(values[inside] == 0, weights[inside]) if inside.any() else 0
                )
                notes.append(f"= 0 (not shown) {100 * zero:.0f}% {who}")
            present = present & (values != 0)
        bins = _binning([values[present]], integer=name in COUNT_FEATURES, n_bins=30)
        for mask, style in ((signal, SIGNAL_STYLE), (~signal, BACKGROUND_STYLE)):
            rows = present & mask
            _normalised_step(ax, values[rows], bins, style, weights[rows])
        ax.set_xlabel(name + (f" [{feature.unit}]" if feature.unit else ""), fontsize=10)
        ax.set_ylabel("normalised", fontsize=10)
        ax.tick_params(labelsize=8)
        if name in ZERO_SPIKE_FEATURES or "_sd0_" in name or name.endswith("n_displaced"):
            ax.set_yscale("log")
        _plain_axis(ax)
        top = ax.get_ylim()[1]
        if ax.get_yscale() == "log":
            ax.set_ylim(top=top * 30)
        else:
            ax.set_ylim(0, top * 1.3)
        if notes:
            ax.text(
                0.97,
                0.97,
                "\n".join(notes),
                transform=ax.transAxes,
                ha="right",
                va="top",
                fontsize=7,
            )
    for ax in axes.flat[len(names) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"deeppp Simulation: {title}", fontsize=11, fontweight="bold", y=0.985)
    fig.text(
        0.5, 0.935, f"{ENERGY_LABEL}; signal vs background, normalised", ha="center", fontsize=8
    )
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.1, top=0.9, wspace=0.32, hspace=0.42)
    return _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> Path:
    save(fig, path)
    return path


def plot_trimmed_mass(jets: dict[str, np.ndarray], path: Path) -> tuple[Path, dict[str, float]]:
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    bins = np.arange(0, 255, 5.0)
    signal = jets["label"] == 1
    weights = jets["weight"].astype(float)
    mass = jets["fatjet_mass"].astype(float)
    _normalised_step(ax, mass[signal], bins, SIGNAL_STYLE, weights[signal])
    _normalised_step(ax, mass[~signal], bins, BACKGROUND_STYLE, weights[~signal])
    ax.axvline(125.0, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("large-R jet trimmed mass [GeV]")
    ax.set_ylabel("normalised / GeV")
    ax.legend(loc="upper right", fontsize=10)
    ax.set_ylim(0, ax.get_ylim()[1] * 1.35)
    _plain_axis(ax)
    _label(ax, "anti-$k_t$ R = 1.0, trimmed, $p_T$ > 250 GeV, |$\\eta$| < 2")
    window = (mass > 95) & (mass < 145)
    numbers = {
        "signal_peak_gev": mass_peak_gev(mass[signal], weights[signal]),
        "background_peak_gev": mass_peak_gev(mass[~signal], weights[~signal]),
        "signal_in_window": _weighted_fraction(window[signal], weights[signal]),
        "background_in_window": _weighted_fraction(window[~signal], weights[~signal]),
        "n_signal": int(signal.sum()),
        "n_background": int((~signal).sum()),
    }
    return _save(fig, path), numbers


def plot_n_track_jets(jets: dict[str, np.ndarray], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    bins = np.arange(-0.5, 9.5)
    signal = jets["label"] == 1
    weights = jets["weight"].astype(float)
    n = jets["n_vr_track_jets"].astype(float)
    _normalised_step(ax, n[signal], bins, SIGNAL_STYLE, weights[signal])
    _normalised_step(ax, n[~signal], bins, BACKGROUND_STYLE, weights[~signal])
    ax.set_xlabel("number of associated VR track jets")
    ax.set_ylabel("normalised")
    ax.legend(loc="upper right", fontsize=10)
    ax.set_ylim(0, ax.get_ylim()[1] * 1.35)
    _plain_axis(ax)
    _label(ax, r"VR: $\rho$ = 30 GeV, $R \in$ [0.02, 0.4], $p_T$ > 7 GeV")
    return _save(fig, path)


FLAVOUR_STYLES = (
    (FLAVOUR_B, "b", {"color": "tab:red", "label": "b-labelled track jets"}),
    (FLAVOUR_C, "c", {"color": "tab:green", "label": "c-labelled track jets"}),
    (FLAVOUR_LIGHT, "light", {"color": "tab:blue", "label": "light-labelled track jets"}),
)


def btagging_numbers(track_jets: ak.Array) -> dict[str, Any]:
    """Fractions of b-tagging tracks with S_d0 > 3 and |S_d0| > 3 per flavour, and the b
    efficiency / light and c rejection of "max S_d0 > 5" and ">= 2 tracks with S_d0 > 3"."""
    btag = track_jets.trk.btag == 1
    sd0 = track_jets.trk.sd0[btag]
    weights = ak.to_numpy(track_jets.weight).astype(float)
    flavour = ak.to_numpy(track_jets.flavour)
    max_sd0 = ak.to_numpy(ak.fill_none(ak.max(sd0, axis=1), -99.0))
    n_above_3 = ak.to_numpy(ak.sum(sd0 > 3, axis=1))
    out: dict[str, Any] = {}
    for code, name, _ in FLAVOUR_STYLES:
        jets_of = flavour == code
        per_track = ak.to_numpy(ak.flatten(sd0[jets_of]))
        track_weight = np.repeat(weights[jets_of], ak.to_numpy(ak.num(sd0[jets_of])))
        out[f"{name}_tracks"] = len(per_track)
        out[f"{name}_jets"] = int(jets_of.sum())
        out[f"{name}_sd0_above_3"] = _weighted_fraction(per_track > 3, track_weight)
        out[f"{name}_abs_sd0_above_3"] = _weighted_fraction(np.abs(per_track) > 3, track_weight)
        out[f"{name}_eff_max_sd0_5"] = _weighted_fraction(max_sd0[jets_of] > 5, weights[jets_of])
        out[f"{name}_eff_two_tracks_3"] = _weighted_fraction(
            n_above_3[jets_of] >= 2, weights[jets_of]
        )
    return out


#: ATLAS, "ATLAS flavour-tagging algorithms for the LHC Run 2 pp collision dataset",
#: Eur. Phys. J. C 83 (2023) 681, arXiv:2211.16345, abstract: light-jet (c-jet) rejection 170 (5)
#: at 77 % b-jet efficiency in simulated ttbar events.
ATLAS_DL1R = {"b_efficiency": 0.77, "light_rejection": 170.0, "c_rejection": 5.0}


def btagging_performance(btag: dict[str, Any]) -> dict[str, Any]:
    """``reconstruction/btagging.json``: b efficiency and light/c rejection of the two simple
    track-jet taggers, beside ATLAS DL1r; the report's overview shows these rows.

    A rejection is ``null`` when no jet of that flavour passed (beyond what the sample measures).
    """

    def inverse(efficiency: float) -> float | None:
        return 1.0 / efficiency if efficiency > 0 else None

    rows: list[dict[str, Any]] = []
    for tagger, key in (
        ("max S_d0 > 5", "eff_max_sd0_5"),
        (">= 2 tracks with S_d0 > 3", "eff_two_tracks_3"),
    ):
        rows.append(
            {
                "tagger": tagger,
                "b_efficiency": btag[f"b_{key}"],
                "light_rejection": inverse(btag[f"light_{key}"]),
                "c_rejection": inverse(btag[f"c_{key}"]),
                "b_jets": btag["b_jets"],
                "light_jets": btag["light_jets"],
                "c_jets": btag["c_jets"],
            }
        )
    rows.append({"tagger": "ATLAS DL1r (EPJC 83 (2023) 681, ttbar)", **ATLAS_DL1R})
    return {"taggers": rows, "weighted": "generator event weights"}


def plot_sd0_by_flavour(track_jets: ak.Array, path: Path) -> tuple[Path, dict[str, Any]]:
    """Signed d0 significance of the b-tagging tracks of b-, c- and light-labelled track jets."""
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    bins = np.linspace(-20, 40, 61)
    for code, _, style in FLAVOUR_STYLES:
        selected = track_jets[track_jets.flavour == code]
        tracks = selected.trk
        keep = tracks.btag == 1
        sd0 = ak.to_numpy(ak.flatten(tracks.sd0[keep])).astype(float)
        weights = np.repeat(ak.to_numpy(selected.weight), ak.to_numpy(ak.num(tracks.sd0[keep])))
        _normalised_step(ax, sd0, bins, style, weights)
    ax.set_yscale("log")
    ax.set_xlabel(r"track signed $d_0$ significance $S_{d_0}$")
    ax.set_ylabel("normalised")
    ax.legend(loc="upper right", fontsize=10)
    ax.set_ylim(1e-5, 30)
    _label(ax, "b-tagging tracks of VR track jets in selected large-R jets")
    return _save(fig, path), btagging_numbers(track_jets)


def plot_sv_mass_by_flavour(track_jets: ak.Array, path: Path) -> tuple[Path, dict[str, Any]]:
    """SV-proxy mass of the track jets that have one (two or more tracks with S_d0 > 3)."""
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    bins = np.linspace(0, 8, 41)
    numbers: dict[str, Any] = {}
    for code, name, style in FLAVOUR_STYLES:
        selected = track_jets[track_jets.flavour == code]
        values = ak.to_numpy(selected.sv_mass).astype(float)
        weights = ak.to_numpy(selected.weight).astype(float)
        formed = values > 0
        numbers[f"{name}_with_sv"] = _weighted_fraction(formed, weights)
        _normalised_step(
            ax,
            values[formed],
            bins,
            {
                **style,
                "label": f"{style['label']} ({100 * numbers[f'{name}_with_sv']:.1f}% with SV)",
            },
            weights[formed],
        )
    ax.set_yscale("log")
    ax.set_xlabel("secondary-vertex proxy mass [GeV]")
    ax.set_ylabel("normalised / GeV")
    ax.set_ylim(top=ax.get_ylim()[1] * 30)
    ax.legend(loc="upper right", fontsize=9)
    _label(ax, "track jets with >= 2 tracks of S$_{d_0}$ > 3")
    fig.subplots_adjust(bottom=0.13)
    return _save(fig, path), numbers


def read_track_jets(path: str | os.PathLike[str]) -> ak.Array:
    with open_root(path) as f:
        if TRACK_JETS_TREE not in f:
            raise InputFileError(f"{path}: no tree '{TRACK_JETS_TREE}' (not a features file?)")
        tree = f[TRACK_JETS_TREE]
        names = ["flavour", "sv_mass", "trk_sd0", "trk_btag"]
        try:
            arrays = tree.arrays(names + (["weight"] if "weight" in tree else []))
        except Exception as err:
            raise InputFileError(
                f"{path}: cannot read tree '{TRACK_JETS_TREE}' ({describe_error(err)})"
            ) from err
    weight = arrays.weight if "weight" in arrays.fields else np.ones(len(arrays), np.float32)
    return ak.zip(
        {
            "flavour": arrays.flavour,
            "sv_mass": arrays.sv_mass,
            "weight": weight,
            "trk": ak.zip({"sd0": arrays.trk_sd0, "btag": arrays.trk_btag}),
        },
        depth_limit=1,
    )


def _rejection(efficiency: float) -> str:
    return f"{1 / efficiency:.0f}" if efficiency > 0 else "infinite (no jet tagged)"


def captions(mass: dict[str, float], btag: dict[str, Any], sv: dict[str, Any]) -> dict[str, str]:
    """Report captions with the numbers measured on these jets (reStructuredText)."""
    sd0 = (
        "Lifetime-signed transverse impact-parameter significance S_d0 of the b-tagging tracks "
        "(pT > 1 GeV, \\|d0\\| < 1 mm, \\|z0 sin theta\\| < 1.5 mm "
        "with respect to the primary vertex, "
        "at least one hit in the two innermost pixel layers) in VR track jets labelled b, c or "
        "light by truth hadron matching, weighted with the generator event weights. Tracks from "
        "b- and c-hadron decays give the long positive tail; in light jets V0 decays, photon "
        "conversions, hadronic interactions in the material, fake tracks and the non-Gaussian "
        "resolution tail do. Measured on these "
        f"{btag['light_jets']} light, {btag['c_jets']} c and {btag['b_jets']} b track jets: "
        f"{100 * btag['light_sd0_above_3']:.2f} % of light-jet tracks have S_d0 > 3 "
        f"({100 * btag['light_abs_sd0_above_3']:.2f} % \\|S_d0\\| > 3), against "
        f"{100 * btag['c_sd0_above_3']:.1f} % for c and {100 * btag['b_sd0_above_3']:.1f} % for b "
        'jets. The simple tagger "max S_d0 > 5" keeps '
        f"{100 * btag['b_eff_max_sd0_5']:.0f} % of b jets with light-jet rejection "
        f"{_rejection(btag['light_eff_max_sd0_5'])} and c-jet rejection "
        f'{_rejection(btag["c_eff_max_sd0_5"])}; ">= 2 tracks with S_d0 > 3" keeps '
        f"{100 * btag['b_eff_two_tracks_3']:.0f} % with rejections "
        f"{_rejection(btag['light_eff_two_tracks_3'])} (light) and "
        f"{_rejection(btag['c_eff_two_tracks_3'])} (c). For scale: ATLAS's Run-2 DL1r tagger, "
        "which combines all b-tagging information, reaches light (c) rejection 170 (5) at 77 % "
        "b efficiency in ttbar events (Eur. Phys. J. C 83 (2023) 681)."
    )
    sv_caption = (
        "Secondary-vertex proxy mass (invariant mass of the b-tagging tracks with S_d0 > 3, pion "
        "masses) of the VR track jets that have at least two such tracks, by truth flavour, "
        "weighted with the generator event weights; the fraction of track jets that have one is "
        f"in the legend: {100 * sv['b_with_sv']:.1f} % of b, {100 * sv['c_with_sv']:.1f} % of c "
        f"and {100 * sv['light_with_sv']:.1f} % of light track jets (the others have the value 0, "
        "not shown). b jets reach masses up to the b-hadron mass, charm jets stay below the D "
        "mass; light jets' displaced pairs come from V0 decays, conversions and material "
        "interactions."
    )
    mass_caption = (
        "Trimmed large-R jet mass (anti-kt R = 1.0 on calorimeter towers, kt R_sub = 0.2, "
        "f_cut = 5 %, pile-up subtracted with rho x area before trimming, pT > 250 GeV, "
        "\\|eta\\| < 2.0), calibrated to particle level with the detector card's QCD-derived jet "
        "energy and mass scales; weighted with the generator event weights. Measured on these "
        f"{mass['n_signal']} signal and {mass['n_background']} background jets: the H -> bb signal "
        f"peaks at {mass['signal_peak_gev']:.0f} GeV (most probable 20 GeV window), QCD jets at "
        f"{mass['background_peak_gev']:.0f} GeV; {100 * mass['signal_in_window']:.0f} % of signal "
        f"and {100 * mass['background_in_window']:.0f} % of background jets lie between 95 and "
        "145 GeV (dotted line: 125 GeV). After the QCD-derived scale, Higgs-jet masses come out "
        "about 4 % above their particle-level masses (docs/detector.md), "
        "while those particle-level "
        "masses already miss the neutrinos and muons of semileptonic b decays and the radiation "
        "outside the trimmed jet."
    )
    texts = {
        "trackjet_sd0_flavour": sd0,
        "trackjet_sv_mass_flavour": sv_caption,
        "trimmed_mass": mass_caption,
    }
    assert set(texts) == set(RECONSTRUCTION_DATA_CAPTIONS)
    return texts


def make_plots(
    feature_files: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str]
) -> list[Path]:
    """All reconstruction plots from the given features files, the data-driven captions
    (``out_dir/captions/*.rst``) and the b-tagging performance (``out_dir/btagging.json``);
    returns the PNG paths."""
    out = Path(out_dir)
    loaded = [read_features_file(p)[0] for p in feature_files]
    jets = {k: np.concatenate([c[k] for c in loaded]) for k in loaded[0]}
    track_jets = ak.concatenate([read_track_jets(p) for p in feature_files])
    use_style()
    # Plain tick labels: mathtext tick labels cost most of the plotting time on a small machine.
    plt.rcParams["axes.formatter.use_mathtext"] = False
    try:
        written = [
            plot_feature_group(jets, names, title, out / f"{stem}.png")
            for stem, title, names in feature_groups()
        ]
        path, mass_numbers = plot_trimmed_mass(jets, out / "trimmed_mass.png")
        written.append(path)
        written.append(plot_n_track_jets(jets, out / "n_vr_track_jets.png"))
        path, btag_numbers = plot_sd0_by_flavour(track_jets, out / "trackjet_sd0_flavour.png")
        written.append(path)
        path, sv_numbers = plot_sv_mass_by_flavour(track_jets, out / "trackjet_sv_mass_flavour.png")
        written.append(path)
    finally:
        plt.style.use("default")
    for stem, text in captions(mass_numbers, btag_numbers, sv_numbers).items():
        write_text_atomic(out / "captions" / f"{stem}.rst", text + "\n")
    performance = btagging_performance(btag_numbers)
    performance["provenance"] = provenance(
        "reconstruction", None, None, inputs=[Path(p).name for p in feature_files]
    )
    write_json_atomic(out / BTAGGING_FILE, performance)
    return written
