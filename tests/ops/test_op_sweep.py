"""The registry-wide sweep: every op x dtype x device, forward / static shape / gradient."""

from __future__ import annotations

import pytest

from labflow.backend import cuda
from labflow.testing import op_sweep

CASES = op_sweep.all_cases()
DEVICES = ["/cpu:0"] + (["/gpu:0"] if cuda.is_available() else [])


def _params():
    for op_type, i, case in CASES:
        for dt in op_sweep.sweep_dtypes(case):
            for dev in DEVICES:
                marks = [pytest.mark.gpu] if dev.startswith("/gpu") else []
                yield pytest.param(op_type, case, dt, dev, marks=marks,
                                   id=f"{op_type}-{case.name or i}-{dt.name}-{dev.strip('/')}")


def _grad_params():
    for op_type, i, case in CASES:
        if case.grad:
            yield pytest.param(op_type, case, id=f"{op_type}-{case.name or i}")


def test_every_op_has_samples():
    missing = op_sweep.missing_samples()
    assert not missing, f"ops with no sweep samples (add them in labflow/testing/samples/): {missing}"


@pytest.mark.parametrize("op_type,case,dtype,device", list(_params()))
def test_forward_and_static_shape(op_type, case, dtype, device):
    op_sweep.check_forward(op_type, case, dtype, device)


def _all_params():
    for op_type, i, case in CASES:
        yield pytest.param(op_type, case, id=f"{op_type}-{case.name or i}")


@pytest.mark.parametrize("op_type,case", list(_all_params()))
def test_forward_unknown_input_shapes(op_type, case):
    if not case.unknown_shapes:
        pytest.skip("case needs static input shapes")
    op_sweep.check_forward(op_type, case, op_sweep.sweep_dtypes(case)[-1], None, unknown=True)


@pytest.mark.parametrize("op_type,case", list(_grad_params()))
def test_numerical_gradient(op_type, case):
    op_sweep.check_gradient(op_type, case)
