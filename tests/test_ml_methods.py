"""The pruning methods as a set: the registry agrees with the contracts, AutoPruner's selection
beats the random control where selection matters, and diverging trainings stop with a clear
error instead of producing a network that scores NaN."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from deeppp.contracts import MODEL_FAMILY_LABELS, PRUNING_METHODS, model_name
from deeppp.metrics import EventBootstrap, MetricsError, bootstrap_metrics, paired_difference
from deeppp.plotting import FAMILY_STYLES
from ml.dataset import read_dataset
from ml.jobs import tagger_logits
from ml.methods import METHODS, MethodInputs
from ml.methods.base import train_plain
from ml.settings import Budget, MLSettings, ScheduleSettings, TrainingSettings
from ml.synthetic import informative_features, synthetic_feature_names, write_synthetic_dataset
from ml.training import TrainingDivergedError

N_FEATURES, N_INFORMATIVE, K = 20, 3, 3


def test_registry_agrees_with_the_contracts() -> None:
    assert list(METHODS) == list(PRUNING_METHODS)
    for name, method in METHODS.items():
        assert method.name == name
        assert name in MODEL_FAMILY_LABELS and name in FAMILY_STYLES
        assert model_name(name, "hidden", 30) == f"{name}_h30"
    # Every family of the grammar has its own colour and marker in the plots.
    styles = [(s.colour, s.marker) for s in FAMILY_STYLES.values()]
    assert len(set(styles)) == len(styles)
    assert set(FAMILY_STYLES) == set(MODEL_FAMILY_LABELS)


@pytest.fixture(scope="module")
def selection_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 informative features among 20, none in the first columns (so a pruner that breaks
    ties by position selects only noise)."""
    directory = write_synthetic_dataset(
        tmp_path_factory.mktemp("selection"),
        n_train=3000,
        n_val=1000,
        n_test=3000,
        n_features=N_FEATURES,
        n_informative=N_INFORMATIVE,
        seed=21,
    )
    first = set(synthetic_feature_names(N_FEATURES)[:K])
    assert not first & set(informative_features(directory))
    return directory


def settings_for_selection() -> MLSettings:
    return MLSettings(
        seed=4,
        training=TrainingSettings(
            hidden_layout=(32, 32), progress=False, max_epochs=6, learning_rate=0.005
        ),
        schedule=ScheduleSettings(
            warmup_steps=24,
            pruning_steps=2,
            steps_per_pruning_step=150,
            max_settle_steps=240,
            finetune_epochs=3,
        ),
        bootstrap_samples=200,
    )


def test_autopruner_beats_the_random_control_where_selection_matters(selection_sample) -> None:
    """Tight input budget, few informative features: AutoPruner's AUC is above the random
    control's with a paired (event bootstrap) 95 % interval that excludes zero. With the
    classifier gradient to the gates cut (checked by hand), all gates fall alike, the tie is
    broken by position, only noise features are kept and this test fails."""
    samples = read_dataset(selection_sample)
    settings = settings_for_selection()
    test = samples["test"]
    labels, weights = test.labels.numpy(), test.weights.numpy()
    bootstrap = EventBootstrap(test.events, settings.bootstrap_samples, seed=1)
    results = {}
    for method in ("autopruner", "random"):
        inputs = MethodInputs(samples, Budget("inputs", K), 11, settings, (32, 32), name=method)
        trained = METHODS[method].train(inputs)
        meta = {
            "feature_names": trained.feature_names,
            "feature_mean": trained.standardisation.mean,
            "feature_std": trained.standardisation.std,
        }
        scores = tagger_logits(trained.sequential.eval(), meta, test)
        results[method] = bootstrap_metrics(labels, scores, weights, (0.5,), bootstrap)
    difference = paired_difference(results["autopruner"], results["random"], "auc", 0.95)
    assert difference["ci_low"] > 0.0, difference
    assert difference["significant"]


def test_random_control_is_seeded_and_within_budget(selection_sample) -> None:
    samples = read_dataset(selection_sample)
    settings = settings_for_selection()
    chosen = []
    for seed in (11, 11, 12):
        inputs = MethodInputs(samples, Budget("inputs", K), seed, settings, (32, 32), name="r")
        trained = METHODS["random"].train(inputs)
        assert len(trained.feature_names) == K
        assert trained.details["random_assignment"]
        chosen.append(trained.feature_names)
    assert chosen[0] == chosen[1]
    assert chosen[0] != chosen[2]


@pytest.mark.parametrize("method", ["unpruned", *METHODS])
def test_divergence_stops_training_with_a_clear_error(selection_sample, method: str) -> None:
    """learning_rate: inf (accepted before the schema refused non-finite numbers) made every
    weight NaN and was reported as "AUC 1.0000"; now the first non-finite loss stops it."""
    samples = read_dataset(selection_sample)
    settings = replace(
        settings_for_selection(),
        training=replace(settings_for_selection().training, learning_rate=math.inf),
    )
    inputs = MethodInputs(samples, Budget("hidden", 30), 1, settings, (32, 32), name=method)

    def train() -> object:
        if method == "unpruned":
            return train_plain(samples, (32, 32), settings, 1, desc=method)
        return METHODS[method].train(inputs)

    with pytest.raises(TrainingDivergedError, match="non-finite loss at optimiser step"):
        train()


def test_nan_scores_are_never_reported_as_a_perfect_tagger() -> None:
    labels = np.r_[np.ones(60), np.zeros(60)]  # signal first, as in the merged files
    scores = np.full(120, np.nan)
    bootstrap = EventBootstrap(np.arange(120), 10, seed=0)
    with pytest.raises(MetricsError, match="NaN or infinite"):
        bootstrap_metrics(labels, scores, np.ones(120), (0.5,), bootstrap)


def test_fine_tuning_never_ends_worse_than_it_started(selection_sample) -> None:
    """Fine-tuning and prune/train/repeat retraining start from a trained network: with a
    learning rate that wrecks it, the training keeps the starting weights instead of the best
    of the damaged epochs (keep_start); plain training from scratch does not."""
    from ml.gates import GatedTagger
    from ml.methods.base import start
    from ml.training import fit_plain

    samples = read_dataset(selection_sample)
    settings = settings_for_selection()
    inputs = MethodInputs(samples, Budget("hidden", 30), 3, settings, (32, 32), name="ft")
    _, _, data = start(inputs)
    net = GatedTagger(N_FEATURES, (32, 32))
    fit_plain(net, data["train"], data["val"], settings.training, 3, max_epochs=3)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    wrecking = replace(settings.training, learning_rate=0.3)
    result = fit_plain(net, data["train"], data["val"], wrecking, 4, max_epochs=2, keep_start=True)
    assert result.best_step == 0
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert min(h["val_loss"] for h in result.history[1:]) > result.history[0]["val_loss"]
