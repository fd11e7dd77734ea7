# Set-up and everyday commands. `make demo` and `make test` work on a fresh machine:
# each creates .venv when missing and installs the project with its test extras.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test fixtures bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/zeek-proxy scan --stats fixtures/

test: $(STAMP)
	$(BIN)/python -m pytest

fixtures: $(STAMP)
	rm -rf fixtures && $(BIN)/python scripts/generate.py fixtures/

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
