"""The report layer: this project's tagger figures beside published ATLAS(-like) ones.

``python -m deeppp.report comparison`` reads the ml stage's ``metrics.json`` of the chosen
models and ``report/atlas_reference.yaml`` (published figures, each with its citation and the
quoted sentence it was copied from) and writes a PNG, a CSV/Markdown table and an HTML page for
the Snakemake report. The page states where the setups differ: a number published for 13 TeV
full simulation with pile-up is context, not a target.
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from deeppp import DeepppError
from deeppp.atomic import atomic_outputs
from deeppp.cli import OneLineArgumentParser, run_cli

PROG = "python -m deeppp.report"
#: ``rejection_50`` -> eps_S = 0.50: the working points are those of the metrics files
#: (``ml.signal_efficiencies``), not a fixed list.
_REJECTION_KEY = re.compile(r"^rejection_(\d{1,3})$")

GENERIC_DIFFERENCES = (
    "No pile-up: ATLAS Run-2 samples carry ~30-40 simultaneous pp interactions, deeppp none.",
    "Simplified detector: parametrised tracking and calorimeter response (docs/detector.md); no "
    "Geant4, no material interactions, no fake tracks, no V0 decays in the tracker -- light-jet "
    "impact parameters are therefore cleaner than in ATLAS and b-tagging looks optimistic.",
    "14 TeV (HL-LHC) Pythia 8 samples versus 13 TeV Run-2 ATLAS simulation.",
    "Signal: g b -> H b with H -> b bbar only; background: QCD multijets only (no top quarks).",
    "Inputs: 39 high-level features of the ICHEP 2022 study, not tracks or track-jet b-tagging "
    "discriminants trained on millions of jets.",
)


@dataclass(frozen=True)
class ModelFigures:
    """Test-set figures of one of our models, from its ``metrics.json``."""

    name: str
    auc: float
    auc_error: float
    #: eps_S -> (1/eps_B, uncertainty); inf when no background passes, nan for no uncertainty
    rejection: dict[float, tuple[float, float]]
    hidden_nodes: int | None
    multiplications: int | None
    n_test_jets: int | None


def load_model_figures(metrics_path: Path) -> ModelFigures:
    try:
        metrics = json.loads(metrics_path.read_text())
        test = metrics["test"]
        # The ml stage writes null for an infinite rejection (no background left above the cut)
        # and for an uncertainty it could not estimate.
        rejection = {
            int(match[1]) / 100: (
                math.inf if entry["value"] is None else float(entry["value"]),
                math.nan if entry.get("uncertainty") is None else float(entry["uncertainty"]),
            )
            for key, entry in test.items()
            if (match := _REJECTION_KEY.match(key))
        }
        if not rejection:
            raise KeyError("no rejection_<eps_S> figures in 'test'")
        return ModelFigures(
            name=str(metrics["model"]),
            auc=float(test["auc"]["value"]),
            auc_error=float(test["auc"]["uncertainty"]),
            rejection=rejection,
            hidden_nodes=metrics.get("hidden_nodes"),
            multiplications=metrics.get("multiplications"),
            n_test_jets=test.get("n_jets"),
        )
    except FileNotFoundError as err:
        raise DeepppError(f"{metrics_path}: metrics file does not exist") from err
    except OSError as err:
        raise DeepppError(f"{metrics_path}: cannot read ({err.strerror or err})") from err
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise DeepppError(
            f"{metrics_path}: not an ml metrics file ({type(err).__name__}: {err})"
        ) from err


def load_references(path: Path) -> list[dict[str, Any]]:
    """References from the YAML, keeping only efficiency/rejection pairs as plottable values."""
    try:
        document = yaml.safe_load(path.read_text())
        references = document["references"]
    except (OSError, ValueError, yaml.YAMLError, KeyError, TypeError) as err:
        reason = " ".join(str(err).split())
        raise DeepppError(
            f"{path}: cannot read the published reference figures ({reason})"
        ) from err
    if not isinstance(references, list) or not all(isinstance(r, dict) for r in references):
        raise DeepppError(f"{path}: 'references' must be a list of mappings")
    for reference in references:
        for key in ("id", "citation"):
            if key not in reference:
                raise DeepppError(f"{path}: a reference lacks '{key}'")
        values = reference.get("values") or []
        if not isinstance(values, list) or not all(isinstance(v, dict) for v in values):
            raise DeepppError(f"{path}: {reference['id']}: 'values' must be a list of mappings")
        pairs = []
        for value in values:
            if "signal_efficiency" in value and "background_rejection" in value:
                if "quote" not in value:
                    raise DeepppError(
                        f"{path}: {reference['id']}: a figure without its quoted source"
                    )
                numbers = (value["signal_efficiency"], value["background_rejection"])
                if not all(
                    isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
                    for x in numbers
                ):
                    raise DeepppError(
                        f"{path}: {reference['id']}: signal_efficiency and background_rejection "
                        f"must be finite numbers, got {numbers}"
                    )
                pairs.append(value)
        reference["rejection_points"] = pairs
    return references


def efficiencies_of(models: list[ModelFigures]) -> list[float]:
    """The working points of the table and plot: every eps_S any of the models reports."""
    return sorted({eff for m in models for eff in m.rejection})


def rejection_column(eff: float) -> str:
    return f"rejection_{round(eff * 100)}"


def table_columns(efficiencies: list[float]) -> list[str]:
    return [
        "source",
        "background",
        "auc",
        *(rejection_column(e) for e in efficiencies),
        "conditions",
    ]


def comparison_rows(
    models: list[ModelFigures], references: list[dict[str, Any]]
) -> list[dict[str, str]]:
    """One table for both: our models first, then every published efficiency/rejection pair."""
    efficiencies = efficiencies_of(models)
    rows = []
    for m in models:
        row = {
            "source": f"deeppp: {m.name}",
            "background": "QCD multijet",
            "auc": f"{m.auc:.4f} ± {m.auc_error:.4f}",
            "conditions": "14 TeV, fast sim., no pile-up",
        }
        for eff, (value, error) in m.rejection.items():
            row[rejection_column(eff)] = _format_rejection(value, error)
        rows.append(row)
    for reference in references:
        for point in reference["rejection_points"]:
            eff = float(point["signal_efficiency"])
            row = {
                "source": f"{reference['id']} ({reference.get('tagger', '')})",
                "background": str(point.get("background", "")),
                "auc": "not published",
                "conditions": _published_conditions(reference),
            }
            for target in efficiencies:
                cell = f"{point['background_rejection']:g}" if math.isclose(eff, target) else ""
                row[rejection_column(target)] = cell
            rows.append(row)
    return rows


def _published_conditions(reference: dict[str, Any]) -> str:
    """The conditions as the reference file states them (it says where the text was silent)."""
    conditions = reference.get("conditions") or {}
    keys = ("sqrt_s_tev", "pileup", "simulation", "jet_pt_gev")
    return "; ".join(f"{key}: {conditions[key]}" for key in keys if key in conditions)


def _format_rejection(value: float, error: float) -> str:
    if not math.isfinite(value):
        return "> test-sample size (no background passes)"
    return f"{value:.1f} ± {error:.1f}" if math.isfinite(error) else f"{value:.1f} ± n/a"


def table_texts(rows: list[dict[str, str]], columns: list[str]) -> tuple[str, str]:
    """(CSV, Markdown) of the comparison table."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    header = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    body = "".join("| " + " | ".join(row.get(c, "") for c in columns) + " |\n" for row in rows)
    return buffer.getvalue(), header + body


