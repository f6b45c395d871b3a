"""Reconstruction algorithms on synthetic inputs: VR clustering against a brute-force reference,
effective radius, large-R jets against fastjet's Python bindings, substructure against direct
formulas, helix impact parameters, tracking and calorimeter response."""

from __future__ import annotations

import itertools

import awkward as ak
import numpy as np
import pytest

from deeppp.config import validate_config
from reconstruction import detector, jets
from reconstruction.detector import FlatEvents, Particles

VR = jets.VariableRSettings()


def four_vectors(pt, eta, phi, mass=0.0):
    pt, eta, phi = (np.asarray(x, dtype=float) for x in (pt, eta, phi))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return px, py, pz, np.sqrt(px**2 + py**2 + pz**2 + mass**2)


def flat_events(events: list[tuple[np.ndarray, ...]]) -> FlatEvents:
    counts = [len(e[0]) for e in events]
    columns = {
        c: np.concatenate([e[i] for e in events]) if events else np.zeros(0)
        for i, c in enumerate(("px", "py", "pz", "e"))
    }
    return FlatEvents(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), columns)


# ---------------------------------------------------------------------------------------------
# variable-R clustering


def brute_force_variable_r(px, py, pz, e, rho, r_min, r_max, pt_min, min_constituents):
    """Textbook anti-kt variable-R clustering: O(N^3), E-scheme, rapidity-phi distances.

    d_ij = min(pT_i^-2, pT_j^-2) DeltaR_ij^2,  d_iB = pT_i^-2 R_eff(pT_i)^2,
    R_eff = clamp(rho / pT, r_min, r_max)  (Krohn, Thaler, Wang, JHEP 06 (2009) 059).
    """
    clusters = [(np.array([px[i], py[i], pz[i], e[i]]), [i]) for i in range(len(px))]
    finished = []

    def kin(p):
        pt = np.hypot(p[0], p[1])
        return pt, 0.5 * np.log((p[3] + p[2]) / (p[3] - p[2])), np.arctan2(p[1], p[0])

    while clusters:
        kins = [kin(p) for p, _ in clusters]
        best, best_d = None, np.inf
        for i, (pt, _, _) in enumerate(kins):
            r_eff = min(max(rho / pt, r_min), r_max)
            d = r_eff**2 / pt**2
            if d < best_d:
                best, best_d = ("beam", i), d
        for i, j in itertools.combinations(range(len(clusters)), 2):
            (pti, yi, phii), (ptj, yj, phij) = kins[i], kins[j]
            dphi = np.mod(phii - phij + np.pi, 2 * np.pi) - np.pi
            d = min(pti**-2, ptj**-2) * ((yi - yj) ** 2 + dphi**2)
            if d < best_d:
                best, best_d = ("pair", i, j), d
        if best[0] == "beam":
            finished.append(clusters.pop(best[1]))
        else:
            _, i, j = best
            merged = (clusters[i][0] + clusters[j][0], clusters[i][1] + clusters[j][1])
            clusters = [c for k, c in enumerate(clusters) if k not in (i, j)] + [merged]
    jets_out = [
        (p, sorted(m))
        for p, m in finished
        if np.hypot(p[0], p[1]) >= pt_min and len(m) >= min_constituents
    ]
    return sorted(jets_out, key=lambda j: -np.hypot(j[0][0], j[0][1]))


def test_variable_r_clustering_equals_brute_force_reference():
    rng = np.random.default_rng(2022)
    events = []
    for n in (12, 25, 40, 33, 18):
        pt = rng.exponential(15.0, n) + 0.5
        eta = rng.normal(0.0, 0.4, n)
        phi = rng.normal(0.5, 0.4, n)
        events.append(four_vectors(pt, eta, phi, mass=detector.PION_MASS_GEV))
    batch = flat_events(events)
    result = jets.cluster_variable_r(batch, VR)
    n_compared = 0
    for i, event in enumerate(events):
        expected = brute_force_variable_r(
            *event, VR.rho_gev, VR.r_min, VR.r_max, VR.pt_min_gev, VR.min_tracks
        )
        lo, hi = result.parent_offsets[i], result.parent_offsets[i + 1]
        assert hi - lo == len(expected), f"event {i}: {hi - lo} VR jets, reference {len(expected)}"
        for k, (p4, members) in zip(range(lo, hi), expected, strict=True):
            got = np.array([result["px"][k], result["py"][k], result["pz"][k], result["e"][k]])
            np.testing.assert_allclose(got, p4, rtol=1e-10, atol=1e-9)
            constituents = result.member_index[
                result.member_offsets[k] : result.member_offsets[k + 1]
            ]
            assert sorted(constituents.tolist()) == members
            n_compared += 1
    assert n_compared >= 10, "the comparison must cover a meaningful number of jets"


