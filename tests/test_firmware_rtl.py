"""firmware stage end to end on tiny taggers with the RTL tools: hls4ml, numpy, the da4ml
emulator and Verilator agree bit by bit (and a flipped adder in the Verilog stops the build);
Yosys counts LUT sites and carries in the cells it emits, and its longest path matches ``ltp``;
at the one reference precision a pruned child is smaller than its parent; reports name their
tools; rebuilds are byte-identical; the summary compares like with like.

A parent 8-8-1 tagger (its own precision from a scan) and its child with half of the hidden
nodes removed (the four of smallest |w_out| x ||w_in||, at the reference precision) are built
once per module. Verilator and Yosys tests are skipped, with the reason, where the tool is not
installed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from firmware_helpers import (
    N_FEATURES,
    NAMES,
    firmware_config,
    save_tagger,
    trained_mlp,
    write_jets,
)
from torch import nn

from deeppp.handoffs import FIRMWARE_TOOLS, FirmwareReport
from deeppp.rootio import read_tree
from firmware import rtl, synthesis
from firmware.build import build_firmware
from firmware.checks import FirmwareCheckError
from firmware.fixed_point import FixedFormat, QuantisedNetwork
from firmware.network import dense_network
from firmware.settings import FirmwareSettings
from firmware.summary import write_summary
from ml.model_io import load_model

VERILATOR_MISSING = rtl.verilator_unavailable_reason()
YOSYS_MISSING = synthesis.yosys_unavailable_reason()
needs_verilator = pytest.mark.skipif(
    VERILATOR_MISSING is not None, reason=f"Verilator: {VERILATOR_MISSING}"
)
needs_yosys = pytest.mark.skipif(YOSYS_MISSING is not None, reason=f"Yosys: {YOSYS_MISSING}")
N_TEST_JETS = 1000
REFERENCE = (8, 4)

# one module fixture: 3 hls4ml compiles, 4 Verilator builds, 4 Yosys runs (about 2 min)
pytestmark = pytest.mark.slow


def prune_hidden(parent: nn.Sequential, keep: int) -> nn.Sequential:
    """Drop the hidden nodes of an n-h-1 net with the smallest |w_out| x ||w_in|| (no
    retraining)."""
    first, last = parent[0], parent[2]
    saliency = last.weight.detach().abs()[0] * first.weight.detach().norm(dim=1)
    kept = torch.sort(torch.argsort(saliency, descending=True)[:keep]).values
    child = nn.Sequential(nn.Linear(first.in_features, keep), nn.ReLU(), nn.Linear(keep, 1))
    with torch.no_grad():
        child[0].weight.copy_(first.weight[kept])
        child[0].bias.copy_(first.bias[kept])
        child[2].weight.copy_(last.weight[:, kept])
        child[2].bias.copy_(last.bias)
    return child.eval()


TOOLS = {
    "verilator": "off" if VERILATOR_MISSING else "on",
    "yosys": "off" if YOSYS_MISSING else "on",
    "vivado": "off",
}
REFERENCE_CONFIG = {"total_bits": REFERENCE[0], "integer_bits": REFERENCE[1]}


def _settings(firmware: dict[str, Any]) -> tuple[FirmwareSettings, dict[str, Any]]:
    config = firmware_config({"reference_precision": REFERENCE_CONFIG, **firmware})
    return FirmwareSettings.from_config(config), config


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("firmware")
    parent, norm = trained_mlp([N_FEATURES, 8, 1])
    child = prune_hidden(parent, keep=4)
    for name, net in (("parent", parent), ("child", child)):
        save_tagger(work / "models" / name / "model.pt", net, norm)
    write_jets(work / "test.root", N_TEST_JETS, seed=99)
    write_jets(work / "val.root", N_TEST_JETS, seed=98)

    parent_settings, parent_config = _settings(
        {
            "precision": {"scan_total_bits": [5, 6, 7, 9, 10], "scan_integer_bits": [3, 4]},
            "rtl": TOOLS,
        }
    )
    reports = {
        "parent": build_firmware(
            work / "models/parent/model.pt",
            work / "test.root",
            work / "fw/parent",
            parent_settings,
            config=parent_config,
            model_name="parent",
            scan_path=work / "val.root",
        )
    }
    child_settings, child_config = _settings(
        {"precision": {"mode": "fixed", **REFERENCE_CONFIG}, "rtl": TOOLS}
    )
    for out in ("child", "child_again"):
        reports[out] = build_firmware(
            work / "models/child/model.pt",
            work / "test.root",
            work / "fw" / out,
            child_settings,
            config=child_config,
            model_name="child",
        )
    return {"work": work, "reports": reports}


def _walk_figures(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = []
    if isinstance(node, dict):
        if "value" in node and "tool" in node:
            found.append((path, node))
        for key, sub in node.items():
            if key != "provenance":
                found += _walk_figures(sub, f"{path}.{key}")
    return found


def test_every_figure_names_its_tool_or_why_not(built: dict[str, Any]) -> None:
    report = json.loads((built["work"] / "fw/parent/report.json").read_text())
    FirmwareReport.from_json(report)  # the hand-off validates
    figures = _walk_figures(report)
    assert len(figures) >= 20
    for path, entry in figures:
        if entry["value"] is None:
            assert entry["tool"] is None and entry["skipped"], path
        else:
            assert entry["tool"] in FIRMWARE_TOOLS, path
    # No vendor tools here: skipped with a reason, no numbers.
    scanned = report["builds"]["scanned"]
    assert "skipped" in scanned["details"]["hls4ml"]["synthesis"]
    assert "skipped" in scanned["details"]["vivado"]
    assert scanned["resources"]["latency_cycles"]["tool"] == "da4ml-pipeline"
    assert "not verified" in scanned["latency_basis"]
    assert scanned["details"]["da4ml"]["estimate"]["lut"]["tool"] == "da4ml-estimate"
    # the accumulator types hls4ml inferred, not "auto"
    layers = scanned["details"]["hls4ml"]["layer_precisions"]
    assert all("auto" not in t for layer in layers for t in layer["types"].values())


def test_reference_and_scanned_builds(built: dict[str, Any]) -> None:
    parent = built["reports"]["parent"]
    assert (parent.reference.total_bits, parent.reference.integer_bits) == REFERENCE
    assert parent.reference.same_as is None and parent.reference.project_dir == "reference/rtl"
    assert parent.precision_scan.scan_file == "val.root"
    assert parent.precision_scan.mode == "scan" and parent.precision_scan.points
    assert (built["work"] / "fw/parent/reference/rtl/src/tagger.v").is_file()
    child = built["reports"]["child"]
    assert child.reference.same_as == "scanned"  # fixed at the reference precision
    assert not (built["work"] / "fw/child/reference").exists()
    # On the test jets the firmware is as good a tagger (within 1000 jets' precision).
    for build in (parent.scanned, parent.reference):
        loss = build.auc_loss_test
        assert loss.ci_low <= loss.value <= loss.ci_high
        assert loss.value < 0.01
    assert parent.float_auc > 0.85


def test_hls4ml_numpy_da4ml_verilator_agree_bit_by_bit(built: dict[str, Any]) -> None:
    """The scores file against an independent recomputation from the saved model."""
    work = built["work"]
    parent = built["reports"]["parent"]
    sequential, meta = load_model(work / "models/parent/model.pt")
    jets = read_tree(work / "test.root", "jets", required=NAMES)
    raw = np.stack([np.asarray(jets[n], dtype=np.float32) for n in NAMES], axis=1)
    x = ((raw - meta["feature_mean"].numpy()) / meta["feature_std"].numpy()).astype(np.float64)
    network = dense_network(sequential)
    scores = read_tree(work / "fw/parent/scores.root", "jets", required=["logit_hls4ml"])
    for build, suffix in ((parent.scanned, ""), (parent.reference, "_reference")):
        fmt = FixedFormat(build.total_bits, build.integer_bits)
        expected = QuantisedNetwork.from_network(network, fmt).logits(x)[:, 0]
        columns = ["logit_fixed_point", *(["logit_hls4ml"] if not suffix else [])]
        if VERILATOR_MISSING is None:
            columns.append("logit_rtl")
        for column in columns:
            assert np.array_equal(np.asarray(scores[column + suffix]), expected), column + suffix
        assert all(check.mismatches == 0 and check.n_jets == N_TEST_JETS for check in build.checks)
    tools = {(c.tool, c.reference) for c in parent.scanned.checks}
    assert ("hls4ml-emulation", "numpy-fixed-point") in tools
    assert ("da4ml-emulator", "numpy-fixed-point") in tools


@needs_verilator
def test_verilator_simulation_is_bit_exact_on_every_jet(built: dict[str, Any]) -> None:
    for build in built["reports"]["parent"].builds.values():
        tools = {(c.tool, c.reference): c for c in build.checks}
        check = tools[("verilator", "da4ml-emulator")]
        assert check.n_jets == N_TEST_JETS and check.mismatches == 0
        assert ("verilator", "numpy-fixed-point") in tools
    # The simulation build (objects, shared library) is cleaned; the Verilog stays.
    rtl_dir = built["work"] / "fw/parent/rtl"
    assert not list(rtl_dir.glob("sim/*.so")) and not (rtl_dir / "sim/obj_dir").exists()
    assert (rtl_dir / "src/tagger.v").is_file()


@needs_verilator
def test_flipped_adder_in_the_verilog_fails_the_build(
    built: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Turn the last adder of the output stage into a subtractor after da4ml wrote the Verilog:
    the da4ml emulator (which never reads the Verilog) and Verilator now disagree."""
    original = rtl.write_verilog

    def write_then_flip(model: Any, metadata: dict[str, Any]) -> None:
        original(model, metadata)
        src = Path(model._path) / "src"
        last_stage = max(
            src.glob("tagger_stage*.v"), key=lambda p: int(p.stem.rsplit("stage", 1)[1])
        )
        text = last_stage.read_text()
        adders = list(re.finditer(r"shift_adder #\(([^)]*), ([01])\)", text))
        assert adders, "the output stage has an adder to flip"
        last = adders[-1]
        flipped = f"shift_adder #({last.group(1)}, {1 - int(last.group(2))})"
        last_stage.write_text(text[: last.start()] + flipped + text[last.end() :])

    monkeypatch.setattr(rtl, "write_verilog", write_then_flip)
    settings, config = _settings(
        {
            "precision": {"mode": "fixed", **REFERENCE_CONFIG},
            "rtl": {"verilator": "on", "yosys": "off", "vivado": "off"},
        }
    )
    out = tmp_path / "fw"
    with pytest.raises(FirmwareCheckError, match="verilator and da4ml-emulator differ on"):
        build_firmware(
            built["work"] / "models/child/model.pt",
            built["work"] / "test.root",
            out,
            settings,
            config=config,
            model_name="child",
        )
    assert not out.exists()


