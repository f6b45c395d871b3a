"""Benchmark of AutoPruner's training cost against the other pruning methods, at equal quality.

Measured in one run, on the same data, network, seeds and test jets:

(a) Cost at equal quality, per hidden budget (default 30 % and 10 % of 256 nodes): every method
    is trained for every seed; each is compared with AutoPruner on the same test events (paired
    event bootstrap, seed-averaged, interval combining test-sample and seed-to-seed noise). Among
    the methods of the same quality (AUC at most ``ml.auc_margin`` = 0.002 below AutoPruner's at
    the 95 % level), the cheapest one in jet passes is the reference: the ratio AutoPruner / that
    method in jet passes and in wall time is the figure of merit. Goal: <= 0.5 (AutoPruner at most
    half the cost of the cheapest method of the same quality).
(b) Cost of one pruning-phase optimiser step (gates, closed-form pruner gradient, gate
    optimiser) against a plain step of the same network and batch, timed in interleaved blocks;
    median and spread over ``--repeats`` repetitions. Goal: <= 1.1.
(c) The same on a GPU: ``--device cuda --batch-size 16384 --jets 4000000`` (a 4M-jet synthetic
    set); the schedule is in optimiser steps, so it is unchanged at that batch size.
(d) ``--schedule-scan 10,25,50,100,150,300``: AutoPruner's test AUC, input selection and commit
    margin versus optimiser steps per pruning step (how many steps the gates need;
    docs/autopruner.md).

Synthetic jets by default (39 features, 5 informative at random columns); ``--dataset DIR`` uses
a real ``{train,val,test}.root`` directory.

    python benchmarks/training.py [--jets 19000] [--budgets 30,10] [--seeds 3] [--repeats 3]
"""

from __future__ import annotations

import sys
from pathlib import Path

# This script shares its name with no package, but keep its own folder off the import path anyway.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import logging
import statistics
import tempfile
import time
from dataclasses import replace

import numpy as np
import torch

from deeppp.contracts import PRUNING_METHODS, REFERENCE_METHOD
from deeppp.metrics import EventBootstrap, bootstrap_metrics
from ml.dataset import JetSample, read_dataset
from ml.evaluation import paired_over_seeds
from ml.jobs import tagger_logits
from ml.methods import METHODS, MethodInputs, TrainedTagger
from ml.methods.base import train_plain
from ml.settings import Budget, MLSettings, TrainingSettings, derive_seed
from ml.synthetic import write_synthetic_dataset

COST_RATIO_GOAL = 0.5
STEP_RATIO_GOAL = 1.1


class Scored:
    """A trained model with its metrics under the shared bootstrap (what paired_over_seeds
    needs: ``name``, ``boot``)."""

    def __init__(
        self,
        name: str,
        trained: TrainedTagger,
        wall: float,
        test: JetSample,
        bootstrap: EventBootstrap,
    ) -> None:
        self.name = name
        self.trained = trained
        self.wall_time_s = wall
        meta = {
            "feature_names": trained.feature_names,
            "feature_mean": trained.standardisation.mean,
            "feature_std": trained.standardisation.std,
        }
        scores = tagger_logits(trained.sequential.eval(), meta, test)
        self.boot = bootstrap_metrics(
            test.labels.numpy(), scores, test.weights.numpy(), (0.5, 0.7), bootstrap
        )

    def value(self, key: str) -> float:
        return self.boot.central[key]


