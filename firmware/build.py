"""One model -> firmware: orchestration of the precision choice, the two builds and the report.

Every model is built twice: at its own *scanned* precision (the design one would deploy:
hls4ml project + emulation, da4ml Verilog, Verilator, Yosys) and at the common *reference*
precision (da4ml Verilog, Verilator, Yosys), which every cross-model comparison uses. When the
two precisions coincide the reference build is the scanned one.

Every bit-exactness check (hls4ml emulation, da4ml emulator and Verilator against the numpy
reference) must pass on every jet, else :class:`firmware.checks.FirmwareCheckError` stops the
build. The output directory (``hls/``, ``rtl/``, ``reference/rtl/``, ``scores.root``,
``report.json``) is assembled in a temporary directory next to it and swapped in as a whole
only after everything succeeded (:func:`deeppp.atomic.atomic_directory`), so a failure or a kill
leaves the previous directory untouched. An ``--out`` directory that holds anything but a
previous deeppp firmware build is refused rather than replaced.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deeppp import DeepppError
from deeppp.atomic import atomic_directory
from deeppp.contracts import FIRMWARE_MODEL_FILES, JETS_TREE, LABEL_BRANCH, WEIGHT_BRANCH
from deeppp.handoffs import FIRMWARE_REPORT_FORMAT, Check, Figure, FirmwareBuild, FirmwareReport
from deeppp.metrics import efficiency_key, point_metrics
from deeppp.provenance import provenance
from deeppp.rootio import write_root
from firmware import assemble, hls, rtl
from firmware.checks import FirmwareCheckError, require_identical
from firmware.fixed_point import FixedFormat, QuantisedNetwork
from firmware.jets import Jets, load_jets
from firmware.network import DenseNetwork, dense_network
from firmware.paired_bootstrap import PairedEventBootstrap
from firmware.precision import paired_auc_loss, scan_precision
from firmware.settings import FirmwareSettings
from firmware.toolflow import RtlDesign, StepTimer, run_tools
from ml.model_io import Tagger, load_tagger

__all__ = ["FirmwareCheckError", "build_firmware", "check_output_directory"]

logger = logging.getLogger(__name__)

#: Marks a directory as a deeppp firmware build (kept even when a workflow manager deletes the
#: declared outputs report.json and scores.root before it re-runs the job).
MARKER = "deeppp-firmware-build.json"

SCORES, REPORT = FIRMWARE_MODEL_FILES

#: Where each build's projects go inside the model directory.
PROJECT_DIRS = {"scanned": Path("rtl"), "reference": Path("reference") / "rtl"}
HLS_DIR = Path("hls")


def build_firmware(
    model_path: str | Path,
    test_path: str | Path,
    out_dir: str | Path,
    settings: FirmwareSettings,
    config: dict[str, Any] | None = None,
    model_name: str | None = None,
    timings: dict[str, float] | None = None,
    scan_path: str | Path | None = None,
) -> FirmwareReport:
    """Build and check the firmware of one trained model; returns the report (also written).

    ``scan_path``: jets the precision scan chooses W and I on (the workflow passes the
    validation set, so the test set the report's figures come from plays no part in the
    choice); default: the test set, which the report then says.

    ``timings`` (optional) receives the wall time in seconds of each step; they are not
    written to the report, which must not change from run to run.
    """
    timer = StepTimer(timings)
    out = Path(out_dir)
    check_output_directory(out)
    name = model_name or Path(model_path).parent.name
    tagger = load_tagger(model_path)
    network = dense_network(tagger.network)  # refuses unsupported layers before any work
    if network.layout[-1] != 1:
        raise DeepppError(
            f"{model_path}: a tagger has one output logit, this network has {network.layout[-1]}"
        )
    test = load_jets(test_path, tagger, settings.max_test_jets, settings.seed)
    scan_jets = (
        load_jets(scan_path, tagger, settings.max_test_jets, settings.seed) if scan_path else test
    )
    logger.info(
        "[%s] layout %s, %d multiplications, %s of %s (%d events)",
        *(name, network.layout, network.multiplications, test.subset, test.file, test.n_events),
    )
    with timer("float_and_precision"):
        logit_float = float_logits(tagger, test.x)
        fmt, scan = scan_precision(
            network, scan_jets, settings.precision, settings.seed, scan_jets.file, settings.progress
        )
    logger.info("[%s] own precision %s (%s), %.1f s", name, fmt, scan.mode, timer.last)
    bootstrap = PairedEventBootstrap(
        test.labels, test.weights, test.events, settings.precision.bootstrap_samples, settings.seed
    )
    context = _BuildContext(name, network, test, logit_float, bootstrap, settings, timer)
    with atomic_directory(out) as work:
        builds, scores = _both_builds(context, fmt, work, out)
        record = provenance(
            "firmware", config, settings.seed, model=name, model_provenance=tagger.provenance
        )
        branches: dict[str, np.ndarray] = {
            "logit_float": logit_float,
            **scores,
            LABEL_BRANCH: test.labels.astype(np.int32),
            WEIGHT_BRANCH: test.weights.astype(np.float32),
        }
        write_root(work / SCORES, {JETS_TREE: branches}, record)
        float_metrics = tagger_metrics(test, logit_float, settings.signal_efficiencies)
        report = FirmwareReport(
            model=name,
            layout=tuple(network.layout),
            feature_names=tuple(tagger.feature_names),
            multiplications=network.multiplications,
            test_file=test.file,
            n_test_jets=test.n_jets,
            n_test_events=test.n_events,
            test_subset=test.subset,
            clock_period_ns=settings.clock_period_ns,
            part=settings.hls4ml.part,
            float_auc=float_metrics["auc"],
            float_rejection=float_metrics["rejection"],
            precision_scan=scan,
            builds=builds,
            provenance=record,
        )
        report.write(work / REPORT)  # validated by a round trip before it is written
        marker = {"format": FIRMWARE_REPORT_FORMAT, "model": name}
        (work / MARKER).write_text(json.dumps(marker) + "\n")
    return report


def _both_builds(
    context: _BuildContext, fmt: FixedFormat, work: Path, final: Path
) -> tuple[dict[str, FirmwareBuild], dict[str, np.ndarray]]:
    """The scanned build and the reference build (the same one when the precisions agree),
    and their score columns (``*_reference`` for the reference build)."""
    ref = context.settings.reference_precision
    reference_fmt = FixedFormat(ref.total_bits, ref.integer_bits)
    serves = ("scanned", "reference") if reference_fmt == fmt else ("scanned",)
    scanned, scores = _build_at(context, fmt, serves, work, with_hls=True, final=final)
    if reference_fmt == fmt:
        reference = dataclasses.replace(scanned, role="reference", same_as="scanned")
    else:
        reference, reference_scores = _build_at(
            context, reference_fmt, ("reference",), work, with_hls=False, final=final
        )
        scores.update({f"{k}_reference": v for k, v in reference_scores.items()})
    return {"scanned": scanned, "reference": reference}, scores


def check_output_directory(out: Path) -> None:
    """Refuse an ``--out`` that is not absent, empty, or a previous deeppp firmware build.

    The whole directory is replaced on success, so anything a user keeps there would be lost.
    """
    if not os.path.lexists(out):
        return
    if out.is_symlink() or not out.is_dir():
        raise DeepppError(f"refusing to write firmware into {out}: it is not a directory")
    if not any(out.iterdir()):
        return
    for name in (MARKER, REPORT):
        path = out / name
        if path.is_file() and not path.is_symlink() and _is_firmware_report(path):
            return
    raise DeepppError(
        f"refusing to replace {out}: it holds files but is not a deeppp firmware directory "
        f"(no {MARKER} marker or firmware report.json; a build replaces the whole directory, "
        "so choose a new or empty --out)"
    )


def _is_firmware_report(path: Path) -> bool:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    if not isinstance(data, dict):
        return False
    fmt = data.get("format")
    if isinstance(fmt, str) and fmt.startswith(FIRMWARE_REPORT_FORMAT.rsplit("-", 1)[0]):
        return True
    record = data.get("provenance")  # reports written before the format tag existed
    return isinstance(record, dict) and record.get("stage") == "firmware" and "rtl" in data


def float_logits(tagger: Tagger, x: np.ndarray) -> np.ndarray:
    """The float network on standardised features, as trained (float32 torch)."""
    with torch.no_grad():
        out = tagger.network(torch.from_numpy(x.astype(np.float32)))
    logits = out.double().numpy().reshape(len(x))
    if not np.isfinite(logits).all():
        raise DeepppError("the float network gives non-finite logits (broken model file?)")
    return logits


def tagger_metrics(
    jets: Jets, logits: np.ndarray, efficiencies: tuple[float, ...]
) -> dict[str, Any]:
    """AUC and ``rejection_<eff>`` (None where no background is left) on the test jets."""
    values = point_metrics(jets.labels, logits, jets.weights, efficiencies)
    return {
        "auc": values["auc"],
        "rejection": {
            efficiency_key(eff): (
                values[efficiency_key(eff)] if math.isfinite(values[efficiency_key(eff)]) else None
            )
            for eff in efficiencies
        },
    }


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


@dataclass(frozen=True)
class _BuildContext:
    model: str
    network: DenseNetwork
    test: Jets
    logit_float: np.ndarray
    bootstrap: PairedEventBootstrap
    settings: FirmwareSettings
    timer: StepTimer


def _build_at(
    context: _BuildContext,
    fmt: FixedFormat,
    serves: tuple[str, ...],
    work: Path,
    with_hls: bool,
    final: Path,
) -> tuple[FirmwareBuild, dict[str, np.ndarray]]:
    """One build: numpy reference, (hls4ml,) da4ml RTL and the RTL tools; checks stop it.

    ``serves``: the roles the build stands for; its own role is the first (a scanned build at
    the reference precision serves both, and the tools of either role run on it).
    """
    role = serves[0]
    settings, test = context.settings, context.test
    qnet = QuantisedNetwork.from_network(context.network, fmt)
    x_grid = qnet.quantise_inputs(test.x)
    logit_reference = qnet.logits(test.x)[:, 0]
    scores: dict[str, np.ndarray] = {"logit_fixed_point": logit_reference}
    checks: list[Check] = []
    details: dict[str, Any] = {
        "nonzero_weights": qnet.nonzero_weights,
        "fixed_point": {
            "tool": "numpy-fixed-point",
            "vs_float": agreement(logit_reference, context.logit_float),
        },
    }
    if with_hls:
        details["hls4ml"], logit_hls, check = _hls_path(
            context, qnet, x_grid, logit_reference, work, final
        )
        checks.append(check)
        scores["logit_hls4ml"] = logit_hls
    if settings.rtl.enabled:
        rtl_details, figures, carry_cell, rtl_checks, logit_rtl = _rtl_path(
            context, qnet, x_grid, logit_reference, serves, work / PROJECT_DIRS[role]
        )
        details.update(rtl_details)
        checks.extend(rtl_checks)
        if logit_rtl is not None:
            scores["logit_rtl"] = logit_rtl
        basis = assemble.latency_basis(
            settings.clock_period_ns,
            rtl_details["vivado"] if "skipped" not in rtl_details["vivado"] else None,
        )
        project_dir: str | None = PROJECT_DIRS[role].as_posix()
    else:
        disabled = "firmware.rtl.enabled is false"
        figures = {key: Figure.missing(disabled) for key in assemble.RESOURCE_KEYS}
        carry_cell, basis, project_dir = None, disabled, None
    percent, totals_source = assemble.part_percent(settings.hls4ml.part, figures)
    details["part_totals"] = totals_source
    metrics = tagger_metrics(test, logit_reference, settings.signal_efficiencies)
    loss = paired_auc_loss(
        context.bootstrap, context.logit_float, logit_reference, settings.precision
    )
    if loss.exceeds_tolerance:
        logger.warning(
            "[%s/%s] %s loses %.4f AUC on the test jets (%.0f%% interval %.4f to %.4f), more "
            "than the tolerance %.4g",
            context.model,
            role,
            fmt,
            loss.value,
            100 * loss.confidence,
            loss.ci_low,
            loss.ci_high,
            loss.tolerance,
        )
    build = FirmwareBuild(
        role=role,
        total_bits=fmt.total_bits,
        integer_bits=fmt.integer_bits,
        auc=metrics["auc"],
        rejection=metrics["rejection"],
        auc_loss_test=loss,
        resources=figures,
        carry_cell=carry_cell,
        latency_basis=basis,
        part_percent=percent,
        checks=tuple(checks),
        project_dir=project_dir,
        details=details,
    )
    return build, scores


def _hls_path(
    context: _BuildContext,
    qnet: QuantisedNetwork,
    x_grid: np.ndarray,
    logit_reference: np.ndarray,
    work: Path,
    final: Path,
) -> tuple[dict[str, Any], np.ndarray, Check]:
    settings, timer = context.settings, context.timer
    h = settings.hls4ml
    hls_dir = work / HLS_DIR
    log_path = work / ".hls4ml.log"
    with open(log_path, "w") as log:
        with timer("hls4ml"):
            model = hls.build_hls_project(qnet, settings, hls_dir, log=log)
            logit_hls = hls.emulate(model, x_grid)[:, 0]
        check = require_identical(
            context.model,
            "scanned",
            str(qnet.fmt),
            "hls4ml-emulation",
            "numpy-fixed-point",
            logit_hls,
            logit_reference,
        )
        with timer("vendor_synthesis"):
            synthesis = hls.vendor_synthesis(model, settings, log=log)
        precisions = hls.layer_precisions(model)
    log_path.rename(hls_dir / "hls4ml.log")
    stamp = hashlib.sha256(
        json.dumps([layer.weight_int.tolist() for layer in qnet.layers]).encode()
    ).hexdigest()[:8]
    # relative to the working directory: absolute paths differ between machines
    hls.make_project_reproducible(hls_dir, os.path.relpath(final / HLS_DIR), stamp)
    logger.info("[%s] hls4ml project + emulation: %.1f s", context.model, timer.steps["hls4ml"])
    metrics = tagger_metrics(context.test, logit_hls, settings.signal_efficiencies)
    details = {
        "project_dir": HLS_DIR.as_posix(),
        "project_name": hls.PROJECT_NAME,
        "backend": h.backend,
        "io_type": h.io_type,
        "strategy": h.strategy,
        "reuse_factor": h.reuse_factor,
        "part": h.part,
        "clock_period_ns": settings.clock_period_ns,
        "layer_precisions": precisions,
        "emulation": {"tool": "hls4ml-emulation", **metrics},
        "synthesis": synthesis,
    }
    return details, logit_hls, check


def _rtl_path(
    context: _BuildContext,
    qnet: QuantisedNetwork,
    x_grid: np.ndarray,
    logit_reference: np.ndarray,
    serves: tuple[str, ...],
    project: Path,
) -> tuple[dict[str, Any], dict[str, Figure], str | None, list[Check], np.ndarray | None]:
    settings, timer = context.settings, context.timer
    role = serves[0]
    r = settings.rtl
    metadata = {"deeppp_model": context.model, "precision": str(qnet.fmt), "build": role}
    with timer(f"da4ml_{role}"):
        comb = rtl.trace_network(qnet, r.search_all_decompose)
        pipe = rtl.pipeline(comb, r.latency_cutoff)
        model = rtl.verilog_model(pipe, project, settings.clock_period_ns, settings.hls4ml.part)
        rtl.write_verilog(model, metadata)
        logit_emulator = rtl.emulate(comb, x_grid, settings.threads)[:, 0]
    stages = len(pipe.solutions)
    logger.info(
        "[%s/%s] da4ml trace, %d-stage pipeline, Verilog, emulation: %.1f s",
        context.model,
        role,
        stages,
        timer.last,
    )
    checks = [
        require_identical(
            context.model,
            role,
            str(qnet.fmt),
            "da4ml-emulator",
            "numpy-fixed-point",
            logit_emulator,
            logit_reference,
        )
    ]
    multipliers, tables = rtl.multipliers_and_tables(pipe)
    estimate = {"lut": float(comb.cost), "ff": float(pipe.reg_bits)}
    design = RtlDesign(
        model=context.model,
        role=role,
        precision=str(qnet.fmt),
        serves=serves,
        model_rtl=model,
        project_dir=project,
        x_grid=x_grid,
        logit_emulator=logit_emulator,
        logit_reference=logit_reference,
        lut_estimate=estimate["lut"],
    )
    outcomes = run_tools(design, settings, timer)
    for outcome in outcomes.values():
        checks.extend(outcome.checks)
    yosys = outcomes["yosys"].details
    vivado = outcomes["vivado"].details
    figures, carry_cell = assemble.resources(
        stages,
        settings.clock_period_ns,
        estimate,
        multipliers,
        tables,
        None if "skipped" in yosys else yosys,
        None if "skipped" in vivado else vivado,
    )
    details: dict[str, Any] = {
        "da4ml": {
            "pipeline_stages": stages,
            "latency_cutoff": r.latency_cutoff,
            "estimate": {
                "lut": Figure.of(estimate["lut"], "da4ml-estimate").to_json(),
                "ff": Figure.of(estimate["ff"], "da4ml-estimate").to_json(),
            },
            "variable_multiplications": multipliers,
            "lookup_tables": tables,
            "sigmoid": "not implemented (raw logit output)",
        },
        **{name: outcome.details for name, outcome in outcomes.items()},
    }
    return details, figures, carry_cell, checks, outcomes["verilator"].logits
