"""The pruning methods behind one interface, and their registry.

A method takes the dataset, a budget (hidden nodes, inputs or multiplications) and a seed
(:class:`ml.methods.base.MethodInputs`) and returns a pruned plain network with its training
cost (:class:`ml.methods.base.TrainedTagger`). Adding a method: one module here defining
``METHOD = PruningMethod(name, train)``, one entry in :data:`METHODS`, and its label in
``deeppp.contracts.PRUNING_METHODS`` (``tests/test_ml_methods.py`` checks the two agree); the
model names, the training rule, every study, the summary, the plots and the firmware stage then
pick it up.
"""

from __future__ import annotations

from ml.methods import autopruner, gradual, l0, oneshot, ptr, random_selection
from ml.methods.base import MethodInputs, PruningMethod, TrainedTagger

METHODS: dict[str, PruningMethod] = {
    m.name: m
    for m in (
        autopruner.METHOD,
        random_selection.METHOD,
        oneshot.METHOD,
        gradual.METHOD,
        ptr.METHOD,
        l0.METHOD,
    )
}

__all__ = ["METHODS", "MethodInputs", "PruningMethod", "TrainedTagger"]
