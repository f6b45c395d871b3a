"""deeppp's tagger beside published boosted H -> bb figures, written for readers.

``report/atlas_reference.yaml`` holds every published figure with the sentence it was copied
from (schema in its header). This module checks it (each number must appear in its sentence),
then writes for the report:

- ``comparison.html``: deeppp's numbers, every published working point with its conditions and
  the reasons it differs, each quoted sentence once, and what could not be found;
- ``comparison.png``: deeppp's rejection at the measured efficiencies and, in a separate panel
  labelled with *their* conditions, the published multijet working points;
- ``comparison.csv`` / ``comparison.md``: the same numbers as tables;
- ``comparison.json``: the caption facts (numbers the captions state).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deeppp import DeepppError
from deeppp.atomic import write_json_atomic, write_text_atomic
from deeppp.report import html as h
from deeppp.report.captions import rst_safe
from deeppp.report.results import ModelQuality, common_efficiencies, read_model_quality

#: Readable names of the condition keys, in the order the page lists them.
CONDITION_LABELS: dict[str, str] = {
    "energy": "Collision energy",
    "simulation": "Simulation",
    "data": "Data",
    "pileup": "Pile-up",
    "jet_definition": "Jets",
    "jet_pt": "Jet pT",
    "signal": "Signal",
    "background": "Background",
    "working_point": "Working point",
    "inputs": "Tagger inputs",
}
#: Colours of deeppp's models in the comparison figure: the ml stage's scheme per method
#: (Okabe-Ito; unpruned black, AutoPruner vermillion) -- to be read from deeppp.plotting once
#: that module holds the shared per-method scheme. Budgets of one method differ by marker.
MODEL_COLOURS = {"unpruned": "#000000", "autopruner": "#D55E00"}
OTHER_COLOURS = ("#0072B2", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#999999")
BUDGET_MARKERS = ("o", "s", "^", "D", "v", "P", "X")
#: Published points: a colour no deeppp method uses.
PUBLISHED_COLOUR = "#F0E442"
#: The background deeppp has: only published points against it are drawn beside deeppp's.
DEEPPP_BACKGROUND = "multijet"
BACKGROUND_LABELS = {"multijet": "multijet (QCD)", "top": "top-quark jets"}


@dataclass(frozen=True)
class PublishedPoint:
    signal_efficiency: float
    background_rejection: float
    background: str
    where: str
    quote: str  # key into Reference.quotes


@dataclass(frozen=True)
class OtherFigure:
    statement: str
    where: str
    quote: str | None


@dataclass(frozen=True)
class Reference:
    id: str
    short: str
    tagger: str
    citation: str
    url: str | None
    conditions: dict[str, str]
    quotes: dict[str, str]
    points: list[PublishedPoint]
    other_figures: list[OtherFigure]
    not_found: str | None
    differences: list[str]

    @property
    def energy(self) -> str:
        """Leading "13 TeV" of the energy condition ("" when not stated)."""
        match = re.match(r"\s*(\d+(?:\.\d+)?)\s*TeV", self.conditions.get("energy", ""))
        return f"{match[1]} TeV" if match else ""


@dataclass(frozen=True)
class ReferenceBook:
    deeppp: dict[str, str]
    references: list[Reference] = field(default_factory=list)


def _number_forms(value: float) -> set[str]:
    text = f"{value:g}"
    return {text, f"{value:,.0f}" if value >= 1000 else text}


def _percent_forms(fraction: float) -> set[str]:
    p = f"{100 * fraction:g}"
    return {f"{p}%", f"{p} %", f"{p}\\%", f"{p} per cent", f"{p}~\\%"}


def load_references(path: str | Path) -> ReferenceBook:
    """Read and check the published figures: known keys, every quote present, every number in
    its sentence. Raises :class:`DeepppError` naming the file and the entry."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text())
        entries = document["references"]
        deeppp = {str(k): str(v) for k, v in (document.get("deeppp") or {}).items()}
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as err:
        raise DeepppError(f"{path}: cannot read the published reference figures ({err})") from err
    references = []
    seen: set[str] = set()
    for entry in entries:
        where = f"{path}: reference {entry.get('id', '?')!r}"
        for key in ("id", "short", "citation"):
            if not entry.get(key):
                raise DeepppError(f"{where} lacks '{key}'")
        if entry["id"] in seen:
            raise DeepppError(f"{where} appears twice")
        seen.add(entry["id"])
        conditions = {str(k): str(v) for k, v in (entry.get("conditions") or {}).items()}
        unknown = set(conditions) - set(CONDITION_LABELS) - set(deeppp)
        if unknown:
            raise DeepppError(f"{where}: unknown condition key(s) {sorted(unknown)}")
        quotes = {str(k): str(v) for k, v in (entry.get("quotes") or {}).items()}
        points = []
        for value in entry.get("points") or []:
            quote_key = value.get("quote")
            if quote_key not in quotes:
                raise DeepppError(f"{where}: a figure without its quoted source ({quote_key!r})")
            point = PublishedPoint(
                signal_efficiency=float(value["signal_efficiency"]),
                background_rejection=float(value["background_rejection"]),
                background=str(value.get("background", "")),
                where=str(value.get("where", "")),
                quote=str(quote_key),
            )
            sentence = quotes[point.quote].replace(",", "")
            if not any(form in sentence for form in _number_forms(point.background_rejection)):
                raise DeepppError(
                    f"{where}: rejection {point.background_rejection:g} is not in its quote"
                )
            if not any(form in sentence for form in _percent_forms(point.signal_efficiency)):
                raise DeepppError(
                    f"{where}: efficiency {point.signal_efficiency:g} is not in its quote"
                )
            points.append(point)
        others = []
        for other in entry.get("other_figures") or []:
            quote_key = other.get("quote")
            if quote_key is not None and quote_key not in quotes:
                raise DeepppError(f"{where}: a figure without its quoted source ({quote_key!r})")
            others.append(
                OtherFigure(str(other["statement"]), str(other.get("where", "")), quote_key)
            )
        used = {p.quote for p in points} | {o.quote for o in others if o.quote}
        if set(quotes) - used:
            raise DeepppError(f"{where}: quote(s) {sorted(set(quotes) - used)} support no figure")
        references.append(
            Reference(
                id=str(entry["id"]),
                short=str(entry["short"]),
                tagger=" ".join(str(entry.get("tagger", "")).split()),
                citation=" ".join(str(entry["citation"]).split()),
                url=entry.get("url"),
                conditions=conditions,
                quotes=quotes,
                points=points,
                other_figures=others,
                not_found=" ".join(str(entry["not_found"]).split())
                if entry.get("not_found")
                else None,
                differences=[str(d) for d in entry.get("differences") or []],
            )
        )
    return ReferenceBook(deeppp, references)


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def _model_title(m: ModelQuality) -> str:
    if m.family == "unpruned":
        return "unpruned"
    return f"{m.family_label}, {m.hidden_nodes} hidden nodes" if m.hidden_nodes else m.name


