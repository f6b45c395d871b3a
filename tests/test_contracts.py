"""The stage contracts live in deeppp/contracts.py only: no stage, rule file or benchmark
re-declares a tree name, the split names or a dataset file name, and the names parse back."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from deeppp import contracts

ROOT = Path(__file__).resolve().parents[1]
CODE_DIRS = ("deeppp", "generation", "reconstruction", "ml", "firmware", "benchmarks")
TREE_NAMES = {contracts.EVENTS_TREE, contracts.JETS_TREE, contracts.TRACK_JETS_TREE}
DATASET_FILE = re.compile(r"(?:{})\.root".format("|".join(contracts.SPLITS)))


def _python_sources() -> list[Path]:
    files = [p for d in CODE_DIRS for p in sorted((ROOT / d).rglob("*.py"))]
    return [p for p in files if p.name != "contracts.py" and ".venv" not in p.parts]


def contract_literals(source: str) -> list[tuple[int, str]]:
    """(line, literal) for every tree name, dataset file name or full split tuple in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value in TREE_NAMES or DATASET_FILE.fullmatch(node.value):
                found.append((node.lineno, node.value))
        elif isinstance(node, ast.Tuple | ast.List) and node.elts:
            values = {e.value for e in node.elts if isinstance(e, ast.Constant)}
            if len(values) == len(node.elts) and values == set(contracts.SPLITS):
                found.append((node.lineno, "the split names"))
    return found


def test_scanner_finds_a_redeclared_contract() -> None:
    """The scanner itself must catch what it is for (else the tests below pass vacuously)."""
    source = 'TREE = "jets"\nSPLITS = ("train", "val", "test")\npath = "test.root"\n'
    assert [line for line, _ in contract_literals(source)] == [1, 2, 3]


@pytest.mark.parametrize("path", _python_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_stage_code_uses_the_contracts_module(path: Path) -> None:
    found = contract_literals(path.read_text())
    assert not found, f"{path.relative_to(ROOT)}: use deeppp.contracts instead of {found}"


@pytest.mark.parametrize("path", sorted((ROOT / "rules").glob("*.smk")), ids=lambda p: p.name)
def test_rule_files_use_the_contracts_module(path: Path) -> None:
    # Usage comments may name a file; the code may not.
    text = "\n".join(
        line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")
    )
    for pattern in (r'"(?:train|val|test)\.root"', r"/(?:train|val|test)\.root", r"\{chunk:03d\}"):
        assert not re.search(pattern, text), f"{path.name}: literal {pattern}; use deeppp.contracts"
    splits = re.search(r"\(\s*\"train\",\s*\"val\",\s*\"test\"\s*\)", text)
    assert splits is None, f"{path.name}: literal split tuple; use deeppp.contracts.SPLITS"


@pytest.mark.parametrize(
    ("name", "family", "unit", "value", "alt", "gauge", "replica"),
    [
        ("unpruned", "unpruned", None, None, False, True, 0),
        ("unpruned_seed4", "unpruned", None, None, False, True, 4),
        ("autopruner_h30", "autopruner", "hidden", 30, False, True, 0),
        ("retrained_h70_seed2", "retrained", "hidden", 70, False, True, 2),
        ("ptr_h5", "ptr", "hidden", 5, False, True, 0),
        ("autopruner_in10_alt_seed1", "autopruner", "inputs", 10, True, True, 1),
        ("l0_m20_nogauge_seed3", "l0", "multiplications", 20, False, False, 3),
        ("random_in5", "random", "inputs", 5, False, True, 0),
    ],
)
def test_model_names_parse_and_compose(
    name: str,
    family: str,
    unit: str | None,
    value: int | None,
    alt: bool,
    gauge: bool,
    replica: int,
) -> None:
    parsed = contracts.parse_model_name(name)
    assert (parsed.family, parsed.budget_unit, parsed.budget_value) == (family, unit, value)
    assert (parsed.alternative_layout, parsed.gauge_decay, parsed.replica) == (alt, gauge, replica)
    assert parsed.base_name == name.split("_seed")[0]
    composed = contracts.model_name(
        family, unit, value, alternative_layout=alt, gauge_decay=gauge, replica=replica
    )  # type: ignore[arg-type]
    assert composed == name


@pytest.mark.parametrize(
    "name",
    ["", "pruned", "autopruner_h", "autopruner_h30_seed", "magic_h30", "ptr_h30_alt", "l0_in5_x"],
)
def test_bad_model_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="unknown model name"):
        contracts.parse_model_name(name)


def test_multiplications_and_budgets() -> None:
    assert contracts.multiplications([39, 64, 64, 64, 64, 1]) == 39 * 64 + 3 * 64 * 64 + 64
    assert [contracts.hidden_nodes_for_percent(p, [64] * 4) for p in (30, 50, 70)] == [77, 128, 180]
    assert contracts.chunk_file_name(7) == "007.root"
    with pytest.raises(ValueError, match="outside"):
        contracts.chunk_file_name(contracts.MAX_CHUNKS)
