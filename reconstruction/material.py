"""Interactions with the inner-detector material: photon conversions and hadronic interactions.

The material is a set of thin cylinders (the card's ``material.layers``: radius, x/X0 and x/lambda_I
at normal incidence); a particle produced inside a layer's radius crosses it with the path factor
1/sin(theta) (capped at the card's |eta| limit). Layer by layer, in order of radius:

* a photon converts with probability 1 - exp(-7/9 x/X0) into an e+ e- pair along its direction,
  the electron taking a fraction x of the energy from dsigma/dx ~ 1 - 4/3 x (1 - x);
* a hadron interacts with probability 1 - exp(-x/lambda_I); it keeps its track only if the
  interaction lies beyond the radius a full track needs, and emits charged pions (multiplicity,
  momentum sharing and transverse kicks from the card) from the interaction point.

The secondaries are tracker-only (``in_calorimeter`` False): the calorimeter still receives the
energy of the particle that showered, as in a real detector where the secondaries end in the same
calorimeter region. Straight-line propagation to the layers (the curvature of a charged hadron
over ~0.1 m moves the interaction point by far less than the layer spacing).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reconstruction.detector import (
    ORIGIN_CONVERSION,
    ORIGIN_HADRONIC,
    PION_MASS_GEV,
    Particles,
)
from reconstruction.kinematics import pt_eta_phi

ELECTRON_MASS_GEV = 0.000510999
PHOTON = 22
#: Bethe-Heitler: the probability to convert in x/X0 is 1 - exp(-7/9 x/X0) at high energy.
CONVERSION_X0_FACTOR = 7.0 / 9.0


def layer_crossing(
    vx: np.ndarray,
    vy: np.ndarray,
    vz: np.ndarray,
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    radius_mm: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, z, crosses) where the straight line from the vertex along p meets the cylinder."""
    pt = np.hypot(px, py)
    ux, uy = (
        np.divide(px, pt, out=np.zeros_like(px), where=pt > 0),
        np.divide(py, pt, out=np.zeros_like(py), where=pt > 0),
    )
    b = vx * ux + vy * uy
    c = vx * vx + vy * vy - radius_mm * radius_mm
    disc = b * b - c
    crosses = (c < 0) & (pt > 0)  # starts inside the cylinder and moves transversely
    s = -b + np.sqrt(np.maximum(disc, 0.0))
    z = vz + s * np.divide(pz, pt, out=np.zeros_like(pz), where=pt > 0)
    return vx + s * ux, vy + s * uy, z, crosses


def sample_electron_fraction(n: int, rng: np.random.Generator) -> np.ndarray:
    """Energy fraction of the electron of a pair, dsigma/dx ~ 1 - 4/3 x (1 - x) (accept-reject)."""
    out = np.empty(n)
    todo = np.arange(n)
    while todo.size:
        x = rng.random(todo.size)
        accept = rng.random(todo.size) < 1.0 - 4.0 / 3.0 * x * (1.0 - x)
        out[todo[accept]] = x[accept]
        todo = todo[~accept]
    return out


def interact_with_material(
    particles: Particles,
    card: dict[str, Any],
    rng: np.random.Generator,
    hard_scatter_z_mm: np.ndarray | None = None,
) -> Particles:
    """``particles`` plus conversion pairs and hadronic-interaction secondaries (tracker only);
    a hadron that interacts before a full track loses ``in_tracker``.

    With ``hard_scatter_z_mm`` (per event), pile-up particles produced further than
    ``material.pileup_z_window_mm`` from the hard scatter in z are left alone: their secondaries
    point back to their own vertex in z and cannot pass the track-to-vertex association of the
    hard scatter, so simulating them would only cost time."""
    material = card["material"]
    hadronic = material["hadronic_interaction"]
    min_track_radius = float(card["long_lived_decays"]["charged_track_min_radius_mm"])
    columns = dict(particles.columns())
    event = particles.event_index
    pt, eta, _ = pt_eta_phi(particles.px, particles.py, particles.pz)
    path_factor = np.cosh(np.minimum(np.abs(eta), float(material["abs_eta_max"])))
    in_acceptance = (np.abs(eta) < float(material["abs_eta_max"]) + 0.2) & (pt > 0)
    abs_pid = np.abs(particles.pid)
    # Only what reaches the material undisturbed: generator particles and decay products that
    # still fly (decayed parents are out of the calorimeter record).
    alive = in_acceptance & particles.in_calorimeter
    if hard_scatter_z_mm is not None:
        window = float(material["pileup_z_window_mm"])
        alive &= (particles.interaction == 0) | (
            np.abs(particles.vz_mm - np.asarray(hard_scatter_z_mm)[event]) < window
        )
    photon = (
        alive & (abs_pid == PHOTON) & (particles.e > float(material["conversion_energy_min_gev"]))
    )
    hadron = (
        alive
        & np.isin(abs_pid, np.asarray(hadronic["pids"]))
        & (particles.e > float(hadronic["energy_min_gev"]))
    )
    converted = np.zeros(len(event), bool)
    interacted = np.zeros(len(event), bool)
    where = np.zeros((len(event), 3))
    radius = np.hypot(particles.vx_mm, particles.vy_mm)
    for layer in material["layers"]:
        r_layer = float(layer["radius_mm"])
        todo = np.flatnonzero((photon & ~converted | hadron & ~interacted) & (radius < r_layer))
        if todo.size == 0:
            continue
        x, y, z, crosses = layer_crossing(
            particles.vx_mm[todo],
            particles.vy_mm[todo],
            particles.vz_mm[todo],
            particles.px[todo],
            particles.py[todo],
            particles.pz[todo],
            r_layer,
        )
        is_photon = abs_pid[todo] == PHOTON
        thickness = np.where(
            is_photon,
            CONVERSION_X0_FACTOR * float(layer["x_over_x0"]),
            float(layer["x_over_lambda"]),
        )
        hit = crosses & (rng.random(todo.size) < -np.expm1(-thickness * path_factor[todo]))
        converted[todo[hit & is_photon]] = True
        interacted[todo[hit & ~is_photon]] = True
        where[todo[hit]] = np.stack([x[hit], y[hit], z[hit]], axis=1)

    pieces = [_conversion_pairs(np.flatnonzero(converted), particles, where, rng)]
    hadrons = np.flatnonzero(interacted)
    pieces.append(_hadronic_secondaries(hadrons, particles, where, hadronic, rng))
    columns["in_tracker"] = columns["in_tracker"].copy()
    columns["in_tracker"][hadrons] &= (
        np.hypot(where[hadrons, 0], where[hadrons, 1]) >= min_track_radius
    )
    new_event = [event] + [event[parents] for parents, _ in pieces]
    columns = {
        name: np.concatenate(
            [values] + [new[name].astype(values.dtype, copy=False) for _, new in pieces]
        )
        for name, values in columns.items()
    }
    return Particles.from_columns(np.concatenate(new_event), particles.n_events, columns)


