"""ml stage end to end on a tiny synthetic dataset: every model of a config, all six studies and
the summary, and the Snakemake rules (dry run)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from deeppp.config import validate_config
from deeppp.contracts import ML_STUDY_OUTPUTS as STUDY_OUTPUTS
from ml.jobs import train_model
from ml.settings import MLSettings, model_names, model_spec
from ml.studies import run_study
from ml.synthetic import write_synthetic_dataset

REPO = Path(__file__).resolve().parents[1]
ML = {
    "hidden_layout": [16, 16],
    "learning_rate": 0.005,
    "max_epochs": 4,
    "progress": False,
    "bootstrap_samples": 20,
    "input_budgets": [4, 8],
    "hidden_budgets_percent": [40],
    "alt_hidden_layout": [8],
    "stability_seeds": 2,
    "autopruner": {
        "warmup_epochs": 2,
        "pruning_steps": 2,
        "epochs_per_step": 2,
        "finetune_epochs": 2,
    },
    "ptr": {"prune_fraction": 0.4, "max_epochs_per_step": 2},
}


@pytest.mark.slow
def test_every_model_and_study(tmp_path: Path) -> None:
    results = tmp_path / "results"
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
    names = model_names(settings)
    # Retrained models read their AutoPruner source: train those last, as Snakemake would.
    for name in sorted(names, key=lambda n: model_spec(settings, n).kind == "retrained"):
        train_model(config, name, dataset, results / "models")
    for study in STUDY_OUTPUTS:
        run_study(study, config, results / "models", dataset, results / "ml")
        for filename in STUDY_OUTPUTS[study]:
            path = results / "ml" / filename
            assert path.is_file() and path.stat().st_size > 0, filename
            if filename.endswith(".png"):
                assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    hidden = json.loads((results / "ml" / "hidden.json").read_text())
    model = hidden["models"]["autopruner_h40"]
    assert model["hidden_nodes"] == 13 == model["requested_nodes"]  # ceil(0.4 * 32)
    assert model["extraction_max_abs_diff"] < 1e-5
    assert hidden["provenance"]["study"] == "hidden"
    inputs = json.loads((results / "ml" / "inputs.json").read_text())
    ranking = inputs["layouts"]["A"]["ranking"]
    assert sorted(ranking[:4]) == [f"informative_{i}" for i in range(4)]
    assert 0.0 <= inputs["layout_independence"]["selected_overlap"]["4"] <= 1.0
    ptr = json.loads((results / "ml" / "ptr.json").read_text())
    pair = ptr["pairs"]["ptr_h40"]
    assert pair["ptr"]["hidden_nodes"] == pair["autopruner"]["hidden_nodes"] == 13
    assert pair["jet_pass_ratio_autopruner_over_ptr"] > 0
    stability = json.loads((results / "ml" / "stability.json").read_text())
    assert len(stability["hidden"]["autopruner_h40"]["auc"]) == 2
    summary = (results / "ml" / "summary.csv").read_text().splitlines()
    assert len(summary) == 1 + len(names)
    assert summary[0].startswith("model,kind,inputs,nodes_per_layer")
    assert "| unpruned" in (results / "ml" / "summary.md").read_text()


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
    for study in STUDY_OUTPUTS:
        assert counts[f"ml_study_{study}"] == 1
