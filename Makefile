# Account scorer: every command a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

# The native scoring core: a Rust crate (PyO3) built as the module scoring._core.
NATIVE := scoring/native
NATIVE_SRC := $(NATIVE)/Cargo.toml $(NATIVE)/Cargo.lock $(wildcard $(NATIVE)/src/*.rs $(NATIVE)/src/*/*.rs)
# rustup's place for cargo, for a shell that has not sourced ~/.cargo/env yet.
ifneq ($(wildcard $(HOME)/.cargo/bin/cargo),)
export PATH := $(HOME)/.cargo/bin:$(PATH)
endif
# The toolchain that rust-toolchain.toml pins. rustup installs it on first use where it can
# download. A machine that cannot (RUSTUP_AUTO_INSTALL=0, no network) but whose stable toolchain
# is that very version gets it registered under the version's name, as rustup's own install would
# (`rustup toolchain link` refuses names of official releases), so the pin holds offline too.
RUST_PIN := $(shell sed -n 's/^channel = "\(.*\)"/\1/p' rust-toolchain.toml)
NEED_CARGO := command -v cargo >/dev/null || { echo 'cargo (Rust) is needed to build the native core scoring/native: install it with  curl https://sh.rustup.rs -sSf | sh -s -- -y  then run  . ~/.cargo/env' >&2; exit 1; }; \
	if command -v rustup >/dev/null && ! rustup run $(RUST_PIN) rustc --version >/dev/null 2>&1 \
	  && [ "$$(rustup run stable rustc --version 2>/dev/null | cut -d' ' -f2)" = $(RUST_PIN) ]; then \
	  sysroot=$$(rustup run stable rustc --print sysroot); \
	  host=$$(rustup run stable rustc -vV | sed -n 's/^host: //p'); \
	  ln -sfn "$$sysroot" "$${RUSTUP_HOME:-$$HOME/.rustup}/toolchains/$(RUST_PIN)-$$host"; \
	  echo "Rust $(RUST_PIN) (rust-toolchain.toml): using the stable toolchain, the same version"; \
	fi
# How every build of the native core runs, pip's and cargo's alike, so that they share one
# cargo cache (scoring/native/target): pyo3 builds against the venv's interpreter (as in the
# build that pip runs for `make setup`), as an extension module (it does not link libpython).
CARGO_TARGET := $(abspath $(NATIVE)/target)
CARGO_ENV = PYO3_PYTHON=$(abspath $(PY)) PYO3_BUILD_EXTENSION_MODULE=1 CARGO_TARGET_DIR=$(CARGO_TARGET)
# The crate's own tests: a test binary links libpython, so neither PYO3_BUILD_EXTENSION_MODULE
# nor the extension-module feature (setuptools-rust turns it on for the module it builds).
CARGO_TEST = PYO3_PYTHON=$(abspath $(PY)) CARGO_TARGET_DIR=$(CARGO_TARGET) cargo test --manifest-path $(NATIVE)/Cargo.toml

.PHONY: help setup native dist lock up down status promtool test test-native unit lint format demo \
	bench bench-replay clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

setup: $(STAMP) ## Create .venv with the project installed (editable, dev extras)

# constraints.txt pins every package of the dev environment (`make lock` writes it).
$(STAMP): pyproject.toml constraints.txt rust-toolchain.toml $(NATIVE_SRC)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed: set PYTHON=python3.11")'
	@$(NEED_CARGO)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@echo "installing the project and its dev tools into $(VENV) (builds the native core: minutes the first time)"
	@$(CARGO_ENV) $(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

native: ## Rebuild only the native core (scoring/native) in place, fast: for iterating on Rust
	@$(NEED_CARGO)
	@test -x $(PY) || $(MAKE) --no-print-directory setup
	@$(CARGO_ENV) cargo build --release --manifest-path $(NATIVE)/Cargo.toml --features extension-module
	@# Where the editable install puts it (abi3: pyproject.toml); copied then renamed, so that a
	@# running worker keeps its old mapping intact. A version-tagged copy would shadow it: removed.
	@cp $(NATIVE)/target/release/lib_core.so scoring/_core.abi3.so~
	@mv -f scoring/_core.abi3.so~ scoring/_core.abi3.so && rm -f scoring/_core.cpython-*.so
	@echo "installed scoring/_core.abi3.so"
	@# The module is now as fresh as a `make setup` would make it: spare the next one a rebuild,
	@# unless pyproject.toml changed since (then the next `make setup` reinstalls).
	@if [ $(STAMP) -nt pyproject.toml ]; then touch $(STAMP); fi

dist: setup ## Build the wheel (abi3: installs without Rust) and the sdist into dist/
	@$(NEED_CARGO)
	@rm -rf dist
	$(CARGO_ENV) $(PY) -m build --outdir dist .
	@ls -l dist

# uv keeps every pin of constraints.txt that still fits pyproject.toml; LOCK_ARGS=--upgrade
# moves them all to the newest versions.
LOCK_ARGS ?=
lock: setup ## Re-resolve constraints.txt, the dev environment's pins, from pyproject.toml
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
	  --custom-compile-command 'make lock' --quiet $(LOCK_ARGS) -o constraints.txt

up: setup ## Start Kafka (KRaft) and Redis on 127.0.0.1 (installs them on first run)
	@$(PY) deploy/local/stack.py up

down: ## Stop the local Kafka and Redis; leaves no process behind
	@if [ -x $(PY) ]; then $(PY) deploy/local/stack.py down; fi

status: setup ## Show whether the local Kafka and Redis answer
	@$(PY) deploy/local/stack.py status

promtool: setup ## Fetch promtool (Debian's prometheus package, unpacked) unless it is on PATH
	@$(PY) deploy/local/stack.py promtool

test: test-native up promtool ## Run the whole suite: the native core's tests, then unit and integration
	$(PY) -m pytest $(PYTEST_ARGS)

test-native: setup ## Run the native core's own tests (cargo test)
	@$(NEED_CARGO)
	$(CARGO_TEST)

unit: setup promtool ## Run the unit tests only (no services needed)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

lint: setup ## ruff (lint + format check), mypy (strict on scoring/), cargo fmt and clippy (tests too)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy scoring streams
	@$(NEED_CARGO)
	cargo fmt --manifest-path $(NATIVE)/Cargo.toml --check
	$(CARGO_ENV) cargo clippy --manifest-path $(NATIVE)/Cargo.toml --all-targets -- -D warnings

format: setup ## Apply ruff's fixes and formatting, and cargo fmt
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
	cargo fmt --manifest-path $(NATIVE)/Cargo.toml

demo: up ## The live pipeline end to end: simulated market in, tier changes out
	@$(PY) -m streams.cli demo

bench-replay: setup ## Benchmark the offline replay of the scoring core (one core)
	$(PY) tests/bench/bench_replay.py

bench: up ## All benchmarks, ~15 min (not part of make test); rewrites docs/benchmarks.md
	$(PY) tests/bench/bench_pipeline.py --out docs/benchmarks.md
	$(PY) tests/bench/bench_faust_floor.py --out docs/benchmarks.md

clean: down ## Remove the venv, the native build and the local services' data
	rm -rf $(VENV) deploy/local/data .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist *.egg-info
	rm -rf $(NATIVE)/target scoring/_core*.so
