"""One chunk of events -> one features file: detector simulation, jets, labels, 39 features.

Events are read and processed in batches (``reconstruction.batch_events``, or
``reconstruction.pileup.batch_events`` with pile-up), so memory stays flat for large chunks; each
batch has its own random stream derived from (seed, process, chunk, batch), so a chunk's output
depends only on the config, the seed and (with pile-up) the min-bias library.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot
from tqdm import tqdm

from deeppp import DeepppError
from deeppp.atomic import refuse_overwriting_inputs
from deeppp.contracts import EVENTS_TREE, JETS_TREE, PROCESS_LABEL, TRACK_JETS_TREE
from deeppp.provenance import provenance
from deeppp.rootio import InputFileError, open_root, provenance_of, write_root
from reconstruction import btagging, detector, features, jets, labels, pileup, simulation
from reconstruction.kinematics import pt_eta_phi

logger = logging.getLogger(__name__)

PARTICLE_FIELDS = ("px", "py", "pz", "e", "pid", "charge", "vx", "vy", "vz")
TRUTH_FIELDS = ("px", "py", "pz", "e", "pid", "role")
HADRON_FIELDS = ("px", "py", "pz", "e", "pid", "vx", "vy", "vz", "dx", "dy", "dz")
REQUIRED_BRANCHES: tuple[str, ...] = (
    "event_number",
    *(f"particles_{f}" for f in PARTICLE_FIELDS),
    *(f"truth_{f}" for f in TRUTH_FIELDS),
    *(f"hadrons_{f}" for f in HADRON_FIELDS),
)

DIAGNOSTIC_TRACK_FIELDS = (
    "sd0",
    "btag",
    "pt",
    "d0_mm",
    "d0_sigma_mm",
    "d0_true_mm",
    "production_radius_mm",
    "origin",
    "interaction",
    "ip_tail",
)
EVENT_SUMMARY_TREE = "event_summary"
#: Per-event diagnostics (truth and reconstruction of the interactions), tree ``event_summary``.
EVENT_SUMMARY_TYPES: dict[str, Any] = {
    "event_number": np.int64,
    "n_pileup": np.int32,
    "true_vertex_x_mm": np.float32,
    "true_vertex_y_mm": np.float32,
    "true_vertex_z_mm": np.float32,
    "vertex_x_mm": np.float32,
    "vertex_y_mm": np.float32,
    "vertex_z_mm": np.float32,
    "vertex_n_tracks": np.int32,
    "n_tracks": np.int32,
    "n_fake_tracks": np.int32,
    "n_hard_scatter_tracks": np.int32,
    "rho_gev": np.float32,
}

#: Branches besides the 39 features in the ``jets`` tree (docs/data_contracts.md).
JET_BRANCH_TYPES: dict[str, Any] = {
    "label": np.int32,
    "weight": np.float32,
    "jet_pt": np.float32,
    "jet_eta": np.float32,
    "jet_phi": np.float32,
    "jet_mass": np.float32,
    "event_number": np.int64,
    "chunk": np.int32,
}


@dataclass(frozen=True)
class Settings:
    """The ``reconstruction`` config section, resolved into typed pieces."""

    card: dict[str, Any]
    large_r: jets.LargeRSettings
    variable_r: jets.VariableRSettings
    btag: btagging.BTaggingSettings
    track_jet_max_abs_d0_mm: float
    track_jet_max_abs_z0_sin_theta_mm: float
    higgs_match_dr: float
    background_leading_jets: int
    hadron_pt_min_gev: float
    batch_events: int
    #: mean number of pile-up interactions (0: none) and hard-scatter events per batch with them
    pileup_mu: float
    pileup_batch_events: int

    @property
    def events_per_batch(self) -> int:
        return self.pileup_batch_events if self.pileup_mu > 0 else self.batch_events

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> Settings:
        card = detector.load_detector_card(section["detector_card"])
        return cls(
            card=card,
            large_r=jets.large_r_settings(
                section["large_r"],
                card["jet_calibration"]["large_r_energy_scale"],
                card["jet_calibration"]["large_r_mass_scale"],
                pileup_mu=float(section["pileup"]["mu"]),
            ),
            variable_r=jets.variable_r_settings(section["vr_track_jets"]),
            btag=btagging.btagging_settings(section["btagging"]),
            track_jet_max_abs_d0_mm=section["track_jet_tracks"]["max_abs_d0_mm"],
            track_jet_max_abs_z0_sin_theta_mm=section["track_jet_tracks"][
                "max_abs_z0_sin_theta_mm"
            ],
            higgs_match_dr=section["labels"]["higgs_match_dr"],
            background_leading_jets=section["labels"]["background_leading_jets"],
            hadron_pt_min_gev=section["labels"]["hadron_pt_min_gev"],
            batch_events=section["batch_events"],
            pileup_mu=float(section["pileup"]["mu"]),
            pileup_batch_events=section["pileup"]["batch_events"],
        )


@dataclass(frozen=True)
class ChunkSummary:
    path: Path
    process: str
    chunk: int
    n_events: int
    n_jets: int
    n_large_r_jets: int


def chunk_seed(global_seed: int, process: str, chunk: int) -> int:
    """Seed of the detector simulation of one chunk, independent of the generation seeds."""
    digest = hashlib.sha256(
        f"deeppp/reconstruction/{global_seed}/{process}/{chunk}".encode()
    ).digest()
    return int.from_bytes(digest[:8], "little")


# --------------------------------------------------------------------------------------------
# input


def check_events_file(path: Path, process: str | None = None, chunk: int | None = None) -> int:
    """Validate an events file against the generation contract; return its number of events.

    ``process``/``chunk``, when given, must match the file's provenance: reconstructing chunk 0's
    events as chunk 7 would put the same events into the dataset twice.
    """
    with open_root(path) as f:
        if EVENTS_TREE not in f:
            raise InputFileError(
                f"{path}: no tree '{EVENTS_TREE}' "
                f"(wrong schema; keys: {sorted(f.keys(cycle=False))})"
            )
        tree = f[EVENTS_TREE]
        missing = [b for b in REQUIRED_BRANCHES if b not in tree]
        if missing:
            raise InputFileError(
                f"{path}: tree '{EVENTS_TREE}' lacks branches {missing} (wrong schema)"
            )
        record = provenance_of(f, path) if "provenance" in f else {}
        recorded = record.get("process")
        if process is not None and recorded is not None and recorded != process:
            raise InputFileError(f"{path}: holds '{recorded}' events, not '{process}'")
        if chunk is not None and record.get("chunk", chunk) != chunk:
            raise InputFileError(
                f"{path}: holds the events of chunk {record['chunk']}, not chunk {chunk}"
            )
        return int(tree.num_entries)


def describe_error(err: BaseException) -> str:
    """``Type: message`` on one line (uproot's messages span several)."""
    return f"{type(err).__name__}: {' '.join(str(err).split())}"


#: Per-event branches read when present: the generator's event weight (files written before it
#: existed count as unweighted).
OPTIONAL_BRANCHES: tuple[str, ...] = ("weight",)


def iterate_events(path: Path, batch_events: int) -> Iterator[ak.Array]:
    """Batches of events (flat branches as in the file); a damaged file raises InputFileError."""
    try:
        with uproot.open(path) as f:
            tree = f[EVENTS_TREE]
            optional = [b for b in OPTIONAL_BRANCHES if b in tree]
            yield from tree.iterate(
                [*REQUIRED_BRANCHES, *optional], step_size=batch_events, library="ak"
            )
    except InputFileError:
        raise
    except Exception as err:  # uproot raises many types for truncated baskets
        raise InputFileError(
            f"{path}: cannot read tree '{EVENTS_TREE}' ({describe_error(err)})"
        ) from err


def event_weight(batch: ak.Array) -> np.ndarray:
    """Generator event weight per event (1 when the events file has none)."""
    if "weight" in batch.fields:
        return ak.to_numpy(batch["weight"]).astype(np.float32)
    return np.ones(len(batch), np.float32)


def particles_of(batch: ak.Array) -> detector.Particles:
    counts = ak.to_numpy(ak.num(batch["particles_px"]))
    flat = {f: ak.to_numpy(ak.flatten(batch[f"particles_{f}"])) for f in PARTICLE_FIELDS}
    return detector.Particles(
        offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        px=flat["px"].astype(np.float64),
        py=flat["py"].astype(np.float64),
        pz=flat["pz"].astype(np.float64),
        e=flat["e"].astype(np.float64),
        pid=flat["pid"].astype(np.int32),
        charge=flat["charge"].astype(np.float64),
        vx_mm=flat["vx"].astype(np.float64),
        vy_mm=flat["vy"].astype(np.float64),
        vz_mm=flat["vz"].astype(np.float64),
    )


def _kinematics(batch: ak.Array, prefix: str, fields: tuple[str, ...]) -> ak.Array:
    """Per-event records of ``fields`` plus pt, eta, phi of the ``{prefix}_*`` collection."""
    counts = ak.num(batch[f"{prefix}_px"])
    flat = {
        c: ak.to_numpy(ak.flatten(batch[f"{prefix}_{c}"])).astype(float) for c in ("px", "py", "pz")
    }
    pt, eta, phi = pt_eta_phi(flat["px"], flat["py"], flat["pz"])
    record = {f: ak.flatten(batch[f"{prefix}_{f}"]) for f in fields}
    record.update(pt=pt, eta=eta, phi=phi)
    return ak.unflatten(ak.zip(record), counts)


def _truth_of(batch: ak.Array) -> ak.Array:
    return _kinematics(batch, "truth", ("role",))


def _hadrons_of(batch: ak.Array) -> ak.Array:
    return _kinematics(batch, "hadrons", ("pid",))


# --------------------------------------------------------------------------------------------
# one batch


def select_track_jet_tracks(tracks: detector.FlatEvents, settings: Settings) -> detector.FlatEvents:
    """Tracks that enter VR track jets: |d0| and |z0 sin(theta)| cuts of ATLAS track jets, with
    respect to the hard-scatter primary vertex (the track-to-vertex association that keeps
    pile-up tracks out)."""
    sin_theta = 1.0 / np.cosh(tracks["eta"])
    keep = (np.abs(tracks["d0_mm"]) < settings.track_jet_max_abs_d0_mm) & (
        np.abs(tracks["z0_mm"] * sin_theta) < settings.track_jet_max_abs_z0_sin_theta_mm
    )
    event = np.repeat(np.arange(tracks.n_events), tracks.counts)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(event[keep], minlength=tracks.n_events))])
    return detector.FlatEvents(offsets, {k: v[keep] for k, v in tracks.columns.items()})


