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
#: Branches that identify a jet's event: (label, chunk, event number) is unique per event, so
#: the ml bootstrap resamples whole events (a background event gives up to two jets).
CHUNK_BRANCH = "chunk"
EVENT_NUMBER_BRANCH = "event_number"

#: Directories under ``results_dir`` that other stages read from (the rule files build the
#: rest of the paths from them).
EVENTS_DIR = "events"
FEATURES_DIR = "features"
DATASET_DIR = "dataset"
#: Reconstruction plots, their data captions and the b-tagging performance (``BTAGGING_FILE``).
RECONSTRUCTION_DIR = "reconstruction"

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

#: The pruning methods the ml stage compares, name -> label (tables, legends, the report). The
#: names are the registry keys of ``ml.methods`` (a test checks both agree): adding a method is
#: one module there, one entry in its registry and one line here.
PRUNING_METHODS: dict[str, str] = {
    "autopruner": "AutoPruner",
    "random": "random selection (control)",
    "oneshot": "one-shot magnitude + fine-tune",
    "gradual": "gradual magnitude (Zhu & Gupta)",
    "ptr": "prune/train/repeat",
    "l0": "L0 hard-concrete gates",
}
#: The method every other one is compared with (paired differences in the ml studies).
REFERENCE_METHOD = "autopruner"
#: The unpruned tagger: the quality reference of every comparison.
UNPRUNED = "unpruned"
#: AutoPruner's layout (and input list) trained from scratch: a study, not a pruning method.
RETRAINED = "retrained"

ModelFamily = str  # "unpruned", "retrained" or a key of PRUNING_METHODS

#: Human-readable name of each model family (tables, legends, the report).
MODEL_FAMILY_LABELS: dict[str, str] = {
    UNPRUNED: "unpruned",
    **PRUNING_METHODS,
    RETRAINED: "AutoPruner layout, retrained",
}

BudgetUnit = Literal["hidden", "inputs", "multiplications"]
#: Budget token in a model name -> what it counts: ``h30`` = 30 % of the hidden nodes, ``in5`` =
#: 5 input features, ``m20`` = 20 % of the multiplications of the unpruned network.
BUDGET_TOKENS: dict[str, BudgetUnit] = {"h": "hidden", "in": "inputs", "m": "multiplications"}
BUDGET_UNIT_LABELS: dict[str, str] = {
    "hidden": "% of hidden nodes",
    "inputs": "input features",
    "multiplications": "% of multiplications",
}

_MODEL_NAME = re.compile(
    r"^(?:(?P<unpruned>unpruned)"
    r"|(?P<family>[a-z][a-z0-9]*)_(?P<token>h|in|m)(?P<value>\d+)(?P<alt>_alt)?(?P<nogauge>_nogauge)?)"
    r"(?:_seed(?P<replica>\d+))?$"
)
MODEL_NAME_GRAMMAR = (
    "unpruned[_seed<i>] or <method>_<budget>[_alt][_nogauge][_seed<i>] with <method> one of "
    + ", ".join([*PRUNING_METHODS, RETRAINED])
    + " and <budget> h<P> (% of hidden nodes), in<K> (input features) or m<P> (% of "
    "multiplications); _alt only with in<K>"
)


@dataclass(frozen=True)
class ModelName:
    """What a model name says: family (method), budget, layout, regulariser and seed replica."""

    name: str
    family: ModelFamily
    budget_unit: BudgetUnit | None = None
    budget_value: int | None = None
    alternative_layout: bool = False
    gauge_decay: bool = True
    replica: int = 0

    @property
    def base_name(self) -> str:
        """The name without its ``_seed<i>`` suffix (one setting, all replicas)."""
        return self.name.split("_seed")[0]

    @property
    def setting(self) -> str:
        """Budget and variant without the method and the seed (``h30``, ``in5_alt``): models
        of different methods with the same setting are compared pairwise."""
        return self.base_name.removeprefix(f"{self.family}_") if self.budget_unit else ""

    @property
    def family_label(self) -> str:
        return MODEL_FAMILY_LABELS[self.family]

    @property
    def hidden_percent(self) -> int | None:
        return self.budget_value if self.budget_unit == "hidden" else None

    @property
    def input_keep(self) -> int | None:
        return self.budget_value if self.budget_unit == "inputs" else None

    @property
    def multiplication_percent(self) -> int | None:
        return self.budget_value if self.budget_unit == "multiplications" else None


