"""The contracts between stages, in one place: names of files, trees, branches and outputs.

Stages talk only through files (docs/data_contracts.md). Whatever two stages, a rule file and a
test must agree on is defined here once and imported everywhere else: tree and branch names, the
dataset splits, the provenance key, truth roles, the model-name grammar, the network-cost formula
and the lists of outputs each rule declares. ``tests/test_contracts.py`` fails when one of these
literals reappears elsewhere.

Pure Python on purpose (no numpy, torch or uproot): the Snakefile imports it at parse time.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

# --------------------------------------------------------------------------------------------
# Files, trees and branches
# --------------------------------------------------------------------------------------------

#: Processes of the generation stage, in the order every stage sorts them (signal first).
PROCESSES: tuple[str, ...] = ("signal", "background")
#: Jet label per process (1 = H -> bb signal, 0 = QCD multijet background).
PROCESS_LABEL: dict[str, int] = {"signal": 1, "background": 0}

#: The JSON provenance record every deeppp ROOT file carries (a ``TObjString``).
PROVENANCE_KEY = "provenance"
#: Particle-level events (generation -> reconstruction).
EVENTS_TREE = "events"
#: One entry per selected large-R jet: the features, label and weight (reconstruction -> ml,
#: dataset splits, and the per-jet firmware scores).
JETS_TREE = "jets"
#: Per VR track jet diagnostics (flavour, impact parameters) for plots only, never features.
TRACK_JETS_TREE = "track_jets"

#: Branches of the jets tree besides the features.
LABEL_BRANCH = "label"
WEIGHT_BRANCH = "weight"

#: Dataset splits written by ``reconstruction merge`` and read by ml and firmware, in order.
SPLITS: tuple[str, ...] = ("train", "val", "test")
Split = Literal["train", "val", "test"]

#: Chunk numbers are three digits in file names and workflow wildcards (``000.root``).
CHUNK_DIGITS = 3
MAX_CHUNKS = 10**CHUNK_DIGITS


def chunk_file_name(chunk: int) -> str:
    """``007.root`` for chunk 7 (the zero-padded name every per-chunk file uses)."""
    if not 0 <= chunk < MAX_CHUNKS:
        raise ValueError(f"chunk {chunk} outside 0..{MAX_CHUNKS - 1}")
    return f"{chunk:0{CHUNK_DIGITS}d}.root"


def dataset_file_name(split: str) -> str:
    """``train.root`` etc.; refuses names that are not a split."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")
    return f"{split}.root"


class TruthRole:
    """``role`` of a truth particle in the events tree (generation -> reconstruction labels).

    Plain ints, not an ``IntEnum``: awkward's ufuncs refuse enum members as operands.
    """

    HIGGS: Final = 1  #: the last Higgs copy before its decay
    HIGGS_B: Final = 2  #: a b quark from the Higgs decay
    HARD_PARTON: Final = 3  #: an outgoing parton of the hard 2 -> 2 process


# --------------------------------------------------------------------------------------------
# Networks: layout and FPGA cost
# --------------------------------------------------------------------------------------------


def multiplications(layout: Sequence[Any]) -> Any:
    """FPGA cost of a dense network ``[n_in, n_hidden..., n_out]``: sum of n_in x n_out.

    Works on ints (exact cost), floats or tensors (the soft cost AutoPruner differentiates).
    """
    return sum(a * b for a, b in itertools.pairwise(layout))


