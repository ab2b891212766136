# zkrisk — `make help` lists the targets. Every target installs what it needs first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
FORGE := node_modules/.bin/forge
# foundry.toml names the solc shim; a native solc on PATH takes precedence.
NATIVE_SOLC := $(shell command -v solc 2>/dev/null)
ifneq ($(NATIVE_SOLC),)
export FOUNDRY_SOLC := $(NATIVE_SOLC)
endif

.DEFAULT_GOAL := help
.PHONY: help setup cpp-deps multicore-prover monitoring-deps browser-deps demo test lint typecheck unit circuits e2e contracts-test test-slow bench build clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(NPM_STAMP): package.json package-lock.json
	@command -v node >/dev/null || { echo "node not found: install Node.js 20+ (apt-get install -y nodejs npm)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(PY_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "zkrisk needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

# circom's C++ witness generator needs these Debian packages; without them witnesses use WASM.
CPP_DEPS := g++ nasm libgmp-dev nlohmann-json3-dev
cpp-deps: ## Debian build deps of the C++ witness generator (optional: installed only if missing)
	@if command -v g++ >/dev/null && command -v nasm >/dev/null && [ -f /usr/include/nlohmann/json.hpp ] \
	    && { [ -f /usr/include/gmp.h ] || ls /usr/include/*-linux-gnu/gmp.h >/dev/null 2>&1; }; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing the C++ witness generator's build deps: $(CPP_DEPS)"; \
	  { apt-get install -y -qq $(CPP_DEPS) >/dev/null 2>&1 \
	    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq $(CPP_DEPS) >/dev/null 2>&1; }; } \
	  || echo "note: apt-get could not install $(CPP_DEPS); witnesses use WASM (slower, same result)"; \
	else echo "note: no C++ witness generator (needs apt-get install -y $(CPP_DEPS) as root);" \
	  "witnesses use WASM (slower, same result)"; fi

# zkrisk's own Groth16 prover (Rust, no crates): built with cargo, Debian's if none is installed.
multicore-prover: $(PY_STAMP) ## Build the multicore Groth16 prover (cargo; apt-get install cargo if missing and root)
	@if ! command -v cargo >/dev/null && [ ! -x "$$HOME/.cargo/bin/cargo" ] \
	    && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing cargo for the multicore prover (apt-get)"; \
	  { apt-get install -y -qq cargo >/dev/null 2>&1 \
	    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq cargo >/dev/null 2>&1; }; } \
	  || echo "note: apt-get could not install cargo; the multicore backend is unavailable (native proves)"; fi
	@$(BIN)/python -m zkrisk.prover.multicore_binary

monitoring-deps: ## Debian's prometheus and prometheus-alertmanager for the alerting tests (if missing and root)
	@bash scripts/monitoring_deps.sh

# The dashboard's browser test drives Debian's chromium through Playwright (no browser download).
browser-deps: ## Debian's chromium for the dashboard's browser test (if missing and root)
	@if command -v chromium >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing chromium for the dashboard's browser test (apt-get)"; \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
	    || { apt-get update -qq >/dev/null 2>&1 \
	         && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; }; } \
	  || echo "note: apt-get could not install chromium; tests/api/test_dashboard_browser.py skips"; \
	else echo "note: no chromium (needs apt-get install -y chromium as root);" \
	  "tests/api/test_dashboard_browser.py skips"; fi

setup: $(NPM_STAMP) $(PY_STAMP) cpp-deps multicore-prover monitoring-deps browser-deps ## Install the pinned JS toolchain (npm ci), the Python venv, C++ witness deps, the multicore prover, Prometheus, chromium
	@$(BIN)/zkrisk toolchain >/dev/null

demo: setup ## Run the end-to-end demo: build, prove, verify on a local Anvil node
	$(BIN)/zkrisk demo

build: setup ## Compile every registered circuit and run its trusted setup (cached)
	$(BIN)/zkrisk build

lint: setup ## ruff (lint + format check) and generated files up to date
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/gen_constants.py --check

typecheck: setup ## mypy --strict over the package (through a zkrisk/ symlink tree: mypy cannot follow package-dir)
	@mkdir -p build/typecheck/zkrisk
	@ln -sfn ../../../engine build/typecheck/zkrisk/engine
	@ln -sfn ../../../prover build/typecheck/zkrisk/prover
	cd build/typecheck && MYPYPATH=. ../../$(BIN)/mypy --config-file ../../pyproject.toml -p zkrisk.engine -p zkrisk.prover

contracts-test: setup ## forge test (offline, solc shim); first the real-proof fixtures (cached)
	$(BIN)/python scripts/gen_forge_fixtures.py
	cd contracts && ../$(FORGE) test --offline

# Two pytest workers (one per core); a test file stays on one worker (its module fixtures, the
# README walkthrough's ordered sessions). PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2
test: setup lint typecheck ## Every test: ruff, mypy, pytest (unit, circuits, contracts, e2e), forge
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile
	$(MAKE) --no-print-directory contracts-test

test-slow: setup ## The slow mode: 10,000 circuit-vs-engine equivalence cases per circuit (default run: 1,000), the runner killed at every crash point, a 10,000-order soak on the lossy simulated exchange, the large circuits' budget and input checks
	ZKRISK_EQUIVALENCE_EXAMPLES=10000 $(BIN)/pytest tests/circuits/test_equivalence.py
	ZKRISK_SLOW=1 $(BIN)/pytest tests/pipeline/test_runner.py -k sigkilled
	ZKRISK_SLOW=1 $(BIN)/pytest tests/pipeline/test_runner_venue_crash.py
	ZKRISK_SLOW=1 $(BIN)/pytest tests/pipeline/test_soak_simex.py -k 10000
	ZKRISK_SLOW=1 $(BIN)/pytest tests/circuits/test_budgets.py tests/circuits/test_public_inputs_bounded.py -k margin16x32

bench: setup ## Run every benchmark; writes benchmarks/results.json and the README table
	$(BIN)/python -m benchmarks.run

clean: ## Remove build artefacts (keeps the venv, node_modules and the ptau cache)
	rm -rf build contracts/out contracts/cache contracts/src/generated/*.sol
