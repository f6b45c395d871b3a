"""The workflow on a real Slurm cluster: a single-node, loopback-only Slurm (Debian's slurm-wlm
and munge, installed here when missing) runs the tiny config through `--profile profiles/slurm`;
every job must have gone through sbatch, and the outputs must equal a local run's.

CI runs this as root on a fresh Debian 12 machine, where a cluster that cannot start is a
failure with its reason. Without root or apt-get (a developer's laptop) it is skipped.
Cluster set-up: tests/slurm/ (slurm.conf.in, start.sh, stop.sh).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from workflow_run import run_snakemake, workdir_with_config

REPO = Path(__file__).resolve().parents[1]
SLURM_SCRIPTS = REPO / "tests" / "slurm"

#: The target both runs build: the whole tiny chain.
TARGET = "all"

#: Outputs (globs under the results directory) that must be bitwise identical between the local
#: and the Slurm run; every other output only has to exist in both (timings differ).
BITWISE_IDENTICAL = (
    "events/*/*.root",
    "features/*/*.root",
    "dataset/*.root",
    "models/*/model.pt",
    "ml/hidden.json",
    "firmware/*/scores.root",
    "firmware/*/report.json",
    "firmware/*/hls/hls4ml_config.yml",
    "firmware/*/hls/firmware/*.h",
    "firmware/*/rtl/src/*.v",
    "report/comparison.csv",
)

#: Results subfolders that hold per-run records (timings, logs), not results.
PER_RUN_FOLDERS = ("benchmarks", "logs")

#: Debian packages of the cluster, and the daemons and clients the test needs from them.
SLURM_PACKAGES = ("slurm-wlm", "munge")
SLURM_TOOLS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo")
#: Daemons live in /usr/sbin, which a non-login PATH may lack.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#: Limit (s) that turns a hung apt-get into a failure.
APT_TIMEOUT_S = 600

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def _report(config: pytest.Config, message: str) -> None:
    """Timings on the terminal (also in CI logs), not only in captured output."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        print(f"[slurm] {message}")
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(f"[slurm] {message}")


def _path_with_system_dirs() -> str:
    return (
        f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        f"{os.pathsep}{SYSTEM_PATH}"
    )


def _missing_tools() -> list[str]:
    path = _path_with_system_dirs()
    return [tool for tool in SLURM_TOOLS if shutil.which(tool, path=path) is None]


def _install_slurm() -> str:
    """Install slurm-wlm and munge with apt-get if any tool is missing; say what was done."""
    missing = _missing_tools()
    if not missing:
        return "slurm-wlm and munge already installed"
    if os.geteuid() != 0:
        pytest.skip(
            f"Slurm is not installed ({', '.join(missing)} missing) and installing it needs root"
        )
    apt_get = shutil.which("apt-get", path=_path_with_system_dirs())
    if apt_get is None:
        pytest.skip(
            f"Slurm is not installed ({', '.join(missing)} missing) and there is no apt-get"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "PATH": _path_with_system_dirs()}
    # Wait for a dpkg lock held by e.g. unattended-upgrades on a freshly booted machine.
    lock_wait = ["-o", "DPkg::Lock::Timeout=300"]
    for command in (
        [apt_get, *lock_wait, "-q", "update"],
        [apt_get, *lock_wait, "-q", "-y", "--no-install-recommends", "install", *SLURM_PACKAGES],
    ):
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=APT_TIMEOUT_S
        )
        if done.returncode != 0:
            pytest.fail(
                f"cannot install Slurm: `{' '.join(command)}` exited {done.returncode}:\n"
                f"{(done.stdout + done.stderr)[-3000:]}"
            )
    missing = _missing_tools()
    if missing:
        pytest.fail(
            f"apt-get installed {' '.join(SLURM_PACKAGES)} "
            f"but {', '.join(missing)} are still missing"
        )
    return f"installed {' '.join(SLURM_PACKAGES)} with apt-get"


