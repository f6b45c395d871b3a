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

from deeppp.contracts import TruthRole

#: ``truth_role`` codes (see docs/data_contracts.md).

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
                abs(pd.heaviestQuark(int(i)))
                if pd.isHadron(int(i)) and not pd.isOnium(int(i))
                else 0
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


def _record_columns(batch: ak.Array) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Event offsets and flat numpy columns of the particle record, read straight from the
    awkward layout (no per-field awkward operations: those dominate the cost otherwise)."""
    layout = ak.to_layout(batch.prt)
    if not isinstance(layout, ak.contents.ListOffsetArray):  # e.g. after slicing events
        layout = ak.to_layout(ak.to_packed(batch.prt))
    offsets = np.asarray(layout.offsets, dtype=np.int64)
    record = layout.content[offsets[0] : offsets[-1]]
    offsets = offsets - offsets[0]

    def leaf(node: Any, name: str) -> np.ndarray:
        return np.asarray(node.content(name).data)

    columns = {
        name: leaf(record, name)
        for name in ("id", "status", "mother1", "daughter1", "daughter2", "m", "tau")
    }
    momentum = record.content("p")
    for name in ("px", "py", "pz", "e"):
        columns[name] = leaf(momentum, name)
    # Pythia leaves vProd unset (None) for particles made at the origin.
    vertex = record.content("vProd")
    index = np.asarray(vertex.index)
    present = index >= 0
    for name, axis in (("vx", "px"), ("vy", "py"), ("vz", "pz")):
        values = leaf(vertex.content, axis)
        columns[name] = (
            np.where(present, values[np.where(present, index, 0)], 0.0)
            if len(values)
            else np.zeros(len(index))
        )
    return offsets, columns


def _collection(
    mask: np.ndarray, event_of: np.ndarray, n_events: int, fields: dict[str, np.ndarray]
) -> ak.Array:
    """Particles selected by ``mask`` as an events x particles record array (one shared counter)."""
    per_event = np.bincount(event_of[mask], minlength=n_events)
    offsets = np.concatenate([[0], np.cumsum(per_event)]).astype(np.int64)
    record = ak.contents.RecordArray(
        [ak.contents.NumpyArray(np.ascontiguousarray(values[mask])) for values in fields.values()],
        list(fields),
    )
    return ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(offsets), record))


def extract(batch: ak.Array, species: SpeciesTable) -> dict[str, ak.Array]:
    """Final-state particles, hard-process truth and weakly decaying b/c hadrons of a batch.

    Returns records keyed ``particles``, ``truth`` and ``hadrons`` with the fields of
    docs/data_contracts.md, ``pthat`` (GeV, the hard process's pT) and ``weight`` (the
    generator's event weight) per event, ready for
    :func:`deeppp.rootio.write_root`. Momenta and vertices are
    stored as float32 (relative precision 6e-8: far below any detector resolution), which halves
    the file size and the compression time.
    """
    offsets, col = _record_columns(batch)
    n_events = len(offsets) - 1
    event_of = np.repeat(np.arange(n_events), np.diff(offsets))
    pid = col["id"]
    charge, heavy = species.lookup(pid)
    f32 = {name: col[name].astype(np.float32) for name in ("px", "py", "pz", "e", "vx", "vy", "vz")}
    kinematics = {
        "px": f32["px"],
        "py": f32["py"],
        "pz": f32["pz"],
        "e": f32["e"],
        "pid": pid.astype(np.int32),
    }
    vertex = {"vx": f32["vx"], "vy": f32["vy"], "vz": f32["vz"]}

    final = col["status"] > 0
    particles = _collection(final, event_of, n_events, {**kinematics, "charge": charge, **vertex})

    # Weakly decaying heavy hadrons: a b (c) hadron none of whose daughters is a b (c) hadron.
    # This drops excited states (B* -> B gamma) and the copies Pythia makes on recoil.
    weak = np.zeros_like(final)
    for flavour in (BOTTOM, CHARM):
        is_flavour = heavy == flavour
        candidates = np.flatnonzero(is_flavour)
        lo, hi = _daughter_range(col["daughter1"][candidates], col["daughter2"][candidates])
        base = offsets[event_of[candidates]]
        same_flavour_daughters = _count_in_range(is_flavour, base, lo, hi)
        weak[candidates[(lo > 0) & (same_flavour_daughters == 0)]] = True
    # Pythia's decay vertex: vProd + tau * p / m (tau is the proper lifetime in mm/c).
    with np.errstate(divide="ignore", invalid="ignore"):
        flight = np.where(col["m"] > 0, col["tau"] / col["m"], 0.0)
    decay = {
        f"d{axis}": (col[f"v{axis}"] + flight * col[f"p{axis}"]).astype(np.float32)
        for axis in ("x", "y", "z")
    }
    hadrons = _collection(weak, event_of, n_events, {**kinematics, **vertex, **decay})

    status, mother1 = col["status"], col["mother1"]
    in_truth = _truth_mask(
        pid, status, mother1, col["daughter1"], col["daughter2"], offsets, event_of
    )
    truth = _collection(
        in_truth, event_of, n_events, {**kinematics, "role": _truth_roles(pid, status, mother1)}
    )
    return {
        "particles": particles,
        "truth": truth,
        "hadrons": hadrons,
        "pthat": np.sqrt(np.asarray(batch.info.pT2Hat, dtype=np.float64)).astype(np.float32),
        "weight": event_weights(batch),
    }


def event_weights(batch: ak.Array) -> np.ndarray:
    """Pythia's event weight (its nominal one, the first of ``info.weights``): 1 for unweighted
    generation, ~ pTHat^-bias2SelectionPow when PhaseSpace:bias2Selection over-samples high
    pTHat."""
    weights = np.asarray(batch.info.weights, dtype=np.float64)
    nominal = weights[:, 0] if weights.ndim == 2 else weights
    return nominal.astype(np.float32)


def _daughter_range(daughter1: np.ndarray, daughter2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive [lo, hi] daughter index range; Pythia uses d2 = 0 for a single daughter."""
    hi = np.where(daughter2 > 0, np.maximum(daughter1, daughter2), daughter1)
    lo = np.where(daughter2 > 0, np.minimum(daughter1, daughter2), daughter1)
    return lo, hi


def _count_in_range(
    flag: np.ndarray, base: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """How many entries of ``flag`` are set in the event-local index range [lo, hi] (global
    index = ``base`` + local index); 0 where there is no range (lo == 0)."""
    cumulative = np.concatenate([[0], np.cumsum(flag)])
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


def _is_hard_outgoing_parton(
    pid: np.ndarray, status: np.ndarray, mother1: np.ndarray
) -> np.ndarray:
    abs_pid = np.abs(pid)
    is_parton = (abs_pid <= 6) | (abs_pid == 21)
    return is_parton & (np.abs(status) == 23) & (mother1 == 3)


def _truth_roles(pid: np.ndarray, status: np.ndarray, mother1: np.ndarray) -> np.ndarray:
    role = np.full(len(pid), TruthRole.HIGGS_B, np.int32)
    role[pid == HIGGS_ID] = TruthRole.HIGGS
    role[_is_hard_outgoing_parton(pid, status, mother1)] = TruthRole.HARD_PARTON
    return role
