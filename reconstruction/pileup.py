"""Interactions in the luminous region: the hard scatter and Poisson(mu) pile-up from a library.

The hard-scatter event is moved to a vertex drawn from the beam spot. With ``mu > 0`` each event
also receives Poisson(mu) minimum-bias interactions drawn at random (with replacement) from a
pre-generated library, each rotated by a random azimuth and placed at its own vertex in the
luminous region, as Delphes' PileUpMerger does (cards/delphes_card_ATLAS_PileUp.tcl). The library
is an events file of ``python -m generation --process minbias`` (Pythia 8
``SoftQCD:nonDiffractive``, ATLAS A3 tune), made once by its own workflow rule and reused by every
chunk with different random draws.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import uproot

from deeppp.contracts import EVENTS_TREE, PROVENANCE_KEY
from deeppp.rootio import InputFileError, provenance_of
from reconstruction.detector import Particles, calorimeter_entry
from reconstruction.kinematics import pt_eta_phi
from reconstruction.vertexing import sample_vertices

logger = logging.getLogger(__name__)

#: Library particles that can never matter are dropped when it is loaded: neutrinos (invisible),
#: particles beyond this |eta| (outside the calorimeter even from a displaced vertex), and charged
#: particles below the tracking threshold that loop inside the solenoid (no track, no deposit).
LIBRARY_ABS_ETA_MAX = 5.2
LOOPER_PT_MAX_GEV = 0.45
_INVISIBLE = (12, 14, 16)
_LIBRARY_FIELDS = ("px", "py", "pz", "e", "pid", "charge", "vx", "vy", "vz")


@dataclass(frozen=True)
class MinBiasLibrary:
    """Minimum-bias events, flat (float32 momenta and vertices in mm, as stored)."""

    offsets: np.ndarray
    columns: dict[str, np.ndarray]
    source: str

    @property
    def n_events(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], field: dict[str, Any] | None = None
    ) -> MinBiasLibrary:
        """Read the particles of a min-bias events file; a damaged file is an InputFileError.

        With the card's ``magnetic_field``, charged loopers (see LOOPER_PT_MAX_GEV) are dropped."""
        path = Path(path)
        try:
            with uproot.open(path) as f:
                record = provenance_of(f, path) if PROVENANCE_KEY in f else {}
                if record.get("process", "minbias") != "minbias":
                    raise InputFileError(
                        f"{path}: holds '{record['process']}' events, not a min-bias library"
                    )
                tree = f[EVENTS_TREE]
                arrays = tree.arrays(
                    [f"particles_{name}" for name in _LIBRARY_FIELDS], library="ak"
                )
        except FileNotFoundError as err:
            raise InputFileError(f"{path}: min-bias library does not exist") from err
        except InputFileError:
            raise
        except Exception as err:  # uproot raises many types for damaged files
            raise InputFileError(
                f"{path}: cannot read the min-bias library ({type(err).__name__}: "
                f"{' '.join(str(err).split())})"
            ) from err
        import awkward as ak

        counts = ak.to_numpy(ak.num(arrays["particles_px"]))
        flat = {
            name: ak.to_numpy(ak.flatten(arrays[f"particles_{name}"])) for name in _LIBRARY_FIELDS
        }
        if counts.sum() == 0:
            raise InputFileError(f"{path}: the min-bias library holds no particles")
        _, eta, _ = pt_eta_phi(
            flat["px"].astype(float), flat["py"].astype(float), flat["pz"].astype(float)
        )
        keep = ~np.isin(np.abs(flat["pid"]), _INVISIBLE) & (np.abs(eta) < LIBRARY_ABS_ETA_MAX)
        if field is not None:
            _, _, reaches = calorimeter_entry(
                flat["px"].astype(float),
                flat["py"].astype(float),
                flat["pz"].astype(float),
                flat["charge"].astype(float),
                field,
            )
            pt = np.hypot(flat["px"].astype(float), flat["py"].astype(float))
            keep &= reaches | (flat["charge"] == 0) | (pt > LOOPER_PT_MAX_GEV)
        event = np.repeat(np.arange(len(counts)), counts)
        offsets = np.concatenate([[0], np.cumsum(np.bincount(event[keep], minlength=len(counts)))])
        # Stored in the dtypes of the simulation (float64 kinematics and vertices, float64
        # charge, int32 id), so that overlaying is a plain gather.
        dtypes = {"pid": np.int32}
        library = cls(
            offsets=offsets.astype(np.int64),
            columns={
                name: values[keep].astype(dtypes.get(name, np.float64))
                for name, values in flat.items()
            },
            source=path.name,
        )
        logger.info(
            "min-bias library %s: %d events, %.0f particles per event kept",
            path,
            library.n_events,
            keep.sum() / max(len(counts), 1),
        )
        return library


