# Two entry points, each doing all set-up on first use (Python >= 3.11 with venv on PATH as python3):
#   make run    the full workflow on config/default.yaml (results/ and report.html)
#   make test   the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.deeppp-installed
CORES  ?= $(shell nproc 2>/dev/null || echo 2)
CONFIG ?= config/default.yaml

.PHONY: run test lint report clean install

install: $(STAMP)

$(STAMP): pyproject.toml $(wildcard setup.py) $(wildcard reconstruction/*.cpp)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: $(STAMP)
	$(BIN)/snakemake --profile profiles/default --configfile $(CONFIG) --cores $(CORES)
	$(BIN)/snakemake --profile profiles/default --configfile $(CONFIG) --report report.html

# Lint, format and type checks run before the tests: CI (.ci/run -> make test) fails on any of them.
test: lint
	$(BIN)/python -m pytest --durations=15

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf results .snakemake report.html