@pytest.fixture(scope="module")
def slurm_cluster(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """A running single-node cluster; yields the environment its clients need. Torn down (jobs
    cancelled, daemons stopped, scratch directory removed) also when the test fails."""
    if os.geteuid() != 0:
        pytest.skip(
            "a private Slurm cluster needs root (slurmd runs jobs as their submitting user)"
        )
    started = time.monotonic()
    installed = _install_slurm()
    t_install = time.monotonic() - started
    # A short scratch path: munge's socket path must fit in 108 bytes.
    cluster_dir = Path(tempfile.mkdtemp(prefix="deeppp-slurm-", dir="/tmp"))
    env = {
        **os.environ,
        "PATH": _path_with_system_dirs(),
        "SLURM_CONF": str(cluster_dir / "etc" / "slurm.conf"),
    }
    try:
        try:
            start = subprocess.run(
                ["bash", str(SLURM_SCRIPTS / "start.sh"), str(cluster_dir)],
                capture_output=True,
                text=True,
                env=env,
                timeout=180,
            )
        except subprocess.TimeoutExpired as err:
            pytest.fail(f"Slurm did not start within {err.timeout} s:\n{err.stdout}{err.stderr}")
        if start.returncode != 0:
            pytest.fail(f"Slurm did not start:\n{start.stdout}{start.stderr}")
        _report(
            request.config,
            f"{installed} in {t_install:.0f} s; cluster up in "
            f"{time.monotonic() - started - t_install:.1f} s ({cluster_dir})",
        )
        yield {**env, "DEEPPP_SLURM_DIR": str(cluster_dir)}
    finally:
        subprocess.run(
            ["bash", str(SLURM_SCRIPTS / "stop.sh"), str(cluster_dir)],
            capture_output=True,
            env=env,
            timeout=120,
            check=False,
        )
        shutil.rmtree(cluster_dir, ignore_errors=True)


def _snakemake(
    workdir: Path, configfile: Path, *args: str, env: dict[str, str]
) -> tuple[str, float]:
    """Run Snakemake on the repository's Snakefile in ``workdir``; return its log and wall time."""
    done, seconds = run_snakemake(
        workdir, configfile, *args, targets=(TARGET,), env=env, check=False
    )
    log = done.stdout + done.stderr
    if done.returncode != 0:
        # The Slurm side of failed jobs (sbatch/srun errors) is in the per-job Slurm logs.
        job_logs = sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log"))[:3]
        tails = "".join(
            f"\n--- {path}:\n" + "\n".join(path.read_text().splitlines()[-20:]) for path in job_logs
        )
        pytest.fail(f"Snakemake in {workdir} exited {done.returncode}:\n{log[-5000:]}{tails}")
    return log, seconds


def _result_files(results: Path) -> set[str]:
    return {
        str(path.relative_to(results))
        for path in results.rglob("*")
        if path.is_file() and path.relative_to(results).parts[0] not in PER_RUN_FOLDERS
    }


def _jobs_per_rule(log: str, prefix: str) -> dict[str, int]:
    """How many jobs of each rule a Snakemake log announces with ``prefix`` ("rule" for jobs
    handed to the executor, "localrule" for jobs run by Snakemake itself)."""
    counts: dict[str, int] = {}
    for name in re.findall(rf"^{prefix} (\w+):$", log, flags=re.MULTILINE):
        counts[name] = counts.get(name, 0) + 1
    return counts


def _jobcomp_records(path: Path) -> dict[str, dict[str, str]]:
    """Slurm's job-completion log (jobcomp/filetxt): one `Key=Value ...` line per ended job."""
    records = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        records[fields["JobId"]] = fields
    return records


def test_tiny_workflow_on_slurm_matches_local_run(
    slurm_cluster: dict[str, str], tiny_workflow, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # Reference: the same config run locally (shared with the end-to-end test).
    local_dir, local_log, t_local = tiny_workflow.workdir, tiny_workflow.log, tiny_workflow.seconds
    local_jobs = _jobs_per_rule(local_log, "localrule")
    assert local_jobs.get("generate_events", 0) >= 2, local_log[-3000:]

    # The Slurm run. The cluster has no slurmdbd, so job states come from squeue (finished jobs
    # stay visible for MinJobAge = 600 s); short status intervals keep the tiny run quick.
    slurm_dir, slurm_config = workdir_with_config(tmp_path / "slurm")
    slurm_log, t_slurm = _snakemake(
        slurm_dir,
        slurm_config,
        "--profile",
        str(REPO / "profiles" / "slurm"),
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--slurm-keep-successful-logs",
        env=slurm_cluster,
    )

    # Every job that ran a command went to Slurm, the same jobs as in the local run; only
    # target rules (no command) ran inside Snakemake.
    remote_jobs = _jobs_per_rule(slurm_log, "rule")
    local_in_slurm_run = _jobs_per_rule(slurm_log, "localrule")
    assert remote_jobs.get("generate_events", 0) == local_jobs["generate_events"], slurm_log[-3000:]
    combined = {
        name: remote_jobs.get(name, 0) + local_in_slurm_run.get(name, 0)
        for name in {*remote_jobs, *local_in_slurm_run}
    }
    assert combined == local_jobs
    assert TARGET in local_in_slurm_run

    # ... each through sbatch: one Slurm job id per remote job, all of this run's job name, all
    # completed according to both squeue (the plugin's status source) and slurmctld's
    # job-completion log.
    run_id = re.search(r"^SLURM run ID: (\S+)$", slurm_log, flags=re.MULTILINE).group(1)
    slurm_ids = re.findall(r"has been submitted with SLURM jobid (\d+) ", slurm_log)
    assert len(slurm_ids) == len(set(slurm_ids)) == sum(remote_jobs.values()), slurm_log[-3000:]
    squeue = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--format=%i|%j|%T", f"--name={run_id}"],
        capture_output=True,
        text=True,
        env=slurm_cluster,
        check=True,
    ).stdout
    states = {line.split("|")[0]: line.split("|")[2] for line in squeue.splitlines()}
    assert states == dict.fromkeys(slurm_ids, "COMPLETED"), squeue
    jobcomp = _jobcomp_records(Path(slurm_cluster["DEEPPP_SLURM_DIR"]) / "log" / "jobcomp.log")
    for slurm_id in slurm_ids:
        record = jobcomp[slurm_id]
        assert (record["Name"], record["JobState"], record["ExitCode"]) == (
            run_id,
            "COMPLETED",
            "0:0",
        ), record
    # The per-job Slurm logs show the job step ran the rule inside the allocation.
    slurm_logs = list((slurm_dir / ".snakemake" / "slurm_logs").rglob("*.log"))
    assert sorted(path.stem for path in slurm_logs) == sorted(slurm_ids)
    for path in slurm_logs:
        assert "--executor slurm-jobstep" in path.read_text()

    # Same results as the local run: the same files, the deterministic ones byte for byte.
    local_results, slurm_results = local_dir / "results", slurm_dir / "results"
    assert _result_files(slurm_results) == _result_files(local_results)
    compared = 0
    for pattern in BITWISE_IDENTICAL:
        for local_file in sorted(local_results.glob(pattern)):
            slurm_file = slurm_results / local_file.relative_to(local_results)
            assert slurm_file.read_bytes() == local_file.read_bytes(), (
                f"{slurm_file} differs from the local run"
            )
            compared += 1
    assert compared >= local_jobs["generate_events"]

    _report(
        request.config,
        f"target {TARGET}: local run {t_local:.1f} s, Slurm run {t_slurm:.1f} s, "
        f"{len(slurm_ids)} sbatch jobs, {compared} files bitwise identical",
    )
