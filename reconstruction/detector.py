"""ATLAS-like fast detector simulation: the detector card, tracks (efficiency, pT and impact-
parameter resolution with non-Gaussian tails, fakes) and calorimeter towers. The other steps
(decays in flight, material, vertexing, pile-up) have their own modules; simulation.py runs them
in order.

Columnar: every step works on the flattened particles of a whole batch of events (numpy), and
the results are flat arrays plus per-event offsets (:class:`FlatEvents`). All randomness comes
from one ``numpy.random.Generator`` handed in by the caller, so a seed fixes the output.

The model and its sources are in ``detector_card.yaml`` (next to this file) and docs/detector.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from deeppp import DeepppError
from reconstruction.kinematics import pt_eta_phi

DEFAULT_CARD_PATH = Path(__file__).with_name("detector_card.yaml")

#: Charged tracks are given the pion mass, as ATLAS track-based quantities (SV mass) assume.
PION_MASS_GEV = 0.13957039
#: p_T [GeV] = C * |q| * B [T] * R [m]
CURVATURE_CONSTANT = 0.299792458

ELECTRON, MUON = 11, 13


@dataclass
class FlatEvents:
    """A jagged collection stored flat: ``columns[name][offsets[i]:offsets[i+1]]`` is event i."""

    offsets: np.ndarray
    columns: dict[str, np.ndarray]

    @property
    def n_events(self) -> int:
        return len(self.offsets) - 1

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]


#: Origin codes of simulated particles and tracks (truth, for diagnostics and tests only).
ORIGIN_GENERATOR = 0  # final-state particle of the generator record
ORIGIN_DECAY = 1  # product of a decay in flight simulated here (V0s, hyperons, pi0)
ORIGIN_CONVERSION = 2  # e+ or e- of a photon conversion in material
ORIGIN_HADRONIC = 3  # secondary of a hadronic interaction in material
ORIGIN_FAKE = 4  # fake (combinatorial) track


@dataclass
class Particles:
    """Particles of a batch of events, flat (see docs/data_contracts.md).

    Besides the generator record (momentum, PDG id, charge, production vertex in mm), each
    particle says where it came from (``origin``, ``interaction``: 0 for the hard scatter, k for
    the k-th pile-up interaction) and which detector sees it: ``in_calorimeter`` is False for
    particles that decayed in flight (their products deposit instead) and for material
    secondaries (the shower of their parent carries their energy); ``in_tracker`` is False for
    particles that decayed or interacted before leaving a track.

    ``offsets`` are the cumulative particle counts per event. Rows are grouped by event
    (``px[offsets[i]:offsets[i+1]]`` is event i) unless ``event`` is given: the simulation steps
    append decay products and secondaries at the end with their event index instead of
    re-sorting millions of rows each time; everything downstream groups by ``event_index``.
    """

    offsets: np.ndarray
    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    e: np.ndarray
    pid: np.ndarray
    charge: np.ndarray
    vx_mm: np.ndarray
    vy_mm: np.ndarray
    vz_mm: np.ndarray
    origin: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    interaction: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    in_calorimeter: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    in_tracker: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    event: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.px)
        if len(self.origin) != n:
            self.origin = np.full(n, ORIGIN_GENERATOR, np.int8)
        if len(self.interaction) != n:
            self.interaction = np.zeros(n, np.int32)
        if len(self.in_calorimeter) != n:
            self.in_calorimeter = np.ones(n, bool)
        if len(self.in_tracker) != n:
            self.in_tracker = np.ones(n, bool)

    @property
    def n_events(self) -> int:
        return len(self.offsets) - 1

    @property
    def event_index(self) -> np.ndarray:
        if self.event is not None:
            return self.event
        return np.repeat(np.arange(len(self.offsets) - 1), np.diff(self.offsets))

    def columns(self) -> dict[str, np.ndarray]:
        """The per-particle arrays by name (everything except the event bookkeeping)."""
        return {f: getattr(self, f) for f in PARTICLE_COLUMNS}

    @classmethod
    def from_columns(
        cls, event: np.ndarray, n_events: int, columns: dict[str, np.ndarray]
    ) -> Particles:
        """Particles in any order with their event index (not regrouped)."""
        offsets = np.concatenate([[0], np.cumsum(np.bincount(event, minlength=n_events))])
        return cls(offsets=offsets.astype(np.int64), event=event, **columns)


PARTICLE_COLUMNS = (
    "px",
    "py",
    "pz",
    "e",
    "pid",
    "charge",
    "vx_mm",
    "vy_mm",
    "vz_mm",
    "origin",
    "interaction",
    "in_calorimeter",
    "in_tracker",
)


class DetectorCardError(DeepppError):
    """The detector card is missing or inconsistent; the message names the key."""


def load_detector_card(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Read and check a detector card (``None``: the built-in ATLAS-like card)."""
    p = Path(path) if path is not None else DEFAULT_CARD_PATH
    try:
        card = yaml.safe_load(p.read_text())
    except FileNotFoundError as err:
        raise DetectorCardError(f"detector card {p} does not exist") from err
    except yaml.YAMLError as err:
        raise DetectorCardError(
            f"detector card {p} is not valid YAML: {str(err).splitlines()[0]}"
        ) from err
    _check_card(card, p)
    return card


