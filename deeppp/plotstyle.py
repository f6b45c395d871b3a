"""One plot style for every stage: mplhep's ATLAS style with a "deeppp Simulation" label.

The ATLAS *style* (fonts, ticks) is what the users of this benchmark read every day; the ATLAS
*label* is reserved for the collaboration's own results, so our plots say "deeppp" instead.
"""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt
import mplhep

EXPERIMENT = "deeppp"


def use_style() -> None:
    plt.style.use(mplhep.style.ATLAS)


def experiment_label(
    ax: Any, text: str = "Simulation", rlabel: str = "√s = 14 TeV", **kwargs: Any
) -> None:
    """Put "deeppp Simulation" (bold/italic as ATLAS does) in the top-left corner of ``ax``."""
    kwargs.setdefault("loc", 0)
    mplhep.label.exp_label(exp=EXPERIMENT, text=text, rlabel=rlabel, ax=ax, data=True, **kwargs)
