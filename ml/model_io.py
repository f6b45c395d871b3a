"""Saving and loading trained taggers: the ml -> firmware contract (``docs/data_contracts.md``).

A model file is ``torch.save`` of a plain dict (tensors, lists, strings, numbers only), so it loads
with ``weights_only=True`` and never executes code from the file. The network is always a plain
``nn.Sequential(Linear, ReLU, ..., Linear)``: AutoPruner gates are folded into the weights before
saving, so the firmware stage sees an ordinary, smaller dense network.
"""

from __future__ import annotations

import io
import itertools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from deeppp.atomic import atomic_path
from deeppp.rootio import InputFileError

#: Keys every model file holds (docs/data_contracts.md, "ml -> firmware").
MODEL_KEYS = ("layout", "state_dict", "feature_names", "feature_mean", "feature_std", "provenance")
#: Marks the dict as a deeppp tagger, so an arbitrary torch file is rejected with a clear message.
FORMAT_TAG = "deeppp-tagger-v1"


def sequential_layout(sequential: nn.Sequential) -> list[int]:
    """Layer widths ``[n_in, n_hidden..., n_out]`` of a plain Linear/ReLU stack."""
    linears = [m for m in sequential if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("network has no Linear layer")
    for module in sequential:
        if not isinstance(module, nn.Linear | nn.ReLU):
            raise ValueError(
                f"only Linear and ReLU layers can be saved, found {type(module).__name__}"
            )
    layout = [linears[0].in_features]
    for previous, layer in itertools.pairwise(linears):
        if layer.in_features != previous.out_features:
            raise ValueError("consecutive Linear layers do not chain")
    layout += [layer.out_features for layer in linears]
    return layout


def build_sequential(layout: Sequence[int]) -> nn.Sequential:
    """A plain ``Linear, ReLU, ..., Linear`` network with the given widths (output is a logit)."""
    if len(layout) < 2 or any(int(w) < 1 for w in layout):
        raise ValueError(f"invalid layout {list(layout)}")
    modules: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(layout)):
        modules.append(nn.Linear(int(n_in), int(n_out)))
        if i < len(layout) - 2:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)


