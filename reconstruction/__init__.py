"""Reconstruction: ATLAS-like fast detector simulation, large-R and VR track jets, 39 features.

Library API: :func:`reconstruct_chunk` (events file -> features file), :func:`merge_features`
(features files -> train/val/test datasets), :data:`FEATURE_NAMES`;
CLI: ``python -m reconstruction --help``.
"""

from __future__ import annotations

from reconstruction.features import FEATURE_NAMES
from reconstruction.merge import merge_features
from reconstruction.pipeline import ChunkSummary, reconstruct_chunk

__all__ = ["FEATURE_NAMES", "ChunkSummary", "merge_features", "reconstruct_chunk"]
