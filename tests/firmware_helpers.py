"""Shared pieces of the firmware tests: tiny taggers trained in a second on synthetic jets
(ml.synthetic: 4 informative features among 8), dataset files in the ml -> firmware contract,
and settings built from the schema."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from deeppp.config import validate_config
from deeppp.contracts import JETS_TREE
from deeppp.provenance import provenance
from deeppp.rootio import write_root
from firmware.settings import FirmwareSettings
from ml.model_io import save_model
from ml.synthetic import synthetic_feature_names, synthetic_jets

N_FEATURES, N_INFORMATIVE = 8, 4
NAMES = synthetic_feature_names(N_FEATURES, N_INFORMATIVE)


def trained_mlp(
    layout: list[int], seed: int = 0, steps: int = 300
) -> tuple[nn.Sequential, dict[str, np.ndarray]]:
    """A small tagger trained full-batch on 3000 synthetic jets (about a second on one core)."""
    torch.manual_seed(seed)
    jets = synthetic_jets(3000, N_FEATURES, N_INFORMATIVE, seed=seed + 1)
    x = np.stack([jets[n] for n in NAMES], axis=1)
    mean, std = x.mean(axis=0), x.std(axis=0)
    xt = torch.tensor((x - mean) / std, dtype=torch.float32)
    yt = torch.tensor(jets["label"], dtype=torch.float32)
    modules: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(layout)):
        modules.append(nn.Linear(a, b))
        if i < len(layout) - 2:
            modules.append(nn.ReLU())
    net = nn.Sequential(*modules)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.binary_cross_entropy_with_logits(net(xt)[:, 0], yt).backward()
        opt.step()
    return net.eval(), {"mean": mean, "std": std}


def synthetic_test_set(seed: int = 7, n: int = 2000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    jets = synthetic_jets(n, N_FEATURES, N_INFORMATIVE, seed=seed)
    return (
        np.stack([jets[n] for n in NAMES], axis=1).astype(np.float64),
        jets["label"],
        jets["weight"].astype(np.float64),
    )


def signal_first(jets: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Jets ordered as dataset files are (signal first), event numbers per process."""
    order = np.argsort(-jets["label"], kind="stable")
    out = {key: np.asarray(value)[order] for key, value in jets.items()}
    out["event_number"] = np.arange(len(order), dtype=np.int64)
    return out


def write_jets(path: Path, n: int, seed: int) -> Path:
    write_root(
        path,
        {JETS_TREE: signal_first(synthetic_jets(n, N_FEATURES, N_INFORMATIVE, seed=seed))},
        provenance("synthetic", None, seed),
    )
    return path


def save_tagger(path: Path, net: nn.Sequential, norm: dict[str, np.ndarray]) -> Path:
    save_model(path, net, NAMES, norm["mean"], norm["std"], {"stage": "test"})
    return path


def firmware_config(firmware: dict[str, Any], seed: int = 11) -> dict[str, Any]:
    return validate_config(
        {"seed": seed, "firmware": {"progress": False, **firmware}}, source="test"
    )


def settings_of(firmware: dict[str, Any], seed: int = 11) -> FirmwareSettings:
    return FirmwareSettings.from_config(firmware_config(firmware, seed))
