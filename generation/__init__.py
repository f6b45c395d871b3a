"""Event generation with Pythia 8 at 14 TeV: g b -> H b (H -> b bbar) signal and QCD multijets.

Library API: :func:`generate_chunk`; CLI: ``python -m generation --help``.
"""

from __future__ import annotations

from generation.generate import GenerationSummary, generate_chunk
from generation.settings import PROCESSES, chunk_seed, pythia_settings

__all__ = ["PROCESSES", "GenerationSummary", "chunk_seed", "generate_chunk", "pythia_settings"]
