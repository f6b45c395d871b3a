"""The documentation that users follow stays true: README's two commands, CI running the
README's test command, and the 39-feature table identical to the code."""

from __future__ import annotations

import re
from pathlib import Path

from reconstruction import features

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def test_readme_feature_table_is_the_code():
    block = re.search(
        r"<!-- features:begin -->\n(.*?)\n<!-- features:end -->", README, flags=re.DOTALL
    )
    assert block is not None
    table = [
        line for line in features.feature_table_markdown().splitlines() if re.match(r"\|[ -]", line)
    ]
    assert block.group(1).splitlines() == table
    assert len(table) == 2 + len(features.FEATURE_NAMES) == 41


def test_readme_gives_the_two_commands_and_ci_runs_the_test_one():
    assert "make run " in README
    assert "make test " in README
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, flags=re.MULTILINE)
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^test: ", makefile, flags=re.MULTILINE)
    assert re.search(r"^run: ", makefile, flags=re.MULTILINE)
