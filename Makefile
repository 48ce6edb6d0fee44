# cityops — the same targets locally and in CI.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python

.PHONY: help demo serve test lint format ci clean screenshots

help:
	@echo "make demo   install, load the demo city into var/cityops.db, serve http://127.0.0.1:8000"
	@echo "make test   install test dependencies and run the test suite"
	@echo "make lint   ruff (format + lint), mypy, import-linter"
	@echo "make screenshots  the command center and workspaces on the demo city, to docs/screenshots/"
	@echo "make ci     what CI runs: PostgreSQL from Debian, lint, the whole suite on both stores"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	@touch $@

$(VENV)/.dev: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test,lint]'
	@touch $@ $(VENV)/.runtime

demo: $(VENV)/.runtime
	CITYOPS_MODE=demo $(BIN)/cityops demo load
	CITYOPS_MODE=demo exec $(BIN)/cityops serve

serve: $(VENV)/.runtime
	$(BIN)/cityops serve

test: $(VENV)/.dev
	$(BIN)/pytest -n auto -q

lint: $(VENV)/.dev
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(VENV)/.dev
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

screenshots: $(VENV)/.dev
	$(PY) scripts/screenshots.py

ci: $(VENV)/.dev
	bash scripts/ci.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
