"""Benchmark of the generation stage against a bare ``pythia.nextBatch`` loop, and the pTHatMin
study.

Reference: the same Pythia settings and seed, generating the same events with nothing but
``nextBatch`` calls (no extraction, no file). The stage's overhead is everything it adds:
final-state/truth extraction, the charge map, ROOT writing. Target: stage rate >= 0.90 x bare.
Also measures the peak resident memory of the CLI generating a 10k-event chunk (target <= 2 GB)
(the cost of the pile-up library is in benchmarks/reconstruction.py).

``--pthat-study`` measures which PhaseSpace:pTHatMin the samples need: it generates both
processes down to a low pTHatMin with Pythia's pTHat bias (PhaseSpace:bias2Selection, event
weight proportional to pTHat^-2), reconstructs them with the default config (no pile-up) and
prints, for candidate thresholds, the weighted fraction of selected large-R jets (all, and those
with 250 < pT < 275 GeV) that come from events below the threshold: what a sample generated with
that pTHatMin would miss.

    python benchmarks/generation.py [--events 2000] [--rss-events 10000] [--repeats 2]
    python benchmarks/generation.py --pthat-study [--study-events 4000] [--study-pthat-min 120]
"""

from __future__ import annotations

import sys
from pathlib import Path

# This script shares its name with the stage package: keep its own folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import tempfile
import time

from deeppp.benchmarking import child_peak_rss_mb
from deeppp.config import validate_config
from deeppp.contracts import EVENTS_TREE, JETS_TREE
from generation import generate_chunk, pythia_settings
from generation.generate import BATCH_SIZE, make_pythia

SEED = 4242


def bare_loop_seconds(process: str, n_pythia_events: int, generation_config: dict) -> float:
    pythia = make_pythia(pythia_settings(process, SEED, generation_config))
    start = time.perf_counter()
    done = 0
    while done < n_pythia_events:
        done += len(pythia.nextBatch(min(BATCH_SIZE, n_pythia_events - done)))
    return time.perf_counter() - start


def stage_seconds(
    process: str, n_events: int, generation_config: dict, out: Path
) -> tuple[float, int]:
    """Wall time of the full stage (set-up excluded as in the bare loop) and Pythia events used."""
    start = time.perf_counter()
    summary = generate_chunk(process, n_events, SEED, out, generation_config, progress=False)
    elapsed = time.perf_counter() - start
    init = _init_seconds(process, generation_config)
    return elapsed - init, summary.n_events + summary.n_vetoed


def _init_seconds(process: str, generation_config: dict) -> float:
    start = time.perf_counter()
    make_pythia(pythia_settings(process, SEED, generation_config))
    return time.perf_counter() - start


def peak_rss_mb(n_events: int, workdir: Path) -> float:
    return child_peak_rss_mb(
        [
            sys.executable,
            "-m",
            "generation",
            "--process",
            "background",
            "--events",
            str(n_events),
            "--seed",
            str(SEED),
            "--out",
            str(workdir / "rss.root"),
            "--no-progress",
        ]
    )


#: A mild bias: events at low pTHat, which the study is about, keep weights of the same order.
BIAS_POWER = 2.0


def pthat_study(n_events: int, pthat_min: float, thresholds: list[float], workdir: Path) -> None:
    """Weighted fraction of selected jets from events below each candidate pTHatMin."""
    import uproot

    from reconstruction import reconstruct_chunk

    config = validate_config({"seed": SEED})
    bias = [
        "PhaseSpace:bias2Selection = on",
        f"PhaseSpace:bias2SelectionPow = {BIAS_POWER}",
        f"PhaseSpace:bias2SelectionRef = {pthat_min}",
    ]
    generation_config = dict(
        config["generation"],
        pthat_min_gev=pthat_min,
        extra_settings={"signal": bias, "background": bias},
    )
    print(
        f"pTHatMin study: {n_events} events per process generated from pTHat > {pthat_min:g} GeV "
        f"with weight ~ pTHat^-{BIAS_POWER:g}; jets selected as in the default config (no pile-up)"
    )
    header = "  process     jets | " + " | ".join(f"<{x:g} GeV all / 250-275" for x in thresholds)
    print(header)
    for process in ("background", "signal"):
        events = workdir / f"study_{process}.root"
        features = workdir / f"study_{process}_features.root"
        generate_chunk(process, n_events, SEED, events, generation_config, progress=False)
        reconstruct_chunk(events, features, config, process, 0, progress=False)
        pthat_of_event = uproot.open(events)[EVENTS_TREE]["pthat"].array(library="np")
        jets = uproot.open(features)[JETS_TREE].arrays(
            ["event_number", "jet_pt", "weight"], library="np"
        )
        pthat = pthat_of_event[jets["event_number"]].astype(float)
        weight = jets["weight"].astype(float)  # the generator's event weight
        low_pt = (jets["jet_pt"] > 250) & (jets["jet_pt"] < 275)
        cells = []
        for threshold in thresholds:
            below = pthat < threshold
            all_fraction = weight[below].sum() / weight.sum()
            bin_fraction = weight[below & low_pt].sum() / weight[low_pt].sum()
            cells.append(f"{100 * all_fraction:6.2f} % / {100 * bin_fraction:6.2f} %")
        n_effective = weight.sum() ** 2 / (weight**2).sum()
        print(f"  {process:10s} {len(weight):5d} | " + " | ".join(cells))
        print(f"  {'':10s} (effective number of jets {n_effective:.0f})")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rss-events", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--pthat-study", action="store_true", help="run the pTHatMin study only")
    parser.add_argument("--study-events", type=int, default=4000)
    parser.add_argument("--study-pthat-min", type=float, default=120.0)
    parser.add_argument(
        "--study-thresholds", type=float, nargs="+", default=[150, 175, 200, 225, 250]
    )
    args = parser.parse_args()
    if args.pthat_study:
        with tempfile.TemporaryDirectory() as tmp:
            pthat_study(args.study_events, args.study_pthat_min, args.study_thresholds, Path(tmp))
        return 0
    generation_config = validate_config({"seed": SEED})["generation"]

    print(f"generation benchmark: {args.events} events per measurement, best of {args.repeats}")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for process in ("background", "signal"):
            stage_best, bare_best, pythia_events = float("inf"), float("inf"), 0
            for _ in range(args.repeats):
                # interleave so slow drifts of the machine hit both measurements alike
                seconds, pythia_events = stage_seconds(
                    process, args.events, generation_config, workdir / "s.root"
                )
                stage_best = min(stage_best, seconds)
                bare_best = min(
                    bare_best, bare_loop_seconds(process, pythia_events, generation_config)
                )
            stage_rate = pythia_events / stage_best
            bare_rate = pythia_events / bare_best
            print(
                f"  {process:10s} stage {stage_rate:7.1f} Pythia ev/s | "
                f"bare nextBatch {bare_rate:7.1f} ev/s "
                f"| ratio {stage_rate / bare_rate:.3f} (target >= 0.90)"
            )
        rss = peak_rss_mb(args.rss_events, workdir)
        print(
            f"  peak RSS, CLI generating {args.rss_events} background events: {rss:.0f} MB "
            "(target <= 2048 MB)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
