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

.PHONY: help venv services lint test test38 test311 demo twin bench bench-scale faults clean

help:
	@echo "make demo   - set everything up and run the reference incident (SCENARIO=, MODE=)"
	@echo "make test   - set everything up and run every test on Python 3.8 and 3.11"
	@echo "make lint | twin SCENARIO=... | bench [SCENARIOS=dir] | bench-scale | faults | clean"

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

# Runs every part even when one fails, then fails if any did.
test:
	@status=0; \
	$(MAKE) --no-print-directory lint || status=1; \
	$(MAKE) --no-print-directory test38 || status=1; \
	$(MAKE) --no-print-directory test311 || status=1; \
	if [ $$status -ne 0 ]; then echo "make test: FAILED (see above)"; else echo "make test: OK"; fi; \
	exit $$status

demo: $(STAMP38) services
	$(VENV38)/bin/python -m engine.demo $(if $(SCENARIO),--scenario $(SCENARIO)) \
		$(if $(MODE),--mode $(MODE))

twin: $(STAMP38) services
	$(VENV38)/bin/python -m twin $(if $(SCENARIO),--scenario $(SCENARIO))

bench: $(STAMP38) services
	$(if $(CORPUS),$(VENV38)/bin/python -m bench.corpus $(if $(filter-out default,$(CORPUS)),--count $(CORPUS)),$(VENV38)/bin/python -m bench.scenarios $(if $(SCENARIOS),--scenarios $(SCENARIOS)))

bench-scale: $(STAMP38) services
	$(VENV38)/bin/python -m bench.scale

faults: $(STAMP38) services
	$(VENV38)/bin/python -m bench.faults

clean:
	rm -rf $(VENV38) $(VENV311) .venv-tools .pytest_cache .ruff_cache
