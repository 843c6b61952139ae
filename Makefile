# self_healing: the two commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Interpreters: set PY38=/path/python3.8 (or PY311) to override the search in .ci/find_python.
PY38  ?=
PY311 ?=
VENV38  := .venv38
VENV311 := .venv311
STAMP38  := $(VENV38)/.installed
STAMP311 := $(VENV311)/.installed
REQS := requirements.txt requirements-tests.txt
ORQUESTA := orquesta==1.2.0
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

# Genuine StackStorm 3.8.1 + orquesta 1.6.0 (read-only, beside the repo; see its README).
ST2_GENUINE ?= ../shared/st2-genuine
ST2_SRC = $(ST2_GENUINE)/st2-v3.8.1
ST2_REQS = -r $(ST2_GENUINE)/requirements-st2-v3.8.1-py38.txt \
	-r $(ST2_GENUINE)/orquesta-v1.6.0/requirements.txt -c $(ST2_GENUINE)/constraints-st2-v3.8.1-py38.txt
VENV_ST2 := .venv-st2
VENV_ST2_PACK := .venv-st2-pack
STAMP_ST2 := $(VENV_ST2)/.installed
STAMP_ST2_PACK := $(VENV_ST2_PACK)/.installed
# The pack virtualenv's site-packages first, then st2's components and runners, then
# the pack (as st2-run-pack-tests and the python runner order them); st2's venv comes last.
space := $(subst ,, )
ST2_PYTHONPATH = $(subst $(space),:,$(abspath $(VENV_ST2_PACK)/lib/python3.8/site-packages \
	$(addprefix $(ST2_SRC)/,st2common st2reactor st2tests st2client) \
	$(sort $(wildcard $(ST2_SRC)/contrib/runners/*_runner)) sensors actions actions/lib))

.PHONY: help venv services lint test test38 test311 test-st2 st2-genuine demo twin \
	twin-conformance bench bench-scale faults generate clean

help:
	@echo "make demo   - set everything up and run the reference incident (SCENARIO=, MODE=)"
	@echo "make test   - set everything up and run every test on Python 3.8, 3.11 and genuine st2"
	@echo "make lint | twin SCENARIO=... | bench [SCENARIOS=dir] | bench-scale | faults | clean"
	@echo "make generate - rewrite the StackStorm YAML generated from actions/lib/catalogue.py"
	@echo "make twin-conformance [E2E_SRC=dir] - the official client's e2e suite against the twin"

venv: $(STAMP38) $(STAMP311)

$(STAMP38): $(REQS)
	@test -x $(VENV38)/bin/python || { \
		py="$(PY38)"; py="$${py:-$$(.ci/find_python 3.8 --install)}" && $$py -m venv $(VENV38); }
	$(VENV38)/bin/python -m pip install --quiet --upgrade pip
	$(VENV38)/bin/python -m pip install --quiet -r requirements.txt -r requirements-tests.txt \
		$(ORQUESTA)
	@touch $@

$(STAMP311): $(REQS)
	@test -x $(VENV311)/bin/python || { \
		py="$(PY311)"; py="$${py:-$$(.ci/find_python 3.11 --install)}" && $$py -m venv $(VENV311); }
	$(VENV311)/bin/python -m pip install --quiet --upgrade pip
	$(VENV311)/bin/python -m pip install --quiet -r requirements.txt -r requirements-tests.txt
	@touch $@

st2-genuine:
	@test -d $(ST2_SRC)/st2common || { echo "genuine StackStorm not found at $(ST2_GENUINE):" \
		"put shared/st2-genuine beside the repository or set ST2_GENUINE=/path"; exit 1; }

# st2 3.8.1's own pins (never installed from the read-only shared folder: it is on PYTHONPATH).
# Its test classes derive from unittest2.TestCase, which pytest >= 8.2 cannot collect.
$(STAMP_ST2): | st2-genuine
	@test -x $(VENV_ST2)/bin/python || { \
		py="$(PY38)"; py="$${py:-$$(.ci/find_python 3.8 --install)}" && $$py -m venv $(VENV_ST2); }
	$(VENV_ST2)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_ST2)/bin/python -m pip install --quiet $(ST2_REQS) "pytest>=7,<8.2"
	@# orquesta finds its expression evaluators and functions through entry points: install a
	@# scratch copy (the shared folder is read-only), never the shared folder itself.
	tmp=$$(mktemp -d) && cp -r $(ST2_GENUINE)/orquesta-v1.6.0 $$tmp/orquesta && \
		chmod -R u+w $$tmp && \
		$(VENV_ST2)/bin/python -m pip install --quiet --no-deps $$tmp/orquesta; \
		rc=$$?; rm -rf $$tmp; exit $$rc
	@touch $@

# The pack's own virtualenv, as `st2 pack install` builds it: requirements.txt alone.
$(STAMP_ST2_PACK): requirements.txt
	@test -x $(VENV_ST2_PACK)/bin/python || { \
		py="$(PY38)"; py="$${py:-$$(.ci/find_python 3.8 --install)}" && $$py -m venv $(VENV_ST2_PACK); }
	$(VENV_ST2_PACK)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_ST2_PACK)/bin/python -m pip install --quiet -r requirements.txt
	@touch $@

# Prometheus and nats-server come from Debian; the twin starts them on free loopback ports.
services:
	@if ! command -v prometheus >/dev/null || ! command -v nats-server >/dev/null; then \
		echo "installing prometheus and nats-server (apt)"; \
		$(SUDO) apt-get update && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends \
			prometheus nats-server; \
	fi

lint: $(STAMP311)
	$(VENV311)/bin/ruff check .

test38: $(STAMP38) services
	$(VENV38)/bin/python -m pytest -q $(PYTEST_ARGS) tests

test311: $(STAMP311) services
	$(VENV311)/bin/python -m pytest -q -m "not orquesta" $(PYTEST_ARGS) tests

# StackStorm-style tests on genuine st2tests, every orquesta test on orquesta 1.6.0, tests/genuine.
test-st2: $(STAMP_ST2) $(STAMP_ST2_PACK) services | st2-genuine
	PYTHONPATH=$(ST2_PYTHONPATH) $(VENV_ST2)/bin/python -m pytest -q \
		-m "st2style or orquesta or genuine" $(PYTEST_ARGS) tests

# Runs every part even when one fails, then fails if any did.
test:
	@status=0; \
	$(MAKE) --no-print-directory lint || status=1; \
	$(MAKE) --no-print-directory test38 || status=1; \
	$(MAKE) --no-print-directory test311 || status=1; \
	$(MAKE) --no-print-directory test-st2 || status=1; \
	if [ $$status -ne 0 ]; then echo "make test: FAILED (see above)"; else echo "make test: OK"; fi; \
	exit $$status

demo: $(STAMP38) services
	$(VENV38)/bin/python -m harness.demo $(if $(SCENARIO),--scenario $(SCENARIO)) \
		$(if $(MODE),--mode $(MODE))

twin: $(STAMP38) services
	$(VENV38)/bin/python -m twin $(if $(SCENARIO),--scenario $(SCENARIO))

# The official Python client's e2e suite, unchanged, against the twin (a fidelity benchmark, not
# part of `make test`). E2E_SRC=<kubernetes-client/python checkout at the installed client's
# tag> gives the full suite; otherwise the client's sdist (or the tests its wheel ships).
twin-conformance: $(STAMP38)
	$(VENV38)/bin/python -m twin.conformance $(if $(E2E_SRC),--src $(E2E_SRC))

bench: $(STAMP38) services
	$(if $(CORPUS),$(VENV38)/bin/python -m bench.corpus $(if $(filter-out default,$(CORPUS)),--count $(CORPUS)),$(VENV38)/bin/python -m bench.scenarios $(if $(SCENARIOS),--scenarios $(SCENARIOS)))

bench-scale: $(STAMP38) services
	$(VENV38)/bin/python -m bench.scale

# The twin API at 5,000 nodes and 150,000 pods (load, list, watch, one controller step).
.PHONY: bench-api
bench-api: $(STAMP38)
	$(VENV38)/bin/python -m bench.api_scale

faults: $(STAMP38) services
	$(VENV38)/bin/python -m bench.faults

# Rules, concurrency policies, playbook parameters and trigger types from the catalogue
# (tools/generate.py; tests/test_catalogue.py fails when the committed files drift).
generate: $(STAMP38)
	$(VENV38)/bin/python -m tools.generate

clean:
	rm -rf $(VENV38) $(VENV311) $(VENV_ST2) $(VENV_ST2_PACK) .venv-tools .pytest_cache .ruff_cache
