"""Merge per-chunk features files into train/val/test datasets with training weights.

* Split: every event goes, with all its jets, to one split chosen by a hash of (seed, process,
  chunk, event number), so the assignment never depends on file order, chunking of the work or
  the other events, and no event's jets leak across splits.
* Weights: each jet starts from its generator event weight (1 for unweighted samples; the
  features files carry it), and the background is reweighted in bins of (trimmed-jet pT, |eta|)
  so that its weighted, normalised spectrum equals the signal's; both classes have mean weight 1.
  The ratio is computed once over all splits, so the three splits share one weighting.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from deeppp import DeepppError
from deeppp.contracts import JETS_TREE, PROCESS_LABEL, PROVENANCE_KEY, SPLITS
from deeppp.provenance import provenance
from deeppp.rootio import InputFileError, open_root, write_root
from reconstruction import features
from reconstruction.pipeline import JET_BRANCH_TYPES, describe_error

JET_BRANCHES: tuple[str, ...] = (*features.FEATURE_NAMES, *JET_BRANCH_TYPES)


def read_features_file(
    path: str | os.PathLike[str],
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The ``jets`` tree of a features file as numpy columns, plus its provenance (checked)."""
    path = Path(path)
    with open_root(path) as f:
        if JETS_TREE not in f or PROVENANCE_KEY not in f:
            raise InputFileError(
                f"{path}: not a features file (needs tree '{JETS_TREE}' and '{PROVENANCE_KEY}')"
            )
        tree = f[JETS_TREE]
        missing = [b for b in JET_BRANCHES if b not in tree]
        if missing:
            raise InputFileError(
                f"{path}: tree '{JETS_TREE}' lacks branches {missing[:5]} (wrong schema)"
            )
        try:
            columns = tree.arrays(list(JET_BRANCHES), library="np")
        except Exception as err:
            raise InputFileError(
                f"{path}: cannot read tree '{JETS_TREE}' ({describe_error(err)})"
            ) from err
        record = json.loads(str(f["provenance"]))
    if record.get("process") not in PROCESS_LABEL or not isinstance(record.get("chunk"), int):
        raise InputFileError(
            f"{path}: provenance lacks a valid 'process'/'chunk' (not a features file?)"
        )
    return columns, record


def split_fraction_check(split: dict[str, float]) -> None:
    total = sum(split[name] for name in SPLITS)
    if abs(total - 1.0) > 1e-9:
        raise DeepppError(f"reconstruction.split: train + val + test must be 1, got {total:g}")


def event_uniform(
    seed: int, process: str, chunk: np.ndarray, event_number: np.ndarray
) -> np.ndarray:
    """A uniform number in [0, 1) per event from a hash of (seed, process, chunk, event number)."""
    key = hashlib.sha256(f"deeppp/split/{seed}/{process}".encode()).digest()
    x = np.uint64(int.from_bytes(key[:8], "little"))
    with np.errstate(over="ignore"):
        z = (x ^ (chunk.astype(np.uint64) << np.uint64(40))) + event_number.astype(
            np.uint64
        ) * np.uint64(0x9E3779B97F4A7C15)
        # splitmix64 finaliser: a bijective mixing of the 64-bit key
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def assign_split(uniform: np.ndarray, split: dict[str, float]) -> np.ndarray:
    """Index into SPLITS per entry."""
    edges = np.cumsum([split[name] for name in SPLITS])
    return np.minimum(np.searchsorted(edges, uniform, side="right"), len(SPLITS) - 1)


