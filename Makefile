# labflow: `make demo` sets up and runs the main job; `make test` sets up and runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Tests, notebooks and benchmarks find the shared datasets through LABFLOW_DATA.
LABFLOW_DATA ?= $(shell [ -d ../shared/data ] && cd ../shared/data && pwd)
export LABFLOW_DATA
PYTEST_ARGS ?=

.PHONY: demo test lint protos bench gpu-check clean browser-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m labflow demo

# Browser tests drive Debian's Chromium (never a downloaded browser); installed when we are root.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  echo "chromium not installed: browser tests will skip"; }

test: $(STAMP) browser-deps
	$(PY) -m ruff check labflow tests benchmarks
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check labflow tests benchmarks

# Regenerates labflow/framework/protos from protos/*.proto with the pinned grpcio-tools.
protos: $(STAMP)
	$(PY) -m labflow.tools.gen_protos

bench: $(STAMP)
	$(PY) benchmarks/run.py

# On a machine with an NVIDIA GPU and cupy installed (no venv: uses the system python3).
gpu-check:
	PYTHONPATH=. python3 -m pytest -q -m gpu tests/gpu
	PYTHONPATH=. python3 benchmarks/run.py --device gpu

clean:
	rm -rf $(VENV) build *.egg-info