def _check_card(card: Any, path: Path) -> None:
    def need(node: Any, dotted: str) -> Any:
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                raise DetectorCardError(f"detector card {path}: missing key {dotted}")
            node = node[part]
        return node

    for key in (
        "magnetic_field.bz_tesla",
        "magnetic_field.radius_m",
        "magnetic_field.half_length_m",
        "tracking.abs_eta_max",
        "tracking.pt_min_gev",
        "tracking.impact_parameter_tails.fraction",
        "tracking.impact_parameter_tails.width_scale",
        "tracking.fakes.fraction_per_track",
        "tracking.fakes.growth_per_interaction",
        "tracking.fakes.direction_spread",
        "tracking.fakes.pt_min_gev",
        "tracking.fakes.pt_mean_above_min_gev",
        "tracking.fakes.d0_sigma_mm",
        "tracking.fakes.z0_sigma_mm",
        "beam_spot.sigma_xy_mm",
        "beam_spot.sigma_z_mm",
        "vertexing.seed_window_mm",
        "vertexing.compatibility_sigma",
        "vertexing.track_pt_min_gev",
        "long_lived_decays.charged_track_min_radius_mm",
        "material.abs_eta_max",
        "material.pileup_z_window_mm",
        "material.conversion_energy_min_gev",
        "material.hadronic_interaction.energy_min_gev",
        "material.hadronic_interaction.charged_multiplicity_mean",
        "material.hadronic_interaction.pt_kick_mean_gev",
        "tracking.pt_resolution.a_per_gev",
        "tracking.pt_resolution.b",
        "tracking.d0_resolution_um.a",
        "tracking.d0_resolution_um.b",
        "tracking.z0_resolution_um.a",
        "tracking.z0_resolution_um.b",
        "calorimeter.abs_eta_max",
        "calorimeter.central_abs_eta_max",
        "calorimeter.em_energy_min_gev",
        "calorimeter.hadronic_energy_min_gev",
        "calorimeter.energy_significance_min",
        "jet_calibration.large_r_energy_scale",
        "jet_calibration.large_r_mass_scale",
        "jet_calibration.higgs_jet_mass_peak_gev",
    ):
        value = need(card, key)
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise DetectorCardError(
                f"detector card {path}: {key} must be a non-negative number, got {value!r}"
            )
    for kind in ("charged_hadron", "electron", "muon"):
        table = need(card, f"tracking.efficiency.{kind}")
        values = np.asarray(table["values"], dtype=float)
        shape = (len(table["abs_eta_edges"]) - 1, len(table["pt_edges_gev"]))
        if values.shape != shape or np.any((values < 0) | (values > 1)):
            raise DetectorCardError(
                f"detector card {path}: tracking.efficiency.{kind}.values "
                f"must be a {shape[0]} x {shape[1]} "
                "table of efficiencies in [0, 1]"
            )
    if need(card, "tracking.impact_parameter_tails.fraction") > 1:
        raise DetectorCardError(
            f"detector card {path}: tracking.impact_parameter_tails.fraction must be in [0, 1]"
        )
    radius_table = need(card, "tracking.production_radius_efficiency")
    radii = np.asarray(radius_table.get("radius_mm", []), dtype=float)
    efficiencies = np.asarray(radius_table.get("efficiency", []), dtype=float)
    if (
        len(radii) < 2
        or radii.shape != efficiencies.shape
        or np.any(np.diff(radii) <= 0)
        or np.any((efficiencies < 0) | (efficiencies > 1))
    ):
        raise DetectorCardError(
            f"detector card {path}: tracking.production_radius_efficiency needs increasing "
            "radius_mm and as many efficiency values in [0, 1]"
        )
    products = need(card, "long_lived_decays.products")
    for pid, species in need(card, "long_lived_decays.species").items():
        channels = species.get("channels", [])
        total = sum(float(c["br"]) for c in channels)
        if not channels or total <= 0 or total > 1.0 + 1e-9:
            raise DetectorCardError(
                f"detector card {path}: long_lived_decays.species.{pid} needs channels whose "
                "branching ratios sum to at most 1"
            )
        for channel in channels:
            daughters = channel["daughters"]
            if len(daughters) != 2 or any(str(abs(d)) not in products for d in daughters):
                raise DetectorCardError(
                    f"detector card {path}: long_lived_decays.species.{pid}: two-body channels "
                    "with daughters listed in long_lived_decays.products only"
                )
    layer_radii = [float(layer["radius_mm"]) for layer in need(card, "material.layers")]
    if not layer_radii or np.any(np.diff(layer_radii) <= 0):
        raise DetectorCardError(
            f"detector card {path}: material.layers must be ordered by increasing radius_mm"
        )
    for kind in ("em_resolution", "hadronic_resolution"):
        table = need(card, f"calorimeter.{kind}")
        n_bins = len(table["abs_eta_edges"]) - 1
        for term in ("constant", "stochastic", "noise_gev"):
            if len(table[term]) != n_bins:
                raise DetectorCardError(
                    f"detector card {path}: calorimeter.{kind}.{term} needs {n_bins} values"
                )
    calo = card["calorimeter"]
    for cell, lo, hi in (
        ("central_cell", 0.0, calo["central_abs_eta_max"]),
        ("forward_cell", calo["central_abs_eta_max"], calo["abs_eta_max"]),
    ):
        n_rings = (hi - lo) / need(card, f"calorimeter.{cell}.deta")
        if abs(n_rings - round(n_rings)) > 1e-6 or int(need(card, f"calorimeter.{cell}.n_phi")) < 1:
            raise DetectorCardError(
                f"detector card {path}: calorimeter.{cell} must tile |eta| {lo}..{hi} "
                "with a whole number of rings"
            )