@dataclass
class BatchResult:
    """Outputs of one batch: the jets tree rows, the track-jet and event diagnostics."""

    jets: dict[str, np.ndarray]
    track_jets: dict[str, Any]
    event_summary: dict[str, np.ndarray]
    n_large_r_jets: int


def event_summary(
    batch: ak.Array, simulated: simulation.SimulatedEvents, rho: np.ndarray
) -> dict[str, np.ndarray]:
    """Per-event interaction truth and reconstructed primary vertex (diagnostics only)."""
    tracks = simulated.tracks
    event = np.repeat(np.arange(tracks.n_events), tracks.counts)
    n = tracks.n_events
    truth, vertex = simulated.interactions, simulated.vertices
    columns = {
        "event_number": ak.to_numpy(batch["event_number"]),
        "n_pileup": truth.n_pileup,
        "true_vertex_x_mm": truth.hard_scatter_x,
        "true_vertex_y_mm": truth.hard_scatter_y,
        "true_vertex_z_mm": truth.hard_scatter_z,
        "vertex_x_mm": vertex.x,
        "vertex_y_mm": vertex.y,
        "vertex_z_mm": vertex.z,
        "vertex_n_tracks": vertex.n_tracks,
        "n_tracks": tracks.counts,
        "n_fake_tracks": np.bincount(
            event, weights=tracks["origin"] == detector.ORIGIN_FAKE, minlength=n
        ),
        "n_hard_scatter_tracks": np.bincount(
            event, weights=tracks["interaction"] == 0, minlength=n
        ),
        "rho_gev": rho,
    }
    return {k: np.asarray(v).astype(EVENT_SUMMARY_TYPES[k]) for k, v in columns.items()}


