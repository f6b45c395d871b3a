"""Generation stage: the physics of the generated samples, determinism, and error handling."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from deeppp.config import ConfigError, validate_config
from deeppp.contracts import TruthRole
from deeppp.rootio import read_provenance, read_tree
from generation import chunk_seed, generate_chunk, pythia_settings

HIGGS_MASS_GEV = 125.0
SQRT_S_GEV = 14000.0


def _mass(px, py, pz, e):
    return np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0.0))


def _truth(path: Path, role: int) -> ak.Array:
    events = read_tree(path, "events", ["truth_role"])
    return events[[f for f in events.fields if f.startswith("truth_")]][events.truth_role == role]


# --- signal ---------------------------------------------------------------------------------------


def test_signal_has_one_higgs_at_125_gev(signal_events_file):
    higgs = _truth(signal_events_file, TruthRole.HIGGS)
    assert ak.all(ak.num(higgs.truth_pid) == 1), (
        "every signal event holds exactly one (last-copy) Higgs"
    )
    mass = _mass(*(ak.flatten(higgs[f"truth_{c}"]) for c in ("px", "py", "pz", "e")))
    assert np.median(mass) == pytest.approx(HIGGS_MASS_GEV, abs=0.1)
    assert np.all(np.abs(mass - HIGGS_MASS_GEV) < 1.0), "SM Higgs width is 4 MeV"


def test_higgs_decays_to_b_bbar_with_the_higgs_mass(signal_events_file):
    bquarks = _truth(signal_events_file, TruthRole.HIGGS_B)
    pids = ak.sort(bquarks.truth_pid)
    assert ak.all(ak.num(pids) == 2)
    assert ak.all(pids[:, 0] == -5) and ak.all(pids[:, 1] == 5), "H -> b bbar only"
    pair = {c: ak.sum(bquarks[f"truth_{c}"], axis=1) for c in ("px", "py", "pz", "e")}
    mass = _mass(*(ak.to_numpy(pair[c]) for c in ("px", "py", "pz", "e")))
    assert np.all(np.abs(mass - HIGGS_MASS_GEV) < 1.0), "the two b quarks rebuild the Higgs"


def test_recoiling_quark_is_a_b_never_a_c(signal_events_file):
    recoil = _truth(signal_events_file, TruthRole.HARD_PARTON)
    assert ak.all(ak.num(recoil.truth_pid) == 1), "g b -> H b has one outgoing parton besides the H"
    assert set(np.abs(ak.flatten(recoil.truth_pid)).tolist()) == {5}, "c g -> H c must be vetoed"
    record = read_provenance(signal_events_file)
    assert record["n_vetoed"] > 0, "qg2Hq produces c g -> H c, which must have been seen and vetoed"
    assert 0.0 < record["vetoed_fraction"] < 0.3
    assert record["n_events"] == len(read_tree(signal_events_file, "events", ["event_number"]))


def test_b_hadrons_fly_millimetres(signal_events_file):
    events = read_tree(signal_events_file, "events", ["hadrons_pid", "hadrons_dx"])
    pid = np.abs(ak.flatten(events.hadrons_pid).to_numpy())
    is_b = ((pid // 100) % 10 == 5) | ((pid // 1000) % 10 == 5)
    lxy = np.hypot(
        ak.flatten(events.hadrons_dx - events.hadrons_vx).to_numpy(),
        ak.flatten(events.hadrons_dy - events.hadrons_vy).to_numpy(),
    )
    assert is_b.sum() >= 2 * 0.9 * len(events), "about two weakly decaying b hadrons per event"
    assert 1.0 < np.median(lxy[is_b]) < 15.0, "c*tau ~ 0.45 mm times a boost of order 10"
    # charm hadrons are shorter lived than b hadrons
    assert np.median(lxy[~is_b]) < np.median(lxy[is_b])


def test_final_state_conserves_four_momentum_and_charge(signal_events_file):
    events = read_tree(signal_events_file, "events", ["particles_charge"])
    # float32 storage: ~500 particles, each rounded at 6e-8 relative precision
    assert np.allclose(ak.to_numpy(ak.sum(events.particles_px, axis=1)), 0.0, atol=2e-2)
    assert np.allclose(ak.to_numpy(ak.sum(events.particles_py, axis=1)), 0.0, atol=2e-2)
    assert np.allclose(ak.to_numpy(ak.sum(events.particles_e, axis=1)), SQRT_S_GEV, rtol=1e-5)
    # two protons in, so the final-state charge sum is +2 (checks the particleData charge map)
    assert np.all(ak.to_numpy(ak.sum(events.particles_charge, axis=1)) == pytest.approx(2.0))


def test_file_is_root_readable_with_shared_counters(signal_events_file):
    import uproot

    with uproot.open(signal_events_file) as f:
        tree = f["events"]
        assert tree.classname == "TTree"
        for counter in ("nparticles", "ntruth", "nhadrons"):
            assert counter in tree
        assert tree["particles_px"].count_branch.name == "nparticles"


def test_provenance_records_generator_state(signal_events_file):
    record = read_provenance(signal_events_file)
    assert record["stage"] == "generation"
    assert record["seed"] == 1101
    assert record["pythia_version"] == "8.317"
    assert record["sigma_gen_mb"] > 0 and 0 < record["sigma_err_mb"] < record["sigma_gen_mb"]
    assert record["n_tried"] >= record["n_accepted"] >= record["n_events"]
    assert "HiggsSM:qg2Hq = on" in record["settings"]
    assert "25:onIfAny = 5" in record["settings"]
    assert record["versions"]["pythia8mc"] == "8.317.2"


# --- background -----------------------------------------------------------------------------------


def test_background_has_no_higgs_and_respects_pthat_min(background_events_file, default_config):
    events = read_tree(background_events_file, "events", ["truth_pid"])
    assert not ak.any(events.truth_pid == 25)
    assert not ak.any(events.truth_role == TruthRole.HIGGS)
    partons = _truth(background_events_file, TruthRole.HARD_PARTON)
    assert ak.all(ak.num(partons.truth_pid) == 2), "QCD 2 -> 2"
    pt = np.hypot(partons.truth_px, partons.truth_py)
    leading_pt = ak.to_numpy(ak.max(pt, axis=1))
    assert leading_pt.min() >= default_config["generation"]["pthat_min_gev"] * (1 - 1e-6)
    assert read_provenance(background_events_file)["n_vetoed"] == 0


def test_biased_events_carry_the_inverse_bias_as_weight(background_events_file, default_config):
    """weight x (pTHat / pTHatMin)^power = 1: the over-sampling of high pTHat is undone exactly,
    so weighted distributions are the physical ones (float32 precision)."""
    generation = default_config["generation"]
    power = generation["pthat_bias_power"]
    assert power > 0, "the default samples are biased"
    events = read_tree(background_events_file, "events", ["pthat", "weight"])
    pthat = ak.to_numpy(events.pthat).astype(np.float64)
    weight = ak.to_numpy(events.weight).astype(np.float64)
    np.testing.assert_allclose(
        weight * (pthat / generation["pthat_min_gev"]) ** power, 1.0, rtol=1e-3
    )
    assert np.median(pthat) > 1.3 * generation["pthat_min_gev"], "high pTHat over-sampled"


# --- determinism ----------------------------------------------------------------------------------


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_same_bytes_different_seed_different_events(tmp_path, default_config):
    gen = default_config["generation"]
    a = generate_chunk("background", 30, 99, tmp_path / "a.root", gen, progress=False)
    b = generate_chunk("background", 30, 99, tmp_path / "b.root", gen, progress=False)
    c = generate_chunk("background", 30, 100, tmp_path / "c.root", gen, progress=False)
    assert _digest(a.path) == _digest(b.path)
    first = read_tree(a.path, "events", ["particles_px"])
    other = read_tree(c.path, "events", ["particles_px"])
    assert not ak.all(ak.num(first.particles_px) == ak.num(other.particles_px))


def test_chunk_seeds_are_distinct_and_in_pythia_range():
    seeds = {
        chunk_seed(7, process, chunk)
        for process in ("signal", "background")
        for chunk in range(200)
    }
    assert len(seeds) == 400
    assert all(1 <= s <= 900_000_000 for s in seeds)
    assert chunk_seed(7, "signal", 0) == chunk_seed(7, "signal", 0)


def test_settings_come_from_config():
    config = validate_config(
        {
            "seed": 1,
            "generation": {
                "pthat_min_gev": 400.0,
                "limit_tau0_mm": None,
                "extra_settings": {"background": ["PartonLevel:MPI = off"]},
            },
        }
    )
    settings = pythia_settings("background", 5, config["generation"])
    assert "PhaseSpace:pTHatMin = 400.0" in settings
    assert "PartonLevel:MPI = off" in settings
    assert not any(s.startswith("ParticleDecays:limitTau0") for s in settings)
    assert "PhaseSpace:bias2SelectionRef = 400.0" in settings


def test_pthat_threshold_per_process_and_bias_power():
    config = validate_config(
        {
            "seed": 1,
            "generation": {
                "processes": {
                    "signal": {"chunks": 1, "events_per_chunk": 10, "pthat_min_gev": 175.0},
                    "background": {"chunks": 1, "events_per_chunk": 10},
                },
                "pthat_min_gev": 135.0,
                "pthat_bias_power": 2.5,
            },
        }
    )
    signal = pythia_settings("signal", 5, config["generation"])
    background = pythia_settings("background", 5, config["generation"])
    assert "PhaseSpace:pTHatMin = 175.0" in signal
    assert "PhaseSpace:bias2SelectionRef = 175.0" in signal
    assert "PhaseSpace:pTHatMin = 135.0" in background
    assert "PhaseSpace:bias2SelectionPow = 2.5" in background
    config["generation"]["pthat_bias_power"] = 0.0
    unweighted = pythia_settings("background", 5, config["generation"])
    assert not any(s.startswith("PhaseSpace:bias2") for s in unweighted)
    assert not any("pTHatMin" in s for s in pythia_settings("minbias", 5, config["generation"]))


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "key"),
    [
        (
            {
                "seed": 1,
                "generation": {"processes": {"signal": {"chunks": 1, "events_per_chunk": -5}}},
            },
            "generation.processes.signal.events_per_chunk",
        ),
        (
            {
                "seed": 1,
                "generation": {"processes": {"higgs": {"chunks": 1, "events_per_chunk": 5}}},
            },
            "generation.processes.higgs",
        ),
        ({"seed": 1, "generation": {"pthat_min_gev": "high"}}, "generation.pthat_min_gev"),
        ({"seed": 1, "generation": {"pthatmin": 250}}, "generation.pthatmin"),
    ],
)
def test_bad_config_is_rejected_naming_the_key(config, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")) as err:
        validate_config(config)
    assert "\n" not in str(err.value)


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "generation", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--process", "signal", "--events", "0"], "--events must be positive"),
        (["--process", "signal", "--events", "-3"], "--events must be positive"),
        (["--process", "higgs", "--events", "5"], "invalid choice: 'higgs'"),
        (
            ["--process", "signal", "--events", "5", "--setting", "Foo:bar = 1"],
            "Pythia rejected setting 'Foo:bar = 1'",
        ),
        (
            ["--process", "signal", "--events", "5", "--setting", "PhaseSpace:pTHatMin = abc"],
            "value not meaningful",
        ),
    ],
)
def test_bad_cli_arguments_fail_with_one_line_and_no_file(tmp_path, args, message):
    out = tmp_path / "out.root"
    result = _run_cli(*args, "--out", str(out), "--no-progress")
    assert result.returncode != 0
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_unwritable_output_path_and_bad_config_file_fail_cleanly(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    result = _run_cli("--process", "background", "--events", "5", "--out", str(blocker / "x.root"))
    assert result.returncode != 0 and "cannot write" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "seed: 1\ngeneration:\n  processes:\n    signal: {chunks: 1, events_per_chunk: 0}\n"
    )
    out = tmp_path / "out.root"
    result = _run_cli("--process", "signal", "--config", str(bad), "--out", str(out))
    assert result.returncode != 0
    assert "generation.processes.signal.events_per_chunk" in result.stderr
    assert not out.exists()


def test_cli_writes_the_configured_chunk(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(
        "seed: 3\ngeneration:\n  processes:\n    background: {chunks: 1, events_per_chunk: 12}\n"
    )
    out = tmp_path / "events" / "000.root"
    result = _run_cli(
        "--process", "background", "--config", str(config), "--out", str(out), "--no-progress"
    )
    assert result.returncode == 0, result.stderr
    record = read_provenance(out)
    assert record["n_events"] == 12
    assert record["seed"] == chunk_seed(3, "background", 0)
    assert [p.name for p in out.parent.iterdir()] == ["000.root"], "no temporary files left behind"
