"""How every number of a firmware report is stored: with the tool that produced it, or why not.

``{"value": 1234, "tool": "yosys"}`` or ``{"value": null, "tool": null, "skipped": "<reason>"}``;
a figure a tool could not produce here is never filled in from elsewhere.
"""

from __future__ import annotations

from typing import Any

#: Tool names used in reports (docs/data_contracts.md, "firmware -> report").
TOOLS = (
    "torch",
    "numpy-fixed-point",
    "hls4ml-emulation",
    "da4ml-emulator",
    "da4ml-pipeline",
    "da4ml-estimate",
    "verilator",
    "yosys",
    "nextpnr-ecp5",
    "vitis",
    "vivado",
)


def figure(value: Any, tool: str) -> dict[str, Any]:
    if tool not in TOOLS:
        raise ValueError(f"unknown tool {tool!r}")
    if value is None:
        return skipped(f"{tool} reported no value")
    return {"value": value, "tool": tool}


def skipped(reason: str) -> dict[str, Any]:
    return {"value": None, "tool": None, "skipped": reason}


def value_of(entry: dict[str, Any] | None) -> Any:
    return None if entry is None else entry.get("value")
