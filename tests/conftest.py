"""Session-wide fixtures: small, real Pythia samples shared by the generation and
reconstruction tests (generated once per test session, ~10 s on one core)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from workflow_run import REPO, run_snakemake, workdir_with_config

from deeppp.config import validate_config

#: Events per process in the shared samples: enough for a Higgs mass peak and b-tagging
#: separation, small enough for a 2-core CI machine. More QCD events: with pTHatMin 140 GeV
#: (pTHat-biased) about 0.6 QCD jets per event pass the 250 GeV selection.
SHARED_SAMPLE_EVENTS = {"signal": 500, "background": 1000}
SHARED_SAMPLE_SEEDS = {"signal": 1101, "background": 2202}


@pytest.fixture(scope="session")
def default_config() -> dict:
    """The schema defaults with a fixed seed."""
    return validate_config({"seed": 12345}, source="test defaults")


def _generate(tmp_path_factory: pytest.TempPathFactory, config: dict, process: str) -> Path:
    from generation import generate_chunk

    out = tmp_path_factory.mktemp(f"events_{process}") / "000.root"
    generate_chunk(
        process,
        SHARED_SAMPLE_EVENTS[process],
        SHARED_SAMPLE_SEEDS[process],
        out,
        config["generation"],
        full_config=config,
        progress=False,
    )
    return out


@pytest.fixture(scope="session")
def signal_events_file(tmp_path_factory: pytest.TempPathFactory, default_config: dict) -> Path:
    """500 g b -> H b (H -> b bbar) events with the schema defaults (pTHatMin 160 GeV,
    pTHat-biased), contract of docs/data_contracts.md."""
    return _generate(tmp_path_factory, default_config, "signal")


@pytest.fixture(scope="session")
def background_events_file(tmp_path_factory: pytest.TempPathFactory, default_config: dict) -> Path:
    """1000 QCD 2->2 events with the schema defaults (pTHatMin 140 GeV, pTHat-biased)."""
    return _generate(tmp_path_factory, default_config, "background")


@dataclass(frozen=True)
class WorkflowRun:
    workdir: Path
    configfile: Path
    log: str
    seconds: float

    @property
    def results(self) -> Path:
        return self.workdir / "results"


@pytest.fixture(scope="session")
def tiny_workflow(tmp_path_factory: pytest.TempPathFactory) -> WorkflowRun:
    """The whole tiny config (tests/configs/tiny.yaml) run locally with Snakemake on 2 cores,
    once per session: the end-to-end test checks it, the Slurm test compares against it."""
    workdir, configfile = workdir_with_config(tmp_path_factory.mktemp("tiny_workflow"))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    done, seconds = run_snakemake(
        workdir,
        configfile,
        "--profile",
        str(REPO / "profiles" / "default"),
        "--cores",
        "2",
        env=env,
    )
    return WorkflowRun(workdir, configfile, done.stdout + done.stderr, seconds)
