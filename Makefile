# One entry point for people and CI. Every target sets up .venv itself:
# `make demo` installs the core only, `make test` and `make bench` every extra they exercise.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORE := $(VENV)/.core-installed
FULL := $(VENV)/.test-installed

.PHONY: test demo bench lint clean system-deps mutate

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(CORE): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $(CORE)

# torch first and pinned, so nothing resolves a CUDA build; mostlyai-engine without its
# declared dependencies (their CUDA builds break its import on a CPU machine, ADR 0015).
$(FULL): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet 'torch==2.13.0'
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet --no-deps 'mostlyai-engine==2.7.3' 'xgrammar==0.2.8'
	touch $(FULL) $(CORE)

lint: $(FULL)
	$(BIN)/ruff check ffwd domain application adapters tests benchmarks scripts
	$(BIN)/lint-imports

system-deps:
	bash scripts/install-system-deps.sh

# Two processes, each test file in one of them (fixtures that start servers or clusters are
# per module).
test: system-deps lint
	$(BIN)/python -m pytest -n 2 --dist loadfile

demo: $(CORE)
	$(BIN)/ffwd demo

# `make bench ARGS="--only startup"` runs one module; `python -m benchmarks --help` lists them.
bench: $(FULL)
	$(BIN)/python -m benchmarks $(ARGS)

# Mutation testing of the domain (ADR 0024): mutmut, then the rule book's and the hand-made
# mutants against tests/stateful alone; prints every surviving mutant. Not part of `make test`.
mutate: $(FULL)
	nice -n 10 $(BIN)/python scripts/mutate.py $(ARGS)

clean:
	rm -rf $(VENV) .ffwd .pytest_cache .hypothesis mutants