def plot_comparison(
    models: list[ModelFigures], references: list[dict[str, Any]], out_png: Path
) -> None:
    import matplotlib.pyplot as plt

    from deeppp.plotting import experiment_label, use_style

    use_style()
    fig, ax = plt.subplots(figsize=(8, 6))
    for m in models:
        # an infinite rejection (no background passes) has no place on the axis: left out
        points = sorted((e, v, err) for e, (v, err) in m.rejection.items() if math.isfinite(v))
        ax.errorbar(
            [p[0] for p in points],
            [p[1] for p in points],
            yerr=[p[2] if math.isfinite(p[2]) else 0.0 for p in points],
            marker="o",
            capsize=3,
            label=f"deeppp {m.name}",
        )
    markers = iter("*^sPXD")
    for reference in references:
        points = reference["rejection_points"]
        if not points:
            continue
        marker = next(markers, "*")
        # deeppp's background is QCD multijets: a top-jet rejection has no counterpart in the plot
        for background in sorted({str(p.get("background", "")) for p in points} & {"multijet"}):
            chosen = [p for p in points if str(p.get("background", "")) == background]
            ax.plot(
                [float(p["signal_efficiency"]) for p in chosen],
                [float(p["background_rejection"]) for p in chosen],
                linestyle="none",
                marker=marker,
                markersize=14,
                markeredgecolor="black",
                zorder=5,
                label=f"{reference['id']} ({background}, published)",
            )
    ax.set_yscale("log")
    efficiencies = efficiencies_of(models) or [0.5]
    ax.set_xlim(min(0.4, min(efficiencies) - 0.05), max(0.8, max(efficiencies) + 0.05))
    ax.set_xlabel("signal efficiency $\\varepsilon_S$")
    ax.set_ylabel("background rejection $1/\\varepsilon_B$")
    ax.text(
        0.02,
        0.02,
        "different setups: see the comparison table",
        transform=ax.transAxes,
        fontsize=10,
    )
    ax.legend(fontsize=9, loc="upper right")
    experiment_label(ax, fontsize=13)
    fig.savefig(out_png, dpi=110, format="png", metadata={"Software": None})
    plt.close(fig)


