"""Readers of AMD vendor reports, and the da4ml out-of-context Vivado run that produces some.

The vendor tools are not installed here, so these readers are exercised on recorded report
files (``tests/fixtures/vendor/``). Formats:

* ``<top>_csynth.xml`` of Vitis/Vivado HLS C synthesis (the file hls4ml's
  ``parse_vivado_report`` reads): latency, interval, estimated clock period and resource
  estimates, ``DSP48E`` (Vivado HLS) or ``DSP`` (Vitis);
* ``report_utilization`` text tables (hls4ml's ``vivado_synth.rpt``, da4ml's
  ``*_post_route_util.rpt``): rows ``| <Site Type> | <Used> | ...`` read by label, so the
  7-series (``Slice LUTs``) and UltraScale (``CLB LUTs``) layouts both work;
* ``report_timing_summary``: the "Design Timing Summary" table (WNS, TNS, WHS, ...);
* ``report_power``: ``Total On-Chip Power (W)``, ``Dynamic (W)``, ``Device Static (W)``.

Every reader raises :class:`VendorReportError` naming the file when an expected entry is
missing: a number that is not in the report is never assumed.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deeppp import DeepppError

logger = logging.getLogger(__name__)


class VendorReportError(DeepppError):
    """A vendor report is missing or lacks an entry; names the file."""


def _read(path: str | os.PathLike[str]) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError as err:
        raise VendorReportError(
            f"{path}: cannot read vendor report ({err.strerror or err})"
        ) from err


def _number(text: str | None) -> float | int | None:
    if text is None:
        return None
    cleaned = text.strip().rstrip("*").replace(",", "")
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return int(value) if value.is_integer() else value


# --------------------------------------------------------------------------------------------
# HLS C synthesis: <top>_csynth.xml
# --------------------------------------------------------------------------------------------


def parse_csynth_xml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Latency (cycles), interval, clock periods (ns), part and resource estimates."""
    try:
        root = ET.fromstring(_read(path))
    except ET.ParseError as err:
        raise VendorReportError(f"{path}: not a valid csynth XML report ({err})") from err

    def text(xpath: str) -> str:
        node = root.find(xpath)
        if node is None or node.text is None:
            raise VendorReportError(f"{path}: csynth report lacks {xpath}")
        return node.text

    def value(xpath: str) -> float | int:
        number = _number(text(xpath))
        if number is None:
            raise VendorReportError(f"{path}: {xpath} is not a number ({text(xpath)!r})")
        return number

    latency = "./PerformanceEstimates/SummaryOfOverallLatency"
    out: dict[str, Any] = {
        "part": text("./UserAssignments/Part").strip(),
        "top": text("./UserAssignments/TopModelName").strip(),
        "target_clock_period_ns": value("./UserAssignments/TargetClockPeriod"),
        "estimated_clock_period_ns": value(
            "./PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod"
        ),
        "latency_cycles_best": value(f"{latency}/Best-caseLatency"),
        "latency_cycles": value(f"{latency}/Worst-caseLatency"),
        "initiation_interval": value(f"{latency}/Interval-max"),
    }
    resources = root.find("./AreaEstimates/Resources")
    available = root.find("./AreaEstimates/AvailableResources")
    if resources is None:
        raise VendorReportError(f"{path}: csynth report lacks ./AreaEstimates/Resources")
    names = {
        "LUT": "lut",
        "FF": "ff",
        "DSP48E": "dsp",
        "DSP": "dsp",
        "BRAM_18K": "bram_18k",
        "URAM": "uram",
    }
    for node in resources:
        if node.tag in names:
            out[names[node.tag]] = _number(node.text)
    for node in available if available is not None else []:
        if node.tag in names:
            out[f"available_{names[node.tag]}"] = _number(node.text)
    for key in ("lut", "ff", "dsp", "bram_18k"):
        if out.get(key) is None:
            raise VendorReportError(f"{path}: csynth report has no {key.upper()} estimate")
    return out


# --------------------------------------------------------------------------------------------
# Vivado text reports
# --------------------------------------------------------------------------------------------

#: report_utilization row labels -> deeppp names (first match wins: the summary tables come
#: before the per-primitive list).
_UTILISATION_ROWS = {
    "CLB LUTs": "lut",
    "Slice LUTs": "lut",
    "LUT as Logic": "lut_logic",
    "LUT as Memory": "lut_memory",
    "CLB Registers": "ff",
    "Slice Registers": "ff",
    "CARRY8": "carry8",
    "CARRY4": "carry4",
    "DSPs": "dsp",
    "Block RAM Tile": "bram_36k",
    "URAM": "uram",
}


