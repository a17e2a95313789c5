PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install test bench docs clean

install: $(BIN)/dlrun

$(BIN)/dlrun: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

test: install
	$(BIN)/python -m pytest -q --durations=10 tests

bench: install
	$(BIN)/python benchmarks/run.py

# The documentation site (mkdocs.yml, docs/) into site/; --strict fails on a broken link or a missing page.
# NO_MKDOCS_2_WARNING only silences Material's end-of-life banner.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) outputs .pytest_cache site