@needs_yosys
def test_yosys_counts_lut_sites_and_real_carry_cells(built: dict[str, Any]) -> None:
    build = built["reports"]["parent"].reference
    yosys = build.details["yosys"]
    cells = yosys["cells_by_type"]
    luts = sum(n for name, n in cells.items() if name.startswith("LUT"))
    assert yosys["lut"] == luts + cells.get("INV", 0) + yosys["srl"]  # INV and SRL are LUT sites
    assert yosys["inv"] == cells.get("INV", 0)
    carry_types = sorted(name for name in cells if name.startswith("CARRY"))
    assert yosys["carry_cell"] == "+".join(carry_types) and yosys["carry"] > 0
    assert build.carry_cell == yosys["carry_cell"]
    assert yosys["dsp"] == 0 and yosys["bram_18k"] == 0  # shift-and-add, no DSP, no memory
    assert build.resources["lut"].value == yosys["lut"] and build.resources["lut"].tool == "yosys"
    ratio = yosys["lut"] / build.details["da4ml"]["estimate"]["lut"]["value"]
    assert 1 / 3 < ratio < 3, f"Yosys/da4ml LUT ratio {ratio:.2f}"


@needs_yosys
def test_longest_path_per_stage_matches_yosys_ltp(built: dict[str, Any]) -> None:
    for build in built["reports"]["parent"].builds.values():
        yosys = build.details["yosys"]
        paths = yosys["stage_paths"]
        assert len(paths) == build.value("latency_cycles")  # one entry per pipeline stage
        longest = max(p["cells"] for p in paths)
        assert longest == yosys["ltp_cells"], "per-stage analysis disagrees with Yosys ltp"
        assert build.value("longest_path_cells") == longest
        assert all(p["cells"] == p["lut"] + p["carry"] + p["other"] for p in paths)


