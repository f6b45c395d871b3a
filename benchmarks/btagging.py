"""How hard b-tagging is in the simulation: two simple taggers on VR track jets, beside ATLAS.

For the VR track jets of the selected large-R jets (signal and background events together;
flavour from hadron labelling; weighted with the generator event weights), it prints the b-jet
efficiency and the light- and c-jet rejection (1/efficiency, with binomial uncertainties) of

* "max S_d0 > 5": the most significant b-tagging track has S_d0 > 5;
* ">= 2 tracks with S_d0 > 3" (track counting);

and the fraction of b-tagging tracks of light-, c- and b-labelled track jets with S_d0 > 3 and
|S_d0| > 3, next to the only published ATLAS operating point retrieved in full text: DL1r, the
Run-2 high-level tagger (impact parameters, secondary vertices, multi-vertex fit and a recurrent
network over tracks combined), reaches light-jet (c-jet) rejection 170 (5) at 77 % b-jet
efficiency in simulated ttbar events (ATLAS, Eur. Phys. J. C 83 (2023) 681, abstract). A simple
single-variable tagger must stay well below that ceiling; before the tracking imperfections of
issue 9, "max S_d0 > 5" rejected light jets ~2000-fold at 74 % efficiency.

The events are generated and reconstructed here (default config, pile-up mu from --mu, which
needs the min-bias library: it is generated too), or taken from existing features files:

    python benchmarks/btagging.py [--events 2000] [--mu 0] [--library-events 2000]
    python benchmarks/btagging.py --features results/features/*/*.root
"""

from __future__ import annotations

import sys
from pathlib import Path

# This script shares its name with no stage package, but keep the convention of the others.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import tempfile

import awkward as ak
import numpy as np
import uproot

from deeppp.config import validate_config
from deeppp.contracts import TRACK_JETS_TREE
from generation import chunk_seed, generate_chunk
from reconstruction import plots, reconstruct_chunk
from reconstruction.labels import FLAVOUR_B, FLAVOUR_C, FLAVOUR_LIGHT
from reconstruction.plots import ATLAS_DL1R  # EPJC 83 (2023) 681, with its quote

SEED = 5150
FLAVOURS = ((FLAVOUR_B, "b"), (FLAVOUR_C, "c"), (FLAVOUR_LIGHT, "light"))


def read_track_jets(paths: list[Path]) -> ak.Array:
    return ak.concatenate([plots.read_track_jets(p) for p in paths])


def rejection(efficiency: float, n_jets: int) -> str:
    """1/efficiency with its binomial uncertainty (n_jets track jets)."""
    if efficiency <= 0:
        return f">{n_jets}"
    error = np.sqrt(efficiency * (1 - efficiency) / n_jets) / efficiency**2
    return f"{1 / efficiency:7.1f} +- {error:5.1f}"


ORIGINS = (
    (0, "generator particles (Gaussian core)"),
    (1, "decays in flight (V0s, hyperons)"),
    (2, "photon conversions"),
    (3, "hadronic interactions"),
    (4, "fake tracks"),
)


def light_tail_by_origin(paths: list[Path]) -> None:
    """Where light-jet tracks with S_d0 > 3 come from (truth columns of the diagnostics)."""
    arrays = ak.concatenate(
        [
            uproot.open(p)[TRACK_JETS_TREE].arrays(
                ["flavour", "trk_sd0", "trk_btag", "trk_origin", "trk_ip_tail"]
            )
            for p in paths
        ]
    )
    light = arrays[arrays.flavour == FLAVOUR_LIGHT]
    keep = light.trk_btag == 1
    sd0 = ak.to_numpy(ak.flatten(light.trk_sd0[keep]))
    origin = ak.to_numpy(ak.flatten(light.trk_origin[keep]))
    tail = ak.to_numpy(ak.flatten(light.trk_ip_tail[keep])) == 1
    print("  light-jet b-tagging tracks with S_d0 > 3, by origin (fraction of all such tracks):")
    for code, name in ORIGINS:
        rows = (origin == code) & ~tail
        print(f"    {name:38s} {100 * np.mean(rows & (sd0 > 3)):5.2f} %")
    print(f"    {'resolution tail (any origin)':38s} {100 * np.mean(tail & (sd0 > 3)):5.2f} %")