def reconstruct_batch(
    batch: ak.Array,
    process: str,
    chunk: int,
    settings: Settings,
    rng: np.random.Generator,
    library: pileup.MinBiasLibrary | None = None,
) -> BatchResult:
    """Detector simulation, jets, labels and features of one batch of events."""
    simulated = simulation.simulate(
        particles_of(batch), settings.card, rng, settings.pileup_mu, library
    )
    tracks = select_track_jet_tracks(simulated.tracks, settings)
    large_r, track_jets = jets.reconstruct(
        simulated.towers, tracks, settings.large_r, settings.variable_r
    )
    jet_event = large_r["event"]

    if process == "signal":
        keep = labels.higgs_matched(
            jet_event, large_r["eta"], large_r["phi"], _truth_of(batch), settings.higgs_match_dr
        )
    else:
        keep = labels.leading_jets(jet_event, settings.background_leading_jets)

    # Track jets of the kept large-R jets only.
    assert track_jets.member_offsets is not None and track_jets.member_index is not None
    n_tj = np.diff(track_jets.parent_offsets)
    tj_keep = np.repeat(keep, n_tj)
    tj_parent = np.repeat(np.arange(len(jet_event)), n_tj)[tj_keep]
    tj_event = jet_event[tj_parent]
    member_counts = np.diff(track_jets.member_offsets)
    members = np.repeat(tj_keep, member_counts)
    member_offsets = np.concatenate([[0], np.cumsum(member_counts[tj_keep])])
    member_index = track_jets.member_index[members]
    px, py, pz, e = (track_jets[c][tj_keep] for c in ("px", "py", "pz", "e"))
    tj_pt, tj_eta, tj_phi = pt_eta_phi(px, py, pz)
    tj_mass = np.sqrt(np.maximum(e * e - px * px - py * py - pz * pz, 0.0))

    jet_tracks = btagging.track_jet_tracks(tracks, tj_event, member_offsets, member_index)
    tags = btagging.tag_track_jets(jet_tracks, tj_phi, settings.btag)
    kept_offsets = np.concatenate([[0], np.cumsum(n_tj[keep])])
    feature_columns = features.assemble_features(
        {
            k: large_r[k][keep]
            for k in ("pt", "eta", "phi", "mass", "d2", "c2", "tau21", "tau32", "sqrt_d12")
        },
        kept_offsets,
        {
            "pt": tj_pt,
            "eta": tj_eta,
            "phi": tj_phi,
            "mass": tj_mass,
            "n_tracks": np.diff(member_offsets).astype(float),
            "sd0_leading": tags["sd0_leading"],
            "n_displaced": tags["n_displaced"].astype(float),
            "sv_mass_gev": tags["sv_mass_gev"],
            "sv_energy_fraction": tags["sv_energy_fraction"],
        },
    )
    event_number = ak.to_numpy(batch["event_number"]).astype(np.int64)
    n_kept = int(keep.sum())
    jet_columns = {
        **feature_columns,
        "label": np.full(n_kept, PROCESS_LABEL[process], np.int32),
        # the generator's event weight; the merge multiplies in the flattening weights
        "weight": event_weight(batch)[jet_event[keep]],
        "jet_pt": large_r["pt"][keep].astype(np.float32),
        "jet_eta": large_r["eta"][keep].astype(np.float32),
        "jet_phi": large_r["phi"][keep].astype(np.float32),
        "jet_mass": large_r["mass"][keep].astype(np.float32),
        "event_number": event_number[jet_event[keep]],
        "chunk": np.full(n_kept, chunk, np.int32),
    }

    # Diagnostics per associated track jet (flavour is truth: plots and tests only).
    radius = settings.variable_r.effective_radius(tj_pt)
    flavour = labels.track_jet_flavour(
        tj_event, tj_eta, tj_phi, radius, _hadrons_of(batch), settings.hadron_pt_min_gev
    )
    kept_jet_number = np.cumsum(keep) - 1  # row of each kept large-R jet within this batch
    rank = np.arange(len(tj_parent)) - np.repeat(kept_offsets[:-1], n_tj[keep])
    diagnostics = {
        "event_number": event_number[tj_event],
        "jet_row": kept_jet_number[tj_parent].astype(np.int64),
        "rank": (rank + 1).astype(np.int32),
        "label": np.full(len(tj_parent), PROCESS_LABEL[process], np.int32),
        "weight": event_weight(batch)[tj_event],
        "flavour": flavour,
        "pt": tj_pt.astype(np.float32),
        "eta": tj_eta.astype(np.float32),
        "radius": radius.astype(np.float32),
        "n_tracks": np.diff(member_offsets).astype(np.int32),
        "n_displaced": tags["n_displaced"].astype(np.int32),
        "sv_mass": tags["sv_mass_gev"].astype(np.float32),
        "sv_energy_fraction": tags["sv_energy_fraction"].astype(np.float32),
        "trk": ak.zip(
            {
                "sd0": ak.values_astype(tags["sd0"], np.float32),
                "btag": ak.values_astype(tags["selected"], np.int8),
                "pt": ak.values_astype(jet_tracks.pt, np.float32),
                "d0_mm": ak.values_astype(jet_tracks.d0_mm, np.float32),
                "d0_sigma_mm": ak.values_astype(jet_tracks.d0_sigma_mm, np.float32),
                "d0_true_mm": ak.values_astype(jet_tracks.d0_true_mm, np.float32),
                "production_radius_mm": ak.values_astype(
                    jet_tracks.production_radius_mm, np.float32
                ),
                "origin": ak.values_astype(jet_tracks.origin, np.int8),
                "interaction": ak.values_astype(jet_tracks.interaction, np.int32),
                "ip_tail": ak.values_astype(jet_tracks.ip_tail, np.int8),
            }
        ),
    }
    rho = large_r.event_rho if large_r.event_rho is not None else np.zeros(len(event_number))
    return BatchResult(
        jet_columns, diagnostics, event_summary(batch, simulated, rho), len(jet_event)
    )