def model_bytes(
    sequential: nn.Sequential,
    feature_names: Sequence[str],
    feature_mean: Sequence[float] | torch.Tensor,
    feature_std: Sequence[float] | torch.Tensor,
    provenance: dict[str, Any],
) -> bytes:
    """The model file's bytes; identical inputs give identical bytes.

    ``torch.save`` into a memory buffer (its zip writer records the archive name, which must not
    be a random temporary file name). Refuses non-finite weights and ``std <= 0``.
    """
    layout = sequential_layout(sequential)
    names = [str(n) for n in feature_names]
    mean = torch.as_tensor(feature_mean, dtype=torch.float32).detach().cpu().clone().reshape(-1)
    std = torch.as_tensor(feature_std, dtype=torch.float32).detach().cpu().clone().reshape(-1)
    if not (len(names) == layout[0] == mean.numel() == std.numel()):
        raise ValueError(
            f"{len(names)} feature names, mean of {mean.numel()}, std of {std.numel()} "
            f"for a network with {layout[0]} inputs"
        )
    if not bool(torch.all(std > 0)):
        raise ValueError("feature_std must be positive")
    state = {
        # Keys of nn.Sequential are "0.weight", "2.bias", ...; rebuilt identically on load.
        key: value.detach().cpu().clone().contiguous()
        for key, value in sequential.state_dict().items()
    }
    for key, value in state.items():
        if not bool(torch.isfinite(value).all()):
            raise ValueError(f"non-finite values in the network weights ({key})")
    payload = {
        "format": FORMAT_TAG,
        "layout": layout,
        "state_dict": state,
        "feature_names": names,
        "feature_mean": mean,
        "feature_std": std,
        "provenance": provenance,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def save_model(
    path: str | os.PathLike[str],
    sequential: nn.Sequential,
    feature_names: Sequence[str],
    feature_mean: Sequence[float] | torch.Tensor,
    feature_std: Sequence[float] | torch.Tensor,
    provenance: dict[str, Any],
) -> None:
    """Write a trained tagger atomically (:func:`model_bytes`)."""
    data = model_bytes(sequential, feature_names, feature_mean, feature_std, provenance)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def load_model(path: str | os.PathLike[str]) -> tuple[nn.Sequential, dict[str, Any]]:
    """Read a model file, check it is a deeppp tagger, and rebuild the network (eval mode).

    Returns ``(sequential, meta)`` where ``meta`` holds ``layout``, ``feature_names``,
    ``feature_mean``, ``feature_std`` (float32 tensors) and ``provenance``. Any problem raises
    :class:`deeppp.rootio.InputFileError` naming the file.
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{p}: model file does not exist")
    try:
        payload = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for truncated/foreign files
        first_line = (str(err).strip().splitlines() or [""])[0]
        raise InputFileError(
            f"{p}: not a readable torch file ({type(err).__name__}: {first_line})"
        ) from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_TAG:
        raise InputFileError(f"{p}: not a deeppp model file (no '{FORMAT_TAG}' format tag)")
    missing = [key for key in MODEL_KEYS if key not in payload]
    if missing:
        raise InputFileError(f"{p}: deeppp model file lacks keys {missing}")
    layout = payload["layout"]
    try:
        sequential = build_sequential(layout)
        sequential.load_state_dict(payload["state_dict"], strict=True)
    except (ValueError, RuntimeError, TypeError) as err:
        raise InputFileError(f"{p}: state_dict does not match layout {layout} ({err})") from err
    names = list(payload["feature_names"])
    mean = torch.as_tensor(payload["feature_mean"], dtype=torch.float32)
    std = torch.as_tensor(payload["feature_std"], dtype=torch.float32)
    if not (len(names) == layout[0] == mean.numel() == std.numel()):
        raise InputFileError(f"{p}: feature names/standardisation do not match {layout[0]} inputs")
    if not all(math.isfinite(float(v)) for v in torch.cat([mean, std])):
        raise InputFileError(f"{p}: non-finite standardisation constants")
    sequential.eval()
    meta = {
        "layout": list(layout),
        "feature_names": names,
        "feature_mean": mean,
        "feature_std": std,
        "provenance": payload["provenance"],
    }
    return sequential, meta


def predict_logits(
    sequential: nn.Sequential, meta: dict[str, Any], features: torch.Tensor
) -> torch.Tensor:
    """Logits of raw (unstandardised) ``features`` ordered as ``meta['feature_names']``."""
    x = (features.to(torch.float32) - meta["feature_mean"]) / meta["feature_std"]
    with torch.no_grad():
        return sequential(x).reshape(-1)


@dataclass(frozen=True)
class Tagger:
    """A trained tagger as every consumer sees it: the plain network plus its standardisation.

    The ml -> firmware hand-off: firmware, studies and benchmarks standardise features through
    :meth:`standardise` (float32, exactly as in training) instead of re-implementing it.
    """

    network: nn.Sequential
    feature_names: tuple[str, ...]
    feature_mean: np.ndarray  # float32, one per feature
    feature_std: np.ndarray  # float32, positive
    provenance: dict[str, Any]

    @property
    def layout(self) -> list[int]:
        return sequential_layout(self.network)

    def standardise(self, raw: np.ndarray) -> np.ndarray:
        """``(x - mean) / std`` in float32 for raw features ordered as :attr:`feature_names`."""
        raw = np.asarray(raw, dtype=np.float32)
        if raw.ndim != 2 or raw.shape[1] != len(self.feature_names):
            raise ValueError(
                f"features of shape {raw.shape} for a tagger with {len(self.feature_names)} inputs"
            )
        return (raw - self.feature_mean) / self.feature_std

    def logits(self, raw: np.ndarray) -> np.ndarray:
        """Output logits (float32) of raw features; the sigmoid is left out (it is monotonic)."""
        with torch.no_grad():
            x = torch.from_numpy(self.standardise(raw))
            return self.network(x).reshape(-1).numpy()


def load_tagger(path: str | os.PathLike[str]) -> Tagger:
    """:func:`load_model` as a :class:`Tagger`; refuses non-finite weights and ``std <= 0``.

    A network with NaN weights scores every jet NaN, and a zero standard deviation turns a
    feature into inf: both would give a meaningless ROC instead of an error.
    """
    sequential, meta = load_model(path)
    std = meta["feature_std"].numpy().astype(np.float32)
    if not bool(np.all(std > 0)):
        raise InputFileError(f"{path}: feature_std must be positive (a constant feature?)")
    for key, value in sequential.state_dict().items():
        if not bool(torch.isfinite(value).all()):
            raise InputFileError(f"{path}: non-finite values in the network weights ({key})")
    return Tagger(
        network=sequential,
        feature_names=tuple(meta["feature_names"]),
        feature_mean=meta["feature_mean"].numpy().astype(np.float32),
        feature_std=std,
        provenance=meta["provenance"],
    )
