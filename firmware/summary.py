"""Summary across models: table (CSV + Markdown) and plots of cost versus pruning.

Resources in the table come from the RTL design (da4ml Verilog): Yosys counts where Yosys ran,
else da4ml's estimate, always with the tool named in the next column. Plots and ratios compare
numbers from one tool only: the da4ml estimate exists for every model, Yosys points are added
where both models of a comparison have them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deeppp import DeepppError
from deeppp.atomic import write_text_atomic
from deeppp.contracts import JETS_TREE, MODEL_FAMILY_LABELS, parse_model_name
from deeppp.rootio import InputFileError, read_tree
from firmware import plots
from firmware.report_values import value_of

#: Legend names of the model families; "other" for a model outside the ml stage's grammar.
FAMILIES = {**MODEL_FAMILY_LABELS, "other": "other"}


def model_family(name: str) -> str:
    try:
        return parse_model_name(name).family
    except ValueError:
        return "other"


def read_report(model_dir: str | Path) -> dict[str, Any]:
    path = Path(model_dir) / "report.json"
    try:
        report = json.loads(path.read_text())
    except FileNotFoundError as err:
        raise InputFileError(f"{path}: firmware report does not exist") from err
    except json.JSONDecodeError as err:
        raise InputFileError(f"{path}: not valid JSON ({err.msg})") from err
    for key in ("model", "layout", "multiplications", "rtl", "hls4ml", "float", "fixed_point"):
        if key not in report:
            raise InputFileError(f"{path}: firmware report lacks '{key}'")
    return report


def reference_model(reports: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The unpruned model if present, else the one with most multiplications."""
    for report in reports:
        if report["model"] == "unpruned":
            return report
    return max(reports, key=lambda r: r["multiplications"])


def summary_rows(reports: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    ref = reference_model(reports)
    ref_nodes = ref["nodes"]["inputs"] + ref["nodes"]["hidden"]
    rows = []
    for r in reports:
        resources = r["rtl"].get("resources", {})
        estimate = r["rtl"].get("estimate", {})
        yosys = r["rtl"].get("yosys", {})
        hls_emulation = r["hls4ml"].get("emulation", {})
        synthesis = r["hls4ml"].get("synthesis", {})
        verilator = r["rtl"].get("verilator", {})
        nodes = r["nodes"]["inputs"] + r["nodes"]["hidden"]
        rows.append(
            {
                "model": r["model"],
                "family": model_family(r["model"]),
                "inputs": r["nodes"]["inputs"],
                "hidden_nodes": r["nodes"]["hidden"],
                "nodes_kept_fraction": nodes / ref_nodes,
                "multiplications": r["multiplications"],
                "pruned_fraction": 1.0 - r["multiplications"] / ref["multiplications"],
                "nonzero_weights": r.get("nonzero_weights"),
                "precision": r["precision"]["chosen"]["type"],
                "lut": value_of(resources.get("lut")),
                "lut_tool": (resources.get("lut") or {}).get("tool"),
                "ff": value_of(resources.get("ff")),
                "ff_tool": (resources.get("ff") or {}).get("tool"),
                "dsp": value_of(resources.get("dsp")),
                "dsp_tool": (resources.get("dsp") or {}).get("tool"),
                "carry": value_of(resources.get("carry")),
                "lut_da4ml_estimate": value_of(estimate.get("lut")),
                "lut_yosys": value_of(yosys.get("lut")) if isinstance(yosys, dict) else None,
                "latency_cycles": value_of(resources.get("latency_cycles")),
                "latency_ns": value_of(resources.get("latency_ns")),
                "latency_tool": (resources.get("latency_cycles") or {}).get("tool"),
                "hls_latency_cycles": value_of(synthesis.get("latency_cycles")),
                "hls_lut": value_of(synthesis.get("lut")),
                "hls_synthesis_tool": (synthesis.get("latency_cycles") or {}).get("tool"),
                "auc_float": r["float"]["auc"],
                "auc_firmware": r["fixed_point"]["auc"],
                "auc_hls4ml": hls_emulation.get("auc"),
                "rejection_50_float": r["float"].get("rejection_50"),
                "rejection_50_firmware": r["fixed_point"].get("rejection_50"),
                "hls4ml_mismatches": hls_emulation.get("mismatches_vs_fixed_point"),
                "verilator_mismatches": verilator.get("mismatches_vs_emulator"),
            }
        )
    return rows


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """The headline columns, readable; the CSV holds everything."""
    lines = [
        "| model | inputs | hidden | mult. | precision | LUT | FF | DSP | latency (cycles / ns) | AUC float | AUC firmware | Verilator |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        verilator = (
            "n/a"
            if row["verilator_mismatches"] is None
            else (
                "bit-exact"
                if row["verilator_mismatches"] == 0
                else f"{row['verilator_mismatches']} diff"
            )
        )
        lines.append(
            f"| {row['model']} | {row['inputs']} | {row['hidden_nodes']} | {row['multiplications']} | "
            f"{row['precision']} | {_fmt(row['lut'])} ({row['lut_tool']}) | {_fmt(row['ff'])} ({row['ff_tool']}) | "
            f"{_fmt(row['dsp'])} | {_fmt(row['latency_cycles'])} / {_fmt(row['latency_ns'])} | "
            f"{row['auc_float']:.4f} | {row['auc_firmware']:.4f} | {verilator} |"
        )
    lines.append("")
    lines.append(
        "Resources: the da4ml RTL design (Yosys `synth_xilinx` counts where Yosys ran, else the da4ml "
        "estimate); latency = pipeline stages x clock period. AUC firmware: the bit-accurate network "
        "(hls4ml emulation and da4ml RTL agree with it bit by bit)."
    )
    return "\n".join(lines) + "\n"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.0f}" if value >= 100 else f"{value:.3g}"
    return str(value)