# --------------------------------------------------------------------------------------------
# one chunk


def load_pileup_library(
    settings: Settings, library_path: str | os.PathLike[str] | None
) -> pileup.MinBiasLibrary | None:
    """The min-bias library when the config asks for pile-up; a clear error when it is missing."""
    if settings.pileup_mu <= 0:
        return None
    if library_path is None:
        raise DeepppError(
            f"reconstruction.pileup.mu = {settings.pileup_mu:g} needs a min-bias library "
            "(--pileup-library; the workflow makes it with the rule minbias_library)"
        )
    return pileup.MinBiasLibrary.load(library_path, settings.card["magnetic_field"])


def reconstruct_chunk(
    events_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    config: dict[str, Any],
    process: str,
    chunk: int,
    *,
    pileup_library: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> ChunkSummary:
    """Reconstruct every event of ``events_path`` and write the features file ``out_path``.

    ``config`` is a validated deeppp config (seed + ``reconstruction`` section at least);
    ``pileup_library`` the min-bias events file, needed when ``reconstruction.pileup.mu > 0``.
    Nothing is written unless the whole input was read and processed.
    """
    if process not in PROCESS_LABEL:
        raise DeepppError(f"unknown process {process!r} (choose from {', '.join(PROCESS_LABEL)})")
    if chunk < 0:
        raise DeepppError(f"chunk must be >= 0, got {chunk}")
    events_path, out_path = Path(events_path), Path(out_path)
    refuse_overwriting_inputs(out_path, [events_path])
    settings = Settings.from_config(config["reconstruction"])
    n_events = check_events_file(events_path, process, chunk)
    library = load_pileup_library(settings, pileup_library)
    seed = chunk_seed(config["seed"], process, chunk)

    jet_parts: list[dict[str, np.ndarray]] = []
    diag_parts: list[dict[str, Any]] = []
    summary_parts: list[dict[str, np.ndarray]] = []
    n_large_r = 0
    with tqdm(
        total=n_events,
        unit="ev",
        desc=f"reconstruct {process} {chunk}",
        disable=not progress,
        mininterval=2.0,
    ) as bar:
        for index, batch in enumerate(iterate_events(events_path, settings.events_per_batch)):
            rng = np.random.default_rng([seed, index])
            result = reconstruct_batch(batch, process, chunk, settings, rng, library)
            rows_before = sum(len(p["label"]) for p in jet_parts)
            result.track_jets["jet_row"] = result.track_jets["jet_row"] + rows_before
            jet_parts.append(result.jets)
            diag_parts.append(result.track_jets)
            summary_parts.append(result.event_summary)
            n_large_r += result.n_large_r_jets
            bar.update(len(batch))

    jets_tree = _concatenate(jet_parts, empty=_empty_jets())
    diag_tree = _concatenate(diag_parts, empty=_empty_diagnostics())
    summary_tree = _concatenate(
        summary_parts, empty={k: np.zeros(0, v) for k, v in EVENT_SUMMARY_TYPES.items()}
    )
    n_jets = len(jets_tree["label"])
    record = provenance(
        "reconstruction",
        config,
        config["seed"],
        process=process,
        chunk=chunk,
        input=events_path.name,
        n_events=n_events,
        n_jets=n_jets,
        n_large_r_jets=n_large_r,
        chunk_seed=seed,
        fastjet_version=jets.FASTJET_VERSION,
        detector_card=settings.card,
        pileup_library=library.source if library is not None else None,
        pileup_library_events=library.n_events if library is not None else 0,
        feature_names=list(features.FEATURE_NAMES),
    )
    write_root(
        out_path,
        {JETS_TREE: jets_tree, TRACK_JETS_TREE: diag_tree, EVENT_SUMMARY_TREE: summary_tree},
        record,
    )
    return ChunkSummary(out_path, process, chunk, n_events, n_jets, n_large_r)


def _empty_jets() -> dict[str, np.ndarray]:
    columns = {name: np.zeros(0, features.FEATURE_DTYPE) for name in features.FEATURE_NAMES}
    columns.update({name: np.zeros(0, dtype) for name, dtype in JET_BRANCH_TYPES.items()})
    return columns


_DIAGNOSTIC_TRACK_DTYPES = {
    "btag": np.int8,
    "origin": np.int8,
    "interaction": np.int32,
    "ip_tail": np.int8,
}


def _empty_diagnostics() -> dict[str, Any]:
    """The track_jets tree of a chunk without any event (same branches and types)."""
    int32, float32 = np.zeros(0, np.int32), np.zeros(0, np.float32)
    empty_tracks = ak.unflatten(
        ak.zip(
            {
                name: np.zeros(0, _DIAGNOSTIC_TRACK_DTYPES.get(name, np.float32))
                for name in DIAGNOSTIC_TRACK_FIELDS
            }
        ),
        np.zeros(0, np.int64),
    )
    return {
        "event_number": np.zeros(0, np.int64),
        "jet_row": np.zeros(0, np.int64),
        "rank": int32,
        "label": int32,
        "weight": float32,
        "flavour": int32,
        "pt": float32,
        "eta": float32,
        "radius": float32,
        "n_tracks": int32,
        "n_displaced": int32,
        "sv_mass": float32,
        "sv_energy_fraction": float32,
        "trk": empty_tracks,
    }


def _concatenate(parts: list[dict[str, Any]], empty: dict[str, Any]) -> dict[str, Any]:
    if not parts:
        return empty
    out: dict[str, Any] = {}
    for key in parts[0]:
        values = [p[key] for p in parts]
        out[key] = (
            ak.concatenate(values) if isinstance(values[0], ak.Array) else np.concatenate(values)
        )
    return out
