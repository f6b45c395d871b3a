"""Bit-exactness checks: two implementations of the same fixed-point network must agree on
every jet, and any mismatch stops the build.

The chain is numpy integer reference -> hls4ml C++ emulation, numpy reference -> da4ml
emulator -> Verilator simulation of the written Verilog. A failed check raises
:class:`FirmwareCheckError` (a :class:`deeppp.CheckError`: the CLI exits with the "check
failed" status) naming the model, the build, both tools, the count and the first differing jet;
nothing is written under the model's output directory.
"""

from __future__ import annotations

import numpy as np

from deeppp import CheckError
from deeppp.handoffs import Check


class FirmwareCheckError(CheckError):
    """Two implementations that must agree bit by bit do not; names them and the count."""


def require_identical(
    model: str,
    build: str,
    precision: str,
    tool: str,
    reference: str,
    values: np.ndarray,
    expected: np.ndarray,
) -> Check:
    """The check record if ``values`` equals ``expected`` jet by jet; else raise."""
    a = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    b = np.asarray(expected, dtype=np.float64).reshape(len(expected), -1)
    if a.shape != b.shape:
        raise FirmwareCheckError(
            f"{model} ({build} build, {precision}): {tool} gave {a.shape[0]}x{a.shape[1]} outputs, "
            f"{reference} {b.shape[0]}x{b.shape[1]}"
        )
    differ = np.flatnonzero((a != b).any(axis=1))
    if len(differ):
        first = int(differ[0])
        raise FirmwareCheckError(
            f"{model} ({build} build, {precision}): {tool} and {reference} differ on "
            f"{len(differ)} of {len(a)} jets (first: jet {first}, {a[first, 0]!r} vs "
            f"{b[first, 0]!r}); the firmware does not implement the network it claims to"
        )
    return Check(
        name=f"{tool} == {reference}",
        build=build,
        tool=tool,
        reference=reference,
        n_jets=len(a),
        mismatches=0,
    )
