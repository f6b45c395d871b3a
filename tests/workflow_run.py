"""Running the repository's Snakefile from tests, in scratch working directories.

Each run gets its own directory (its own .snakemake lock and metadata) and a copy of a config
whose ``results_dir`` is the relative ``results``: the config is part of every output's
provenance, so runs that must give equal bytes need equal config text.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "tests" / "configs" / "tiny.yaml"

#: A tiny-config run must never take longer than this (s); a hang fails the test.
RUN_TIMEOUT_S = 1200


def workdir_with_config(root: Path, config_path: Path = TINY_CONFIG) -> tuple[Path, Path]:
    """``root`` holding a copy of the config that writes to ``root/results``."""
    root.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load(config_path.read_text())
    config["results_dir"] = "results"
    configfile = root / config_path.name
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    return root, configfile


def snakemake_command(
    workdir: Path, configfile: Path, *args: str, targets: tuple[str, ...] = ()
) -> list[str]:
    """Targets come first: several options (--configfile, --set-resources) take many values."""
    return [
        sys.executable,
        "-m",
        "snakemake",
        *targets,
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile),
        *args,
    ]


def run_snakemake(
    workdir: Path,
    configfile: Path,
    *args: str,
    targets: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    check: bool = True,
) -> tuple[subprocess.CompletedProcess, float]:
    """Run Snakemake; on failure (``check``) raise with the log tail. Returns (result, seconds)."""
    command = snakemake_command(workdir, configfile, *args, targets=targets)
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=RUN_TIMEOUT_S)
    (workdir / "snakemake.log").write_text(done.stdout + done.stderr)
    if check and done.returncode != 0:
        raise AssertionError(
            f"`{' '.join(command)}` exited {done.returncode}:\n"
            f"{(done.stdout + done.stderr)[-5000:]}"
        )
    return done, time.monotonic() - started
