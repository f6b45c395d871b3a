"""Benchmark of the reconstruction stage against Pythia generation of the same events, with pile-up.

Reference: the generation stage producing the hard-scatter events (Pythia 8 ``nextBatch`` with
MPI and hadronisation, extraction, ROOT writing; Pythia initialisation excluded), measured in the
same run. The reconstruction of those events (reading, detector simulation with decays in
flight, material, fakes, vertexing, pile-up overlay, jets with rho*A subtraction, features,
writing) is timed at mu = 0, 60 and 200 and divided by it. Targets: <= 0.3 at mu = 0 and <= 1.0
at mu = 200. The min-bias library (Pythia SoftQCD:nonDiffractive, made once per workflow) is
timed separately, per library event. Times are CPU times of this process (``time.process_time``),
so other jobs on a shared machine do not distort the ratios; the best of ``--repeats``.

Peak resident memory: the CLI reconstructing the events at the largest mu, in a child process
(target <= 4 GB per job).

    python benchmarks/reconstruction.py [--events 1000] [--library-events 2000] [--mu 0 60 200]
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
from deeppp.config import load_config, validate_config
from generation import generate_chunk, pythia_settings
from generation.generate import make_pythia
from reconstruction import reconstruct_chunk

SEED = 4242
DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "config" / "default.yaml"


def cpu_seconds_of_generation(process: str, n_events: int, config: dict, out: Path) -> float:
    """CPU time of the generation stage for ``n_events`` (Pythia initialisation excluded)."""
    start = time.process_time()
    generate_chunk(
        process, n_events, SEED, out, config["generation"], full_config=config, progress=False
    )
    elapsed = time.process_time() - start
    start = time.process_time()
    make_pythia(pythia_settings(process, SEED, config["generation"]))
    return elapsed - (time.process_time() - start)


def config_with_mu(base: dict, mu: float) -> dict:
    config = {**base, "reconstruction": {**base["reconstruction"]}}
    config["reconstruction"]["pileup"] = {**base["reconstruction"]["pileup"], "mu": mu}
    return validate_config(config)


def cpu_seconds_of_reconstruction(
    events: Path, config: dict, out: Path, library: Path | None
) -> float:
    start = time.process_time()
    reconstruct_chunk(events, out, config, "background", 0, pileup_library=library, progress=False)
    return time.process_time() - start


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1000, help="hard-scatter events")
    parser.add_argument("--library-events", type=int, default=2000)
    parser.add_argument("--mu", type=float, nargs="+", default=[0.0, 60.0, 200.0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    args = parser.parse_args()
    base = load_config(args.config)
    base["seed"] = SEED

    print(
        f"reconstruction benchmark: {args.events} background events ({args.config.name}), "
        f"CPU time, best of {args.repeats}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        events = workdir / "background.root"
        library = workdir / "minbias.root"
        gen = min(
            cpu_seconds_of_generation("background", args.events, base, events)
            for _ in range(args.repeats)
        )
        gen_ms = 1e3 * gen / args.events
        lib = min(
            cpu_seconds_of_generation("minbias", args.library_events, base, library)
            for _ in range(args.repeats)
        )
        print(f"  hard-scatter generation {gen_ms:6.2f} ms/event")
        print(
            f"  min-bias library: {1e3 * lib / args.library_events:6.2f} ms per library event "
            f"({args.library_events} events, made once per workflow)"
        )
        # Peak memory first: the kernel's high-water mark over children never goes down.
        mu_max = max(args.mu)
        rss_config = workdir / "rss.yaml"
        import yaml

        rss_config.write_text(yaml.safe_dump(config_with_mu(base, mu_max)))
        rss = child_peak_rss_mb(
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
                "--config",
                str(rss_config),
                "--pileup-library",
                str(library),
                "--no-progress",
            ]
        )
        for mu in args.mu:
            config = config_with_mu(base, mu)
            reco = min(
                cpu_seconds_of_reconstruction(
                    events, config, workdir / "f.root", library if mu > 0 else None
                )
                for _ in range(args.repeats)
            )
            reco_ms = 1e3 * reco / args.events
            target = 0.3 if mu == 0 else 1.0 if mu >= 200 else None
            print(
                f"  mu = {mu:5.0f}: reconstruction {reco_ms:7.2f} ms/event | ratio to generation "
                f"{reco_ms / gen_ms:5.2f}" + (f" (target <= {target})" if target else "")
            )
        print(
            f"  peak RSS, CLI reconstructing {args.events} events at mu = {mu_max:g} "
            f"(pileup.batch_events = {base['reconstruction']['pileup']['batch_events']}): "
            f"{rss:.0f} MB (target <= 4096 MB)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