def write_summary(model_dirs: Sequence[str | Path], out_dir: str | Path) -> list[dict[str, Any]]:
    """``summary.csv``, ``summary.md`` and the plots into ``out_dir``; returns the rows."""
    if not model_dirs:
        raise DeepppError("no firmware reports to summarise")
    reports = [read_report(d) for d in model_dirs]
    rows = summary_rows(reports)
    out = Path(out_dir)
    write_text_atomic(
        out / "summary.csv",
        pd.DataFrame(rows).to_csv(index=False, lineterminator="\n", float_format="%.6g"),
    )
    write_text_atomic(out / "summary.md", markdown_table(rows))

    plots.resources_vs_pruning(out / "resources_vs_pruning.png", rows)
    plots.latency_vs_pruning(out / "latency_vs_pruning.png", rows)
    directory = {r["model"]: Path(d) for r, d in zip(reports, model_dirs, strict=True)}
    roc_models = _roc_selection(list(directory))
    plots.roc_float_vs_firmware(
        out / "roc_float_vs_firmware.png",
        {m: read_scores(directory[m] / "scores.root") for m in roc_models},
    )
    plots.precision_scan(out / "precision_scan.png", reports)
    return rows


def _roc_selection(names: Sequence[str]) -> list[str]:
    """Unpruned and the hidden-node AutoPruner models (all models would not be readable)."""
    chosen = [n for n in names if model_family(n) in ("unpruned", "autopruner")]
    return chosen or list(names)[:4]


def read_scores(path: Path) -> dict[str, np.ndarray]:
    jets = read_tree(
        path, JETS_TREE, required=["logit_float", "logit_fixed_point", "label", "weight"]
    )
    return {field: np.asarray(jets[field]) for field in jets.fields}


def lut_ratio(rows: Sequence[dict[str, Any]], model: str, reference: str) -> dict[str, Any]:
    """LUT ratio model/reference per tool that measured both (never mixing tools)."""
    by_name = {row["model"]: row for row in rows}
    a, b = by_name[model], by_name[reference]
    out: dict[str, Any] = {}
    for column, tool in (("lut_yosys", "yosys"), ("lut_da4ml_estimate", "da4ml-estimate")):
        if a[column] is not None and b[column] is not None and not math.isclose(b[column], 0.0):
            out[tool] = a[column] / b[column]
    return out
