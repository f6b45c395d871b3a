"""Reconstruction on real Pythia events (the shared 500-event samples of tests/conftest.py):
physics of the outputs, the 39 features, determinism, merge, plots and bad inputs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
from scipy import stats
from scipy.optimize import curve_fit

from deeppp.config import validate_config
from deeppp.rootio import write_root
from reconstruction import FEATURE_NAMES, detector, features, merge_features, reconstruct_chunk
from reconstruction.labels import FLAVOUR_B, FLAVOUR_LIGHT
from reconstruction.pileup import MinBiasLibrary
from reconstruction.pipeline import Settings, iterate_events, particles_of, reconstruct_batch

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def reco_config(default_config: dict) -> dict:
    return validate_config({"seed": default_config["seed"]}, source="test")


@pytest.fixture(scope="session")
def features_files(
    tmp_path_factory, reco_config, signal_events_file, background_events_file
) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("features")
    files = {}
    for process, events in (("signal", signal_events_file), ("background", background_events_file)):
        files[process] = out / process / "000.root"
        reconstruct_chunk(events, files[process], reco_config, process, 0, progress=False)
    return files


@pytest.fixture(scope="session")
def jets_table(features_files) -> dict[str, np.ndarray]:
    tables = [uproot.open(p)["jets"].arrays(library="np") for p in features_files.values()]
    return {k: np.concatenate([t[k] for t in tables]) for k in tables[0]}


@pytest.fixture(scope="session")
def track_jets_table(features_files) -> ak.Array:
    return ak.concatenate([uproot.open(p)["track_jets"].arrays() for p in features_files.values()])


# ---------------------------------------------------------------------------------------------
# physics


def test_signal_trimmed_mass_peak_at_its_documented_position(jets_table):
    """The signal peak sits within 5 % of where the detector card documents it: the most
    probable calibrated mass of Higgs jets measured by ``reconstruction calibrate``, which is not
    125 GeV (the QCD-derived mass scale, semileptonic b decays, radiation outside the jet)."""
    from reconstruction.calibration import mass_peak_gev

    expected = detector.load_detector_card()["jet_calibration"]["higgs_jet_mass_peak_gev"]
    signal = jets_table["label"] == 1
    assert signal.sum() > 150 and (~signal).sum() > 500, "enough jets for a peak"
    signal_peak = mass_peak_gev(jets_table["fatjet_mass"][signal])
    background_peak = mass_peak_gev(jets_table["fatjet_mass"][~signal])
    assert signal_peak == pytest.approx(expected, rel=0.05), f"signal peak at {signal_peak} GeV"
    assert not 0.9 * expected <= background_peak <= 1.1 * expected, (
        f"background peak at {background_peak} GeV"
    )
    core = jets_table["fatjet_mass"][signal]
    assert np.mean((core > 90) & (core < 150)) > 0.4, "most Higgs jets in the mass window"
    assert (
        np.mean(
            (jets_table["fatjet_mass"][~signal] > 90) & (jets_table["fatjet_mass"][~signal] < 150)
        )
        < 0.3
    )


def test_large_r_selection_and_substructure_separate(jets_table):
    assert np.all(jets_table["jet_pt"] > 250.0) and np.all(np.abs(jets_table["jet_eta"]) < 2.0)
    signal = jets_table["label"] == 1
    # Two-prong Higgs jets: smaller D2 and tau21 than QCD jets (medians).
    for name in ("fatjet_d2", "fatjet_tau21"):
        assert np.median(jets_table[name][signal]) < 0.85 * np.median(jets_table[name][~signal]), (
            name
        )
    assert np.median(jets_table["fatjet_sqrt_d12"][signal]) > 1.5 * np.median(
        jets_table["fatjet_sqrt_d12"][~signal]
    )


def test_b_labelled_track_jets_have_displaced_tracks_and_sv_mass(track_jets_table):
    flavour = track_jets_table.flavour
    b_jets, light_jets = (
        track_jets_table[flavour == FLAVOUR_B],
        track_jets_table[flavour == FLAVOUR_LIGHT],
    )
    assert len(b_jets) > 200 and len(light_jets) > 200

    def mean_abs_sd0(jets):
        return float(np.mean(np.abs(ak.flatten(jets.trk_sd0[jets.trk_btag == 1]))))

    assert mean_abs_sd0(b_jets) > 2.0 * mean_abs_sd0(light_jets)
    sv_b, sv_light = ak.to_numpy(b_jets.sv_mass), ak.to_numpy(light_jets.sv_mass)
    assert np.mean(sv_b > 0) > 0.4, "most b jets have a displaced two-track system"
    assert np.mean(sv_b > 0) > 5 * np.mean(sv_light > 0)
    assert np.mean(sv_b) > 5 * np.mean(sv_light)
    # Charm is in between in lifetime and in mass reach: SV masses of b jets go above the D mass.
    assert np.mean(sv_b > 2.0) > 0.1


def test_impact_parameter_pull_on_prompt_tracks_has_unit_width(signal_events_file, reco_config):
    card = detector.load_detector_card()
    pulls = {"d0": [], "z0": []}
    for index, batch in enumerate(iterate_events(signal_events_file, 500)):
        tracks = detector.simulate_tracks(
            particles_of(batch), card, np.random.default_rng([3, index])
        )
        prompt = tracks["production_radius_mm"] < 1e-6
        assert prompt.sum() > 10_000
        for name in pulls:
            residual = tracks[f"{name}_mm"] - tracks[f"{name}_true_mm"]
            pulls[name].append((residual / tracks[f"{name}_sigma_mm"])[prompt])
    for name, values in pulls.items():
        pull = np.concatenate(values)
        counts, edges = np.histogram(pull, bins=np.linspace(-4, 4, 81))
        centres = 0.5 * (edges[1:] + edges[:-1])

        def gauss(x, norm, mean, width):
            return norm * np.exp(-0.5 * ((x - mean) / width) ** 2)

        (_, mean, width), _ = curve_fit(
            gauss,
            centres,
            counts,
            p0=(counts.max(), 0.0, 1.0),
            sigma=np.sqrt(np.maximum(counts, 1)),
        )
        assert abs(width) == pytest.approx(1.0, abs=0.05), f"{name} pull width {width:.3f}"
        assert abs(mean) < 0.05
    # Prompt tracks really have no true impact parameter; displaced ones do.
    assert np.all(np.abs(tracks["d0_true_mm"][prompt]) < 1e-6)
    assert np.mean(np.abs(tracks["d0_true_mm"][~prompt]) > 0.01) > 0.3


def test_calibration_constants_in_the_card_are_reproduced(
    background_events_file, reco_config, minbias_library_file
):
    """The card's scales were derived at the default config's pile-up (mu = 20, subtracted)."""
    from reconstruction.calibration import derive_calibration

    card = detector.load_detector_card()["jet_calibration"]
    config = validate_config(
        {"seed": reco_config["seed"], "reconstruction": {"pileup": {"mu": 20.0}}}
    )
    result = derive_calibration(
        [background_events_file], config, pileup_library=minbias_library_file
    )
    assert result.n_matched_jets > 500
    assert result.energy_scale == pytest.approx(
        card["large_r_energy_scale"], abs=4 * result.pt_response_error + 0.005
    )
    assert result.mass_scale == pytest.approx(
        card["large_r_mass_scale"], abs=4 * result.mass_response_error + 0.01
    )


def test_light_jet_tracks_are_displaced_at_the_percent_level(track_jets_table):
    """ATLAS light-jet IP-tagger inputs have per-cent-level tails (V0s, conversions, material,
    fakes, resolution tails); with Gaussian resolution alone this was 0.15 %."""
    flavour = track_jets_table.flavour
    sd0 = {}
    for code in (FLAVOUR_B, FLAVOUR_LIGHT):
        jets = track_jets_table[flavour == code]
        sd0[code] = ak.to_numpy(ak.flatten(jets.trk_sd0[jets.trk_btag == 1]))
    light_fraction = np.mean(sd0[FLAVOUR_LIGHT] > 3)
    assert light_fraction >= 0.01, f"light-jet tracks with S_d0 > 3: {100 * light_fraction:.2f} %"
    assert light_fraction < 0.06
    assert np.mean(sd0[FLAVOUR_B] > 3) > 5 * light_fraction


def test_prompt_tracks_have_the_card_resolution_tails(signal_events_file):
    """Generator-level prompt tracks beyond 3 sigma: the Gaussian 0.27 % plus the tail component
    of the card; a simulation without tails fails this."""
    card = detector.load_detector_card()
    tails = card["tracking"]["impact_parameter_tails"]
    beyond, total = 0, 0
    for index, batch in enumerate(iterate_events(signal_events_file, 500)):
        tracks = detector.simulate_tracks(
            particles_of(batch), card, np.random.default_rng([13, index])
        )
        prompt = (tracks["production_radius_mm"] < 1e-6) & (
            tracks["origin"] == detector.ORIGIN_GENERATOR
        )
        pull = (tracks["d0_mm"] - tracks["d0_true_mm"]) / tracks["d0_sigma_mm"]
        beyond += int(np.sum(np.abs(pull[prompt]) > 3))
        total += int(prompt.sum())
    f, k = tails["fraction"], tails["width_scale"]
    expected = (1 - f) * 2 * stats.norm.sf(3) + f * 2 * stats.norm.sf(3 / k)
    assert beyond / total == pytest.approx(expected, abs=4 * np.sqrt(expected / total))
    assert beyond / total > 2.5 * 2 * stats.norm.sf(3)


def test_primary_vertex_resolution_on_hard_scatter_events(features_files):
    """ATLAS: ~30 um longitudinal resolution for high-multiplicity events, better than 20 um
    transverse (Eur. Phys. J. C 77 (2017) 332)."""
    summary = uproot.open(features_files["background"])["event_summary"].arrays(library="np")
    dz = summary["vertex_z_mm"] - summary["true_vertex_z_mm"]
    dx = summary["vertex_x_mm"] - summary["true_vertex_x_mm"]
    assert 1.4826 * np.median(np.abs(dz - np.median(dz))) < 0.05
    assert np.std(dx) < 0.020
    assert np.mean(np.abs(dz) > 1.0) < 0.01, "the hard scatter is found"
    assert np.all(summary["n_pileup"] == 0)
    assert np.std(summary["true_vertex_z_mm"]) == pytest.approx(
        detector.load_detector_card()["beam_spot"]["sigma_z_mm"], rel=0.15
    )


def test_features_do_not_depend_on_the_truth_record(background_events_file, reco_config):
    """Scrambling the truth (hard partons, Higgs, b/c hadrons) between events changes the track-jet
    flavour labels but no feature of the background jets: no truth leaks into the features."""
    settings = Settings.from_config(reco_config["reconstruction"])
    batch = next(iterate_events(background_events_file, 200))
    rng = np.random.default_rng(5)
    permutation = rng.permutation(len(batch))
    scrambled = ak.Array(
        {
            field: batch[field][permutation]
            if field.startswith(("truth_", "hadrons_"))
            else batch[field]
            for field in batch.fields
        }
    )
    a = reconstruct_batch(batch, "background", 0, settings, np.random.default_rng(3))
    b = reconstruct_batch(scrambled, "background", 0, settings, np.random.default_rng(3))
    for name in FEATURE_NAMES:
        np.testing.assert_array_equal(a.jets[name], b.jets[name], err_msg=name)
    assert not np.array_equal(a.track_jets["flavour"], b.track_jets["flavour"]), (
        "the test must be sensitive: the labels do change"
    )


@pytest.fixture(scope="session")
def minbias_library_file(tmp_path_factory, default_config) -> Path:
    from generation import generate_chunk

    out = tmp_path_factory.mktemp("minbias") / "minbias.root"
    generate_chunk("minbias", 300, 3303, out, default_config["generation"], progress=False)
    return out


def test_pileup_is_subtracted_and_kept_out_of_the_track_jets(
    signal_events_file, reco_config, minbias_library_file
):
    """The same signal events at mu = 0 and mu = 40: rho*A subtraction keeps the trimmed-jet pT
    and mass scale; track-to-vertex association keeps pile-up tracks out of the b-tagging."""
    batch = next(iterate_events(signal_events_file, 250))
    results = {}
    for mu in (0.0, 40.0):
        config = validate_config(
            {"seed": reco_config["seed"], "reconstruction": {"pileup": {"mu": mu}}}
        )
        settings = Settings.from_config(config["reconstruction"])
        library = (
            MinBiasLibrary.load(minbias_library_file, settings.card["magnetic_field"])
            if mu > 0
            else None
        )
        results[mu] = reconstruct_batch(
            batch, "signal", 0, settings, np.random.default_rng(8), library
        )
    quiet, busy = results[0.0], results[40.0]
    assert busy.event_summary["n_pileup"].mean() == pytest.approx(40, rel=0.05)
    assert busy.event_summary["rho_gev"].mean() > 10 * max(
        quiet.event_summary["rho_gev"].mean(), 0.1
    )
    assert np.mean(busy.event_summary["n_tracks"]) > 3 * np.mean(quiet.event_summary["n_tracks"])
    # same events, same Higgs jets: median pT and mass within a few per cent
    for name in ("fatjet_pt", "fatjet_mass"):
        ratio = np.median(busy.jets[name]) / np.median(quiet.jets[name])
        assert ratio == pytest.approx(1.0, abs=0.05), (name, ratio)
    # pile-up tracks: ~45 % of all tracks at mu = 40, a few per cent of the b-tagging tracks
    trk = busy.track_jets["trk"]
    pileup_in_btagging = np.mean(ak.to_numpy(ak.flatten(trk.interaction[trk.btag == 1])) > 0)
    assert pileup_in_btagging < 0.05
    assert (
        np.mean(busy.event_summary["n_hard_scatter_tracks"] / busy.event_summary["n_tracks"]) < 0.6
    )


# ---------------------------------------------------------------------------------------------
# features file contract


def test_exactly_39_finite_features_with_defaults(
    jets_table, features_files, signal_events_file, background_events_file
):
    assert len(FEATURE_NAMES) == 39 and len(set(FEATURE_NAMES)) == 39
    keys = uproot.open(features_files["signal"])["jets"].keys()
    assert keys[:39] == list(FEATURE_NAMES)
    for name in (
        "label",
        "weight",
        "jet_pt",
        "jet_eta",
        "jet_phi",
        "jet_mass",
        "event_number",
        "chunk",
    ):
        assert name in keys
    for name in FEATURE_NAMES:
        assert np.all(np.isfinite(jets_table[name])), name
    n_vr = jets_table["n_vr_track_jets"]
    assert (n_vr < 3).any() and (n_vr >= 3).any(), (
        "sample covers missing and present third track jets"
    )
    for i in (1, 2, 3):
        missing = n_vr < i
        for feature in features.FEATURES:
            if feature.name.startswith(f"trackjet{i}_"):
                assert np.all(jets_table[feature.name][missing] == feature.default), feature.name
        present = ~missing
        assert np.all(jets_table[f"trackjet{i}_n_tracks"][present] >= 2)
        assert np.all(jets_table[f"trackjet{i}_pt_fraction"][present] > 0)
        # a track jet whose tracks all fail the b-tagging selection keeps the sd0 default
        sd0_1 = jets_table[f"trackjet{i}_sd0_1"][present]
        assert np.all((np.abs(sd0_1) <= 40.0) | (sd0_1 == -50.0))
        assert np.mean(sd0_1 == -50.0) < 0.05
    # A track jet with fewer than k b-tagging tracks gets the sd0_k default.
    assert np.any(jets_table["trackjet1_sd0_3"][n_vr >= 1] == -50.0)
    # Per-chunk files carry the generator weight of the jet's event; the merge flattens.
    for process, events_file in (
        ("signal", signal_events_file),
        ("background", background_events_file),
    ):
        jets = uproot.open(features_files[process])["jets"].arrays(
            ["label", "weight", "event_number"], library="np"
        )
        event_weight = uproot.open(events_file)["events"]["weight"].array(library="np")
        np.testing.assert_array_equal(jets["weight"], event_weight[jets["event_number"]])
        assert np.all(jets["label"] == (process == "signal"))


def test_features_doc_matches_code():
    assert (REPO / "docs" / "features.md").read_text() == features.feature_table_markdown()


def test_same_seed_same_bytes_other_seed_differs(
    tmp_path, signal_events_file, reco_config, features_files
):
    again = tmp_path / "again.root"
    reconstruct_chunk(signal_events_file, again, reco_config, "signal", 0, progress=False)
    assert again.read_bytes() == features_files["signal"].read_bytes()
    other = tmp_path / "other.root"
    reconstruct_chunk(
        signal_events_file,
        other,
        {**reco_config, "seed": reco_config["seed"] + 1},
        "signal",
        0,
        progress=False,
    )
    a = uproot.open(other)["jets"]["fatjet_mass"].array(library="np")
    b = uproot.open(features_files["signal"])["jets"]["fatjet_mass"].array(library="np")
    assert len(a) != len(b) or not np.array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# merge


def test_merge_splits_deterministically_and_flattens_the_background(
    tmp_path, features_files, reco_config
):
    files = [features_files["signal"], features_files["background"]]
    counts = merge_features(files, tmp_path / "a", reco_config)
    merge_features(list(reversed(files)), tmp_path / "b", reco_config)
    for split in ("train", "val", "test"):
        assert (tmp_path / "a" / f"{split}.root").read_bytes() == (
            tmp_path / "b" / f"{split}.root"
        ).read_bytes()
    tables = {
        s: uproot.open(tmp_path / "a" / f"{s}.root")["jets"].arrays(library="np") for s in counts
    }
    total = sum(counts.values())
    assert counts["train"] / total == pytest.approx(0.6, abs=0.07)
    # No event in two splits.
    keys = {
        s: set(zip(t["label"], t["chunk"], t["event_number"], strict=True))
        for s, t in tables.items()
    }
    assert (
        not keys["train"] & keys["val"]
        and not keys["train"] & keys["test"]
        and not keys["val"] & keys["test"]
    )
    provenance = json.loads(str(uproot.open(tmp_path / "a" / "train.root")["provenance"]))
    assert provenance["feature_names"] == list(FEATURE_NAMES)
    # Weighted background pT spectrum equals the signal's (normalised, in the weighting bins).
    everything = {k: np.concatenate([t[k] for t in tables.values()]) for k in tables["train"]}
    signal = everything["label"] == 1
    # Signal jets keep their generator weight (scaled to mean 1), background jets get it times
    # the flattening factor of their (pT, |eta|) bin.
    assert everything["weight"][signal].mean() == pytest.approx(1.0, rel=1e-5)
    assert everything["weight"][~signal].mean() == pytest.approx(1.0, rel=1e-5)
    edges = np.array([*reco_config["reconstruction"]["weights"]["pt_bin_edges_gev"][:6], 2000.0])
    pt = np.clip(everything["jet_pt"], edges[0], edges[-1] - 1)
    h_sig, _ = np.histogram(pt[signal], bins=edges, weights=everything["weight"][signal])
    h_bkg_raw, _ = np.histogram(pt[~signal], bins=edges)
    h_bkg, _ = np.histogram(pt[~signal], bins=edges, weights=everything["weight"][~signal])
    sig_shape, bkg_shape, raw_shape = (
        h_sig / h_sig.sum(),
        h_bkg / h_bkg.sum(),
        h_bkg_raw / h_bkg_raw.sum(),
    )
    assert np.max(np.abs(bkg_shape - sig_shape)) < 0.01
    assert np.max(np.abs(raw_shape - sig_shape)) > 0.03, (
        "the test must be sensitive: raw spectra differ"
    )


def test_merge_rejects_bad_split_fractions(tmp_path, features_files, reco_config):
    from deeppp import DeepppError

    bad = {
        **reco_config,
        "reconstruction": {
            **reco_config["reconstruction"],
            "split": {"train": 0.7, "val": 0.2, "test": 0.2},
        },
    }
    with pytest.raises(DeepppError, match=r"reconstruction\.split"):
        merge_features([features_files["signal"]], tmp_path, bad)
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------------
# CLI, plots and bad inputs


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "reconstruction", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )


def test_cli_help():
    result = _cli("--help")
    assert result.returncode == 0
    for command in ("run", "merge", "plots", "calibrate"):
        assert command in result.stdout


def test_truncated_input_fails_naming_the_file(tmp_path, signal_events_file):
    truncated = tmp_path / "truncated.root"
    data = signal_events_file.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    out = tmp_path / "features" / "out.root"
    result = _cli(
        "run", "--events", truncated, "--out", out, "--process", "signal", "--no-progress"
    )
    assert result.returncode != 0
    assert "truncated.root" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists() and not (out.parent.exists() and list(out.parent.iterdir()))


def test_wrong_schema_input_fails_naming_the_file(tmp_path):
    wrong = tmp_path / "wrong.root"
    write_root(
        wrong,
        {
            "events": {
                "event_number": np.arange(3, dtype=np.int64),
                "particles": ak.zip({"px": ak.Array([[1.0], [2.0], [3.0]])}),
            }
        },
        {"stage": "test"},
    )
    out = tmp_path / "out.root"
    result = _cli(
        "run", "--events", wrong, "--out", out, "--process", "background", "--no-progress"
    )
    assert result.returncode != 0
    assert "wrong.root" in result.stderr and "particles_pid" in result.stderr
    assert not out.exists()
    # A features file is not an events file either, and vice versa for merge.
    result = _cli("merge", "--features", wrong, "--out-dir", tmp_path / "ds")
    assert result.returncode != 0 and "wrong.root" in result.stderr
    assert not (tmp_path / "ds").exists()


def test_process_mismatch_is_rejected(tmp_path, signal_events_file):
    result = _cli(
        "run",
        "--events",
        signal_events_file,
        "--out",
        tmp_path / "x.root",
        "--process",
        "background",
        "--no-progress",
    )
    assert result.returncode != 0 and "signal" in result.stderr


def test_plots(tmp_path, features_files):
    from PIL import Image

    from deeppp.contracts import RECONSTRUCTION_DATA_CAPTIONS, RECONSTRUCTION_PLOTS
    from reconstruction.plots import make_plots

    written = make_plots([features_files["signal"], features_files["background"]], tmp_path)
    assert sorted(p.name for p in written) == sorted(RECONSTRUCTION_PLOTS)
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
        width, height = Image.open(path).size
        assert width <= 920 and height <= 660, f"{path.name}: {width} x {height} px"
    # The captions that state results carry numbers measured on these jets.
    for stem in RECONSTRUCTION_DATA_CAPTIONS:
        text = (tmp_path / "captions" / f"{stem}.rst").read_text()
        assert re.search(r"\d+(\.\d+)? %", text), stem
    # The b-tagging performance the report's overview shows: the two simple taggers beside DL1r.
    performance = json.loads((tmp_path / "btagging.json").read_text())
    rows = {row["tagger"]: row for row in performance["taggers"]}
    simple = rows["max S_d0 > 5"]
    assert 0.3 < simple["b_efficiency"] < 0.95
    assert simple["light_rejection"] is None or 1.5 < simple["light_rejection"] < 170
    assert rows[">= 2 tracks with S_d0 > 3"]["b_efficiency"] < simple["b_efficiency"] + 0.2
    assert performance["provenance"]["stage"] == "reconstruction"
    sd0_caption = (tmp_path / "captions" / "trackjet_sd0_flavour.rst").read_text()
    assert "light-jet rejection" in sd0_caption and "Eur. Phys. J. C 83 (2023) 681" in sd0_caption
    # Every plot has a caption: fixed ones in report/reconstruction/, the others generated.
    for name in RECONSTRUCTION_PLOTS:
        stem = name.removesuffix(".png")
        assert (
            stem in RECONSTRUCTION_DATA_CAPTIONS
            or (REPO / "report" / "reconstruction" / f"{stem}.rst").is_file()
        ), stem
