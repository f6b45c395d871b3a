"""Typed view of the ``firmware`` config section (keys, defaults and ranges: ``deeppp/schema.yaml``).

The schema checks single keys; what depends on several keys at once (an integer-bit count that
leaves no fractional bits) is checked here with a message naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from deeppp import DeepppError

ToolSwitch = Literal["auto", "on", "off"]


class FirmwareConfigError(DeepppError):
    """A firmware setting is inconsistent with another one; the message names the key."""


@dataclass(frozen=True)
class PrecisionSettings:
    """Fixed-point format ``ap_fixed<total_bits, integer_bits>`` of inputs, weights and activations.

    ``mode = scan`` evaluates the bit-accurate network on the test set for every
    (total, integer) pair of the scan grid and keeps the smallest total width whose AUC is within
    ``auc_tolerance`` of the float network; ``mode = fixed`` uses ``total_bits``/``integer_bits``.
    """

    mode: Literal["scan", "fixed"] = "scan"
    total_bits: int = 16
    integer_bits: int = 6
    scan_total_bits: tuple[int, ...] = (6, 7, 8, 9, 10, 11, 12, 14, 16)
    scan_integer_bits: tuple[int, ...] = (2, 3, 4, 5, 6)
    auc_tolerance: float = 0.002


@dataclass(frozen=True)
class Hls4mlSettings:
    """hls4ml project settings (``config_from_pytorch_model`` -> ``convert_from_pytorch_model``)."""

    backend: Literal["Vitis", "Vivado"] = "Vitis"
    io_type: str = "io_parallel"
    strategy: Literal["Latency", "Resource"] = "Latency"
    reuse_factor: int = 1
    part: str = "xcvu13p-flga2577-2-e"
    vendor_synthesis: ToolSwitch = "auto"


@dataclass(frozen=True)
class RtlSettings:
    """Open-source RTL path: da4ml pipelining, Verilator simulation, Yosys synthesis.

    Verilator and Yosys run in ``auto`` mode only for designs up to the given da4ml LUT estimate
    (their run time grows with the netlist: a 39-16-16-1 net already needs about 80 s of Yosys);
    above it the da4ml cost estimate is reported under its own tool name.
    """

    enabled: bool = True
    latency_cutoff: float = 5.0
    search_all_decompose: bool = False
    verilator: ToolSwitch = "auto"
    verilator_max_lut_estimate: float = 10000.0
    yosys: ToolSwitch = "auto"
    yosys_max_lut_estimate: float = 8000.0
    yosys_family: str = "xcup"
    nextpnr_ecp5: bool = False


@dataclass(frozen=True)
class FirmwareSettings:
    seed: int = 0
    clock_period_ns: float = 5.0
    precision: PrecisionSettings = field(default_factory=PrecisionSettings)
    hls4ml: Hls4mlSettings = field(default_factory=Hls4mlSettings)
    rtl: RtlSettings = field(default_factory=RtlSettings)
    max_test_jets: int | None = None
    signal_efficiencies: tuple[float, ...] = (0.5, 0.7)
    threads: int = 1
    progress: bool = True

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FirmwareSettings:
        """Build from a validated config (``deeppp.config.load_config``)."""
        fw = dict(config.get("firmware", {}))
        precision = dict(fw.get("precision", {}))
        for key in ("scan_total_bits", "scan_integer_bits"):
            if key in precision:
                precision[key] = tuple(precision[key])
        settings = cls(
            seed=int(config.get("seed", 0)),
            clock_period_ns=float(fw.get("clock_period_ns", cls.clock_period_ns)),
            precision=PrecisionSettings(**precision),
            hls4ml=Hls4mlSettings(**fw.get("hls4ml", {})),
            rtl=RtlSettings(**fw.get("rtl", {})),
            max_test_jets=fw.get("max_test_jets", cls.max_test_jets),
            signal_efficiencies=tuple(fw.get("signal_efficiencies", cls.signal_efficiencies)),
            threads=int(fw.get("threads", cls.threads)),
            progress=bool(fw.get("progress", cls.progress)),
        )
        settings.check()
        return settings

    def check(self) -> None:
        p = self.precision
        if p.integer_bits >= p.total_bits:
            raise FirmwareConfigError(
                f"firmware.precision.integer_bits ({p.integer_bits}) must be below "
                f"firmware.precision.total_bits ({p.total_bits}) to leave a fractional bit"
            )
        if p.mode == "scan" and not any(
            i < w for w in p.scan_total_bits for i in p.scan_integer_bits
        ):
            raise FirmwareConfigError(
                "firmware.precision: no scan point has scan_integer_bits < scan_total_bits"
            )
