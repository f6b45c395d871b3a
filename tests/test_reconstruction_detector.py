"""The tracking imperfections and pile-up of the detector simulation on small synthetic inputs
with known answers: decays in flight, material interactions, fake tracks, impact-parameter
tails, the primary vertex, the pile-up overlay and track-to-vertex association, and the
b-tagging and labelling primitives (lifetime sign, S_d0 scale, both H -> b quarks inside)."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
from scipy import stats

from deeppp.contracts import TruthRole
from reconstruction import (
    btagging,
    decays,
    detector,
    jets,
    labels,
    material,
    pileup,
    vertexing,
)
from reconstruction.detector import FlatEvents, Particles
from reconstruction.kinematics import invariant_mass, pt_eta_phi

CARD = detector.load_detector_card()


def particles(pid, px, py, pz, mass=0.0, charge=0.0, vertex=(0.0, 0.0, 0.0), per_event=1):
    """n synthetic particles, ``per_event`` to an event."""
    pid = np.asarray(pid)
    n = len(pid)
    px, py, pz = (np.broadcast_to(np.asarray(x, float), (n,)).copy() for x in (px, py, pz))
    mass = np.broadcast_to(np.asarray(mass, float), (n,))
    return Particles(
        offsets=np.arange(0, n + 1, per_event, dtype=np.int64),
        px=px,
        py=py,
        pz=pz,
        e=np.sqrt(px**2 + py**2 + pz**2 + mass**2),
        pid=pid.astype(np.int32),
        charge=np.broadcast_to(np.asarray(charge, float), (n,)).copy(),
        vx_mm=np.full(n, float(vertex[0])),
        vy_mm=np.full(n, float(vertex[1])),
        vz_mm=np.full(n, float(vertex[2])),
    )


def truncated_exponential_mean(scale: float, limit: float) -> float:
    """Mean of an exponential of mean ``scale`` restricted to [0, limit]."""
    q = np.exp(-limit / scale)
    return scale - limit * q / (1.0 - q)


# ---------------------------------------------------------------------------------------------
# decays in flight


def test_decay_table_matches_pythia_particle_data():
    pythia8mc = pytest.importorskip("pythia8mc")
    data = pythia8mc.Pythia("", False).particleData
    section = CARD["long_lived_decays"]
    for pid, species in section["species"].items():
        entry = data.particleDataEntryPtr(int(pid))
        assert species["mass_gev"] == pytest.approx(entry.m0(), abs=1e-5), pid
        assert species["ctau_mm"] == pytest.approx(entry.tau0(), rel=1e-6), pid
        pythia_channels = {
            tuple(
                sorted(entry.channel(i).product(j) for j in range(entry.channel(i).multiplicity()))
            ): entry.channel(i).bRatio()
            for i in range(entry.sizeChannels())
        }
        for channel in species["channels"]:
            key = tuple(sorted(channel["daughters"]))
            assert channel["br"] == pytest.approx(pythia_channels[key], abs=1e-5), (pid, key)
    for pid, product in section["products"].items():
        assert product["mass_gev"] == pytest.approx(data.m0(int(pid)), abs=1e-5)
        assert product["charge"] == pytest.approx(data.charge(int(pid)))


@pytest.mark.parametrize(("pid", "momentum"), [(310, 5.0), (3122, 20.0), (-3122, 20.0)])
def test_v0_daughters_appear_at_the_flight_distance_with_the_parent_mass(pid, momentum):
    species = CARD["long_lived_decays"]["species"][str(abs(pid))]
    n = 20_000
    parents = particles(np.full(n, pid), momentum, 0.0, 0.0, mass=species["mass_gev"])
    out = decays.decay_in_flight(parents, CARD, np.random.default_rng(1))
    event = out.event_index
    daughters = out.origin == detector.ORIGIN_DECAY
    charged = daughters & (out.charge != 0)
    # Decay radius of the charged pair: exponential of mean beta*gamma*c*tau, cut by the
    # solenoid radius (1.15 m) beyond which the particle reaches the calorimeter whole.
    radius = np.hypot(out.vx_mm, out.vy_mm)[charged]
    flight = momentum / species["mass_gev"] * species["ctau_mm"]
    limit = 1e3 * CARD["magnetic_field"]["radius_m"]
    expected = truncated_exponential_mean(flight, limit)
    assert np.mean(radius) == pytest.approx(expected, abs=4 * np.std(radius) / np.sqrt(len(radius)))
    decayed_fraction = np.mean(~out.in_calorimeter[out.origin == detector.ORIGIN_GENERATOR])
    assert decayed_fraction == pytest.approx(1 - np.exp(-limit / flight), abs=0.01)
    # The charged pair: the parent's mass, opposite charges, one vertex; antiparticles give
    # the charge-conjugate products.
    pair_events = np.flatnonzero(np.bincount(event[charged], minlength=n) == 2)
    sums = {
        c: np.bincount(event[charged], weights=getattr(out, c)[charged], minlength=n)
        for c in ("px", "py", "pz", "e", "charge")
    }
    mass = invariant_mass(sums["px"], sums["py"], sums["pz"], sums["e"])[pair_events]
    assert np.allclose(mass, species["mass_gev"], atol=1e-6)
    assert np.all(sums["charge"][pair_events] == 0)
    if abs(pid) == 3122:
        protons = out.pid[charged & (np.abs(out.pid) == 2212)]
        assert len(protons) > 1000 and np.all(np.sign(protons) == np.sign(pid))
        assert len(pair_events) / n == pytest.approx(0.639 * decayed_fraction, abs=0.02)
    # Every product takes the parent's momentum and vertex bookkeeping.
    np.testing.assert_allclose(
        np.bincount(
            event[daughters & (out.in_calorimeter)],
            weights=out.e[daughters & out.in_calorimeter],
            minlength=n,
        )[pair_events],
        parents.e[pair_events],
        rtol=1e-9,
    )


def test_charged_hyperon_keeps_its_track_only_when_it_decays_late():
    species = CARD["long_lived_decays"]["species"]["3312"]  # Xi-, c tau = 49 mm
    n = 20_000
    out = decays.decay_in_flight(
        particles(np.full(n, 3312), 30.0, 0.0, 0.0, mass=species["mass_gev"], charge=-1.0),
        CARD,
        np.random.default_rng(2),
    )
    parents = out.origin == detector.ORIGIN_GENERATOR
    decayed = parents & ~out.in_calorimeter
    event = out.event_index
    # the Xi decay point is where its Lambda is produced
    lambdas = (out.origin == detector.ORIGIN_DECAY) & (np.abs(out.pid) == 3122)
    product_radius = np.zeros(n)
    product_radius[event[lambdas]] = np.hypot(out.vx_mm, out.vy_mm)[lambdas]
    late = (
        product_radius[event[decayed]] >= CARD["long_lived_decays"]["charged_track_min_radius_mm"]
    )
    assert late.any() and (~late).any()
    assert np.array_equal(out.in_tracker[decayed], late)
    # Xi- -> Lambda pi-, then Lambda -> p pi-: two rounds of decays, total charge conserved.
    assert np.any(np.abs(out.pid) == 2212)
    final = out.in_calorimeter
    assert np.all(
        np.bincount(event[final], weights=out.charge[final], minlength=n)[
            np.bincount(event[decayed], minlength=n) > 0
        ]
        == -1
    )


# ---------------------------------------------------------------------------------------------
# material


@pytest.mark.parametrize("eta", [0.0, 1.5])
def test_photon_conversions_follow_the_material_budget(eta):
    n = 40_000
    pt = 10.0
    photons = particles(np.full(n, 22), pt, 0.0, pt * np.sinh(eta))
    out = material.interact_with_material(photons, CARD, np.random.default_rng(3))
    pairs = out.origin == detector.ORIGIN_CONVERSION
    converted = np.bincount(out.event_index[pairs], minlength=n) == 2
    x0 = sum(layer["x_over_x0"] for layer in CARD["material"]["layers"])
    expected = 1 - np.exp(-7 / 9 * x0 * np.cosh(eta))
    assert converted.mean() == pytest.approx(expected, abs=4 * np.sqrt(expected / n))
    # e+ e- pairs along the photon, sharing its energy, produced at a layer radius, tracker only.
    assert np.all(np.bincount(out.event_index[pairs], weights=out.charge[pairs], minlength=n) == 0)
    energy = np.bincount(out.event_index[pairs], weights=out.e[pairs], minlength=n)
    np.testing.assert_allclose(energy[converted], photons.e[converted], atol=1e-3)  # + 2 m_e
    radii = {layer["radius_mm"] for layer in CARD["material"]["layers"]}
    assert set(np.round(np.hypot(out.vx_mm, out.vy_mm)[pairs], 6)) <= {round(r, 6) for r in radii}
    assert not out.in_calorimeter[pairs].any() and out.in_calorimeter[~pairs].all()


def test_hadronic_interactions_follow_the_interaction_lengths():
    n = 60_000
    pions = particles(np.full(n, 211), 10.0, 0.0, 0.0, mass=0.1396, charge=1.0)
    out = material.interact_with_material(pions, CARD, np.random.default_rng(4))
    secondaries = out.origin == detector.ORIGIN_HADRONIC
    interacted = np.bincount(out.event_index[secondaries], minlength=n) > 0
    expected = 1 - np.exp(-sum(layer["x_over_lambda"] for layer in CARD["material"]["layers"]))
    assert interacted.mean() == pytest.approx(expected, abs=4 * np.sqrt(expected / n))
    per_interaction = np.bincount(out.event_index[secondaries], minlength=n)[interacted]
    mean = CARD["material"]["hadronic_interaction"]["charged_multiplicity_mean"]
    assert per_interaction.mean() == pytest.approx(mean, abs=0.1)
    # an early interaction costs the pion its track
    parents = out.origin == detector.ORIGIN_GENERATOR
    assert np.array_equal(~out.in_tracker[parents], interacted)


# ---------------------------------------------------------------------------------------------
# tracks: impact-parameter tails and fakes


def test_impact_parameter_tails_have_the_card_fraction_and_width():
    tails = CARD["tracking"]["impact_parameter_tails"]
    n = 400_000
    sigma = np.full(n, 0.02)
    d0, z0, in_tail = detector.smear_impact_parameters(
        np.zeros(n), np.zeros(n), sigma, 3 * sigma, tails, np.random.default_rng(5)
    )
    assert in_tail.mean() == pytest.approx(
        tails["fraction"], abs=4 * np.sqrt(tails["fraction"] / n)
    )
    beyond = np.mean(np.abs(d0 / sigma) > 3)
    f, k = tails["fraction"], tails["width_scale"]
    expected = (1 - f) * 2 * stats.norm.sf(3) + f * 2 * stats.norm.sf(3 / k)
    assert beyond == pytest.approx(expected, rel=0.05)
    assert beyond > 3 * 2 * stats.norm.sf(3), (
        "tails dominate the Gaussian expectation beyond 3 sigma"
    )
    np.testing.assert_allclose(np.std(z0[~in_tail] / (3 * sigma[~in_tail])), 1.0, atol=0.01)


def test_fake_track_rate_grows_with_pileup():
    fakes = CARD["tracking"]["fakes"]
    rng = np.random.default_rng(6)
    n_events, per_event = 4000, 50
    pt = rng.uniform(1, 10, n_events * per_event)
    eta, phi = rng.uniform(-2, 2, len(pt)), rng.uniform(-np.pi, np.pi, len(pt))
    columns = {
        "px": pt * np.cos(phi),
        "py": pt * np.sin(phi),
        "pz": pt * np.sinh(eta),
        "e": pt * np.cosh(eta),
        "pt": pt,
        "eta": eta,
        "phi": phi,
        "charge": np.ones(len(pt), np.float32),
        "d0_mm": np.zeros(len(pt)),
        "z0_mm": rng.normal(0, 50, len(pt)),
        "d0_sigma_mm": np.full(len(pt), 0.01),
        "z0_sigma_mm": np.full(len(pt), 0.05),
        "d0_true_mm": np.zeros(len(pt)),
        "z0_true_mm": np.zeros(len(pt)),
        "pid": np.full(len(pt), 211, np.int32),
        "production_radius_mm": np.zeros(len(pt)),
        "origin": np.zeros(len(pt), np.int8),
        "interaction": np.zeros(len(pt), np.int32),
        "ip_tail": np.zeros(len(pt), bool),
        "n_inner_pixel_hits": np.full(len(pt), 2, np.int8),
    }
    tracks = FlatEvents(np.arange(0, len(pt) + 1, per_event), columns)
    for n_pileup in (0, 60, 200):
        with_fakes = detector.add_fake_tracks(tracks, np.full(n_events, n_pileup), CARD, rng)
        is_fake = with_fakes["origin"] == detector.ORIGIN_FAKE
        expected = detector.expected_fake_tracks(
            np.array([per_event]), np.array([n_pileup]), fakes
        )[0]
        assert is_fake.sum() / n_events == pytest.approx(
            expected, abs=4 * np.sqrt(expected / n_events)
        )
        assert np.all(
            with_fakes.counts
            == per_event
            + np.bincount(
                np.repeat(np.arange(n_events), with_fakes.counts)[is_fake], minlength=n_events
            )
        )
        # broad impact parameters: most fakes far beyond the resolution of real tracks
        assert np.mean(np.abs(with_fakes["d0_mm"][is_fake]) > 0.2) > 0.7
    assert (
        expected > 2 * detector.expected_fake_tracks(np.array([per_event]), np.array([0]), fakes)[0]
    )


def test_tracking_efficiency_falls_with_production_radius():
    n = 40_000
    eff = CARD["tracking"]["production_radius_efficiency"]
    for radius in (0.0, 60.0, 200.0, 400.0):
        pions = particles(
            np.full(n, 211), 5.0, 0.0, 0.0, mass=0.1396, charge=1.0, vertex=(radius, 0.0, 0.0)
        )
        tracks = detector.simulate_tracks(pions, CARD, np.random.default_rng(7))
        expected = 0.95 * np.interp(radius, eff["radius_mm"], eff["efficiency"], right=0.0)
        assert tracks.counts.mean() == pytest.approx(expected, abs=0.015)
        if len(tracks["pt"]):
            hits = detector.inner_pixel_hits(
                np.array([radius]), CARD["tracking"]["inner_pixel_layer_radii_mm"]
            )[0]
            assert np.all(tracks["n_inner_pixel_hits"] == hits)


# ---------------------------------------------------------------------------------------------
# primary vertex


def _prompt_event_tracks(rng, n_events, vertex, n_tracks=40, displaced=5):
    """Tracks of events from a known vertex (plus a few displaced ones), measured with sigma."""
    rows = []
    for i in range(n_events):
        pt = rng.uniform(1, 20, n_tracks + displaced)
        phi = rng.uniform(-np.pi, np.pi, len(pt))
        eta = rng.uniform(-2, 2, len(pt))
        sigma_d0 = 0.01 + 0.07 / pt
        sigma_z0 = 0.05 + 0.1 / pt
        d0_true = -vertex[i, 0] * np.sin(phi) + vertex[i, 1] * np.cos(phi)
        d0_true[n_tracks:] += rng.choice([-1, 1], displaced) * rng.uniform(0.2, 1.0, displaced)
        rows.append(
            {
                "pt": pt,
                "phi": phi,
                "eta": eta,
                "d0_mm": d0_true + sigma_d0 * rng.standard_normal(len(pt)),
                "z0_mm": vertex[i, 2] + sigma_z0 * rng.standard_normal(len(pt)),
                "d0_sigma_mm": sigma_d0,
                "z0_sigma_mm": sigma_z0,
            }
        )
    columns = {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}
    return FlatEvents(
        np.arange(0, n_events * (n_tracks + displaced) + 1, n_tracks + displaced), columns
    )


def test_primary_vertex_fit_resolution_and_impact_parameters_wrt_it():
    rng = np.random.default_rng(8)
    n_events = 500
    beam = CARD["beam_spot"]
    vertex = np.stack(vertexing.sample_vertices(n_events, beam, rng), axis=1)
    tracks = _prompt_event_tracks(rng, n_events, vertex)
    fitted, used = vertexing.fit_primary_vertices(tracks, CARD)
    pull_z = (fitted.z - vertex[:, 2]) / fitted.sigma_z
    pull_x = (fitted.x - vertex[:, 0]) / np.sqrt(fitted.cov_xx)
    assert np.std(pull_z) == pytest.approx(1.0, abs=0.15)
    assert np.std(pull_x) == pytest.approx(1.0, abs=0.15)
    assert np.std(fitted.x - vertex[:, 0]) < 0.8 * beam["sigma_xy_mm"], "better than the beam spot"
    # displaced tracks are left out of the fit
    per_event = 45
    is_displaced = (np.arange(len(used)) % per_event) >= 40
    assert used[is_displaced].mean() < 0.05 and used[~is_displaced].mean() > 0.95
    wrt = vertexing.impact_parameters_wrt_vertex(tracks, fitted)
    prompt = ~is_displaced
    assert np.std(wrt["d0_mm"][prompt] / wrt["d0_sigma_mm"][prompt]) == pytest.approx(1.0, abs=0.05)
    assert np.std(wrt["z0_mm"][prompt] / wrt["z0_sigma_mm"][prompt]) == pytest.approx(1.0, abs=0.05)


def test_hard_scatter_vertex_is_the_highest_sum_pt2_window():
    # one event: 5 soft tracks at z = -3 mm, 3 hard ones at z = +2 mm -> the hard ones win
    z0 = np.array([-3.0] * 5 + [2.0] * 3)
    pt = np.array([1.0] * 5 + [20.0] * 3)
    tracks = FlatEvents(
        np.array([0, 8]),
        {
            "pt": pt,
            "phi": np.linspace(-3, 3, 8),
            "eta": np.zeros(8),
            "d0_mm": np.zeros(8),
            "z0_mm": z0,
            "d0_sigma_mm": np.full(8, 0.01),
            "z0_sigma_mm": np.full(8, 0.05),
        },
    )
    fitted, used = vertexing.fit_primary_vertices(tracks, CARD)
    assert fitted.z[0] == pytest.approx(2.0, abs=1e-6)
    assert np.array_equal(used, pt > 10)


# ---------------------------------------------------------------------------------------------
# pile-up


def _single_track_library(n_events: int, rng: np.random.Generator) -> pileup.MinBiasLibrary:
    """Min-bias events of one central 2 GeV pion each (momentum along x before rotation)."""
    offsets = np.arange(n_events + 1, dtype=np.int64)
    eta = rng.uniform(-1.0, 1.0, n_events)
    pt = np.full(n_events, 2.0)
    columns = {
        "px": pt,
        "py": np.zeros(n_events),
        "pz": pt * np.sinh(eta),
        "e": np.sqrt((pt * np.cosh(eta)) ** 2 + 0.1396**2),
        "pid": np.full(n_events, 211, np.int32),
        "charge": np.ones(n_events),
        "vx": np.zeros(n_events),
        "vy": np.zeros(n_events),
        "vz": np.zeros(n_events),
    }
    return pileup.MinBiasLibrary(offsets, columns, "synthetic")


def test_pileup_overlay_is_poisson_rotated_and_spread_over_the_luminous_region():
    rng = np.random.default_rng(9)
    library = _single_track_library(50, rng)
    n_events, mu = 2000, 40.0
    hard = particles(np.full(n_events, 22), 100.0, 0.0, 0.0)
    merged, interactions = pileup.place_interactions(hard, CARD["beam_spot"], rng, mu, library)
    assert interactions.n_pileup.mean() == pytest.approx(mu, abs=4 * np.sqrt(mu / n_events))
    assert interactions.n_pileup.var() == pytest.approx(mu, rel=0.1), "Poisson"
    pu = merged.interaction > 0
    assert pu.sum() == interactions.n_pileup.sum()
    assert np.std(merged.vz_mm[pu]) == pytest.approx(CARD["beam_spot"]["sigma_z_mm"], rel=0.03)
    assert np.std(interactions.hard_scatter_z) == pytest.approx(
        CARD["beam_spot"]["sigma_z_mm"], rel=0.1
    )
    _, _, phi = pt_eta_phi(merged.px[pu], merged.py[pu], merged.pz[pu])
    assert stats.kstest((phi + np.pi) / (2 * np.pi), "uniform").pvalue > 1e-3, "random azimuth"
    # the hard scatter is untouched except for its vertex
    np.testing.assert_array_equal(merged.px[~pu], hard.px)


def test_track_vertex_association_removes_pileup_tracks_at_the_expected_rate():
    """Pile-up tracks pass the track-jet association |z0 sin(theta)| < 3 mm w.r.t. the hard
    scatter only when their vertex lies close in z: for vertices Gaussian around the hard scatter
    (relative width sqrt(2) sigma_z) the kept fraction is the average over tracks of
    P(|dz| < 3 mm / sin(theta)) (resolution negligible at 2 GeV)."""
    rng = np.random.default_rng(10)
    library = _single_track_library(200, rng)
    n_events = 3000
    card = dict(
        CARD,
        tracking=dict(
            CARD["tracking"], impact_parameter_tails={"fraction": 0.0, "width_scale": 1.0}
        ),
    )
    hard = particles(
        np.full(n_events * 20, 211),
        5.0,
        np.linspace(-3, 3, 20 * n_events) % 1.0,
        0.3,
        mass=0.1396,
        charge=1.0,
        per_event=20,
    )
    merged, _ = pileup.place_interactions(hard, card["beam_spot"], rng, 30.0, library)
    tracks = detector.simulate_tracks(merged, card, rng)
    fitted, _ = vertexing.fit_primary_vertices(tracks, card)
    tracks = vertexing.impact_parameters_wrt_vertex(tracks, fitted)
    pu = tracks["interaction"] > 0
    sin_theta = 1 / np.cosh(tracks["eta"][pu])
    kept = np.abs(tracks["z0_mm"][pu] * sin_theta) < 3.0
    width = np.sqrt(2) * card["beam_spot"]["sigma_z_mm"]
    expected = np.mean(2 * stats.norm.cdf(3.0 / sin_theta / width) - 1)
    assert kept.mean() == pytest.approx(expected, abs=4 * np.sqrt(expected / pu.sum()) + 0.002)
    # hard-scatter tracks are kept
    hs = ~pu
    assert np.mean(np.abs(tracks["z0_mm"][hs] / np.cosh(tracks["eta"][hs])) < 3.0) > 0.999


# ---------------------------------------------------------------------------------------------
# b-tagging and labels


def test_lifetime_sign_and_d0_significance_scale():
    # Jet along +x. A track along +x whose point of closest approach lies at +y (d0 = +0.1 mm in
    # the ATLAS convention, PCA = (-d0 sin phi, d0 cos phi)) is a product of a particle that flew
    # along the jet and bent: positive. Flip the jet to -x: negative.
    d0 = np.array([0.1, -0.1, 0.1])
    track_phi = np.array([0.05, 0.05, np.pi - 0.05])
    jet_phi = np.array([0.1, 0.1, 0.1])
    signed = btagging.signed_d0(d0, track_phi, jet_phi)
    assert np.allclose(signed, [0.1, -0.1, -0.1])
    # S_d0 = signed d0 / sigma, for known values
    tracks = ak.Array(
        [
            [
                {
                    "px": 5.0,
                    "py": 0.0,
                    "pz": 0.0,
                    "e": 5.0,
                    "pt": 5.0,
                    "eta": 0.0,
                    "phi": 0.05,
                    "d0_mm": 0.1,
                    "z0_mm": 0.0,
                    "d0_sigma_mm": 0.02,
                    "n_inner_pixel_hits": 2,
                },
                {
                    "px": 5.0,
                    "py": 0.0,
                    "pz": 0.0,
                    "e": 5.0,
                    "pt": 5.0,
                    "eta": 0.0,
                    "phi": 0.05,
                    "d0_mm": -0.06,
                    "z0_mm": 0.0,
                    "d0_sigma_mm": 0.02,
                    "n_inner_pixel_hits": 2,
                },
                {
                    "px": 5.0,
                    "py": 0.0,
                    "pz": 0.0,
                    "e": 5.0,
                    "pt": 5.0,
                    "eta": 0.0,
                    "phi": 0.05,
                    "d0_mm": 0.5,
                    "z0_mm": 0.0,
                    "d0_sigma_mm": 0.02,
                    "n_inner_pixel_hits": 0,
                },
            ]
        ]
    )
    tags = btagging.tag_track_jets(tracks, np.array([0.1]), btagging.BTaggingSettings())
    np.testing.assert_allclose(ak.to_numpy(tags["sd0"][0]), [5.0, -3.0, 25.0])
    # the third track has no hit in the innermost layers: not a b-tagging track
    np.testing.assert_allclose(tags["sd0_leading"][0], [5.0, -3.0, np.nan])
    assert tags["n_displaced"][0] == 1


def test_signal_label_requires_both_higgs_b_quarks_inside_the_jet():
    # event 0: both b quarks inside jet 0; event 1: one b quark outside; event 2: no Higgs near
    role = [[TruthRole.HIGGS, TruthRole.HIGGS_B, TruthRole.HIGGS_B]] * 3
    eta = [[0.0, 0.3, -0.3], [0.0, 0.3, 1.5], [2.0, 2.2, 1.8]]
    phi = [[0.0, 0.2, -0.2], [0.0, 0.2, 0.0], [1.0, 1.0, 1.0]]
    truth = ak.zip({"role": role, "eta": eta, "phi": phi})
    jet_event = np.array([0, 0, 1, 2])
    jet_eta = np.array([0.05, 1.0, 0.05, 0.0])
    jet_phi = np.array([0.0, 3.0, 0.0, 0.0])
    matched = labels.higgs_matched(jet_event, jet_eta, jet_phi, truth, 1.0)
    assert matched.tolist() == [True, False, False, False]


def test_track_jets_of_a_large_r_jet_come_in_decreasing_pt():
    rng = np.random.default_rng(11)

    # one event: a hard two-prong jet made of towers, with three clusters of tracks inside
    def four(pt, eta, phi):
        pt, eta, phi = map(np.asarray, (pt, eta, phi))
        return pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)

    tower = four(
        np.array([150.0, 120.0, 60.0]), np.array([0.0, 0.3, -0.2]), np.array([0.0, 0.3, 0.4])
    )
    track_pt = np.concatenate([rng.uniform(1, 3, 6), rng.uniform(5, 9, 4), rng.uniform(2, 4, 5)])
    track_eta = np.concatenate([np.full(6, 0.0), np.full(4, 0.3), np.full(5, -0.2)]) + rng.normal(
        0, 0.01, 15
    )
    track_phi = np.concatenate([np.full(6, 0.0), np.full(4, 0.3), np.full(5, 0.4)]) + rng.normal(
        0, 0.01, 15
    )
    track = four(track_pt, track_eta, track_phi)
    towers = FlatEvents(np.array([0, 3]), dict(zip(("px", "py", "pz", "e"), tower, strict=True)))
    tracks = FlatEvents(np.array([0, 15]), dict(zip(("px", "py", "pz", "e"), track, strict=True)))
    large_r, track_jets = jets.reconstruct(
        towers, tracks, jets.LargeRSettings(pt_min_gev=200.0), jets.VariableRSettings()
    )
    assert len(large_r) == 1 and np.diff(track_jets.parent_offsets)[0] == 3
    pt = np.hypot(track_jets["px"], track_jets["py"])
    assert np.all(np.diff(pt) < 0), pt
