"""Hostile and careless inputs (issue 12): every case ends in exactly one line on stderr without a
traceback, the exit code that says what went wrong (2: fix your input, 130: interrupted, 143:
terminated), no file written or replaced anywhere in its working directory, and untouched inputs.

The CLIs run in-process through ``deeppp.cli.run_cli`` on tiny files (tests/stage_files.py);
only Ctrl-C, SIGTERM and Snakemake need a subprocess.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from stage_files import (
    truncated,
    with_provenance,
    with_raw_provenance,
    write_events,
    write_features,
)
from workflow_run import REPO, snakemake_command, workdir_with_config

from deeppp.cli import INTERRUPTED, TERMINATED, USAGE_ERROR, run_cli
from deeppp.config import MAX_CONFIG_BYTES, validate_config
from deeppp.contracts import MAX_CHUNKS, SPLITS, chunk_file_name, dataset_file_name
from reconstruction.detector import DEFAULT_CARD_PATH

CORES = os.cpu_count() or 1


@dataclass(frozen=True)
class Command:
    main: Callable[[list[str] | None], int | None]
    prog: str
    argv: list[str]


@dataclass(frozen=True)
class Case:
    id: str
    make: Callable[[Path, Shared], Command]
    fragment: str
    rc: int = USAGE_ERROR
    marks: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class Shared:
    """Valid inputs made once per module; cases copy what they need into their own directory."""

    events: Path  # background, chunk 0
    features: dict[str, Path]  # process -> chunk-0 features file, seed 0 defaults
    card: dict[str, Any]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Shared:
    root = tmp_path_factory.mktemp("hostile_shared")
    config = validate_config({"seed": 0}, source="test")
    return Shared(
        events=write_events(root / "events.root"),
        features={
            process: write_features(root / f"{process}.root", config, process)
            for process in ("signal", "background")
        },
        card=yaml.safe_load(DEFAULT_CARD_PATH.read_text()),
    )


def copy(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes())
    return target


# --------------------------------------------------------------------------------------------
# commands


def generation(*argv: object) -> Command:
    from generation.cli import PROG, main

    return Command(main, PROG, [str(a) for a in argv])


def reconstruction(*argv: object) -> Command:
    from reconstruction.cli import PROG, main

    return Command(main, PROG, [str(a) for a in argv])


def report(*argv: object) -> Command:
    from deeppp.report.cli import PROG, main

    return Command(main, PROG, [str(a) for a in argv])


def with_config(text: str | bytes) -> Callable[[Path, Shared], Command]:
    """Generation of one event with this config: the config is read before anything else."""

    def make(tmp: Path, shared: Shared) -> Command:
        path = tmp / "config.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return generation(
            "--process", "signal", "--events", 1, "--out", tmp / "out.root", "--config", path
        )

    return make


def with_card(edit: Callable[[dict[str, Any]], Any]) -> Callable[[Path, Shared], Command]:
    """A config naming a detector card: the built-in one, changed in place by ``edit`` (or
    replaced by the text or bytes ``edit`` returns)."""

    def make(tmp: Path, shared: Shared) -> Command:
        card = yaml.safe_load(yaml.safe_dump(shared.card))
        content = edit(card)
        if content is None:
            content = yaml.safe_dump(card)
        path = tmp / "card.yaml"
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return with_config(f"seed: 1\nreconstruction: {{detector_card: {path}}}\n")(tmp, shared)

    return make


def config_is_a_directory(tmp: Path, shared: Shared) -> Command:
    (tmp / "config.yaml").mkdir()
    return generation(
        "--process", "signal", "--out", tmp / "o.root", "--config", tmp / "config.yaml"
    )


def config_is_missing(tmp: Path, shared: Shared) -> Command:
    return generation("--process", "signal", "--out", tmp / "o.root", "--config", tmp / "no.yaml")


def generation_into_its_config(tmp: Path, shared: Shared) -> Command:
    (tmp / "config.yaml").write_text("seed: 1\n")
    return generation(
        "--process",
        "signal",
        "--events",
        1,
        "--out",
        tmp / "config.yaml",
        "--config",
        tmp / "config.yaml",
    )


def a_directory(tmp: Path, shared: Shared) -> Path:
    (tmp / "dir").mkdir()
    return tmp / "dir"


def _set(node: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        node = node[part]
    node[last] = value


def _drop(node: dict[str, Any], dotted: str) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        node = node[part]
    del node[last]


def alias_bomb() -> str:
    """The billion laughs: 9 levels of 9 aliases each (9^9 strings once expanded)."""
    lines = ["seed: 1", "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 10):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 9)}]")
    lines.append("generation: {extra_settings: {signal: *l9}}")
    return "\n".join(lines) + "\n"


def run_events(**kwargs: Any) -> Callable[[Path, Shared], Command]:
    """``reconstruction run`` on a copy of the shared events (``events`` may be replaced)."""

    def make(tmp: Path, shared: Shared) -> Command:
        events = kwargs.get("events", lambda tmp, shared: copy(shared.events, tmp / "events.root"))(
            tmp, shared
        )
        out = kwargs.get("out", lambda tmp, events: tmp / "features.root")(tmp, events)
        extra = kwargs.get("extra", [])
        process = kwargs.get("process", "background")
        chunk = kwargs.get("chunk", 0)
        return reconstruction(
            "run",
            "--events",
            events,
            "--out",
            out,
            "--process",
            process,
            "--chunk",
            chunk,
            "--no-progress",
            *extra,
        )

    return make


def hard_link(tmp: Path, events: Path) -> Path:
    link = tmp / "link.root"
    os.link(events, link)
    return link


def config_as_out(tmp: Path, events: Path) -> Path:
    return tmp / "config.yaml"


def run_with_own_config_as_out() -> Callable[[Path, Shared], Command]:
    def make(tmp: Path, shared: Shared) -> Command:
        (tmp / "config.yaml").write_text("seed: 0\n")
        return run_events(out=config_as_out, extra=["--config", tmp / "config.yaml"])(tmp, shared)

    return make


def merge(**kwargs: Any) -> Callable[[Path, Shared], Command]:
    """``reconstruction merge`` of the shared signal features with a (changed) background file,
    into a directory that already holds a dataset (which must survive)."""

    def make(tmp: Path, shared: Shared) -> Command:
        signal = copy(shared.features["signal"], tmp / "in" / "signal.root")
        background = kwargs.get(
            "background",
            lambda tmp, shared: copy(shared.features["background"], tmp / "in" / "bkg.root"),
        )(tmp, shared)
        for split in SPLITS:  # a previous dataset
            (tmp / "dataset").mkdir(exist_ok=True)
            (tmp / "dataset" / dataset_file_name(split)).write_text(f"previous {split}")
        files = kwargs.get("files", lambda s, b: [s, b])(signal, background)
        extra = kwargs.get("extra", [])
        return reconstruction("merge", "--features", *files, "--out-dir", tmp / "dataset", *extra)

    return make


def features_with(**changes: Any) -> Callable[[Path, Shared], Path]:
    def make(tmp: Path, shared: Shared) -> Path:
        return with_provenance(shared.features["background"], tmp / "in" / "bkg.root", **changes)

    return make


def features_config(section_changes: dict[str, Any]) -> Callable[[Path, Shared], Path]:
    """Background features made with another reconstruction section."""

    def make(tmp: Path, shared: Shared) -> Path:
        config = validate_config({"seed": 0, "reconstruction": section_changes}, source="test")
        (tmp / "in").mkdir(exist_ok=True)
        return write_features(tmp / "in" / "bkg.root", config, "background")

    return make


def features_other_card(tmp: Path, shared: Shared) -> Path:
    card = yaml.safe_load(yaml.safe_dump(shared.card))
    card["magnetic_field"]["bz_tesla"] = 1.9
    (tmp / "in").mkdir(exist_ok=True)
    (tmp / "in" / "card.yaml").write_text(yaml.safe_dump(card))
    config = validate_config(
        {"seed": 0, "reconstruction": {"detector_card": str(tmp / "in" / "card.yaml")}}, "test"
    )
    return write_features(tmp / "in" / "bkg.root", config, "background")


def background_in_other_bins(tmp: Path, shared: Shared) -> Path:
    """Background jets only above 600 GeV while the signal's are spread over 250-1000 GeV, with
    one bin [600, inf) shared: fine. The config below makes the bins disjoint."""
    config = validate_config({"seed": 0}, source="test")
    (tmp / "in").mkdir(exist_ok=True)
    return write_features(tmp / "in" / "bkg.root", config, "background", pt_range=(700, 900))


def disjoint_bins_config(tmp: Path) -> Path:
    path = tmp / "merge.yaml"
    path.write_text(
        "seed: 0\nreconstruction: {weights: {pt_bin_edges_gev: [250, 600, 650, 2000], "
        "abs_eta_bin_edges: [0.0, 2.5]}}\n"
    )
    return path


def merge_disjoint_bins() -> Callable[[Path, Shared], Command]:
    def make(tmp: Path, shared: Shared) -> Command:
        from stage_files import write_features as write

        config = validate_config({"seed": 0}, source="test")
        (tmp / "in").mkdir()
        signal = write(tmp / "in" / "signal.root", config, "signal", pt_range=(250, 500))
        background = write(tmp / "in" / "bkg.root", config, "background", pt_range=(700, 900))
        merge_config = disjoint_bins_config(tmp)
        # the weights section is merge-only: the inputs stay valid for this config
        return reconstruction(
            "merge",
            "--features",
            signal,
            background,
            "--out-dir",
            tmp / "dataset",
            "--config",
            merge_config,
        )

    return make


def metrics(write: Callable[[Path], Any]) -> Callable[[Path, Shared], Command]:
    def make(tmp: Path, shared: Shared) -> Command:
        path = tmp / "model" / "metrics.json"
        path.parent.mkdir()
        write(path)
        return report(
            "comparison", "--metrics", path, "--pileup-mu", "0", "--out-dir", tmp / "report"
        )

    return make


def references(text: bytes) -> Callable[[Path, Shared], Command]:
    def make(tmp: Path, shared: Shared) -> Command:
        path = tmp / "model" / "metrics.json"
        path.parent.mkdir()
        path.write_text(
            '{"model": "m", "test": {"auc": {"value": 0.9, "uncertainty": 0.01}, '
            '"rejection_50": {"value": 10.0, "uncertainty": 1.0}}}'
        )
        (tmp / "references.yaml").write_bytes(text)
        return report(
            "comparison",
            "--metrics",
            path,
            "--reference",
            tmp / "references.yaml",
            "--pileup-mu",
            "0",
            "--out-dir",
            tmp / "report",
        )

    return make


def mkdir(path: Path) -> None:
    path.mkdir()


CASES: list[Case] = [
    # -- the config file itself ---------------------------------------------------------------
    Case("config-binary", with_config(b"\x00\x01\xff\xfe binary"), "not UTF-8 text"),
    Case("config-directory", config_is_a_directory, "is a directory"),
    Case("config-missing", config_is_missing, "does not exist"),
    Case("config-too-large", with_config("seed: 1\n" + "#\n" * MAX_CONFIG_BYTES), "larger than"),
    Case("config-not-yaml", with_config("seed: [1, 2\n"), "not valid YAML: line 2"),
    Case("config-list", with_config("- seed\n"), "mapping at top level"),
    Case(
        "config-deep", with_config("seed: " + "[" * 5000 + "]" * 5000 + "\n"), "nested too deeply"
    ),
    Case("duplicate-key", with_config("seed: 1\nseed: 2\n"), "line 2: duplicate key 'seed'"),
    Case("anchor", with_config("seed: &s 1\n"), "anchors and aliases are not allowed"),
    # -- numbers ------------------------------------------------------------------------------
    Case("seed-float", with_config("seed: 3.0\n"), "seed: must be an integer, got 3.0"),
    Case("seed-bool", with_config("seed: true\n"), "seed: must be an integer, got true"),
    Case(
        "seed-huge",
        with_config("seed: 99999999999999999999\n"),
        "seed: 99999999999999999999 is greater",
    ),
    Case(
        "chunks-float",
        with_config(
            "seed: 1\ngeneration: {processes: {signal: {chunks: 2.0, events_per_chunk: 5}}}\n"
        ),
        "chunks: must be an integer, got 2.0",
    ),
    Case(
        "learning-rate-inf",
        with_config("seed: 1\nml: {learning_rate: .inf}\n"),
        "ml.learning_rate: must be a finite number, got .inf",
    ),
    Case(
        "pthat-nan",
        with_config("seed: 1\ngeneration: {pthat_min_gev: .nan}\n"),
        "generation.pthat_min_gev: must be a finite number, got .nan",
    ),
    Case(
        "tau0-neg-inf",
        with_config("seed: 1\ngeneration: {limit_tau0_mm: -.inf}\n"),
        "limit_tau0_mm: must be a finite number, got -.inf",
    ),
    Case(
        "efficiency-bool",
        with_config("seed: 1\nml: {signal_efficiencies: [true]}\n"),
        "ml.signal_efficiencies.0: must be a number, got true",
    ),
    # -- bounds -------------------------------------------------------------------------------
    Case("results-dir-empty", with_config("seed: 1\nresults_dir: ''\n"), "results_dir"),
    Case(
        "results-dir-blank",
        with_config("seed: 1\nresults_dir: '  '\n"),
        "results_dir: must not be empty",
    ),
    Case("results-dir-root", with_config("seed: 1\nresults_dir: /\n"), "is the file-system root"),
    Case(
        "results-dir-resolves-to-root",
        with_config("seed: 1\nresults_dir: /tmp/../..\n"),
        "is the file-system root",
    ),
    Case(
        "ml-threads-100000",
        with_config("seed: 1\nml: {threads: 100000}\n"),
        "ml.threads: 100000 is greater",
    ),
    Case(
        "ml-threads-above-cores",
        with_config(f"seed: 1\nml: {{threads: {CORES + 1}}}\n"),
        f"ml.threads: {CORES + 1} threads exceed the {CORES} CPU cores",
    ),
    Case(
        "firmware-threads-above-cores",
        with_config(f"seed: 1\nfirmware: {{threads: {CORES + 1}}}\n"),
        "firmware.threads",
    ),
    Case(
        "layer-width",
        with_config("seed: 1\nml: {hidden_layout: [64, 1000000]}\n"),
        "ml.hidden_layout.1: 1000000 is greater than the maximum of 4096",
    ),
    Case(
        "bootstrap-samples",
        with_config("seed: 1\nml: {bootstrap_samples: 1000000000}\n"),
        "ml.bootstrap_samples",
    ),
    Case(
        "chunks-above-wildcard",
        with_config(
            f"seed: 1\ngeneration: {{processes: {{signal: "
            f"{{chunks: {MAX_CHUNKS + 1}, events_per_chunk: 5}}}}}}\n"
        ),
        f"chunks: {MAX_CHUNKS + 1} is greater than the maximum of {MAX_CHUNKS}",
    ),
    Case(
        "events-per-chunk",
        with_config(
            "seed: 1\ngeneration: {processes: {signal: {chunks: 1, "
            "events_per_chunk: 10000000000}}}\n"
        ),
        "events_per_chunk",
    ),
    Case(
        "batch-events",
        with_config("seed: 1\nreconstruction: {batch_events: 1000000000}\n"),
        "reconstruction.batch_events",
    ),
    Case("report-section", with_config("seed: 1\nreport: {title: x}\n"), "unknown key report"),
    Case(
        "unknown-key",
        with_config("seed: 1\nml: {learning_rat: 0.1}\n"),
        "unknown key ml.learning_rat",
    ),
    # -- cross-key rules, checked when the config is loaded -----------------------------------
    Case(
        "split-sum",
        with_config("seed: 1\nreconstruction: {split: {train: 0.7, val: 0.2, test: 0.2}}\n"),
        "reconstruction.split: train + val + test must be 1",
    ),
    Case(
        "bin-edges",
        with_config("seed: 1\nreconstruction: {weights: {abs_eta_bin_edges: [0, 1, 1, 2]}}\n"),
        "reconstruction.weights.abs_eta_bin_edges: edges must increase",
    ),
    Case(
        "vr-radii",
        with_config("seed: 1\nreconstruction: {vr_track_jets: {r_min: 0.5, r_max: 0.4}}\n"),
        "r_min (0.5) must not exceed r_max (0.4)",
    ),
    Case(
        "integer-bits",
        with_config(
            "seed: 1\nfirmware: {precision: {mode: fixed, total_bits: 8, integer_bits: 8}}\n"
        ),
        "firmware.precision.integer_bits (8) must be below",
    ),
    Case(
        "ml-budget",
        with_config("seed: 1\nml: {hidden_layout: [2, 2, 2, 2], hidden_budgets_percent: [30]}\n"),
        "one node per layer",
    ),
    Case(
        "pthat-above-sqrt-s",
        with_config("seed: 1\ngeneration: {sqrt_s_gev: 400, pthat_min_gev: 250}\n"),
        "leaves no phase space",
    ),
    # -- the detector card --------------------------------------------------------------------
    Case(
        "card-missing",
        with_config("seed: 1\nreconstruction: {detector_card: /nonexistent/card.yaml}\n"),
        "detector card /nonexistent/card.yaml does not exist",
    ),
    Case("card-binary", with_card(lambda c: b"\x00\xff\xfe"), "detector card"),
    Case(
        "card-missing-key",
        with_card(lambda c: _drop(c, "magnetic_field.bz_tesla")),
        "missing key magnetic_field.bz_tesla",
    ),
    Case(
        "card-table-without-values",
        with_card(lambda c: _drop(c, "tracking.efficiency.muon.values")),
        "malformed (KeyError: 'values')",
    ),
    Case(
        "card-text-in-table",
        with_card(lambda c: _set(c, "tracking.efficiency.muon.values", "high")),
        "malformed (ValueError",
    ),
    Case(
        "card-table-not-a-mapping",
        with_card(lambda c: _set(c, "calorimeter.em_resolution", [1, 2])),
        "malformed (TypeError",
    ),
    Case(
        "card-zero-cell",
        with_card(lambda c: _set(c, "calorimeter.central_cell.deta", 0)),
        "malformed (ZeroDivisionError",
    ),
    Case(
        "card-zero-field",
        with_card(lambda c: _set(c, "magnetic_field.bz_tesla", 0)),
        "magnetic_field.bz_tesla must be positive, got 0",
    ),
    Case(
        "card-nan",
        with_card(lambda c: _set(c, "tracking.d0_resolution_um.a", float("nan"))),
        "tracking.d0_resolution_um.a must be finite",
    ),
    Case("card-list", with_card(lambda c: "- a\n- b\n"), "must hold a mapping at top level"),
    Case(
        "card-duplicate-key",
        with_card(lambda c: "magnetic_field: {}\n" + yaml.safe_dump(c)),
        "duplicate key 'magnetic_field'",
    ),
    Case("card-not-yaml", with_card(lambda c: "a: [\n"), "detector card"),
    # -- generation --------------------------------------------------------------------------
    Case(
        "pythia-gives-up",
        lambda t, s: generation(
            "--process",
            "background",
            "--events",
            5,
            "--out",
            t / "out.root",
            "--no-progress",
            "--setting",
            "Check:epTolErr = 1e-30",
        ),
        "Pythia gave up: no event accepted",
    ),
    Case("generation-out-is-the-config", generation_into_its_config, "it is the input"),
    # -- reconstruction run -------------------------------------------------------------------
    Case(
        "events-truncated-after-header",
        run_events(events=lambda t, s: truncated(s.events, t / "events.root", 1600)),
        "events.root: ",
    ),
    Case(
        "events-truncated-to-header",
        run_events(events=lambda t, s: truncated(s.events, t / "events.root", 100)),
        "not a readable ROOT file",
    ),
    Case(
        "events-truncated-half",
        run_events(
            events=lambda t, s: truncated(s.events, t / "events.root", s.events.stat().st_size // 2)
        ),
        "events.root: ",
    ),
    Case(
        "events-provenance-not-json",
        run_events(events=lambda t, s: write_events(t / "events.root", raw_provenance="{not json")),
        "unreadable 'provenance' record (JSONDecodeError",
    ),
    Case(
        "events-provenance-a-list",
        run_events(events=lambda t, s: write_events(t / "events.root", raw_provenance="[1, 2]")),
        "'provenance' record is not a JSON object",
    ),
    Case("events-a-directory", run_events(events=a_directory), "not a regular file"),
    Case("out-is-the-events", run_events(out=lambda t, e: e), "it is the input"),
    Case("out-is-a-hard-link-to-the-events", run_events(out=hard_link), "it is the input"),
    Case("out-is-the-config", run_with_own_config_as_out(), "it is the input"),
    Case(
        "chunk-7-on-chunk-0-events", run_events(chunk=7), "holds the events of chunk 0, not chunk 7"
    ),
    Case(
        "process-mismatch", run_events(process="signal"), "holds 'background' events, not 'signal'"
    ),
    Case(
        "calibrate-negative-max-events",
        lambda t, s: reconstruction(
            "calibrate", "--events", copy(s.events, t / "events.root"), "--max-events", -5
        ),
        "--max-events must be positive, got -5",
    ),
    # -- reconstruction merge -----------------------------------------------------------------
    Case(
        "merge-other-radius",
        merge(background=features_config({"large_r": {"radius": 0.4}})),
        "bkg.root: made with a different configuration: reconstruction.large_r.radius = 0.4",
    ),
    Case("merge-other-seed", merge(background=features_with(seed=5)), "seed = 5 (this merge: 0)"),
    Case("merge-other-card", merge(background=features_other_card), "another detector card"),
    Case(
        "merge-other-features",
        merge(background=features_with(feature_names=["a", "b"])),
        "feature_names",
    ),
    Case(
        "merge-provenance-not-json",
        merge(
            background=lambda t, s: with_raw_provenance(
                s.features["background"], t / "in" / "bkg.root", "{"
            )
        ),
        "unreadable 'provenance' record",
    ),
    Case(
        "merge-features-truncated",
        merge(
            background=lambda t, s: truncated(
                s.features["background"],
                copy(s.features["background"], t / "in" / "bkg.root"),
                1700,
            )
        ),
        "bkg.root: ",
    ),
    Case("merge-background-only", merge(files=lambda s, b: [b]), "no signal jets"),
    Case("merge-signal-only", merge(files=lambda s, b: [s]), "no background jets"),
    Case(
        "merge-duplicate-chunk",
        merge(files=lambda s, b: [s, b, b]),
        "duplicates background chunk 0",
    ),
    Case(
        "merge-all-background-weights-zero",
        merge_disjoint_bins(),
        "every background jet has weight 0",
    ),
    # -- report inputs ------------------------------------------------------------------------
    Case("metrics-a-directory", metrics(mkdir), "cannot read (Is a directory)"),
    Case("metrics-binary", metrics(lambda p: p.write_bytes(b"\xff\xfe")), "not an ml metrics file"),
    Case("metrics-not-json", metrics(lambda p: p.write_text("{")), "not an ml metrics file"),
    Case("metrics-a-list", metrics(lambda p: p.write_text("[1]")), "not an ml metrics file"),
    Case(
        "metrics-no-rejection",
        metrics(lambda p: p.write_text('{"model": "m", "test": {}}')),
        "no rejection_<eps_S> figures",
    ),
    Case("references-not-mappings", references(b"references: [1, 2]\n"), "list of mappings"),
    Case(
        "references-text-number",
        references(
            b"references:\n- {id: x, short: x, citation: y, quotes: {q: '50% and high'}, "
            b"points: [{signal_efficiency: 0.5, background_rejection: high, quote: q}]}\n"
        ),
        "must be finite numbers",
    ),
    Case(
        "references-old-schema",
        references(b"references:\n- {id: x, short: x, citation: y, values: []}\n"),
        "unknown key(s) ['values']",
    ),
    Case(
        "references-binary", references(b"\xff\xfe"), "cannot read the published reference figures"
    ),
]


def _files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def run_in_process(command: Command, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    try:
        rc = run_cli(command.main, command.prog, command.argv)
    except SystemExit as exit_:  # argparse usage errors exit from inside main
        rc = int(exit_.code or 0)
    return rc, capsys.readouterr().err


def assert_one_line(stderr: str, fragment: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=c.id, marks=c.marks) for c in CASES],
)
def test_hostile_input_gives_one_line_and_changes_nothing(
    case: Case, shared: Shared, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command = case.make(tmp_path, shared)
    before = _files(tmp_path)
    started = time.monotonic()
    rc, stderr = run_in_process(command, capsys)
    assert rc == case.rc, stderr
    assert_one_line(stderr, case.fragment)
    assert _files(tmp_path) == before, "a file was written, replaced or removed"
    assert time.monotonic() - started < 30, "an expected failure must be quick"


def test_card_that_is_a_directory(
    shared: Shared, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "card").mkdir()
    command = with_config(f"seed: 1\nreconstruction: {{detector_card: {tmp_path / 'card'}}}\n")(
        tmp_path, shared
    )
    rc, stderr = run_in_process(command, capsys)
    assert rc == USAGE_ERROR
    assert_one_line(stderr, "is a directory")


def test_the_alias_bomb_fails_fast(tmp_path: Path) -> None:
    """In a subprocess: if aliases were accepted, the expansion would never end."""
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb())
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "generation",
            "--process",
            "signal",
            "--out",
            str(tmp_path / "o"),
            "--config",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert time.monotonic() - started < 30
    assert done.returncode == USAGE_ERROR
    assert_one_line(done.stderr, "line 2: anchor &l0 (anchors and aliases are not allowed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.yaml"]


# --------------------------------------------------------------------------------------------
# valid but unusual inputs that used to fail


def test_report_takes_other_working_points_and_infinite_rejections(tmp_path: Path) -> None:
    from deeppp.report.comparison import build_comparison

    path = tmp_path / "metrics.json"
    path.write_text(
        '{"model": "m", "test": {"auc": {"value": 0.9, "uncertainty": 0.01}, '
        '"rejection_50": {"value": null, "uncertainty": null}, '
        '"rejection_80": {"value": 12.5, "uncertainty": 1.5}}}'
    )
    rows = build_comparison(
        [path], REPO / "report" / "atlas_reference.yaml", tmp_path / "out", pileup_mu=0.0
    )
    assert rows[0]["1/eps_B at eps_S = 50 %"].startswith("beyond the test sample")
    assert rows[0]["1/eps_B at eps_S = 80 %"] == "12.5 ± 1.5"
    header = (tmp_path / "out" / "comparison.csv").read_text().splitlines()[0]
    assert header.split(",")[3:5] == ["1/eps_B at eps_S = 50 %", "1/eps_B at eps_S = 80 %"]


def test_the_largest_chunk_count_fits_the_file_names() -> None:
    config = validate_config(
        {
            "seed": 1,
            "generation": {"processes": {"signal": {"chunks": MAX_CHUNKS, "events_per_chunk": 1}}},
        }
    )
    last_chunk = config["generation"]["processes"]["signal"]["chunks"] - 1
    assert re.fullmatch(r"\d{3}\.root", chunk_file_name(last_chunk)), "the workflow's \\d{3}"


def test_thread_limit_follows_the_machine_that_runs_the_jobs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from deeppp.config import ConfigError

    config = {"seed": 1, "ml": {"threads": CORES + 1}}
    with pytest.raises(ConfigError, match=r"ml\.threads"):
        validate_config(config)
    validate_config(config, machine=False)  # a cluster: each job checks on its own node
    monkeypatch.setenv("DEEPPP_MAX_THREADS", str(CORES + 1))
    validate_config(config)


def test_config_validation_imports_no_heavy_stage_code() -> None:
    """The Snakefile validates at parse time: every stage check, but no torch, uproot or fastjet."""
    code = (
        "import sys\n"
        "from deeppp.config import load_config\n"
        "load_config('config/default.yaml')\n"
        "heavy = sorted({'torch', 'uproot', 'awkward', 'fastjet', 'hls4ml'} & set(sys.modules))\n"
        "assert 'ml.settings' in sys.modules and 'reconstruction.validation' in sys.modules\n"
        "print(heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_events_without_provenance_are_still_read(
    shared: Shared, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The chunk check needs a record to compare with; files written by other tools have none."""
    events = write_events(tmp_path / "events.root", with_record=False)
    rc, stderr = run_in_process(
        run_events(events=lambda t, s: events, chunk=3)(tmp_path, shared), capsys
    )
    assert rc == 0, stderr
    assert (tmp_path / "features.root").is_file()


