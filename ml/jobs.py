"""One function per CLI subcommand: read inputs, run a method, write the contract files.

``train_model`` writes ``{models_dir}/{model}/model.pt`` (docs/data_contracts.md),
``metrics.json`` (:class:`deeppp.handoffs.ModelMetrics`: test-set performance with event-level
bootstrap uncertainties, size, training cost) and ``history.json`` (checkpoints with losses, AUC
and gate values, for the studies' plots) as one set: the three are swapped in together or not
at all.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deeppp.atomic import atomic_outputs, json_text
from deeppp.contracts import ML_MODEL_FILES, RETRAINED, SPLITS, UNPRUNED, dataset_file_name
from deeppp.handoffs import Measurement, ModelMetrics, Performance, Rejection, TrainingCost
from deeppp.metrics import efficiency_key, tagger_metrics
from deeppp.provenance import provenance
from ml.dataset import JetSample, read_dataset
from ml.methods import METHODS, MethodInputs, TrainedTagger
from ml.methods.base import train_plain
from ml.model_io import load_tagger, model_bytes, predict_logits, sequential_layout
from ml.settings import MLConfigError, MLSettings, ModelSpec, model_spec

logger = logging.getLogger(__name__)


def file_digest(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def train_tagger(
    spec: ModelSpec,
    settings: MLSettings,
    samples: dict[str, JetSample],
    models_dir: str | os.PathLike[str] | None = None,
) -> TrainedTagger:
    """Train the model ``spec`` describes (a retrained model reads its source from
    ``models_dir``)."""
    if spec.family == UNPRUNED:
        return train_plain(samples, spec.hidden_layout, settings, spec.seed, desc=spec.name)
    if spec.family == RETRAINED:
        assert spec.source_model is not None
        if models_dir is None:
            raise MLConfigError(f"{spec.name}: needs the models directory of {spec.source_model}")
        source = load_tagger(Path(models_dir, spec.source_model, ML_MODEL_FILES[0]))
        trained = train_plain(
            samples,
            tuple(source.layout[1:-1]),
            settings,
            spec.seed,
            desc=spec.name,
            feature_names=list(source.feature_names),
        )
        trained.details["source_model"] = spec.source_model
        return trained
    assert spec.budget is not None
    method = METHODS[spec.family]
    inputs = MethodInputs(
        samples,
        spec.budget,
        spec.seed,
        settings,
        spec.hidden_layout,
        gauge_decay=spec.gauge_decay,
        name=spec.name,
    )
    return method.train(inputs)


def train_model(
    config: dict[str, Any],
    model: str,
    dataset_dir: str | os.PathLike[str],
    models_dir: str | os.PathLike[str],
) -> ModelMetrics:
    """Train the model called ``model`` and write its three files; returns the metrics."""
    settings = MLSettings.from_config(config)
    spec = model_spec(settings, model)
    samples = read_dataset(dataset_dir)
    # Budgets that exceed the dataset's feature count are a config error, whichever model runs.
    settings.check_features(len(samples["train"].feature_names))
    inputs = {split: file_digest(Path(dataset_dir, dataset_file_name(split))) for split in SPLITS}
    if spec.source_model is not None:
        source = Path(models_dir, spec.source_model, ML_MODEL_FILES[0])
        if source.is_file():
            inputs[f"{spec.source_model}/{ML_MODEL_FILES[0]}"] = file_digest(source)
    trained = train_tagger(spec, settings, samples, models_dir)
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
) -> ModelMetrics:
    """model.pt, metrics.json and history.json of one trained tagger, as one set."""
    metrics = evaluate_tagger(trained, spec, settings, test, record)
    history = {
        "model": spec.name,
        "family": spec.family,
        "fits": [f.record() for f in trained.fits],
        "details": trained.details,
        "feature_names_all": list(test.feature_names),
        "provenance": record,
    }
    payloads = {
        "model.pt": model_bytes(
            trained.sequential,
            trained.feature_names,
            trained.standardisation.mean,
            trained.standardisation.std,
            record,
        ),
        "metrics.json": json_text(metrics.to_json(), f"{spec.name} metrics.json").encode(),
        "history.json": json_text(history, f"{spec.name} history.json").encode(),
    }
    with atomic_outputs([out_dir / f for f in ML_MODEL_FILES]) as temps:
        for filename, tmp in zip(ML_MODEL_FILES, temps, strict=True):
            tmp.write_bytes(payloads[filename])
    return metrics


def tagger_logits(sequential: torch.nn.Module, meta: dict[str, Any], test: JetSample) -> np.ndarray:
    """Network logits for the test jets, using the features the model was trained on."""
    selected = test.select_features(meta["feature_names"])
    assert isinstance(sequential, torch.nn.Sequential)
    return predict_logits(sequential, meta, selected.features).numpy()


def performance_on_test(
    labels: np.ndarray,
    scores: np.ndarray,
    weights: np.ndarray,
    events: np.ndarray | None,
    settings: MLSettings,
) -> Performance:
    """Metrics with event-level bootstrap uncertainties, as the typed hand-off."""
    raw = tagger_metrics(
        labels,
        scores,
        weights,
        settings.signal_efficiencies,
        settings.bootstrap_samples,
        seed=settings.seed,
        clusters=events,
    )
    rejections = tuple(
        Rejection(**raw[efficiency_key(eff)]) for eff in settings.signal_efficiencies
    )
    return Performance(raw["sample"], Measurement(**raw["auc"]), rejections)


def evaluate_tagger(
    trained: TrainedTagger,
    spec: ModelSpec,
    settings: MLSettings,
    test: JetSample,
    record: dict[str, Any],
) -> ModelMetrics:
    meta = {
        "feature_names": trained.feature_names,
        "feature_mean": trained.standardisation.mean,
        "feature_std": trained.standardisation.std,
    }
    trained.sequential.eval()
    scores = tagger_logits(trained.sequential, meta, test)
    performance = performance_on_test(
        test.labels.numpy(), scores, test.weights.numpy(), test.events, settings
    )
    budget = trained.details.get("budget")
    return ModelMetrics(
        model=spec.name,
        family=spec.family,
        seed=spec.seed,
        replica=spec.replica,
        layout=tuple(sequential_layout(trained.sequential)),
        feature_names=tuple(trained.feature_names),
        parameters=int(sum(p.numel() for p in trained.sequential.parameters())),
        budget=budget,
        gauge_decay=spec.gauge_decay,
        test=performance,
        training=TrainingCost(
            jet_passes=trained.jet_passes,
            optimiser_steps=trained.optimiser_steps,
            epochs=round(trained.epochs, 6),
            trainings=len(trained.fits),
        ),
        # Wall-clock time is the only entry that differs between identical runs.
        wall_time_s=round(trained.wall_time_s, 3),
        details={k: v for k, v in trained.details.items() if k != "budget"},
        provenance=record,
    )
