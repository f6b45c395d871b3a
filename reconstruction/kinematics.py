"""Four-vector helpers shared by the reconstruction modules (one convention, tested once).

Transverse momentum, pseudorapidity and azimuth use one convention everywhere, including pT = 0
(eta = +-inf, which every acceptance cut treats as outside); a test checks them against
``vector`` (scikit-hep). Lorentz boosts of decay products use ``vector``'s ``boost_p4``; the
two-body decay itself is the textbook rest-frame construction. ``vector`` is imported where it is
used: importing it also imports sympy (about a second), which most jobs never need.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def pt_eta_phi(
    px: np.ndarray, py: np.ndarray, pz: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pT, eta, phi) of momenta; eta = +-inf along the beam (pT = 0), phi in (-pi, pi]."""
    px, py, pz = (np.asarray(x) for x in (px, py, pz))
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.arcsinh(pz / pt)
    eta = np.where(pt > 0, eta, np.copysign(np.inf, pz))
    return pt, eta, np.arctan2(py, px)


def delta_phi(phi1: Any, phi2: Any) -> Any:
    """phi1 - phi2 wrapped into [-pi, pi); numpy or awkward arrays (ufuncs broadcast jagged)."""
    return np.mod(phi1 - phi2 + np.pi, 2 * np.pi) - np.pi


def delta_r(eta1: Any, phi1: Any, eta2: Any, phi2: Any) -> Any:
    """Distance in (eta, phi); numpy or awkward arrays."""
    return np.hypot(eta1 - eta2, delta_phi(phi1, phi2))


def invariant_mass(px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray) -> np.ndarray:
    """sqrt(max(E^2 - p^2, 0))."""
    return np.sqrt(np.maximum(e * e - px * px - py * py - pz * pz, 0.0))


def two_body_momentum_gev(mass: np.ndarray, m1: np.ndarray, m2: np.ndarray) -> np.ndarray:
    """Daughter momentum in the rest frame of a particle of ``mass`` decaying to m1 + m2."""
    mass, m1, m2 = (np.asarray(x, dtype=float) for x in (mass, m1, m2))
    kallen = (mass**2 - (m1 + m2) ** 2) * (mass**2 - (m1 - m2) ** 2)
    return np.sqrt(np.maximum(kallen, 0.0)) / (2.0 * mass)


def two_body_decay(
    parent: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    mass: np.ndarray,
    m1: np.ndarray,
    m2: np.ndarray,
    rng: np.random.Generator,
) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """Isotropic two-body decays of moving parents: ((px, py, pz, e) of daughter 1, of daughter 2).

    ``parent`` is the parents' (px, py, pz, e) in the lab; ``mass`` their mass (the nominal mass,
    so that E^2 - p^2 of a float32 record does not enter). Daughters are generated back to back
    in the rest frame with a direction uniform on the sphere and boosted with the parent's
    velocity p / E, E = sqrt(p^2 + mass^2).
    """
    px, py, pz, _ = (np.asarray(x, dtype=float) for x in parent)
    mass = np.asarray(mass, dtype=float)
    n = len(px)
    p_star = two_body_momentum_gev(mass, m1, m2)
    cos_theta = rng.uniform(-1.0, 1.0, n)
    sin_theta = np.sqrt(1.0 - cos_theta**2)
    phi = rng.uniform(-np.pi, np.pi, n)
    kx, ky, kz = (
        p_star * sin_theta * np.cos(phi),
        p_star * sin_theta * np.sin(phi),
        p_star * cos_theta,
    )
    import vector

    energy = np.sqrt(px * px + py * py + pz * pz + mass * mass)
    boost = vector.array({"px": px, "py": py, "pz": pz, "E": energy})
    daughters = []
    for sign, m in ((1.0, m1), (-1.0, m2)):
        # Momentum4D arrays (E given); vector's static types do not know that, hence Any.
        rest: Any = vector.array(
            {
                "px": sign * kx,
                "py": sign * ky,
                "pz": sign * kz,
                "E": np.sqrt(p_star**2 + np.asarray(m, dtype=float) ** 2),
            }
        )
        lab = rest.boost_p4(boost)
        daughters.append(tuple(np.asarray(getattr(lab, c)) for c in ("px", "py", "pz", "E")))
    return daughters[0], daughters[1]
