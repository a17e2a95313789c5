PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

# more pytest options: make test-fast PYTEST_ARGS="-x -k csv"
PYTEST_ARGS ?=
# parallel test processes (pytest-xdist); each torch process then gets one CPU thread, so they do not contend
TEST_WORKERS ?= 2
PYTEST := OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q --durations=15 -n $(TEST_WORKERS) $(PYTEST_ARGS)

.PHONY: install test test-fast lint bench docs clean

install: $(BIN)/dlrun

$(BIN)/dlrun: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

# everything, the `slow` tests too (long training, python -m dlrun, torchrun/DDP, kills): what CI runs
test: install
	$(PYTEST) tests

# the in-process tier, for the edit-test loop: everything not marked `slow`
test-fast: install
	$(PYTEST) -m "not slow" tests

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: install
	$(BIN)/python benchmarks/run.py

# The documentation site (mkdocs.yml, docs/) into site/; --strict fails on a broken link or a missing page.
# NO_MKDOCS_2_WARNING only silences Material's end-of-life banner.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache .ruff_cache site
