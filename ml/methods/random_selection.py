"""Random selection, the control: AutoPruner's recipe (warm-up, the same pruner loss and
schedule, gauge decay, snap, fine-tune) with the kept units fixed in advance by a seeded random
draw within the budget. Whatever AutoPruner gains over it comes from the selection itself, not
from the training recipe."""

from __future__ import annotations

from ml.methods.autopruner import train_gated_pruner
from ml.methods.base import PruningMethod

METHOD = PruningMethod("random", lambda inputs: train_gated_pruner(inputs, random_selection=True))
