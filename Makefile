# pimbot: `make run` starts the bot on its embedded defaults; `make test` runs every test,
# `make test-fast` all but the slow ones.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast test-minimum lint typecheck bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/pimbot run

test: $(STAMP)
	@sh scripts/install-browser.sh || echo "make test: no browser installed; the browser tests will skip"
	$(BIN)/python -m pytest -q

# Everything but the tests marked slow (processes, kill -9, browser, demo, > ~0.5 s).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

# The fast tests on the declared minimum of every direct dependency (constraints/minimum.txt,
# which equals pyproject's floors), in a venv of its own, rebuilt whenever either file changes.
VENV_MIN := .venv-min
$(VENV_MIN)/.installed: pyproject.toml constraints/minimum.txt
	rm -rf $(VENV_MIN)
	$(PY) -m venv $(VENV_MIN)
	$(VENV_MIN)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_MIN)/bin/python -m pip install --quiet -c constraints/minimum.txt -e '.[test]'
	$(VENV_MIN)/bin/python -m pip check
	touch $@

test-minimum: $(VENV_MIN)/.installed
	$(VENV_MIN)/bin/python -m pytest -q -m "not slow"

# Style, types, and the architecture's import contracts (pyproject [tool.importlinter]).
lint: $(STAMP)
	$(BIN)/ruff check bot handlers tests bench
	$(BIN)/ruff format --check bot handlers tests bench
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(VENV_MIN) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
