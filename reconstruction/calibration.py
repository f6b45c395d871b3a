"""Large-R jet energy and mass scales: calorimeter jets relative to particle-level jets.

Tower thresholds and muons leaving only a minimum-ionising deposit make reconstructed jets
softer, and their masses smaller, than the particles that formed them. ATLAS calibrates
large-R jets to particle level in energy (JES) and then in mass (JMS), Eur. Phys. J. C 79 (2019)
135. Here both are constants: the trimmed jet pT is multiplied by 1/R_pT and its mass by
1/R_m, with R the median responses of calorimeter jets (the full detector simulation: beam spot,
decays in flight, towers, pile-up when configured, rho*A subtraction, trimming) matched to
particle-level jets (anti-kt R = 1.0 on the hard-scatter's stable particles except neutrinos and
muons, trimmed alike) in QCD events; R_m uses particle-level masses 50-300 GeV, the range that
matters for tagging. The constants live in the detector card (``jet_calibration``), next to the
detector they belong to; ``python -m reconstruction calibrate`` re-derives them and a test checks
the card's values. The same command also measures the response of Higgs jets (signal events:
particle-level jets within Delta R < 1 of the Higgs boson), which the QCD-derived scale does not
bring to 1 (b-jet fragmentation, semileptonic decays, two-prong structure): docs/detector.md
quotes both.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deeppp import DeepppError
from deeppp.contracts import TruthRole
from reconstruction import detector, jets, pileup, simulation
from reconstruction.kinematics import delta_r, pt_eta_phi
from reconstruction.pipeline import (
    Settings,
    _truth_of,
    check_events_file,
    chunk_seed,
    event_weight,
    iterate_events,
    particles_of,
)

#: Particle-level jets are built from stable particles except these (ATLAS truth-jet definition).
PARTICLE_LEVEL_EXCLUDED = (12, 13, 14, 16)
MATCH_DR = 0.3
MASS_RANGE_GEV = (50.0, 300.0)


@dataclass(frozen=True)
class Calibration:
    pt_response: float
    pt_response_error: float
    mass_response: float
    mass_response_error: float
    n_matched_jets: int
    n_mass_jets: int
    #: most probable uncalibrated reco mass of the matched jets (mass_peak_gev), GeV
    raw_mass_peak_gev: float = float("nan")

    @property
    def energy_scale(self) -> float:
        return 1.0 / self.pt_response

    @property
    def mass_scale(self) -> float:
        return 1.0 / self.mass_response


def particle_level_inputs(particles: detector.Particles, abs_eta_max: float) -> detector.FlatEvents:
    pt, eta, _ = pt_eta_phi(particles.px, particles.py, particles.pz)
    keep = (
        ~np.isin(np.abs(particles.pid), PARTICLE_LEVEL_EXCLUDED)
        & (np.abs(eta) < abs_eta_max)
        & (pt > 0)
    )
    event = particles.event_index
    offsets = np.concatenate(
        [[0], np.cumsum(np.bincount(event[keep], minlength=particles.n_events))]
    )
    return detector.FlatEvents(
        offsets,
        {
            "px": particles.px[keep],
            "py": particles.py[keep],
            "pz": particles.pz[keep],
            "e": particles.e[keep],
        },
    )


def derive_calibration(
    events_paths: list[str | os.PathLike[str]],
    config: dict[str, Any],
    max_events: int | None = None,
    *,
    pileup_library: str | os.PathLike[str] | None = None,
    higgs_jets: bool = False,
) -> Calibration:
    """Median pT and mass responses of trimmed calorimeter jets to matched particle-level jets.

    Particle-level jets are selected (trimmed pT above the large-R threshold, |eta| below its
    limit; with ``higgs_jets`` only those within Delta R < 1 of the Higgs boson); reconstructed
    jets are taken uncalibrated, with half the pT threshold and a wider |eta| range, so the
    selection does not bias the response. Pile-up as configured (``reconstruction.pileup``).
    """
    settings = Settings.from_config(config["reconstruction"])
    library = (
        pileup.MinBiasLibrary.load(pileup_library, settings.card["magnetic_field"])
        if settings.pileup_mu > 0 and pileup_library
        else None
    )
    if settings.pileup_mu > 0 and library is None:
        raise DeepppError(
            f"reconstruction.pileup.mu = {settings.pileup_mu:g}: calibrate needs --pileup-library"
        )
    truth_settings = dataclasses.replace(
        settings.large_r, energy_scale=1.0, mass_scale=1.0, subtract_pileup=False
    )
    reco_settings = dataclasses.replace(
        settings.large_r,
        energy_scale=1.0,
        mass_scale=1.0,
        pt_min_gev=0.5 * settings.large_r.pt_min_gev,
        abs_eta_max=settings.large_r.abs_eta_max + 0.5,
    )
    pt_ratio: list[float] = []
    mass_ratio: list[float] = []
    pt_weight: list[float] = []
    mass_weight: list[float] = []
    reco_mass: list[float] = []
    seen = 0
    for path in events_paths:
        check_events_file(Path(path))
        for index, batch in enumerate(iterate_events(Path(path), settings.events_per_batch)):
            if max_events is not None:
                if seen >= max_events:
                    break
                batch = batch[: max_events - seen]
            seen += len(batch)
            rng = np.random.default_rng([chunk_seed(config["seed"], "calibration", 0), index])
            particles = particles_of(batch)
            no_tracks = detector.FlatEvents(
                np.zeros(len(batch) + 1, np.int64),
                {c: np.zeros(0) for c in ("px", "py", "pz", "e")},
            )
            towers = simulation.simulate(
                particles, settings.card, rng, settings.pileup_mu, library
            ).towers
            truth_inputs = particle_level_inputs(
                particles, settings.card["calorimeter"]["abs_eta_max"]
            )
            truth, _ = jets.reconstruct(
                truth_inputs, no_tracks, truth_settings, settings.variable_r
            )
            reco, _ = jets.reconstruct(towers, no_tracks, reco_settings, settings.variable_r)
            wanted = _near_higgs(truth, _truth_of(batch)) if higgs_jets else None
            weights = event_weight(batch)
            _match(
                truth,
                reco,
                (pt_ratio, pt_weight),
                (mass_ratio, mass_weight),
                weights,
                wanted,
                reco_mass,
            )
    if len(pt_ratio) < 20 or len(mass_ratio) < 20:
        raise DeepppError(
            f"only {len(pt_ratio)} matched large-R jets ({len(mass_ratio)} in the mass range): "
            "too few to derive a calibration"
        )
    pt_median, pt_error = _median_with_error(np.asarray(pt_ratio), np.asarray(pt_weight))
    mass_median, mass_error = _median_with_error(np.asarray(mass_ratio), np.asarray(mass_weight))
    return Calibration(
        pt_median,
        pt_error,
        mass_median,
        mass_error,
        len(pt_ratio),
        len(mass_ratio),
        mass_peak_gev(np.asarray(reco_mass), np.asarray(pt_weight)),
    )


def mass_peak_gev(mass: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Most probable mass: centre of the 20 GeV window (sliding in 5 GeV steps over 0-300 GeV)
    holding the largest (weighted) number of jets."""
    counts, edges = np.histogram(mass, bins=np.arange(0.0, 305.0, 5.0), weights=weights)
    window = np.convolve(counts, np.ones(4), mode="valid")
    return float(edges[int(np.argmax(window))] + 10.0)