def cost_at_equal_quality(
    samples, settings: MLSettings, budgets, seeds, bootstrap, methods
) -> None:
    test = samples["test"]
    layout = settings.training.hidden_layout
    unpruned = []
    for replica in range(seeds):
        seed = derive_seed(settings.seed, replica)
        start = time.perf_counter()
        trained = train_plain(samples, layout, settings, seed, desc="unpruned")
        unpruned.append(
            Scored(f"unpruned_{replica}", trained, time.perf_counter() - start, test, bootstrap)
        )
    print(
        f"   unpruned: AUC {np.mean([u.value('auc') for u in unpruned]):.4f} "
        f"(seed spread {np.std([u.value('auc') for u in unpruned], ddof=1):.4f}), "
        f"{np.mean([u.trained.jet_passes for u in unpruned]):.3g} jet passes, "
        f"{np.mean([u.wall_time_s for u in unpruned]):.1f} s"
    )
    for percent in budgets:
        runs: dict[str, list[Scored]] = {}
        for method in methods:
            runs[method] = []
            for replica in range(seeds):
                seed = derive_seed(settings.seed, replica)
                inputs = MethodInputs(
                    samples,
                    Budget("hidden", percent),
                    seed,
                    settings,
                    layout,
                    name=f"{method}_h{percent}",
                )
                start = time.perf_counter()
                trained = METHODS[method].train(inputs)
                runs[method].append(
                    Scored(inputs.name, trained, time.perf_counter() - start, test, bootstrap)
                )
        reference = runs[REFERENCE_METHOD]
        print(
            f"\n   hidden budget {percent} %: mean over {seeds} seeds; "
            "paired differences on the same test events"
        )
        print(
            f"   {'method':34s} {'AUC':>14s} {'AutoPruner - method (95% CI)':>34s} "
            f"{'jet passes':>11s} {'wall s':>7s}"
        )
        candidates = []
        for method, scored in runs.items():
            auc = [s.value("auc") for s in scored]
            passes = float(np.mean([s.trained.jet_passes for s in scored]))
            wall = float(np.mean([s.wall_time_s for s in scored]))
            diff = ""
            if method != REFERENCE_METHOD:
                d = paired_over_seeds(list(zip(reference, scored, strict=True)), "auc", 0.95)  # type: ignore[arg-type]
                diff = f"{d['mean']:+.4f} [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}]"
                # Same quality: at the 95 % level this method's AUC is at most the margin below
                # AutoPruner's (non-inferiority; a merely wide interval does not qualify).
                if d["ci_high"] <= settings.auc_margin:
                    candidates.append((passes, wall, method))
            print(
                f"   {PRUNING_METHODS[method]:34s} {np.mean(auc):.4f}±{np.std(auc, ddof=1):.4f} "
                f"{diff:>34s} {passes:11.3g} {wall:7.1f}"
            )
        auto_passes = float(np.mean([s.trained.jet_passes for s in reference]))
        auto_wall = float(np.mean([s.wall_time_s for s in reference]))
        if candidates:
            passes, wall, cheapest = min(candidates)
            print(
                f"   => cheapest method of the same quality: {PRUNING_METHODS[cheapest]}; "
                "AutoPruner / it: "
                f"{auto_passes / passes:.2f} in jet passes, {auto_wall / wall:.2f} in wall time "
                f"(goal <= {COST_RATIO_GOAL})"
            )
        else:
            print("   => every other method is significantly worse than AutoPruner at this budget")


