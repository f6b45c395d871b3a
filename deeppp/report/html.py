"""Self-contained HTML pages for the Snakemake report: one stylesheet, tables, numbers, math.

Snakemake shows an HTML result inside an iframe (as a ``data:`` URI) next to its navigation
bar; with the info panel open that frame is about 600 px wide, at most about 1000 px on a
1280 x 720 screen. Pages therefore keep to readable widths, let wide tables scroll sideways
instead of wrapping numbers one word per line, and use no scripts (a ``data:`` frame may not
talk to the report around it).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence

#: The stylesheet every page embeds.
PAGE_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 14px;
       line-height: 1.45; color: #1e293b; margin: 12px 16px 32px; max-width: 72em; }
h1 { font-size: 1.45em; margin: 0.2em 0 0.4em; }
h2 { font-size: 1.15em; margin: 1.4em 0 0.4em; border-bottom: 1px solid #cbd5e1; }
h3 { font-size: 1em; margin: 1.1em 0 0.3em; }
p, li { max-width: 62em; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 0.4em 0 0.8em; font-size: 13px; }
th, td { border: 1px solid #cbd5e1; padding: 3px 6px; vertical-align: top; }
table.headline { font-size: 12.5px; }
table.headline td.name { white-space: normal; min-width: 8em; max-width: 11em; }
th { background: #f1f5f9; text-align: left; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
th.num { min-width: 4.5em; }
.change { font-size: 12px; }
caption { caption-side: bottom; text-align: left; padding-top: 3px; }
td.text { min-width: 12em; }
td.name, th.name { white-space: nowrap; }
tr.group td { background: #f8fafc; font-weight: 600; }
.better { color: #166534; font-weight: 600; }
.worse { color: #b91c1c; font-weight: 600; }
.noise { color: #64748b; }
.muted { color: #64748b; }
.note { color: #475569; font-size: 12.5px; }
.conclusion { background: #f8fafc; border-left: 4px solid #0f766e; padding: 6px 12px;
              max-width: 62em; }
blockquote { margin: 0.3em 0 0.6em 0; padding: 4px 12px; border-left: 3px solid #94a3b8;
             color: #334155; background: #f8fafc; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0.3em 0; }
dl.facts dt { font-weight: 600; color: #334155; }
dl.facts dd { margin: 0; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
              font-size: 12.5px; }
.math { font-family: "Times New Roman", "STIX Two Math", serif; font-size: 1.05em; }
"""


def escape(text: object) -> str:
    return html.escape(str(text), quote=True)


def page(title: str, body: Iterable[str], extra_css: str = "") -> str:
    """A complete HTML document (UTF-8, no scripts, no external resources)."""
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{PAGE_CSS}{extra_css}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def table(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    classes: Sequence[str] | None = None,
    caption: str | None = None,
    css_class: str | None = None,
) -> str:
    """A table of already-escaped HTML cells in a sideways-scrolling box.

    ``classes`` gives one CSS class per column ("num", "text", "name" or "")."""
    classes = list(classes or [""] * len(header))

    def cls(i: int) -> str:
        return f" class='{classes[i]}'" if i < len(classes) and classes[i] else ""

    parts = ["<div class='scroll'><table" + (f" class='{css_class}'" if css_class else "") + ">"]
    if caption:
        parts.append(f"<caption class='note'>{caption}</caption>")
    parts.append("<thead><tr>" + "".join(f"<th{cls(i)}>{h}</th>" for i, h in enumerate(header)))
    parts.append("</tr></thead><tbody>")
    for row in rows:
        if len(row) == 1:  # a group heading spanning the table
            parts.append(f"<tr class='group'><td colspan='{len(header)}'>{row[0]}</td></tr>")
            continue
        parts.append("<tr>" + "".join(f"<td{cls(i)}>{c}</td>" for i, c in enumerate(row)) + "</tr>")
    parts.append("</tbody></table></div>")
    return "".join(parts)


def definition_list(items: Iterable[tuple[str, str]]) -> str:
    """``<dl>`` of (escaped term, HTML description) pairs, laid out as two columns."""
    return (
        "<dl class='facts'>"
        + "".join(f"<dt>{term}</dt><dd>{text}</dd>" for term, text in items)
        + "</dl>"
    )


# --------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------

MINUS = "\u2212"


def _signed(text: str) -> str:
    return text.replace("-", MINUS)


def decimals_for(uncertainty: float, significant: int = 2) -> int:
    """Decimals that show ``significant`` digits of an uncertainty (0 for uncertainties >= 10)."""
    if not math.isfinite(uncertainty) or uncertainty <= 0:
        return 0
    return max(0, significant - 1 - math.floor(math.log10(uncertainty)))