def parse_utilisation(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Used cells of a ``report_utilization`` file; ``bram_18k`` = 2 x 36 Kb tiles."""
    text = _read(path)
    out: dict[str, Any] = {}
    device = re.search(r"^\|\s*Device\s*:\s*(\S+)", text, re.MULTILINE)
    if device:
        out["device"] = device.group(1)
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2:
            continue
        label = cells[0].rstrip("*").strip()
        key = _UTILISATION_ROWS.get(label)
        if key is None or key in out:
            continue
        used = _number(cells[1])
        if used is None:
            continue
        out[key] = used
        available = _number(cells[-2]) if len(cells) >= 4 else None
        if available:
            out[f"available_{key}"] = available
    for key in ("lut", "ff"):
        if key not in out:
            raise VendorReportError(f"{path}: utilisation report has no {key.upper()} row")
    if "bram_36k" in out:
        out["bram_18k"] = 2 * out["bram_36k"]
    return out


def parse_timing_summary(path: str | os.PathLike[str]) -> dict[str, Any]:
    """WNS/TNS/WHS/THS (ns) and failing endpoints of the "Design Timing Summary" table."""
    text = _read(path)
    start = text.find("Design Timing Summary")
    if start < 0:
        raise VendorReportError(f"{path}: no 'Design Timing Summary' in the timing report")
    lines = [line for line in text[start:].splitlines()[1:40] if line.strip()]
    for i, line in enumerate(lines[:-2]):
        if "WNS(ns)" in line and set(lines[i + 1].strip()) <= {"-", " "}:
            keys = [k.strip() for k in re.split(r"\s{2,}", line.strip())]
            values = re.split(r"\s+", lines[i + 2].strip())
            if len(keys) != len(values):
                break
            raw = dict(zip(keys, values, strict=True))
            out: dict[str, Any] = {}
            for key, name in (
                ("WNS(ns)", "wns_ns"),
                ("TNS(ns)", "tns_ns"),
                ("TNS Failing Endpoints", "tns_failing_endpoints"),
                ("WHS(ns)", "whs_ns"),
                ("THS(ns)", "ths_ns"),
                ("THS Failing Endpoints", "ths_failing_endpoints"),
            ):
                value = _number(raw.get(key))
                if value is None:
                    raise VendorReportError(f"{path}: timing summary has no number for {key}")
                out[name] = value
            return out
    raise VendorReportError(f"{path}: cannot read the Design Timing Summary table")


def parse_power(path: str | os.PathLike[str]) -> dict[str, Any]:
    """On-chip power (W): total, dynamic and device static."""
    text = _read(path)
    out: dict[str, Any] = {}
    for label, name in (
        ("Total On-Chip Power (W)", "total_w"),
        ("Dynamic (W)", "dynamic_w"),
        ("Device Static (W)", "static_w"),
    ):
        match = re.search(rf"\|\s*{re.escape(label)}\s*\|\s*([^|]+?)\s*\|", text)
        value = _number(match.group(1)) if match else None
        if value is None:
            raise VendorReportError(f"{path}: power report has no number for {label}")
        out[name] = value
    return out


@dataclass(frozen=True)
class VivadoImplementation:
    """Post-route figures of the da4ml out-of-context Vivado flow."""

    utilisation: dict[str, Any]
    timing: dict[str, Any]
    power: dict[str, Any]
    clock_period_ns: float

    @property
    def achieved_period_ns(self) -> float:
        """The clock period the routed design meets: target - WNS (da4ml's definition)."""
        return self.clock_period_ns - float(self.timing["wns_ns"])

    @property
    def fmax_mhz(self) -> float:
        return 1000.0 / self.achieved_period_ns

    @property
    def timing_met(self) -> bool:
        return float(self.timing["wns_ns"]) >= 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "utilisation": self.utilisation,
            "timing": self.timing,
            "power": self.power,
            "clock_period_ns": self.clock_period_ns,
            "achieved_period_ns": self.achieved_period_ns,
            "fmax_mhz": self.fmax_mhz,
            "timing_met": self.timing_met,
        }


def read_implementation(
    reports_dir: str | os.PathLike[str], top: str, clock_period_ns: float
) -> VivadoImplementation:
    """The three post-route reports da4ml's ``build_vivado_prj.tcl`` writes."""
    d = Path(reports_dir)
    return VivadoImplementation(
        utilisation=parse_utilisation(d / f"{top}_post_route_util.rpt"),
        timing=parse_timing_summary(d / f"{top}_post_route_timing.rpt"),
        power=parse_power(d / f"{top}_post_route_power.rpt"),
        clock_period_ns=clock_period_ns,
    )


def vivado_unavailable_reason() -> str | None:
    if shutil.which("vivado") is None:
        return "vivado not on PATH (AMD Vivado is not installed here)"
    return None


def run_vivado_ooc(project_dir: Path, top: str, clock_period_ns: float) -> VivadoImplementation:
    """Synthesise, place and route the da4ml project out of context with its own Tcl script
    (``build_vivado_prj.tcl``: part and clock constraint written by da4ml) and read the
    post-route reports."""
    log = project_dir / "vivado.log"
    result = subprocess.run(
        [
            "vivado",
            "-mode",
            "batch",
            "-nojournal",
            "-log",
            log.name,
            "-source",
            "build_vivado_prj.tcl",
        ],
        cwd=project_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise VendorReportError(
            f"vivado failed with status {result.returncode}: {' | '.join(tail)} (log: {log})"
        )
    return read_implementation(project_dir / f"output_{top}" / "reports", top, clock_period_ns)
