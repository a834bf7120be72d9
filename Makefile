# paperboy: `make run` starts the bot on its embedded default, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test test-fast lint bench clean

# Tests run in parallel (pytest-xdist): most of their time is spent waiting on child processes,
# sockets and databases. TEST_WORKERS=1 runs them in one process. worksteal: a worker that
# is done takes tests queued for another, so the long calendar tests do not finish last alone.
TEST_WORKERS ?= 4

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("paperboy needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/paperboy run

test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal

# The edit loop: everything but the tests marked slow (paperboy processes, real-pace fan-outs).
test-fast: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install
	$(BIN)/python -m benchmarks.search

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
