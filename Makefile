PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install test bench clean

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

clean:
	rm -rf $(VENV) outputs .pytest_cache