def _near_higgs(truth_jets: jets.JetCollection, truth: Any, max_dr: float = 1.0) -> np.ndarray:
    """Per particle-level jet: within max_dr of its event's Higgs boson."""
    import awkward as ak

    event = truth_jets["event"]
    of_jet = truth[event]
    higgs = ak.firsts(of_jet[of_jet.role == TruthRole.HIGGS])
    dr = delta_r(
        truth_jets["eta"],
        truth_jets["phi"],
        ak.to_numpy(ak.fill_none(higgs.eta, np.inf)),
        ak.to_numpy(ak.fill_none(higgs.phi, 0.0)),
    )
    return np.asarray(dr < max_dr)


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, q * cumulative[-1])])


def _median_with_error(values: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Weighted median (generator event weights) and its standard error, 1.2533 sigma / sqrt(n_eff)
    with sigma from the interquartile range and n_eff = (sum w)^2 / sum w^2."""
    q25, median, q75 = (_weighted_quantile(values, weights, q) for q in (0.25, 0.5, 0.75))
    n_effective = weights.sum() ** 2 / np.sum(weights**2)
    return median, 1.2533 * (q75 - q25) / 1.349 / float(np.sqrt(n_effective))


def _match(
    truth: jets.JetCollection,
    reco: jets.JetCollection,
    pt_out: tuple[list[float], list[float]],
    mass_out: tuple[list[float], list[float]],
    weights: np.ndarray,
    wanted: np.ndarray | None = None,
    reco_mass: list[float] | None = None,
) -> None:
    """Append (ratio, event weight) of pT and mass for each (wanted) particle-level jet and its
    closest reco jet within MATCH_DR."""
    offsets = reco.parent_offsets
    for t in range(len(truth)):
        if wanted is not None and not wanted[t]:
            continue
        event = truth["event"][t]
        lo, hi = offsets[event], offsets[event + 1]
        if hi == lo:
            continue
        dr = delta_r(truth["eta"][t], truth["phi"][t], reco["eta"][lo:hi], reco["phi"][lo:hi])
        best = int(np.argmin(dr))
        if dr[best] >= MATCH_DR:
            continue
        pt_out[0].append(reco["pt"][lo + best] / truth["pt"][t])
        pt_out[1].append(float(weights[event]))
        if reco_mass is not None:
            reco_mass.append(float(reco["mass"][lo + best]))
        if MASS_RANGE_GEV[0] <= truth["mass"][t] < MASS_RANGE_GEV[1]:
            mass_out[0].append(reco["mass"][lo + best] / truth["mass"][t])
            mass_out[1].append(float(weights[event]))