# --------------------------------------------------------------------------------------------
# signals and the workflow (subprocesses)


def _start_generation(tmp_path: Path) -> tuple[subprocess.Popen[str], Path]:
    """A long generation job, returned once its progress bar shows that main() is running."""
    out = tmp_path / "out.root"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "generation",
            "--process",
            "background",
            "--events",
            "100000",
            "--out",
            str(out),
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
    )
    assert child.stderr is not None
    # the progress bar appears once main() runs (Pythia initialised, events being generated)
    seen = ""
    while "ev/s" not in seen and "0/100000" not in seen:
        char = child.stderr.read(1)
        if not char:
            break
        seen += char
    return child, out


@pytest.mark.parametrize(
    ("signum", "rc", "word"),
    [(signal.SIGINT, INTERRUPTED, "interrupted"), (signal.SIGTERM, TERMINATED, "terminated")],
    ids=["ctrl-c", "sigterm"],
)
def test_a_stopped_generation_leaves_nothing(
    tmp_path: Path, signum: int, rc: int, word: str
) -> None:
    child, _ = _start_generation(tmp_path)
    child.send_signal(signum)
    _, rest = child.communicate(timeout=60)
    assert child.returncode == rc, rest
    assert "Traceback" not in rest
    lines = [line for line in rest.replace("\r", "\n").splitlines() if line.strip()]
    messages = [line for line in lines if "ev/s" not in line and "%|" not in line]
    assert messages == [f"python -m generation: {word}"], rest
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "no output, no temporary file"


