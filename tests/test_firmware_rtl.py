"""firmware stage end to end on tiny taggers: hls4ml, da4ml, numpy reference and Verilator agree
bit by bit; Yosys counts are numbers of the size da4ml estimates; pruning removes LUTs; reports
name their tools; rebuilds are byte-identical; the summary compares like with like.

A parent 8-8-1 tagger and its child with half of the hidden nodes removed (the four of smallest
|w_out| x ||w_in||) are built once per module. Verilator and Yosys tests are skipped, with the
reason, where the tool is not installed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from test_firmware import N_FEATURES, N_INFORMATIVE, NAMES, trained_mlp
from torch import nn

from deeppp.config import validate_config
from deeppp.provenance import provenance
from deeppp.rootio import read_tree, write_root
from firmware import rtl, synthesis
from firmware.build import build_firmware
from firmware.fixed_point import FixedFormat, QuantisedNetwork
from firmware.network import dense_network
from firmware.report_values import TOOLS
from firmware.settings import FirmwareSettings
from firmware.summary import lut_ratio, write_summary
from ml.model_io import load_model, save_model
from ml.synthetic import synthetic_jets

VERILATOR_MISSING = rtl.verilator_unavailable_reason()
YOSYS_MISSING = synthesis.yosys_unavailable_reason()
needs_verilator = pytest.mark.skipif(
    VERILATOR_MISSING is not None, reason=f"Verilator: {VERILATOR_MISSING}"
)
needs_yosys = pytest.mark.skipif(YOSYS_MISSING is not None, reason=f"Yosys: {YOSYS_MISSING}")
N_TEST_JETS = 1000

pytestmark = (
    pytest.mark.slow
)  # one module fixture: 2 hls4ml compiles, 1 Verilator build, 3 Yosys runs


def prune_hidden(parent: nn.Sequential, keep: int) -> nn.Sequential:
    """Drop the hidden nodes of an n-h-1 net with the smallest |w_out| x ||w_in|| (no retraining)."""
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


def _config(firmware: dict[str, Any]) -> dict[str, Any]:
    return validate_config({"seed": 11, "firmware": {"progress": False, **firmware}}, source="test")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("firmware")
    parent, norm = trained_mlp([N_FEATURES, 8, 1])
    child = prune_hidden(parent, keep=4)
    for name, net in (("parent", parent), ("child", child)):
        save_model(
            work / "models" / name / "model.pt",
            net,
            NAMES,
            norm["mean"],
            norm["std"],
            {"stage": "test"},
        )
    jets = synthetic_jets(N_TEST_JETS, N_FEATURES, N_INFORMATIVE, seed=99)
    write_root(work / "test.root", {"jets": jets}, provenance("synthetic", None, 99))
    val = synthetic_jets(N_TEST_JETS, N_FEATURES, N_INFORMATIVE, seed=98)
    write_root(work / "val.root", {"jets": val}, provenance("synthetic", None, 98))

    tools = {
        "verilator": "off" if VERILATOR_MISSING else "on",
        "yosys": "off" if YOSYS_MISSING else "on",
    }
    parent_config = _config({"rtl": tools})
    reports = {
        "parent": build_firmware(
            work / "models/parent/model.pt",
            work / "test.root",
            work / "fw/parent",
            FirmwareSettings.from_config(parent_config),
            config=parent_config,
            model_name="parent",
            scan_path=work / "val.root",
        )
    }
    chosen = reports["parent"]["precision"]["chosen"]
    child_config = _config(
        {
            "precision": {
                "mode": "fixed",
                "total_bits": chosen["total_bits"],
                "integer_bits": chosen["integer_bits"],
            },
            "rtl": {"verilator": "off", "yosys": tools["yosys"]},
        }
    )
    for out in ("child", "child_again"):
        reports[out] = build_firmware(
            work / "models/child/model.pt",
            work / "test.root",
            work / "fw" / out,
            FirmwareSettings.from_config(child_config),
            config=child_config,
            model_name="child",
        )
    return {
        "work": work,
        "reports": reports,
        "fmt": FixedFormat(chosen["total_bits"], chosen["integer_bits"]),
    }


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
    figures = _walk_figures(report)
    assert len(figures) >= 10
    for path, entry in figures:
        if entry["value"] is None:
            assert entry["tool"] is None and entry["skipped"], path
        else:
            assert entry["tool"] in TOOLS, path
    # No vendor tools here: skipped with a reason, no numbers.
    synthesis_report = report["hls4ml"]["synthesis"]
    assert "skipped" in synthesis_report and "lut" not in synthesis_report
    assert report["rtl"]["resources"]["latency_cycles"]["tool"] == "da4ml-pipeline"
    assert report["rtl"]["estimate"]["lut"]["tool"] == "da4ml-estimate"


def test_hls4ml_numpy_da4ml_agree_bit_by_bit(built: dict[str, Any]) -> None:
    """The scores file against an independent recomputation from the saved model."""
    work, fmt = built["work"], built["fmt"]
    sequential, meta = load_model(work / "models/parent/model.pt")
    jets = read_tree(work / "test.root", "jets", required=NAMES)
    raw = np.stack([np.asarray(jets[n], dtype=np.float32) for n in NAMES], axis=1)
    x = ((raw - meta["feature_mean"].numpy()) / meta["feature_std"].numpy()).astype(np.float64)
    expected = QuantisedNetwork.from_network(dense_network(sequential), fmt).logits(x)[:, 0]
    scores = read_tree(
        work / "fw/parent/scores.root", "jets", required=["logit_hls4ml", "logit_rtl"]
    )
    for column in ("logit_fixed_point", "logit_hls4ml", "logit_rtl"):
        assert np.array_equal(np.asarray(scores[column]), expected), column
    report = built["reports"]["parent"]
    assert report["hls4ml"]["emulation"]["mismatches_vs_fixed_point"] == 0
    assert report["rtl"]["emulation"]["mismatches_vs_fixed_point"] == 0
    # Precision chosen on the validation jets; on the test jets the firmware is still as good a
    # tagger (within the statistical precision of 1000 jets).
    assert report["precision"]["scan_jets"] == "val.root"
    assert report["fixed_point"]["auc"] > report["float"]["auc"] - 0.01
    assert report["float"]["auc"] > 0.85


@needs_verilator
def test_verilator_simulation_is_bit_exact_on_every_jet(built: dict[str, Any]) -> None:
    verilator = built["reports"]["parent"]["rtl"]["verilator"]
    assert verilator["tool"] == "verilator"
    assert verilator["n_jets"] == N_TEST_JETS
    assert verilator["mismatches_vs_emulator"] == 0
    # The simulation build (objects, shared library) is cleaned; the Verilog stays.
    rtl_dir = built["work"] / "fw/parent/rtl"
    assert not list(rtl_dir.glob("sim/*.so")) and not (rtl_dir / "sim/obj_dir").exists()
    assert (rtl_dir / "src/tagger.v").is_file()


@needs_yosys
def test_yosys_counts_are_numbers_of_da4ml_size(built: dict[str, Any]) -> None:
    rtl_report = built["reports"]["parent"]["rtl"]
    yosys = rtl_report["yosys"]
    for key in ("lut", "ff", "carry"):
        assert yosys[key]["tool"] == "yosys"
        assert isinstance(yosys[key]["value"], int) and yosys[key]["value"] > 0, key
    assert yosys["dsp"]["value"] == 0  # shift-and-add constant multiplications, no DSP blocks
    ratio = yosys["lut"]["value"] / rtl_report["estimate"]["lut"]["value"]
    assert 1 / 3 < ratio < 3, f"Yosys/da4ml LUT ratio {ratio:.2f}"
    assert rtl_report["resources"]["lut"] == yosys["lut"]


@needs_yosys
def test_pruned_child_uses_fewer_luts_than_parent(built: dict[str, Any]) -> None:
    parent, child = built["reports"]["parent"]["rtl"], built["reports"]["child"]["rtl"]
    assert child["yosys"]["lut"]["value"] < parent["yosys"]["lut"]["value"]
    assert child["yosys"]["ff"]["value"] <= parent["yosys"]["ff"]["value"]
    assert child["estimate"]["lut"]["value"] < parent["estimate"]["lut"]["value"]
    assert child["pipeline_stages"] <= parent["pipeline_stages"]


def test_latency_is_pipeline_stages_times_clock(built: dict[str, Any]) -> None:
    report = built["reports"]["parent"]
    resources = report["rtl"]["resources"]
    stages = report["rtl"]["pipeline_stages"]
    assert stages >= 2  # two layers cannot fit one stage of 5 adder delays
    assert resources["latency_cycles"]["value"] == stages
    assert resources["latency_ns"]["value"] == stages * report["clock_period_ns"]
    assert resources["initiation_interval"]["value"] == 1


def test_rebuild_is_byte_identical(built: dict[str, Any]) -> None:
    fw = built["work"] / "fw"
    for name in ("report.json", "scores.root", "rtl/src/tagger.v", "rtl/model/pipeline.json"):
        assert (fw / "child" / name).read_bytes() == (fw / "child_again" / name).read_bytes(), name
    # the whole HLS project too (hls4ml's random stamp, temporary path and pickled model removed);
    # only OutputDir names the directory each build was written to
    first = sorted(
        p.relative_to(fw / "child") for p in (fw / "child" / "hls").rglob("*") if p.is_file()
    )
    again = sorted(
        p.relative_to(fw / "child_again")
        for p in (fw / "child_again" / "hls").rglob("*")
        if p.is_file()
    )
    assert first == again
    assert not [p for p in first if p.suffix == ".so"], (
        "the compiled emulation library is a build artefact"
    )
    for relative in first:
        a, b = (
            (fw / d / relative).read_text(errors="replace").splitlines()
            for d in ("child", "child_again")
        )
        if relative.name == "hls4ml_config.yml":
            a, b = ([line for line in x if not line.startswith("OutputDir:")] for x in (a, b))
        assert a == b, relative
    assert not list(fw.glob("*/.build-*")), "temporary build directories left behind"


def test_summary_compares_like_with_like(built: dict[str, Any], tmp_path: Path) -> None:
    fw = built["work"] / "fw"
    rows = write_summary([fw / "parent", fw / "child"], tmp_path)
    assert [row["model"] for row in rows] == ["parent", "child"]
    csv = (tmp_path / "summary.csv").read_text().splitlines()
    assert len(csv) == 3 and csv[0].startswith("model,")
    assert "| parent |" in (tmp_path / "summary.md").read_text()
    child = rows[1]
    assert child["hidden_nodes"] == 4 and child["multiplications"] == N_FEATURES * 4 + 4
    assert child["pruned_fraction"] == pytest.approx(1 - 36 / 72)
    ratios = lut_ratio(rows, "child", "parent")
    assert 0 < ratios["da4ml-estimate"] < 1
    if YOSYS_MISSING is None:
        assert 0 < ratios["yosys"] < 1
    for plot in (
        "resources_vs_pruning",
        "latency_vs_pruning",
        "roc_float_vs_firmware",
        "precision_scan",
    ):
        assert (tmp_path / f"{plot}.png").stat().st_size > 10_000, plot


NEXTPNR_MISSING = synthesis.nextpnr_unavailable_reason()


@pytest.mark.skipif(NEXTPNR_MISSING is not None, reason=f"optional nextpnr-ecp5: {NEXTPNR_MISSING}")
def test_nextpnr_ecp5_place_and_route(built: dict[str, Any], tmp_path: Path) -> None:
    sources = rtl.verilog_sources(built["work"] / "fw/child/rtl")
    result = synthesis.run_nextpnr_ecp5(sources, rtl.PROJECT_NAME, 5.0, tmp_path)
    assert result["fmax_mhz"] > 10.0  # a few adder levels per stage on an ECP5: tens of MHz
    assert result["lut4"] > 0 and result["ff"] > 0 and result["dsp"] == 0
