"""Benchmark of the generation stage against a bare ``pythia.nextBatch`` loop.

Reference: the same Pythia settings and seed, generating the same events with nothing but
``nextBatch`` calls (no extraction, no file). The stage's overhead is everything it adds:
final-state/truth extraction, the charge map, ROOT writing. Target: stage rate >= 0.90 x bare.
Also measures the peak resident memory of the CLI generating a 10k-event chunk (target <= 2 GB).

    python benchmarks/generation.py [--events 2000] [--rss-events 10000] [--repeats 2]
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


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rss-events", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
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
                f"  {process:10s} stage {stage_rate:7.1f} Pythia ev/s | bare nextBatch {bare_rate:7.1f} ev/s "
                f"| ratio {stage_rate / bare_rate:.3f} (target >= 0.90)"
            )
        rss = peak_rss_mb(args.rss_events, workdir)
        print(
            f"  peak RSS, CLI generating {args.rss_events} background events: {rss:.0f} MB (target <= 2048 MB)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
