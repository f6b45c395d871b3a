"""Benchmark of the reconstruction stage against Pythia generation of the same events.

Reference: the generation stage producing the events (Pythia 8 ``nextBatch`` with MPI and
hadronisation, extraction, ROOT writing; Pythia initialisation excluded), measured in the same
run on the same machine. The reconstruction of those events (reading, detector simulation,
jets, features, writing) should take at most half as long per event, so generation stays the
bottleneck. Also measures the peak resident memory of the CLI reconstructing a 10k-event chunk
(target <= 2 GB); when fewer events were generated, the chunk repeats them (memory depends on
the event content, not on its novelty).

    python benchmarks/reconstruction.py [--events 2000] [--rss-events 10000] [--repeats 2]
"""

from __future__ import annotations

import sys
from pathlib import Path

# This script shares its name with the stage package: keep its own folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import tempfile
import time

import numpy as np
import uproot

from deeppp.benchmarking import child_peak_rss_mb
from deeppp.config import validate_config
from deeppp.contracts import EVENTS_TREE
from deeppp.rootio import write_root
from generation import generate_chunk, pythia_settings
from generation.generate import make_pythia
from reconstruction import reconstruct_chunk
from reconstruction.pipeline import REQUIRED_BRANCHES

SEED = 4242


def generation_seconds(process: str, n_events: int, config: dict, out: Path) -> float:
    """Wall time of the generation stage for ``n_events`` (Pythia initialisation excluded)."""
    start = time.perf_counter()
    generate_chunk(
        process, n_events, SEED, out, config["generation"], full_config=config, progress=False
    )
    elapsed = time.perf_counter() - start
    start = time.perf_counter()
    make_pythia(pythia_settings(process, SEED, config["generation"]))
    return elapsed - (time.perf_counter() - start)


def reconstruction_seconds(process: str, events: Path, config: dict, out: Path) -> float:
    start = time.perf_counter()
    reconstruct_chunk(events, out, config, process, 0, progress=False)
    return time.perf_counter() - start


def repeated_chunk(source: Path, n_events: int, out: Path) -> None:
    """An events file of ``n_events`` made by repeating the events of ``source``."""
    import awkward as ak

    tree = uproot.open(source)[EVENTS_TREE].arrays(list(REQUIRED_BRANCHES))
    index = np.arange(n_events) % len(tree)
    tree = tree[index]
    collections = {}
    for name in ("particles", "truth", "hadrons"):
        fields = [b.split("_", 1)[1] for b in REQUIRED_BRANCHES if b.startswith(f"{name}_")]
        collections[name] = ak.zip({f: tree[f"{name}_{f}"] for f in fields})
    write_root(
        out,
        {EVENTS_TREE: {"event_number": np.arange(n_events, dtype=np.int64), **collections}},
        {"stage": "benchmark", "process": "background", "chunk": 0},
    )


def peak_rss_mb(events: Path, workdir: Path) -> float:
    return child_peak_rss_mb(
        [
            sys.executable,
            "-m",
            "reconstruction",
            "run",
            "--events",
            str(events),
            "--out",
            str(workdir / "rss.root"),
            "--process",
            "background",
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
    config = validate_config({"seed": SEED})

    print(f"reconstruction benchmark: {args.events} events per process, best of {args.repeats}")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for process in ("background", "signal"):
            events = workdir / f"{process}.root"
            gen_best, reco_best = float("inf"), float("inf")
            for _ in range(args.repeats):
                # interleave so slow drifts of the machine hit both measurements alike
                gen_best = min(gen_best, generation_seconds(process, args.events, config, events))
                reco_best = min(
                    reco_best, reconstruction_seconds(process, events, config, workdir / "f.root")
                )
            gen_ms, reco_ms = 1e3 * gen_best / args.events, 1e3 * reco_best / args.events
            print(
                f"  {process:10s} generation {gen_ms:6.2f} ms/event | reconstruction {reco_ms:6.2f} ms/event "
                f"| ratio {reco_ms / gen_ms:.3f} (target <= 0.50)"
            )
        chunk = workdir / "rss_events.root"
        repeated_chunk(workdir / "background.root", args.rss_events, chunk)
        rss = peak_rss_mb(chunk, workdir)
        print(
            f"  peak RSS, CLI reconstructing a {args.rss_events}-event background chunk: {rss:.0f} MB "
            "(target <= 2048 MB)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
