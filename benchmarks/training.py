"""Benchmark of AutoPruner training against plain training and classic prune/train/repeat.

Measured in one run, on the same data, network and seed:

1. Epoch time: AutoPruner (hidden group, default 30 % of 256 nodes) versus plain training of the
   same IL(39) + 4 x HL(64) + OL network. Reported as the mean epoch time over the whole
   AutoPruner training (warm-up, pruning, settling, fine-tuning of the extracted network) and per
   phase. Target: mean <= 1.2 x plain.
2. Total wall time to a network with the same number of hidden nodes: AutoPruner versus
   prune/train/repeat (node L1-norm pruning, 20 % of the surviving nodes per step, retraining
   with early stopping after every step). Target: <= 0.35 x.
3. Test ROC AUC (bootstrap uncertainty) of the unpruned, AutoPruner and prune/train/repeat
   networks side by side.

Synthetic jets by default (39 features, 5 informative); ``--dataset DIR`` uses a real
``{train,val,test}.root`` directory. With CUDA available, ``--device cuda`` times the same on GPU.

    python benchmarks/training.py [--jets 20000] [--percent 30] [--dataset results/dataset]
"""

from __future__ import annotations

import sys
from pathlib import Path

# This script shares its name with no package, but keep its own folder off the import path anyway.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import statistics
import tempfile
import time

import numpy as np
import torch

from deeppp.metrics import tagger_metrics
from ml.dataset import read_dataset
from ml.jobs import tagger_logits
from ml.recipes import TrainedTagger, train_autopruner, train_plain, train_ptr
from ml.settings import MLSettings, ModelSpec, PrunerSettings, PtrSettings, TrainingSettings
from ml.synthetic import write_synthetic_dataset

EPOCH_TIME_TARGET = 1.2
WALL_TIME_TARGET = 0.35


def auc_text(trained: TrainedTagger, test) -> str:
    meta = {
        "feature_names": trained.feature_names,
        "feature_mean": trained.standardisation.mean,
        "feature_std": trained.standardisation.std,
    }
    scores = tagger_logits(trained.sequential.eval(), meta, test)
    m = tagger_metrics(test.labels.numpy(), scores, test.weights.numpy(), (0.5, 0.7), 100, seed=1)
    rej = m["rejection_50"]["value"]
    return f"AUC {m['auc']['value']:.4f} +- {m['auc']['uncertainty']:.4f}, 1/eps_B(50%) {rej:.1f}"


