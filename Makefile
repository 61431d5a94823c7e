# One entry point for people and CI. Every target sets up .venv itself:
# `make demo` installs the core only, `make test` and `make bench` every extra they exercise.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORE := $(VENV)/.core-installed
FULL := $(VENV)/.test-installed

.PHONY: test demo bench lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(CORE): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $(CORE)

$(FULL): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(FULL) $(CORE)

lint: $(FULL)
	$(BIN)/ruff check domain application adapters tests benchmarks scripts
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest

demo: $(CORE)
	$(BIN)/ffwd demo

bench: $(FULL)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .ffwd .pytest_cache .hypothesis