@pytest.mark.parametrize(
    ("hard_pt_gev", "expected_radius"),
    [(30.0, 0.4), (75.0, 0.4), (100.0, 0.3), (200.0, 0.15), (600.0, 0.05), (3000.0, 0.02)],
)
def test_effective_radius_follows_rho_over_pt_within_limits(hard_pt_gev, expected_radius):
    """A hard particle in a sea of very soft ones collects exactly those within R_eff."""
    assert VR.effective_radius(np.array([hard_pt_gev]))[0] == pytest.approx(expected_radius)
    step = 0.004
    radii = np.arange(1, 151) * step + 0.37 * step  # rings never sit exactly on R_eff
    angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    ring_r, ring_a = np.meshgrid(radii, angles)
    eta = np.concatenate([[0.0], (ring_r * np.cos(ring_a)).ravel()])
    phi = np.concatenate([[0.0], (ring_r * np.sin(ring_a)).ravel()])
    pt = np.concatenate([[hard_pt_gev], np.full(ring_r.size, 1e-4)])
    result = jets.cluster_variable_r(flat_events([four_vectors(pt, eta, phi)]), VR)
    assert len(result) == 1
    members = result.member_index[result.member_offsets[0] : result.member_offsets[1]]
    distance = np.hypot(eta, phi)
    outside = np.setdiff1d(np.arange(len(pt)), members)
    assert 0 in members
    assert distance[members].max() < expected_radius < distance[outside].min()
    assert distance[members].max() > expected_radius - 2 * step


# ---------------------------------------------------------------------------------------------
# large-R jets, trimming, substructure


def _random_event(rng, n_soft=150):
    """Two hard prongs (a boosted two-body decay) plus soft radiation."""
    pt = np.concatenate([[220.0, 140.0, 60.0], rng.exponential(3.0, n_soft) + 0.5])
    eta = np.concatenate([[0.3, 0.8, -1.5], rng.normal(0.4, 1.2, n_soft)])
    phi = np.concatenate([[0.1, -0.3, 2.8], rng.normal(0.0, 1.5, n_soft)])
    return four_vectors(pt, eta, phi)


def test_large_r_jets_and_trimming_agree_with_fastjet_python_bindings():
    fastjet = pytest.importorskip("fastjet")
    rng = np.random.default_rng(7)
    events = [_random_event(rng) for _ in range(4)]
    no_tracks = flat_events([(np.zeros(0),) * 4 for _ in events])
    settings = jets.LargeRSettings(pt_min_gev=200.0, abs_eta_max=2.5)
    large_r, _ = jets.reconstruct(flat_events(events), no_tracks, settings, VR)
    assert len(large_r) >= 4

    def records(px, py, pz, e):
        return ak.zip(
            {"px": np.asarray(px), "py": np.asarray(py), "pz": np.asarray(pz), "E": np.asarray(e)}
        )

    for i, event in enumerate(events):
        sequence = fastjet.ClusterSequence(
            records(*event), fastjet.JetDefinition(fastjet.antikt_algorithm, 1.0)
        )
        reference, constituents = sequence.inclusive_jets(), sequence.constituents()
        ours = np.flatnonzero(large_r["event"] == i)
        for k in ours:
            ref_pt = np.hypot(reference.px, reference.py).to_numpy()
            ref_eta = np.arcsinh(reference.pz.to_numpy() / ref_pt)
            ref_phi = np.arctan2(reference.py.to_numpy(), reference.px.to_numpy())
            dr = np.hypot(
                ref_eta - large_r["ungroomed_eta"][k],
                np.mod(ref_phi - large_r["ungroomed_phi"][k] + np.pi, 2 * np.pi) - np.pi,
            )
            j = int(np.argmin(dr))
            assert dr[j] < 1e-9
            assert ref_pt[j] == pytest.approx(large_r["ungroomed_pt"][k], rel=1e-9)
            # Trimming by hand: kt R = 0.2 subjets of the constituents, keep pT > 5 % of the jet.
            c = constituents[j]
            subjets = fastjet.ClusterSequence(
                records(c.px, c.py, c.pz, c.E), fastjet.JetDefinition(fastjet.kt_algorithm, 0.2)
            ).inclusive_jets()
            sub_pt = np.hypot(subjets.px, subjets.py).to_numpy()
            kept = sub_pt > 0.05 * ref_pt[j]
            total = np.array([np.sum(subjets[f].to_numpy()[kept]) for f in ("px", "py", "pz", "E")])
            trimmed_pt = np.hypot(total[0], total[1])
            trimmed_mass = np.sqrt(max(total[3] ** 2 - np.sum(total[:3] ** 2), 0.0))
            assert large_r["pt"][k] == pytest.approx(trimmed_pt, rel=1e-9)
            assert large_r["mass"][k] == pytest.approx(trimmed_mass, rel=1e-7, abs=1e-6)


