"""One-shot structured magnitude pruning: train the full network (plain, early stopping, the
shared gauge decay on the weights that follow the prunable units after the shared warm-up
steps, as AutoPruner applies it), remove in one go the units
with the smallest magnitude score (:func:`ml.methods.base.magnitude_scores`) down to the budget,
extract, fine-tune (``ml.schedule.finetune_epochs``)."""

from __future__ import annotations

from ml.methods.base import (
    MAGNITUDE_CRITERION,
    MethodInputs,
    PruningMethod,
    TrainedTagger,
    finetune_extracted,
    group_gate,
    magnitude_scores,
    mask_net,
    selection_details,
    start,
    train_full,
)
from ml.selection import select_by_score


def train_oneshot(inputs: MethodInputs) -> TrainedTagger:
    standardisation, device, data = start(inputs)
    net = mask_net(inputs, standardisation)
    full = train_full(inputs, net, data)
    net = net.cpu()
    scores = magnitude_scores(net, inputs.budget.group)
    kept = select_by_score(
        scores, inputs.group_sizes, inputs.budget.cost_unit, inputs.target, inputs.neighbour_widths
    )
    group_gate(net, inputs.budget.group).freeze(kept.float())
    sequential, names, reduced, finetune, diff = finetune_extracted(
        inputs, net, standardisation, device
    )
    details = {
        **selection_details(inputs, kept, scores),
        "criterion": MAGNITUDE_CRITERION,
        "extraction_max_abs_diff": diff,
    }
    fits = [full] if finetune is None else [full, finetune]
    return TrainedTagger(sequential, names, reduced, fits, details)


METHOD = PruningMethod("oneshot", train_oneshot)
