# One target per habit. `make demo` and `make test` set up what they need on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Node.js is pinned next to the CDK CLI (package.json's `node`, a supported LTS release): every
# target, the CLI and jsii under the Python app, runs on it once `npm ci` has installed it.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
export CDK_DISABLE_CLI_TELEMETRY := true

SOURCES := app.py cdk.json $(shell find infra functions statemachines corpus -type f -not -path '*/__pycache__/*' 2>/dev/null)

.PHONY: setup browser synth demo serve console test lint typecheck format bench eval clean \
	test-unit test-infra test-localcloud test-flows test-browser test-fuzz test-chaos test-stock

setup: $(VENV)/.installed node_modules/.installed

# The installs are downloads, independent of each other: `make demo` and `make test` run them side by
# side (each one's output kept together), then what needs them.
SIDE_BY_SIDE := $(MAKE) --no-print-directory --jobs=3 --output-sync=target

# The browser tests drive Debian's Chromium (no test tool downloads its own browser).
CHROMIUM := /usr/bin/chromium
browser:
	test -x $(CHROMIUM) || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

# pip installs the pinned installer (requirements-installer.txt), uv the pinned requirements, compiled
# as pip compiles them: where PYTHONDONTWRITEBYTECODE is set, no process would ever write their bytecode,
# and each would compile what it imports again (4x the import time of boto3, moto and powertools).
UV := $(VENV)/bin/uv pip install --python $(PY) --quiet --compile-bytecode
$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-installer.txt functions/runtime/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-installer.txt
	$(UV) -r requirements.txt -r requirements-dev.txt
	$(UV) --no-deps -e functions/runtime
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

cdk.out/manifest.json: $(VENV)/.installed node_modules/.installed $(SOURCES)
	npx cdk synth --quiet --no-notices
	touch $@

synth: cdk.out/manifest.json

demo:  ## a flow end to end in the local cloud
	@$(SIDE_BY_SIDE) setup
	@$(MAKE) --no-print-directory synth
	$(PY) -m localcloud demo

serve: synth  ## keep the local cloud running, with the app deployed
	$(PY) -m localcloud serve

test:  ## the whole suite (a test that takes both cores runs last, alone)
	@$(SIDE_BY_SIDE) setup browser
	@$(MAKE) --no-print-directory lint typecheck
	$(PY) -m pytest -n 2 --dist loadfile -m "not alone"
	$(PY) -m pytest -m alone

# One target per test tier, selected by the markers tests/conftest.py gives each folder.
test-unit: setup  ## no AWS, no local cloud: domain code, contracts, prompts, docs, the registry
	$(PY) -m pytest -n 2 --dist loadfile -m unit
test-infra: setup  ## the synthesized template, cdk-nag, a broken flow or capability at synth
	$(PY) -m pytest -n 2 --dist loadfile -m infra
test-localcloud: setup  ## the handlers and the local cloud itself
	$(PY) -m pytest -n 2 --dist loadfile -m localcloud
test-flows: setup  ## every flow end to end in the local cloud, the tutorial, the runbooks
	$(PY) -m pytest -n 2 --dist loadfile -m "flows and not alone"
	$(PY) -m pytest -m "flows and alone"
test-browser: setup browser  ## the review console in headless Chromium
	$(PY) -m pytest -m browser
test-fuzz: setup  ## every contract fuzzed through its handler, the review API from its OpenAPI document
	$(PY) -m pytest -n 2 --dist loadfile -m fuzz
test-stock: setup  ## the pinned stock AWS CLI and CDK CLI, in subprocesses against a served local cloud
	$(PY) -m pytest -n 2 --dist loadfile -m "stock and not alone"
	$(PY) -m pytest -m "stock and alone"
test-chaos: setup  ## flows under injected faults, with the invariants checked (docs/reliability.md)
	$(PY) -m pytest -m chaos

# The product code's types (infra, functions, the local cloud, the CLI), with the pydantic plugin.
typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy app.py infra aiflows localcloud bench evals functions/runtime/python/aiflows_runtime \
		$(filter-out functions/runtime/,$(sort $(dir $(wildcard functions/*/capability.toml functions/*/handler.py))))

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: synth  ## printed figures: deploy time, flow latency and throughput, the moto floor, cold starts, guard speed, a 200-flow burst
	$(PY) -m bench.run
	$(PY) -m bench.coldstart
	$(PY) -m bench.guard
	$(PY) -m bench.load

eval: $(VENV)/.installed  ## the guardrails' precision and recall on the labelled corpus (tests/guard_corpus)
	$(PY) -m evals.guard

clean:
	rm -rf cdk.out .cache .pytest_cache test-artifacts

console: synth  ## the review console and API on 127.0.0.1:8642, with a run waiting for review
	$(PY) -m localcloud console --seed statemachines/document_intake/events/review.json
