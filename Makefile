# ReliefMatch tasks. `make help` lists them.
# The two commands a new user needs: `make run` and `make test`.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
HOST   ?= 127.0.0.1
PORT   ?= 8000
# The address `make run` serves on: setup_demo prints it, emails link to it.
export DJANGO_SITE_URL ?= http://$(HOST):$(PORT)

.DEFAULT_GOAL := help
.PHONY: help install run test lint format migrations-check check ci messages serve demo clean bench bench-quick bench-tools

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

# The virtual environment is rebuilt only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ReliefMatch needs Python 3.11 or newer; set PYTHON=python3.x")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed ## Create .venv and install the app with its dev tools

demo: install ## Migrate the SQLite database and load the demo data
	DJANGO_DEBUG=1 $(PY) manage.py migrate --no-input
	DJANGO_DEBUG=1 $(PY) manage.py setup_demo

# The background worker runs beside the server and is stopped with it.
run: demo ## Set up and start the app with demo data and a worker on http://127.0.0.1:8000
	@DJANGO_DEBUG=1 $(PY) manage.py db_worker --no-reload & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT; trap 'exit 130' INT TERM; \
	DJANGO_DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT)

test: install ## Set up and run the whole test suite (DATABASE_URL picks the database)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install ## ruff lint and format check, and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy programs reliefmatch

format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrations-check: install ## Fail when models changed without a migration
	DJANGO_DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

check: lint migrations-check test ## Everything CI checks, on the current database

messages: install ## Refresh locale/ .po files and compile them to .mo (needs GNU gettext)
	DJANGO_DEBUG=1 $(PY) manage.py makemessages --locale zh_Hans --ignore '.venv/*' --ignore 'tests/*' --no-obsolete
	DJANGO_DEBUG=1 $(PY) manage.py compilemessages --locale zh_Hans --ignore '.venv/*'

serve: install ## Production-style: collectstatic, then gunicorn (needs DJANGO_SECRET_KEY; DJANGO_HTTPS=0 to try it over plain HTTP)
	$(PY) manage.py collectstatic --no-input
	$(BIN)/gunicorn -c gunicorn.conf.py reliefmatch.wsgi

# Benchmarks need PostgreSQL (127.0.0.1:5432 or DATABASE_URL), wrk and the bench extra.
$(VENV)/.installed-bench: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $@

bench-tools: $(VENV)/.installed-bench
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)

bench: bench-tools ## Full benchmarks on PostgreSQL; writes docs/benchmarks.md (about 30 min; seeds 1M profiles once)
	$(PY) -m bench.run $(BENCH_ARGS)

bench-quick: bench-tools ## The same benchmarks on small data in under two minutes (prints the table)
	$(PY) -m bench.run --quick $(BENCH_ARGS)

ci: ## What CI runs: bash .ci/run
	bash .ci/run

clean: ## Remove the virtual environment, SQLite database and collected static files
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache
