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
import dataclasses
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deeppp import DeepppError
from deeppp.atomic import atomic_outputs
from deeppp.report import html as h
from deeppp.report.captions import rst_safe
from deeppp.report.results import (
    BTagging,
    ModelQuality,
    all_efficiencies,
    json_text,
    read_model_quality,
)

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
#: deeppp's models take the colour of their method from ``deeppp.plotting.family_style`` (the
#: scheme of every stage's figures); budgets of one method differ by marker.
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


#: Keys of one publication in the reference file (schema in its header).
REFERENCE_KEYS = frozenset(
    {
        "id",
        "short",
        "tagger",
        "citation",
        "url",
        "conditions",
        "quotes",
        "points",
        "other_figures",
        "not_found",
        "differences",
        "maintainer",
    }
)
POINT_KEYS = frozenset(
    {"signal_efficiency", "background_rejection", "background", "where", "quote"}
)


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DeepppError(f"{what} must be a mapping")
    return value


def _mappings(value: Any, what: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise DeepppError(f"{what} must be a list of mappings")
    return value


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def load_references(path: str | Path) -> ReferenceBook:
    """Read and check the published figures: known keys, every quote present, every number in
    its sentence. Raises :class:`DeepppError` naming the file and the entry."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, ValueError, yaml.YAMLError) as err:
        reason = " ".join(str(err).split())
        raise DeepppError(
            f"{path}: cannot read the published reference figures ({reason})"
        ) from err
    document = _mapping(document, f"{path}: the file")
    entries = _mappings(document.get("references"), f"{path}: 'references'")
    deeppp = {
        str(k): str(v) for k, v in _mapping(document.get("deeppp"), f"{path}: 'deeppp'").items()
    }
    references = []
    seen: set[str] = set()
    for entry in entries:
        where = f"{path}: reference {entry.get('id', '?')!r}"
        unknown_keys = set(entry) - REFERENCE_KEYS
        if unknown_keys:
            raise DeepppError(f"{where}: unknown key(s) {sorted(unknown_keys)}")
        for key in ("id", "short", "citation"):
            if not entry.get(key):
                raise DeepppError(f"{where} lacks '{key}'")
        if entry["id"] in seen:
            raise DeepppError(f"{where} appears twice")
        seen.add(entry["id"])
        conditions = {
            str(k): str(v)
            for k, v in _mapping(entry.get("conditions"), f"{where}: 'conditions'").items()
        }
        unknown = set(conditions) - set(CONDITION_LABELS) - set(deeppp)
        if unknown:
            raise DeepppError(f"{where}: unknown condition key(s) {sorted(unknown)}")
        quotes = {
            str(k): str(v) for k, v in _mapping(entry.get("quotes"), f"{where}: 'quotes'").items()
        }
        points = []
        for value in _mappings(entry.get("points"), f"{where}: 'points'"):
            if set(value) - POINT_KEYS:
                raise DeepppError(
                    f"{where}: unknown point key(s) {sorted(set(value) - POINT_KEYS)}"
                )
            quote_key = value.get("quote")
            if quote_key not in quotes:
                raise DeepppError(f"{where}: a figure without its quoted source ({quote_key!r})")
            numbers = (value.get("signal_efficiency"), value.get("background_rejection"))
            if not all(_finite(x) for x in numbers):
                raise DeepppError(
                    f"{where}: signal_efficiency and background_rejection must be finite numbers, "
                    f"got {numbers}"
                )
            point = PublishedPoint(
                signal_efficiency=float(numbers[0]),  # type: ignore[arg-type]
                background_rejection=float(numbers[1]),  # type: ignore[arg-type]
                background=str(value.get("background", "")),
                where=str(value.get("where", "")),
                quote=str(quote_key),
            )
            if not 0 < point.signal_efficiency < 1 or point.background_rejection < 1:
                raise DeepppError(
                    f"{where}: need 0 < signal_efficiency < 1 and background_rejection >= 1, got "
                    f"{numbers}"
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
        for other in _mappings(entry.get("other_figures"), f"{where}: 'other_figures'"):
            quote_key = other.get("quote")
            if quote_key is not None and quote_key not in quotes:
                raise DeepppError(f"{where}: a figure without its quoted source ({quote_key!r})")
            if not other.get("statement"):
                raise DeepppError(f"{where}: an other figure lacks its 'statement'")
            others.append(
                OtherFigure(str(other["statement"]), str(other.get("where", "")), quote_key)
            )
        used = {p.quote for p in points} | {o.quote for o in others if o.quote}
        if set(quotes) - used:
            raise DeepppError(f"{where}: quote(s) {sorted(set(quotes) - used)} support no figure")
        differences = entry.get("differences") or []
        if not isinstance(differences, list):
            raise DeepppError(f"{where}: 'differences' must be a list")
        references.append(
            Reference(
                id=str(entry["id"]),
                short=str(entry["short"]),
                tagger=" ".join(str(entry.get("tagger", "")).split()),
                citation=" ".join(str(entry["citation"]).split()),
                url=None if entry.get("url") is None else str(entry["url"]),
                conditions=conditions,
                quotes=quotes,
                points=points,
                other_figures=others,
                not_found=" ".join(str(entry["not_found"]).split())
                if entry.get("not_found")
                else None,
                differences=[str(d) for d in differences],
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
    efficiencies = all_efficiencies(models)
    rows = []
    for m in models:
        row = {
            "Source": f"deeppp: {_model_title(m)}",
            "Background": BACKGROUND_LABELS[DEEPPP_BACKGROUND],
            "AUC": h.value_with_uncertainty(m.auc.value, m.auc.uncertainty, 4),
            "Conditions": f"14 TeV, fast simulation, {book.deeppp['pileup']}",
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
        key=lambda k: int(re.findall(r"= (\d+) %", k)[0]),
    )
    return ["Source", "Background", "AUC", *rejection, "Conditions"]


def table_texts(rows: Sequence[Mapping[str, str]]) -> tuple[str, str]:
    """(CSV, Markdown) of the comparison table."""
    columns = table_columns(rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    header = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    body = "".join("| " + " | ".join(row.get(c, "") for c in columns) + " |\n" for row in rows)
    return buffer.getvalue(), header + body


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

    from deeppp.plotting import experiment_label, family_style, use_style

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
    efficiencies = all_efficiencies(models)
    budget_rank: dict[str, int] = {}
    all_values: list[float] = []
    for index, m in enumerate(models):
        # models share the working points: shift each a little so their error bars stay apart
        dodge = (index - (len(models) - 1) / 2) * 0.008
        rank = budget_rank.get(m.family, 0)
        budget_rank[m.family] = rank + 1
        colour = family_style(m.family).colour  # the colours of every stage's figures
        marker = "*" if m.family == "unpruned" else BUDGET_MARKERS[rank % len(BUDGET_MARKERS)]
        xs, ys, errors = [], [], []
        for percent in efficiencies:
            r = m.rejection.get(percent)
            if r is not None and r.is_finite:
                xs.append(percent / 100 + dodge)
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
        0.05,
        0.86,
        f"√s = 14 TeV, {book.deeppp['pileup']}\nQCD multijet",
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
    shown = [p / 100 for p in efficiencies] + [
        point.signal_efficiency for points in groups.values() for _, point in points
    ]
    low = min([0.4, *(e - 0.05 for e in shown)])
    high = max([0.8, *(e + 0.05 for e in shown)])
    # ticks strictly inside the range: neighbouring panels' end labels would run together
    ticks = [t / 10 for t in range(1, 10) if low < t / 10 < high]
    for ax in axes[0]:
        ax.set_xlim(low, high)
        ax.set_xticks(ticks)
    from deeppp.plotting import save

    fig.subplots_adjust(left=0.11, right=0.98, bottom=0.14, top=0.95, wspace=0.08)
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


def btagging_sentence(b: BTagging | None) -> str:
    """How hard b-tagging is in deeppp's detector simulation, in numbers (``btagging.json``)."""
    if b is None:
        return (
            "The b-tagging performance of deeppp's detector simulation was not available to "
            "this page (reconstruction/btagging.json)."
        )
    parts = []
    for row in b.rows:
        name = str(row.get("tagger", "?"))
        eff, light, charm = (row.get(k) for k in ("b_efficiency", "light_rejection", "c_rejection"))
        if not isinstance(eff, int | float):
            continue
        light_text = "beyond the sample" if light is None else f"{light:.3g}"
        charm_text = "beyond the sample" if charm is None else f"{charm:.3g}"
        parts.append(
            f"{name}: b-jet efficiency {100 * eff:.0f} %, light-jet rejection {light_text}, "
            f"c-jet rejection {charm_text}"
        )
    return (
        "How hard b-tagging is in deeppp's detector simulation (VR track jets of the selected "
        "large-R jets, impact-parameter tails, fakes, decays in flight, material and pile-up "
        "included): " + "; ".join(parts) + ". deeppp's taggers see these displaced-track "
        "features, so their rejection depends on how realistic these numbers are."
    )


def page_html(
    models: Sequence[ModelQuality], book: ReferenceBook, btagging: BTagging | None = None
) -> str:
    efficiencies = all_efficiencies(models)
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
        f"<p>{h.escape(btagging_sentence(btagging))}</p>",
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
    return h.page("deeppp beside published taggers", body)


def caption_facts(models: Sequence[ModelQuality], book: ReferenceBook) -> dict[str, Any]:
    """The numbers the comparison captions state (see deeppp.report.captions)."""
    unpruned = next((m for m in models if m.family == "unpruned"), None)
    facts: dict[str, Any] = {
        "n_models": len(models),
        "efficiencies": all_efficiencies(models),
        "n_published_points": sum(len(r.points) for r in book.references),
        "n_plotted_points": sum(len(v) for v in _plotted_points(book).values()),
        "publications_without_points": [r.short for r in book.references if not r.points],
        "pileup": book.deeppp["pileup"],
    }
    if unpruned is not None:
        facts["unpruned_auc"] = h.value_with_uncertainty(
            unpruned.auc.value, unpruned.auc.uncertainty, 4
        )
        facts["unpruned_rejection"] = {
            str(p): _rejection_text(unpruned, p) for p in all_efficiencies(models)
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


def pileup_phrase(mu: float) -> str:
    """deeppp's pile-up condition in words, from ``reconstruction.pileup.mu``."""
    return "no pile-up" if mu == 0 else f"pile-up ⟨μ⟩ = {mu:g}"


def build_comparison(
    metrics_paths: Sequence[str | Path],
    reference_path: str | Path,
    out_dir: str | Path,
    pileup_mu: float,
    btagging: BTagging | None = None,
) -> list[dict[str, str]]:
    """Write comparison.{html,png,csv,md,json} into ``out_dir`` (all five or none, so the page
    never mixes with an older figure); return the table rows. deeppp's pile-up condition comes
    from the run's config (``pileup_mu``), never from the reference file."""
    out = Path(out_dir)
    models = [read_model_quality(p) for p in metrics_paths]
    loaded = load_references(reference_path)
    book = dataclasses.replace(loaded, deeppp={**loaded.deeppp, "pileup": pileup_phrase(pileup_mu)})
    rows = table_rows(models, book)
    csv_text, markdown = table_texts(rows)
    names = ("comparison.png", "comparison.csv", "comparison.md", "comparison.html")
    with atomic_outputs([out / name for name in (*names, "comparison.json")]) as temps:
        png, csv_path, md_path, page, facts = temps
        plot_comparison(models, book, png)
        csv_path.write_text(csv_text)
        md_path.write_text(markdown)
        page.write_text(page_html(models, book, btagging))
        facts.write_text(json_text({"caption": rst_safe(caption_facts(models, book))}))
    return rows


__all__ = [
    "CONDITION_LABELS",
    "ReferenceBook",
    "build_comparison",
    "load_references",
    "page_html",
    "plot_comparison",
    "table_rows",
]
