"""The RTL tool flow of one build: a table of tools run in order on the da4ml Verilog.

Each :class:`RtlTool` says how it is switched (``auto``/``on``/``off`` config key), why it could
not run here (package or binary missing), its size guard, and how it runs. :func:`run_tools`
walks the table; a tool that does not run is recorded with its reason, never replaced by a
number from elsewhere. Verilator is a check as well as a tool: its output must equal the da4ml
emulator's and the numpy reference's on every jet (:mod:`firmware.checks`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deeppp import DeepppError
from deeppp.handoffs import Check
from firmware import rtl, synthesis, vendor_reports
from firmware.checks import require_identical
from firmware.settings import FirmwareSettings

logger = logging.getLogger(__name__)


class StepTimer:
    """Wall time per named step and the CPU time of this process and its finished children
    (Verilator's compiler, Yosys) as ``<step>_cpu``, which a busy shared machine inflates far
    less than the wall time. Kept out of the report (it differs from run to run)."""

    def __init__(self, sink: dict[str, float] | None = None) -> None:
        self.steps: dict[str, float] = sink if sink is not None else {}
        self.last = 0.0

    @staticmethod
    def _cpu() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    @contextlib.contextmanager
    def __call__(self, step: str) -> Iterator[None]:
        start, cpu = time.perf_counter(), self._cpu()
        try:
            yield
        finally:
            self.last = time.perf_counter() - start
            self.steps[step] = self.steps.get(step, 0.0) + self.last
            self.steps[f"{step}_cpu"] = self.steps.get(f"{step}_cpu", 0.0) + self._cpu() - cpu


@dataclass
class RtlDesign:
    """One build's da4ml design, written to ``project_dir``, with what the tools check it by."""

    model: str
    role: str
    precision: str
    serves: tuple[str, ...]  # the roles this design stands for (both when the precisions agree)
    model_rtl: Any  # da4ml VerilogModel
    project_dir: Path
    x_grid: np.ndarray  # test jets on the input grid
    logit_emulator: np.ndarray  # da4ml's interpreter of the traced logic
    logit_reference: np.ndarray  # numpy fixed-point reference
    lut_estimate: float


@dataclass
class ToolOutcome:
    details: dict[str, Any]
    checks: list[Check] = field(default_factory=list)
    logits: np.ndarray | None = None


@dataclass(frozen=True)
class RtlTool:
    name: str  # report key, also the tool name of its figures
    config_key: str
    switch: Callable[[FirmwareSettings], str]
    unavailable: Callable[[], str | None]
    size_limit: Callable[[FirmwareSettings], tuple[float, str] | None]
    builds: Callable[[FirmwareSettings], tuple[str, ...]]  # roles it runs on
    builds_key: str
    run: Callable[[RtlDesign, FirmwareSettings], ToolOutcome]


def _run_verilator(design: RtlDesign, settings: FirmwareSettings) -> ToolOutcome:
    # The PATH wrapper lives outside the output directory (it is not part of the design).
    with tempfile.TemporaryDirectory(prefix="deeppp-verilator-") as wrapper_dir:
        logits = rtl.verilator_simulate(
            design.model_rtl, design.x_grid, Path(wrapper_dir), settings.threads
        )
    rtl.clean_simulation_build(design.project_dir)
    checks = [
        require_identical(
            design.model,
            design.role,
            design.precision,
            "verilator",
            "da4ml-emulator",
            logits,
            design.logit_emulator,
        ),
        require_identical(
            design.model,
            design.role,
            design.precision,
            "verilator",
            "numpy-fixed-point",
            logits,
            design.logit_reference,
        ),
    ]
    return ToolOutcome({"n_jets": len(design.x_grid)}, checks, logits[:, 0])


def _run_yosys(design: RtlDesign, settings: FirmwareSettings) -> ToolOutcome:
    result = synthesis.run_yosys_xilinx(
        rtl.verilog_sources(design.project_dir),
        rtl.PROJECT_NAME,
        settings.rtl.yosys_family,
        design.project_dir / "yosys",
    )
    return ToolOutcome(result.to_json())


def _run_vivado(design: RtlDesign, settings: FirmwareSettings) -> ToolOutcome:
    result = vendor_reports.run_vivado_ooc(
        design.project_dir, rtl.PROJECT_NAME, settings.clock_period_ns
    )
    return ToolOutcome(result.to_json())


def _run_nextpnr(design: RtlDesign, settings: FirmwareSettings) -> ToolOutcome:
    result = synthesis.run_nextpnr_ecp5(
        rtl.verilog_sources(design.project_dir),
        rtl.PROJECT_NAME,
        settings.clock_period_ns,
        design.project_dir / "nextpnr",
    )
    return ToolOutcome({"tool": "nextpnr-ecp5", **result})


#: In order: simulation first (a wrong design must fail before minutes of synthesis).
RTL_TOOLS: tuple[RtlTool, ...] = (
    RtlTool(
        "verilator",
        "firmware.rtl.verilator",
        lambda s: s.rtl.verilator,
        rtl.verilator_unavailable_reason,
        lambda s: (s.rtl.verilator_max_lut_estimate, "verilator_max_lut_estimate"),
        lambda s: s.rtl.verilator_builds,
        "firmware.rtl.verilator_builds",
        _run_verilator,
    ),
    RtlTool(
        "yosys",
        "firmware.rtl.yosys",
        lambda s: s.rtl.yosys,
        synthesis.yosys_unavailable_reason,
        lambda s: (s.rtl.yosys_max_lut_estimate, "yosys_max_lut_estimate"),
        lambda s: s.rtl.yosys_builds,
        "firmware.rtl.yosys_builds",
        _run_yosys,
    ),
    RtlTool(
        "vivado",
        "firmware.rtl.vivado",
        lambda s: s.rtl.vivado,
        vendor_reports.vivado_unavailable_reason,
        lambda s: None,
        lambda s: s.rtl.yosys_builds,
        "firmware.rtl.yosys_builds",
        _run_vivado,
    ),
    RtlTool(
        "nextpnr_ecp5",
        "firmware.rtl.nextpnr_ecp5",
        lambda s: "auto" if s.rtl.nextpnr_ecp5 else "off",
        lambda: synthesis.nextpnr_unavailable_reason() or synthesis.yosys_unavailable_reason(),
        lambda s: None,
        lambda s: s.rtl.yosys_builds,
        "firmware.rtl.yosys_builds",
        _run_nextpnr,
    ),
)


def tool_gate(
    switch: str,
    key: str,
    unavailable: str | None,
    lut_estimate: float,
    limit: tuple[float, str] | None,
) -> str | None:
    """None if the tool should run; otherwise the reason it does not.

    ``auto`` runs a tool when it is installed and the design is below its size guard (da4ml's
    LUT estimate; the guards default to far above the default models); ``on`` runs it whatever
    the size and fails if it is missing.
    """
    if switch == "off":
        return f"{key} is off"
    if unavailable is not None:
        if switch == "on":
            raise DeepppError(f"{key} is on but {unavailable}")
        return unavailable
    if switch == "auto" and limit is not None and lut_estimate > limit[0]:
        return (
            f"da4ml estimate of {lut_estimate:.0f} LUTs > firmware.rtl.{limit[1]} = "
            f"{limit[0]:.0f} (set {key}: on to force)"
        )
    return None


def run_tools(
    design: RtlDesign, settings: FirmwareSettings, timer: StepTimer
) -> dict[str, ToolOutcome]:
    """Every tool of :data:`RTL_TOOLS` on ``design``: its outcome, or ``{"skipped": reason}``."""
    outcomes: dict[str, ToolOutcome] = {}
    for tool in RTL_TOOLS:
        if not set(design.serves) & set(tool.builds(settings)):
            reason: str | None = f"{tool.builds_key} does not include the {design.role} build"
        else:
            reason = tool_gate(
                tool.switch(settings),
                tool.config_key,
                tool.unavailable(),
                design.lut_estimate,
                tool.size_limit(settings),
            )
        if reason is not None:
            outcomes[tool.name] = ToolOutcome({"skipped": reason})
            logger.info("[%s/%s] %s skipped: %s", design.model, design.role, tool.name, reason)
            continue
        with timer(f"{tool.name}_{design.role}"):
            outcomes[tool.name] = tool.run(design, settings)
        logger.info("[%s/%s] %s done in %.1f s", design.model, design.role, tool.name, timer.last)
    return outcomes
