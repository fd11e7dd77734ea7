# Set-up and everyday commands. `make demo` and `make test` work on a fresh machine:
# each creates .venv when missing; `install` and `demo` install the project alone,
# `test` adds the test extras.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check
INSTALLED := $(VENV)/.installed-stamp
TESTABLE := $(VENV)/.test-stamp

.PHONY: install demo test fixtures clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(PIP) -e .
	touch $@

$(TESTABLE): pyproject.toml | $(BIN)/python
	$(PIP) -e '.[test]'
	touch $@ $(INSTALLED)

install: $(INSTALLED)
	@echo "zeek-proxy is $(BIN)/zeek-proxy"

demo: $(INSTALLED)
	$(BIN)/zeek-proxy scan --stats fixtures/

test: $(TESTABLE)
	$(BIN)/python -m pytest

fixtures: $(INSTALLED)
	rm -rf fixtures && $(BIN)/python scripts/generate.py fixtures/

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