def _ecf(pt, eta, phi, order, beta=1.0):
    """Energy correlation function e_order with the pt_R measure, by direct summation."""
    total = 0.0
    for combo in itertools.combinations(range(len(pt)), order):
        weight = np.prod(pt[list(combo)])
        angles = 1.0
        for a, b in itertools.combinations(combo, 2):
            dphi = np.mod(phi[a] - phi[b] + np.pi, 2 * np.pi) - np.pi
            angles *= np.hypot(eta[a] - eta[b], dphi) ** beta
        total += weight * angles
    return total


def test_substructure_matches_direct_formulas_on_a_two_prong_jet():
    # Massless constituents: rapidity = pseudorapidity, so the direct sums use the same angles.
    pt = np.array([180.0, 120.0, 6.0, 4.0, 3.0, 2.5, 2.0])
    eta = np.array([0.10, 0.55, 0.30, -0.05, 0.45, 0.20, 0.70])
    phi = np.array([0.00, 0.40, 0.25, 0.10, 0.05, 0.50, 0.30])
    towers = flat_events([four_vectors(pt, eta, phi)])
    no_tracks = flat_events([(np.zeros(0),) * 4])
    settings = jets.LargeRSettings(pt_min_gev=100.0, trim_f_cut=0.0)  # keep every constituent
    large_r, _ = jets.reconstruct(towers, no_tracks, settings, VR)
    assert len(large_r) == 1
    e1, e2, e3 = (_ecf(pt, eta, phi, n) for n in (1, 2, 3))
    assert large_r["d2"][0] == pytest.approx(e3 * e1**3 / e2**3, rel=1e-9)
    assert large_r["c2"][0] == pytest.approx(e3 * e1 / e2**2, rel=1e-9)
    # The last kt merging joins the two prongs (with their soft neighbours).
    assert large_r["sqrt_d12"][0] == pytest.approx(120.0 * np.hypot(0.45, 0.40), rel=0.1)
    assert 0.0 < large_r["tau21"][0] < 0.3, "a clean two-prong jet has a small tau21"
    assert 0.0 < large_r["tau32"][0] <= 1.0


# ---------------------------------------------------------------------------------------------
# tracking


def _numerical_perigee(vx, vy, vz, px, py, pz, charge, bz):
    """Closest approach to the z axis by sampling the helix finely (both directions)."""
    pt = np.hypot(px, py)
    radius = 1e3 * pt / (detector.CURVATURE_CONSTANT * abs(charge) * bz)
    sense = -np.sign(charge * bz)
    phi = np.arctan2(py, px)
    s = np.linspace(
        -3 * np.hypot(vx, vy) - 5, 3 * np.hypot(vx, vy) + 5, 2_000_001
    )  # transverse arc, mm
    turn = sense * s / radius
    x = vx + sense * radius * (np.sin(phi + turn) - np.sin(phi))
    y = vy - sense * radius * (np.cos(phi + turn) - np.cos(phi))
    k = int(np.argmin(np.hypot(x, y)))
    direction = phi + turn[k]
    return y[k] * np.cos(direction) - x[k] * np.sin(direction), vz + s[k] * pz / pt


@pytest.mark.parametrize(
    ("vertex", "momentum", "charge"),
    [
        ((2.0, 1.0, 3.0), (0.7, 0.3, 0.4), 1.0),
        ((-1.5, 4.0, -2.0), (-0.4, 0.5, 1.0), -1.0),
        ((0.3, -0.2, 0.0), (30.0, 5.0, -8.0), 1.0),
        ((5.0, 5.0, 1.0), (-0.6, -0.1, 0.2), -1.0),
    ],
)
def test_helix_perigee_matches_numerical_closest_approach(vertex, momentum, charge):
    d0, z0, _ = detector.helix_perigee(
        *(np.array([v]) for v in (*vertex, *momentum, charge)), bz_tesla=2.0
    )
    ref_d0, ref_z0 = _numerical_perigee(*vertex, *momentum, charge, 2.0)
    assert d0[0] == pytest.approx(ref_d0, abs=2e-5)
    assert z0[0] == pytest.approx(ref_z0, abs=2e-5)


