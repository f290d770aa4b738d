# perpwatch developer commands. On a fresh machine: `make up` (run it) and `make test` (prove it).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STACK := bash deploy/local/stack.sh
NODE_HARNESS := deploy/timescale-check

.DEFAULT_GOAL := help
.PHONY: help up down status test lint typecheck unit integration deps schemas bench clean system report soak

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

$(NODE_HARNESS)/node_modules/.installed: $(NODE_HARNESS)/package-lock.json
	npm ci --prefix $(NODE_HARNESS) --no-audit --no-fund --loglevel=error
	@touch $@

deps: $(BIN)/.installed $(NODE_HARNESS)/node_modules/.installed ## Install Python, Node and server dependencies
	$(STACK) install

up: deps ## Run the local pipeline: Kafka, PostgreSQL, services, and a replay feeding them (SOURCE=simulator|replay|live, DURATION=seconds; Ctrl-C stops)
	$(BIN)/perpwatch up $(if $(SOURCE),--source $(SOURCE)) $(if $(SPEED),--speed $(SPEED)) $(if $(DURATION),--duration $(DURATION))

down: ## Stop the local Kafka and PostgreSQL
	$(STACK) stop

status: ## Show the local stack
	$(STACK) status

lint: $(BIN)/.installed ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed ## mypy (strict on schemas/ and the pure cores)
	$(BIN)/mypy schemas services $(wildcard benchmarks)

unit: deps ## Unit and property tests (no servers)
	$(BIN)/pytest -m "not integration"

integration: deps ## Integration tests on the real local Kafka and PostgreSQL
	$(BIN)/pytest -m integration

test: deps lint typecheck ## Lint, types, unit and integration tests against real Kafka and PostgreSQL
	$(BIN)/python -m schemas.generate --check
	$(BIN)/pytest

schemas: $(BIN)/.installed ## Regenerate schemas/json, schemas/examples and schemas/CATALOG.md
	$(BIN)/python -m schemas.generate

system: deps ## Every system test (tests/system): faults, 10,000 bad records per topic, the long ones too
	PERPWATCH_SYSTEM_LONG=1 PERPWATCH_SYSTEM_BAD_RECORDS=10000 $(BIN)/pytest tests/system

report: deps ## The pipeline under faults on a private Kafka + PostgreSQL -> reports/system.md with plots (~10 min)
	$(BIN)/python -m benchmarks.pipeline

soak: deps ## report plus a 30-minute soak on the simulator with a fault a minute (SOAK_MINUTES=30)
	$(BIN)/python -m benchmarks.pipeline --soak-minutes $(or $(SOAK_MINUTES),30)

bench: $(BIN)/.installed ## Run every benchmark under benchmarks/
	@for b in benchmarks/*.py; do [[ $$(basename $$b) == _* ]] && continue; echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean: down ## Stop the stack and delete local state (.state) and the virtualenv
	rm -rf .state $(VENV) $(NODE_HARNESS)/node_modules