# --------------------------------------------------------------------------------------------
# kinematics helpers


def _binned(values_by_bin: np.ndarray, edges: np.ndarray, x: np.ndarray) -> np.ndarray:
    """values_by_bin[i] for x in [edges[i], edges[i+1]); the last bin includes its upper edge."""
    index = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    return np.asarray(values_by_bin)[index]


def log_normal(rng: np.random.Generator, mean: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Log-normal with the given mean and standard deviation (Delphes' LogNormal): stays
    positive."""
    mean = np.asarray(mean, dtype=float)
    safe_mean = np.where(mean > 0, mean, 1.0)
    b = np.sqrt(np.log1p((sigma / safe_mean) ** 2))
    a = np.log(safe_mean) - 0.5 * b * b
    return np.where(mean > 0, np.exp(a + b * rng.standard_normal(mean.shape)), 0.0)


# --------------------------------------------------------------------------------------------
# tracking


def helix_perigee(
    vx_mm: np.ndarray,
    vy_mm: np.ndarray,
    vz_mm: np.ndarray,
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    charge: np.ndarray,
    bz_tesla: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Perigee (d0 [mm], z0 [mm], phi0) w.r.t. the z axis of a charged helix in a uniform field.

    Exact helix, no straight-line approximation: the transverse circle through the production
    vertex is intersected with the line from the origin through its centre; the arc length to
    that point of closest approach (negative when it lies behind the production vertex, as for
    decay products) gives z0. Sign convention of ATLAS perigee parameters: the point of closest
    approach is (-d0 sin(phi0), d0 cos(phi0)).
    """
    pt = np.hypot(px, py)
    phi = np.arctan2(py, px)
    radius_mm = 1e3 * pt / (CURVATURE_CONSTANT * np.abs(charge) * bz_tesla)
    # Sense of rotation seen from +z: counter-clockwise (+1) for negative charges in +Bz.
    sense = -np.sign(charge * bz_tesla)
    cx = vx_mm - sense * radius_mm * np.sin(phi)
    cy = vy_mm + sense * radius_mm * np.cos(phi)
    centre_distance = np.hypot(cx, cy)
    scale = 1.0 - radius_mm / centre_distance
    pca_x, pca_y = cx * scale, cy * scale
    # Direction of motion at the point of closest approach: tangent of the circle.
    rel_x, rel_y = pca_x - cx, pca_y - cy
    phi0 = np.arctan2(sense * rel_x, -sense * rel_y)
    d0 = pca_y * np.cos(phi0) - pca_x * np.sin(phi0)
    # Signed turning angle from the production vertex to the point of closest approach.
    start_x, start_y = vx_mm - cx, vy_mm - cy
    turn = np.arctan2(start_x * rel_y - start_y * rel_x, start_x * rel_x + start_y * rel_y)
    arc_mm = sense * turn * radius_mm
    z0 = vz_mm + arc_mm * pz / pt
    return d0, z0, phi0


def impact_parameter_resolution_mm(
    pt: np.ndarray, theta: np.ndarray, a_um: float, b_um: float, sin_power: float
) -> np.ndarray:
    """sigma = sqrt(a^2 + (b / (pT sin(theta)^power))^2), multiple-scattering form; um -> mm."""
    return 1e-3 * np.hypot(a_um, b_um / (pt * np.sin(theta) ** sin_power))


def tracking_efficiency(table: dict[str, Any], pt: np.ndarray, abs_eta: np.ndarray) -> np.ndarray:
    values = np.asarray(table["values"], dtype=float)
    eta_edges = np.asarray(table["abs_eta_edges"], dtype=float)
    pt_edges = np.asarray(table["pt_edges_gev"], dtype=float)
    eta_bin = np.clip(np.searchsorted(eta_edges, abs_eta, side="left") - 1, 0, len(eta_edges) - 2)
    pt_bin = np.searchsorted(pt_edges, pt, side="left") - 1  # pT > edge, as the Delphes formulas
    efficiency = values[eta_bin, np.clip(pt_bin, 0, len(pt_edges) - 1)]
    return np.where((pt_bin >= 0) & (abs_eta <= eta_edges[-1]), efficiency, 0.0)


def production_radius_efficiency(table: dict[str, Any], radius_mm: np.ndarray) -> np.ndarray:
    """Relative tracking efficiency of particles produced at a transverse radius (interpolated)."""
    return np.interp(
        radius_mm,
        np.asarray(table["radius_mm"], dtype=float),
        np.asarray(table["efficiency"], dtype=float),
        right=0.0,
    )


def _flat(event: np.ndarray, n_events: int, columns: dict[str, np.ndarray]) -> FlatEvents:
    """Rows given with their event index (any order) as FlatEvents, grouped by event (stable)."""
    order = np.argsort(event, kind="stable")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(event, minlength=n_events))])
    return FlatEvents(offsets.astype(np.int64), {k: v[order] for k, v in columns.items()})


