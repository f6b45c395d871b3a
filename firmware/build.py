"""One model -> firmware: precision choice, hls4ml project + emulation, da4ml RTL, checks, report.

Everything for a model is written under its own output directory (``hls/``, ``rtl/``,
``scores.root``, ``report.json``), built first in a private temporary directory there and moved
into place at the end, so parallel jobs never share files and a crash leaves no half project
under a final name. ``report.json`` is written last: it is the file the workflow waits for.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deeppp import CheckError, DeepppError
from deeppp.atomic import write_json_atomic
from deeppp.contracts import JETS_TREE
from deeppp.metrics import point_metrics
from deeppp.provenance import provenance
from deeppp.rootio import read_tree, write_root
from firmware import hls, rtl, synthesis
from firmware.fixed_point import FixedFormat, PrecisionChoice, QuantisedNetwork, scan_precision
from firmware.network import DenseNetwork, dense_network
from firmware.report_values import figure, skipped
from firmware.settings import FirmwareSettings
from ml.model_io import Tagger, load_tagger


class FirmwareCheckError(CheckError):
    """Two implementations that must agree bit by bit do not; names them and the count."""


def load_test_jets(
    test_path: str | Path, tagger: Tagger, max_jets: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standardised features (float64, model input order), labels and weights of the test set."""
    names = list(tagger.feature_names)
    jets = read_tree(
        test_path,
        JETS_TREE,
        required=[*names, "label", "weight"],
        filter_name=[*names, "label", "weight"],
    )
    n = len(jets) if max_jets is None else min(len(jets), max_jets)
    if n == 0:
        raise DeepppError(f"{test_path}: test tree '{JETS_TREE}' is empty")
    raw = np.stack([np.asarray(jets[name][:n], dtype=np.float32) for name in names], axis=1)
    x = tagger.standardise(raw).astype(np.float64)  # the same float32 standardisation as ml
    labels = np.asarray(jets["label"][:n], dtype=np.int32)
    weights = np.asarray(jets["weight"][:n], dtype=np.float64)
    if labels.min() == labels.max():
        raise DeepppError(
            f"{test_path}: test set holds only label {labels[0]} (need signal and background)"
        )
    return x, labels, weights


def tagger_metrics(
    labels: np.ndarray, logits: np.ndarray, weights: np.ndarray, efficiencies: tuple[float, ...]
) -> dict[str, float | None]:

    values = point_metrics(labels, np.asarray(logits, dtype=np.float64), weights, efficiencies)
    return {key: (float(v) if math.isfinite(v) else None) for key, v in values.items()}


