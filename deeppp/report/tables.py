"""Tables and the configuration as HTML pages the report shows inline.

Snakemake's report displays images, HTML and PDF but only offers CSV and YAML for download, so
the stage summaries (``ml/summary.csv``, ``firmware/summary.csv``) and the configuration are
rendered here. Known columns get readable names and formats (a value and its ``_unc`` column
become "value ± uncertainty"); columns a stage adds later are still shown, under their own
name, in a second table, so nothing is silently dropped.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deeppp import DeepppError
from deeppp.atomic import write_text_atomic
from deeppp.contracts import MODEL_FAMILY_LABELS
from deeppp.report import html as h
from deeppp.report.results import model_family

Row = dict[str, str]


@dataclass(frozen=True)
class Column:
    """One shown column: its header (HTML), the CSV columns it uses, and how it prints."""

    header: str
    uses: tuple[str, ...]
    render: Callable[[Row], str]
    css: str = "num"


def read_csv(path: str | Path) -> list[Row]:
    try:
        with Path(path).open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as err:
        raise DeepppError(f"{path}: cannot read the table ({err})") from err
    if not rows:
        raise DeepppError(f"{path}: the table has no rows")
    return rows


def _float(text: str | None) -> float | None:
    if text is None or text.strip() in ("", "None", "nan", "NaN"):
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _num(key: str, decimals: int | None = None) -> Callable[[Row], str]:
    def render(row: Row) -> str:
        value = _float(row.get(key))
        if value is None:
            return h.escape(row.get(key) or "—")
        if decimals is None:
            return h.integer(value) if float(value).is_integer() else f"{value:.4g}"
        return h.value_with_uncertainty(value, None, decimals)

    return render


def _with_unc(key: str, decimals: int | None = None) -> Callable[[Row], str]:
    def render(row: Row) -> str:
        value, unc = _float(row.get(key)), _float(row.get(f"{key}_unc"))
        if value is None or not math.isfinite(value):
            return "no bkg. left" if key.startswith("rejection") else "—"
        return h.value_with_uncertainty(value, unc, decimals)

    return render


def _tools(rows: Sequence[Row], key: str) -> set[str]:
    return {row.get(f"{key}_tool") or "" for row in rows} - {""}


def _with_tool(key: str, rows: Sequence[Row]) -> Callable[[Row], str]:
    """The number, and its tool unless every row has the same one (then the header says it)."""
    uniform = len(_tools(rows, key)) <= 1

    def render(row: Row) -> str:
        value = _float(row.get(key))
        text = h.integer(value) if value is not None else "—"
        tool = row.get(f"{key}_tool") or ""
        if tool and not uniform:
            text += f"<br><span class='muted change'>{h.escape(tool)}</span>"
        return text

    return render


def tools_note(rows: Sequence[Row], keys: Sequence[str] = ("lut", "ff", "dsp")) -> str:
    """ "LUT, FF, DSP: da4ml-estimate." for the columns whose rows all share one tool."""
    uniform: dict[str, list[str]] = {}
    for key in keys:
        tools = _tools(rows, key)
        if len(tools) == 1:
            uniform.setdefault(tools.pop(), []).append(key.upper())
    return " ".join(
        f"{', '.join(k)} counted by {h.escape(t)} for every model." for t, k in uniform.items()
    )


def _pair(first: str, second: str, decimals: int | None = None) -> Callable[[Row], str]:
    """Two numbers in one cell, one above the other."""
    return lambda row: f"{_num(first, decimals)(row)}<br>{_num(second, decimals)(row)}"


def _text(key: str) -> Callable[[Row], str]:
    return lambda row: h.escape(row.get(key, ""))


def _model(row: Row) -> str:
    name = row.get("model", "")
    family = MODEL_FAMILY_LABELS.get(model_family(name), "")
    return f"{h.escape(family)}<br><span class='muted mono'>{h.escape(name)}</span>"


def _efficiency_columns(rows: Sequence[Row], suffix: str = "") -> list[str]:
    """``rejection_50`` ... present in the table (efficiencies come from the data)."""
    keys = [k for k in rows[0] if k.startswith("rejection_") and k.endswith(suffix)]
    return [k for k in keys if k.removesuffix(suffix).removeprefix("rejection_").isdigit()]


def _layout(row: Row) -> str:
    return (
        f"{_num('inputs')(row)} → {h.escape(row.get('nodes_per_layer', ''))}"
        f"<br><span class='muted change'>{_num('hidden_nodes')(row)} hidden</span>"
    )


def ml_columns(rows: Sequence[Row]) -> list[Column]:
    columns = [
        Column("Model", ("model", "kind"), _model, "name"),
        Column(
            "Inputs → nodes per layer",
            ("inputs", "nodes_per_layer", "hidden_nodes"),
            _layout,
        ),
        Column(
            "Multiplications<br><span class='muted change'>parameters</span>",
            ("multiplications", "parameters"),
            lambda r: (
                f"{_num('multiplications')(r)}<br><span class='muted change'>"
                f"{_num('parameters')(r)}</span>"
            ),
        ),
        Column("AUC", ("auc", "auc_unc"), _with_unc("auc", 4)),
    ]
    for key in _efficiency_columns(rows):
        percent = key.removeprefix("rejection_")
        columns.append(
            Column(
                f"1/ε<sub>B</sub> at ε<sub>S</sub> = {percent} %",
                (key, f"{key}_unc"),
                _with_unc(key),
            )
        )
    columns += [
        Column(
            "Epochs<br><span class='muted change'>jet passes</span>",
            ("epochs", "jet_passes"),
            lambda r: (
                f"{_num('epochs')(r)}<br><span class='muted change'>{_num('jet_passes')(r)}</span>"
            ),
        ),
        Column("Wall time (s)", ("wall_time_s",), _num("wall_time_s", 0)),
    ]
    return columns


def firmware_columns(rows: Sequence[Row]) -> list[Column]:
    columns = [
        Column("Model", ("model", "family"), _model, "name"),
        Column(
            "Inputs / hidden",
            ("inputs", "hidden_nodes"),
            lambda r: f"{_num('inputs')(r)} / {_num('hidden_nodes')(r)}",
        ),
        Column(
            "Multiplications<br><span class='muted change'>pruned</span>",
            ("multiplications", "pruned_fraction"),
            lambda r: (
                f"{_num('multiplications')(r)}<br><span class='muted change'>"
                f"{h.percent(_float(r.get('pruned_fraction')))}</span>"
            ),
        ),
        Column(
            "ap_fixed<br>&lt;W,I&gt;",
            ("precision",),
            lambda r: h.escape(r.get("precision", "").removeprefix("ap_fixed")),
        ),
        Column("LUT", ("lut", "lut_tool"), _with_tool("lut", rows)),
        Column("FF", ("ff", "ff_tool"), _with_tool("ff", rows)),
        Column("DSP", ("dsp", "dsp_tool"), _with_tool("dsp", rows)),
        Column(
            "Latency<br><span class='muted change'>cycles / ns</span>",
            ("latency_cycles", "latency_ns", "latency_tool"),
            lambda r: f"{_num('latency_cycles')(r)} / {_num('latency_ns')(r)}",
        ),
        Column(
            "AUC<br><span class='muted change'>float / firmware</span>",
            ("auc_float", "auc_firmware"),
            lambda r: f"{_num('auc_float', 4)(r)}<br>{_num('auc_firmware', 4)(r)}",
        ),
    ]
    for key in _efficiency_columns(rows, "_float"):
        percent = key.removesuffix("_float").removeprefix("rejection_")
        fw_key = key.replace("_float", "_firmware")
        columns.append(
            Column(
                f"1/ε<sub>B</sub> at {percent} %"
                "<br><span class='muted change'>float / firmware</span>",
                (key, fw_key),
                _pair(key, fw_key, 1),
            )
        )
    columns.append(
        Column(
            "Mismatches<br><span class='muted change'>hls4ml / Verilator</span>",
            ("hls4ml_mismatches", "verilator_mismatches"),
            lambda r: (
                f"{_num('hls4ml_mismatches')(r)} / "
                f"{_num('verilator_mismatches')(r) if r.get('verilator_mismatches') else 'not run'}"
            ),
        ),
    )
    return columns


def table_page(
    title: str, intro: str, rows: Sequence[Row], columns: Sequence[Column], note: str = ""
) -> str:
    """The shown columns, then every CSV column they do not use, so none goes missing."""
    present = [c for c in columns if c.uses[0] in rows[0]]
    body = [f"<h1>{h.escape(title)}</h1>", f"<p>{intro}</p>"]
    body.append(
        h.table(
            [c.header for c in present],
            [[c.render(row) for c in present] for row in rows],
            [c.css for c in present],
        )
    )
    if note:
        body.append(f"<p class='note'>{note}</p>")
    used = {key for c in present for key in c.uses}
    rest = [k for k in rows[0] if k not in used]
    if rest:
        body.append("<h2>Further columns</h2>")
        body.append(
            h.table(
                ["model", *(h.escape(k) for k in rest)],
                [
                    [h.escape(row.get("model", "")), *(_raw(row.get(k, "")) for k in rest)]
                    for row in rows
                ],
                ["name"] + ["num"] * len(rest),
            )
        )
    return h.page(title, body)


def _raw(text: str) -> str:
    """A further column's value as written, numbers to four significant digits."""
    value = _float(text)
    return h.escape(text) if value is None or float(value).is_integer() else f"{value:.4g}"


