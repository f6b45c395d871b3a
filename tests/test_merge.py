"""``reconstruction merge`` on synthetic features files (tests/stage_files.py): the splits are
shuffled reproducibly so any first-N subset is stratified, they are written as one set, and
only files of the same production are merged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import uproot
from stage_files import with_provenance, write_features

from deeppp.config import validate_config
from deeppp.contracts import JETS_TREE, PROVENANCE_KEY, SPLITS, chunk_file_name, dataset_file_name
from deeppp.rootio import InputFileError
from reconstruction import merge as merge_module
from reconstruction.merge import merge_features

#: Jets per process and chunk: 3 chunks each, so the test split holds ~1000 jets.
N_JETS = 900
N_CHUNKS = 3
#: The signal fraction differs from 1/2 so that the test also checks which fraction is kept.
N_SIGNAL_CHUNKS = 2


@pytest.fixture(scope="module")
def config() -> dict:
    return validate_config({"seed": 11}, source="test")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, config: dict) -> list[Path]:
    root = tmp_path_factory.mktemp("merge_inputs")
    files = []
    for process, n_chunks in (("signal", N_SIGNAL_CHUNKS), ("background", N_CHUNKS)):
        for chunk in range(n_chunks):
            path = root / process / chunk_file_name(chunk)
            path.parent.mkdir(exist_ok=True)
            files.append(write_features(path, config, process, chunk, N_JETS))
    return files


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory, inputs: list[Path], config: dict) -> Path:
    out = tmp_path_factory.mktemp("dataset")
    merge_features(inputs, out, config)
    return out


def _read(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    with uproot.open(path) as f:
        return f[JETS_TREE].arrays(library="np"), json.loads(str(f[PROVENANCE_KEY]))


def test_first_tenth_of_every_split_holds_both_classes_at_the_global_fraction(
    dataset: Path,
) -> None:
    for split in SPLITS:
        jets, record = _read(dataset / dataset_file_name(split))
        label = jets["label"]
        fraction = label.mean()
        head = label[: len(label) // 10]
        sigma = np.sqrt(fraction * (1 - fraction) / len(head))
        # 4 sigma: a failure is a broken shuffle, not a fluctuation (p ~ 6e-5 per split)
        assert abs(head.mean() - fraction) < 4 * sigma, (split, head.mean(), fraction, sigma)
        assert 0 < head.mean() < 1
        # and not by accident: signal-first order would give a pure-signal head
        assert record["row_order"]["shuffled"] is True
        assert record["n_signal"] == int(label.sum())
    overall = np.concatenate([_read(dataset / dataset_file_name(s))[0]["label"] for s in SPLITS])
    assert overall.mean() == pytest.approx(N_SIGNAL_CHUNKS / (N_SIGNAL_CHUNKS + N_CHUNKS))


def test_shuffle_is_reproducible_and_seeded(
    dataset: Path, inputs: list[Path], config: dict, tmp_path: Path
) -> None:
    merge_features(list(reversed(inputs)), tmp_path / "again", config)
    for split in SPLITS:
        name = dataset_file_name(split)
        assert (tmp_path / "again" / name).read_bytes() == (dataset / name).read_bytes()
    # Another seed orders the rows differently (the inputs must then carry that seed too).
    other = validate_config({"seed": 12}, source="test")
    reseeded = [
        with_provenance(
            p,
            tmp_path / "in" / p.parent.name / p.name,
            seed=12,
            config={"seed": 12, "reconstruction": other["reconstruction"]},
        )
        for p in inputs
    ]
    merge_features(reseeded, tmp_path / "other", other)
    a = _read(dataset / "test.root")[0]
    b = _read(tmp_path / "other" / "test.root")[0]
    assert not np.array_equal(a["event_number"][:50], b["event_number"][:50])


def test_splits_share_one_dataset_id_and_no_event_is_in_two(dataset: Path) -> None:
    records = {s: _read(dataset / dataset_file_name(s)) for s in SPLITS}
    assert len({record["dataset_id"] for _, record in records.values()}) == 1
    keys = {
        s: set(zip(j["label"], j["chunk"], j["event_number"], strict=True))
        for s, (j, _) in records.items()
    }
    assert not (
        keys["train"] & keys["val"] or keys["train"] & keys["test"] or keys["val"] & keys["test"]
    )
    assert sum(len(k) for k in keys.values()) == N_JETS * (N_SIGNAL_CHUNKS + N_CHUNKS)


def test_a_failure_while_writing_the_second_split_keeps_the_previous_dataset(
    dataset: Path, inputs: list[Path], config: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "dataset"
    out.mkdir()
    previous = {}
    for split in SPLITS:
        name = dataset_file_name(split)
        previous[name] = (dataset / name).read_bytes()
        (out / name).write_bytes(previous[name])

    real_write_root = merge_module.write_root
    calls = []

    def failing_second_write(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full while writing the second split")
        return real_write_root(path, *args, **kwargs)

    monkeypatch.setattr(merge_module, "write_root", failing_second_write)
    changed = validate_config(
        {"seed": 11, "reconstruction": {"split": {"train": 0.5, "val": 0.25, "test": 0.25}}}, "test"
    )
    with pytest.raises(OSError, match="disk full"):
        merge_features(inputs, out, changed)
    assert len(calls) == 2, "the first split was written (to a temporary name) before the failure"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == previous, (
        "train.root of the failed merge must not stand beside val/test.root of the previous one"
    )


def test_merge_only_settings_may_differ_from_the_features(
    inputs: list[Path], tmp_path: Path
) -> None:
    """The split fractions and weight bins do not change a feature: no rerun needed."""
    changed = validate_config(
        {
            "seed": 11,
            "reconstruction": {
                "split": {"train": 0.8, "val": 0.1, "test": 0.1},
                "weights": {"abs_eta_bin_edges": [0.0, 1.0, 2.0]},
            },
        },
        "test",
    )
    counts = merge_features(inputs, tmp_path, changed)
    assert counts["train"] / sum(counts.values()) == pytest.approx(0.8, abs=0.03)


def test_a_file_of_another_production_is_named(
    inputs: list[Path], config: dict, tmp_path: Path
) -> None:
    other = validate_config(
        {"seed": 11, "reconstruction": {"btagging": {"displaced_sd0_min": 2.5}}}, "test"
    )
    odd = write_features(tmp_path / "odd.root", other, "background", chunk=7)
    with pytest.raises(InputFileError, match=r"odd\.root: .*btagging\.displaced_sd0_min = 2\.5"):
        merge_features([*inputs, odd], tmp_path / "out", config)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