def agreement(test: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """|test - reference| on logits and on sigmoid probabilities."""
    diff = np.abs(test - reference)
    prob = np.abs(_sigmoid(test) - _sigmoid(reference))
    return {
        "max_abs_diff_logit": float(diff.max()),
        "mean_abs_diff_logit": float(diff.mean()),
        "max_abs_diff_probability": float(prob.max()),
        "mean_abs_diff_probability": float(prob.mean()),
    }


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def mismatches(a: np.ndarray, b: np.ndarray) -> int:
    return int(
        np.count_nonzero(np.asarray(a).reshape(len(a), -1) != np.asarray(b).reshape(len(b), -1))
    )


def choose_precision(
    network: DenseNetwork,
    x: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    settings: FirmwareSettings,
) -> tuple[FixedFormat, dict[str, Any]]:
    p = settings.precision
    if p.mode == "fixed":
        fmt = FixedFormat(p.total_bits, p.integer_bits)
        return fmt, {"mode": "fixed", "chosen": fmt.to_dict(), "tool": "config"}

    def auc_of(scores: np.ndarray) -> float:
        auc = tagger_metrics(labels, scores, weights, ())["auc"]
        if auc is None:
            raise DeepppError("precision scan: the AUC is not finite (non-finite scores)")
        return float(auc)

    choice: PrecisionChoice = scan_precision(
        network,
        x,
        auc_of,
        p.scan_total_bits,
        p.scan_integer_bits,
        p.auc_tolerance,
        progress=settings.progress,
    )
    return choice.chosen, {
        "mode": "scan",
        "chosen": choice.chosen.to_dict(),
        "within_tolerance": choice.within_tolerance,
        "auc_float": choice.auc_float,
        "auc_tolerance": choice.tolerance,
        "scan": [point.to_dict() for point in choice.scan],
        "tool": "numpy-fixed-point",
    }


def build_firmware(
    model_path: str | Path,
    test_path: str | Path,
    out_dir: str | Path,
    settings: FirmwareSettings,
    config: dict[str, Any] | None = None,
    model_name: str | None = None,
    log: Callable[[str], None] | None = None,
    timings: dict[str, float] | None = None,
    scan_path: str | Path | None = None,
) -> dict[str, Any]:
    """Build and check the firmware of one trained model; returns the report (also written).

    ``scan_path``: jets on which the precision scan chooses W and I (the validation set, so the
    test set that the report's figures come from plays no part in the choice); default: the test set.

    ``timings`` (optional) receives the wall time in seconds of each step (``float_and_precision``,
    ``hls4ml``, ``vendor_synthesis``, ``da4ml``, ``verilator``, ``yosys``, ``nextpnr``); they are
    not written to the report, which must not change from run to run.
    """
    say = log or (lambda message: print(message, file=sys.stdout, flush=True))
    timer = StepTimer(timings)
    out = Path(out_dir).resolve()
    name = model_name or Path(model_path).parent.name
    tagger = load_tagger(model_path)
    sequential = tagger.network
    network = dense_network(sequential)  # refuses unsupported layers before any work
    if network.layout[-1] != 1:
        raise DeepppError(
            f"{model_path}: a tagger has one output logit, this network has {network.layout[-1]}"
        )
    x, labels, weights = load_test_jets(test_path, tagger, settings.max_test_jets)
    scan_set = (
        load_test_jets(scan_path, tagger, settings.max_test_jets)
        if scan_path
        else (x, labels, weights)
    )
    say(
        f"[{name}] layout {network.layout}, {network.multiplications} multiplications, {len(x)} test jets"
    )

    with timer("float_and_precision"), torch.no_grad():
        logit_float = (
            sequential(torch.from_numpy(x.astype(np.float32))).double().numpy().reshape(len(x), -1)
        )
        fmt, precision_report = choose_precision(network, *scan_set, settings)
        if precision_report["mode"] == "scan":
            precision_report["scan_jets"] = (
                Path(scan_path).name if scan_path else Path(test_path).name
            )
            precision_report["n_scan_jets"] = len(scan_set[0])
        qnet = QuantisedNetwork.from_network(network, fmt)
        x_grid = qnet.quantise_inputs(x)
        logit_reference = qnet.logits(x)
    say(f"[{name}] precision {fmt} ({precision_report['mode']}), {timer.last:.1f} s")

    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=out))
    try:
        hls_report, logit_hls = _hls_path(
            qnet, x_grid, logit_reference, logit_float, labels, weights, settings, work, timer
        )
        say(f"[{name}] hls4ml project + emulation: {timer.steps['hls4ml']:.1f} s")
        rtl_report, logit_rtl = _rtl_path(
            qnet, network, x_grid, logit_reference, settings, work, say, name, timer
        )
        if (work / "hls4ml.log").exists() and (work / "hls").exists():
            (work / "hls4ml.log").rename(work / "hls" / "hls4ml.log")
        if (work / "hls").exists():
            stamp = hashlib.sha256(Path(model_path).read_bytes()).hexdigest()[:8]
            # relative to the working directory: absolute paths differ between machines
            hls.make_project_reproducible(work / "hls", os.path.relpath(out / "hls"), stamp)
        for sub in ("hls", "rtl"):
            final = out / sub
            if final.exists():
                shutil.rmtree(final)
            if (work / sub).exists():
                (work / sub).rename(final)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    record = provenance(
        "firmware", config, settings.seed, model=name, model_provenance=tagger.provenance
    )
    branches: dict[str, np.ndarray] = {
        "logit_float": logit_float[:, 0],
        "logit_fixed_point": logit_reference[:, 0],
        "label": labels,
        "weight": weights.astype(np.float32),
    }
    if logit_hls is not None:
        branches["logit_hls4ml"] = logit_hls[:, 0]
    if logit_rtl is not None:
        branches["logit_rtl"] = logit_rtl[:, 0]
    write_root(out / "scores.root", {JETS_TREE: branches}, record)

    effs = settings.signal_efficiencies
    report: dict[str, Any] = {
        "model": name,
        "layout": network.layout,
        "nodes": {
            "inputs": network.n_inputs,
            "hidden": network.hidden_nodes,
            "hidden_per_layer": network.layout[1:-1],
        },
        "multiplications": network.multiplications,
        "nonzero_weights": qnet.nonzero_weights,
        "feature_names": list(tagger.feature_names),
        "n_test_jets": len(x),
        "precision": precision_report,
        "output": "raw logit in ap_fixed<W,I> (no sigmoid in firmware: monotonic, so cuts and ROC are unchanged)",
        "float": {"tool": "torch", **tagger_metrics(labels, logit_float[:, 0], weights, effs)},
        "fixed_point": {
            "tool": "numpy-fixed-point",
            **tagger_metrics(labels, logit_reference[:, 0], weights, effs),
            "vs_float": agreement(logit_reference, logit_float),
        },
        "hls4ml": hls_report,
        "rtl": rtl_report,
        "clock_period_ns": settings.clock_period_ns,
        "provenance": record,
    }
    write_json_atomic(out / "report.json", report)
    return report


