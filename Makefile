# The README's two commands: `make run` (set up, then run the quickstart) and `make test`
# (set up, then lint and run the test suite). Both are idempotent and quick once installed.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.hybridnlp-installed
SHARED_DATA := $(abspath ../shared/data)
# The larger data sets (IMDB, 20 Newsgroups, WikiText-2, Multi30k) are read from here.
export HYBRIDNLP_DATA ?= $(if $(wildcard $(SHARED_DATA)),$(SHARED_DATA),)

.PHONY: run test test-floors install benchmarks clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, pinned to the CPU build on this machine's disk: a bare `torch` requirement
# would pull a multi-GB CUDA build. pyproject keeps a range (torch>=2.9) for GPU users.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install torch==2.13.0
	$(BIN)/python -m pip install -e ".[dev]"
	touch $@

install: $(STAMP)

run: install
	$(BIN)/hybridnlp run experiments/quickstart.yaml

# One thread per process, two processes (pytest-xdist): the suite's models are tiny, and their
# ops ran faster on one thread than split over two (the contract, hybrid and QA tests: 56 s
# against 81 s); two workers on the machine's two cores ran the whole suite in 206 s against
# 249-310 s serially (AMD EPYC, 2026-12-07). The tests pass with any thread count and in any
# order (they depend on neither).
TEST_ENV := OMP_NUM_THREADS=1
PYTEST_WORKERS := -n 2

test: install
	$(BIN)/ruff check .
	$(TEST_ENV) $(BIN)/python -m pytest $(PYTEST_WORKERS)

# The suite again on the dependency floors (.ci/floors.txt, pyproject's lower bounds): CI's
# second job. Its own venv; the floors are pip constraints, so a floor below pyproject's fails.
FLOORS_VENV ?= .venv-floors
FLOORS_STAMP := $(FLOORS_VENV)/.hybridnlp-installed

$(FLOORS_STAMP): pyproject.toml .ci/floors.txt
	$(PYTHON) -m venv $(FLOORS_VENV)
	$(FLOORS_VENV)/bin/python -c "import torch" 2>/dev/null || \
		$(FLOORS_VENV)/bin/python -m pip install torch==2.13.0
	$(FLOORS_VENV)/bin/python -m pip install -r .ci/floors.txt
	$(FLOORS_VENV)/bin/python -m pip install -e ".[dev]" -c .ci/floors.txt
	touch $@

test-floors: $(FLOORS_STAMP)
	$(TEST_ENV) $(FLOORS_VENV)/bin/python -m pytest $(PYTEST_WORKERS) -q -p no:cacheprovider

benchmarks: install
	$(BIN)/python -m pip install -e ".[dev,bench]"
	$(BIN)/python benchmarks/classical.py
	$(BIN)/python benchmarks/neural.py
	$(BIN)/python benchmarks/hybrid.py
	$(BIN)/python benchmarks/lm.py shakespeare wikitext2 speed

clean:
	rm -rf $(VENV) $(FLOORS_VENV) *.egg-info .pytest_cache .ruff_cache
