"""Large-R jets (trimmed, with substructure) and ghost-associated variable-R track jets.

Thin typed layer over the compiled ``reconstruction._fastjet_ext`` (fastjet 3.5 and
fastjet-contrib: VariableRPlugin, EnergyCorrelator, Nsubjettiness). Definitions follow the ATLAS
boosted H -> bb analyses (large-R: anti-kt R = 1.0, trimmed with kt R_sub = 0.2, f_cut = 5 %;
track jets: anti-kt variable-R, rho = 30 GeV, R in [0.02, 0.4], pT > 7 GeV, >= 2 tracks),
ATL-PHYS-PUB-2017-010 and Eur. Phys. J. C 79 (2019) 836.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from deeppp import DeepppError
from reconstruction.detector import FlatEvents

try:
    from reconstruction import _fastjet_ext  # type: ignore[attr-defined]
except ImportError as err:  # pragma: no cover - only without a build
    raise DeepppError(
        f"the compiled extension reconstruction._fastjet_ext is not available ({err}); "
        "build it with `pip install -e .` (or `make install`)"
    ) from err

FASTJET_VERSION: str = _fastjet_ext.FASTJET_VERSION


@dataclass(frozen=True)
class LargeRSettings:
    radius: float = 1.0
    trim_r_sub: float = 0.2
    trim_f_cut: float = 0.05
    pt_min_gev: float = 250.0
    abs_eta_max: float = 2.0
    beta: float = 1.0
    #: calibration factors (1 / response) of the trimmed jet pT and mass, see calibration.py
    energy_scale: float = 1.0
    mass_scale: float = 1.0
    #: rho * A subtraction of the subjets before trimming (rho: median of a rapidity-phi grid of
    #: towers within |y| < rho_rapidity_max, cells of rho_grid_spacing; areas from ghosts of
    #: ghost_area)
    subtract_pileup: bool = False
    rho_rapidity_max: float = 2.5
    rho_grid_spacing: float = 0.55
    ghost_area: float = 0.01
    #: towers above this pT seed the candidate jets around which areas are measured
    candidate_tower_pt_min_gev: float = 5.0


@dataclass(frozen=True)
class VariableRSettings:
    rho_gev: float = 30.0
    r_min: float = 0.02
    r_max: float = 0.4
    pt_min_gev: float = 7.0
    min_tracks: int = 2

    def effective_radius(self, pt_gev: np.ndarray) -> np.ndarray:
        """R_eff = rho / pT, clamped to [R_min, R_max] (Krohn, Thaler, Wang, JHEP 06 (2009) 059)."""
        with np.errstate(divide="ignore"):
            return np.clip(self.rho_gev / np.asarray(pt_gev, dtype=float), self.r_min, self.r_max)


def large_r_settings(
    section: dict[str, Any],
    energy_scale: float = 1.0,
    mass_scale: float = 1.0,
    pileup_mu: float = 0.0,
) -> LargeRSettings:
    """Typed large-R settings; subtraction per ``pileup_subtraction.apply`` (auto: if mu > 0)."""
    subtraction = section["pileup_subtraction"]
    apply = subtraction["apply"]
    subtract = apply == "always" or (apply == "auto" and pileup_mu > 0)
    return LargeRSettings(
        radius=section["radius"],
        trim_r_sub=section["trim_r_sub"],
        trim_f_cut=section["trim_f_cut"],
        pt_min_gev=section["pt_min_gev"],
        abs_eta_max=section["abs_eta_max"],
        beta=section["beta"],
        energy_scale=energy_scale,
        mass_scale=mass_scale,
        subtract_pileup=subtract,
        rho_rapidity_max=subtraction["rho_rapidity_max"],
        rho_grid_spacing=subtraction["rho_grid_spacing"],
        ghost_area=subtraction["ghost_area"],
        candidate_tower_pt_min_gev=subtraction["candidate_tower_pt_min_gev"],
    )


def variable_r_settings(section: dict[str, Any]) -> VariableRSettings:
    return VariableRSettings(
        rho_gev=section["rho_gev"],
        r_min=section["r_min"],
        r_max=section["r_max"],
        pt_min_gev=section["pt_min_gev"],
        min_tracks=section["min_tracks"],
    )


@dataclass
class JetCollection:
    """Flat jets with offsets into their parent (event or large-R jet) and into their members."""

    columns: dict[str, np.ndarray]
    parent_offsets: np.ndarray
    member_offsets: np.ndarray | None = None
    member_index: np.ndarray | None = None
    #: per event: the pile-up density rho [GeV per unit area] used for the subtraction (0 if off)
    event_rho: np.ndarray | None = None

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))


def _four_vector_arrays(collection: FlatEvents) -> tuple[np.ndarray, ...]:
    return (
        *tuple(
            np.ascontiguousarray(collection[c], dtype=np.float64) for c in ("px", "py", "pz", "e")
        ),
        np.ascontiguousarray(collection.offsets, dtype=np.int64),
    )


def cluster_variable_r(tracks: FlatEvents, settings: VariableRSettings) -> JetCollection:
    """Variable-R anti-kt track jets of every event (member_index: track index within its event)."""
    out = _fastjet_ext.cluster_variable_r(
        *_four_vector_arrays(tracks),
        settings.rho_gev,
        settings.r_min,
        settings.r_max,
        settings.pt_min_gev,
        settings.min_tracks,
    )
    return JetCollection(
        columns={k: out[k] for k in ("px", "py", "pz", "e")},
        parent_offsets=out["jet_offsets"],
        member_offsets=out["constituent_offsets"],
        member_index=out["constituent_index"],
    )


def reconstruct(
    towers: FlatEvents, tracks: FlatEvents, large_r: LargeRSettings, variable_r: VariableRSettings
) -> tuple[JetCollection, JetCollection]:
    """Selected trimmed large-R jets and their ghost-associated VR track jets.

    Large-R columns: event, pt, eta, phi, mass (trimmed, calibrated with
    ``energy_scale``/``mass_scale``), ungroomed_{pt,eta,phi,mass} (uncalibrated), d2, c2,
    tau21, tau32, sqrt_d12, n_constituents; ordered by trimmed pT within each event. Track-jet
    columns: px, py, pz, e; ``parent_offsets`` index them by large-R jet (pT ordered), and
    ``member_index`` lists each one's tracks (index within the event).
    """
    if towers.n_events != tracks.n_events:
        raise ValueError("towers and tracks must cover the same events")
    out = _fastjet_ext.reconstruct_large_r_jets(
        *_four_vector_arrays(towers),
        *_four_vector_arrays(tracks),
        large_r.radius,
        large_r.trim_r_sub,
        large_r.trim_f_cut,
        large_r.pt_min_gev,
        large_r.abs_eta_max,
        large_r.energy_scale,
        large_r.mass_scale,
        variable_r.rho_gev,
        variable_r.r_min,
        variable_r.r_max,
        variable_r.pt_min_gev,
        variable_r.min_tracks,
        large_r.beta,
        large_r.subtract_pileup,
        large_r.rho_rapidity_max,
        large_r.rho_grid_spacing,
        large_r.ghost_area,
        large_r.candidate_tower_pt_min_gev,
    )
    large_r_names = (
        "event",
        "pt",
        "eta",
        "phi",
        "mass",
        "ungroomed_pt",
        "ungroomed_eta",
        "ungroomed_phi",
        "ungroomed_mass",
        "d2",
        "c2",
        "tau21",
        "tau32",
        "sqrt_d12",
        "n_constituents",
    )
    large_r_jets = JetCollection(
        columns={k: out[k] for k in large_r_names},
        parent_offsets=np.concatenate(
            [[0], np.cumsum(np.bincount(out["event"], minlength=towers.n_events))]
        ),
        event_rho=out["rho"],
    )
    track_jets = JetCollection(
        columns={k: out[f"track_jet_{k}"] for k in ("px", "py", "pz", "e")},
        parent_offsets=out["track_jet_offsets"],
        member_offsets=out["track_jet_track_offsets"],
        member_index=out["track_jet_track_index"],
    )
    return large_r_jets, track_jets
