"""Benchmark of the firmware stage: what pruning saves on an FPGA, compared like with like.

Reference: the unpruned tagger, built in the same run with the same settings. Reported, every
number from one tool and at the one reference precision (``firmware.reference_precision``):

* LUT and FF ratios (Yosys ``synth_xilinx``) of the 30 % and 10 % hidden-budget AutoPruner
  models to the unpruned one (goal: LUT ratio <= 0.15 at 30 %), and the latency in cycles;
* Verilator and Yosys time per model and build (wall and CPU seconds: on a shared machine the
  CPU time is the steadier number);
* the AUC-vs-LUT points of every model whose firmware report exists (``--firmware-dir``, e.g.
  the workflow's ``results/firmware``) grouped by method as the model-name grammar of
  ``deeppp.contracts`` names them (new methods appear without changes here), with the ml
  stage's test AUC and uncertainty from ``metrics.json``, and the Pareto front.

The precision scan runs on the validation jets (``val.root``), as in the workflow. Models
``{models-dir}/{unpruned,autopruner_h30,autopruner_h10}/model.pt`` are used where they exist;
missing ones are trained first with the ml package on ``--dataset`` (a few minutes each), or,
without a dataset, on a synthetic 39-feature one.

    python benchmarks/firmware.py [--models-dir results/models] [--dataset results/dataset]
        [--firmware-dir results/firmware] [--config config/default.yaml] [--work DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

# This script shares its name with the stage package: keep its own folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import copy
import dataclasses
import json
import logging
import tempfile
import time
from typing import Any

import torch

from deeppp.config import load_config, validate_config
from deeppp.contracts import dataset_file_name, parse_model_name
from deeppp.handoffs import FirmwareReport, HandoffError
from firmware.build import build_firmware
from firmware.settings import FirmwareSettings
from firmware.summary import pareto_front

MODELS = ("unpruned", "autopruner_h30", "autopruner_h10")
TARGET_LUT_RATIO_30 = 0.15

#: ml settings for the synthetic fallback: the paper's layout, short schedules.
QUICK_ML = {
    "hidden_layout": [64, 64, 64, 64],
    "max_epochs": 8,
    "patience": 3,
    "progress": False,
    "hidden_budgets_percent": [30, 10],
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


def ensure_models(
    config: dict[str, Any], models_dir: Path, dataset: Path, work: Path
) -> tuple[Path, Path]:
    """Models dir and dataset dir holding every model of :data:`MODELS` (trained if missing)."""
    from ml.jobs import train_model

    if not (dataset / dataset_file_name("val")).is_file():
        from ml.synthetic import write_synthetic_dataset

        print(f"no dataset under {dataset}: a synthetic 39-feature one", flush=True)
        dataset = write_synthetic_dataset(
            work / "dataset", n_train=8000, n_val=2000, n_test=4000, n_features=39, seed=5
        )
        config = validate_config({"seed": 2022, "ml": QUICK_ML}, source="benchmark")
        models_dir = work / "models"
    missing = [m for m in MODELS if not (models_dir / m / "model.pt").is_file()]
    if missing:
        target = work / "models"
        for model in MODELS:  # the ones that exist are linked, the others trained
            if (models_dir / model / "model.pt").is_file() and not (target / model).exists():
                target.mkdir(parents=True, exist_ok=True)
                (target / model).symlink_to((models_dir / model).resolve())
        torch.set_num_threads(1)
        for model in missing:
            start = time.perf_counter()
            train_model(config, model, dataset, target)
            print(f"  trained {model} in {time.perf_counter() - start:.0f} s", flush=True)
        models_dir = target
    return models_dir, dataset


def ml_auc(models_dir: Path, model: str) -> tuple[float | None, float | None]:
    """Test AUC and its bootstrap uncertainty from the ml stage's metrics.json."""
    try:
        metrics = json.loads((models_dir / model / "metrics.json").read_text())
        auc = metrics["test"]["auc"]
        return float(auc["value"]), float(auc["uncertainty"])
    except (OSError, KeyError, TypeError, ValueError, json.JSONDecodeError):
        return None, None


def method_of(model: str) -> str:
    try:
        return parse_model_name(model).family_label
    except ValueError:
        return "other"