def test_snakemake_refuses_a_bad_config_with_one_line(tmp_path: Path) -> None:
    workdir, configfile = workdir_with_config(tmp_path / "bad")
    config = yaml.safe_load(configfile.read_text())
    config["reconstruction"] = {"split": {"train": 0.7, "val": 0.2, "test": 0.2}}
    configfile.write_text(yaml.safe_dump(config) + "seed: 8\n")  # and a duplicate key
    duplicate = subprocess.run(
        snakemake_command(workdir, configfile, "-n", "--cores", "1"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert duplicate.returncode == USAGE_ERROR
    line = assert_one_line(_without_profile_notice(duplicate.stderr), "duplicate key 'seed'")
    assert line.startswith("snakemake: error: config file ")

    configfile.write_text(yaml.safe_dump(config))
    split = subprocess.run(
        snakemake_command(workdir, configfile, "-n", "--cores", "1"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert split.returncode == USAGE_ERROR
    assert_one_line(
        _without_profile_notice(split.stderr), "reconstruction.split: train + val + test must be 1"
    )
    assert split.stdout == ""
    assert not (workdir / "results").exists(), "nothing written, no job planned"


def _without_profile_notice(stderr: str) -> str:
    """Snakemake's own note when it picks up profiles/default (not an error)."""
    return "\n".join(
        line for line in stderr.splitlines() if not line.startswith("Using workflow specific")
    )
