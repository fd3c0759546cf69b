"""Kernel launches per training step on the emulated GPU (labflow.testing.emulated_gpu).

A GPU step of these small models is bound by launches (10-25 us of host time each in CuPy: an H200 ran
the lstm_lm step, then ~2200 launches, in 36.7 ms; with 298 in 12.5 ms), so their count is the GPU speed CI can guard
without a GPU. The budgets are today's counts plus a little slack; a change that raises
them (a kernel that stops fusing, a GPU path that falls back to the generic one) fails here.
"""

from __future__ import annotations

import os
import sys

import pytest

from labflow.testing.emulated_gpu import emulated_gpu

# Counted at this commit: 8, 20, 35 (no dropout), 291.
BUDGETS = {"softmax_regression": 10, "mlp": 23, "cnn": 39, "lstm_lm": 310}


@pytest.mark.parametrize("workload", sorted(BUDGETS))
def test_training_step_stays_within_its_launch_budget(workload, monkeypatch):
    monkeypatch.syspath_prepend(os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))
    monkeypatch.setenv("LABFLOW_BENCH_DEVICE", "/gpu:0")
    monkeypatch.setenv("NODROP", "1")
    sys.modules.pop("workloads", None)
    import workloads
    with emulated_gpu() as emu:
        step = dict(workloads.WORKLOADS)[workload]()
        step()
        step()
        emu.reset()
        step()
        launches = emu.launches
    assert launches <= BUDGETS[workload], f"{workload}: {launches} launches per step ({emu.by_kind.most_common(8)})"