def _hls_path(
    qnet: QuantisedNetwork,
    x_grid: np.ndarray,
    logit_reference: np.ndarray,
    logit_float: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    settings: FirmwareSettings,
    work: Path,
    timer: StepTimer,
) -> tuple[dict[str, Any], np.ndarray | None]:
    h = settings.hls4ml
    report: dict[str, Any] = {
        "project_dir": "hls",
        "project_name": hls.PROJECT_NAME,
        "backend": h.backend,
        "io_type": h.io_type,
        "strategy": h.strategy,
        "reuse_factor": h.reuse_factor,
        "part": h.part,
        "clock_period_ns": settings.clock_period_ns,
        "precision": {
            "input": qnet.fmt.hls_type(),
            "weight": qnet.fmt.hls_type(),
            "bias": qnet.fmt.hls_type(),
            "accum": "auto (exact)",
            "relu_result": qnet.fmt.hls_type(unsigned=True),
            "output": qnet.fmt.hls_type(),
        },
    }
    with open(work / "hls4ml.log", "w") as log:
        with timer("hls4ml"):
            model = hls.build_hls_project(qnet, settings, work / "hls", log=log)
            logit_hls = hls.emulate(model, x_grid)
        report["emulation"] = {
            "tool": "hls4ml-emulation",
            **tagger_metrics(labels, logit_hls[:, 0], weights, settings.signal_efficiencies),
            "vs_float": agreement(logit_hls, logit_float),
            "mismatches_vs_fixed_point": mismatches(logit_hls, logit_reference),
        }
        with timer("vendor_synthesis"):
            report["synthesis"] = hls.vendor_synthesis(model, settings, log=log)
    return report, logit_hls


