# Fraud scoring inside PostgreSQL, driven by dbt. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# PL/Python uses the system Python: build the venv from it so compiled packages match.
PYTHON ?= $(shell command -v /usr/bin/python3 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
ROWS ?= 284807
DATA ?=
PROFILE ?= quick

export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONUNBUFFERED := 1

.PHONY: help venv db-start db-stop db-status psql profile demo report test test-unit test-greenplum soak lint format bench train-2017 clean clean-venv

help: ## list the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt -c requirements.lock
	@touch $@

# The scorer the database imports: fraud_scoring/ installed (not editable) into the
# venv, whose site-packages is on the server's Python path. Reinstalled whenever the
# installed copy's source hash differs from the checkout's (-P: the installed copy,
# not the checkout in the working directory), so `make test` never runs a stale one.
venv: $(VENV)/.installed ## create .venv with the pinned packages and the fraud_scoring package (reused when current)
	@installed="$$($(BIN)/python -P -m fraud_scoring.version 2>/dev/null | $(BIN)/python -c 'import json, sys; print(json.load(sys.stdin)["sha256"])' 2>/dev/null)"; \
	checkout="$$($(BIN)/python -m fraud_scoring.version | $(BIN)/python -c 'import json, sys; print(json.load(sys.stdin)["sha256"])')"; \
	if [ "$$installed" != "$$checkout" ]; then \
		echo "installing fraud_scoring ($${checkout:0:12}) into $(VENV)"; \
		$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation --force-reinstall . \
			&& rm -rf build fraud_scoring.egg-info fraud_scoring_*.egg-info; \
	fi

db-start: venv ## create (first time) and start the project's PostgreSQL cluster
	@scripts/db.sh start

db-stop: ## stop the project's PostgreSQL cluster
	@scripts/db.sh stop

db-status: ## is the cluster running?
	@scripts/db.sh status

psql: ## a psql shell on the project's database
	@scripts/db.sh psql

profiles.yml: profiles.yml.example
	@test -f $@ || { cp $< $@; echo "created profiles.yml from profiles.yml.example"; }

profile: profiles.yml ## create profiles.yml from profiles.yml.example if absent

demo: db-start profiles.yml ## set up everything, score every transaction, print a summary (DATA=file.csv to use a Kaggle file)
	@$(BIN)/python scripts/demo.py --rows $(ROWS) --profile $(PROFILE) $(if $(DATA),--data $(DATA))

REPORT ?= target/monitoring_report.html
SCREENSHOT ?=
report: db-start profiles.yml ## the monitoring report, one HTML file: REPORT (target/monitoring_report.html); SCREENSHOT=x.png also renders it in Chromium
	@$(BIN)/python -m reports --out $(REPORT) $(if $(SCREENSHOT),--screenshot $(SCREENSHOT))

test: db-start profiles.yml ## the whole suite: unit tests, database tests, dbt build on a fresh schema
	$(BIN)/python -m pytest tests/python

test-unit: venv ## only the tests that need no database
	$(BIN)/python -m pytest tests/python -m "not database and not greenplum"

OPERATIONS ?= 5000
SEED ?= 1
MINUTES ?= 600
PER_RUN ?= 16
soak: db-start profiles.yml ## the exactly-once soak: OPERATIONS random operations (SEED; at most MINUTES; at most PER_RUN source operations between runs), the invariant checked after every run
	$(BIN)/python tests/python/soak.py --operations $(OPERATIONS) --seed $(SEED) --minutes $(MINUTES) --per-run $(PER_RUN)

test-greenplum: venv ## the live-cluster suite: FRAUD_GP_HOST, FRAUD_GP_PORT, FRAUD_GP_USER (a superuser) name a running coordinator
	@test -n "$$FRAUD_GP_HOST" || { echo "make test-greenplum: set FRAUD_GP_HOST, FRAUD_GP_PORT and FRAUD_GP_USER to a running Greenplum / Cloudberry coordinator" >&2; exit 2; }
	$(BIN)/python -m pytest tests/python/test_greenplum_cluster.py

lint: venv ## ruff and sqlfluff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint models macros tests/dbt

format: venv ## ruff format
	$(BIN)/ruff format .

SIZES ?= 250000,500000,1000000,2000000
REPEATS ?= 3
bench: demo ## native vs in-database scoring, side by side (SIZES=..., REPEATS=...): bench/results/
	$(BIN)/python -m bench --sizes $(SIZES) --repeats $(REPEATS) --model-dir artifacts/demo

train-2017: venv ## the full 2017 protocol (10 folds, up to 20 epochs, batch 32) on the earlier 80% of rows, measured on the latest 20% (30 min here) into artifacts/2017
	$(BIN)/python -m training train $(if $(DATA),--data $(DATA),--synthetic $(ROWS)) --profile 2017 --out artifacts/2017

clean: db-stop ## stop the cluster and remove its data, generated data, models and dbt output
	rm -rf .pgdata target logs data artifacts .pytest_cache

clean-venv: ## remove the virtual environment
	rm -rf $(VENV)
