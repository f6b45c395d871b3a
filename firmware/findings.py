"""Sentences about the firmware results, generated from the summary rows.

``summary.md`` lists them, and the figure captions of the Snakemake report include the ones for
their figure (:class:`CaptionFindings`, read when the report is built, after the workflow ran),
so no caption claims what the data does not show. Pure Python (``csv`` only): the Snakefile
imports this module at parse time.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_INT_COLUMNS = {
    "inputs",
    "hidden_nodes",
    "multiplications",
    "latency_cycles",
    "longest_path_cells",
    "own_latency_cycles",
    "checked_jets",
    "mismatches",
    "hls4ml_mismatches",
    "n_test_jets",
}
_BOOL_COLUMNS = {
    "loss_exceeds_tolerance",
    "pareto_optimal",
    "own_scan_within_tolerance",
    "own_loss_exceeds_tolerance",
}
_TEXT_COLUMNS = {
    "model",
    "family",
    "method",
    "reference_precision",
    "lut_tool",
    "ff_tool",
    "carry_cell",
    "own_precision",
    "own_lut_tool",
    "checks",
    "verilator_builds",
}


def rows_from_csv(path: str | Path) -> list[dict[str, Any]]:
    """The rows of ``summary.csv`` with their types (empty cells are None)."""
    with open(path, newline="") as handle:
        return [
            {key: _typed(key, value) for key, value in row.items()}
            for row in csv.DictReader(handle)
        ]


def _typed(key: str, value: str) -> Any:
    if value == "":
        return None
    if key in _TEXT_COLUMNS:
        return value
    if key in _BOOL_COLUMNS:
        return value == "True"
    number = float(value)
    return int(number) if key in _INT_COLUMNS else number


def _names(rows: Sequence[dict[str, Any]]) -> str:
    names = [row["model"] for row in rows]
    return ", ".join(names) if names else "none"


def _unpruned(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    return next((row for row in rows if row["family"] == "unpruned"), None)


def checks_sentence(rows: Sequence[dict[str, Any]]) -> str:
    checks = sorted({c for row in rows for c in (row["checks"] or "").split("; ") if c})
    jets = min(row["checked_jets"] for row in rows)
    mismatches = sum(row["mismatches"] for row in rows)
    text = (
        f"Bit-exactness: for all {len(rows)} models, {'; '.join(checks)} agreed on every one of "
        f"at least {jets} test jets ({mismatches} mismatches; any mismatch stops the build)."
    )
    no_verilator = [row for row in rows if not row["verilator_builds"]]
    if no_verilator:
        text += f" Verilator did not simulate: {_names(no_verilator)} (reason in report.json)."
    return text


def loss_sentence(rows: Sequence[dict[str, Any]], prefix: str = "") -> str:
    where = (
        f"at the reference precision {rows[0]['reference_precision']}"
        if not prefix
        else "at each model's own scanned precision"
    )
    tolerance = rows[0]["tolerance"]
    over = [row for row in rows if row[f"{prefix}loss_exceeds_tolerance"]]
    worst = max(rows, key=lambda r: r[f"{prefix}auc_loss"])
    text = (
        f"Test-set AUC loss AUC(float) - AUC(firmware) {where}: "
        f"largest {worst[f'{prefix}auc_loss']:+.4f} "
        f"({worst['model']}, 95 % CI {worst[f'{prefix}auc_loss_ci_low']:+.4f} to "
        f"{worst[f'{prefix}auc_loss_ci_high']:+.4f}); "
    )
    if over:
        text += f"above the tolerance {tolerance:g} for {_names(over)}."
    else:
        text += f"every model is within the tolerance {tolerance:g}."
    return text


def scan_sentence(rows: Sequence[dict[str, Any]]) -> str:
    precisions = sorted({row["own_precision"] for row in rows})
    failed = [row for row in rows if row["own_scan_within_tolerance"] is False]
    text = (
        "The precision scan (validation jets, paired event bootstrap) "
        f"chose {', '.join(precisions)}"
        f" for the {len(rows)} models."
    )
    if failed:
        text += f" No width of the grid kept the loss bound within tolerance for {_names(failed)}."
    return text + " " + loss_sentence(rows, "own_")


def resources_sentence(rows: Sequence[dict[str, Any]]) -> str:
    measured = [row for row in rows if row["lut"] is not None]
    if not measured:
        return "No LUT count is available (no synthesis ran and no estimate was made)."
    tools = sorted({row["lut_tool"] for row in measured})
    low = min(measured, key=lambda r: r["lut"])
    high = max(measured, key=lambda r: r["lut"])
    text = (
        f"LUTs at the reference precision {rows[0]['reference_precision']} "
        f"({' and '.join(tools)}): "
        f"from {low['lut']:.0f} ({low['model']}) to {high['lut']:.0f} ({high['model']})"
    )
    ref = _unpruned(measured)
    if ref is not None:
        share = (
            f", {ref['lut_percent']:.2f} % of the part" if ref["lut_percent"] is not None else ""
        )
        text += f"; the unpruned network needs {ref['lut']:.0f}{share}"
        smaller = [r for r in measured if r is not ref and r["lut"] < ref["lut"]]
        larger = [r for r in measured if r is not ref and r["lut"] >= ref["lut"]]
        text += f"; {len(smaller)} of {len(measured) - 1} other models are smaller"
        if larger:
            text += f" ({_names(larger)} are not)"
    return text + ". DSP slices and block RAM: " + _dsp_text(rows) + "."


def _dsp_text(rows: Sequence[dict[str, Any]]) -> str:
    dsp = {row["dsp"] for row in rows}
    bram = {row["bram_18k"] for row in rows}
    if dsp == {0} and bram == {0}:
        return "0 in every design (multiplier-free: constant products as shift-and-add)"
    return (
        f"DSP {sorted(d for d in dsp if d is not None)}, "
        f"BRAM {sorted(b for b in bram if b is not None)}"
    )


def latency_sentence(rows: Sequence[dict[str, Any]]) -> str:
    ref = _unpruned(rows)
    cycles = [row["latency_cycles"] for row in rows if row["latency_cycles"] is not None]
    if not cycles:
        return "No latency is available (the RTL path was disabled)."
    text = f"Pipeline depth at the reference precision: {min(cycles)} to {max(cycles)} clock cycles"
    if ref is not None and ref["latency_cycles"] is not None:
        others = [r for r in rows if r is not ref and r["latency_cycles"] is not None]
        shorter = [r for r in others if r["latency_cycles"] < ref["latency_cycles"]]
        equal = [r for r in others if r["latency_cycles"] == ref["latency_cycles"]]
        longer = [r for r in others if r["latency_cycles"] > ref["latency_cycles"]]
        text += (
            f"; unpruned {ref['latency_cycles']}; of the {len(others)} other models "
            f"{len(shorter)} are shorter, {len(equal)} as long and {len(longer)} longer"
        )
        if shorter:
            text += f" (shorter: {_names(shorter)})"
        if not shorter:
            text += ": pruning does not shorten the pipeline here"
    paths = [r for r in rows if r["longest_path_cells"] is not None]
    if paths:
        deepest = max(paths, key=lambda r: r["longest_path_cells"])
        text += (
            ". Longest combinational path between registers: "
            f"up to {deepest['longest_path_cells']} "
            f"cells ({deepest['model']})"
        )
    return text + ". Latency in ns assumes timing closure at the configured clock (not verified)."


def pareto_sentence(rows: Sequence[dict[str, Any]]) -> str:
    front = sorted((r for r in rows if r["pareto_optimal"]), key=lambda r: r["lut"])
    if not front:
        return "No AUC-vs-LUT Pareto front (no LUT counts)."
    points = ", ".join(
        f"{r['model']} ({r['lut']:.0f} LUT, AUC {r['auc_firmware']:.4f})" for r in front
    )
    return (
        f"AUC-vs-LUT Pareto front at the reference precision (no other model is both smaller and "
        f"better on the test jets): {points}."
    )


def roc_sentence(rows: Sequence[dict[str, Any]]) -> str:
    return loss_sentence(rows)


def summary_sentences(rows: Sequence[dict[str, Any]]) -> list[str]:
    return [
        checks_sentence(rows),
        loss_sentence(rows),
        scan_sentence(rows),
        resources_sentence(rows),
        latency_sentence(rows),
        pareto_sentence(rows),
    ]


#: Findings per figure of the firmware summary (the caption includes them).
PLOT_SENTENCES = {
    "resources_vs_pruning": lambda rows: resources_sentence(rows) + " " + pareto_sentence(rows),
    "latency_vs_pruning": latency_sentence,
    "roc_float_vs_firmware": roc_sentence,
    "precision_scan": scan_sentence,
    "summary": lambda rows: " ".join(summary_sentences(rows)),
}


class CaptionFindings:
    """``{{ snakemake.params.findings.<figure> }}`` in a caption: the figure's findings, read
    from ``summary.csv`` when the report is rendered (empty before the summary exists).

    Its ``repr`` is the path only, so Snakemake's parameter tracking never sees the results.
    """

    def __init__(self, summary_csv: str | Path) -> None:
        self._path = Path(summary_csv)

    def __repr__(self) -> str:
        return f"CaptionFindings({str(self._path)!r})"

    def __getattr__(self, figure: str) -> str:
        if figure.startswith("_") or figure not in PLOT_SENTENCES:
            raise AttributeError(figure)
        if not self._path.is_file():
            return ""
        rows = rows_from_csv(self._path)
        return PLOT_SENTENCES[figure](rows) if rows else ""