@needs_yosys
def test_pruned_child_is_smaller_than_parent_at_the_same_precision(built: dict[str, Any]) -> None:
    parent = built["reports"]["parent"].reference
    child = built["reports"]["child"].reference
    assert parent.precision == child.precision == "ap_fixed<8,4>"
    assert child.resources["lut"].tool == parent.resources["lut"].tool == "yosys"
    assert child.value("lut") < parent.value("lut")
    assert child.value("carry") < parent.value("carry")
    # Flip-flops are not monotonic in the network size: da4ml cuts the adder graph into stages
    # by delay, and where a cut falls decides how many (and how wide) values are registered. On
    # this pair the child registers more bits (179 vs 144 FFs) at the same three stages.
    assert child.resources["ff"].tool == "yosys" and child.value("ff") > 0
    assert child.value("latency_cycles") <= parent.value("latency_cycles")


def test_latency_is_pipeline_stages_times_clock(built: dict[str, Any]) -> None:
    report = built["reports"]["parent"]
    for build in report.builds.values():
        stages = build.details["da4ml"]["pipeline_stages"]
        assert stages >= 2  # two layers cannot fit one stage of 5 adder delays
        assert build.value("latency_cycles") == stages
        assert build.value("latency_ns") == stages * report.clock_period_ns
        assert build.value("initiation_interval") == 1


