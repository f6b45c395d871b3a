"""Report assembly: the headline figures of one build from what its tools measured.

Which tool a headline number comes from, in order of authority: Vivado post-route (where it
ran) > Yosys ``synth_xilinx`` > da4ml's cost estimate (LUT and FF only). DSP slices and block
RAM are 0 by construction when da4ml found no variable multiplication and no lookup table (the
constant multiplications are shift-and-add networks); no opcode count is passed off as an
estimate. Latency in cycles is the da4ml pipeline depth; in ns it is stages x clock period,
which *assumes* the design closes timing at that clock unless a place-and-route tool said so.
"""

from __future__ import annotations

from typing import Any

from deeppp.handoffs import RESOURCE_KEYS, Figure
from firmware.devices import device_totals

MULTIPLIER_FREE = "0 by construction: multiplier-free (shift-and-add constant products, no tables)"


def latency_basis(clock_period_ns: float, vivado: dict[str, Any] | None) -> str:
    if vivado is None:
        return (
            f"pipeline stages x {clock_period_ns:g} ns: assumes closure at the configured clock, "
            "not verified (no place-and-route tool ran)"
        )
    if vivado["timing_met"]:
        return (
            f"pipeline stages x {clock_period_ns:g} ns: Vivado post-route timing met "
            f"(WNS {vivado['timing']['wns_ns']:+.3f} ns, Fmax {vivado['fmax_mhz']:.0f} MHz)"
        )
    return (
        f"pipeline stages x {vivado['achieved_period_ns']:.3f} ns: Vivado post-route timing "
        f"missed {clock_period_ns:g} ns (WNS {vivado['timing']['wns_ns']:+.3f} ns)"
    )


def resources(
    stages: int,
    clock_period_ns: float,
    estimate: dict[str, float],
    multipliers: int,
    tables: int,
    yosys: dict[str, Any] | None,
    vivado: dict[str, Any] | None,
) -> tuple[dict[str, Figure], str | None]:
    """The :data:`RESOURCE_KEYS` figures of one build and the carry cell type they count."""
    out: dict[str, Figure] = {}
    carry_cell: str | None = None
    multiplier_free = multipliers == 0 and tables == 0
    if vivado is not None:
        util = vivado["utilisation"]
        out["lut"] = Figure.of(util.get("lut"), "vivado", "post-route CLB LUTs")
        out["ff"] = Figure.of(util.get("ff"), "vivado", "post-route CLB registers")
        if "carry8" in util or "carry4" in util:
            carry_cell = "CARRY8" if "carry8" in util else "CARRY4"
            out["carry"] = Figure.of(util.get(carry_cell.lower()), "vivado")
        out["dsp"] = Figure.of(util.get("dsp"), "vivado")
        out["bram_18k"] = Figure.of(util.get("bram_18k"), "vivado")
    if yosys is not None:
        lut_note = (
            f"{yosys['lut_logic']} logic LUTs + {yosys['inv']} INV + {yosys['srl']} SRL "
            f"(synth_xilinx -family {yosys['family']})"
        )
        out.setdefault("lut", Figure.of(yosys["lut"], "yosys", lut_note))
        out.setdefault("ff", Figure.of(yosys["ff"], "yosys"))
        if "carry" not in out:
            carry_cell = yosys["carry_cell"]
            out["carry"] = Figure.of(
                yosys["carry"],
                "yosys",
                f"{carry_cell or 'no carry'} cells "
                "(Yosys maps carry chains to CARRY4 on every family)",
            )
        out.setdefault("dsp", Figure.of(yosys["dsp"], "yosys"))
        out.setdefault("bram_18k", Figure.of(yosys["bram_18k"], "yosys"))
        longest = max(yosys["stage_paths"], key=lambda p: (p["cells"], p["carry"]), default=None)
        if longest is not None:
            out["longest_path_cells"] = Figure.of(
                longest["cells"],
                "yosys",
                f"stage {longest['stage']}: {longest['lut']} LUT + {longest['carry']} "
                f"{yosys['carry_cell'] or 'carry'} + {longest['other']} other cells",
            )
    out.setdefault(
        "lut", Figure.of(estimate["lut"], "da4ml-estimate", "da4ml cost model, not synthesised")
    )
    out.setdefault(
        "ff", Figure.of(estimate["ff"], "da4ml-estimate", "pipeline register bits, not synthesised")
    )
    out.setdefault("carry", Figure.missing("needs logic synthesis (Yosys or Vivado did not run)"))
    for key in ("dsp", "bram_18k"):
        if key not in out:
            out[key] = (
                Figure(0, "da4ml-pipeline", note=MULTIPLIER_FREE)
                if multiplier_free
                else Figure.missing(
                    f"da4ml used {multipliers} variable multiplications and {tables} tables; "
                    "needs logic synthesis"
                )
            )
    out.setdefault(
        "longest_path_cells", Figure.missing("needs logic synthesis (Yosys did not run)")
    )
    out["latency_cycles"] = Figure.of(stages, "da4ml-pipeline")
    out["initiation_interval"] = Figure.of(1, "da4ml-pipeline", "one jet per clock")
    if vivado is not None and not vivado["timing_met"]:
        out["latency_ns"] = Figure.of(
            stages * vivado["achieved_period_ns"], "vivado", "at the achieved clock period"
        )
    else:
        out["latency_ns"] = Figure.of(
            stages * clock_period_ns,
            "vivado" if vivado is not None else "da4ml-pipeline",
            "timing met after routing"
            if vivado is not None
            else "assumes closure at the configured clock, not verified",
        )
    assert set(out) == set(RESOURCE_KEYS), sorted(set(RESOURCE_KEYS) ^ set(out))
    return out, carry_cell


def part_percent(part: str, figures: dict[str, Figure]) -> tuple[dict[str, float | None], str]:
    """LUT/FF/DSP/BRAM as a percentage of the configured part, and the source of its totals
    (empty, with the reason, for a part :mod:`firmware.devices` does not list)."""
    totals = device_totals(part)
    if totals is None:
        return {}, f"no resource totals for part {part} in firmware/devices.py"
    return {
        key: totals.percent(key, figures[key].value) for key in ("lut", "ff", "dsp", "bram_18k")
    }, totals.source