def step_costs(
    n_inputs: int, layout: tuple[int, ...], batch: int, percent: int, repeats: int = 30
) -> dict[str, float]:
    """Seconds per optimiser step of plain, pruning-phase and settle-phase training, measured
    interleaved and taking the minimum over repeats, so background load on a shared machine
    cancels out (the per-epoch numbers above are single measurements)."""
    from ml.autopruner import PrunerSchedule, make_groups
    from ml.gates import GatedTagger
    from ml.training import weighted_bce

    torch.manual_seed(0)
    x = torch.randn(batch, n_inputs)
    y = (torch.rand(batch) < 0.5).float()
    w = torch.ones(batch)
    plain = GatedTagger(n_inputs, layout)
    gated = GatedTagger(n_inputs, layout, hidden_gates=True)
    k = -(-percent * sum(layout) // 100)
    schedule = PrunerSchedule(
        PrunerSettings(), make_groups(gated, input_keep=None, hidden_budget=k, unit="nodes")
    )

    def run(net: GatedTagger, epoch: int | None, n: int = 20) -> float:
        adam = torch.optim.Adam(net.classifier_parameters(), lr=1e-3)
        sgd = (
            torch.optim.SGD(net.gate_parameters(), lr=0.3, momentum=0.9)
            if epoch is not None
            else None
        )
        for i in range(n + 10):
            if i == 10:
                start = time.perf_counter()
            loss = weighted_bce(net(x), y, w)
            adam.zero_grad(set_to_none=True)
            if sgd is not None:
                sgd.zero_grad(set_to_none=True)
            loss.backward()
            if epoch is not None:
                schedule.add_gradients(epoch, 0.5)
            adam.step()
            if sgd is not None:
                sgd.step()
            float(loss.detach())
        return (time.perf_counter() - start) / n

    times: dict[str, list[float]] = {"plain": [], "prune": [], "settle": []}
    for _ in range(repeats):
        times["plain"].append(run(plain, None))
        times["prune"].append(run(gated, schedule.settings.warmup_epochs))
        times["settle"].append(run(gated, schedule.prune_end + 1))
    return {phase: min(values) for phase, values in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dataset", type=Path, help="directory with {train,val,test}.root (default: synthetic)"
    )
    parser.add_argument("--jets", type=int, default=20000, help="synthetic training jets")
    parser.add_argument(
        "--percent", type=int, default=30, help="hidden budget in %% of all hidden nodes"
    )
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        if args.dataset is None:
            directory = write_synthetic_dataset(
                tmp, n_train=args.jets, n_val=args.jets // 4, n_test=args.jets // 4, seed=args.seed
            )
            source = f"synthetic ({args.jets} training jets, 39 features, 5 informative)"
        else:
            directory, source = args.dataset, str(args.dataset)
        samples = read_dataset(directory)
    settings = MLSettings(
        seed=args.seed,
        training=TrainingSettings(
            batch_size=args.batch_size, threads=args.threads, device=args.device, progress=False
        ),
        pruner=PrunerSettings(),
        ptr=PtrSettings(),
    )
    layout = settings.training.hidden_layout
    print(
        f"data: {source}; train/val/test = {len(samples['train'])}/{len(samples['val'])}/{len(samples['test'])} jets"
    )
    print(
        f"network: IL({len(samples['train'].feature_names)}) + {'x'.join(map(str, layout))} + OL(1); "
        f"batch {args.batch_size}; {args.threads} thread(s); device {args.device}; torch {torch.__version__}"
    )

    start = time.perf_counter()
    plain = train_plain(samples, layout, settings, args.seed, desc="plain")
    plain_wall = time.perf_counter() - start
    start = time.perf_counter()
    auto = train_autopruner(
        samples,
        ModelSpec(
            f"autopruner_h{args.percent}",
            "autopruner",
            layout,
            args.seed,
            hidden_percent=args.percent,
        ),
        settings,
    )
    auto_wall = time.perf_counter() - start
    start = time.perf_counter()
    ptr = train_ptr(
        samples,
        ModelSpec(f"ptr_h{args.percent}", "ptr", layout, args.seed, hidden_percent=args.percent),
        settings,
    )
    ptr_wall = time.perf_counter() - start

    # Plain epoch time: median over the plain training and the full-network training that
    # starts prune/train/repeat (the same network and data), the lower of the two medians.
    plain_epoch = min(
        statistics.median(plain.fits[0].epoch_seconds), statistics.median(ptr.fits[0].epoch_seconds)
    )
    fit = auto.fits[0]
    auto_epoch = float(np.mean(fit.epoch_seconds))
    print(
        "\n1. epoch time (training steps only, median for plain, mean over the AutoPruner training)"
    )
    print(f"   plain training              {plain_epoch * 1000:8.1f} ms/epoch")
    print(
        f"   AutoPruner, all epochs      {auto_epoch * 1000:8.1f} ms/epoch   ratio {auto_epoch / plain_epoch:.2f} "
        f"(target <= {EPOCH_TIME_TARGET})"
    )
    for phase in ("warmup", "prune", "settle", "finetune"):
        times = [t for t, p in zip(fit.epoch_seconds, fit.epoch_phases, strict=True) if p == phase]
        if times:
            median = statistics.median(times)
            print(
                f"     {phase:9s} {len(times):3d} epochs {median * 1000:8.1f} ms/epoch   ratio {median / plain_epoch:.2f}"
            )

    costs = step_costs(len(samples["train"].feature_names), layout, args.batch_size, args.percent)
    print(
        "   per optimiser step, interleaved, min of 30 blocks of 20 steps (robust to background load):"
    )
    for phase in ("prune", "settle"):
        print(
            f"     {phase:9s} {costs[phase] * 1e6:8.0f} us/step vs plain {costs['plain'] * 1e6:.0f} us   "
            f"ratio {costs[phase] / costs['plain']:.2f}"
        )

    nodes = sum(m.out_features for m in auto.sequential if isinstance(m, torch.nn.Linear))
    ptr_nodes = sum(m.out_features for m in ptr.sequential if isinstance(m, torch.nn.Linear))
    print(f"\n2. total wall time to {nodes - 1} hidden nodes (PTR: {ptr_nodes - 1})")
    print(f"   AutoPruner                  {auto_wall:8.1f} s  ({auto.epochs} epochs)")
    print(
        f"   prune/train/repeat          {ptr_wall:8.1f} s  ({ptr.epochs} epochs, {len(ptr.details['steps'])} pruning steps)"
    )
    print(
        f"   ratio AutoPruner / PTR      {auto_wall / ptr_wall:8.2f}    (target <= {WALL_TIME_TARGET}); "
        f"jet-pass ratio {auto.jet_passes / ptr.jet_passes:.2f}"
    )
    print(f"   (plain training alone: {plain_wall:.1f} s, {plain.epochs} epochs)")

    test = samples["test"]
    print("\n3. test performance")
    print(f"   unpruned (256 nodes)        {auc_text(plain, test)}")
    print(f"   AutoPruner ({nodes - 1} nodes)     {auc_text(auto, test)}")
    print(f"   prune/train/repeat          {auc_text(ptr, test)}")
    if args.device == "cpu" and torch.cuda.is_available():
        print("\n(CUDA is available: rerun with --device cuda for GPU epoch times)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
