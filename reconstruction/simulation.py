"""The detector simulation of a batch of events, step by step (docs/detector.md):

1. interactions: the hard scatter moved into the luminous region, plus Poisson(mu) pile-up
   interactions from the min-bias library (:mod:`reconstruction.pileup`);
2. decays in flight of K0S, Lambda and the other long-lived hadrons (:mod:`reconstruction.decays`);
3. calorimeter towers from everything that reaches the calorimeter;
4. material: photon conversions and hadronic interactions (:mod:`reconstruction.material`);
5. tracks: efficiency by type, pT and production radius, helix impact parameters with
   Gaussian core + tail resolution, and fake tracks (:mod:`reconstruction.detector`);
6. the hard-scatter primary vertex, impact parameters with respect to it, and the towers'
   directions corrected to point from it (:mod:`reconstruction.vertexing`).

Every random number comes from the one generator handed in, in this fixed order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from reconstruction import decays, detector, material, pileup, vertexing
from reconstruction.detector import FlatEvents, Particles


@dataclass
class SimulatedEvents:
    """What the detector sees of a batch of events, with the truth kept for diagnostics."""

    particles: Particles  # every particle, incl. decay products and material secondaries
    tracks: FlatEvents  # all reconstructed tracks, impact parameters w.r.t. the primary vertex
    towers: FlatEvents
    vertices: vertexing.PrimaryVertices
    interactions: pileup.Interactions


def tower_positions_mm(eta: np.ndarray, field: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(r, z) of the calorimeter entry point that a tower direction (from the origin) points at:
    the barrel cylinder, or the end-cap plane beyond it."""
    radius, half_length = 1e3 * float(field["radius_m"]), 1e3 * float(field["half_length_m"])
    z_barrel = radius * np.sinh(eta)
    barrel = np.abs(z_barrel) <= half_length
    r = np.where(barrel, radius, half_length / np.maximum(np.abs(np.sinh(eta)), 1e-12))
    z = np.where(barrel, z_barrel, np.sign(eta) * half_length)
    return r, z


def origin_corrected_towers(
    towers: FlatEvents, vertex_z_mm: np.ndarray, field: dict[str, Any]
) -> FlatEvents:
    """Towers re-pointed from the primary vertex instead of the detector origin (the ATLAS
    "origin correction" of calorimeter clusters): same energy and azimuth, eta of the tower's
    position seen from (0, 0, z_vertex)."""
    event = np.repeat(np.arange(towers.n_events), towers.counts)
    r, z = tower_positions_mm(towers["eta"], field)
    eta = np.arcsinh((z - vertex_z_mm[event]) / r)
    pt = towers["e"] / np.cosh(eta)
    columns = dict(towers.columns)
    columns.update(
        eta=eta,
        px=pt * np.cos(towers["phi"]),
        py=pt * np.sin(towers["phi"]),
        pz=pt * np.sinh(eta),
    )
    return FlatEvents(towers.offsets, columns)


def simulate(
    hard: Particles,
    card: dict[str, Any],
    rng: np.random.Generator,
    mu: float = 0.0,
    library: pileup.MinBiasLibrary | None = None,
) -> SimulatedEvents:
    """Steps 1-6 above for the hard-scatter events ``hard`` (generator record, vertices in mm)."""
    particles, interactions = pileup.place_interactions(hard, card["beam_spot"], rng, mu, library)
    particles = decays.decay_in_flight(particles, card, rng)
    towers = detector.simulate_towers(particles, card, rng)
    particles = material.interact_with_material(
        particles, card, rng, hard_scatter_z_mm=interactions.hard_scatter_z
    )
    tracks = detector.simulate_tracks(particles, card, rng)
    tracks = detector.add_fake_tracks(tracks, interactions.n_pileup, card, rng)
    vertices, _ = vertexing.fit_primary_vertices(tracks, card)
    tracks = vertexing.impact_parameters_wrt_vertex(tracks, vertices)
    towers = origin_corrected_towers(towers, vertices.z, card["magnetic_field"])
    return SimulatedEvents(particles, tracks, towers, vertices, interactions)