def _rejection_text(m: ModelQuality, percent: int) -> str:
    r = m.rejection.get(percent)
    if r is None:
        return "—"
    if not r.is_finite:
        return "beyond the test sample (no background jet passes)"
    return h.value_with_uncertainty(r.value, r.uncertainty)


def table_rows(models: Sequence[ModelQuality], book: ReferenceBook) -> list[dict[str, str]]:
    """One row per deeppp model and per published working point, with human column names."""
    efficiencies = common_efficiencies(models)
    rows = []
    for m in models:
        row = {
            "Source": f"deeppp: {_model_title(m)}",
            "Background": BACKGROUND_LABELS[DEEPPP_BACKGROUND],
            "AUC": h.value_with_uncertainty(m.auc.value, m.auc.uncertainty, 4),
            "Conditions": "14 TeV, fast simulation, no pile-up",
        }
        for percent in efficiencies:
            row[f"1/eps_B at eps_S = {percent} %"] = _rejection_text(m, percent)
        rows.append(row)
    for reference in book.references:
        for point in reference.points:
            row = {
                "Source": reference.short,
                "Background": BACKGROUND_LABELS.get(point.background, point.background),
                "AUC": "not published",
                "Conditions": _short_conditions(reference),
            }
            percent = round(point.signal_efficiency * 100)
            row[f"1/eps_B at eps_S = {percent} %"] = f"{point.background_rejection:g}"
            rows.append(row)
    return rows


