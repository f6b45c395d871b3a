"""Columnar extraction of what the downstream stages need from Pythia's ``nextBatch`` record.

Everything here works on whole awkward arrays (events x particles); per-species properties that
the record lacks (electric charge, heavy-flavour content) are looked up once per unique PDG id
in Pythia's own particle data table and broadcast with ``np.searchsorted``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import awkward as ak
import numpy as np

#: ``truth_role`` codes (see docs/data_contracts.md).
ROLE_HIGGS = 1
ROLE_HIGGS_B = 2
ROLE_HARD_PARTON = 3

HIGGS_ID = 25
CHARM, BOTTOM = 4, 5


@dataclass
class SpeciesTable:
    """Per-PDG-id properties from Pythia's ParticleData, cached across batches."""

    particle_data: Any
    _ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    _charge: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    _heavy_flavour: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))

    def _extend(self, ids: np.ndarray) -> None:
        new = np.setdiff1d(np.unique(ids), self._ids)
        if new.size == 0:
            return
        pd = self.particle_data
        charge = np.array([pd.charge(int(i)) for i in new], np.float32)
        # 5 for b hadrons, 4 for c hadrons, 0 otherwise; quarkonia (bb, cc) decay strongly/EM and
        # are not the displaced-vertex hadrons b-tagging looks for.
        heavy = np.array(
            [
                abs(pd.heaviestQuark(int(i))) if pd.isHadron(int(i)) and not pd.isOnium(int(i)) else 0
                for i in new
            ],
            np.int8,
        )
        heavy[(heavy != BOTTOM) & (heavy != CHARM)] = 0
        ids_all = np.concatenate([self._ids, new])
        order = np.argsort(ids_all)
        self._ids = ids_all[order]
        self._charge = np.concatenate([self._charge, charge])[order]
        self._heavy_flavour = np.concatenate([self._heavy_flavour, heavy])[order]

    def lookup(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(charge in e, heavy-flavour code) for a flat array of PDG ids."""
        self._extend(ids)
        where = np.searchsorted(self._ids, ids)
        return self._charge[where], self._heavy_flavour[where]


def signal_vetoed(batch: ak.Array) -> np.ndarray:
    """Events of ``HiggsSM:qg2Hq`` that are c g -> H c rather than b g -> H b."""
    return ((np.abs(batch.info.id1) == CHARM) | (np.abs(batch.info.id2) == CHARM)).to_numpy()


def extract(batch: ak.Array, species: SpeciesTable) -> dict[str, ak.Array]:
    """Final-state particles, hard-process truth and weakly decaying b/c hadrons of a batch.

    Returns ``ak.zip`` records keyed ``particles``, ``truth`` and ``hadrons`` with the fields of
    docs/data_contracts.md, ready for :func:`deeppp.rootio.write_root`.
    """
    prt = batch.prt
    counts = ak.num(prt).to_numpy()
    flat = ak.flatten(prt)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    event_of = np.repeat(np.arange(len(counts)), counts)
    pid = ak.to_numpy(flat.id)
    status = ak.to_numpy(flat.status)
    charge, heavy = species.lookup(pid)

    px, py, pz, e = (ak.to_numpy(flat.p[c]) for c in ("px", "py", "pz", "e"))
    # Pythia leaves vProd unset (None) for particles made at the origin.
    vx, vy, vz = (ak.to_numpy(ak.fill_none(flat.vProd[c], 0.0)) for c in ("px", "py", "pz"))
    tau_mm = ak.to_numpy(flat.tau)
    mass = ak.to_numpy(flat.m)
    mother1 = ak.to_numpy(flat.mother1)
    daughter1 = ak.to_numpy(flat.daughter1)
    daughter2 = ak.to_numpy(flat.daughter2)

    def collection(mask: np.ndarray, **fields: np.ndarray) -> ak.Array:
        per_event = np.bincount(event_of[mask], minlength=len(counts))
        return ak.zip({name: ak.unflatten(values[mask], per_event) for name, values in fields.items()})

    kinematics = {"px": px, "py": py, "pz": pz, "e": e, "pid": pid.astype(np.int32)}

    final = status > 0
    particles = collection(final, **kinematics, charge=charge, vx=vx, vy=vy, vz=vz)

    # Weakly decaying heavy hadrons: a b (c) hadron none of whose daughters is a b (c) hadron.
    # This drops excited states (B* -> B gamma) and the copies Pythia makes on recoil.
    lo, hi = _daughter_range(daughter1, daughter2)
    has_daughters = lo > 0
    weak = np.zeros_like(final)
    for flavour in (BOTTOM, CHARM):
        is_flavour = heavy == flavour
        same_flavour_daughters = _count_in_range(is_flavour, offsets, event_of, lo, hi)
        weak |= is_flavour & has_daughters & (same_flavour_daughters == 0)
    # Pythia's decay vertex: vProd + tau * p / m (tau is the proper lifetime in mm/c).
    with np.errstate(divide="ignore", invalid="ignore"):
        flight = np.where(mass > 0, tau_mm / mass, 0.0)
    hadrons = collection(
        weak, **kinematics, vx=vx, vy=vy, vz=vz,
        dx=vx + flight * px, dy=vy + flight * py, dz=vz + flight * pz,
    )

    in_truth = _truth_mask(pid, status, mother1, daughter1, daughter2, offsets, event_of)
    truth = collection(in_truth, **kinematics, role=_truth_roles(pid, status, mother1))
    return {"particles": particles, "truth": truth, "hadrons": hadrons}


def _daughter_range(daughter1: np.ndarray, daughter2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive [lo, hi] daughter index range; Pythia uses d2 = 0 for a single daughter."""
    hi = np.where(daughter2 > 0, np.maximum(daughter1, daughter2), daughter1)
    lo = np.where(daughter2 > 0, np.minimum(daughter1, daughter2), daughter1)
    return lo, hi


def _count_in_range(
    flag: np.ndarray, offsets: np.ndarray, event_of: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """For every particle, how many entries in [lo, hi] of its own event have ``flag`` set."""
    cumulative = np.concatenate([[0], np.cumsum(flag)])
    base = offsets[event_of]
    valid = lo > 0
    upper = np.where(valid, base + hi + 1, 0)
    lower = np.where(valid, base + lo, 0)
    return np.where(valid, cumulative[upper] - cumulative[lower], 0)


def _truth_mask(
    pid: np.ndarray,
    status: np.ndarray,
    mother1: np.ndarray,
    daughter1: np.ndarray,
    daughter2: np.ndarray,
    offsets: np.ndarray,
    event_of: np.ndarray,
) -> np.ndarray:
    """Last Higgs copy, its decay b quarks, and the outgoing hard-process partons."""
    local = np.arange(len(pid)) - offsets[event_of]
    is_higgs = pid == HIGGS_ID
    # The last copy is the Higgs with the highest record index in its event.
    last_index = np.full(len(offsets) - 1, -1)
    np.maximum.at(last_index, event_of[is_higgs], local[is_higgs])
    last_higgs = is_higgs & (local == last_index[event_of])
    mask = last_higgs.copy()
    higgs_global = np.flatnonzero(last_higgs)
    lo, hi = _daughter_range(daughter1[higgs_global], daughter2[higgs_global])
    base = offsets[event_of[higgs_global]]
    for index in (lo, hi):
        mask[base[index > 0] + index[index > 0]] = True
    # Outgoing partons of the 2 -> 2 hard process have mother1 == 3 (the first incoming parton)
    # and |status| 23; the Higgs itself is the intermediate (status -22) of the signal process.
    mask |= _is_hard_outgoing_parton(pid, status, mother1)
    return mask


def _is_hard_outgoing_parton(pid: np.ndarray, status: np.ndarray, mother1: np.ndarray) -> np.ndarray:
    abs_pid = np.abs(pid)
    is_parton = (abs_pid <= 6) | (abs_pid == 21)
    return is_parton & (np.abs(status) == 23) & (mother1 == 3)


def _truth_roles(pid: np.ndarray, status: np.ndarray, mother1: np.ndarray) -> np.ndarray:
    role = np.full(len(pid), ROLE_HIGGS_B, np.int32)
    role[pid == HIGGS_ID] = ROLE_HIGGS
    role[_is_hard_outgoing_parton(pid, status, mother1)] = ROLE_HARD_PARTON
    return role
