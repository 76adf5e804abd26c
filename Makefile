# Account scorer: every command a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help setup up down status test unit lint format demo bench bench-replay clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

setup: $(STAMP) ## Create .venv with the project installed (editable, dev extras)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed: set PYTHON=python3.11")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

up: setup ## Start Kafka (KRaft) and Redis on 127.0.0.1 (installs them on first run)
	@$(PY) deploy/local/stack.py up

down: ## Stop the local Kafka and Redis; leaves no process behind
	@if [ -x $(PY) ]; then $(PY) deploy/local/stack.py down; fi

status: setup ## Show whether the local Kafka and Redis answer
	@$(PY) deploy/local/stack.py status

test: setup up ## Run the whole suite, unit and integration, against the real Kafka and Redis
	$(PY) -m pytest $(PYTEST_ARGS)

unit: setup ## Run the unit tests only (no services needed)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

lint: setup ## ruff (lint + format check) and mypy (strict on scoring/)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy scoring streams

format: setup ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

demo: up ## The live pipeline end to end: simulated market in, tier changes out
	@$(PY) -m streams.cli demo

bench-replay: setup ## Benchmark the offline replay of the scoring core (one core)
	$(PY) tests/bench/bench_replay.py

bench: up ## All benchmarks, ~25 min (not part of make test); rewrites docs/benchmarks.md
	$(PY) tests/bench/bench_pipeline.py --out docs/benchmarks.md

clean: down ## Remove the venv and the local services' data
	rm -rf $(VENV) deploy/local/data .pytest_cache .mypy_cache .ruff_cache .hypothesis
