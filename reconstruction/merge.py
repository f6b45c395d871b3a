"""Merge per-chunk features files into train/val/test datasets with training weights.

* Provenance: every input must come from the same production as this merge's config (global
  seed, the reconstruction settings that shape features, the detector card's content); a file
  made with other settings is refused by name rather than mixed in.
* Split: every event goes, with all its jets, to one split chosen by a hash of (seed, process,
  chunk, event number), so the assignment never depends on file order, chunking of the work or
  the other events, and no event's jets leak across splits.
* Weights: each jet starts from its generator event weight (1 for unweighted samples; the
  features files carry it), and the background is reweighted in bins of (trimmed-jet pT, |eta|)
  so that its weighted, normalised spectrum equals the signal's; both classes have mean weight 1.
  The ratio is computed once over all splits, so the three splits share one weighting.
* Order: the rows of each split are shuffled with a seeded permutation (recorded in the
  provenance), so any first-N-jets subset holds both classes at the split's fractions instead
  of all signal first.
* Writing: the three splits are one set (``deeppp.atomic.atomic_outputs``): a failure leaves the
  previous dataset complete, never train.root of one run beside test.root of another.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from deeppp import DeepppError
from deeppp.atomic import atomic_outputs, refuse_overwriting_inputs
from deeppp.contracts import JETS_TREE, PROCESS_LABEL, PROVENANCE_KEY, SPLITS, dataset_file_name
from deeppp.provenance import provenance
from deeppp.rootio import InputFileError, open_root, provenance_of, write_root
from reconstruction import features
from reconstruction.pipeline import JET_BRANCH_TYPES, describe_error
from reconstruction.validation import bin_edges_check, check_detector_card, split_fraction_check

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
        record = provenance_of(f, path)
    if record.get("process") not in PROCESS_LABEL or not isinstance(record.get("chunk"), int):
        raise InputFileError(
            f"{path}: provenance lacks a valid 'process'/'chunk' (not a features file?)"
        )
    return columns, record


#: Keys of the reconstruction section that only the merge (or the plots) read: they may differ
#: between the features files and the merge without changing a single feature.
MERGE_ONLY_KEYS = ("split", "weights", "plot_max_chunks")


def canonical_digest(value: Any) -> str:
    """sha256 of ``value`` as canonical JSON (as it reads back from a provenance record)."""
    as_stored = json.loads(json.dumps(value, default=_jsonable))
    return hashlib.sha256(json.dumps(as_stored, sort_keys=True).encode()).hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def feature_production(config: dict[str, Any]) -> dict[str, Any]:
    """What makes two features files comparable: seed, feature-shaping settings, card digest."""
    section = config["reconstruction"]
    settings = {k: v for k, v in section.items() if k not in (*MERGE_ONLY_KEYS, "detector_card")}
    return {
        "seed": config["seed"],
        "reconstruction": json.loads(json.dumps(settings, default=_jsonable)),
        "detector_card_sha256": canonical_digest(check_detector_card(section["detector_card"])),
        "feature_names": list(features.FEATURE_NAMES),
    }


def production_of(path: Path, record: dict[str, Any]) -> dict[str, Any]:
    """:func:`feature_production` as recorded in a features file's provenance."""
    section = (record.get("config") or {}).get("reconstruction")
    card = record.get("detector_card")
    if not isinstance(section, dict) or not isinstance(card, dict):
        raise InputFileError(
            f"{path}: provenance lacks the reconstruction config or detector card "
            "(not written by python -m reconstruction run?)"
        )
    return {
        "seed": record.get("seed"),
        "reconstruction": {
            k: v for k, v in section.items() if k not in (*MERGE_ONLY_KEYS, "detector_card")
        },
        "detector_card_sha256": canonical_digest(card),
        "feature_names": record.get("feature_names"),
    }


def _differences(made: Any, wanted: Any, where: str = "") -> Iterator[str]:
    """Dotted keys at which two JSON-like values differ, with both values."""
    if isinstance(made, dict) and isinstance(wanted, dict):
        for key in sorted(set(made) | set(wanted), key=str):
            yield from _differences(
                made.get(key, "<absent>"), wanted.get(key, "<absent>"), f"{where}.{key}"
            )
    elif made != wanted:
        key = where.lstrip(".")
        if key == "detector_card_sha256":
            yield (
                f"another detector card (sha256 {str(made)[:12]}..., this merge: {wanted[:12]}...)"
            )
        else:
            yield f"{key} = {made!r} (this merge: {wanted!r})"


def check_same_production(path: Path, record: dict[str, Any], wanted: dict[str, Any]) -> None:
    """Refuse a features file made with another seed, settings or detector card than ``wanted``."""
    made = production_of(path, record)
    differences = list(_differences(made, wanted))
    if differences:
        more = f" and {len(differences) - 1} more" if len(differences) > 1 else ""
        raise InputFileError(
            f"{path}: made with a different configuration: {differences[0]}{more}; rerun its "
            "reconstruction with the merge's config"
        )


def shuffle_seed(global_seed: int, split: str) -> int:
    """Seed of the row permutation of one split, independent of every other stream."""
    digest = hashlib.sha256(f"deeppp/merge-shuffle/{global_seed}/{split}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


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
    bin_edges_check(section["weights"])
    pt_edges = np.asarray(section["weights"]["pt_bin_edges_gev"], dtype=float)
    eta_edges = np.asarray(section["weights"]["abs_eta_bin_edges"], dtype=float)
    wanted = feature_production(config)
    finals = [Path(out_dir) / dataset_file_name(name) for name in SPLITS]
    for final in finals:
        refuse_overwriting_inputs(final, feature_files)

    loaded = [(Path(p), *read_features_file(p)) for p in feature_files]
    for path, _, record in loaded:
        check_same_production(path, record, wanted)
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
    _check_weights(columns["label"], weight, [path for path, _, _ in loaded])
    columns["weight"] = weight.astype(np.float32)

    inputs = [
        {"file": path.name, "process": r["process"], "chunk": r["chunk"], "n_jets": len(c["label"])}
        for path, c, r in loaded
    ]
    # One identifier for the three splits of this merge: readers can tell a set from a mixture.
    dataset_id = canonical_digest(
        {"inputs": inputs, "production": wanted, "split": section["split"]}
    )
    counts: dict[str, int] = {}
    outputs: list[tuple[dict[str, dict[str, np.ndarray]], dict[str, Any]]] = []
    for index, name in enumerate(SPLITS):
        rows = np.flatnonzero(split_index == index)
        seed = shuffle_seed(config["seed"], name)
        rows = rows[np.random.default_rng(seed).permutation(len(rows))]
        counts[name] = len(rows)
        record = provenance(
            "reconstruction",
            config,
            config["seed"],
            split=name,
            dataset_id=dataset_id,
            feature_names=list(features.FEATURE_NAMES),
            detector_card_sha256=wanted["detector_card_sha256"],
            inputs=inputs,
            n_jets=counts[name],
            n_signal=int(np.sum(columns["label"][rows] == 1)),
            n_background=int(np.sum(columns["label"][rows] == 0)),
            split_fractions=dict(section["split"]),
            row_order={"shuffled": True, "generator": "numpy PCG64 permutation", "seed": seed},
            weight_pt_bin_edges_gev=pt_edges,
            weight_abs_eta_bin_edges=eta_edges,
            background_bin_weights=bin_weights,
        )
        outputs.append(({JETS_TREE: {b: columns[b][rows] for b in JET_BRANCHES}}, record))
    with atomic_outputs(finals) as temporaries:
        for tmp, (trees, record) in zip(temporaries, outputs, strict=True):
            write_root(tmp, trees, record, atomic=False)
    return counts


def _check_weights(label: np.ndarray, weight: np.ndarray, paths: list[Path]) -> None:
    """A dataset the tagger can learn from: both classes, and background weight left after the
    flattening (it is zero when no background jet shares a (pT, |eta|) bin with the signal)."""
    names = ", ".join(str(p) for p in paths[:3]) + (" ..." if len(paths) > 3 else "")
    for value, kind in ((1, "signal"), (0, "background")):
        if not np.any(label == value):
            raise DeepppError(f"merge of {names}: no {kind} jets (need signal and background)")
    if not np.sum(weight[label == 0]) > 0:
        raise DeepppError(
            f"merge of {names}: every background jet has weight 0 (no (pT, |eta|) bin of "
            "reconstruction.weights holds both signal and background jets)"
        )