def hidden_nodes_for_percent(percent: int, hidden_layout: Sequence[int]) -> int:
    """Budget of ``percent`` % of all hidden nodes, rounded up (30 % of 256 -> 77, 70 % -> 180)."""
    return -(-percent * sum(hidden_layout) // 100)


# --------------------------------------------------------------------------------------------
# Model names (ml -> firmware -> report)
# --------------------------------------------------------------------------------------------

ModelFamily = Literal["unpruned", "autopruner", "retrained", "ptr", "autopruner_in"]

#: Human-readable name of each model family (tables, legends, the report).
MODEL_FAMILY_LABELS: dict[str, str] = {
    "unpruned": "unpruned",
    "autopruner": "AutoPruner (hidden)",
    "retrained": "AutoPruner layout, retrained",
    "ptr": "prune/train/repeat",
    "autopruner_in": "AutoPruner (inputs)",
}

_MODEL_NAME = re.compile(
    r"^(?:(?P<unpruned>unpruned)"
    r"|(?P<kind>autopruner|retrained|ptr)_h(?P<percent>\d+)"
    r"|autopruner_in(?P<inputs>\d+)(?P<alt>_alt)?)"
    r"(?:_seed(?P<replica>\d+))?$"
)
MODEL_NAME_GRAMMAR = (
    "unpruned, autopruner_h<P>, retrained_h<P>, ptr_h<P>, autopruner_in<K>[_alt], "
    "optionally with _seed<i>"
)


@dataclass(frozen=True)
class ModelName:
    """What a model name says: family, budget (hidden % or kept inputs), layout and replica."""

    name: str
    family: ModelFamily
    hidden_percent: int | None = None
    input_keep: int | None = None
    alternative_layout: bool = False
    replica: int = 0

    @property
    def base_name(self) -> str:
        """The name without its ``_seed<i>`` suffix (one setting, all replicas)."""
        return self.name.split("_seed")[0]

    @property
    def family_label(self) -> str:
        return MODEL_FAMILY_LABELS[self.family]


def parse_model_name(name: str) -> ModelName:
    """Parse ``unpruned``, ``autopruner_h30``, ``autopruner_in10_alt_seed1`` ...

    Raises ``ValueError`` naming the grammar for anything else.
    """
    match = _MODEL_NAME.match(name)
    if match is None:
        raise ValueError(f"unknown model name {name!r} (expected {MODEL_NAME_GRAMMAR})")
    replica = int(match["replica"]) if match["replica"] is not None else 0
    if match["unpruned"]:
        return ModelName(name, "unpruned", replica=replica)
    if match["inputs"] is not None:
        return ModelName(
            name,
            "autopruner_in",
            input_keep=int(match["inputs"]),
            alternative_layout=bool(match["alt"]),
            replica=replica,
        )
    family: ModelFamily = match["kind"]  # type: ignore[assignment]  # the regex guarantees it
    return ModelName(name, family, hidden_percent=int(match["percent"]), replica=replica)


# --------------------------------------------------------------------------------------------
# Outputs each stage writes (the rule files declare exactly these)
# --------------------------------------------------------------------------------------------

#: Plots of ``reconstruction plots`` (results/reconstruction/): the 39 features in groups of at
#: most five panels (each figure readable at the report's ~900 pixels), then the summary plots.
RECONSTRUCTION_PLOTS: tuple[str, ...] = (
    "features_fatjet_kinematics.png",
    "features_fatjet_substructure.png",
    *(
        f"features_trackjet{i}_{group}.png"
        for i in (1, 2, 3)
        for group in ("kinematics", "impact_parameters", "secondary_vertex")
    ),
    "trimmed_mass.png",
    "n_vr_track_jets.png",
    "trackjet_sd0_flavour.png",
    "trackjet_sv_mass_flavour.png",
)
#: Plots whose report caption ``reconstruction plots`` writes with numbers measured on the data
#: (results/reconstruction/captions/{stem}.rst); the others have a fixed caption in report/.
RECONSTRUCTION_DATA_CAPTIONS: tuple[str, ...] = (
    "trackjet_sd0_flavour",
    "trackjet_sv_mass_flavour",
    "trimmed_mass",
)

#: Files of one trained model (results/models/{model}/).
ML_MODEL_FILES: tuple[str, ...] = ("model.pt", "metrics.json", "history.json")

#: Files each ml study writes into the study directory (results/ml/); JSON first.
ML_STUDY_OUTPUTS: dict[str, tuple[str, ...]] = {
    "baseline": ("baseline.json", "baseline_roc.png", "baseline_loss.png"),
    "inputs": ("inputs.json", "inputs_performance.png", "inputs_ranking.png"),
    "hidden": (
        "hidden.json",
        "hidden_gates.png",
        "hidden_loss.png",
        "hidden_allocation.png",
        "hidden_roc.png",
    ),
    "retrain": ("retrain.json", "retrain_auc.png", "retrain_roc.png"),
    "ptr": ("ptr.json", "ptr_comparison.png", "ptr_roc.png"),
    "stability": (
        "stability.json",
        "stability_auc.png",
        "stability_allocation.png",
        "stability_features.png",
    ),
    "summary": ("summary.csv", "summary.md", "roc_all.png"),
}

#: Files of one model's firmware (results/firmware/{model}/); report.json is written last.
FIRMWARE_MODEL_FILES: tuple[str, ...] = ("scores.root", "report.json")
#: Subdirectories of one model's firmware: the hls4ml project and the da4ml Verilog.
FIRMWARE_MODEL_DIRS: tuple[str, ...] = ("hls", "rtl")
#: Plots of ``firmware summarize`` (results/firmware/), without the extension.
FIRMWARE_PLOTS: tuple[str, ...] = (
    "resources_vs_pruning",
    "latency_vs_pruning",
    "roc_float_vs_firmware",
    "precision_scan",
)
FIRMWARE_SUMMARY_FILES: tuple[str, ...] = ("summary.csv", "summary.md")


def png_names(stems: Iterable[str]) -> list[str]:
    return [f"{stem}.png" for stem in stems]
