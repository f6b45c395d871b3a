"""Killing the workflow mid-run and restarting it: finished chunks are kept as they are, the
others are produced, and no output file is ever half-written.

The workflow is the generation stage on small chunks, run by Snakemake with the local profile
in a scratch working directory (so it never touches results/ or the repository's .snakemake
lock). It is interrupted once jobs have finished and others are running, in the two ways users
do it: Ctrl-C (SIGINT to Snakemake, which stops its jobs and cleans up) and a hard kill
(SIGKILL to Snakemake and its jobs, as when a terminal or node dies; then `--unlock` is needed).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import uproot
import yaml

from deeppp.contracts import EVENTS_TREE

REPO = Path(__file__).resolve().parents[1]

#: Chunks per process and events per chunk: enough jobs that the kill falls between the first
#: finished chunks and the last ones on 2 cores, few enough events to stay quick.
CHUNKS = 4
EVENTS_PER_CHUNK = 60

#: Snakemake must not run longer than this (s) per invocation; a hang fails the test.
RUN_TIMEOUT_S = 240


def _write_config(workdir: Path) -> Path:
    config = {
        "seed": 11,
        "results_dir": "results",
        "generation": {
            "processes": {
                "signal": {"chunks": CHUNKS, "events_per_chunk": EVENTS_PER_CHUNK},
                "background": {"chunks": CHUNKS, "events_per_chunk": EVENTS_PER_CHUNK},
            },
            "pthat_min_gev": 250.0,
        },
    }
    path = workdir / "resume.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _snakemake(workdir: Path, configfile: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--profile",
        str(REPO / "profiles" / "default"),
        "--configfile",
        str(configfile),
        "--cores",
        "2",
        *args,
    ]


def _env() -> dict[str, str]:
    """The rules call `python -m <stage>`: put this interpreter's environment first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"  # the log shows every finished job before a SIGKILL
    return env


def _expected_outputs(workdir: Path) -> list[Path]:
    return sorted(
        workdir / "results" / "events" / process / f"{chunk:03d}.root"
        for process in ("signal", "background")
        for chunk in range(CHUNKS)
    )


def _fingerprint(path: Path) -> tuple[int, int, int]:
    """(inode, mtime in ns, size): any rewrite of the file, even with equal bytes, changes it."""
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def _assert_readable(path: Path) -> None:
    """A complete event file: opens, and its tree holds the configured number of events."""
    with uproot.open(path) as file:
        tree = file[EVENTS_TREE]
        assert tree.num_entries == EVENTS_PER_CHUNK, f"{path}: {tree.num_entries} events"
        assert tree["event_number"].array(library="np").tolist() == list(range(EVENTS_PER_CHUNK))


def _job_outputs(log: str) -> tuple[dict[int, str], set[int]]:
    """From a Snakemake log: output file of each started generate_events job (by job id), and
    the ids of the jobs Snakemake reported finished."""
    started = {
        int(jobid): output
        for output, jobid in re.findall(
            r"^rule generate_events:\n(?:    .*\n)*?    output: (\S+)\n"
            r"(?:    .*\n)*?    jobid: (\d+)$",
            log.replace("localrule generate_events:", "rule generate_events:"),
            flags=re.MULTILINE,
        )
    }
    finished = {
        int(jobid)
        for jobid in re.findall(
            r"^Finished jobid: (\d+) \(Rule: generate_events\)", log, flags=re.MULTILINE
        )
    }
    return started, finished


def _run_and_interrupt(workdir: Path, configfile: Path, how: str) -> set[Path]:
    """Start the workflow and interrupt it once Snakemake has reported >= 2 chunks finished while
    others still run; return the chunks Snakemake reported finished."""
    log_path = workdir / f"run_{how}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            _snakemake(workdir, configfile, "generation"),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_env(),
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            started, finished = _job_outputs(log_path.read_text())
            if len(finished) >= 2 and set(started) - finished:
                break
            time.sleep(0.05)
        assert proc.poll() is None, (
            f"the workflow ended (rc {proc.returncode}) before it could be interrupted: "
            f"see {log_path}"
        )
        if how == "sigint":
            # Ctrl-C: Snakemake stops its running jobs, removes their partial outputs, unlocks.
            os.kill(proc.pid, signal.SIGINT)
            proc.wait(timeout=60)
        else:
            # Hard kill of Snakemake and every job it started (same process group).
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    started, finished = _job_outputs(log_path.read_text())
    return {workdir / started[jobid] for jobid in finished}


