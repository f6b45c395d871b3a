"""One function per CLI subcommand: read inputs, run a recipe, write the contract files.

``train_model`` writes ``{models_dir}/{model}/model.pt`` (docs/data_contracts.md),
``metrics.json`` (test-set performance with bootstrap uncertainties, size, cost) and
``history.json`` (per-epoch losses, AUC and gate values, for the studies' plots).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deeppp.atomic import write_json_atomic
from deeppp.contracts import SPLITS
from deeppp.metrics import tagger_metrics
from deeppp.provenance import provenance
from ml.dataset import JetSample, read_dataset
from ml.model_io import load_model, predict_logits, save_model
from ml.recipes import (
    TrainedTagger,
    multiplication_count,
    train_autopruner,
    train_plain,
    train_ptr,
)
from ml.settings import MLSettings, ModelSpec, model_spec


def file_digest(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def train_model(
    config: dict[str, Any],
    model: str,
    dataset_dir: str | os.PathLike[str],
    models_dir: str | os.PathLike[str],
) -> dict[str, Any]:
    """Train the model called ``model`` and write its three files; returns the metrics."""
    settings = MLSettings.from_config(config)
    spec = model_spec(settings, model)
    samples = read_dataset(dataset_dir)
    # Budgets that exceed the dataset's feature count are a config error, whichever model runs.
    settings.check_features(len(samples["train"].feature_names))
    inputs = {split: file_digest(Path(dataset_dir, f"{split}.root")) for split in SPLITS}
    if spec.kind == "plain":
        trained = train_plain(samples, spec.hidden_layout, settings, spec.seed, desc=spec.name)
    elif spec.kind == "autopruner":
        trained = train_autopruner(samples, spec, settings)
    elif spec.kind == "ptr":
        trained = train_ptr(samples, spec, settings)
    else:
        assert spec.source_model is not None
        source_path = Path(models_dir, spec.source_model, "model.pt")
        _, meta = load_model(source_path)
        inputs[f"{spec.source_model}/model.pt"] = file_digest(source_path)
        trained = train_plain(
            samples,
            tuple(meta["layout"][1:-1]),
            settings,
            spec.seed,
            desc=spec.name,
            feature_names=meta["feature_names"],
        )
        trained.details["source_model"] = spec.source_model
    record = provenance("ml", config, spec.seed, model=model, inputs=inputs)
    return write_model_outputs(
        Path(models_dir, model), spec, settings, trained, samples["test"], record
    )


def write_model_outputs(
    out_dir: Path,
    spec: ModelSpec,
    settings: MLSettings,
    trained: TrainedTagger,
    test: JetSample,
    record: dict[str, Any],
) -> dict[str, Any]:
    """model.pt, metrics.json and history.json of one trained tagger."""
    save_model(
        out_dir / "model.pt",
        trained.sequential,
        trained.feature_names,
        trained.standardisation.mean,
        trained.standardisation.std,
        record,
    )
    metrics = evaluate_tagger(trained, spec, settings, test)
    metrics["provenance"] = record
    write_json_atomic(out_dir / "metrics.json", metrics)
    history = {
        "model": spec.name,
        "kind": spec.kind,
        "fits": [
            {
                "history": f.history,
                "loss_trace": f.loss_trace,
                "epochs_run": f.epochs_run,
                "best_epoch": f.best_epoch,
            }
            for f in trained.fits
        ],
        "details": trained.details,
        "feature_names_all": list(test.feature_names),
        "provenance": record,
    }
    write_json_atomic(out_dir / "history.json", history)
    return metrics


def tagger_logits(sequential: torch.nn.Module, meta: dict[str, Any], test: JetSample) -> np.ndarray:
    """Network logits for the test jets, using the features the model was trained on."""
    selected = test.select_features(meta["feature_names"])
    return predict_logits(sequential, meta, selected.features).numpy()  # type: ignore[arg-type]


def evaluate_tagger(
    trained: TrainedTagger, spec: ModelSpec, settings: MLSettings, test: JetSample
) -> dict[str, Any]:
    meta = {
        "feature_names": trained.feature_names,
        "feature_mean": trained.standardisation.mean,
        "feature_std": trained.standardisation.std,
    }
    trained.sequential.eval()
    scores = tagger_logits(trained.sequential, meta, test)
    performance = tagger_metrics(
        test.labels.numpy(),
        scores,
        test.weights.numpy(),
        settings.signal_efficiencies,
        settings.bootstrap_samples,
        seed=settings.seed,
    )
    layout = [m.in_features for m in trained.sequential if isinstance(m, torch.nn.Linear)][:1] + [
        m.out_features for m in trained.sequential if isinstance(m, torch.nn.Linear)
    ]
    n_params = sum(p.numel() for p in trained.sequential.parameters())
    epochs = trained.epochs
    metrics: dict[str, Any] = {
        "model": spec.name,
        "kind": spec.kind,
        "seed": spec.seed,
        "replica": spec.replica,
        "layout": layout,
        "inputs": layout[0],
        "nodes_per_layer": layout[1:-1],
        "hidden_nodes": sum(layout[1:-1]),
        "multiplications": multiplication_count(trained.sequential),
        "parameters": int(n_params),
        "feature_names": trained.feature_names,
        "test": {"n_jets": len(test), **performance},
        "training": {
            "epochs": epochs,
            "jet_passes": trained.jet_passes,
            "trainings": len(trained.fits),
        },
        # Wall-clock numbers are the only entries that differ between identical runs.
        "timing": {
            "wall_time_s": round(trained.wall_time_s, 3),
            "seconds_per_epoch": round(trained.wall_time_s / max(epochs, 1), 4),
        },
    }
    for key in ("budget", "snap", "extraction_max_abs_diff", "selected_features", "source_model"):
        if key in trained.details:
            metrics[key] = trained.details[key]
    if "steps" in trained.details:
        metrics["ptr_steps"] = trained.details["steps"]
    return metrics