def test_helix_perigee_limits():
    # Prompt particle: no impact parameter whatever its momentum.
    d0, z0, phi0 = detector.helix_perigee(
        *(np.array([v]) for v in (0.0, 0.0, 1.2, 0.8, -0.6, 2.0, 1.0)), 2.0
    )
    assert abs(d0[0]) < 1e-12
    assert z0[0] == pytest.approx(1.2)
    assert phi0[0] == pytest.approx(np.arctan2(-0.6, 0.8))
    # Very stiff track from (1, 0) mm flying along +y: straight line,
    # d0 = y cos(phi) - x sin(phi) = -1.
    d0, z0, _ = detector.helix_perigee(
        *(np.array([v]) for v in (1.0, 0.0, 0.0, 0.0, 5000.0, 0.0, 1.0)), 2.0
    )
    assert d0[0] == pytest.approx(-1.0, abs=1e-6)


def test_impact_parameter_resolution_matches_card():
    card = detector.load_detector_card()
    trk = card["tracking"]
    theta = np.array([np.pi / 2])
    a_um, b_um = trk["d0_resolution_um"]["a"], trk["d0_resolution_um"]["b"]
    at_1gev = detector.impact_parameter_resolution_mm(np.array([1.0]), theta, a_um, b_um, 0.5)
    at_500gev = detector.impact_parameter_resolution_mm(np.array([500.0]), theta, a_um, b_um, 0.5)
    assert 0.070 < at_1gev[0] < 0.090, "about 80 um near 1 GeV"
    assert 0.008 < at_500gev[0] < 0.015, "about 10 um at high pT"


def _single_particles(pid, pt, eta, phi, charge, vertex=(0.0, 0.0, 0.0)):
    n = len(pid)
    px, py, pz, e = four_vectors(pt, eta, phi, mass=0.0)
    return Particles(
        offsets=np.arange(n + 1, dtype=np.int64),
        px=px,
        py=py,
        pz=pz,
        e=e,
        pid=np.asarray(pid, np.int32),
        charge=np.asarray(charge, float),
        vx_mm=np.full(n, vertex[0]),
        vy_mm=np.full(n, vertex[1]),
        vz_mm=np.full(n, vertex[2]),
    )


def test_tracking_acceptance_and_efficiency():
    card = detector.load_detector_card()
    rng = np.random.default_rng(5)
    n = 40_000
    pt = np.concatenate(
        [rng.uniform(2.0, 50.0, n), rng.uniform(0.1, 0.45, 2000), rng.uniform(2, 50, 2000)]
    )
    eta = np.concatenate(
        [rng.uniform(-1.4, 1.4, n), rng.uniform(-1, 1, 2000), rng.uniform(2.6, 4.0, 2000)]
    )
    pid = np.full(len(pt), 211)
    particles = _single_particles(
        pid, pt, eta, rng.uniform(-np.pi, np.pi, len(pt)), np.ones(len(pt))
    )
    tracks = detector.simulate_tracks(particles, card, rng)
    found = tracks.counts.astype(bool)
    assert found[:n].mean() == pytest.approx(0.95, abs=0.005), (
        "Delphes ATLAS: 95 % for pT > 1 GeV, |eta| < 1.5"
    )
    assert not found[n:].any(), "no tracks below 0.5 GeV or beyond |eta| = 2.5"
    neutral = _single_particles([22, 2112], [10.0, 10.0], [0.1, 0.1], [0.0, 0.0], [0.0, 0.0])
    assert detector.simulate_tracks(neutral, card, rng).counts.sum() == 0
    # pT resolution: 0.05 % pT (+) 1 %  -> 1.1 % at 50 GeV
    stiff = _single_particles(
        np.full(20_000, 211),
        np.full(20_000, 50.0),
        np.zeros(20_000),
        np.zeros(20_000),
        np.ones(20_000),
    )
    measured = detector.simulate_tracks(stiff, card, rng)["pt"]
    assert np.std(measured / 50.0) == pytest.approx(np.hypot(0.0005 * 50, 0.01), rel=0.05)


# ---------------------------------------------------------------------------------------------
# calorimeter