def budget_token(unit: BudgetUnit, value: int) -> str:
    """``h30``, ``in5`` or ``m20``."""
    tokens = {u: t for t, u in BUDGET_TOKENS.items()}
    return f"{tokens[unit]}{value}"


def model_name(
    family: str,
    unit: BudgetUnit | None = None,
    value: int | None = None,
    *,
    alternative_layout: bool = False,
    gauge_decay: bool = True,
    replica: int = 0,
) -> str:
    """The name :func:`parse_model_name` reads back (one place that composes names)."""
    if family == UNPRUNED:
        name = UNPRUNED
    else:
        if unit is None or value is None:
            raise ValueError(f"model family {family!r} needs a budget")
        name = f"{family}_{budget_token(unit, value)}"
        name += "_alt" if alternative_layout else ""
        name += "" if gauge_decay else "_nogauge"
    name += f"_seed{replica}" if replica else ""
    parse_model_name(name)  # refuses what the grammar does not allow
    return name


def parse_model_name(name: str) -> ModelName:
    """Parse ``unpruned``, ``autopruner_h30``, ``l0_in10_alt_seed1``, ``ptr_m20_nogauge`` ...

    Raises ``ValueError`` naming the grammar for anything else.
    """
    match = _MODEL_NAME.match(name)
    if match is None:
        raise ValueError(f"unknown model name {name!r} (expected {MODEL_NAME_GRAMMAR})")
    replica = int(match["replica"]) if match["replica"] is not None else 0
    if match["unpruned"]:
        return ModelName(name, UNPRUNED, replica=replica)
    family = match["family"]
    if family not in PRUNING_METHODS and family != RETRAINED:
        raise ValueError(
            f"unknown model name {name!r}: {family!r} is not a method ({MODEL_NAME_GRAMMAR})"
        )
    unit = BUDGET_TOKENS[match["token"]]
    if match["alt"] and unit != "inputs":
        raise ValueError(f"unknown model name {name!r}: _alt only with an input budget (in<K>)")
    return ModelName(
        name,
        family,
        budget_unit=unit,
        budget_value=int(match["value"]),
        alternative_layout=bool(match["alt"]),
        gauge_decay=not match["nogauge"],
        replica=replica,
    )


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

#: b-tagging performance of the detector simulation (results/reconstruction/), written by
#: ``reconstruction plots``; the report's overview shows it.
BTAGGING_FILE = "btagging.json"

#: Per-jet logits of every core model on the test split (results/ml/, written with the summary):
#: tree ``jets`` with ``label``, ``weight``, ``event`` (jets of one event share it) and one
#: ``logit_<model>`` branch per model; the report's paired comparisons read it.
ML_TEST_SCORES_FILE = "test_scores.root"

#: Files of one trained model (results/models/{model}/).
ML_MODEL_FILES: tuple[str, ...] = ("model.pt", "metrics.json", "history.json")

#: Files each ml study writes into the study directory (results/ml/), JSON first (the figures
#: are drawn from it; the set is swapped in all at once).
ML_STUDY_OUTPUTS: dict[str, tuple[str, ...]] = {
    "baseline": ("baseline.json", "baseline_roc.png", "baseline_loss.png"),
    "methods": (
        "methods.json",
        "methods_quality.png",
        "methods_cost.png",
        "methods_multiplications.png",
    ),
    "regularisation": ("regularisation.json", "regularisation.png"),
    "inputs": ("inputs.json", "inputs_performance.png", "inputs_ranking.png"),
    "hidden": (
        "hidden.json",
        "hidden_gates.png",
        "hidden_loss.png",
        "hidden_allocation.png",
        "hidden_roc.png",
    ),
    "retrain": ("retrain.json", "retrain_auc.png", "retrain_roc.png"),
    "stability": (
        "stability.json",
        "stability_auc.png",
        "stability_allocation.png",
        "stability_features.png",
        "stability_layouts.png",
    ),
    "summary": ("summary.csv", "summary.md", "roc_all.png", ML_TEST_SCORES_FILE),
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