def step_costs(
    n_inputs: int,
    settings: MLSettings,
    percent: int,
    device: torch.device,
    repeats: int,
    blocks: int = 15,
    steps: int = 20,
) -> dict[str, list[float]]:
    """Seconds per optimiser step of the training loop itself (``EpochLoop.optimiser_step``
    with the real hooks), plain vs AutoPruner's pruning and settling phases, timed in
    interleaved blocks; per repetition the median over blocks."""
    from ml.autopruner import PrunerSchedule, make_groups
    from ml.gates import GatedTagger
    from ml.methods.autopruner import GatedPrunerHooks
    from ml.training import EpochLoop, PlainHooks, Tensors

    batch = settings.training.batch_size
    layout = settings.training.hidden_layout
    torch.manual_seed(0)
    data = Tensors(
        torch.randn(batch, n_inputs),
        (torch.rand(batch) < 0.5).float(),
        torch.ones(batch),
    ).to(device)
    index = torch.arange(batch, device=device)
    k = Budget("hidden", percent).target(n_inputs, layout)

    plain = EpochLoop(
        GatedTagger(n_inputs, layout), data, data, settings.training, 0, PlainHooks(), "plain"
    )
    gated_net = GatedTagger(n_inputs, layout, hidden_gates=True)
    groups = make_groups(gated_net, input_keep=None, hidden_budget=k, cost_unit="nodes")
    schedule = PrunerSchedule(settings.pruner, settings.schedule, groups)
    hooks = GatedPrunerHooks(schedule, settings.training, (1, 2, 3, 4), 0.03, data.x, 10**9)
    gated = EpochLoop(gated_net, data, data, settings.training, 0, hooks, "gated")
    hooks.before_step(schedule.prune_start)  # gates on, as at the end of the warm-up
    phases = {
        "plain": (plain, None),
        "prune": (gated, schedule.prune_start + 1),
        "settle": (gated, schedule.prune_end + settings.pruner.settle_ramp_steps + 1),
    }

    def run(loop: EpochLoop, step: int | None, phase: str) -> float:
        for i in range(steps + 5):
            if i == 5:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
            if step is not None:
                loop.step = step  # stay in the phase being timed
            loop.optimiser_step(index, phase)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return (time.perf_counter() - start) / steps

    ratios: dict[str, list[float]] = {"prune": [], "settle": [], "plain_us": []}
    for _ in range(repeats):
        times: dict[str, list[float]] = {name: [] for name in phases}
        for _ in range(blocks):
            for name, (loop, step) in phases.items():
                times[name].append(run(loop, step, name))
        plain_median = statistics.median(times["plain"])
        ratios["plain_us"].append(plain_median * 1e6)
        for phase in ("prune", "settle"):
            ratios[phase].append(statistics.median(times[phase]) / plain_median)
    return ratios


