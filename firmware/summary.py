"""Summary across models: one table (CSV + Markdown), the plots, and sentences from the data.

Every cross-model column compares the designs at the common reference precision (one
``ap_fixed<W,I>`` for all models); each model's own scanned precision is a second set of
columns prefixed ``own_``. Resources name the tool that produced them. The Markdown page's
sentences (which checks ran and agreed, which models lose more AUC than the tolerance, what
pruning does to the latency, the Pareto front) are generated from the rows
(:mod:`firmware.findings`), never written by hand. The CSV, Markdown and PNG files are written
as one set: all are replaced, or none.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deeppp import DeepppError
from deeppp.atomic import atomic_outputs
from deeppp.contracts import (
    FIRMWARE_MODEL_FILES,
    FIRMWARE_PLOTS,
    FIRMWARE_SUMMARY_FILES,
    JETS_TREE,
    LABEL_BRANCH,
    WEIGHT_BRANCH,
    parse_model_name,
)
from deeppp.handoffs import FirmwareBuild, FirmwareReport
from deeppp.rootio import read_tree
from firmware import findings, plots

logger = logging.getLogger(__name__)

SCORES, REPORT = FIRMWARE_MODEL_FILES

#: Columns of summary.csv, in order (docs/data_contracts.md).
COLUMNS: tuple[str, ...] = (
    "model",
    "family",
    "method",
    "inputs",
    "hidden_nodes",
    "multiplications",
    "pruned_fraction",
    "reference_precision",
    "lut",
    "lut_tool",
    "ff",
    "ff_tool",
    "carry",
    "carry_cell",
    "dsp",
    "bram_18k",
    "latency_cycles",
    "latency_ns",
    "longest_path_cells",
    "lut_percent",
    "ff_percent",
    "auc_float",
    "auc_firmware",
    "auc_loss",
    "auc_loss_ci_low",
    "auc_loss_ci_high",
    "loss_exceeds_tolerance",
    "pareto_optimal",
    "own_precision",
    "own_scan_within_tolerance",
    "own_lut",
    "own_lut_tool",
    "own_ff",
    "own_latency_cycles",
    "own_auc_firmware",
    "own_auc_loss",
    "own_auc_loss_ci_low",
    "own_auc_loss_ci_high",
    "own_loss_exceeds_tolerance",
    "hls_latency_cycles",
    "hls_lut",
    "vivado_lut",
    "auc_hls4ml",
    "checks",
    "checked_jets",
    "mismatches",
    "hls4ml_mismatches",
    "verilator_builds",
    "n_test_jets",
    "tolerance",
)


def model_family(name: str) -> str:
    try:
        return parse_model_name(name).family
    except ValueError:
        return "other"


def method_label(name: str) -> str:
    try:
        return parse_model_name(name).family_label
    except ValueError:
        return "other"


def read_reports(model_dirs: Sequence[str | Path]) -> list[FirmwareReport]:
    """Validated reports (:class:`deeppp.handoffs.FirmwareReport`); one-line errors."""
    if not model_dirs:
        raise DeepppError("no firmware reports to summarise")
    reports = [FirmwareReport.read(Path(d) / REPORT) for d in model_dirs]
    names = [r.model for r in reports]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DeepppError(f"model {duplicates[0]} appears twice among the firmware reports")
    precisions = {r.reference.precision for r in reports}
    if len(precisions) > 1:
        raise DeepppError(
            "the reports were built at different reference precisions "
            f"({', '.join(sorted(precisions))}); "
            "rebuild them with one firmware.reference_precision"
        )
    return reports


def reference_model(reports: Sequence[FirmwareReport]) -> FirmwareReport:
    """The unpruned model if present, else the one with most multiplications."""
    for report in reports:
        if model_family(report.model) == "unpruned" and "_seed" not in report.model:
            return report
    return max(reports, key=lambda r: r.multiplications)


def _hls_figure(build: FirmwareBuild, block: str, key: str) -> Any:
    synthesis = build.details.get("hls4ml", {}).get("synthesis", {})
    entry = synthesis.get(block, {}).get(key) if isinstance(synthesis, dict) else None
    return entry.get("value") if isinstance(entry, dict) else None


def _verilator_ran(build: FirmwareBuild) -> bool:
    return any(check.tool == "verilator" for check in build.checks)


def summary_rows(reports: Sequence[FirmwareReport]) -> list[dict[str, Any]]:
    ref = reference_model(reports)
    rows = []
    for r in reports:
        a, own = r.reference, r.scanned
        builds = [a] if a.same_as else [a, own]
        checks = [c for b in builds for c in b.checks]
        rows.append(
            {
                "model": r.model,
                "family": model_family(r.model),
                "method": method_label(r.model),
                "inputs": r.inputs,
                "hidden_nodes": r.hidden_nodes,
                "multiplications": r.multiplications,
                "pruned_fraction": 1.0 - r.multiplications / ref.multiplications,
                "reference_precision": a.precision,
                "lut": a.value("lut"),
                "lut_tool": a.resources["lut"].tool,
                "ff": a.value("ff"),
                "ff_tool": a.resources["ff"].tool,
                "carry": a.value("carry"),
                "carry_cell": a.carry_cell,
                "dsp": a.value("dsp"),
                "bram_18k": a.value("bram_18k"),
                "latency_cycles": a.value("latency_cycles"),
                "latency_ns": a.value("latency_ns"),
                "longest_path_cells": a.value("longest_path_cells"),
                "lut_percent": a.part_percent.get("lut"),
                "ff_percent": a.part_percent.get("ff"),
                "auc_float": r.float_auc,
                "auc_firmware": a.auc,
                "auc_loss": a.auc_loss_test.value,
                "auc_loss_ci_low": a.auc_loss_test.ci_low,
                "auc_loss_ci_high": a.auc_loss_test.ci_high,
                "loss_exceeds_tolerance": a.auc_loss_test.exceeds_tolerance,
                "pareto_optimal": False,  # filled below
                "own_precision": own.precision,
                "own_scan_within_tolerance": r.precision_scan.within_tolerance,
                "own_lut": own.value("lut"),
                "own_lut_tool": own.resources["lut"].tool,
                "own_ff": own.value("ff"),
                "own_latency_cycles": own.value("latency_cycles"),
                "own_auc_firmware": own.auc,
                "own_auc_loss": own.auc_loss_test.value,
                "own_auc_loss_ci_low": own.auc_loss_test.ci_low,
                "own_auc_loss_ci_high": own.auc_loss_test.ci_high,
                "own_loss_exceeds_tolerance": own.auc_loss_test.exceeds_tolerance,
                "hls_latency_cycles": _hls_figure(own, "csynth", "latency_cycles"),
                "hls_lut": _hls_figure(own, "csynth", "lut"),
                "vivado_lut": _hls_figure(own, "vivado_synth", "lut"),
                "auc_hls4ml": own.details.get("hls4ml", {}).get("emulation", {}).get("auc"),
                "checks": "; ".join(sorted({f"{c.tool} == {c.reference}" for c in checks})),
                "checked_jets": min((c.n_jets for c in checks), default=0),
                "mismatches": sum(c.mismatches for c in checks),
                "hls4ml_mismatches": sum(
                    c.mismatches for c in own.checks if c.tool == "hls4ml-emulation"
                ),
                "verilator_builds": ",".join(b.role for b in builds if _verilator_ran(b)),
                "n_test_jets": r.n_test_jets,
                "tolerance": a.auc_loss_test.tolerance,
            }
        )
    for index in pareto_front(rows, "lut", "auc_firmware"):
        rows[index]["pareto_optimal"] = True
    return rows


def pareto_front(rows: Sequence[dict[str, Any]], cost: str, quality: str) -> list[int]:
    """Indices of the rows no other row beats: lower-or-equal cost and higher-or-equal quality,
    one of them strictly. Rows without a cost are left out."""
    points = [
        (i, float(row[cost]), float(row[quality]))
        for i, row in enumerate(rows)
        if row[cost] is not None and row[quality] is not None
    ]
    front = []
    for i, c, q in points:
        dominated = any(
            (c2 <= c and q2 >= q) and (c2 < c or q2 > q) for j, c2, q2 in points if j != i
        )
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: float(rows[i][cost]))


def csv_text(rows: Sequence[dict[str, Any]]) -> str:
    import csv

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _csv_value(row[key]) for key in COLUMNS})
    return buffer.getvalue()


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    """Headline table at the reference precision, the own-precision columns, and the findings."""
    precision = rows[0]["reference_precision"]
    lines = [
        f"## Firmware at the reference precision {precision}",
        "",
        "| model | method | inputs | hidden | mult. | LUT | FF | CARRY | latency (cycles) | "
        "longest path (cells) | LUT % of part | AUC float | AUC firmware | AUC loss (95 % CI) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['model']} | {row['method']} | {row['inputs']} | {row['hidden_nodes']} | "
            f"{row['multiplications']} | {_fmt(row['lut'])} ({row['lut_tool']}) | "
            f"{_fmt(row['ff'])} ({row['ff_tool']}) | "
            f"{_fmt(row['carry'])} {row['carry_cell'] or ''} | "
            f"{_fmt(row['latency_cycles'])} | {_fmt(row['longest_path_cells'])} | "
            f"{_pct(row['lut_percent'])} | {row['auc_float']:.4f} | {row['auc_firmware']:.4f} | "
            f"{_loss(row, '')} |"
        )
    lines += [
        "",
        "## Each model at its own scanned precision",
        "",
        "| model | precision | scan within tolerance | LUT | FF | latency (cycles) | "
        "AUC firmware | AUC loss (95 % CI) | HLS latency | HLS LUT |",
        "|---|---|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['model']} | {row['own_precision']} | "
            f"{_yes_no(row['own_scan_within_tolerance'])} | "
            f"{_fmt(row['own_lut'])} ({row['own_lut_tool']}) | {_fmt(row['own_ff'])} | "
            f"{_fmt(row['own_latency_cycles'])} | {row['own_auc_firmware']:.4f} | "
            f"{_loss(row, 'own_')} | {_fmt(row['hls_latency_cycles'])} | {_fmt(row['hls_lut'])} |"
        )
    lines += ["", "## Findings", ""]
    lines += [f"- {sentence}" for sentence in findings.summary_sentences(rows)]
    return "\n".join(lines) + "\n"


def _loss(row: dict[str, Any], prefix: str) -> str:
    flag = " **exceeds tolerance**" if row[f"{prefix}loss_exceeds_tolerance"] else ""
    return (
        f"{row[f'{prefix}auc_loss']:+.4f} ({row[f'{prefix}auc_loss_ci_low']:+.4f}, "
        f"{row[f'{prefix}auc_loss_ci_high']:+.4f}){flag}"
    )


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _yes_no(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "**no**")


def read_scores(path: Path, columns: Sequence[str]) -> dict[str, np.ndarray]:
    jets = read_tree(path, JETS_TREE, required=[*columns, LABEL_BRANCH, WEIGHT_BRANCH])
    return {field: np.asarray(jets[field]) for field in (*columns, LABEL_BRANCH, WEIGHT_BRANCH)}


def roc_selection(names: Sequence[str]) -> list[str]:
    """Unpruned and the hidden-node AutoPruner models (all models would not be readable)."""
    chosen = [n for n in names if model_family(n) in ("unpruned", "autopruner")]
    return chosen or list(names)[:4]


def write_summary(model_dirs: Sequence[str | Path], out_dir: str | Path) -> list[dict[str, Any]]:
    """``summary.csv``, ``summary.md`` and the plots into ``out_dir``, as one set; the rows."""
    reports = read_reports(model_dirs)
    rows = summary_rows(reports)
    out = Path(out_dir)
    directory = {r.model: Path(d) for r, d in zip(reports, model_dirs, strict=True)}
    roc_scores = {
        m: read_scores(directory[m] / SCORES, ["logit_float", _reference_column(r)])
        for m, r in ((r.model, r) for r in reports)
        if m in roc_selection(list(directory))
    }
    finals = [out / name for name in (*plots_files(), *FIRMWARE_SUMMARY_FILES)]
    with atomic_outputs(finals) as temps:
        paths = dict(zip([f.name for f in finals], temps, strict=True))
        plots.resources_vs_pruning(paths["resources_vs_pruning.png"], rows)
        plots.latency_vs_pruning(paths["latency_vs_pruning.png"], rows)
        plots.roc_float_vs_firmware(
            paths["roc_float_vs_firmware.png"],
            {
                m: {
                    "float": s["logit_float"],
                    "firmware": s[_reference_column(next(r for r in reports if r.model == m))],
                    "label": s[LABEL_BRANCH],
                    "weight": s[WEIGHT_BRANCH],
                }
                for m, s in roc_scores.items()
            },
            rows[0]["reference_precision"],
        )
        plots.precision_scan(paths["precision_scan.png"], reports)
        paths["summary.csv"].write_text(csv_text(rows))
        paths["summary.md"].write_text(markdown(rows))
    return rows


def _reference_column(report: FirmwareReport) -> str:
    """Branch of scores.root holding the reference-precision logits."""
    return "logit_fixed_point" if report.reference.same_as else "logit_fixed_point_reference"


def plots_files() -> list[str]:
    return [f"{stem}.png" for stem in FIRMWARE_PLOTS]