def _secondaries(
    parents: np.ndarray,
    particles: Particles,
    where: np.ndarray,
    origin: int,
    momentum: tuple[np.ndarray, np.ndarray, np.ndarray],
    mass: float,
    pid: np.ndarray,
    charge: np.ndarray,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    px, py, pz = momentum
    n = len(parents)
    return parents, {
        "px": px,
        "py": py,
        "pz": pz,
        "e": np.sqrt(px * px + py * py + pz * pz + mass * mass),
        "pid": pid,
        "charge": charge,
        "vx_mm": where[parents, 0],
        "vy_mm": where[parents, 1],
        "vz_mm": where[parents, 2],
        "origin": np.full(n, origin, np.int8),
        "interaction": particles.interaction[parents],
        "in_calorimeter": np.zeros(n, bool),
        "in_tracker": np.ones(n, bool),
    }


def _conversion_pairs(
    photons: np.ndarray, particles: Particles, where: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """e- and e+ along each converted photon, sharing its energy (fraction x for the e-)."""
    x = sample_electron_fraction(len(photons), rng)
    fraction = np.concatenate([x, 1.0 - x])
    parents = np.concatenate([photons, photons])
    momentum = tuple(getattr(particles, c)[parents] * fraction for c in ("px", "py", "pz"))
    pid = np.concatenate([np.full(len(photons), 11), np.full(len(photons), -11)])
    charge = np.concatenate([np.full(len(photons), -1.0), np.full(len(photons), 1.0)])
    return _secondaries(
        parents, particles, where, ORIGIN_CONVERSION, momentum, ELECTRON_MASS_GEV, pid, charge
    )


def _hadronic_secondaries(
    hadrons: np.ndarray,
    particles: Particles,
    where: np.ndarray,
    settings: dict[str, Any],
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Charged pions from each interaction: multiplicity 1 + Poisson(mean - 1), momentum fractions
    from a flat Dirichlet with one unseen share, transverse kicks of exponential mean pT."""
    multiplicity = 1 + rng.poisson(float(settings["charged_multiplicity_mean"]) - 1.0, len(hadrons))
    parents = np.repeat(hadrons, multiplicity)
    # Flat Dirichlet over multiplicity + 1 shares: normalised exponentials.
    shares = rng.exponential(1.0, len(parents))
    unseen = rng.exponential(1.0, len(hadrons))
    group = np.repeat(np.arange(len(hadrons)), multiplicity)
    total = np.bincount(group, weights=shares, minlength=len(hadrons)) + unseen
    fraction = shares / total[group]
    p = np.stack([getattr(particles, c)[parents] for c in ("px", "py", "pz")])
    p_abs = np.linalg.norm(p, axis=0)
    direction = p / np.where(p_abs > 0, p_abs, 1.0)
    # two unit vectors orthogonal to the direction
    helper = np.where(
        np.abs(direction[2]) < 0.9, np.array([[0.0], [0.0], [1.0]]), np.array([[1.0], [0.0], [0.0]])
    )
    e1 = np.cross(direction, helper, axis=0)
    e1 /= np.linalg.norm(e1, axis=0)
    e2 = np.cross(direction, e1, axis=0)
    kick = rng.exponential(float(settings["pt_kick_mean_gev"]), len(parents))
    azimuth = rng.uniform(-np.pi, np.pi, len(parents))
    momentum = fraction * p_abs * direction + kick * (np.cos(azimuth) * e1 + np.sin(azimuth) * e2)
    charge = np.where(rng.random(len(parents)) < 0.5, -1.0, 1.0)
    pid = (211 * charge).astype(np.int64)
    return _secondaries(
        parents,
        particles,
        where,
        ORIGIN_HADRONIC,
        (momentum[0], momentum[1], momentum[2]),
        PION_MASS_GEV,
        pid,
        charge,
    )