def schedule_scan(samples, settings: MLSettings, steps_list: list[int], seeds: int) -> None:
    """AutoPruner at 5 inputs and 10 % hidden versus steps per pruning step."""
    test = samples["test"]
    bootstrap = EventBootstrap(
        test.events if test.events is not None else np.arange(len(test)), 20, 1
    )
    print(
        f"   {'steps':>5s} {'budget':>8s} {'AUC per seed':>24s} {'commit margin (logit)':>22s} "
        f"{'rejected < 0.05 before commit':>30s}"
    )
    for steps in steps_list:
        scan = replace(settings, schedule=replace(settings.schedule, steps_per_pruning_step=steps))
        for budget in (Budget("inputs", 5), Budget("hidden", 10)):
            aucs, margins, early = [], [], []
            for replica in range(seeds):
                inputs = MethodInputs(
                    samples,
                    budget,
                    derive_seed(settings.seed, replica),
                    scan,
                    scan.training.hidden_layout,
                    name="scan",
                )
                trained = METHODS[REFERENCE_METHOD].train(inputs)
                aucs.append(Scored("scan", trained, 0.0, test, bootstrap).value("auc"))
                dynamics = trained.details["gate_dynamics"][budget.group]
                margins.append(dynamics["commit"]["logit_margin"])
                closed = dynamics["rejected_below_0.05"]
                early.append(f"{closed['before_commit']}/{closed['of']}")
            print(
                f"   {steps:5d} {budget.unit[:6] + str(budget.value):>8s} "
                f"{' '.join(f'{a:.4f}' for a in aucs):>24s} "
                f"{' '.join(f'{m:.1e}' for m in margins):>22s} {' '.join(early):>30s}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dataset", type=Path, help="directory with {train,val,test}.root (default: synthetic)"
    )
    parser.add_argument(
        "--jets",
        type=int,
        default=19000,
        help="synthetic training jets (the default config's ~19.6k)",
    )
    parser.add_argument(
        "--budgets", default="30,10", help="hidden budgets in %% of all hidden nodes"
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--methods", default=",".join(PRUNING_METHODS))
    parser.add_argument("--repeats", type=int, default=3, help="repetitions of the step timing (b)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--skip-a", action="store_true", help="only the step timing (b)")
    parser.add_argument(
        "--schedule-scan", default="", help="(d) comma-separated steps per pruning step to scan"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("--device cuda: no CUDA device here; part (c) needs a GPU", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        if args.dataset is None:
            directory = write_synthetic_dataset(
                tmp, n_train=args.jets, n_val=args.jets // 3, n_test=args.jets // 3, seed=args.seed
            )
            source = f"synthetic ({args.jets} training jets, 39 features, 5 informative)"
        else:
            directory, source = args.dataset, str(args.dataset)
        samples = read_dataset(directory)
    base = MLSettings(seed=args.seed)
    settings = replace(
        base,
        training=TrainingSettings(
            batch_size=args.batch_size, threads=args.threads, device=args.device, progress=False
        ),
    )
    layout = settings.training.hidden_layout
    steps_per_epoch = -(-len(samples["train"]) // args.batch_size)
    print(
        f"data: {source}; train/val/test = "
        f"{len(samples['train'])}/{len(samples['val'])}/{len(samples['test'])} jets"
    )
    print(
        f"network: IL({len(samples['train'].feature_names)}) + {'x'.join(map(str, layout))} "
        f"+ OL(1); batch {args.batch_size} "
        f"({steps_per_epoch} optimiser steps per epoch); {args.threads} thread(s); "
        f"device {args.device}; torch {torch.__version__}"
    )
    s = settings.schedule
    print(
        f"schedule (optimiser steps): warm-up {s.warmup_steps}, "
        f"{s.pruning_steps} x {s.steps_per_pruning_step} pruning, "
        f"settle <= {s.max_settle_steps}, fine-tune {s.finetune_epochs} epochs"
    )
    budgets = [int(b) for b in args.budgets.split(",")]
    methods = [m for m in args.methods.split(",") if m]
    if REFERENCE_METHOD not in methods:
        methods.insert(0, REFERENCE_METHOD)

    if args.schedule_scan:
        steps_list = [int(v) for v in args.schedule_scan.split(",")]
        print(
            "\n(d) AutoPruner versus optimiser steps per pruning step "
            f"(gate learning rate {settings.pruner.gate_learning_rate})"
        )
        schedule_scan(samples, settings, steps_list, args.seeds)
        return 0

    if not args.skip_a:
        print(
            f"\n(a) cost at equal quality ({args.seeds} seeds per method, "
            "event bootstrap on the test split)"
        )
        test = samples["test"]
        bootstrap = EventBootstrap(
            test.events if test.events is not None else np.arange(len(test)), 200, seed=1
        )
        start = time.perf_counter()
        cost_at_equal_quality(samples, settings, budgets, args.seeds, bootstrap, methods)
        print(f"   ({time.perf_counter() - start:.0f} s for part (a))")

    print(
        f"\n(b) pruning-phase optimiser step vs plain step (batch {args.batch_size}; "
        f"{args.repeats} repetitions, each the median of 15 interleaved blocks of 20 steps)"
    )
    ratios = step_costs(
        len(samples["train"].feature_names),
        settings,
        budgets[0],
        torch.device(args.device),
        args.repeats,
    )
    for phase in ("prune", "settle"):
        values = ratios[phase]
        print(
            f"   {phase:7s} ratio median {statistics.median(values):.2f} "
            f"(min {min(values):.2f}, max {max(values):.2f}; "
            f"plain step {statistics.median(ratios['plain_us']):.0f} us)  goal <= {STEP_RATIO_GOAL}"
        )
    if args.device == "cpu":
        print(
            "\n(c) GPU: rerun with --device cuda --batch-size 16384 --jets 4000000 "
            "on a machine with CUDA"
            + (
                " (CUDA is available here)"
                if torch.cuda.is_available()
                else " (no CUDA device here)"
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
