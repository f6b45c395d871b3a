"""The atomic writer and the CLI wrapper: nothing half-written, nothing foreign replaced or
deleted, one line and a meaningful exit code for every expected failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deeppp import CheckError, DeepppError
from deeppp.atomic import (
    STALE_SECONDS,
    TEMP_TAG,
    atomic_directory,
    atomic_outputs,
    atomic_path,
    write_json_atomic,
    write_text_atomic,
)
from deeppp.cli import CHECK_FAILED, INTERRUPTED, USAGE_ERROR, run_cli


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="crashed"), atomic_path(target) as tmp:  # noqa: PT012
        tmp.write_text("half")
        raise RuntimeError("writer crashed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_written_file_respects_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_text_atomic(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("kind", ["symlink", "fifo", "directory"])
def test_non_regular_targets_are_refused(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "target"
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    if kind == "symlink":
        target.symlink_to(victim)
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        target.mkdir()
    with pytest.raises(DeepppError, match="refusing to write"):
        write_text_atomic(target, "new")
    assert victim.read_text() == "precious"
    assert os.path.lexists(target)


def test_dev_null_is_never_replaced() -> None:
    with pytest.raises(DeepppError, match="character device"):
        write_text_atomic("/dev/null", "x")


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_cleanup_removes_only_stale_temporaries_of_the_same_file(tmp_path: Path) -> None:
    import deeppp.atomic as atomic

    host = atomic._HOST
    dead = tmp_path / f".train.root.{TEMP_TAG}-{host}-{_dead_pid()}-abcd.root"
    live = tmp_path / f".train.root.{TEMP_TAG}-{host}-{os.getppid()}-beef.root"
    other_host = tmp_path / f".train.root.{TEMP_TAG}-elsewhere-{_dead_pid()}-cafe.root"
    ancient = tmp_path / f".train.root.{TEMP_TAG}-elsewhere-1-dead.root"
    backup = tmp_path / ".train.root.backup"
    other_file = tmp_path / f".test.root.{TEMP_TAG}-{host}-{_dead_pid()}-0000.root"
    for path in (dead, live, other_host, ancient, backup, other_file):
        path.write_text("x")
    old = time.time() - STALE_SECONDS - 60
    os.utime(ancient, (old, old))
    write_text_atomic(tmp_path / "train.root", "new")
    left = {p.name for p in tmp_path.iterdir()}
    assert dead.name not in left and ancient.name not in left
    assert {live.name, other_host.name, backup.name, other_file.name, "train.root"} <= left


def test_a_set_of_outputs_is_replaced_all_or_nothing(tmp_path: Path) -> None:
    first, second = tmp_path / "model.pt", tmp_path / "metrics.json"
    first.write_text("old model")
    second.write_text("old metrics")
    with (  # noqa: PT012
        pytest.raises(OSError, match="disk full"),
        atomic_outputs([first, second]) as (tmp_first, tmp_second),
    ):
        tmp_first.write_text("new model")
        raise OSError("disk full while writing the second file")
    assert (first.read_text(), second.read_text()) == ("old model", "old metrics")
    with atomic_outputs([first, second]) as (tmp_first, tmp_second):
        tmp_first.write_text("new model")
        tmp_second.write_text("new metrics")
    assert (first.read_text(), second.read_text()) == ("new model", "new metrics")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "model.pt"]


def test_directory_is_swapped_as_a_whole(tmp_path: Path) -> None:
    final = tmp_path / "rtl"
    final.mkdir()
    (final / "old.v").write_text("old")
    with pytest.raises(RuntimeError, match="failed"), atomic_directory(final) as tmp:  # noqa: PT012
        (tmp / "new.v").write_text("new")
        raise RuntimeError("synthesis failed")
    assert [p.name for p in final.iterdir()] == ["old.v"]
    with atomic_directory(final) as tmp:
        (tmp / "new.v").write_text("new")
    assert [p.name for p in final.iterdir()] == ["new.v"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rtl"]


def test_json_refuses_non_finite_numbers(tmp_path: Path) -> None:
    with pytest.raises(DeepppError, match="NaN or infinity"):
        write_json_atomic(tmp_path / "m.json", {"auc": float("nan")})
    assert not (tmp_path / "m.json").exists()
    write_json_atomic(tmp_path / "m.json", {"rejection": None, "n_infinite": 3})
    assert json.loads((tmp_path / "m.json").read_text()) == {"n_infinite": 3, "rejection": None}


@pytest.mark.parametrize(
    ("error", "code", "text"),
    [
        (DeepppError("bad\ninput"), USAGE_ERROR, "prog: error: bad input"),
        (CheckError("3 mismatches"), CHECK_FAILED, "prog: check failed: 3 mismatches"),
        (KeyboardInterrupt(), INTERRUPTED, "prog: interrupted"),
    ],
)
def test_run_cli_exit_codes(
    capsys: pytest.CaptureFixture[str], error: BaseException, code: int, text: str
) -> None:
    def main(argv: list[str] | None) -> int:
        raise error

    assert run_cli(main, "prog", []) == code
    assert capsys.readouterr().err == text + "\n"
