"""Resource totals of the FPGA parts the report expresses utilisation against.

Source (checked by hand; no copy of these tables ships with hls4ml, da4ml or Yosys, which only
name the part): AMD DS890, "UltraScale Architecture and Product Data Sheet: Overview",
Virtex UltraScale+ FPGA feature summary, column XCVU13P: 1,728,000 CLB LUTs, 3,456,000 CLB
flip-flops, 12,288 DSP slices, 2,688 36 Kb block RAMs (5,376 of 18 Kb), 1,280 UltraRAMs.
An UltraScale+ CLB holds 8 LUTs, 16 flip-flops and one CARRY8, hence 216,000 CARRY8 sites.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceTotals:
    name: str
    source: str
    lut: int
    ff: int
    dsp: int
    bram_18k: int
    uram: int
    carry8: int

    def percent(self, key: str, used: float | int | None) -> float | None:
        """``used`` as a percentage of the part's total of ``key`` (None if unknown)."""
        total = {"lut": self.lut, "ff": self.ff, "dsp": self.dsp, "bram_18k": self.bram_18k}.get(
            key
        )
        if used is None or total is None:
            return None
        return 100.0 * float(used) / total


XCVU13P = DeviceTotals(
    name="XCVU13P",
    source=(
        "AMD DS890 UltraScale Architecture and Product Data Sheet: Overview, Virtex UltraScale+ "
        "feature summary (XCVU13P: 1,728,000 CLB LUTs, 3,456,000 CLB flip-flops, 12,288 DSP "
        "slices, 2,688 36Kb block RAMs, 1,280 UltraRAMs)"
    ),
    lut=1_728_000,
    ff=3_456_000,
    dsp=12_288,
    bram_18k=2 * 2_688,
    uram=1_280,
    carry8=1_728_000 // 8,
)

#: Part-name prefixes (lower case) and their totals.
DEVICES: dict[str, DeviceTotals] = {"xcvu13p": XCVU13P}


def device_totals(part: str) -> DeviceTotals | None:
    """Totals of a part such as ``xcvu13p-flga2577-2-e`` (package and speed grade do not
    change the resources), or None for a part not in :data:`DEVICES`."""
    name = part.lower()
    for prefix, totals in DEVICES.items():
        if name.startswith(prefix):
            return totals
    return None
