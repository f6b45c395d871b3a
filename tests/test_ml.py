"""ml stage: gate math, AutoPruner exact-k convergence, extraction, determinism, budget checks.

Synthetic jets (ml.synthetic): 4 informative features among 16, the rest pure noise, so the
selection AutoPruner makes can be checked against the truth.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from deeppp.config import ConfigError, validate_config
from deeppp.contracts import multiplications
from deeppp.metrics import tagger_metrics, weighted_auc, weighted_roc
from deeppp.rootio import InputFileError
from ml.autopruner import GateGroup
from ml.dataset import read_dataset
from ml.gates import Gate, GatedTagger, extract_sequential
from ml.jobs import train_model
from ml.model_io import build_sequential, load_model, save_model
from ml.recipes import train_autopruner, train_ptr
from ml.settings import (
    MLConfigError,
    MLSettings,
    ModelSpec,
    PrunerSettings,
    TrainingSettings,
    model_names,
    model_spec,
)
from ml.synthetic import synthetic_feature_names, write_synthetic_dataset

N_FEATURES, N_INFORMATIVE = 16, 4
INFORMATIVE = synthetic_feature_names(N_FEATURES, N_INFORMATIVE)[:N_INFORMATIVE]
TINY_ML = {
    "hidden_layout": [16, 16],
    "max_epochs": 4,
    "progress": False,
    "bootstrap_samples": 20,
    "input_budgets": [4],
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


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_dataset(
        tmp_path_factory.mktemp("dataset"),
        n_train=3000,
        n_val=1000,
        n_test=1000,
        n_features=N_FEATURES,
        n_informative=N_INFORMATIVE,
        seed=5,
    )


@pytest.fixture(scope="module")
def samples(dataset_dir: Path):
    return read_dataset(dataset_dir)


def small_settings(hidden_layout: tuple[int, ...] = (32, 32), **pruner: object) -> MLSettings:
    return MLSettings(
        seed=1,
        training=TrainingSettings(
            hidden_layout=hidden_layout, progress=False, max_epochs=6, learning_rate=0.005
        ),
        # Tiny data (12 steps per epoch): longer warm-up and steps than the defaults.
        pruner=PrunerSettings(
            **{"warmup_epochs": 3, "epochs_per_step": 2, "finetune_epochs": 2, **pruner}
        ),  # type: ignore[arg-type]
    )


def tiny_config(**ml: object) -> dict:
    return validate_config({"seed": 3, "ml": {**TINY_ML, **ml}})


# --- gate math -------------------------------------------------------------------------------


def test_gate_multiplies_each_node_by_sigmoid_of_its_logit() -> None:
    gate = Gate([3], 0.9)
    with torch.no_grad():
        gate.logits.copy_(torch.tensor([-2.0, 0.0, 3.0]))
    x = torch.tensor([[1.0, 2.0, -4.0], [0.5, -1.0, 2.0]])
    expected = x * torch.tensor(
        [1 / (1 + np.exp(2.0)), 0.5, 1 / (1 + np.exp(-3.0))], dtype=torch.float32
    )
    torch.testing.assert_close(gate(x), expected)
    # The gradient reaching the logit is x * s * (1 - s): what lets the classifier resist closing.
    gate(x).sum().backward()
    s = torch.sigmoid(gate.logits.detach())
    torch.testing.assert_close(gate.logits.grad, x.sum(0) * s * (1 - s))


def test_frozen_gate_has_exact_values_and_stops_training() -> None:
    gate = Gate([4], 0.9)
    gate.freeze(torch.tensor([0.0, 0.97, 0.0, 1.0]))
    assert not gate.logits.requires_grad
    x = torch.ones(2, 4)
    assert gate(x)[0].tolist() == pytest.approx([0.0, 0.97, 0.0, 1.0])
    assert gate.kept().tolist() == [False, True, False, True]
    with pytest.raises(ValueError, match="inside"):
        Gate([2], 1.0)


def test_plain_tagger_equals_its_sequential() -> None:
    torch.manual_seed(0)
    sequential = build_sequential([39, 64, 64, 64, 64, 1])
    net = GatedTagger.from_sequential(sequential)
    x = torch.randn(50, 39)
    torch.testing.assert_close(net(x), sequential(x).squeeze(-1))
    extracted, kept = extract_sequential(net)
    assert bool(kept.all())
    torch.testing.assert_close(extracted(x), sequential(x))


def test_extraction_folds_gates_and_drops_pruned_nodes() -> None:
    torch.manual_seed(1)
    net = GatedTagger(12, (20, 15, 10), input_gate=True, hidden_gates=True)
    rng = np.random.default_rng(2)
    for gate in net.gates:
        values = torch.tensor(rng.uniform(0.3, 1.0, gate.n_nodes), dtype=torch.float32)
        values[torch.tensor(rng.random(gate.n_nodes) < 0.5)] = 0.0
        for start in np.cumsum([0, *gate.sizes[:-1]]):
            values[int(start)] = 0.8  # at least one node per layer survives
        gate.freeze(values)
    sequential, kept_inputs = extract_sequential(net)
    x = torch.randn(200, 12) * 3
    with torch.no_grad():
        diff = (sequential(x[:, kept_inputs]).squeeze(-1) - net(x)).abs().max()
        # The folded forward pass equals gating the activations themselves.
        h = net.input_gate(x)
        for layer, gate in zip(net.linears[:-1], net.hidden_gate.layer_values(), strict=True):
            h = torch.relu(layer(h)) * gate
        explicit = net.linears[-1](h).squeeze(-1)
    assert float(diff) < 1e-5
    assert float((explicit - net(x)).abs().max()) < 1e-5
    widths = [m.out_features for m in sequential if isinstance(m, nn.Linear)]
    assert widths == [int(m.sum()) for m in net.hidden_gate.kept_per_layer()] + [1]
    assert int(kept_inputs.sum()) == int(net.input_gate.kept().sum())


def test_extraction_refuses_soft_gates() -> None:
    net = GatedTagger(4, (3,), hidden_gates=True)
    with pytest.raises(ValueError, match="freeze"):
        extract_sequential(net)


# --- AutoPruner ------------------------------------------------------------------------------


def test_autopruner_keeps_exactly_the_informative_inputs(samples) -> None:
    settings = small_settings()
    spec = ModelSpec("autopruner_in4", "autopruner", (32, 32), seed=11, input_keep=N_INFORMATIVE)
    trained = train_autopruner(samples, spec, settings)
    assert trained.feature_names == INFORMATIVE
    separation = trained.details["snap"]["separation"]["inputs"]
    assert separation["n_kept"] == N_INFORMATIVE
    # Before the snap the rejected gates had really closed, the kept ones sat at the pre-set value.
    assert separation["max_rejected"] <= settings.pruner.snap_threshold
    assert separation["max_kept_deviation"] <= settings.pruner.open_tolerance
    assert trained.details["snap"]["max_abs_logit_change"] <= settings.pruner.snap_tolerance
    # After the snap, the rejected inputs are gone from the network.
    first = trained.sequential[0]
    assert first.in_features == N_INFORMATIVE
    assert trained.details["extraction_max_abs_diff"] < 1e-5
    # Gate history: the noise gates end at exactly zero, the informative ones open.
    history = trained.fits[0].history
    final = history[-1]["gates"]["inputs"][0]
    assert all(v == 0.0 for v in final[N_INFORMATIVE:])
    assert all(v > 0.9 for v in final[:N_INFORMATIVE])
    assert trained.standardisation.mean.numel() == N_INFORMATIVE


def test_autopruner_hidden_group_keeps_exactly_k_nodes(samples) -> None:
    layout = (16, 16, 16)
    settings = small_settings(layout)
    spec = ModelSpec("autopruner_h40", "autopruner", layout, seed=4, hidden_percent=40)
    trained = train_autopruner(samples, spec, settings)
    widths = [m.out_features for m in trained.sequential if isinstance(m, nn.Linear)][:-1]
    assert sum(widths) == 20  # ceil(0.4 * 48)
    assert min(widths) >= 1
    separation = trained.details["snap"]["separation"]["hidden"]
    assert separation["n_kept"] == 20
    assert separation["max_rejected"] <= settings.pruner.snap_threshold
    assert trained.details["extraction_max_abs_diff"] < 1e-5
    # The classifier loss rises while the pruning steps close gates, then recovers after the
    # snap: the bumps the hidden study plots.
    trace = trained.fits[0].loss_trace
    warmup = settings.pruner.warmup_epochs
    prune_end = warmup + settings.pruner.pruning_steps * settings.pruner.epochs_per_step
    end_of_warmup = np.mean([loss for epoch, loss in trace if warmup - 1 < epoch <= warmup])
    during_pruning = max(loss for epoch, loss in trace if warmup < epoch <= prune_end)
    final = np.mean([loss for epoch, loss in trace if epoch > trace[-1][0] - 1])
    assert during_pruning > end_of_warmup
    assert final < during_pruning
    final_hidden = trained.fits[0].history[-1]["gates"]["hidden"]
    assert sum(v > 0 for layer in final_hidden for v in layer) == 20
    assert all(v == 0.0 or v > 0.9 for layer in final_hidden for v in layer)


def test_multiplication_budget_is_met_and_maximal() -> None:
    torch.manual_seed(3)
    net = GatedTagger(10, (12, 8, 6), hidden_gates=True)
    with torch.no_grad():
        net.hidden_gate.logits.copy_(torch.randn(26))
    group = GateGroup("hidden", net.hidden_gate, "multiplications", 150, (10, 1))
    assert group.full_budget == 10 * 12 + 12 * 8 + 8 * 6 + 6
    masks = torch.split(group.select(150), [12, 8, 6])
    counts = [int(m.sum()) for m in masks]
    cost = multiplications([10, *counts, 1])
    assert cost <= 150 and min(counts) >= 1
    for layer in range(3):  # no further node fits
        trial = list(counts)
        trial[layer] += 1
        if trial[layer] <= masks[layer].numel():
            assert multiplications([10, *trial, 1]) > 150
    nodes = GateGroup("hidden", net.hidden_gate, "nodes", 9, (10, 1)).select(9)
    assert int(nodes.sum()) == 9
    assert all(int(m.sum()) >= 1 for m in torch.split(nodes, [12, 8, 6]))


def test_autopruner_multiplication_budget_training(samples) -> None:
    layout = (16, 16)
    settings = MLSettings(
        seed=1,
        training=TrainingSettings(hidden_layout=layout, progress=False),
        pruner=PrunerSettings(warmup_epochs=3, epochs_per_step=2, finetune_epochs=1),
        budget_unit="multiplications",
    )
    spec = ModelSpec("autopruner_h30", "autopruner", layout, seed=2, hidden_percent=30)
    trained = train_autopruner(samples, spec, settings)
    widths = [N_FEATURES] + [m.out_features for m in trained.sequential if isinstance(m, nn.Linear)]
    budget = trained.details["budget"]["hidden"]
    assert budget == -(-30 * multiplications([N_FEATURES, 16, 16, 1]) // 100)
    assert multiplications(widths) <= budget


def test_prune_train_repeat_reaches_the_node_budget(samples) -> None:
    settings = MLSettings(
        seed=1,
        training=TrainingSettings(hidden_layout=(16, 16), progress=False, max_epochs=3),
    )
    spec = ModelSpec("ptr_h30", "ptr", (16, 16), seed=5, hidden_percent=30)
    trained = train_ptr(samples, spec, settings)
    widths = [m.out_features for m in trained.sequential if isinstance(m, nn.Linear)][:-1]
    assert sum(widths) == 10 and min(widths) >= 1
    nodes = [s["hidden_nodes"] for s in trained.details["steps"]]
    assert nodes == sorted(nodes, reverse=True) and nodes[-1] == 10
    assert len(trained.fits) == len(nodes) + 1  # full training + one retraining per step


# --- determinism, files, metrics -------------------------------------------------------------


def test_same_seed_gives_identical_model_bytes(dataset_dir: Path, tmp_path: Path) -> None:
    config = tiny_config()
    for run in ("a", "b"):
        train_model(config, "autopruner_h40", dataset_dir, tmp_path / run)
    a, b = tmp_path / "a" / "autopruner_h40", tmp_path / "b" / "autopruner_h40"
    assert (a / "model.pt").read_bytes() == (b / "model.pt").read_bytes()
    assert (a / "history.json").read_bytes() == (b / "history.json").read_bytes()
    metrics_a, metrics_b = (json.loads((d / "metrics.json").read_text()) for d in (a, b))
    metrics_a.pop("timing"), metrics_b.pop("timing")
    assert metrics_a == metrics_b
    other = validate_config({"seed": 4, "ml": TINY_ML})
    train_model(other, "autopruner_h40", dataset_dir, tmp_path / "c")
    assert (tmp_path / "c" / "autopruner_h40" / "model.pt").read_bytes() != (
        a / "model.pt"
    ).read_bytes()


def test_model_file_round_trip_and_rejection(tmp_path: Path) -> None:
    torch.manual_seed(0)
    sequential = build_sequential([3, 5, 1])
    save_model(
        tmp_path / "m.pt",
        sequential,
        ["a", "b", "c"],
        [0.0, 1.0, 2.0],
        [1.0, 2.0, 3.0],
        {"seed": 1},
    )
    loaded, meta = load_model(tmp_path / "m.pt")
    x = torch.randn(7, 3)
    torch.testing.assert_close(loaded(x), sequential(x))
    assert meta["layout"] == [3, 5, 1] and meta["feature_names"] == ["a", "b", "c"]
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(InputFileError, match=r"junk\.pt"):
        load_model(tmp_path / "junk.pt")
    torch.save({"weights": torch.ones(2)}, tmp_path / "foreign.pt")
    with pytest.raises(InputFileError, match="not a deeppp model"):
        load_model(tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="feature names"):
        save_model(tmp_path / "bad.pt", sequential, ["a"], [0.0], [1.0], {})
    assert not (tmp_path / "bad.pt").exists()


def test_metrics_agree_with_sklearn_and_bootstrap_is_reproducible() -> None:
    from sklearn.metrics import roc_auc_score, roc_curve

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 4000)
    scores = np.round(rng.normal(size=4000) + 1.5 * labels, 2)
    weights = rng.uniform(0.5, 1.5, 4000)
    eps_s, eps_b = weighted_roc(labels, scores, weights)
    fpr, tpr, _ = roc_curve(labels, scores, sample_weight=weights, drop_intermediate=False)
    np.testing.assert_allclose(eps_s, tpr)
    np.testing.assert_allclose(eps_b, fpr)
    assert weighted_auc(labels, scores, weights) == pytest.approx(
        roc_auc_score(labels, scores, sample_weight=weights)
    )
    first = tagger_metrics(labels, scores, weights, (0.5, 0.7), 50, seed=9)
    assert first == tagger_metrics(labels, scores, weights, (0.5, 0.7), 50, seed=9)
    assert 0.0 < first["auc"]["uncertainty"] < 0.02
    # For a Gaussian shift of 1.5 sigma, 1/eps_B at eps_S = 50 % is 1/Phi(-1.5) ~ 14.9.
    assert first["rejection_50"]["value"] == pytest.approx(14.9, rel=0.2)


# --- configuration and CLI -------------------------------------------------------------------


def test_model_names_of_the_default_config() -> None:
    settings = MLSettings.from_config(validate_config({"seed": 1}))
    names = model_names(settings)
    for name in (
        "unpruned",
        "autopruner_h30",
        "autopruner_h50",
        "autopruner_h70",
        "retrained_h50",
        "ptr_h70",
        "autopruner_in5",
        "autopruner_in30",
        "autopruner_in10_alt",
        "autopruner_h30_seed2",
    ):
        assert name in names
    assert len(names) == len(set(names))
    assert "autopruner_h30_seed1" not in model_names(settings, core_only=True)
    spec = model_spec(settings, "retrained_h70_seed1")
    assert (
        spec.kind == "retrained"
        and spec.source_model == "autopruner_h70_seed1"
        and spec.replica == 1
    )
    assert model_spec(settings, "autopruner_in10_alt").hidden_layout == (32, 32)
    with pytest.raises(MLConfigError, match="unknown model name"):
        model_spec(settings, "autopruner_x")


def test_nonpositive_budgets_are_rejected_by_the_schema() -> None:
    with pytest.raises(ConfigError, match=r"ml\.input_budgets\.0: 0 is less than the minimum of 1"):
        validate_config({"seed": 1, "ml": {"input_budgets": [0]}})
    with pytest.raises(ConfigError, match=r"ml\.hidden_budgets_percent\.0: 101"):
        validate_config({"seed": 1, "ml": {"hidden_budgets_percent": [101]}})


def test_hidden_budget_needs_one_node_per_layer() -> None:
    # Checked when the config is loaded (deeppp.config runs the ml structure checks) ...
    with pytest.raises(ConfigError, match="one node per layer"):
        validate_config({"seed": 1, "ml": {"hidden_budgets_percent": [1]}})
    # ... and by the settings themselves, for a config that skipped validation.
    config = validate_config({"seed": 1})
    config["ml"]["hidden_budgets_percent"] = [1]
    with pytest.raises(MLConfigError, match="one node per layer"):
        MLSettings.from_config(config)


def test_input_budget_larger_than_the_features_is_rejected(
    dataset_dir: Path, tmp_path: Path
) -> None:
    config = tiny_config(input_budgets=[N_FEATURES + 1])
    with pytest.raises(
        MLConfigError, match=r"ml\.input_budgets: budget of 17 gates exceeds the group size of 16"
    ):
        train_model(config, "unpruned", dataset_dir, tmp_path / "models")
    assert not (tmp_path / "models").exists()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ml", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_rejects_bad_budgets_with_one_line(dataset_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({"seed": 1, "ml": TINY_ML}))
    common = [
        "--config",
        str(config),
        "--dataset",
        str(dataset_dir),
        "--models-dir",
        str(tmp_path / "models"),
    ]
    zero = _cli("prune", "--keep-inputs", "0", *common)
    assert zero.returncode == 2
    assert "budget must be a positive number of gates, got 0" in zero.stderr
    too_many = _cli("prune", "--keep-inputs", "17", *common)
    assert too_many.returncode == 2
    lines = too_many.stderr.strip().splitlines()
    assert len(lines) == 1
    assert (
        "error: model autopruner_in17: input budget: budget of 17 gates exceeds the group size of 16"
        in lines[0]
    )
    percent = _cli("prune", "--keep-hidden-percent", "150", *common)
    assert percent.returncode == 2 and "1..100" in percent.stderr
    assert not (tmp_path / "models").exists()
    assert _cli("--help").returncode == 0


@pytest.mark.parametrize("unit", ["nodes", "multiplications"])
@pytest.mark.parametrize(("epoch", "fraction"), [(3, 0.5), (11, 0.25), (12, 0.0)])
def test_closed_form_pruner_gradient_equals_autograd(
    unit: str, epoch: int, fraction: float
) -> None:
    from ml.autopruner import PrunerSchedule, make_groups

    torch.manual_seed(7)
    net = GatedTagger(10, (12, 8, 6), input_gate=True, hidden_gates=True)
    with torch.no_grad():
        net.input_gate.logits.copy_(torch.randn(10) * 3)
        net.hidden_gate.logits.copy_(torch.randn(26) * 4)
    budget = 9 if unit == "nodes" else 120
    schedule = PrunerSchedule(
        PrunerSettings(strength=1.7, warmup_epochs=3, epochs_per_step=2),
        make_groups(net, input_keep=4, hidden_budget=budget, unit=unit),
    )
    assert schedule.phase(epoch) in ("prune", "settle")
    schedule.loss(epoch, fraction).backward()
    expected = [g.logits.grad.clone() for g in net.gates]
    for g in net.gates:
        g.logits.grad = None
    schedule.add_gradients(epoch, fraction)
    for gate, reference in zip(net.gates, expected, strict=True):
        torch.testing.assert_close(gate.logits.grad, reference, rtol=1e-5, atol=1e-6)


def test_prune_train_repeat_with_a_multiplication_budget(samples) -> None:
    settings = MLSettings(
        seed=1,
        training=TrainingSettings(hidden_layout=(16, 16), progress=False, max_epochs=2),
        budget_unit="multiplications",
    )
    trained = train_ptr(
        samples, ModelSpec("ptr_h30", "ptr", (16, 16), seed=5, hidden_percent=30), settings
    )
    widths = [N_FEATURES] + [m.out_features for m in trained.sequential if isinstance(m, nn.Linear)]
    budget = trained.details["budget"]["hidden"]
    assert multiplications(widths) <= budget < multiplications([N_FEATURES, 16, 16, 1])
    assert [s["multiplications"] for s in trained.details["steps"]][-1] == multiplications(widths)
