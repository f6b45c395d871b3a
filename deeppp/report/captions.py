"""Captions that state a result take their numbers from the results, not from their author.

Snakemake renders each caption file (``report(..., caption="x.rst")``) as a Jinja template with
``snakemake.params``, ``snakemake.input``, ``snakemake.output``, ``snakemake.wildcards`` and
``snakemake.config`` in scope, when ``snakemake --report`` runs, i.e. after every job finished. A
rule whose caption states a number therefore:

1. writes the numbers into a small ``"caption"`` object of one of its JSON outputs (plain numbers
   and short strings, computed where the figure is drawn);
2. declares ``params: caption=caption_facts("json")`` (a named output, or its index), which
   Snakemake calls lazily: it returns ``{}`` while the output does not exist yet (when the
   workflow runs, or when Snakemake checks whether a job must rerun) and the ``caption`` object
   when the report is built; callable params never trigger a rerun;
3. uses it in the caption, with a fallback sentence for an empty ``{}``::

       {% set f = snakemake.params.caption %}
       {% if f %}The overlap at k = {{ f.k }} is {{ "%.2f"|format(f.overlap) }}.{% endif %}

Keep the object small: Snakemake also lists a rule's params in the report's info panel. Strings
are printed into RST, so pass them through :func:`rst_text` when writing the facts.
(docs/data_contracts.md, "Captions from data", is the user-facing description.)

Pure Python: the rule files import it while Snakemake parses the workflow.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deeppp import DeepppError

#: The key of the caption facts inside a result JSON.
CAPTION_KEY = "caption"


def rst_text(text: str) -> str:
    """``text`` safe to print inside an RST caption: inline markup characters (``*``, `````,
    ``|``, ``_``, ``\\``) are escaped, so a model name or a formula never turns into markup."""
    return re.sub(r"([\\*`|_])", r"\\\1", text)


def rst_safe(facts: Any) -> Any:
    """:func:`rst_text` on every string of a caption-facts object (numbers stay numbers)."""
    if isinstance(facts, str):
        return rst_text(facts)
    if isinstance(facts, dict):
        return {key: rst_safe(value) for key, value in facts.items()}
    if isinstance(facts, list | tuple):
        return [rst_safe(value) for value in facts]
    return facts


def read_caption_facts(path: str | Path, key: str = CAPTION_KEY) -> dict[str, Any]:
    """The ``key`` object of the JSON at ``path``; ``{}`` if the file does not exist (yet)."""
    try:
        document = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as err:
        raise DeepppError(f"{path}: cannot read caption facts ({err})") from err
    facts = document.get(key, {}) if isinstance(document, dict) else {}
    if not isinstance(facts, dict):
        raise DeepppError(f"{path}: '{key}' is not an object of caption facts")
    return facts


def caption_facts(which: str | int, key: str = CAPTION_KEY) -> Callable[..., dict[str, Any]]:
    """A Snakemake ``params`` function: the caption facts of the rule's output ``which`` (its
    name, or its index in an unnamed output list), read when the report is rendered."""

    # Snakemake passes the job's outputs to a params function with a parameter named ``output``.
    def facts(wildcards: Any, output: Any) -> dict[str, Any]:
        path = output[which] if isinstance(which, int) else getattr(output, which)
        return read_caption_facts(path, key)

    return facts


def btagging_facts(path: str | Path) -> Callable[..., dict[str, Any]]:
    """A Snakemake ``params`` function: the b-tagging performance of the detector simulation
    (``reconstruction/btagging.json``) for captions that put a result in context, read when the
    report is rendered; ``{}`` while the file does not exist. Keys: ``taggers``, a list of
    ``{tagger, b_efficiency, light_rejection, c_rejection}`` (rejections may be ``None``)."""

    def facts(wildcards: Any) -> dict[str, Any]:
        from deeppp.report.results import read_btagging  # the one reader of that file

        performance = read_btagging(path)
        if performance is None:
            return {}
        keys = ("tagger", "b_efficiency", "light_rejection", "c_rejection")
        return rst_safe({"taggers": [{k: row.get(k) for k in keys} for row in performance.rows]})

    return facts
