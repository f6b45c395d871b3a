"""Truth labels: which large-R jets are H -> bb signal or QCD background, track-jet flavour.

Signal: the large-R jet closest to the Higgs boson within Delta R < R_match that also contains
both b quarks of the decay within Delta R < R_match of its axis (ATLAS H -> bb tagger
definition, Eur. Phys. J. C 79 (2019) 836). Background: the leading large-R jets of QCD events.
Track-jet flavour (b, c, light) comes from weakly decaying hadrons with pT > 5 GeV within the
jet's effective radius (the cone variant of ATLAS's hadron labelling); it is used for
diagnostics and plots only, never as a feature.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from deeppp.contracts import TruthRole
from reconstruction.kinematics import delta_r

FLAVOUR_B, FLAVOUR_C, FLAVOUR_LIGHT = 5, 4, 0


def hadron_flavour(pid: np.ndarray) -> np.ndarray:
    """5 for b hadrons, 4 for c hadrons, 0 otherwise, from the quark content in the PDG id."""
    a = np.abs(pid)
    digits = ((a // 100) % 10, (a // 1000) % 10)
    is_b = (digits[0] == 5) | (digits[1] == 5)
    is_c = (digits[0] == 4) | (digits[1] == 4)
    return np.where(is_b, FLAVOUR_B, np.where(is_c, FLAVOUR_C, FLAVOUR_LIGHT))


def higgs_matched(
    jet_event: np.ndarray,
    jet_eta: np.ndarray,
    jet_phi: np.ndarray,
    truth: ak.Array,
    match_dr: float,
) -> np.ndarray:
    """Boolean per jet: the Higgs-matched jet of its event with both H -> bb quarks inside.

    ``truth`` is per event (fields role, eta, phi); jets are flat with their event index.
    """
    truth_of_jet = truth[jet_event]
    higgs = ak.firsts(truth_of_jet[truth_of_jet.role == TruthRole.HIGGS])
    dr_higgs = ak.to_numpy(ak.fill_none(delta_r(jet_eta, jet_phi, higgs.eta, higgs.phi), np.inf))
    quarks = truth_of_jet[truth_of_jet.role == TruthRole.HIGGS_B]
    n_inside = ak.to_numpy(
        ak.sum(delta_r(jet_eta, jet_phi, quarks.eta, quarks.phi) < match_dr, axis=1)
    )
    candidate = (dr_higgs < match_dr) & (n_inside >= 2)
    # Closest candidate per event.
    score = np.where(candidate, dr_higgs, np.inf)
    best = np.full(int(jet_event.max()) + 1 if len(jet_event) else 0, np.inf)
    np.minimum.at(best, jet_event, score)
    return candidate & (score == best[jet_event])


def leading_jets(jet_event: np.ndarray, n_leading: int) -> np.ndarray:
    """Boolean per jet: among the ``n_leading`` first jets of its event (jets are pT ordered)."""
    if len(jet_event) == 0:
        return np.zeros(0, dtype=bool)
    starts = np.flatnonzero(np.concatenate([[True], jet_event[1:] != jet_event[:-1]]))
    rank = np.arange(len(jet_event)) - np.repeat(
        starts, np.diff(np.concatenate([starts, [len(jet_event)]]))
    )
    return rank < n_leading


def track_jet_flavour(
    jet_event: np.ndarray,
    jet_eta: np.ndarray,
    jet_phi: np.ndarray,
    jet_radius: np.ndarray,
    hadrons: ak.Array,
    hadron_pt_min_gev: float,
) -> np.ndarray:
    """Per track jet: 5 if a b hadron is within its radius, else 4 for a c hadron, else 0.

    ``hadrons`` is per event (fields pid, pt, eta, phi); jets are flat with their event index.
    """
    candidates = hadrons[jet_event]
    candidates = candidates[candidates.pt > hadron_pt_min_gev]
    inside = delta_r(jet_eta, jet_phi, candidates.eta, candidates.phi) < jet_radius
    flavour = ak.unflatten(
        hadron_flavour(ak.to_numpy(ak.flatten(candidates.pid))), ak.num(candidates)
    )
    # b (5) beats c (4) beats light (0)
    return ak.to_numpy(ak.fill_none(ak.max(flavour[inside], axis=1), FLAVOUR_LIGHT)).astype(
        np.int32
    )
