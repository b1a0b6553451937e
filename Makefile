# ufo-nas: `make run` (demo end to end), `make test` (lint, then the whole suite), `make lint`.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 90

.PHONY: install run test lint format bench clean chromium

# The dashboard test (tests/e2e/test_dashboard.py) drives Debian's headless Chromium through
# Playwright (never `playwright install`: it would download its own browser).
CHROMIUM ?= /usr/bin/chromium

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null || { echo "need $(PY) on PATH (Python 3.11)"; exit 1; }
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The main job on built-in demo data: synthetic training file + demo test file -> submission.
run: $(STAMP)
	$(BIN)/ufo make-demo
	$(BIN)/ufo run

test: lint chromium
	$(BIN)/pytest -q

# Installs Chromium with apt-get when it is missing and we are root; otherwise stops at once
# with the one command to run.
chromium:
	@if [[ -x $(CHROMIUM) ]]; then exit 0; fi; \
	if [[ $$(id -u) == 0 ]] && command -v apt-get >/dev/null; then \
		echo "make test: $(CHROMIUM) is missing; installing Debian's chromium (apt-get)"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium || exit 1; \
	else \
		echo "make test needs Chromium at $(CHROMIUM) for the dashboard test. Install it with:" >&2; \
		echo "    sudo apt-get install -y chromium" >&2; \
		exit 1; \
	fi; \
	[[ -x $(CHROMIUM) ]] || { echo "apt-get finished but $(CHROMIUM) is still missing" >&2; exit 1; }

# Style (ruff), the layer contracts in pyproject.toml (import-linter: schemas imports nothing
# of tasks/flows/deploy, only tasks.steps/flows/deploy import Prefect, no cycles) and the
# declared dependencies (deptry: an undeclared import or an unused dependency fails).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/deptry .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/run_bench.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/quality.py
	$(BIN)/python bench/selection.py
	$(BIN)/python bench/search_compare.py
	$(BIN)/python bench/update_readme.py

clean:
	rm -rf data/cache data/submissions data/demo data/prefect-results bench/out

# A local Prefect server on 127.0.0.1:4200 (UFO_PREFECT_PORT) plus a process serving the
# deployments in deploy/deployments.py; state in PREFECT_HOME (default .prefect-home/),
# PIDs and logs in .run/ (UFO_RUN_DIR). See deploy/README.md.
.PHONY: serve stop
serve:
	deploy/serve.sh

stop:
	deploy/stop.sh