def write_ml_table(csv_path: str | Path, out_html: str | Path) -> None:
    rows = read_csv(csv_path)
    page = table_page(
        "All trained taggers",
        "Every model of this run on the test jets: size, ROC AUC and background rejection "
        "1/ε<sub>B</sub> at fixed signal efficiency ε<sub>S</sub> with their bootstrap standard "
        "deviations, and the training cost (jet passes = jets × epochs).",
        rows,
        ml_columns(rows),
        note="“no bkg. left”: no background jet passes the cut, so 1/ε<sub>B</sub> exceeds what "
        "the test sample can measure. Seed replicas (<span class='mono'>_seed&lt;i&gt;</span>) "
        "and the alternative "
        "hidden layout (<span class='mono'>_alt</span>) serve the stability and input-selection "
        "studies. Wall time is the only column that differs between identical runs.",
    )
    write_text_atomic(out_html, page)


def bit_exactness(rows: Sequence[Row]) -> str:
    """What the bit-exactness columns say, in words, from the numbers (never assumed)."""
    sentences = []
    for key, what in (
        ("hls4ml_mismatches", "the hls4ml emulation"),
        ("verilator_mismatches", "the Verilator simulation of the Verilog"),
    ):
        subject = what[0].upper() + what[1:]
        checked = [r for r in rows if _float(r.get(key)) is not None]
        if not checked:
            sentences.append(f"{subject} was not run for any model.")
            continue
        failing = [r["model"] for r in checked if _float(r.get(key))]
        share = f"{len(checked)} of {len(rows)} models"
        if failing:
            sentences.append(
                f"{subject} differs from the fixed-point reference for "
                f"{h.escape(', '.join(failing))} ({share} checked)."
            )
        else:
            sentences.append(
                f"{subject} agrees bit by bit with the fixed-point reference for all "
                f"{share} checked."
            )
    return " ".join(sentences)


def write_firmware_table(csv_path: str | Path, out_html: str | Path) -> None:
    rows = read_csv(csv_path)
    page = table_page(
        "Firmware of every core model",
        "Each tagger as pipelined Verilog (da4ml) and as an hls4ml project: fixed-point "
        "precision, FPGA resources with the tool that counted them, latency, and the tagging "
        "quality of the bit-accurate firmware beside the float network on the test jets. "
        + bit_exactness(rows),
        rows,
        firmware_columns(rows),
        note="Resources: Yosys synth_xilinx counts where Yosys ran, else the da4ml estimate. "
        + tools_note(rows)
        + " Latency: pipeline stages × clock period, assuming "
        "timing closure. Bit-exact checks count test jets whose hls4ml emulation or Verilator "
        "simulation differs from the fixed-point reference (0 = bit-exact).",
    )
    write_text_atomic(out_html, page)


#: Top-level configuration keys in the order a reader meets them (the workflow's order).
CONFIG_ORDER = ("seed", "results_dir", "generation", "reconstruction", "ml", "firmware", "report")


def config_yaml_text(config: Mapping[str, Any]) -> str:
    """The configuration as YAML: sections in workflow order, keys inside them sorted."""
    import yaml

    ordered = sorted(config, key=lambda k: (CONFIG_ORDER.index(k) if k in CONFIG_ORDER else 99, k))
    return "".join(
        yaml.safe_dump({key: config[key]}, sort_keys=True, default_flow_style=False)
        for key in ordered
    )


def config_page(text: str, digest: str) -> str:
    """The configuration as syntax-highlighted YAML (pygments ships with Snakemake)."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import YamlLexer

    formatter = HtmlFormatter(style="friendly", cssclass="source")
    body = [
        "<h1>Configuration of this run</h1>",
        "<p>The validated configuration exactly as the workflow used it: the given config file "
        "with every omitted key filled in from the schema's defaults. sha256 "
        f"<span class='mono'>{h.escape(digest)}</span>.</p>",
        highlight(text, YamlLexer(), formatter),
    ]
    css = formatter.get_style_defs(".source") + ".source pre{font-size:12.5px;line-height:1.35}"
    return h.page("deeppp configuration", body, extra_css=css)


def write_config_page(config_yaml: str | Path, out_html: str | Path, digest: str) -> None:
    write_text_atomic(out_html, config_page(Path(config_yaml).read_text(), digest))