def _rtl_path(
    qnet: QuantisedNetwork,
    network: DenseNetwork,
    x_grid: np.ndarray,
    logit_reference: np.ndarray,
    settings: FirmwareSettings,
    work: Path,
    say: Callable[[str], None],
    name: str,
    timer: StepTimer,
) -> tuple[dict[str, Any], np.ndarray | None]:
    r = settings.rtl
    if not r.enabled:
        disabled = "firmware.rtl.enabled is false"
        return {"skipped": disabled, "resources": _skipped_resources(disabled)}, None
    period = settings.clock_period_ns
    project = work / "rtl"
    metadata = {"deeppp_model": name, "precision": str(qnet.fmt)}
    with timer("da4ml"):
        comb = rtl.trace_network(qnet, r.search_all_decompose)
        pipe = rtl.pipeline(comb, r.latency_cutoff)
        model = rtl.verilog_model(pipe, project, period, settings.hls4ml.part)
        rtl.write_verilog(model, metadata)
        logit_emulator = rtl.emulate(comb, x_grid, settings.threads)
    stages = len(pipe.solutions)
    say(f"[{name}] da4ml trace, {stages}-stage pipeline, Verilog, emulation: {timer.last:.1f} s")
    n_mismatch = mismatches(logit_emulator, logit_reference)
    if n_mismatch:
        raise FirmwareCheckError(
            f"{name}: da4ml emulator and numpy fixed-point reference differ on {n_mismatch} of {len(x_grid)} jets"
        )
    multipliers = sum(1 for stage in pipe.solutions for op in stage.ops if op.opcode == 7)
    tables = sum(1 for stage in pipe.solutions for op in stage.ops if op.opcode == 8)
    report: dict[str, Any] = {
        "project_dir": "rtl",
        "project_name": rtl.PROJECT_NAME,
        "latency_cutoff": r.latency_cutoff,
        "pipeline_stages": stages,
        "sigmoid": "not implemented (raw logit output)",
        "emulation": {
            "tool": "da4ml-emulator",
            "n_jets": len(x_grid),
            "mismatches_vs_fixed_point": n_mismatch,
        },
        "estimate": {
            "lut": figure(float(comb.cost), "da4ml-estimate"),
            "ff": figure(int(pipe.reg_bits), "da4ml-estimate"),
            "dsp": figure(int(multipliers), "da4ml-estimate"),
            "bram": figure(int(tables), "da4ml-estimate"),
        },
    }

    # Verilator: cycle-accurate simulation of the written RTL on every test jet.
    reason = tool_gate(
        r.verilator,
        "firmware.rtl.verilator",
        rtl.verilator_unavailable_reason(),
        comb.cost,
        r.verilator_max_lut_estimate,
        "verilator_max_lut_estimate",
    )
    if reason is None:
        with timer("verilator"):
            logit_sim = rtl.verilator_simulate(
                model, x_grid, work / "verilator", metadata, settings.threads
            )
            rtl.clean_simulation_build(project)
        n_sim = mismatches(logit_sim, logit_emulator)
        if n_sim:
            raise FirmwareCheckError(
                f"{name}: Verilator simulation and da4ml emulator differ on {n_sim} of {len(x_grid)} jets"
            )
        report["verilator"] = {
            "tool": "verilator",
            "n_jets": len(x_grid),
            "mismatches_vs_emulator": n_sim,
        }
        say(f"[{name}] Verilator: bit-exact on {len(x_grid)} jets ({timer.last:.1f} s)")
    else:
        report["verilator"] = skipped(reason)
        say(f"[{name}] Verilator skipped: {reason}")

    latency_tool = "da4ml-pipeline"
    resources: dict[str, Any] = {
        "latency_cycles": figure(stages, latency_tool),
        "latency_ns": figure(stages * period, latency_tool),
        "initiation_interval": figure(1, latency_tool),
    }
    sources = rtl.verilog_sources(project)
    reason = tool_gate(
        r.yosys,
        "firmware.rtl.yosys",
        synthesis.yosys_unavailable_reason(),
        comb.cost,
        r.yosys_max_lut_estimate,
        "yosys_max_lut_estimate",
    )
    if reason is None:
        with timer("yosys"):
            counts = synthesis.run_yosys_xilinx(
                sources, rtl.PROJECT_NAME, r.yosys_family, project / "yosys"
            )
        report["yosys"] = {
            "family": r.yosys_family,
            **{k: figure(v, "yosys") for k, v in counts.items()},
        }
        for key in ("lut", "ff", "dsp", "bram", "carry"):
            resources[key] = figure(counts[key], "yosys")
        say(
            f"[{name}] Yosys synth_xilinx: {counts['lut']} LUT, {counts['ff']} FF ({timer.last:.1f} s)"
        )
    else:
        report["yosys"] = skipped(reason)
        for key in ("lut", "ff", "dsp", "bram"):
            resources[key] = report["estimate"][key]
        resources["carry"] = skipped(f"no Yosys run: {reason}")
        say(f"[{name}] Yosys skipped: {reason}")

    if r.nextpnr_ecp5:
        why_not = synthesis.nextpnr_unavailable_reason() or synthesis.yosys_unavailable_reason()
        if why_not is None:
            with timer("nextpnr"):
                pnr = synthesis.run_nextpnr_ecp5(
                    sources, rtl.PROJECT_NAME, period, project / "nextpnr"
                )
            report["nextpnr_ecp5"] = {
                k: (
                    figure(v, "nextpnr-ecp5") if v is not None else skipped("not in nextpnr report")
                )
                for k, v in pnr.items()
            }
        else:
            report["nextpnr_ecp5"] = skipped(why_not)
    else:
        report["nextpnr_ecp5"] = skipped("firmware.rtl.nextpnr_ecp5 is off")
    report["resources"] = resources
    return report, logit_emulator


class StepTimer:
    """Wall time per named step, kept out of the report (it differs from run to run)."""

    def __init__(self, sink: dict[str, float] | None = None) -> None:
        self.steps: dict[str, float] = sink if sink is not None else {}
        self.last = 0.0

    @contextlib.contextmanager
    def __call__(self, step: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.last = time.perf_counter() - start
            self.steps[step] = self.steps.get(step, 0.0) + self.last


def tool_gate(
    switch: str,
    key: str,
    unavailable: str | None,
    lut_estimate: float,
    limit: float,
    limit_key: str,
) -> str | None:
    """None if the tool should run; otherwise the reason it does not.

    ``auto`` runs a tool only up to a size limit on da4ml's LUT estimate: Verilator's and Yosys's
    run times follow the netlist size, which depends on the precision as much as on the number
    of multiplications (a 6k-LUT pruned tagger: ~30 s of Verilator, ~45 s of Yosys; 27k LUTs:
    4 min of Yosys).
    """
    if switch == "off":
        return f"{key} is off"
    if unavailable is not None:
        if switch == "on":
            raise DeepppError(f"{key} is on but {unavailable}")
        return unavailable
    if switch == "auto" and lut_estimate > limit:
        return (
            f"da4ml estimate of {lut_estimate:.0f} LUTs > firmware.rtl.{limit_key} = {limit:.0f} "
            f"(set {key}: on to force)"
        )
    return None


def _skipped_resources(reason: str) -> dict[str, Any]:
    return {
        key: skipped(reason)
        for key in (
            "lut",
            "ff",
            "dsp",
            "bram",
            "carry",
            "latency_cycles",
            "latency_ns",
            "initiation_interval",
        )
    }
