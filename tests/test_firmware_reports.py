"""Vendor report readers on recorded report files (tests/fixtures/vendor/), so the Vitis/Vivado
path is exercised where the tools are not installed, and the build's use of them (a stand-in
``vivado`` on PATH that leaves those reports where da4ml's Tcl script writes them)."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from firmware_helpers import N_FEATURES, firmware_config, save_tagger, trained_mlp, write_jets

from firmware import assemble, hls, vendor_reports
from firmware.build import build_firmware
from firmware.settings import FirmwareSettings
from firmware.summary import summary_rows
from firmware.vendor_reports import VendorReportError

FIXTURES = Path(__file__).parent / "fixtures" / "vendor"


def test_csynth_report() -> None:
    csynth = vendor_reports.parse_csynth_xml(FIXTURES / "tagger_csynth.xml")
    assert csynth["part"] == "xcvu13p-flga2577-2-e" and csynth["top"] == "tagger"
    assert (csynth["latency_cycles"], csynth["initiation_interval"]) == (6, 1)
    assert csynth["estimated_clock_period_ns"] == pytest.approx(3.412)
    assert (csynth["lut"], csynth["ff"], csynth["dsp"], csynth["bram_18k"]) == (21630, 4871, 212, 0)
    assert csynth["available_lut"] == 1_728_000


def test_hls_project_vendor_figures(tmp_path: Path) -> None:
    """hls4ml's layout: <prj>_prj/solution1/syn/report/<prj>_csynth.xml and vivado_synth.rpt;
    HLS estimates and Vivado synthesis counts under the same key names, each with its tool."""
    report_dir = tmp_path / "tagger_prj" / "solution1" / "syn" / "report"
    report_dir.mkdir(parents=True)
    shutil.copy(FIXTURES / "tagger_csynth.xml", report_dir / "tagger_csynth.xml")
    figures = hls.vendor_figures(tmp_path, "tagger", "Vitis")
    assert figures["csynth"]["lut"] == {"value": 21630, "tool": "vitis"}
    assert figures["csynth"]["latency_ns"]["value"] == pytest.approx(30.0)
    assert figures["vivado_synth"] == {"skipped": "no vivado_synth.rpt (vivado did not run)"}
    shutil.copy(FIXTURES / "vivado_synth.rpt", tmp_path / "vivado_synth.rpt")
    figures = hls.vendor_figures(tmp_path, "tagger", "Vitis")
    assert figures["vivado_synth"]["lut"] == {"value": 18244, "tool": "vivado"}
    assert figures["vivado_synth"]["dsp"] == {"value": 198, "tool": "vivado"}
    assert hls.vendor_figures(tmp_path / "empty", "tagger", "Vivado")["csynth"]["skipped"]


def test_utilisation_timing_power_reports() -> None:
    util = vendor_reports.parse_utilisation(FIXTURES / "tagger_post_route_util.rpt")
    assert util["device"] == "xcvu13p-flga2577-2-e"
    assert (util["lut"], util["lut_memory"], util["ff"], util["carry8"]) == (6931, 78, 1766, 702)
    assert (util["dsp"], util["bram_18k"], util["uram"]) == (0, 0, 0)
    assert util["available_lut"] == 1_728_000
    timing = vendor_reports.parse_timing_summary(FIXTURES / "tagger_post_route_timing.rpt")
    assert timing["wns_ns"] == pytest.approx(0.874) and timing["tns_failing_endpoints"] == 0
    assert timing["whs_ns"] == pytest.approx(0.021)
    power = vendor_reports.parse_power(FIXTURES / "tagger_post_route_power.rpt")
    assert power == {"total_w": 3.127, "dynamic_w": 0.312, "static_w": 2.815}


def test_seven_series_layout_and_missing_rows(tmp_path: Path) -> None:
    """7-series reports name rows Slice LUTs / Slice Registers and count CARRY4."""
    text = (
        "| Device       : 7z020clg400-1\n"
        "+-------------------------+------+-------+-----------+-------+\n"
        "|        Site Type        | Used | Fixed | Available | Util% |\n"
        "+-------------------------+------+-------+-----------+-------+\n"
        "| Slice LUTs*             | 1526 |     0 |     53200 |  2.87 |\n"
        "| Slice Registers         | 2428 |     0 |    106400 |  2.28 |\n"
        "| Block RAM Tile          |  0.5 |     0 |       140 |  0.36 |\n"
        "| DSPs                    |   66 |     0 |       220 | 30.00 |\n"
        "| CARRY4                  |  295 |       |           |       |\n"
    )
    path = tmp_path / "util.rpt"
    path.write_text(text)
    util = vendor_reports.parse_utilisation(path)
    assert (util["lut"], util["ff"], util["dsp"], util["carry4"]) == (1526, 2428, 66, 295)
    assert util["bram_18k"] == 1  # half a 36 Kb tile
    path.write_text(text.replace("Slice Registers", "Something else"))
    with pytest.raises(VendorReportError, match=r"util\.rpt: utilisation report has no FF row"):
        vendor_reports.parse_utilisation(path)
    truncated = tmp_path / "timing.rpt"
    timing = (FIXTURES / "tagger_post_route_timing.rpt").read_text()
    truncated.write_text(timing[: timing.index("0.874")])  # a report cut before its numbers
    with pytest.raises(VendorReportError, match=r"timing\.rpt: cannot read the Design Timing"):
        vendor_reports.parse_timing_summary(truncated)
    with pytest.raises(VendorReportError, match="not a valid csynth"):
        vendor_reports.parse_csynth_xml(truncated)


def _vivado_figures(wns: str | None = None, tmp_path: Path | None = None) -> dict:
    if wns is None:
        return vendor_reports.read_implementation(FIXTURES, "tagger", 5.0).to_json()
    assert tmp_path is not None
    for name in ("util", "power"):
        shutil.copy(FIXTURES / f"tagger_post_route_{name}.rpt", tmp_path)
    timing = (FIXTURES / "tagger_post_route_timing.rpt").read_text()
    (tmp_path / "tagger_post_route_timing.rpt").write_text(
        timing.replace("      0.874        0.000", f"{wns:>11s}       -3.210")
    )
    return vendor_reports.read_implementation(tmp_path, "tagger", 5.0).to_json()


def test_headline_figures_prefer_place_and_route(tmp_path: Path) -> None:
    yosys = {
        "lut": 7000,
        "lut_logic": 6900,
        "inv": 60,
        "srl": 40,
        "ff": 1800,
        "carry": 1300,
        "carry_cell": "CARRY4",
        "dsp": 0,
        "bram_18k": 0,
        "family": "xcup",
        "stage_paths": [{"stage": 0, "cells": 19, "lut": 7, "carry": 12, "other": 0}],
    }
    estimate = {"lut": 6000.0, "ff": 2000.0}
    vivado = _vivado_figures()
    assert vivado["fmax_mhz"] == pytest.approx(1000 / (5.0 - 0.874))
    figures, carry = assemble.resources(9, 5.0, estimate, 0, 0, yosys, vivado)
    assert figures["lut"].value == 6931 and figures["lut"].tool == "vivado"
    assert (figures["carry"].value, carry) == (702, "CARRY8")
    assert figures["longest_path_cells"].value == 19  # only Yosys reports it
    assert figures["latency_ns"].value == 45.0 and figures["latency_ns"].tool == "vivado"
    assert "timing met" in assemble.latency_basis(5.0, vivado)
    # Yosys only: carry counted in the cell type Yosys emits; latency not verified
    figures, carry = assemble.resources(9, 5.0, estimate, 0, 0, yosys, None)
    assert (figures["lut"].value, figures["lut"].tool, carry) == (7000, "yosys", "CARRY4")
    assert "not verified" in assemble.latency_basis(5.0, None)
    # A routed design that misses the clock: latency at the achieved period
    failing = _vivado_figures("-0.317", tmp_path)
    figures, _ = assemble.resources(9, 5.0, estimate, 0, 0, yosys, failing)
    assert figures["latency_ns"].value == pytest.approx(9 * 5.317)
    assert "missed" in assemble.latency_basis(5.0, failing)


@pytest.mark.skipif(shutil.which("g++") is None, reason="hls4ml emulation needs g++ on PATH")
def test_build_reads_vendor_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``vitis-run`` and ``vivado`` on PATH the build runs hls4ml's vendor flow and da4ml's
    out-of-context Vivado script, then reads their reports. Stand-in scripts leave the recorded
    reports where the tools would; the summary's HLS columns read the HLS report's keys."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {
        # da4ml's build_vivado_prj.tcl, run in the RTL project directory
        "vivado": (
            'test -f build_vivado_prj.tcl || { echo "no build script" >&2; exit 1; }\n'
            "mkdir -p output_tagger/reports\n"
            f"cp {FIXTURES}/tagger_post_route_*.rpt output_tagger/reports/\n"
        ),
        # hls4ml's `vitis-run --tcl build_prj.tcl --mode hls`, run in the HLS project directory
        "vitis-run": (
            'test -f build_prj.tcl || { echo "no build script" >&2; exit 1; }\n'
            "mkdir -p tagger_prj/solution1/syn/report\n"
            "echo '<project><solutions><solution name=\"solution1\"/></solutions></project>' "
            "> tagger_prj/hls.app\n"
            f"cp {FIXTURES}/tagger_csynth.xml tagger_prj/solution1/syn/report/\n"
            f"cp {FIXTURES}/vivado_synth.rpt .\n"
        ),
    }
    for name, body in scripts.items():
        script = bin_dir / name
        script.write_text("#!/bin/sh\n" + body)
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    net, norm = trained_mlp([N_FEATURES, 4, 1], steps=100)
    model = save_tagger(tmp_path / "m" / "model.pt", net, norm)
    test = write_jets(tmp_path / "test.root", 300, seed=3)
    config = firmware_config(
        {
            "precision": {"mode": "fixed", "total_bits": 8, "integer_bits": 4},
            "hls4ml": {"vendor_synthesis": "on"},
            "rtl": {"verilator": "off", "yosys": "off", "vivado": "on"},
        }
    )
    report = build_firmware(
        model, test, tmp_path / "fw", FirmwareSettings.from_config(config), config
    )
    build = report.reference
    assert build.same_as == "scanned"  # the reference precision is the scanned one here
    assert build.resources["lut"].value == 6931 and build.resources["lut"].tool == "vivado"
    assert build.carry_cell == "CARRY8"
    assert "timing met" in build.latency_basis
    assert build.details["vivado"]["power"]["total_w"] == pytest.approx(3.127)
    synthesis = build.details["hls4ml"]["synthesis"]
    assert synthesis["tool_binary"] == "vitis-run"
    row = summary_rows([report])[0]
    assert (row["hls_lut"], row["vivado_lut"], row["hls_latency_cycles"]) == (21630, 18244, 6)
