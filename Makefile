# Two commands a lab needs: `make run` (the whole core, embedded default
# config) and `make test` (lint, types, unit, e2e and interop tests).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CONFIG ?=

.PHONY: run test lint typecheck unit e2e interop bench clean test-kernel

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/ims-cli run $(if $(CONFIG),--config $(CONFIG))

test: lint typecheck unit e2e interop

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

unit: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q tests/unit

e2e: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q tests/e2e

# Outside CI a missing third-party peer skips its suite with the reason
# printed in the summary; with CI=true the same absence is a failure.
interop: $(VENV)/.installed-test
	@for tool in sipp tshark; do \
	  command -v $$tool >/dev/null || echo "NOTE: '$$tool' is not installed: interop suites needing it are skipped (install Debian packages sip-tester and tshark, or run .ci/run)"; \
	done
	$(BIN)/python -m pytest -q -rs tests/interop

# Tests needing a real kernel (SCTP now, ESP/XFRM later) run inside
# User-Mode Linux (docs: kernel-tests.md): Debian packages user-mode-linux,
# kmod and iproute2, and pysctp from the `sctp` extra.
test-kernel: $(VENV)/.installed-test
	@$(BIN)/python -c 'import sctp' 2>/dev/null || $(BIN)/python -m pip install -q -e '.[test,sctp]'
	$(BIN)/python -m pytest -q -rs tests/kernel/test_uml.py

bench: $(VENV)/.installed-test
	$(BIN)/python bench/bench_parse.py
	$(BIN)/python bench/bench_proxy.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache var
