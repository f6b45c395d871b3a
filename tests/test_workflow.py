"""The whole workflow end to end on the tiny config: every artefact of every stage, sane numbers,
the HTML report, single-stage reruns and config errors caught before any job runs."""

from __future__ import annotations

import csv
import json
import re
import subprocess

import pytest
import yaml
from workflow_run import run_snakemake, snakemake_command, workdir_with_config

from deeppp.rootio import read_provenance, read_tree
from reconstruction.features import FEATURE_NAMES

pytestmark = pytest.mark.slow

HIDDEN_NODES = 256


def _tiny(tiny_workflow) -> dict:
    return yaml.safe_load(tiny_workflow.configfile.read_text())


def test_every_stage_produced_its_artefacts(tiny_workflow):
    results, config = tiny_workflow.results, _tiny(tiny_workflow)
    for process, spec in config["generation"]["processes"].items():
        for chunk in range(spec["chunks"]):
            assert (results / "events" / process / f"{chunk:03d}.root").is_file()
            assert (results / "features" / process / f"{chunk:03d}.root").is_file()
    for split in ("train", "val", "test"):
        assert (results / "dataset" / f"{split}.root").is_file()
    assert len(list((results / "reconstruction").glob("*.png"))) >= 5
    assert len(list((results / "ml").glob("*.png"))) >= 10
    for model in ("unpruned", "autopruner_h30", "retrained_h30", "ptr_h30", "autopruner_in5"):
        for name in ("model.pt", "metrics.json", "history.json"):
            assert (results / "models" / model / name).is_file(), f"{model}/{name}"
        # Firmware for the core models (every method and budget); a retrained layout is a study
        # model with the same layout as its AutoPruner source.
        built = (results / "firmware" / model / "report.json").is_file()
        assert built == (not model.startswith("retrained")), model
    for name in (
        "overview.html",
        "comparison.png",
        "comparison.html",
        "comparison.csv",
        "config.yaml",
        "config.html",
        "ml_summary.html",
        "firmware_summary.html",
    ):
        assert (results / "report" / name).is_file()
    # no temporary (hidden) files left behind anywhere
    assert not [p for p in results.rglob(".*") if p.is_file()]


def test_dataset_has_39_features_and_both_classes(tiny_workflow):
    test = read_tree(
        tiny_workflow.results / "dataset" / "test.root", "jets", [*FEATURE_NAMES, "label", "weight"]
    )
    labels = test.label.to_numpy()
    assert 0 < labels.sum() < len(labels)
    assert read_provenance(tiny_workflow.results / "dataset" / "test.root")[
        "feature_names"
    ] == list(FEATURE_NAMES)


def test_tagger_separates_and_pruning_meets_the_budget(tiny_workflow):
    models = tiny_workflow.results / "models"
    unpruned = json.loads((models / "unpruned" / "metrics.json").read_text())
    assert unpruned["test"]["auc"]["value"] > 0.8
    for percent in _tiny(tiny_workflow)["ml"]["hidden_budgets_percent"]:
        metrics = json.loads((models / f"autopruner_h{percent}" / "metrics.json").read_text())
        assert metrics["hidden_nodes"] == round(HIDDEN_NODES * percent / 100)
        assert sum(metrics["nodes_per_layer"]) == metrics["hidden_nodes"]
        assert metrics["test"]["auc"]["value"] > 0.8
    in5 = json.loads((models / "autopruner_in5" / "metrics.json").read_text())
    assert in5["inputs"] == 5
    assert len(in5["feature_names"]) == 5


def test_summary_tables_are_filled(tiny_workflow):
    results = tiny_workflow.results
    with (results / "ml" / "summary.csv").open() as handle:
        ml_rows = list(csv.DictReader(handle))
    assert {"unpruned", "autopruner_h30", "ptr_h30", "retrained_h30"} <= {
        r["model"] for r in ml_rows
    }
    with (results / "firmware" / "summary.csv").open() as handle:
        fw_rows = {r["model"]: r for r in csv.DictReader(handle)}
    assert {"unpruned", "autopruner_h30"} <= set(fw_rows)
    for row in fw_rows.values():
        assert int(float(row["lut"])) > 0
        assert row["lut_tool"] in {"yosys", "da4ml-estimate", "vivado", "vitis"}
        assert int(row["latency_cycles"]) > 0
        assert float(row["auc_firmware"]) > 0.8
        assert int(row["hls4ml_mismatches"]) == 0, (
            "hls4ml emulation must equal the fixed-point reference"
        )
    # pruning to 30 % of the hidden nodes costs fewer multiplications on the FPGA
    assert int(fw_rows["autopruner_h30"]["multiplications"]) < int(
        fw_rows["unpruned"]["multiplications"]
    )
    comparison = (results / "report" / "comparison.md").read_text()
    assert "deeppp: unpruned" in comparison
    assert "ATLAS GN2X (2023)" in comparison


def test_html_report(tiny_workflow):
    run_snakemake(tiny_workflow.workdir, tiny_workflow.configfile, "--report", "report.html")
    html = (tiny_workflow.workdir / "report.html").read_text(errors="replace")
    assert len(html) > 100_000, "the report embeds the plots"
    for category in (
        "1. Overview",
        "2. Reconstruction",
        "3. ML",
        "4. Firmware",
        "5. Comparison with ATLAS",
        "6. Configuration",
    ):
        assert category in html, category
    # Captions that put results in context carry the detector's b-tagging numbers.
    assert "For scale, how hard b-tagging is in this detector simulation" in html
    comparison = (tiny_workflow.results / "report" / "comparison.html").read_text()
    assert re.search(r"max S_d0 &gt; 5: b-jet efficiency \d+ %, light-jet rejection", comparison)


def test_nothing_is_redone_and_single_stages_rerun(tiny_workflow):
    workdir, configfile = tiny_workflow.workdir, tiny_workflow.configfile
    done, _ = run_snakemake(workdir, configfile, "--cores", "1", "--dry-run")
    assert "Nothing to be done" in done.stdout + done.stderr
    # forcing one stage's rule reruns that rule and everything downstream, nothing upstream
    done, _ = run_snakemake(
        workdir, configfile, "--cores", "1", "--dry-run", "--forcerun", "merge_dataset"
    )
    log = done.stdout + done.stderr
    jobs = set(re.findall(r"^rule (\w+):$", log, flags=re.MULTILINE))
    assert "merge_dataset" in jobs
    assert "ml_train_model" in jobs
    assert "generate_events" not in jobs
    assert "reconstruct_chunk" not in jobs


def test_bad_config_stops_before_any_job(tmp_path):
    workdir, configfile = workdir_with_config(tmp_path / "bad")
    config = yaml.safe_load(configfile.read_text())
    config["generation"]["processes"]["signal"]["events_per_chunk"] = -10
    configfile.write_text(yaml.safe_dump(config))
    done = subprocess.run(
        snakemake_command(workdir, configfile, "--cores", "1"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert (
        "generation.processes.signal.events_per_chunk: -10 is less than the minimum of 1"
        in done.stderr
    )
    assert not (workdir / "results" / "events").exists()
