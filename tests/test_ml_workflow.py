"""ml stage end to end on a tiny synthetic dataset: every model of a config, every study and the
summary, their files as all-or-nothing sets, one-line errors for broken inputs, and the
Snakemake rules (dry run)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from deeppp.config import validate_config
from deeppp.contracts import ML_MODEL_FILES, ML_STUDY_OUTPUTS, PRUNING_METHODS
from ml.jobs import train_model
from ml.settings import MLSettings, model_names, model_spec, study_models
from ml.studies import run_study
from ml.synthetic import informative_features, write_synthetic_dataset

REPO = Path(__file__).resolve().parents[1]
ML = {
    "hidden_layout": [16, 16],
    "learning_rate": 0.005,
    "max_epochs": 4,
    "progress": False,
    "bootstrap_samples": 30,
    "input_budgets": [4],
    "hidden_budgets_percent": [40],
    "without_gauge_decay": [40],
    "alt_hidden_layout": [8],
    "seeds": 2,
    "schedule": {
        "warmup_steps": 30,
        "pruning_steps": 2,
        "steps_per_pruning_step": 150,
        "max_settle_steps": 300,
        "finetune_epochs": 2,
    },
    "ptr": {"prune_fraction": 0.4, "max_epochs_per_step": 2},
}


@pytest.fixture(scope="module")
def workflow(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Path]:
    """Every model of the config trained once (~1 min); the tests share it."""
    results = tmp_path_factory.mktemp("results")
    dataset = write_synthetic_dataset(
        results / "dataset",
        n_train=2000,
        n_val=800,
        n_test=1000,
        n_features=12,
        n_informative=4,
        seed=2,
    )
    config = validate_config({"seed": 5, "results_dir": str(results), "ml": ML})
    settings = MLSettings.from_config(config)
    # Retrained models read their AutoPruner source: train those last, as Snakemake would.
    for name in sorted(
        model_names(settings), key=lambda n: model_spec(settings, n).family == "retrained"
    ):
        train_model(config, name, dataset, results / "models")
    return results, config, dataset


def tmp_path_factory_dir(results: Path) -> Path:
    return results.parent / f"{results.name}_rerun"


@pytest.mark.slow
def test_every_study_writes_its_files_from_the_models(workflow) -> None:
    results, config, dataset = workflow
    settings = MLSettings.from_config(config)
    for study in ML_STUDY_OUTPUTS:
        run_study(study, config, results / "models", dataset, results / "ml")
        for filename in ML_STUDY_OUTPUTS[study]:
            path = results / "ml" / filename
            assert path.is_file() and path.stat().st_size > 0, filename
            if filename.endswith(".png"):
                assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
                height = int.from_bytes(path.read_bytes()[20:24], "big")
                assert height <= 650, (filename, height)

    # The per-jet scores the report pairs: one logit per core model, the same numbers as the
    # models' own metrics (AUC recomputed from the file equals metrics.json's).
    from deeppp.metrics import weighted_auc
    from deeppp.report.results import read_test_scores

    scores = read_test_scores(results / "ml" / "test_scores.root")
    assert sorted(scores.scores) == sorted(model_names(settings, core_only=True))
    assert scores.event_ids is not None and len(np.unique(scores.event_ids)) < len(scores.labels)
    for name in ("unpruned", "autopruner_h40"):
        metrics = json.loads((results / "models" / name / "metrics.json").read_text())
        auc = weighted_auc(scores.labels, scores.scores[name], scores.weights)
        assert auc == pytest.approx(metrics["test"]["auc"]["value"], abs=1e-9), name

    for study, files in ML_STUDY_OUTPUTS.items():
        if study != "summary":  # study JSON is reproducible: no wall-clock numbers in it
            assert "wall_time" not in (results / "ml" / files[0]).read_text(), study
    again = tmp_path_factory_dir(results) / "again"
    run_study("methods", config, results / "models", dataset, again)
    for filename in ML_STUDY_OUTPUTS["methods"]:
        assert (again / filename).read_bytes() == (results / "ml" / filename).read_bytes()
    methods = json.loads((results / "ml" / "methods.json").read_text())
    assert methods["bootstrap_unit"] == "event"
    assert methods["provenance"]["study"] == "methods"
    entry = methods["settings"]["h40"]["methods"]
    assert set(entry) == set(PRUNING_METHODS)
    assert entry["autopruner"]["hidden_nodes"]["values"] == [13.0, 13.0]  # ceil(0.4 * 32)
    for method, summary in entry.items():
        difference = summary["vs_unpruned"]["auc"]
        assert difference["ci_low"] <= difference["mean"] <= difference["ci_high"]
        assert len(difference["per_seed"]) == 2
        assert summary["multiplications"]["mean"] < methods["unpruned"]["multiplications"]
        if method != "autopruner":
            assert "reference_minus_this" in summary
    # AutoPruner keeps the informative inputs (random columns); the random control does not.
    inputs = json.loads((results / "ml" / "inputs.json").read_text())
    selected = inputs["selections"]["in4"]["autopruner"]["autopruner_in4"]
    assert sorted(selected) == sorted(informative_features(dataset))
    assert inputs["rankings"]["in4"]["autopruner"][:4] == sorted(
        selected, key=inputs["rankings"]["in4"]["autopruner"].index
    )
    hidden = json.loads((results / "ml" / "hidden.json").read_text())
    gates = hidden["gates"]["h40"]
    assert gates["snap_step"] >= gates["commit_step"] > gates["pruning_step_starts"][-1]
    final = gates["values"][-1]
    assert sum(v > 0 for layer in final for v in layer) == 13
    stability = json.loads((results / "ml" / "stability.json").read_text())
    layouts = stability["layouts"]["in4"]["ranking_spearman"]
    assert len(layouts["within_layout"]) == 2 and len(layouts["across_layouts"]) == 4
    assert not layouts["testable"]  # 2 seeds per layout cannot reject at 5 %
    summary = (results / "ml" / "summary.csv").read_text().splitlines()
    assert len(summary) == 1 + len(model_names(settings))
    assert summary[0].startswith("model,family,budget,seed_replica,gauge_decay")
    markdown = (results / "ml" / "summary.md").read_text()
    assert "| - | unpruned |" in markdown and "Test sample: 1000 jets" in markdown
    assert "wall time [s]" in markdown


@pytest.mark.slow
def test_a_missing_or_corrupt_model_is_a_one_line_error(workflow, tmp_path: Path) -> None:
    results, _config, dataset = workflow
    models = tmp_path / "models"
    shutil.copytree(results / "models", models)
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump({"seed": 5, "ml": ML}))
    out = tmp_path / "ml"

    def study() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ml", "study", "retrain", "--config", str(config_file),
             "--dataset", str(dataset), "--models-dir", str(models), "--out", str(out)],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    assert study().returncode == 0
    before = {f: (out / f).read_bytes() for f in ML_STUDY_OUTPUTS["retrain"]}
    (models / "retrained_h40" / "model.pt").write_bytes(b"truncated")
    broken = study()
    assert broken.returncode == 2
    assert broken.stderr.count("\n") == 1 and "Traceback" not in broken.stderr
    assert "retrained_h40/model.pt: not a readable torch file" in broken.stderr
    (models / "autopruner_h40_seed1" / "metrics.json").unlink()
    shutil.copy(results / "models" / "retrained_h40" / "model.pt", models / "retrained_h40")
    missing = study()
    assert missing.returncode == 2 and "metrics file does not exist" in missing.stderr
    # A failed study left the previous set untouched.
    assert {f: (out / f).read_bytes() for f in ML_STUDY_OUTPUTS["retrain"]} == before


def fail_second_write(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection: the second ``Path.write_bytes`` of the block raises (a full disk)."""
    original = Path.write_bytes
    calls = []

    def write_bytes(self: Path, data: bytes) -> int:
        calls.append(self)
        if len(calls) == 2:
            raise OSError(28, "No space left on device (injected)")
        return original(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)