def html_page(
    rows: list[dict[str, str]], references: list[dict[str, Any]], columns: list[str]
) -> str:
    """A self-contained page: the table, the differences, and every citation with its quote."""
    e = html.escape
    working_points = "/".join(
        c.removeprefix("rejection_") for c in columns if c.startswith("rejection_")
    )
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>deeppp vs published</title>",
        "<style>body{font-family:sans-serif;max-width:70em}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:3px 6px}blockquote{color:#444}</style></head><body>",
        "<h1>deeppp tagger versus published ATLAS(-like) figures</h1>",
        f"<p>Background rejection 1/&epsilon;<sub>B</sub> at signal efficiency {working_points} % and ROC AUC on "
        "deeppp's test set (uncertainties: bootstrap), beside published figures copied from the cited "
        "texts. The setups differ; read the published numbers as context, not as a target.</p>",
        "<table><tr>" + "".join(f"<th>{e(c)}</th>" for c in columns) + "</tr>",
    ]
    parts += [
        "<tr>" + "".join(f"<td>{e(row.get(c, ''))}</td>" for c in columns) + "</tr>" for row in rows
    ]
    parts += ["</table>", "<h2>Where the setups differ</h2><ul>"]
    parts += [f"<li>{e(d)}</li>" for d in GENERIC_DIFFERENCES]
    parts += ["</ul>", "<h2>References</h2>"]
    for reference in references:
        parts.append(f"<h3>{e(reference['id'])}</h3><p>{e(str(reference['citation']))}")
        if reference.get("url"):
            parts.append(f" <a href='{e(reference['url'])}'>{e(reference['url'])}</a>")
        parts.append("</p>")
        for point in reference["rejection_points"]:
            parts.append(
                f"<p>&epsilon;<sub>S</sub> = {point['signal_efficiency']}: 1/&epsilon;<sub>B</sub> = "
                f"{point['background_rejection']} ({e(str(point.get('background', '')))}; "
                f"{e(str(point.get('where', '')))})</p><blockquote>{e(str(point['quote']))}</blockquote>"
            )
        if not reference["rejection_points"]:
            parts.append(
                f"<p><i>No efficiency/rejection figure retrieved: {e(str(reference.get('note', '')))}</i></p>"
            )
        differences = reference.get("differences_from_deeppp") or []
        if differences:
            parts.append("<ul>" + "".join(f"<li>{e(str(d))}</li>" for d in differences) + "</ul>")
    parts.append("</body></html>\n")
    return "".join(parts)


def build_comparison(
    metrics_paths: list[Path], reference_path: Path, out_dir: Path
) -> list[dict[str, str]]:
    """Write comparison.{png,csv,md,html} into ``out_dir`` (all four or none); return the rows."""
    models = [load_model_figures(p) for p in metrics_paths]
    references = load_references(reference_path)
    rows = comparison_rows(models, references)
    columns = table_columns(efficiencies_of(models))
    csv_text, markdown = table_texts(rows, columns)
    names = ("comparison.png", "comparison.csv", "comparison.md", "comparison.html")
    with atomic_outputs([out_dir / name for name in names]) as (png, csv_path, md_path, page):
        plot_comparison(models, references, png)
        csv_path.write_text(csv_text)
        md_path.write_text(markdown)
        page.write_text(html_page(rows, references, columns))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = OneLineArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    comparison = sub.add_parser("comparison", help="deeppp figures beside published ATLAS ones")
    comparison.add_argument(
        "--metrics",
        nargs="+",
        type=Path,
        required=True,
        help="metrics.json of the models to show (ml stage)",
    )
    comparison.add_argument("--reference", type=Path, default=Path("report/atlas_reference.yaml"))
    comparison.add_argument("--out-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    rows = build_comparison(args.metrics, args.reference, args.out_dir)
    print(f"comparison: {len(rows)} rows -> {args.out_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, PROG))
