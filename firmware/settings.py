"""Typed view of the ``firmware`` config section.

Keys, defaults and ranges live in one place, ``deeppp/schema.yaml``: these dataclasses have no
defaults of their own and are built from a validated config (:meth:`FirmwareSettings.from_config`,
or :meth:`FirmwareSettings.defaults` for the schema defaults). What depends on several keys at
once (an integer-bit count that leaves no fractional bits) is checked here, naming the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from deeppp import DeepppError
from deeppp.contracts import parse_model_name

ToolSwitch = Literal["auto", "on", "off"]


class FirmwareConfigError(DeepppError):
    """A firmware setting is inconsistent with another one; the message names the key."""


@dataclass(frozen=True)
class PrecisionSettings:
    """Choice of each model's own ``ap_fixed<W,I>`` (``firmware.precision``).

    ``mode = scan``: for every (W, I) of the grid, the loss AUC(float) - AUC(fixed) on the
    validation jets with a paired event bootstrap; W is the smallest width whose loss upper bound
    (quantile ``confidence`` of ``bootstrap_samples`` resamples) is within ``auc_tolerance`` and
    for which every wider W of the grid passes too. ``mode = fixed``: ``total_bits`` /
    ``integer_bits``.
    """

    mode: Literal["scan", "fixed"]
    total_bits: int
    integer_bits: int
    scan_total_bits: tuple[int, ...]
    scan_integer_bits: tuple[int, ...]
    auc_tolerance: float
    bootstrap_samples: int
    confidence: float


@dataclass(frozen=True)
class ReferencePrecision:
    """The common ``ap_fixed<W,I>`` every model is also built at (``firmware.reference_precision``):
    cross-model tables, plots and ratios compare designs at this one precision."""

    total_bits: int
    integer_bits: int


@dataclass(frozen=True)
class Hls4mlSettings:
    """hls4ml project settings (``config_from_pytorch_model`` -> ``convert_from_pytorch_model``)."""

    backend: Literal["Vitis", "Vivado"]
    io_type: str
    strategy: Literal["Latency", "Resource"]
    reuse_factor: int
    part: str
    vendor_synthesis: ToolSwitch


@dataclass(frozen=True)
class RtlSettings:
    """Open-source RTL path: da4ml pipelining, Verilator simulation, Yosys synthesis, and the
    da4ml out-of-context Vivado flow where ``vivado`` is installed.

    Verilator and Yosys run on every model in ``auto`` mode; the size limits (da4ml LUT
    estimate) only guard against designs far larger than the default models.
    """

    enabled: bool
    latency_cutoff: float
    search_all_decompose: bool
    verilator: ToolSwitch
    verilator_max_lut_estimate: float
    verilator_builds: tuple[str, ...]
    yosys: ToolSwitch
    yosys_max_lut_estimate: float
    yosys_builds: tuple[str, ...]
    yosys_family: Literal["xcup", "xcu", "xc7"]
    vivado: ToolSwitch
    nextpnr_ecp5: bool


@dataclass(frozen=True)
class FirmwareSettings:
    seed: int
    clock_period_ns: float
    reference_precision: ReferencePrecision
    precision: PrecisionSettings
    hls4ml: Hls4mlSettings
    rtl: RtlSettings
    budgets: tuple[str, ...] | None
    max_test_jets: int | None
    signal_efficiencies: tuple[float, ...]
    threads: int
    progress: bool

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FirmwareSettings:
        """Build from a validated config (``deeppp.config.load_config``/``validate_config``)."""
        fw = config["firmware"]
        precision = dict(fw["precision"])
        for key in ("scan_total_bits", "scan_integer_bits"):
            precision[key] = tuple(precision[key])
        settings = cls(
            seed=int(config["seed"]),
            clock_period_ns=float(fw["clock_period_ns"]),
            reference_precision=ReferencePrecision(**fw["reference_precision"]),
            precision=PrecisionSettings(**precision),
            hls4ml=Hls4mlSettings(**fw["hls4ml"]),
            rtl=RtlSettings(
                **{
                    **fw["rtl"],
                    "verilator_builds": tuple(fw["rtl"]["verilator_builds"]),
                    "yosys_builds": tuple(fw["rtl"]["yosys_builds"]),
                }
            ),
            budgets=None if fw["budgets"] is None else tuple(fw["budgets"]),
            max_test_jets=fw["max_test_jets"],
            signal_efficiencies=tuple(fw["signal_efficiencies"]),
            threads=int(fw["threads"]),
            progress=bool(fw["progress"]),
        )
        settings.check()
        return settings

    @classmethod
    def defaults(cls, seed: int = 0) -> FirmwareSettings:
        """The schema defaults (for library users and tests)."""
        from deeppp.config import validate_config

        return cls.from_config(validate_config({"seed": seed}, source="defaults"))

    def models_to_build(self, core_models: Sequence[str]) -> list[str]:
        """The core models of the ml stage that get firmware: the unpruned tagger and, with
        ``budgets`` set, every method's model at those budgets (in the ml stage's order).

        A listed budget that no core model has is refused, naming the key: a typo must not
        silently build nothing."""
        if self.budgets is None:
            return list(core_models)
        parsed = [parse_model_name(m) for m in core_models]
        settings = {p.setting for p in parsed if p.budget_unit is not None}
        unknown = [b for b in self.budgets if b not in settings]
        if unknown:
            raise FirmwareConfigError(
                f"firmware.budgets: {', '.join(unknown)} not among the ml section's budgets "
                f"({', '.join(sorted(settings)) or 'none'})"
            )
        return [p.name for p in parsed if p.budget_unit is None or p.setting in self.budgets]

    def check(self) -> None:
        p = self.precision
        if p.integer_bits >= p.total_bits:
            raise FirmwareConfigError(
                f"firmware.precision.integer_bits ({p.integer_bits}) must be below "
                f"firmware.precision.total_bits ({p.total_bits}) to leave a fractional bit"
            )
        ref = self.reference_precision
        if ref.integer_bits >= ref.total_bits:
            raise FirmwareConfigError(
                f"firmware.reference_precision.integer_bits ({ref.integer_bits}) must be below "
                f"firmware.reference_precision.total_bits ({ref.total_bits})"
            )
        if p.mode == "scan" and not any(
            i < w for w in p.scan_total_bits for i in p.scan_integer_bits
        ):
            raise FirmwareConfigError(
                "firmware.precision: no scan point has scan_integer_bits < scan_total_bits"
            )
