"""The 39 tagging features of a large-R jet: names, units, definitions, defaults, assembly.

This table is the single source of truth; docs/features.md is generated from it
(``python -m reconstruction features-doc``) and a test keeps the two identical.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Number of leading VR track jets described individually.
N_TRACK_JETS = 3
#: Number of most significant tracks per track jet.
N_LEADING_TRACKS = 3


@dataclass(frozen=True)
class Feature:
    name: str
    unit: str
    definition: str
    source: str
    default: float | None = None  # value when the track jet (or track) does not exist


_LARGE_R: tuple[Feature, ...] = (
    Feature(
        "fatjet_pt", "GeV", "transverse momentum of the trimmed large-R jet", "calorimeter towers"
    ),
    Feature("fatjet_eta", "", "pseudorapidity of the trimmed large-R jet", "calorimeter towers"),
    Feature(
        "fatjet_mass", "GeV", "invariant mass of the trimmed large-R jet", "calorimeter towers"
    ),
    Feature(
        "fatjet_d2",
        "",
        "energy-correlation ratio D2 = e3 e1^3 / e2^3, beta = 1, pt_R measure (trimmed jet)",
        "fastjet-contrib EnergyCorrelator",
    ),
    Feature(
        "fatjet_c2",
        "",
        "energy-correlation ratio C2 = e3 e1 / e2^2, beta = 1, pt_R measure (trimmed jet)",
        "fastjet-contrib EnergyCorrelator",
    ),
    Feature(
        "fatjet_tau21",
        "",
        "N-subjettiness ratio tau2/tau1, WTA kt axes, beta = 1 (trimmed jet); 0 if tau1 = 0",
        "fastjet-contrib Nsubjettiness",
    ),
    Feature(
        "fatjet_tau32",
        "",
        "N-subjettiness ratio tau3/tau2, WTA kt axes, beta = 1 (trimmed jet); 0 if tau2 = 0",
        "fastjet-contrib Nsubjettiness",
    ),
    Feature(
        "fatjet_sqrt_d12",
        "GeV",
        "kt splitting scale min(pT1, pT2) * DeltaR12 of the last kt merging (trimmed jet)",
        "fastjet kt reclustering",
    ),
    Feature(
        "n_vr_track_jets",
        "",
        "number of VR track jets ghost-associated to the untrimmed large-R jet",
        "VariableRPlugin + ghost association",
    ),
)


def _track_jet_features(i: int) -> tuple[Feature, ...]:
    p = f"trackjet{i}_"
    which = f"track jet {i}"
    features = [
        Feature(
            p + "pt_fraction", "", f"pT of {which} / pT of the trimmed large-R jet", "tracks", -1.0
        ),
        Feature(p + "dr", "", f"Delta R between {which} and the large-R jet axis", "tracks", -1.0),
        Feature(
            p + "mass",
            "GeV",
            f"invariant mass of {which} (tracks with the pion mass)",
            "tracks",
            -1.0,
        ),
        Feature(p + "n_tracks", "", f"number of tracks in {which}", "tracks", 0.0),
    ]
    for k in range(1, N_LEADING_TRACKS + 1):
        features.append(
            Feature(
                p + f"sd0_{k}",
                "",
                "lifetime-signed d0 significance of the track with the "
                f"{('', 'second-', 'third-')[k - 1]}largest "
                "|S_d0| among the "
                f"b-tagging tracks of {which}, clipped to +-40",
                "tracks (impact parameters)",
                -50.0,
            )
        )
    features += [
        Feature(
            p + "n_displaced",
            "",
            f"number of b-tagging tracks of {which} with |S_d0| > 3",
            "tracks (impact parameters)",
            0.0,
        ),
        Feature(
            p + "sv_mass",
            "GeV",
            f"invariant mass of the b-tagging tracks of {which} with S_d0 > 3 "
            "(pion mass; 0 if fewer than two)",
            "tracks (secondary-vertex proxy)",
            -1.0,
        ),
        Feature(
            p + "sv_energy_fraction",
            "",
            f"energy of those displaced tracks / energy of all tracks of {which} "
            "(0 if fewer than two)",
            "tracks (secondary-vertex proxy)",
            -1.0,
        ),
    ]
    return tuple(features)


FEATURES: tuple[Feature, ...] = _LARGE_R + tuple(
    f for i in range(1, N_TRACK_JETS + 1) for f in _track_jet_features(i)
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
FEATURE_BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}
assert len(FEATURE_NAMES) == 39, "the tagger has 39 inputs"

#: Feature values are written as float32 (integer counts are exact in float32).
FEATURE_DTYPE = np.float32


def feature_table_markdown() -> str:
    """docs/features.md: the one documented table of the 39 features."""
    lines = [
        "# The 39 tagging features",
        "",
        "Generated from `reconstruction/features.py` "
        "(`python -m reconstruction features-doc`); a test",
        "keeps this file and the code identical. "
        "Order = `reconstruction.features.FEATURE_NAMES` = the",
        "branch order of `features/{process}/{chunk}.root` and `dataset/{split}.root`.",
        "",
        "Definitions: large-R jet = anti-kt R = 1.0 on calorimeter towers, "
        "trimmed (kt R_sub = 0.2,",
        "f_cut = 0.05), pT > 250 GeV, |eta| < 2.0. "
        "VR track jets = anti-kt variable-R (rho = 30 GeV,",
        "R in [0.02, 0.4]) on tracks, pT > 7 GeV, >= 2 tracks, ghost-associated to the untrimmed",
        "large-R jet. Impact parameters are measured with respect to "
        "the reconstructed hard-scatter",
        "primary vertex (track-jet tracks: |d0| < 2 mm, |z0 sin(theta)| < 3 mm with respect to it,",
        "which keeps pile-up tracks out). b-tagging tracks = track-jet tracks with pT > 1 GeV,",
        "|d0| < 1 mm, |z0 sin(theta)| < 1.5 mm (ATL-PHYS-PUB-2017-013) and at least one hit in the",
        "two innermost pixel layers. S_d0 = lifetime-signed d0 / sigma(d0) (sigma including the",
        "vertex uncertainty), the sign positive when the track's point of closest approach lies on",
        "the jet's side of the primary vertex (sign of sin(phi_jet - phi_track) * d0). Thresholds",
        "are configurable (`reconstruction:` section of the config); the values here are the",
        "defaults.",
        "",
        "Track jet i = the i-th VR track jet of the large-R jet in decreasing pT.",
        "",
        "**Defaults.** When the large-R jet has fewer than i VR track jets, every `trackjet{i}_*`",
        "feature takes the default in the last column (values outside the physical range, so the",
        "network can tell 'absent' from any measured value). When a track jet exists but has fewer",
        "than k b-tagging tracks, `trackjet{i}_sd0_{k}` takes its default "
        "(-50, outside the clipping",
        "range +-40). Large-R features always exist.",
        "",
        "| # | name | unit | definition | source | default if missing |",
        "|---|---|---|---|---|---|",
    ]
    for number, f in enumerate(FEATURES, start=1):
        default = "" if f.default is None else f"{f.default:g}"
        definition = f.definition.replace("|", "\\|")  # a bare | would end the table cell
        lines.append(
            f"| {number} | `{f.name}` | {f.unit or '-'} | {definition} | {f.source} | {default} |"
        )
    return "\n".join(lines) + "\n"


def assemble_features(
    large_r: dict[str, np.ndarray],
    track_jet_offsets: np.ndarray,
    track_jets: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """The 39 feature columns (float32) of the given large-R jets, defaults applied.

    ``large_r``: pt, eta, phi, mass, d2, c2, tau21, tau32, sqrt_d12 per large-R jet.
    ``track_jets``: pt, eta, phi, mass, n_tracks, sd0_leading (n x 3, NaN = no track),
    n_displaced, sv_mass_gev, sv_energy_fraction per track jet, grouped by
    ``track_jet_offsets`` (pT ordered within each large-R jet).
    """
    n_jets = len(large_r["pt"])
    n_track_jets = np.diff(track_jet_offsets)
    columns: dict[str, np.ndarray] = {
        "fatjet_pt": large_r["pt"],
        "fatjet_eta": large_r["eta"],
        "fatjet_mass": large_r["mass"],
        "fatjet_d2": large_r["d2"],
        "fatjet_c2": large_r["c2"],
        "fatjet_tau21": large_r["tau21"],
        "fatjet_tau32": large_r["tau32"],
        "fatjet_sqrt_d12": large_r["sqrt_d12"],
        "n_vr_track_jets": n_track_jets,
    }
    # One dummy track jet at the end keeps the gathers below valid where a track jet is missing;
    # its values never survive the np.where(present, ...).
    padded = {
        k: np.concatenate([np.asarray(v, dtype=float), np.zeros((1, *np.shape(v)[1:]))])
        for k, v in track_jets.items()
    }
    dummy = len(padded["pt"]) - 1
    for i in range(1, N_TRACK_JETS + 1):
        present = n_track_jets >= i
        index = np.where(present, track_jet_offsets[:-1] + i - 1, dummy)
        p = f"trackjet{i}_"
        dphi = np.mod(padded["phi"][index] - large_r["phi"] + np.pi, 2 * np.pi) - np.pi
        measured: dict[str, np.ndarray] = {
            "pt_fraction": padded["pt"][index] / large_r["pt"],
            "dr": np.hypot(padded["eta"][index] - large_r["eta"], dphi),
            "mass": padded["mass"][index],
            "n_tracks": padded["n_tracks"][index],
            "n_displaced": padded["n_displaced"][index],
            "sv_mass": padded["sv_mass_gev"][index],
            "sv_energy_fraction": padded["sv_energy_fraction"][index],
        }
        for k in range(1, N_LEADING_TRACKS + 1):
            measured[f"sd0_{k}"] = padded["sd0_leading"][index, k - 1]
        for short, value in measured.items():
            feature = FEATURE_BY_NAME[p + short]
            assert feature.default is not None  # every track-jet feature has a missing value
            columns[feature.name] = np.where(present & np.isfinite(value), value, feature.default)
    return {
        name: np.asarray(columns[name], dtype=FEATURE_DTYPE).reshape(n_jets)
        for name in FEATURE_NAMES
    }