def summarise(track_jets: ak.Array) -> None:
    """The numbers of the b-tagging plot's caption (weighted with the generator event weights)."""
    numbers = plots.btagging_numbers(track_jets)
    print("  b-tagging tracks of the track jets:")
    for _, name in FLAVOURS:
        print(
            f"    {name:5s} {numbers[f'{name}_tracks']:7d} tracks: S_d0 > 3 "
            f"{100 * numbers[f'{name}_sd0_above_3']:5.2f} %, |S_d0| > 3 "
            f"{100 * numbers[f'{name}_abs_sd0_above_3']:5.2f} %"
        )
    print(
        f"  track jets: {numbers['b_jets']} b, {numbers['c_jets']} c, {numbers['light_jets']} light"
    )
    for label, key in (
        ("max S_d0 > 5", "eff_max_sd0_5"),
        (">= 2 tracks with S_d0 > 3", "eff_two_tracks_3"),
    ):
        print(
            f"  {label:26s}: b efficiency {100 * numbers[f'b_{key}']:5.1f} % | light rejection "
            f"{rejection(numbers[f'light_{key}'], numbers['light_jets'])} | c rejection "
            f"{rejection(numbers[f'c_{key}'], numbers['c_jets'])}"
        )
    print(
        "  ATLAS DL1r (Eur. Phys. J. C 83 (2023) 681, ttbar, all b-tagging information): "
        f"b efficiency {100 * ATLAS_DL1R['b_efficiency']:.0f} % | light rejection "
        f"{ATLAS_DL1R['light_rejection']:.0f} | c rejection {ATLAS_DL1R['c_rejection']:.0f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--features", nargs="+", type=Path, help="use these features files")
    parser.add_argument("--events", type=int, default=2000, help="events per process")
    parser.add_argument("--mu", type=float, default=0.0, help="mean pile-up")
    parser.add_argument("--library-events", type=int, default=2000)
    parser.add_argument("--config", type=Path, help="deeppp config (default: config/default.yaml)")
    parser.add_argument(
        "--by-origin",
        action="store_true",
        help="also split the light-jet tail by track origin (needs features files with trk_origin)",
    )
    args = parser.parse_args()
    if args.features:
        print(f"b-tagging benchmark on {len(args.features)} features files")
        summarise(read_track_jets(args.features))
        if args.by_origin:
            light_tail_by_origin(args.features)
        return 0
    from deeppp.config import load_config

    config_path = args.config or Path(__file__).resolve().parents[1] / "config" / "default.yaml"
    config = load_config(config_path)
    config["seed"] = SEED
    config["reconstruction"]["pileup"]["mu"] = args.mu
    config = validate_config(config)
    print(
        f"b-tagging benchmark: {args.events} events per process ({config_path.name}), "
        f"mu = {args.mu:g}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        library = None
        if args.mu > 0:
            library = workdir / "minbias.root"
            generate_chunk(
                "minbias",
                args.library_events,
                chunk_seed(SEED, "minbias", 0),
                library,
                config["generation"],
                progress=False,
            )
        outputs = []
        for process in ("signal", "background"):
            events = workdir / f"{process}.root"
            generate_chunk(
                process,
                args.events,
                chunk_seed(SEED, process, 0),
                events,
                config["generation"],
                progress=False,
            )
            out = workdir / f"{process}_features.root"
            reconstruct_chunk(
                events, out, config, process, 0, pileup_library=library, progress=False
            )
            outputs.append(out)
        summarise(read_track_jets(outputs))
        light_tail_by_origin(outputs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
