# rcsconnect: `make run` starts everything on embedded defaults; `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# Extra quickstart flags, e.g. `make run ARGS=--rotate-password` for a new demo password.
ARGS ?=

.PHONY: run test setup env lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

.env: | $(VENV)/.installed
	$(BIN)/python -m rcsconnect.envfile .env

env: .env

setup: $(VENV)/.installed .env

## 1. Set up and run the product: web server, task cluster and vendor simulator, stopped with Ctrl-C.
run: setup
	$(BIN)/python manage.py quickstart $(ARGS)

## 2. Run the whole test suite (SQLite by default; set DATABASE_URL for PostgreSQL).
test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run

## Benchmarks: prints one table (see docs/benchmarks.md).
bench: setup
	@command -v wrk >/dev/null 2>&1 || { echo "--- installing Debian's wrk for the callback benchmark"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python -m bench

clean:
	rm -rf var staticfiles .pytest_cache