def smear_impact_parameters(
    d0_true: np.ndarray,
    z0_true: np.ndarray,
    d0_sigma: np.ndarray,
    z0_sigma: np.ndarray,
    tails: dict[str, Any],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Measured (d0, z0, in_tail): Gaussian core, and for a fraction of tracks (the same in d0
    and z0) a Gaussian ``width_scale`` times wider. The reported sigma stays the core one, as a
    track fit does not know a hit was wrong."""
    n = len(d0_true)
    in_tail = rng.random(n) < float(tails["fraction"])
    scale = np.where(in_tail, float(tails["width_scale"]), 1.0)
    d0 = d0_true + scale * d0_sigma * rng.standard_normal(n)
    z0 = z0_true + scale * z0_sigma * rng.standard_normal(n)
    return d0, z0, in_tail


def simulate_tracks(
    particles: Particles, card: dict[str, Any], rng: np.random.Generator
) -> FlatEvents:
    """Reconstructed tracks: acceptance, efficiency, pT smearing and smeared impact parameters.

    Columns: px, py, pz, e (pion mass), pt, eta, phi, charge, d0_mm, z0_mm (w.r.t. the beam line,
    the z axis), d0_sigma_mm, z0_sigma_mm, and the truth d0_true_mm, z0_true_mm, pid,
    production_radius_mm, origin, interaction, ip_tail. Fake tracks are added separately
    (:func:`add_fake_tracks`).
    """
    trk = card["tracking"]
    bz = float(card["magnetic_field"]["bz_tesla"])
    event = particles.event_index
    charged = (particles.charge != 0) & particles.in_tracker
    pt_true, eta, _ = pt_eta_phi(particles.px, particles.py, particles.pz)
    abs_eta = np.abs(eta)
    production_radius = np.hypot(particles.vx_mm, particles.vy_mm)
    radius_efficiency = production_radius_efficiency(
        trk["production_radius_efficiency"], production_radius
    )
    candidate = charged & (abs_eta < trk["abs_eta_max"]) & (pt_true > 0) & (radius_efficiency > 0)
    idx = np.flatnonzero(candidate)
    abs_pid = np.abs(particles.pid[idx])
    efficiency = radius_efficiency[idx] * np.where(
        abs_pid == ELECTRON,
        tracking_efficiency(trk["efficiency"]["electron"], pt_true[idx], abs_eta[idx]),
        np.where(
            abs_pid == MUON,
            tracking_efficiency(trk["efficiency"]["muon"], pt_true[idx], abs_eta[idx]),
            tracking_efficiency(trk["efficiency"]["charged_hadron"], pt_true[idx], abs_eta[idx]),
        ),
    )
    found = rng.random(len(idx)) < efficiency
    resolution = np.hypot(
        trk["pt_resolution"]["a_per_gev"] * pt_true[idx], trk["pt_resolution"]["b"]
    )
    pt_measured = log_normal(rng, pt_true[idx], np.minimum(resolution, 1.0) * pt_true[idx])
    d0_true, z0_true, phi0 = helix_perigee(
        particles.vx_mm[idx],
        particles.vy_mm[idx],
        particles.vz_mm[idx],
        particles.px[idx],
        particles.py[idx],
        particles.pz[idx],
        particles.charge[idx],
        bz,
    )
    theta = 2.0 * np.arctan(np.exp(-eta[idx]))
    d0_sigma = impact_parameter_resolution_mm(
        pt_true[idx], theta, trk["d0_resolution_um"]["a"], trk["d0_resolution_um"]["b"], 0.5
    )
    z0_sigma = impact_parameter_resolution_mm(
        pt_true[idx], theta, trk["z0_resolution_um"]["a"], trk["z0_resolution_um"]["b"], 1.5
    )
    d0, z0, in_tail = smear_impact_parameters(
        d0_true, z0_true, d0_sigma, z0_sigma, trk["impact_parameter_tails"], rng
    )

    keep = found & (pt_measured > trk["pt_min_gev"])
    sel = idx[keep]
    pt = pt_measured[keep]
    phi = phi0[keep]
    track_eta = eta[sel]
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(track_eta)
    e = np.sqrt(px * px + py * py + pz * pz + PION_MASS_GEV**2)
    return _flat(
        event[sel],
        particles.n_events,
        {
            "px": px,
            "py": py,
            "pz": pz,
            "e": e,
            "pt": pt,
            "eta": track_eta,
            "phi": phi,
            "charge": particles.charge[sel].astype(np.float32),
            "d0_mm": d0[keep],
            "z0_mm": z0[keep],
            "d0_sigma_mm": d0_sigma[keep],
            "z0_sigma_mm": z0_sigma[keep],
            "d0_true_mm": d0_true[keep],
            "z0_true_mm": z0_true[keep],
            "pid": particles.pid[sel],
            "production_radius_mm": production_radius[sel],
            "origin": particles.origin[sel],
            "interaction": particles.interaction[sel],
            "ip_tail": in_tail[keep],
            "n_inner_pixel_hits": inner_pixel_hits(
                production_radius[sel], trk["inner_pixel_layer_radii_mm"]
            ),
        },
    )


def inner_pixel_hits(production_radius_mm: np.ndarray, layer_radii_mm: list[float]) -> np.ndarray:
    """Number of the innermost pixel layers a track crosses after its production point (its hits
    there, taking the layers as fully efficient)."""
    radii = np.asarray(layer_radii_mm, dtype=float)
    return (np.asarray(production_radius_mm)[:, None] < radii[None, :]).sum(axis=1).astype(np.int8)


def expected_fake_tracks(
    n_tracks: np.ndarray, n_pileup: np.ndarray, fakes: dict[str, Any]
) -> np.ndarray:
    """Mean number of fake tracks of each event (see the card's tracking.fakes)."""
    rate = float(fakes["fraction_per_track"]) * (
        1.0 + float(fakes["growth_per_interaction"]) * np.asarray(n_pileup, dtype=float)
    )
    return rate * np.asarray(n_tracks, dtype=float)


def add_fake_tracks(
    tracks: FlatEvents, n_pileup: np.ndarray, card: dict[str, Any], rng: np.random.Generator
) -> FlatEvents:
    """``tracks`` plus combinatorial fakes (origin ORIGIN_FAKE), each event's fakes after its
    real tracks. A fake follows a randomly chosen real track of its event (hits of nearby
    particles make fakes in dense jet cores), with broad impact parameters."""
    fakes = card["tracking"]["fakes"]
    trk = card["tracking"]
    n_events = tracks.n_events
    counts = tracks.counts
    n_fake = rng.poisson(expected_fake_tracks(counts, n_pileup, fakes))
    n_fake = np.where(counts > 0, n_fake, 0)
    total = int(n_fake.sum())
    fake_event = np.repeat(np.arange(n_events), n_fake)
    # the real track each fake borrows its direction from
    seed = tracks.offsets[fake_event] + (rng.random(total) * counts[fake_event]).astype(np.int64)
    spread = float(fakes["direction_spread"])
    eta = tracks["eta"][seed] + spread * rng.standard_normal(total)
    phi = (
        np.mod(tracks["phi"][seed] + spread * rng.standard_normal(total) + np.pi, 2 * np.pi) - np.pi
    )
    pt = float(fakes["pt_min_gev"]) + rng.exponential(float(fakes["pt_mean_above_min_gev"]), total)
    theta = 2.0 * np.arctan(np.exp(-eta))
    d0_sigma = impact_parameter_resolution_mm(
        pt, theta, trk["d0_resolution_um"]["a"], trk["d0_resolution_um"]["b"], 0.5
    )
    z0_sigma = impact_parameter_resolution_mm(
        pt, theta, trk["z0_resolution_um"]["a"], trk["z0_resolution_um"]["b"], 1.5
    )
    d0 = float(fakes["d0_sigma_mm"]) * rng.standard_normal(total)
    z0 = tracks["z0_mm"][seed] + float(fakes["z0_sigma_mm"]) * rng.standard_normal(total)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    fake_columns = {
        "px": px,
        "py": py,
        "pz": pz,
        "e": np.sqrt(px * px + py * py + pz * pz + PION_MASS_GEV**2),
        "pt": pt,
        "eta": eta,
        "phi": phi,
        "charge": np.where(rng.random(total) < 0.5, -1.0, 1.0).astype(np.float32),
        "d0_mm": d0,
        "z0_mm": z0,
        "d0_sigma_mm": d0_sigma,
        "z0_sigma_mm": z0_sigma,
        "d0_true_mm": np.full(total, np.nan),
        "z0_true_mm": np.full(total, np.nan),
        "pid": np.zeros(total, tracks["pid"].dtype),
        "production_radius_mm": np.full(total, np.nan),
        "origin": np.full(total, ORIGIN_FAKE, np.int8),
        "interaction": np.full(total, -1, np.int32),
        "ip_tail": np.zeros(total, bool),
        "n_inner_pixel_hits": rng.integers(
            0, len(trk["inner_pixel_layer_radii_mm"]) + 1, total
        ).astype(np.int8),
    }
    real_event = np.repeat(np.arange(n_events), counts)
    return _flat(
        np.concatenate([real_event, fake_event]),
        n_events,
        {
            k: np.concatenate([tracks[k], fake_columns[k].astype(tracks[k].dtype)])
            for k in tracks.columns
        },
    )


# --------------------------------------------------------------------------------------------
# calorimeter


@dataclass(frozen=True)
class TowerGrid:
    """Rings in eta, each cut into n_phi towers; tower id = ring_offset[ring] + phi bin."""

    eta_edges: np.ndarray
    n_phi: np.ndarray
    ring_offset: np.ndarray

    @property
    def n_towers(self) -> int:
        return int(self.ring_offset[-1] + self.n_phi[-1])

    @classmethod
    def from_card(cls, calo: dict[str, Any]) -> TowerGrid:
        central, outer = float(calo["central_abs_eta_max"]), float(calo["abs_eta_max"])
        n_central = round(2 * central / calo["central_cell"]["deta"])
        n_forward = round((outer - central) / calo["forward_cell"]["deta"])
        edges = np.concatenate(
            [
                np.linspace(-outer, -central, n_forward + 1)[:-1],
                np.linspace(-central, central, n_central + 1),
                np.linspace(central, outer, n_forward + 1)[1:],
            ]
        )
        n_phi = np.concatenate(
            [
                np.full(n_forward, calo["forward_cell"]["n_phi"]),
                np.full(n_central, calo["central_cell"]["n_phi"]),
                np.full(n_forward, calo["forward_cell"]["n_phi"]),
            ]
        ).astype(np.int64)
        ring_offset = np.concatenate([[0], np.cumsum(n_phi)[:-1]])
        return cls(edges, n_phi, ring_offset)

    def tower_id(self, eta: np.ndarray, phi: np.ndarray) -> np.ndarray:
        ring = np.clip(
            np.searchsorted(self.eta_edges, eta, side="right") - 1, 0, len(self.n_phi) - 1
        )
        n_phi = self.n_phi[ring]
        phi_bin = np.minimum(
            np.floor((phi + np.pi) / (2 * np.pi) * n_phi).astype(np.int64), n_phi - 1
        )
        return self.ring_offset[ring] + phi_bin

    def cell(self, tower_id: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(eta_low, eta_high, phi_low, phi_high) of towers."""
        ring = np.searchsorted(self.ring_offset, tower_id, side="right") - 1
        width = 2 * np.pi / self.n_phi[ring]
        phi_low = -np.pi + (tower_id - self.ring_offset[ring]) * width
        return self.eta_edges[ring], self.eta_edges[ring + 1], phi_low, phi_low + width


def calorimeter_entry(
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    charge: np.ndarray,
    field: dict[str, Any],
    vz_mm: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(eta, phi, reaches) of the point where a particle enters the calorimeter, seen from the
    nominal interaction point (towers point there).

    Particles start on the beam line at z = ``vz_mm`` (0 if omitted): the luminous region is
    tens of mm long, so a pile-up particle hits a tower of a different eta than one from the
    origin would. Charged particles follow their helix in the solenoid (radius_m, half_length_m,
    bz_tesla) and leave it through the barrel or an end cap; neutral ones fly straight. Particles
    that loop inside and never leave (pT below ~0.3 GeV and hardly any pz) do not reach it.
    """
    vz_m = np.zeros(len(px)) if vz_mm is None else 1e-3 * np.asarray(vz_mm, dtype=float)
    pt, eta, phi = pt_eta_phi(px, py, pz)
    radius_m, half_length_m, bz = field["radius_m"], field["half_length_m"], field["bz_tesla"]
    charged = charge != 0
    with np.errstate(divide="ignore", invalid="ignore"):
        curvature_radius = np.where(
            charged, pt / (CURVATURE_CONSTANT * np.abs(charge) * bz), np.inf
        )
        # transverse arc lengths to the barrel cylinder and to the end-cap plane
        reach = radius_m / (2 * curvature_radius)
        arc_barrel = np.where(
            reach <= 1, 2 * curvature_radius * np.arcsin(np.minimum(reach, 1)), np.inf
        )
        arc_barrel = np.where(charged, arc_barrel, radius_m)
        to_endcap_m = np.maximum(half_length_m - np.sign(pz) * vz_m, 0.0)
        arc_endcap = np.where(pz != 0, to_endcap_m * pt / np.abs(pz), np.inf)
        arc = np.minimum(arc_barrel, arc_endcap)
        reaches = np.isfinite(arc) & (pt > 0)
        arc = np.where(reaches, arc, 0.0)  # loopers: never reach; keep the arithmetic finite
        turn = np.where(charged, arc / curvature_radius, 0.0)
        sense = -np.sign(charge * bz)
        chord = np.where(charged, 2 * curvature_radius * np.abs(np.sin(turn / 2)), arc)
        z = vz_m + arc * pz / pt
        entry_eta = np.where(chord > 0, np.arcsinh(z / chord), eta)
    entry_phi = np.mod(phi + sense * turn / 2 + np.pi, 2 * np.pi) - np.pi
    return entry_eta, entry_phi, reaches


def calorimeter_resolution(
    table: dict[str, Any], energy: np.ndarray, abs_eta: np.ndarray
) -> np.ndarray:
    edges = np.asarray(table["abs_eta_edges"], dtype=float)
    c = _binned(table["constant"], edges, abs_eta)
    s = _binned(table["stochastic"], edges, abs_eta)
    n = _binned(table["noise_gev"], edges, abs_eta)
    return np.sqrt((c * energy) ** 2 + s * s * energy + n * n)


def simulate_towers(
    particles: Particles, card: dict[str, Any], rng: np.random.Generator
) -> FlatEvents:
    """Calorimeter towers: EM and hadronic deposits summed per tower, smeared, thresholded.

    Columns: px, py, pz, e (massless towers), eta, phi, e_em, e_hadronic.
    """
    calo = card["calorimeter"]
    grid = TowerGrid.from_card(calo)
    n_events = particles.n_events
    abs_pid = np.abs(particles.pid)
    visible = ~np.isin(abs_pid, calo["invisible_pids"]) & particles.in_calorimeter
    eta, phi, reaches = calorimeter_entry(
        particles.px,
        particles.py,
        particles.pz,
        particles.charge,
        card["magnetic_field"],
        particles.vz_mm,
    )
    deposit = visible & reaches & (np.abs(eta) < calo["abs_eta_max"])
    idx = np.flatnonzero(deposit)
    energy = particles.e[idx]
    em_fraction = np.zeros(len(idx))
    for pid, fraction in calo["em_fraction"].items():
        em_fraction[abs_pid[idx] == int(pid)] = float(fraction)
    e_em = energy * em_fraction
    e_had = energy - e_em
    muon = abs_pid[idx] == MUON
    e_em[muon] = np.minimum(energy[muon], calo["muon_deposit_gev"]["em"])
    e_had[muon] = np.minimum(energy[muon] - e_em[muon], calo["muon_deposit_gev"]["hadronic"])

    # Sum per (event, tower) with a dense bincount over every tower of every event of the batch
    # (a few million bins), which is far cheaper than sorting the deposits (np.unique).
    key = particles.event_index[idx] * grid.n_towers + grid.tower_id(eta[idx], phi[idx])
    n_bins = n_events * grid.n_towers
    hit = np.bincount(key, minlength=n_bins) > 0
    towers = np.flatnonzero(hit)
    true_em = np.bincount(key, weights=e_em, minlength=n_bins)[towers]
    true_had = np.bincount(key, weights=e_had, minlength=n_bins)[towers]
    event = towers // grid.n_towers
    eta_lo, eta_hi, phi_lo, phi_hi = grid.cell(towers % grid.n_towers)
    centre_abs_eta = np.abs(0.5 * (eta_lo + eta_hi))

    smeared = []
    for true, table, threshold in (
        (true_em, calo["em_resolution"], calo["em_energy_min_gev"]),
        (true_had, calo["hadronic_resolution"], calo["hadronic_energy_min_gev"]),
    ):
        measured = log_normal(rng, true, calorimeter_resolution(table, true, centre_abs_eta))
        sigma = calorimeter_resolution(table, measured, centre_abs_eta)
        passed = (measured > threshold) & (measured > calo["energy_significance_min"] * sigma)
        smeared.append(np.where(passed, measured, 0.0))
    e_em_measured, e_had_measured = smeared
    total = e_em_measured + e_had_measured
    if calo["smear_tower_centre"]:
        u = rng.random((2, len(towers)))
        tower_eta = eta_lo + u[0] * (eta_hi - eta_lo)
        tower_phi = phi_lo + u[1] * (phi_hi - phi_lo)
    else:
        tower_eta, tower_phi = 0.5 * (eta_lo + eta_hi), 0.5 * (phi_lo + phi_hi)
    keep = total > 0
    e = total[keep]
    tower_eta, tower_phi = tower_eta[keep], tower_phi[keep]
    pt = e / np.cosh(tower_eta)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(event[keep], minlength=n_events))])
    return FlatEvents(
        offsets=offsets,
        columns={
            "px": pt * np.cos(tower_phi),
            "py": pt * np.sin(tower_phi),
            "pz": pt * np.sinh(tower_eta),
            "e": e,
            "eta": tower_eta,
            "phi": tower_phi,
            "e_em": e_em_measured[keep],
            "e_hadronic": e_had_measured[keep],
        },
    )