@pytest.mark.slow
@pytest.mark.parametrize("how", ["sigint", "sigkill"])
def test_interrupted_workflow_resumes_without_redoing_finished_chunks(
    tmp_path: Path, how: str
) -> None:
    start = time.monotonic()
    workdir = tmp_path / "work"
    workdir.mkdir()
    configfile = _write_config(workdir)
    outputs = _expected_outputs(workdir)

    finished = _run_and_interrupt(workdir, configfile, how)
    assert 2 <= len(finished) < len(outputs), finished
    kept = {path: _fingerprint(path) for path in finished}

    # Whatever carries a final name after the interruption is a complete file: the finished
    # chunks, and those whose job was stopped after its atomic rename.
    for path in outputs:
        if path.exists():
            _assert_readable(path)

    if how == "sigkill":
        # The dead Snakemake still holds the directory lock: a restart must say so and stop...
        locked = subprocess.run(
            _snakemake(workdir, configfile, "generation"),
            capture_output=True,
            text=True,
            env=_env(),
            timeout=RUN_TIMEOUT_S,
        )
        assert locked.returncode != 0
        assert "cannot be locked" in locked.stdout + locked.stderr
        # ... until the user unlocks it, as the message says.
        subprocess.run(
            _snakemake(workdir, configfile, "--unlock"),
            check=True,
            capture_output=True,
            env=_env(),
            timeout=RUN_TIMEOUT_S,
        )

    restart = subprocess.run(
        _snakemake(workdir, configfile, "generation"),
        capture_output=True,
        text=True,
        env=_env(),
        timeout=RUN_TIMEOUT_S,
    )
    log = restart.stdout + restart.stderr
    assert restart.returncode == 0, log[-3000:]

    # Exactly the chunks not reported finished ran again (including any whose file appeared as
    # the job was stopped: Snakemake marks it incomplete); the finished ones were not touched.
    rerun = {
        workdir / match
        for match in re.findall(r"^\s+output: (results/events/\S+\.root)$", log, flags=re.MULTILINE)
    }
    assert rerun == set(outputs) - set(kept), log[-3000:]
    for path, fingerprint in kept.items():
        assert _fingerprint(path) == fingerprint, f"{path} was rewritten"

    # Every chunk is complete now. Besides them, the event folders may hold at most the hidden
    # temporary file (`.<name>.<random>.root`) of a job killed in the instant it was writing;
    # never anything under a name Snakemake or a later stage would take for an output.
    for path in outputs:
        _assert_readable(path)
    extras = sorted(
        path
        for path in (workdir / "results" / "events").rglob("*")
        if path.is_file() and path not in outputs
    )
    assert all(re.fullmatch(r"\.\d{3}\.root\..+\.root", path.name) for path in extras), extras

    # A chunk that was interrupted and produced by the restart has the bytes of an uninterrupted
    # run of the same job.
    redone = sorted(set(outputs) - set(kept))[0]
    process, chunk = redone.parent.name, int(redone.stem)
    reference = tmp_path / "reference.root"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "generation",
            "--config",
            str(workdir / "results" / "config" / "generation.yaml"),
            "--process",
            process,
            "--chunk",
            str(chunk),
            "--out",
            str(reference),
            "--no-progress",
        ],
        check=True,
        capture_output=True,
        cwd=workdir,
        env=_env(),
        timeout=RUN_TIMEOUT_S,
    )
    assert reference.read_bytes() == redone.read_bytes()

    print(
        f"resume after {how}: {len(kept)}/{len(outputs)} chunks kept, "
        f"{len(rerun)} rerun, {len(extras)} temporary leftovers, {time.monotonic() - start:.1f} s"
    )
