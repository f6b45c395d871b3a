"""Benchmark of the whole workflow: wall time of a config end to end and each stage's share.

Runs ``snakemake`` on the config (default: config/default.yaml) into a fresh results directory,
then reads the ``benchmark:`` TSVs every heavy rule writes (``{results}/benchmarks/<stage>/...``)
to split the job time by stage. Target: the default config completes in <= 15 minutes on 2 cores
(printed as the ratio wall time / 900 s).

    python benchmarks/workflow.py [--config config/default.yaml] [--cores 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

TARGET_SECONDS = 15 * 60
REPO = Path(__file__).resolve().parents[1]


def stage_seconds(benchmarks_dir: Path) -> dict[str, float]:
    """Sum of job wall times (the ``s`` column) per stage folder under ``benchmarks_dir``."""
    totals: dict[str, float] = defaultdict(float)
    for tsv in sorted(benchmarks_dir.rglob("*.tsv")):
        stage = tsv.relative_to(benchmarks_dir).parts[0]
        with tsv.open() as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                totals[stage] += float(row["s"])
    return dict(totals)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, default=REPO / "config" / "default.yaml")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument(
        "--keep", type=Path, help="results directory to keep (default: a temporary one)"
    )
    args = parser.parse_args()

    results = (
        args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="deeppp-workflow-"))
    )
    snakemake = shutil.which("snakemake") or str(Path(sys.executable).with_name("snakemake"))
    command = [
        snakemake,
        "--cores",
        str(args.cores),
        "--configfile",
        str(args.config.resolve()),
        "--config",
        f"results_dir={results}",
        "--quiet",
    ]
    print(f"workflow benchmark: {args.config.name} on {args.cores} cores -> {results}")
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=REPO, check=False)
    wall = time.perf_counter() - start
    if completed.returncode != 0:
        print(f"snakemake failed with exit code {completed.returncode}", file=sys.stderr)
        return completed.returncode

    per_stage = stage_seconds(results / "benchmarks")
    job_total = sum(per_stage.values())
    print(
        f"  wall time end to end: {wall:7.1f} s = {wall / 60:.1f} min "
        f"| ratio to the 15-min target: {wall / TARGET_SECONDS:.2f} (target <= 1.00)"
    )
    print(
        f"  summed job time: {job_total:.1f} s (parallel efficiency on {args.cores} cores: "
        f"{job_total / (wall * args.cores):.0%})"
    )
    for stage, seconds in sorted(per_stage.items(), key=lambda item: -item[1]):
        print(f"    {stage:15s} {seconds:8.1f} s  {seconds / job_total:6.1%}")
    if not args.keep:
        shutil.rmtree(results, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
