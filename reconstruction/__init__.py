"""Reconstruction: ATLAS-like fast detector simulation, large-R and VR track jets, 39 features.

Library API: :func:`reconstruct_chunk` (events file -> features file), :func:`merge_features`
(features files -> train/val/test datasets), :data:`FEATURE_NAMES`;
CLI: ``python -m reconstruction --help``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reconstruction.features import FEATURE_NAMES
    from reconstruction.merge import merge_features
    from reconstruction.pipeline import ChunkSummary, reconstruct_chunk

__all__ = ["FEATURE_NAMES", "ChunkSummary", "merge_features", "reconstruct_chunk"]

_HOME = {
    "FEATURE_NAMES": "reconstruction.features",
    "ChunkSummary": "reconstruction.pipeline",
    "merge_features": "reconstruction.merge",
    "reconstruct_chunk": "reconstruction.pipeline",
}


if not TYPE_CHECKING:  # type checkers see the imports above

    def __getattr__(name: str) -> Any:
        """Import the heavy modules (uproot, awkward, the fastjet extension) on first use only:
        the config validation imports ``reconstruction.validation`` when the Snakefile is parsed."""
        if name in _HOME:
            return getattr(importlib.import_module(_HOME[name]), name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
