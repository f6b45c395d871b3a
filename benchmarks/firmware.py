"""Benchmark of the firmware stage: what AutoPruner's 30 % hidden-node budget saves on an FPGA.

Reference: the unpruned tagger, converted in the same run with the same settings. Reported:
LUTs and latency of ``autopruner_h30`` relative to ``unpruned`` (target: LUT ratio <= 0.2), each
ratio from numbers of one tool only (Yosys where both nets were synthesised, the da4ml estimate
always), at each model's own chosen precision and at one common precision; and the conversion +
emulation wall time per model and step.

Models: ``{models-dir}/{unpruned,autopruner_h30}/model.pt`` and ``--test-data`` as the workflow
writes them. Where they do not exist, both are trained first with the ml package on a synthetic
39-feature dataset (``ml.synthetic``; a few minutes on one core).

    python benchmarks/firmware.py [--models-dir results/models] [--test-data results/dataset/test.root]
                                  [--config config/default.yaml] [--work DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

# This script shares its name with the stage package: keep its own folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import dataclasses
import tempfile
import time
from typing import Any

import torch

from deeppp.config import load_config, validate_config
from deeppp.contracts import dataset_file_name
from firmware.build import build_firmware
from firmware.fixed_point import FixedFormat, QuantisedNetwork
from firmware.network import dense_network
from firmware.rtl import trace_network
from firmware.settings import FirmwareSettings
from ml.model_io import load_model

MODELS = ("unpruned", "autopruner_h30")
TARGET_LUT_RATIO = 0.2

#: ml settings for the synthetic fallback: the paper's layout, short schedules.
QUICK_ML = {
    "hidden_layout": [64, 64, 64, 64],
    "max_epochs": 8,
    "patience": 3,
    "progress": False,
    "hidden_budgets_percent": [30],
    "input_budgets": [5],
    "without_gauge_decay": [],
    "bootstrap_samples": 10,
    "schedule": {
        "warmup_steps": 60,
        "pruning_steps": 3,
        "steps_per_pruning_step": 150,
        "finetune_epochs": 3,
    },
}


def train_synthetic_models(work: Path) -> tuple[Path, Path]:
    """Train unpruned and autopruner_h30 on a synthetic 39-feature dataset; returns (models, test)."""
    from ml.jobs import train_model
    from ml.synthetic import write_synthetic_dataset

    dataset = write_synthetic_dataset(
        work / "dataset",
        n_train=8000,
        n_val=2000,
        n_test=4000,
        n_features=39,
        n_informative=8,
        seed=5,
    )
    config = validate_config({"seed": 2022, "ml": QUICK_ML}, source="benchmark")
    torch.set_num_threads(1)
    for model in MODELS:
        start = time.perf_counter()
        train_model(config, model, dataset, work / "models")
        print(
            f"  trained {model} on synthetic jets in {time.perf_counter() - start:.0f} s",
            flush=True,
        )
    return work / "models", dataset / dataset_file_name("test")


def common_precision_cost(model_path: Path, fmt: FixedFormat) -> float:
    sequential, _ = load_model(model_path)
    return float(trace_network(QuantisedNetwork.from_network(dense_network(sequential), fmt)).cost)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=Path("results/models"))
    parser.add_argument("--test-data", type=Path, default=Path("results/dataset/test.root"))
    parser.add_argument("--config", type=Path, default=Path("config/default.yaml"))
    parser.add_argument(
        "--work", type=Path, help="keep the firmware projects here (default: a temporary directory)"
    )
    args = parser.parse_args()

    config = load_config(args.config)
    settings = dataclasses.replace(FirmwareSettings.from_config(config), progress=False)
    work = args.work or Path(tempfile.mkdtemp(prefix="deeppp-firmware-bench-"))
    models_dir, test_data = args.models_dir, args.test_data
    if not all((models_dir / m / "model.pt").is_file() for m in MODELS) or not test_data.is_file():
        print(
            f"no trained {' / '.join(MODELS)} under {models_dir}: training them on synthetic jets",
            flush=True,
        )
        models_dir, test_data = train_synthetic_models(work)

    reports: dict[str, dict[str, Any]] = {}
    timings: dict[str, dict[str, float]] = {}
    for model in MODELS:
        timings[model] = {}
        start = time.perf_counter()
        reports[model] = build_firmware(
            models_dir / model / "model.pt",
            test_data,
            work / "firmware" / model,
            settings,
            config=config,
            model_name=model,
            log=lambda message: None,
            timings=timings[model],
        )
        timings[model]["total"] = time.perf_counter() - start

    print(f"\nfirmware benchmark (config {args.config}, models {models_dir}, test set {test_data})")
    header = f"{'model':16s} {'layout':28s} {'mult.':>6s} {'precision':>14s} {'LUT':>9s} {'tool':>15s} {'FF':>7s} {'stages':>6s} {'ns':>5s} {'AUC float':>9s} {'AUC fw':>7s}"
    print(header)
    for model, r in reports.items():
        res = r["rtl"]["resources"]
        print(
            f"{model:16s} {r['layout']!s:28s} {r['multiplications']:6d} {r['precision']['chosen']['type']:>14s} "
            f"{res['lut']['value']:9.0f} {res['lut']['tool']:>15s} {res['ff']['value']:7.0f} "
            f"{res['latency_cycles']['value']:6d} {res['latency_ns']['value']:5.0f} "
            f"{r['float']['auc']:9.4f} {r['fixed_point']['auc']:7.4f}"
        )

    print(
        "\nconversion + emulation wall time per model [s] (test jets: "
        + ", ".join(f"{m} {reports[m]['n_test_jets']}" for m in MODELS)
        + ")"
    )
    steps = ("float_and_precision", "hls4ml", "da4ml", "verilator", "yosys", "total")
    print(f"{'model':16s} " + " ".join(f"{s:>19s}" for s in steps))
    for model in MODELS:
        print(
            f"{model:16s} "
            + " ".join(f"{timings[model].get(s, float('nan')):19.1f}" for s in steps)
        )

    ref, pruned = reports["unpruned"]["rtl"], reports["autopruner_h30"]["rtl"]
    print("\nautopruner_h30 / unpruned (numbers of one tool per ratio):")
    est = pruned["estimate"]["lut"]["value"] / ref["estimate"]["lut"]["value"]
    verdict = "meets" if est <= TARGET_LUT_RATIO else "MISSES"
    print(
        f"  LUT ratio, da4ml estimate, own precisions:   {est:.3f}  ({verdict} target <= {TARGET_LUT_RATIO})"
    )
    yosys_ref, yosys_pruned = ref.get("yosys", {}), pruned.get("yosys", {})
    if yosys_ref.get("lut", {}).get("value") and yosys_pruned.get("lut", {}).get("value"):
        ratio = yosys_pruned["lut"]["value"] / yosys_ref["lut"]["value"]
        print(f"  LUT ratio, Yosys synth_xilinx:                {ratio:.3f}")
    else:
        print(
            f"  LUT ratio, Yosys: not measured ({(yosys_ref.get('skipped') or yosys_pruned.get('skipped'))})"
        )
    for model, r in (("unpruned", ref), ("autopruner_h30", pruned)):
        if r.get("yosys", {}).get("lut", {}).get("value"):
            calibration = r["yosys"]["lut"]["value"] / r["estimate"]["lut"]["value"]
            print(f"  (calibration, {model}: Yosys LUT / da4ml estimate = {calibration:.2f})")
    fmt_data = reports["unpruned"]["precision"]["chosen"]
    fmt = FixedFormat(fmt_data["total_bits"], fmt_data["integer_bits"])
    common = (
        common_precision_cost(models_dir / "autopruner_h30" / "model.pt", fmt)
        / ref["estimate"]["lut"]["value"]
    )
    print(f"  LUT ratio, da4ml estimate, both at {fmt}: {common:.3f}")
    lat = pruned["resources"]["latency_ns"]["value"] / ref["resources"]["latency_ns"]["value"]
    print(
        f"  latency ratio (da4ml pipeline):               {lat:.3f}  "
        f"({pruned['resources']['latency_cycles']['value']} vs {ref['resources']['latency_cycles']['value']} cycles "
        f"at {settings.clock_period_ns} ns)"
    )
    print(
        f"  multiplications ratio:                        {reports['autopruner_h30']['multiplications'] / reports['unpruned']['multiplications']:.3f}"
    )
    print(f"\nprojects and reports: {work / 'firmware'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
