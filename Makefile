# labflow: `make demo` sets up and runs the main job; `make test` sets up and runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Tests, notebooks and benchmarks find the shared datasets through LABFLOW_DATA.
LABFLOW_DATA ?= $(shell [ -d ../shared/data ] && cd ../shared/data && pwd)
export LABFLOW_DATA
PYTEST_ARGS ?=

.PHONY: demo lab test lint protos bench gpu-check clean browser-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m labflow demo

# JupyterLab on the tutorials, bound to this machine only (the dev extra includes the notebook stack).
lab: $(STAMP)
	$(PY) -m jupyter lab --ip 127.0.0.1 --notebook-dir notebooks

# Browser tests drive Debian's Chromium (never a downloaded browser); installed when we are root.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  echo "chromium not installed: browser tests will skip"; }

test: $(STAMP) browser-deps
	$(PY) -m ruff check labflow tests benchmarks
	$(PY) -m pytest -q $(PYTEST_ARGS)
	@# The GPU tests again on the emulated GPU (labflow/testing/emulated_gpu.py): every GPU code path's
	@# Python side, wherever no real GPU is (where one is, the run above already ran them on it).
	LABFLOW_EMULATED_GPU=1 $(PY) -m pytest -q -p no:cacheprovider tests/gpu

lint: $(STAMP)
	$(PY) -m ruff check labflow tests benchmarks

# Regenerates labflow/framework/protos from protos/*.proto with the pinned grpcio-tools.
protos: $(STAMP)
	$(PY) -m labflow.tools.gen_protos

bench: $(STAMP)
	$(PY) benchmarks/run.py

# On a machine with an NVIDIA GPU and cupy (no venv: the system python3 there has cupy, torch, pytest).
# Results land in $(GPU_OUT): benchmark JSON lines for labflow and PyTorch eager, and the GPU tests.
GPU_OUT ?= build/gpu
GPU_BENCH ?= softmax_regression,mlp,cnn,lstm_lm
GPU_ROUNDS ?= 3
gpu-check:
	mkdir -p $(GPU_OUT)
	rm -f $(GPU_OUT)/torch_gpu.jsonl $(GPU_OUT)/labflow_gpu.jsonl
	-nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > $(GPU_OUT)/device.txt 2>&1
	@# labflow and PyTorch alternate, a process each per round: one process's speed varies from the
	@# next's on these machines (seen: the same code at 2.9 and 5.0 ms a step), so the report takes the
	@# median over rounds of each process's median.
	-for r in $$(seq $(GPU_ROUNDS)); do \
	  BENCH_ONLY=$(GPU_BENCH) PYTHONPATH=. timeout 60 python3 benchmarks/torch_gpu_peer.py >> $(GPU_OUT)/torch_gpu.jsonl 2>> $(GPU_OUT)/torch_gpu.err; \
	  PYTHONPATH=. timeout 90 python3 benchmarks/run.py --device gpu --only $(GPU_BENCH) >> $(GPU_OUT)/labflow_gpu.jsonl 2>> $(GPU_OUT)/labflow_gpu.err; \
	done
	@# What each GPU-only path is worth, same machine: cnn without the direct cuBLAS calls, then
	@# without the RawKernels (their array-op versions instead).
	-LABFLOW_GPU_DIRECT_BLAS=0 PYTHONPATH=. timeout 60 python3 benchmarks/run.py --device gpu --only cnn \
	  2>> $(GPU_OUT)/labflow_gpu.err | sed 's/"labflow_gpu"/"labflow_gpu no direct cuBLAS"/' > $(GPU_OUT)/ablation.jsonl
	-LABFLOW_GPU_RAW_KERNELS=0 PYTHONPATH=. timeout 60 python3 benchmarks/run.py --device gpu --only cnn \
	  2>> $(GPU_OUT)/labflow_gpu.err | sed 's/"labflow_gpu"/"labflow_gpu no RawKernels"/' >> $(GPU_OUT)/ablation.jsonl
	-PYTHONPATH=. timeout 90 python3 benchmarks/step_profile.py --device gpu --jit default --host-top 30 > $(GPU_OUT)/profile_gpu.jsonl 2> $(GPU_OUT)/profile_gpu.err
	-PYTHONPATH=. timeout 40 python3 benchmarks/gpu_launch_cost.py > $(GPU_OUT)/launch_cost.jsonl 2> $(GPU_OUT)/launch_cost.err
	-PYTHONPATH=. timeout 60 python3 benchmarks/control_flow.py --device gpu --quick > $(GPU_OUT)/control_flow.jsonl 2>> $(GPU_OUT)/labflow_gpu.err
	-PYTHONPATH=. timeout $(GPU_TEST_S) python3 -m pytest -q -m gpu tests/gpu -p no:cacheprovider -o addopts=-ra \
	  --junitxml=$(GPU_OUT)/gpu-tests.xml > $(GPU_OUT)/gpu-tests.txt 2>&1
	-python3 benchmarks/gpu_report.py $(GPU_OUT)
GPU_TEST_S ?= 150

clean:
	rm -rf $(VENV) build *.egg-info