def pareto_table(firmware_dir: Path, models_dir: Path) -> None:
    """AUC-vs-LUT points of every model with a firmware report, by method; the front."""
    reports = []
    for path in sorted(firmware_dir.glob("*/report.json")):
        try:
            reports.append(FirmwareReport.read(path))
        except HandoffError as err:
            print(f"  (skipped {path}: {err})")
    if not reports:
        print(f"\nno firmware reports under {firmware_dir}: no Pareto table")
        return
    rows = []
    for r in reports:
        auc, unc = ml_auc(models_dir, r.model)
        rows.append(
            {
                "model": r.model,
                "method": method_of(r.model),
                "lut": r.reference.value("lut"),
                "tool": r.reference.resources["lut"].tool,
                "auc_firmware": r.reference.auc,
                "auc_ml": auc,
                "auc_ml_unc": unc,
                "precision": r.reference.precision,
            }
        )
    front = set(pareto_front(rows, "lut", "auc_firmware"))
    precisions = sorted({row["precision"] for row in rows})
    print(
        f"\nAUC vs LUT of every method ({firmware_dir}, "
        f"reference precision {', '.join(precisions)};"
        " * = on the Pareto front of LUT and firmware AUC)"
    )
    print(
        f"  {'method':32s} {'model':20s} {'LUT':>8s} {'tool':>15s} {'AUC firmware':>12s} "
        f"{'AUC ml (test)':>17s}"
    )
    for i, row in sorted(
        enumerate(rows), key=lambda item: (item[1]["method"], item[1]["lut"] or 0)
    ):
        ml = f"{row['auc_ml']:.4f}+-{row['auc_ml_unc']:.4f}" if row["auc_ml"] is not None else "-"
        lut = f"{row['lut']:.0f}" if row["lut"] is not None else "-"
        star = "*" if i in front else " "
        print(
            f"{star} {row['method']:32s} {row['model']:20s} {lut:>8s} {row['tool'] or '-':>15s} "
            f"{row['auc_firmware']:12.4f} {ml:>17s}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=Path("results/models"))
    parser.add_argument("--dataset", type=Path, default=Path("results/dataset"))
    parser.add_argument("--firmware-dir", type=Path, default=Path("results/firmware"))
    parser.add_argument("--config", type=Path, default=Path("config/default.yaml"))
    parser.add_argument(
        "--work", type=Path, help="keep the firmware projects here (default: a temporary directory)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    config = load_config(args.config)
    settings = dataclasses.replace(FirmwareSettings.from_config(config), progress=False)
    work = args.work or Path(tempfile.mkdtemp(prefix="deeppp-firmware-bench-"))
    models_dir, dataset = ensure_models(copy.deepcopy(config), args.models_dir, args.dataset, work)
    test_data, val_data = (dataset / dataset_file_name(s) for s in ("test", "val"))

    reports: dict[str, FirmwareReport] = {}
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
            timings=timings[model],
            scan_path=val_data,
        )
        timings[model]["total"] = time.perf_counter() - start

    ref = settings.reference_precision
    print(
        f"\nfirmware benchmark (config {args.config}, models {models_dir}, test {test_data}, "
        f"scan on {val_data.name}); "
        f"reference precision ap_fixed<{ref.total_bits},{ref.integer_bits}>"
    )
    print(
        f"{'model':16s} {'layout':26s} {'mult.':>6s} {'LUT':>7s} {'FF':>6s} {'CARRY':>11s} "
        f"{'cycles':>6s} {'path':>5s} {'own precision':>14s} {'own LUT':>8s} {'AUC float':>9s} "
        f"{'AUC fw':>7s}"
    )
    for model, r in reports.items():
        a, own = r.reference, r.scanned
        carry = f"{a.value('carry')} {a.carry_cell or ''}" if a.value("carry") is not None else "-"
        print(
            f"{model:16s} {list(r.layout)!s:26s} {r.multiplications:6d} {a.value('lut')!s:>7s} "
            f"{a.value('ff')!s:>6s} {carry:>11s} {a.value('latency_cycles')!s:>6s} "
            f"{a.value('longest_path_cells')!s:>5s} {own.precision:>14s} {own.value('lut')!s:>8s} "
            f"{r.float_auc:9.4f} {a.auc:7.4f}"
        )
        if a.resources["lut"].tool != "yosys":
            print(f"    (LUT from {a.resources['lut'].tool}: {a.resources['lut'].note or ''})")

    steps = ("verilator_scanned", "yosys_scanned", "verilator_reference", "yosys_reference")
    print("\ntime per model [s wall / s CPU]")
    print(f"{'model':16s} " + " ".join(f"{s:>22s}" for s in (*steps, "total")))
    for model in MODELS:
        t = timings[model]
        cells = [
            f"{t[s]:8.1f} / {t.get(s + '_cpu', 0.0):8.1f}" if s in t else f"{'-':>19s}"
            for s in steps
        ]
        print(f"{model:16s} " + " ".join(f"{c:>22s}" for c in cells) + f" {t['total']:22.1f}")

    base = reports["unpruned"].reference
    print("\nratios to unpruned at the reference precision (one tool per ratio):")
    for model in MODELS[1:]:
        build = reports[model].reference
        for key in ("lut", "ff"):
            tools = {build.resources[key].tool, base.resources[key].tool}
            if len(tools) != 1 or None in tools:
                print(
                    f"  {model:16s} {key.upper():3s}: "
                    f"not comparable (tools {sorted(map(str, tools))})"
                )
                continue
            ratio = build.value(key) / base.value(key)  # type: ignore[operator]
            goal = ""
            if key == "lut" and model == "autopruner_h30":
                verdict = "meets" if ratio <= TARGET_LUT_RATIO_30 else "MISSES"
                goal = f"  ({verdict} goal <= {TARGET_LUT_RATIO_30})"
            print(f"  {model:16s} {key.upper():3s} ratio ({tools.pop()}): {ratio:.3f}{goal}")
        print(
            f"  {model:16s} latency: {build.value('latency_cycles')} vs "
            f"{base.value('latency_cycles')} cycles; multiplications ratio "
            f"{reports[model].multiplications / reports['unpruned'].multiplications:.3f}"
        )
    pareto_table(args.firmware_dir, args.models_dir)
    print(f"\nprojects and reports: {work / 'firmware'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
