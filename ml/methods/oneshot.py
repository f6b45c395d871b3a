"""One-shot structured magnitude pruning: train the full network (plain, early stopping, the
shared gauge decay on the weights that follow the prunable units after the shared warm-up
steps, as AutoPruner applies it), remove in one go the units
with the smallest magnitude score (:func:`ml.methods.base.magnitude_scores`) down to the budget,
extract, fine-tune (``ml.schedule.finetune_epochs``)."""

from __future__ import annotations

from ml.methods.base import (
    MethodInputs,
    PruningMethod,
    TrainedTagger,
    finetune_extracted,
    group_gate,
    magnitude_scores,
    mask_net,
    selection_details,
    start,
)
from ml.selection import select_by_score
from ml.training import fit_plain


def train_oneshot(inputs: MethodInputs) -> TrainedTagger:
    settings = inputs.settings
    standardisation, device, data = start(inputs)
    net = mask_net(inputs, standardisation)
    full = fit_plain(
        net,
        data["train"],
        data["val"],
        settings.training,
        inputs.seed,
        gauge_layers=inputs.gauge_layers,
        gauge_decay=inputs.gauge_strength,
        gauge_from_step=settings.schedule.warmup_steps,
        desc=f"{inputs.name} full",
    )
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
        "criterion": "node L2(in) x L2(out) / layer mean; inputs: first-layer column L2",
        "extraction_max_abs_diff": diff,
    }
    fits = [full] if finetune is None else [full, finetune]
    return TrainedTagger(sequential, names, reduced, fits, details)


METHOD = PruningMethod("oneshot", train_oneshot)
