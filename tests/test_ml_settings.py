"""ml settings: dataclass defaults equal the schema's, cross-key checks, and the pruning
schedule in optimiser steps (warning when a pruning step is too short; the paper config at
CPU and GPU batch sizes)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from deeppp.config import ConfigError, load_config, validate_config
from ml.autopruner import describe_schedule, schedule_warning
from ml.settings import MLConfigError, MLSettings, PrunerSettings, ScheduleSettings

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def cluster_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """paper.yaml asks for 4 threads per job: meant for cluster nodes, not this machine."""
    monkeypatch.setenv("DEEPPP_MAX_THREADS", "64")


def test_dataclass_defaults_equal_the_schema_defaults() -> None:
    from_schema = MLSettings.from_config(validate_config({"seed": 0}))
    assert from_schema == MLSettings(seed=0)


def test_the_default_config_spells_out_the_schema_defaults_it_relies_on() -> None:
    settings = MLSettings.from_config(load_config(REPO / "config" / "default.yaml"))
    assert settings.schedule == ScheduleSettings()
    assert settings.seeds >= 3


@pytest.mark.parametrize(
    ("ml", "message"),
    [
        ({"without_gauge_decay": [50]}, r"ml\.without_gauge_decay: 50 is not one of"),
        ({"methods": ["autopruner", "magic"]}, r"ml\.methods: unknown \['magic'\]"),
        ({"hidden_budgets_percent": [1]}, "one node per layer"),
    ],
)
def test_inconsistent_settings_are_refused_naming_the_key(ml: dict, message: str) -> None:
    # When the config is loaded (before any job runs) ...
    with pytest.raises(ConfigError, match=message):
        validate_config({"seed": 1, "ml": ml})
    # ... and by the settings themselves, for a config that skipped that check.
    config = validate_config({"seed": 1})
    config["ml"] = {**config["ml"], **ml}
    with pytest.raises(MLConfigError, match=message):
        MLSettings.from_config(config)


def test_too_few_steps_per_pruning_step_give_a_warning() -> None:
    pruner = PrunerSettings()  # gate learning rate 0.3, needs 0.3 x steps >= 45
    assert schedule_warning(ScheduleSettings(steps_per_pruning_step=150), pruner) is None
    warning = schedule_warning(ScheduleSettings(steps_per_pruning_step=100), pruner)
    assert warning is not None
    assert "steps_per_pruning_step = 100" in warning and "need about 150" in warning


@pytest.mark.parametrize("batch_size", [1024, 16384])
def test_paper_schedule_gives_the_gates_their_steps_at_cpu_and_gpu_batch_sizes(
    batch_size: int,
) -> None:
    """config/paper.yaml on 2.4M training jets: the schedule is in optimiser steps, so a GPU
    batch of 16384 (146 steps per epoch) keeps every pruning step at 500 optimiser steps and
    only the epoch form grows. The former epoch-based schedule (one epoch per pruning step)
    would have given the gates 146 steps at that batch size, fewer than they need."""
    settings = MLSettings.from_config(load_config(REPO / "config" / "paper.yaml"))
    settings = replace(settings, training=replace(settings.training, batch_size=batch_size))
    n_train = 2_400_000
    steps_per_epoch = math.ceil(n_train / batch_size)
    assert schedule_warning(settings.schedule, settings.pruner) is None
    described = describe_schedule(settings.schedule, steps_per_epoch)
    assert described["optimiser_steps"]["pruning_step"] == 500
    assert described["epochs"]["pruning_step"] == pytest.approx(500 / steps_per_epoch, rel=1e-3)
    epoch_based = replace(settings.schedule, steps_per_pruning_step=steps_per_epoch)
    if batch_size == 16384:
        assert steps_per_epoch == 147
        assert schedule_warning(epoch_based, settings.pruner) is not None
    else:
        assert schedule_warning(epoch_based, settings.pruner) is None


@pytest.mark.parametrize("name", ["default.yaml", "benchmark.yaml", "paper.yaml"])
def test_shipped_configs_load_and_give_the_gates_enough_steps(name: str) -> None:
    settings = MLSettings.from_config(load_config(REPO / "config" / name))
    assert schedule_warning(settings.schedule, settings.pruner) is None
    assert settings.seeds >= (5 if name != "default.yaml" else 3)
