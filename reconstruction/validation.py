"""Checks of the ``reconstruction`` config section that the schema cannot express.

Run when the config is loaded (``deeppp.config.validate_config``), so a split that does not sum
to 1 or a broken detector card stops the workflow before any job, not after hours of
generation when the merge or the first reconstruction job starts. ``merge_features`` repeats the
dataset checks for library callers that pass an unvalidated config.
"""

from __future__ import annotations

import itertools
from typing import Any

from deeppp import DeepppError
from deeppp.contracts import SPLITS

#: Card quantities that divide or set a scale: zero is not a detector (bz_tesla = 0 makes every
#: track straight and its curvature radius infinite).
_POSITIVE_CARD_KEYS = (
    "magnetic_field.bz_tesla",
    "magnetic_field.radius_m",
    "magnetic_field.half_length_m",
    "tracking.abs_eta_max",
    "calorimeter.abs_eta_max",
    "calorimeter.central_cell.deta",
    "calorimeter.forward_cell.deta",
)


def split_fraction_check(split: dict[str, float]) -> None:
    total = sum(split[name] for name in SPLITS)
    if abs(total - 1.0) > 1e-9:
        raise DeepppError(f"reconstruction.split: train + val + test must be 1, got {total:g}")


def bin_edges_check(weights: dict[str, list[float]]) -> None:
    for name in ("pt_bin_edges_gev", "abs_eta_bin_edges"):
        edges = weights[name]
        if any(b <= a for a, b in itertools.pairwise(edges)):
            raise DeepppError(f"reconstruction.weights.{name}: edges must increase, got {edges}")


def check_reconstruction_section(section: dict[str, Any]) -> None:
    """Every cross-key check of the section, and the detector card it names."""
    split_fraction_check(section["split"])
    bin_edges_check(section["weights"])
    vr = section["vr_track_jets"]
    if vr["r_min"] > vr["r_max"]:
        raise DeepppError(
            f"reconstruction.vr_track_jets: r_min ({vr['r_min']}) must not exceed r_max "
            f"({vr['r_max']})"
        )
    check_detector_card(section["detector_card"])


def check_detector_card(path: str | None) -> dict[str, Any]:
    """The card as ``reconstruction.detector.load_detector_card`` reads it, or a one-line error.

    The card's own checks belong to the detector module. Around them: the file is read as
    strictly as a config (no duplicate keys or aliases, UTF-8, size-limited), and whatever a
    malformed card makes those checks raise (a table without ``values``, a string where a number
    belongs) is reported as a card error rather than a traceback. NaN/infinity and a zero field
    or cell size are refused here too.
    """
    from deeppp.config import first_non_finite, read_config_file
    from reconstruction.detector import DetectorCardError, load_detector_card

    where = f"reconstruction.detector_card: detector card {path or '(built-in)'}"
    if path is not None:
        try:
            read_config_file(path, what="detector card")
        except DeepppError as err:
            raise DetectorCardError(f"reconstruction.detector_card: {err}") from None
    try:
        card = load_detector_card(path)
    except DeepppError as err:
        raise DetectorCardError(f"reconstruction.detector_card: {err}") from None
    except Exception as err:  # a malformed card trips the checks themselves
        reason = " ".join(str(err).split())
        raise DetectorCardError(f"{where}: malformed ({type(err).__name__}: {reason})") from None
    bad = first_non_finite(card)
    if bad is not None:
        raise DetectorCardError(f"{where}: {bad[0]} must be finite, got {bad[1]}")
    for key in _POSITIVE_CARD_KEYS:
        node: Any = card
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None and not (isinstance(node, int | float) and node > 0):
            raise DetectorCardError(f"{where}: {key} must be positive, got {node!r}")
    return card