def test_rebuild_is_byte_identical(built: dict[str, Any]) -> None:
    fw = built["work"] / "fw"
    for name in ("report.json", "scores.root", "rtl/src/tagger.v", "rtl/model/pipeline.json"):
        assert (fw / "child" / name).read_bytes() == (fw / "child_again" / name).read_bytes(), name
    # the whole HLS project too (hls4ml's random stamp, temporary path and pickled model removed);
    # only OutputDir names the directory each build was written to
    first = sorted(p.relative_to(fw / "child") for p in (fw / "child").rglob("*") if p.is_file())
    again = sorted(
        p.relative_to(fw / "child_again") for p in (fw / "child_again").rglob("*") if p.is_file()
    )
    assert first == again
    assert not [p for p in first if p.suffix == ".so"], "build artefacts are removed"
    for relative in first:
        if relative.suffix == ".root":
            continue
        a, b = (
            (fw / d / relative).read_text(errors="replace").splitlines()
            for d in ("child", "child_again")
        )
        if relative.name == "hls4ml_config.yml":
            a, b = ([line for line in x if not line.startswith("OutputDir:")] for x in (a, b))
        assert a == b, relative
    leftovers = [p.name for p in fw.iterdir() if "deeppp-tmp" in p.name]
    assert not leftovers, f"temporary build directories left behind: {leftovers}"


def test_summary_compares_like_with_like(built: dict[str, Any], tmp_path: Path) -> None:
    fw = built["work"] / "fw"
    rows = write_summary([fw / "parent", fw / "child"], tmp_path)
    assert [row["model"] for row in rows] == ["parent", "child"]
    assert {row["reference_precision"] for row in rows} == {"ap_fixed<8,4>"}
    parent, child = rows
    assert child["hidden_nodes"] == 4 and child["multiplications"] == N_FEATURES * 4 + 4
    assert child["pruned_fraction"] == pytest.approx(1 - 36 / 72)
    assert child["own_precision"] == "ap_fixed<8,4>"
    assert parent["own_precision"] == str(
        FixedFormat(
            built["reports"]["parent"].scanned.total_bits,
            built["reports"]["parent"].scanned.integer_bits,
        )
    )
    assert parent["lut_tool"] == child["lut_tool"]
    csv = (tmp_path / "summary.csv").read_text().splitlines()
    assert len(csv) == 3 and csv[0].startswith("model,")
    md = (tmp_path / "summary.md").read_text()
    assert "| parent |" in md and "## Findings" in md
    assert "0 mismatches" in md  # generated from the checks, not a fixed sentence
    for plot in (
        "resources_vs_pruning",
        "latency_vs_pruning",
        "roc_float_vs_firmware",
        "precision_scan",
    ):
        png = tmp_path / f"{plot}.png"
        assert png.stat().st_size > 10_000, plot
        height = int.from_bytes(png.read_bytes()[20:24], "big")
        assert height <= 660, f"{plot} is {height} px tall"


NEXTPNR_MISSING = synthesis.nextpnr_unavailable_reason()


@pytest.mark.skipif(NEXTPNR_MISSING is not None, reason=f"optional nextpnr-ecp5: {NEXTPNR_MISSING}")
def test_nextpnr_ecp5_place_and_route(built: dict[str, Any], tmp_path: Path) -> None:
    sources = rtl.verilog_sources(built["work"] / "fw/child/rtl")
    result = synthesis.run_nextpnr_ecp5(sources, rtl.PROJECT_NAME, 5.0, tmp_path)
    assert result["fmax_mhz"] > 10.0  # a few adder levels per stage on an ECP5: tens of MHz
    assert result["lut4"] > 0 and result["ff"] > 0 and result["dsp"] == 0
