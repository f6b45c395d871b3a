"""Where each result sits in the Snakemake report and what its entry is called.

Snakemake's HTML report sorts categories, subcategories and labelled entries alphabetically, so
the workflow order (overview first, then the stages in the order they run) is kept by numbering
them: "1. Overview" sorts before "2. Reconstruction". Studies are numbered as their captions
number them, and each entry carries one label (``RESULT_LABEL``) with a readable, numbered name
instead of its file name. Rule files call :func:`report_args` and pass the result to
``report(path, caption=..., **report_args(...))``.

Pure Python: the rule files import it while Snakemake parses the workflow.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

#: The report's categories in workflow order (what a reader opens, left to right).
CATEGORIES: dict[str, str] = {
    "overview": "1. Overview",
    "reconstruction": "2. Reconstruction",
    "ml": "3. ML",
    "firmware": "4. Firmware",
    "comparison": "5. Comparison with ATLAS",
    "config": "6. Configuration",
}

#: ML subcategories, numbered as the study captions number them ("Study 2, ..."); the keys are
#: the studies of ``deeppp.contracts.ML_STUDY_OUTPUTS``.
ML_STUDIES: dict[str, str] = {
    "baseline": "1. Baseline (unpruned tagger)",
    "methods": "2. Pruning methods compared",
    "regularisation": "3. With and without gauge decay",
    "inputs": "4. Input-feature selection",
    "hidden": "5. Hidden-node pruning",
    "retrain": "6. Pruned layout retrained from scratch",
    "stability": "7. Stability across seeds and layouts",
    "summary": "8. All models",
}

#: Reconstruction subcategories by output stem (plots not listed go to Snakemake's "Other").
RECONSTRUCTION_GROUPS: dict[str, str] = {
    **dict.fromkeys(
        ("trimmed_mass", "n_vr_track_jets", "trackjet_sd0_flavour", "trackjet_sv_mass_flavour"),
        "1. Jets and b-tagging inputs",
    ),
    **dict.fromkeys(
        ("features_fatjet_kinematics", "features_fatjet_substructure"),
        "2. Features: large-R jet",
    ),
    **{
        f"features_trackjet{rank}_{group}": f"{rank + 2}. Features: {which} VR track jet"
        for rank, which in ((1, "leading"), (2, "second"), (3, "third"))
        for group in ("kinematics", "impact_parameters", "secondary_vertex")
    },
}

#: The single label key of every entry (one column in the report's result lists).
RESULT_LABEL = "result"

#: Readable entry names per output file name (stem), numbered within their (sub)category in
#: reading order. Outputs not listed here get a name derived from the file name, sorted after them.
ENTRY_NAMES: dict[str, str] = {
    # 1. Overview
    "overview": "1 Headline numbers and conclusion",
    # 2. Reconstruction, per subcategory (RECONSTRUCTION_GROUPS)
    "trimmed_mass": "1.1 Trimmed large-R jet mass",
    "n_vr_track_jets": "1.2 Number of VR track jets",
    "trackjet_sd0_flavour": "1.3 Track d0 significance by jet flavour",
    "trackjet_sv_mass_flavour": "1.4 Secondary-vertex mass by jet flavour",
    "features_fatjet_kinematics": "2.1 Kinematics",
    "features_fatjet_substructure": "2.2 Substructure",
    **{
        f"features_trackjet{rank}_{group}": f"{rank + 2}.{index} {title}"
        for rank in (1, 2, 3)
        for index, (group, title) in enumerate(
            (
                ("kinematics", "Kinematics"),
                ("impact_parameters", "Impact parameters"),
                ("secondary_vertex", "Secondary vertex"),
            ),
            start=1,
        )
    },
    # 3. ML, per study
    "baseline_roc": "1.1 ROC curve",
    "baseline_loss": "1.2 Loss per epoch",
    "methods_quality": "2.1 Quality against the unpruned tagger",
    "methods_cost": "2.2 Quality versus training cost",
    "methods_multiplications": "2.3 Quality versus multiplications",
    "regularisation": "3.1 Effect of the gauge decay",
    "inputs_performance": "4.1 Quality versus kept inputs",
    "inputs_ranking": "4.2 Feature ranking",
    "hidden_roc": "5.1 ROC curves",
    "hidden_gates": "5.2 Gate values per optimiser step",
    "hidden_loss": "5.3 Loss of every method's training",
    "hidden_allocation": "5.4 Nodes kept per layer",
    "retrain_auc": "6.1 Pruned versus retrained",
    "retrain_roc": "6.2 ROC curves",
    "stability_auc": "7.1 AUC per seed",
    "stability_allocation": "7.2 Nodes per layer across seeds",
    "stability_features": "7.3 Selected inputs across seeds",
    "stability_layouts": "7.4 Input ranking: layouts versus seeds",
    "ml_summary": "8.1 Table of all models",
    "roc_all": "8.2 ROC curves of every method",
    "summary.csv@ml": "8.3 Table of all models (CSV)",
    # 4. Firmware
    "firmware_summary": "1 Table of all firmware builds",
    "resources_vs_pruning": "2 Resources versus pruning",
    "latency_vs_pruning": "3 Latency versus pruning",
    "roc_float_vs_firmware": "4 ROC curves: float versus firmware",
    "precision_scan": "5 Fixed-point precision scan",
    "summary.csv@firmware": "6 Table of all firmware builds (CSV)",
    # 5. Comparison
    "comparison": "1 deeppp beside published figures (page)",
    "comparison_plot": "2 Rejection at fixed efficiency (plot)",
    # 6. Configuration
    "config": "1 Configuration of this run",
    "config.yaml": "2 Configuration (YAML file)",
}


def entry_name(file_name: str, stage: str | None = None) -> str:
    """The readable name of an output: ``ENTRY_NAMES`` by stem (or ``name@stage`` for a file
    name two stages share), else the stem in words (letters sort after the numbered names)."""
    path = PurePath(file_name)
    for key in (f"{path.name}@{stage}", path.name, path.stem):
        if key in ENTRY_NAMES:
            return ENTRY_NAMES[key]
    words = path.stem.replace("_", " ")
    return words[:1].upper() + words[1:]


def category(stage: str) -> str:
    """Category title of a stage (``KeyError`` names the known ones)."""
    try:
        return CATEGORIES[stage]
    except KeyError:
        known = ", ".join(CATEGORIES)
        raise KeyError(f"unknown report category {stage!r} (known: {known})") from None


def ml_subcategory(study: str) -> str:
    """Subcategory title of an ml study; a study added later sorts after the numbered ones."""
    words = study.replace("_", " ")
    return ML_STUDIES.get(study, words[:1].upper() + words[1:])


def reconstruction_subcategory(file_name: str) -> str | None:
    """Subcategory of a reconstruction plot (None: Snakemake's "Other")."""
    return RECONSTRUCTION_GROUPS.get(PurePath(file_name).stem)


def report_args(
    file_name: str, stage: str, subcategory: str | None = None, name: str | None = None
) -> dict[str, Any]:
    """``category``/``subcategory``/``labels`` for ``report(...)`` of one output file."""
    args: dict[str, Any] = {
        "category": category(stage),
        "labels": {RESULT_LABEL: name or entry_name(file_name, stage)},
    }
    if subcategory is not None:
        args["subcategory"] = subcategory
    return args