def flattening_weights(
    pt: np.ndarray,
    abs_eta: np.ndarray,
    label: np.ndarray,
    pt_edges: np.ndarray,
    eta_edges: np.ndarray,
    event_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(per-jet weight, per-bin background weight) flattening the background onto the signal.

    With generator event weights w (1 for unweighted samples): spectra are the weighted sums
    h(bin) = sum of w; w_bkg(bin) = (h_sig(bin) / H_sig) / (h_bkg(bin) / H_bkg); a background
    jet's weight is w * w_bkg(bin), a signal jet's w, each class scaled to mean 1. Background bins
    without signal get weight 0. Unweighted samples: signal 1, background the bin ratio.
    """

    def bins(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
        return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)

    w = np.ones(len(pt)) if event_weight is None else np.asarray(event_weight, dtype=float)
    n_pt, n_eta = len(pt_edges) - 1, len(eta_edges) - 1
    cell = bins(pt, pt_edges) * n_eta + bins(abs_eta, eta_edges)
    signal, background = label == 1, label == 0
    h_sig = np.bincount(cell[signal], weights=w[signal], minlength=n_pt * n_eta)
    h_bkg = np.bincount(cell[background], weights=w[background], minlength=n_pt * n_eta)
    ratio = np.zeros(n_pt * n_eta)
    weight = w.copy()
    if signal.any() and background.any():
        filled = h_bkg > 0
        ratio[filled] = (h_sig[filled] / h_sig.sum()) / (h_bkg[filled] / h_bkg.sum())
        weight[background] = w[background] * ratio[cell[background]]
    for rows in (signal, background):
        total = float(weight[rows].sum())
        if total > 0:
            scale = rows.sum() / total
            weight[rows] *= scale
            if rows is background:
                ratio *= scale
    return weight, ratio.reshape(n_pt, n_eta)


def merge_features(
    feature_files: list[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    config: dict[str, Any],
) -> dict[str, int]:
    """Write ``out_dir/{train,val,test}.root``; returns the number of jets per split."""
    if not feature_files:
        raise DeepppError("merge needs at least one features file")
    section = config["reconstruction"]
    split_fraction_check(section["split"])
    pt_edges = np.asarray(section["weights"]["pt_bin_edges_gev"], dtype=float)
    eta_edges = np.asarray(section["weights"]["abs_eta_bin_edges"], dtype=float)
    for name, edges in (("pt_bin_edges_gev", pt_edges), ("abs_eta_bin_edges", eta_edges)):
        if np.any(np.diff(edges) <= 0):
            raise DeepppError(f"reconstruction.weights.{name}: edges must increase")

    loaded = [(Path(p), *read_features_file(p)) for p in feature_files]
    # Deterministic order, independent of the command line: process (signal first), then chunk.
    loaded.sort(key=lambda item: (-PROCESS_LABEL[item[2]["process"]], item[2]["chunk"]))
    seen: dict[tuple[str, int], Path] = {}
    for path, _, record in loaded:
        key = (record["process"], record["chunk"])
        if key in seen:
            raise DeepppError(
                f"{path}: duplicates {record['process']} chunk {record['chunk']} of {seen[key]}"
            )
        seen[key] = path

    columns = {b: np.concatenate([c[b] for _, c, _ in loaded]) for b in JET_BRANCHES}
    process_of_row = np.concatenate([np.full(len(c["label"]), r["process"]) for _, c, r in loaded])
    uniform = np.empty(len(columns["label"]))
    for process in PROCESS_LABEL:
        rows = process_of_row == process
        uniform[rows] = event_uniform(
            config["seed"], process, columns["chunk"][rows], columns["event_number"][rows]
        )
    split_index = assign_split(uniform, section["split"])
    weight, bin_weights = flattening_weights(
        columns["jet_pt"].astype(float),
        np.abs(columns["jet_eta"].astype(float)),
        columns["label"],
        pt_edges,
        eta_edges,
        event_weight=columns["weight"].astype(float),
    )
    columns["weight"] = weight.astype(np.float32)

    counts: dict[str, int] = {}
    inputs = [
        {"file": path.name, "process": r["process"], "chunk": r["chunk"], "n_jets": len(c["label"])}
        for path, c, r in loaded
    ]
    for index, name in enumerate(SPLITS):
        rows = split_index == index
        counts[name] = int(rows.sum())
        record = provenance(
            "reconstruction",
            config,
            config["seed"],
            split=name,
            feature_names=list(features.FEATURE_NAMES),
            inputs=inputs,
            n_jets=counts[name],
            n_signal=int(np.sum(columns["label"][rows] == 1)),
            n_background=int(np.sum(columns["label"][rows] == 0)),
            split_fractions=dict(section["split"]),
            weight_pt_bin_edges_gev=pt_edges,
            weight_abs_eta_bin_edges=eta_edges,
            background_bin_weights=bin_weights,
        )
        write_root(
            Path(out_dir) / f"{name}.root",
            {JETS_TREE: {b: columns[b][rows] for b in JET_BRANCHES}},
            record,
        )
    return counts