def _short_conditions(reference: Reference) -> str:
    parts = [reference.energy or "energy not stated"]
    simulation = reference.conditions.get("simulation", "")
    if "full" in simulation.lower():
        parts.append("full simulation")
    pileup = reference.conditions.get("pileup", "")
    if pileup.lower().startswith(("run-2 pile-up", "with pile-up", "inherent")):
        parts.append("pile-up")
    return ", ".join(parts)


def table_columns(rows: Sequence[Mapping[str, str]]) -> list[str]:
    rejection = sorted(
        {k for row in rows for k in row if k.startswith("1/eps_B")},
        key=lambda k: int(re.findall(r"\d+", k)[0]),
    )
    return ["Source", "Background", "AUC", *rejection, "Conditions"]


def write_tables(rows: Sequence[Mapping[str, str]], csv_path: Path, markdown_path: Path) -> None:
    columns = table_columns(rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(csv_path, buffer.getvalue())
    header = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    body = "".join("| " + " | ".join(row.get(c, "") for c in columns) + " |\n" for row in rows)
    write_text_atomic(markdown_path, header + body)


# --------------------------------------------------------------------------------------------
# Figure
# --------------------------------------------------------------------------------------------


def _plotted_points(book: ReferenceBook) -> dict[str, list[tuple[Reference, PublishedPoint]]]:
    """Published points against deeppp's background, grouped by collision energy."""
    groups: dict[str, list[tuple[Reference, PublishedPoint]]] = {}
    for reference in book.references:
        for point in reference.points:
            if point.background == DEEPPP_BACKGROUND:
                groups.setdefault(reference.energy or "energy not stated", []).append(
                    (reference, point)
                )
    return groups


def plot_comparison(models: Sequence[ModelQuality], book: ReferenceBook, out_png: Path) -> None:
    """deeppp's panel, and one panel per collision energy of published multijet points, each
    labelled with its own conditions and sharing the rejection axis."""
    import matplotlib.pyplot as plt

    from deeppp.plotting import experiment_label, use_style

    use_style()
    groups = _plotted_points(book)
    n_panels = 1 + len(groups)
    fig, axes = plt.subplots(
        1,
        n_panels,
        figsize=(4.6 * n_panels + 0.6, 5.0),
        sharey=True,
        squeeze=False,
        gridspec_kw={"wspace": 0.08},
    )
    ours = axes[0][0]
    efficiencies = common_efficiencies(models)
    others = sorted({m.family for m in models} - set(MODEL_COLOURS))
    budget_rank: dict[str, int] = {}
    all_values: list[float] = []
    for m in models:
        rank = budget_rank.get(m.family, 0)
        budget_rank[m.family] = rank + 1
        colour = (
            MODEL_COLOURS.get(m.family)
            or OTHER_COLOURS[others.index(m.family) % len(OTHER_COLOURS)]
        )
        marker = "*" if m.family == "unpruned" else BUDGET_MARKERS[rank % len(BUDGET_MARKERS)]
        xs, ys, errors = [], [], []
        for percent in efficiencies:
            r = m.rejection[percent]
            if r.is_finite:
                xs.append(percent / 100)
                ys.append(float(r.value))  # type: ignore[arg-type]
                errors.append(r.uncertainty or 0.0)
        all_values += ys
        ours.errorbar(
            xs,
            ys,
            yerr=errors,
            capsize=3,
            markersize=10 if marker == "*" else 6,
            lw=1.2,
            color=colour,
            marker=marker,
            linestyle="-" if m.family == "unpruned" else "--",
            label=_model_title(m),
        )
    ours.set_yscale("log")
    ours.set_xlabel(r"Signal efficiency $\varepsilon_S$")
    ours.set_ylabel(r"Background rejection $1/\varepsilon_B$")
    ours.legend(fontsize=8.5, loc="upper right", frameon=False)
    experiment_label(ours, rlabel="", fontsize=12)
    ours.text(
        0.03,
        0.86,
        "√s = 14 TeV, no pile-up\nQCD multijet",
        transform=ours.transAxes,
        fontsize=9.5,
        va="top",
    )
    markers = iter("*DPXsv^")
    for ax, (energy, points) in zip(axes[0][1:], groups.items(), strict=True):
        for reference, point in points:
            ax.plot(
                [point.signal_efficiency],
                [point.background_rejection],
                linestyle="none",
                marker=next(markers, "*"),
                markersize=13,
                markeredgecolor="black",
                color=PUBLISHED_COLOUR,
                label=f"{reference.short}",
            )
            all_values.append(point.background_rejection)
        ax.set_xlabel(r"Signal efficiency $\varepsilon_S$")
        ax.text(
            0.03,
            0.97,
            f"Published, √s = {energy}\nATLAS simulation with pile-up\nmultijet background",
            transform=ax.transAxes,
            fontsize=9.5,
            va="top",
        )
        ax.legend(fontsize=8.5, loc="upper right", frameon=False)
    if all_values:
        low, high = min(all_values), max(all_values)
        axes[0][0].set_ylim(max(1.0, low / 3), high * 10)
    for ax in axes[0]:
        # ticks inside the range only: neighbouring panels' end labels would run together
        ax.set_xlim(0.4, 0.8)
        ax.set_xticks([0.5, 0.6, 0.7])
    from deeppp.plotting import save

    fig.tight_layout()
    save(fig, out_png)


# --------------------------------------------------------------------------------------------
# Page
# --------------------------------------------------------------------------------------------


def _conditions_list(conditions: Mapping[str, str]) -> str:
    items = [
        (h.escape(label), h.escape(conditions[key]))
        for key, label in CONDITION_LABELS.items()
        if key in conditions
    ]
    return h.definition_list(items)


def write_page(models: Sequence[ModelQuality], book: ReferenceBook, out_html: Path) -> None:
    efficiencies = common_efficiencies(models)
    unpruned = next((m for m in models if m.family == "unpruned"), models[0] if models else None)
    body = [
        "<h1>deeppp beside published boosted H → b b̄ taggers</h1>",
        "<p>Background rejection 1/ε<sub>B</sub> (the inverse of the fraction of background jets "
        "the tagger keeps) at fixed signal efficiency ε<sub>S</sub>, and the area under the ROC "
        "curve (AUC), of deeppp's taggers on its test jets, beside the figures that published "
        "studies state in their text. The set-ups differ in collision energy, pile-up, detector "
        "simulation, background and tagger inputs, so read the published numbers as orders of "
        "magnitude that place deeppp, not as a target.</p>",
        "<h2>deeppp</h2>",
        _conditions_list(book.deeppp),
    ]
    header = ["Tagger", "AUC"] + [f"1/ε<sub>B</sub> at ε<sub>S</sub> = {p} %" for p in efficiencies]
    body.append(
        h.table(
            header,
            [
                [
                    h.escape(_model_title(m)),
                    h.value_with_uncertainty(m.auc.value, m.auc.uncertainty, 4),
                ]
                + [h.escape(_rejection_text(m, p)) for p in efficiencies]
                for m in models
            ],
            ["name", "num"] + ["num"] * len(efficiencies),
            caption="Uncertainties: bootstrap standard deviation over the test jets.",
        )
    )
    body.append("<h2>Published working points</h2>")
    published = [(r, p) for r in book.references for p in r.points]
    if published:
        rows = []
        for reference, point in published:
            percent = round(point.signal_efficiency * 100)
            ours = (
                h.escape(_rejection_text(unpruned, percent))
                if unpruned is not None and percent in unpruned.rejection
                else "not computed at this efficiency"
            )
            rows.append(
                [
                    h.escape(reference.short),
                    f"{percent} %",
                    f"{point.background_rejection:g}",
                    h.escape(BACKGROUND_LABELS.get(point.background, point.background)),
                    h.escape(_short_conditions(reference)),
                    ours
                    if point.background == DEEPPP_BACKGROUND
                    else "no top background in deeppp",
                ]
            )
        body.append(
            h.table(
                [
                    "Publication",
                    "ε<sub>S</sub>",
                    "1/ε<sub>B</sub>",
                    "Background",
                    "Conditions",
                    "deeppp unpruned at this ε<sub>S</sub>",
                ],
                rows,
                ["name", "num", "num", "name", "text", "num"],
            )
        )
    else:
        body.append("<p>No published efficiency/rejection pair could be retrieved.</p>")
    missing = [r for r in book.references if not r.points]
    if missing:
        body.append(
            "<p>No working point could be found in the retrievable text of: "
            + "; ".join(h.escape(r.short) for r in missing)
            + ". Each section below says what is missing.</p>"
        )
    body.append("<h2>The publications</h2>")
    for reference in book.references:
        body.append(f"<h3>{h.escape(reference.short)}</h3>")
        link = (
            f" <a href='{h.escape(reference.url)}' target='_blank' rel='noopener'>link</a>"
            if reference.url
            else ""
        )
        body.append(f"<p>{h.escape(reference.citation)}{link}</p>")
        if reference.tagger:
            body.append(f"<p><b>Tagger.</b> {h.escape(reference.tagger)}</p>")
        if reference.conditions:
            body.append(_conditions_list(reference.conditions))
        shown_quotes: set[str] = set()
        figures: dict[str, list[str]] = {}
        for point in reference.points:
            figures.setdefault(point.quote, []).append(
                f"ε<sub>S</sub> = {round(point.signal_efficiency * 100)} %: "
                f"1/ε<sub>B</sub> = {point.background_rejection:g} "
                f"({h.escape(BACKGROUND_LABELS.get(point.background, point.background))}; "
                f"{h.escape(point.where)})"
            )
        for other in reference.other_figures:
            figures.setdefault(other.quote or "", []).append(
                f"{h.escape(other.statement)} ({h.escape(other.where)})"
            )
        for quote_key, lines in figures.items():
            body.append("<ul>" + "".join(f"<li>{line}</li>" for line in lines) + "</ul>")
            if quote_key and quote_key not in shown_quotes:
                shown_quotes.add(quote_key)
                body.append(
                    f"<blockquote>{h.text_with_math(reference.quotes[quote_key])}</blockquote>"
                )
        if reference.not_found:
            body.append(f"<p><b>Not found.</b> {h.escape(reference.not_found)}</p>")
        if reference.differences:
            body.append(
                "<p><b>Why it differs from deeppp.</b></p><ul>"
                + "".join(f"<li>{h.escape(d)}</li>" for d in reference.differences)
                + "</ul>"
            )
    write_text_atomic(out_html, h.page("deeppp beside published taggers", body))


def caption_facts(models: Sequence[ModelQuality], book: ReferenceBook) -> dict[str, Any]:
    """The numbers the comparison captions state (see deeppp.report.captions)."""
    unpruned = next((m for m in models if m.family == "unpruned"), None)
    facts: dict[str, Any] = {
        "n_models": len(models),
        "efficiencies": common_efficiencies(models),
        "n_published_points": sum(len(r.points) for r in book.references),
        "n_plotted_points": sum(len(v) for v in _plotted_points(book).values()),
        "publications_without_points": [r.short for r in book.references if not r.points],
    }
    if unpruned is not None:
        facts["unpruned_auc"] = h.value_with_uncertainty(
            unpruned.auc.value, unpruned.auc.uncertainty, 4
        )
        facts["unpruned_rejection"] = {
            str(p): _rejection_text(unpruned, p) for p in common_efficiencies(models)
        }
    facts["published"] = [
        {
            "source": r.short,
            "efficiency_percent": round(p.signal_efficiency * 100),
            "rejection": f"{p.background_rejection:g}",
            "background": BACKGROUND_LABELS.get(p.background, p.background),
            "conditions": _short_conditions(r),
        }
        for r in book.references
        for p in r.points
    ]
    return facts


def build_comparison(
    metrics_paths: Sequence[str | Path], reference_path: str | Path, out_dir: str | Path
) -> list[dict[str, str]]:
    """Write comparison.{html,png,csv,md,json} into ``out_dir``; return the table rows."""
    out = Path(out_dir)
    models = [read_model_quality(p) for p in metrics_paths]
    book = load_references(reference_path)
    rows = table_rows(models, book)
    write_tables(rows, out / "comparison.csv", out / "comparison.md")
    plot_comparison(models, book, out / "comparison.png")
    write_page(models, book, out / "comparison.html")
    write_json_atomic(out / "comparison.json", {"caption": rst_safe(caption_facts(models, book))})
    return rows


__all__ = [
    "CONDITION_LABELS",
    "ReferenceBook",
    "build_comparison",
    "load_references",
    "plot_comparison",
    "table_rows",
    "write_page",
]
