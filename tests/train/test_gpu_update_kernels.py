"""The one-kernel GPU optimizer updates, their kernel bodies run by the emulated GPU's NumPy stand-in for
cupy.ElementwiseKernel: argument binding and arithmetic must equal the generic updates'."""

from __future__ import annotations

import types

import numpy as np
import pytest

from labflow.testing.emulated_gpu import emulated_gpu
from labflow.train import gpu_update_kernels, training_ops


@pytest.fixture
def cp(monkeypatch):
    monkeypatch.setattr(gpu_update_kernels, "_kernels", {})
    monkeypatch.setattr(gpu_update_kernels, "_broken", set())
    with emulated_gpu() as emu:
        yield emu.module


@pytest.mark.parametrize("device_scalars", [False, True])  # True: the RawKernel's path (its NumPy twin here)
@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_kernel_adam_equals_the_generic_update(cp, nesterov, dtype, device_scalars):
    rng = np.random.RandomState(0)
    w, m, v, g = (rng.randn(7, 5).astype(dtype) for _ in range(4))
    v = np.abs(v)
    scalars = [dtype(s) for s in (0.9 ** 3, 0.999 ** 3, 1e-2, 0.9, 0.999, 1e-8)]
    want = [a.copy() for a in (w, m, v)]
    b1p, b2p, lr, b1, b2, eps = scalars
    alpha = lr * np.sqrt(1 - b2p) / (1 - b1p)
    training_ops._adam_block(np, *want, g, np.empty_like(w), np.empty_like(w), alpha, b1, b2, eps, nesterov)
    dw, dm, dv = (cp.asarray(a) for a in (w, m, v))
    if device_scalars:
        scalars = [cp.asarray(s) for s in scalars]
    assert gpu_update_kernels.apply_adam(cp, dw, dm, dv, *scalars, cp.asarray(g), nesterov)
    for got, ref in zip((dw, dm, dv), want):
        np.testing.assert_allclose(cp.asnumpy(got), ref, rtol=1e-6 if dtype == np.float32 else 1e-12)


def test_one_kernel_gradient_descent_equals_the_generic_update(cp):
    rng = np.random.RandomState(1)
    w, d = rng.randn(4, 3).astype(np.float32), rng.randn(4, 3).astype(np.float32)
    dw = cp.asarray(w)
    assert gpu_update_kernels.apply_gradient_descent(cp, dw, np.float32(0.1), cp.asarray(d))
    np.testing.assert_array_equal(cp.asnumpy(dw), w - d * np.float32(0.1))


def test_other_dtypes_and_failed_compiles_take_the_generic_update(cp):
    half = cp.asarray(np.ones(3, np.float16))
    assert not gpu_update_kernels.apply_adam(cp, half, half, half, *[np.float16(0.5)] * 6, half, False)

    class CompileException(Exception):
        pass

    def broken(*a):
        def call(*args):
            raise CompileException("nvrtc: error")
        return call
    bad = types.SimpleNamespace(ElementwiseKernel=broken, asarray=np.asarray)
    x = np.ones(3, np.float32)
    assert not gpu_update_kernels.apply_adam(bad, x, x, x, *[np.float32(0.5)] * 6, x, False)
    assert ("adam", False, "f") in gpu_update_kernels._broken
    assert not gpu_update_kernels.apply_adam(bad, x, x, x, *[np.float32(0.5)] * 6, x, False)  # not retried