@pytest.mark.slow
def test_study_files_are_replaced_all_or_nothing(workflow, tmp_path: Path, monkeypatch) -> None:
    """The second file of a study fails to write: every file of the previous run stays (no new
    PNG beside an old JSON) and no temporary file is left."""
    results, config, dataset = workflow
    out = tmp_path / "ml"
    run_study("retrain", config, results / "models", dataset, out)
    before = {f: (out / f).read_bytes() for f in ML_STUDY_OUTPUTS["retrain"]}
    changed = {**config, "ml": {**config["ml"], "confidence_level": 0.9}}
    fail_second_write(monkeypatch)
    with pytest.raises(OSError, match="injected"):
        run_study("retrain", changed, results / "models", dataset, out)
    assert {f: (out / f).read_bytes() for f in ML_STUDY_OUTPUTS["retrain"]} == before
    assert sorted(p.name for p in out.iterdir()) == sorted(ML_STUDY_OUTPUTS["retrain"])


@pytest.mark.slow
def test_model_files_are_written_as_one_set(workflow, tmp_path: Path, monkeypatch) -> None:
    _results, config, dataset = workflow
    train_model(config, "unpruned", dataset, tmp_path)
    before = {f: (tmp_path / "unpruned" / f).read_bytes() for f in ML_MODEL_FILES}
    changed = validate_config({**config, "seed": 6})
    fail_second_write(monkeypatch)
    with pytest.raises(OSError, match="injected"):
        train_model(changed, "unpruned", dataset, tmp_path)
    assert {f: (tmp_path / "unpruned" / f).read_bytes() for f in ML_MODEL_FILES} == before
    assert sorted(p.name for p in (tmp_path / "unpruned").iterdir()) == sorted(ML_MODEL_FILES)


@pytest.mark.slow
def test_snakemake_rules_plan_every_model_and_study(tmp_path: Path) -> None:
    snakemake = shutil.which("snakemake", path=str(Path(sys.executable).parent))
    if snakemake is None:
        pytest.skip("snakemake not installed next to this python")
    (tmp_path / "config.yaml").write_text(
        yaml.safe_dump({"seed": 1, "results_dir": "results", "ml": ML})
    )
    (tmp_path / "Snakefile").write_text(
        "from deeppp.config import validate_config\n"
        'configfile: "config.yaml"\n'
        'config.update(validate_config(dict(config), source="config"))\n'
        'RESULTS = config["results_dir"]\n'
        f'include: "{REPO}/rules/common.smk"\n'
        f'include: "{REPO}/rules/ml.smk"\n'
        "rule all:\n    default_target: True\n    input: rules.ml.input\n"
    )
    for split in ("train", "val", "test"):
        (tmp_path / "results" / "dataset").mkdir(parents=True, exist_ok=True)
        (tmp_path / "results" / "dataset" / f"{split}.root").write_bytes(b"")
    run = subprocess.run(
        [snakemake, "-n", "--cores", "1", "--quiet", "rules"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    counts = {}
    for line in run.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    settings = MLSettings.from_config(validate_config({"seed": 1, "ml": ML}))
    assert counts["ml_train_model"] == len(model_names(settings))
    for study in ML_STUDY_OUTPUTS:
        assert counts[f"ml_study_{study}"] == 1
        assert set(study_models(settings, study)) <= set(model_names(settings))