def value_with_uncertainty(
    value: float | None, uncertainty: float | None, decimals: int | None = None
) -> str:
    """``0.9512 ± 0.0021``; digits follow the uncertainty unless ``decimals`` is given."""
    if value is None or not math.isfinite(value):
        return "not measurable"
    if uncertainty is None or not math.isfinite(uncertainty):
        places = 4 if decimals is None else decimals
        return _signed(f"{value:.{places}f}")
    places = decimals_for(uncertainty) if decimals is None else decimals
    return _signed(f"{value:.{places}f} ± {uncertainty:.{places}f}")


def integer(value: int | float | None) -> str:
    """``12 345`` (thin-space groups) or an em dash when not available."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{round(value):,}".replace(",", "\u2009")


def percent(fraction: float | None, decimals: int = 0) -> str:
    if fraction is None or not math.isfinite(fraction):
        return "—"
    return _signed(f"{100 * fraction:.{decimals}f} %")


# --------------------------------------------------------------------------------------------
# Math in quoted text: "$H(b\bar{b})$" -> H(bb̄), rendered without a script
# --------------------------------------------------------------------------------------------

_GREEK = {
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "epsilon": "ε",
    "varepsilon": "ε",
    "eta": "η",
    "mu": "μ",
    "nu": "ν",
    "pi": "π",
    "rho": "ρ",
    "sigma": "σ",
    "tau": "τ",
    "phi": "φ",
    "Delta": "Δ",
}
_SYMBOLS = {
    "rightarrow": "→",
    "to": "→",
    "pm": "±",
    "mp": "∓",
    "times": "×",
    "approx": "≈",
    "sim": "~",
    "leq": "≤",
    "geq": "≥",
    "sqrt": "√",
    "%": "%",
    ",": "\u2009",
}
_TEXT_COMMANDS = ("text", "mathrm", "textrm", "rm", "mbox")


def _math_to_html(tex: str) -> str:
    """A small TeX subset (what published abstracts use) as HTML: greek letters, arrows, ±,
    bars, text, super- and subscripts. Anything else is shown as written, never dropped."""
    out: list[str] = []
    i = 0
    while i < len(tex):
        ch = tex[i]
        if ch == "\\":
            match = re.match(r"\\([A-Za-z]+|.)", tex[i:])
            assert match is not None
            name = match[1]
            i += len(match[0])
            if name.isalpha():  # TeX ignores spaces after a control word
                while i < len(tex) and tex[i] == " ":
                    i += 1
            if name in ("bar", "overline"):
                argument, i = _group(tex, i)
                out.append(
                    "".join(c + "\u0304" if not c.isspace() else c for c in _math_to_html(argument))
                )
            elif name in _TEXT_COMMANDS:
                argument, i = _group(tex, i)
                out.append(escape(argument))
            elif name in _GREEK:
                out.append(_GREEK[name])
            elif name in _SYMBOLS:
                out.append(_SYMBOLS[name])
            else:
                out.append(escape("\\" + name))
        elif ch in "^_":
            argument, i = _group(tex, i + 1)
            tag = "sup" if ch == "^" else "sub"
            out.append(f"<{tag}>{_math_to_html(argument)}</{tag}>")
        elif ch in "{}":
            i += 1
        elif ch == "-":
            out.append(MINUS)
            i += 1
        else:
            out.append(escape(ch))
            i += 1
    return "".join(out)


def _group(tex: str, i: int) -> tuple[str, int]:
    """The braced group (or single character) starting at ``i``; returns it and the next index."""
    while i < len(tex) and tex[i] == " ":
        i += 1
    if i >= len(tex):
        return "", i
    if tex[i] != "{":
        if tex[i] == "\\":
            match = re.match(r"\\([A-Za-z]+|.)", tex[i:])
            assert match is not None
            return match[0], i + len(match[0])
        return tex[i], i + 1
    depth = 0
    for j in range(i, len(tex)):
        depth += {"{": 1, "}": -1}.get(tex[j], 0)
        if depth == 0:
            return tex[i + 1 : j], j + 1
    return tex[i + 1 :], len(tex)


def text_with_math(text: str) -> str:
    """Escape ``text`` and render its ``$...$`` segments as HTML math."""
    parts = re.split(r"(?<!\\)\$(.+?)(?<!\\)\$", text)
    out = []
    for index, part in enumerate(parts):
        if index % 2:
            out.append(f"<span class='math'>{_math_to_html(part)}</span>")
        else:
            out.append(escape(part.replace("\\$", "$")))
    return "".join(out)