@dataclass(frozen=True)
class Interactions:
    """Truth of the interactions of each event: hard-scatter vertex (mm), pile-up count."""

    hard_scatter_x: np.ndarray
    hard_scatter_y: np.ndarray
    hard_scatter_z: np.ndarray
    n_pileup: np.ndarray


def place_interactions(
    hard: Particles,
    beam_spot: dict[str, Any],
    rng: np.random.Generator,
    mu: float = 0.0,
    library: MinBiasLibrary | None = None,
) -> tuple[Particles, Interactions]:
    """Hard-scatter particles moved to a beam-spot vertex, plus Poisson(mu) pile-up interactions
    (``interaction`` = 1, 2, ... for them; each event's hard scatter first)."""
    n_events = hard.n_events
    x_hs, y_hs, z_hs = sample_vertices(n_events, beam_spot, rng)
    event = hard.event_index
    columns = hard.columns()
    columns = {
        **columns,
        "vx_mm": columns["vx_mm"] + x_hs[event],
        "vy_mm": columns["vy_mm"] + y_hs[event],
        "vz_mm": columns["vz_mm"] + z_hs[event],
    }
    n_pileup = np.zeros(n_events, np.int64)
    if mu > 0:
        if library is None:
            raise ValueError("pile-up requested (mu > 0) without a min-bias library")
        n_pileup = rng.poisson(mu, n_events)
        total = int(n_pileup.sum())
        drawn = rng.integers(0, library.n_events, total)
        rotation = rng.uniform(-np.pi, np.pi, total)
        x_pu, y_pu, z_pu = sample_vertices(total, beam_spot, rng)
        counts = np.diff(library.offsets)[drawn]
        n_hard, n_new = len(event), int(counts.sum())
        # index of every library particle of every drawn interaction
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        index = np.repeat(library.offsets[drawn] - first, counts) + np.arange(n_new)
        which = np.repeat(np.arange(total), counts)  # interaction (within the batch) of each
        cos_r, sin_r = np.cos(rotation)[which], np.sin(rotation)[which]
        rank = np.arange(total) - np.repeat(
            np.concatenate([[0], np.cumsum(n_pileup)[:-1]]), n_pileup
        )
        lib = library.columns
        # The hard scatter first, then the pile-up, written straight into preallocated columns.
        merged = {name: np.empty(n_hard + n_new, values.dtype) for name, values in columns.items()}
        for name, values in columns.items():
            merged[name][:n_hard] = values
        pu = slice(n_hard, None)
        px, py = lib["px"][index], lib["py"][index]
        merged["px"][pu] = px * cos_r - py * sin_r
        merged["py"][pu] = px * sin_r + py * cos_r
        vx, vy = lib["vx"][index], lib["vy"][index]
        merged["vx_mm"][pu] = vx * cos_r - vy * sin_r + x_pu[which]
        merged["vy_mm"][pu] = vx * sin_r + vy * cos_r + y_pu[which]
        merged["vz_mm"][pu] = lib["vz"][index] + z_pu[which]
        for name in ("pz", "e", "pid", "charge"):
            merged[name][pu] = lib[name][index]
        merged["origin"][pu] = 0
        merged["interaction"][pu] = rank[which] + 1
        merged["in_calorimeter"][pu] = True
        merged["in_tracker"][pu] = True
        columns = merged
        event = np.concatenate([event, np.repeat(np.arange(n_events), n_pileup)[which]])
    return (
        Particles.from_columns(event, n_events, columns),
        Interactions(x_hs, y_hs, z_hs, n_pileup),
    )
