"""Decays in flight of the long-lived hadrons that generation leaves stable (K0S, Lambda, ...).

Generation runs with ``ParticleDecays:limitTau0`` (c*tau > 10 mm stable), as ATLAS generator
set-ups do, so that the detector simulation decays those particles where they actually decay:
here, as Geant4 would, along their flight through the tracker. Each candidate gets a decay length
(p / m) * c*tau * Exp(1); if the decay point lies inside the solenoid volume, the particle is
replaced by its two-body decay products (exact kinematics, isotropic in the rest frame, channel
drawn from the branching ratios of the detector card), produced at that point. Products that are
themselves listed (Lambda from Xi, pi0 from K0S) decay in the next round. Parameters:
``long_lived_decays`` of the detector card; model and choices: docs/detector.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from reconstruction.detector import ORIGIN_DECAY, Particles
from reconstruction.kinematics import two_body_decay

#: Species that are their own antiparticle: their products are not charge-conjugated.
SELF_CONJUGATE = frozenset({22, 111, 130, 310})
#: Rounds of decays: Omega -> Xi -> Lambda -> p pi, and pi0 -> gamma gamma after each.
MAX_GENERATIONS = 6


@dataclass(frozen=True)
class DecayTable:
    """The card's decay table as arrays indexed by species row."""

    pids: np.ndarray  # species PDG ids (positive)
    mass_gev: np.ndarray
    ctau_mm: np.ndarray
    channel_species: np.ndarray  # row of each channel's species
    channel_cumulative_br: np.ndarray  # cumulative BR within the species, renormalised to 1
    channel_daughters: np.ndarray  # (n_channels, 2) daughter ids for the particle (not the anti)
    product_ids: np.ndarray  # sorted |PDG id| of possible products
    product_mass_gev: np.ndarray
    product_charge: np.ndarray

    @classmethod
    def from_card(cls, section: dict[str, Any]) -> DecayTable:
        species = sorted(section["species"].items(), key=lambda kv: int(kv[0]))
        pids = np.array([int(k) for k, _ in species])
        channel_species, cumulative, daughters = [], [], []
        for row, (_, spec) in enumerate(species):
            brs = np.array([float(c["br"]) for c in spec["channels"]])
            for br, channel in zip(np.cumsum(brs) / brs.sum(), spec["channels"], strict=True):
                channel_species.append(row)
                cumulative.append(br)
                daughters.append([int(d) for d in channel["daughters"]])
        products = sorted(section["products"].items(), key=lambda kv: int(kv[0]))
        return cls(
            pids=pids,
            mass_gev=np.array([float(s["mass_gev"]) for _, s in species]),
            ctau_mm=np.array([float(s["ctau_mm"]) for _, s in species]),
            channel_species=np.array(channel_species),
            channel_cumulative_br=np.array(cumulative),
            channel_daughters=np.array(daughters, dtype=np.int64),
            product_ids=np.array([int(k) for k, _ in products]),
            product_mass_gev=np.array([float(v["mass_gev"]) for _, v in products]),
            product_charge=np.array([float(v["charge"]) for _, v in products]),
        )

    def species_row(self, pid: np.ndarray) -> np.ndarray:
        """Row of each |pid| in the species table, -1 for particles that are not decayed here."""
        # a dense lookup over the ids up to the largest listed one: one gather per particle
        lookup = np.full(int(self.pids.max()) + 2, -1, np.int64)
        lookup[self.pids] = np.arange(len(self.pids))
        return lookup[np.minimum(np.abs(pid), len(lookup) - 1)]

    def product(self, pid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mass, charge) of products given with their signed PDG ids."""
        a = np.abs(pid)
        where = np.searchsorted(self.product_ids, a)
        return self.product_mass_gev[where], self.product_charge[where] * np.sign(pid)


def decay_point_inside(
    x_mm: np.ndarray, y_mm: np.ndarray, z_mm: np.ndarray, field: dict[str, Any]
) -> np.ndarray:
    """Inside the solenoid volume (the tracker and its services), where Geant4 would decay it."""
    return (np.hypot(x_mm, y_mm) < 1e3 * float(field["radius_m"])) & (
        np.abs(z_mm) < 1e3 * float(field["half_length_m"])
    )


def decay_in_flight(
    particles: Particles, card: dict[str, Any], rng: np.random.Generator
) -> Particles:
    """``particles`` with every listed long-lived species that decays inside the solenoid volume
    replaced by its decay products (origin ORIGIN_DECAY, same interaction). The decayed parent
    stays in the record with ``in_calorimeter`` False; it keeps ``in_tracker`` only when charged
    and decaying beyond ``charged_track_min_radius_mm`` (it left a full track first).
    """
    section = card["long_lived_decays"]
    table = DecayTable.from_card(section)
    min_track_radius = float(section["charged_track_min_radius_mm"])
    base = particles.columns()
    event = particles.event_index
    n_events = particles.n_events
    # The two flags change for decayed parents: copies of those two columns only.
    in_calorimeter = base["in_calorimeter"].copy()
    in_tracker = base["in_tracker"].copy()
    new_blocks: list[dict[str, np.ndarray]] = []
    new_events: list[np.ndarray] = []
    # Round 1 looks at every particle; each later round at the previous round's products.
    todo = {
        name: base[name]
        for name in ("px", "py", "pz", "e", "pid", "charge", "vx_mm", "vy_mm", "vz_mm")
    }
    todo_index: np.ndarray | None = None  # rows of the current candidates' block (None: base)
    todo_event = event
    for _ in range(MAX_GENERATIONS):
        row = table.species_row(todo["pid"])
        candidate = np.flatnonzero(row >= 0)
        if todo_index is None:
            candidate = candidate[in_calorimeter[candidate]]
        if candidate.size == 0:
            break
        r = row[candidate]
        px, py, pz = (todo[c][candidate].astype(float) for c in ("px", "py", "pz"))
        p = np.sqrt(px * px + py * py + pz * pz)
        flight = np.where(p > 0, p / table.mass_gev[r] * table.ctau_mm[r], 0.0) * rng.exponential(
            1.0, len(candidate)
        )
        unit = np.divide(np.stack([px, py, pz]), p, out=np.zeros((3, len(p))), where=p > 0)
        dx, dy, dz = (
            todo[v][candidate] + flight * u
            for v, u in zip(("vx_mm", "vy_mm", "vz_mm"), unit, strict=True)
        )
        decays = decay_point_inside(dx, dy, dz, card["magnetic_field"])
        parents = candidate[decays]
        if parents.size == 0:
            break
        r, px, py, pz = r[decays], px[decays], py[decays], pz[decays]
        dx, dy, dz = dx[decays], dy[decays], dz[decays]
        # channel: count the cumulative branching ratios of the species below a uniform number
        first = np.searchsorted(table.channel_species, r, side="left")
        n_channels = np.searchsorted(table.channel_species, r, side="right") - first
        u = rng.random(len(parents))
        channel = first.copy()
        for offset in range(int(n_channels.max()) - 1):
            below = u > table.channel_cumulative_br[first + np.minimum(offset, n_channels - 1)]
            channel += ((offset < n_channels - 1) & below).astype(channel.dtype)
        sign = np.where(todo["pid"][parents] < 0, -1, 1)
        daughter_ids = table.channel_daughters[channel]
        conjugate = ~np.isin(np.abs(daughter_ids), list(SELF_CONJUGATE))
        daughter_ids = np.where(conjugate, daughter_ids * sign[:, None], daughter_ids)
        m1, q1 = table.product(daughter_ids[:, 0])
        m2, q2 = table.product(daughter_ids[:, 1])
        first_p4, second_p4 = two_body_decay(
            (px, py, pz, todo["e"][parents]), table.mass_gev[r], m1, m2, rng
        )
        # the parent leaves the calorimeter record; a charged one keeps its track if it decays
        # after a full track's worth of layers
        keeps_track = (todo["charge"][parents] != 0) & (np.hypot(dx, dy) >= min_track_radius)
        if todo_index is None:
            in_calorimeter[parents] = False
            in_tracker[parents] &= keeps_track
        else:
            previous = new_blocks[-1]
            previous["in_calorimeter"][parents] = False
            previous["in_tracker"][parents] &= keeps_track
        parent_event = todo_event[parents]
        n_new = 2 * len(parents)
        block = {
            "px": np.concatenate([first_p4[0], second_p4[0]]),
            "py": np.concatenate([first_p4[1], second_p4[1]]),
            "pz": np.concatenate([first_p4[2], second_p4[2]]),
            "e": np.concatenate([first_p4[3], second_p4[3]]),
            "pid": np.concatenate([daughter_ids[:, 0], daughter_ids[:, 1]]),
            "charge": np.concatenate([q1, q2]),
            "vx_mm": np.concatenate([dx, dx]),
            "vy_mm": np.concatenate([dy, dy]),
            "vz_mm": np.concatenate([dz, dz]),
            "origin": np.full(n_new, ORIGIN_DECAY, np.int8),
            "interaction": np.concatenate([todo_interaction(base, todo, todo_index, parents)] * 2),
            "in_calorimeter": np.ones(n_new, bool),
            "in_tracker": np.ones(n_new, bool),
        }
        block = {
            name: values.astype(base[name].dtype, copy=False) for name, values in block.items()
        }
        new_blocks.append(block)
        new_events.append(np.concatenate([parent_event, parent_event]))
        todo = block
        todo_index = np.arange(n_new)
        todo_event = new_events[-1]
    columns = {
        name: np.concatenate(
            [
                in_calorimeter
                if name == "in_calorimeter"
                else in_tracker
                if name == "in_tracker"
                else base[name]
            ]
            + [block[name] for block in new_blocks]
        )
        for name in base
    }
    event = np.concatenate([event, *new_events])
    return Particles.from_columns(event, n_events, columns)


def todo_interaction(
    base: dict[str, np.ndarray],
    todo: dict[str, np.ndarray],
    todo_index: np.ndarray | None,
    parents: np.ndarray,
) -> np.ndarray:
    """The interaction (hard scatter / pile-up index) of the decaying parents."""
    source = base["interaction"] if todo_index is None else todo["interaction"]
    return source[parents]