def test_calorimeter_response_by_particle_type():
    card = detector.load_detector_card()
    calo = dict(card["calorimeter"], smear_tower_centre=False)
    card = dict(card, calorimeter=calo)
    rng = np.random.default_rng(11)
    n = 4000
    kinds = {
        "photon": (22, 0.0),
        "neutrino": (14, 0.0),
        "muon": (13, -1.0),
        "k0s": (310, 0.0),
        "neutron": (2112, 0.0),
    }
    for name, (pid, charge) in kinds.items():
        particles = _single_particles(
            np.full(n, pid),
            np.full(n, 100.0),
            np.full(n, 0.33),
            np.full(n, 0.51),
            np.full(n, charge),
        )
        towers = detector.simulate_towers(particles, card, rng)
        energy = np.bincount(
            np.repeat(np.arange(n), towers.counts), weights=towers["e"], minlength=n
        )
        em = np.bincount(
            np.repeat(np.arange(n), towers.counts), weights=towers["e_em"], minlength=n
        )
        true_e = 100.0 * np.cosh(0.33)
        if name == "neutrino":
            assert towers.counts.sum() == 0, "neutrinos are invisible"
        elif name == "muon":
            # minimum ionising: ~3 GeV in total, mostly below the tower thresholds
            assert np.mean(energy) < 1.5
            assert np.max(energy) < 15.0
        elif name == "photon":
            assert np.mean(energy) == pytest.approx(true_e, rel=0.003)
            assert np.std(energy) / true_e == pytest.approx(
                np.hypot(0.0017, 0.101 / np.sqrt(true_e)), rel=0.1
            )
            assert np.all(em == energy)
        elif name == "k0s":
            assert np.mean(em) / np.mean(energy) == pytest.approx(0.3, abs=0.02)
        elif name == "neutron":
            assert np.mean(energy) == pytest.approx(true_e, rel=0.02)
            assert np.all(em == 0)
    # Tower granularity: 0.1 x 0.1 central, 0.2 x 0.2 forward, nothing beyond |eta| = 4.9.
    grid = detector.TowerGrid.from_card(card["calorimeter"])
    eta_lo, eta_hi, phi_lo, phi_hi = grid.cell(
        grid.tower_id(np.array([0.33, 3.3, -4.0]), np.array([0.51, 0.51, 0.51]))
    )
    np.testing.assert_allclose(eta_hi - eta_lo, [0.1, 0.2, 0.2])
    np.testing.assert_allclose(phi_hi - phi_lo, [2 * np.pi / 64, 2 * np.pi / 32, 2 * np.pi / 32])
    assert eta_lo[0] <= 0.33 < eta_hi[0]
    beyond = _single_particles([22], [5.0], [5.2], [0.0], [0.0])
    assert detector.simulate_towers(beyond, card, rng).counts.sum() == 0


def test_charged_particles_bend_in_the_solenoid():
    field = detector.load_detector_card()["magnetic_field"]
    px, py, pz, _ = four_vectors([2.0, 2.0, 0.2], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0])
    _, phi, reaches = detector.calorimeter_entry(px, py, pz, np.array([1.0, -1.0, 1.0]), field)
    # The chord to the barrel (R = 1.15 m) turns by half the helix turning angle: asin(R / 2 rho).
    curvature_radius_m = 2.0 / (detector.CURVATURE_CONSTANT * 2.0)
    expected = np.arcsin(1.15 / (2 * curvature_radius_m))
    assert phi[0] == pytest.approx(-expected), "positive charges turn clockwise in +Bz"
    assert phi[1] == pytest.approx(+expected)
    assert reaches[:2].all()
    assert not reaches[2], "a 0.2 GeV track at eta = 0 loops inside the solenoid"


def test_detector_card_and_config_validation_name_the_key(tmp_path):
    from deeppp.config import ConfigError

    with pytest.raises(ConfigError, match=r"reconstruction\.vr_track_jets\.rho_gev"):
        validate_config({"seed": 1, "reconstruction": {"vr_track_jets": {"rho_gev": -30}}})
    with pytest.raises(ConfigError, match=r"unknown key reconstruction\.large_r\.radus"):
        validate_config({"seed": 1, "reconstruction": {"large_r": {"radus": 1.0}}})
    card = tmp_path / "card.yaml"
    card.write_text(
        detector.DEFAULT_CARD_PATH.read_text().replace("bz_tesla: 2.0", "bz_tesla: two")
    )
    with pytest.raises(detector.DetectorCardError, match=r"magnetic_field\.bz_tesla"):
        detector.load_detector_card(card)
