# pimbot: `make run` starts the bot on its embedded defaults; `make test` runs every test,
# `make test-fast` all but the slow ones.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint typecheck bench clean

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

# Style, types, and the architecture's import contracts (pyproject [tool.importlinter]).
lint: $(STAMP)
	$(BIN)/ruff check bot handlers tests bench
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
