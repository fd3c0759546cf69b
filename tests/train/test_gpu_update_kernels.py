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


def _multi_inputs(cp, dtype=np.float32):
    rng = np.random.RandomState(4)
    shapes = [(5, 3), (7,), (2, 2, 2)]
    ws, ms, vs, gs = ([rng.randn(*s).astype(dtype) for s in shapes] for _ in range(4))
    vs = [np.abs(v) for v in vs]
    scalars = [dtype(s) for s in (0.9 ** 2, 0.999 ** 2, 1e-2, 0.9, 0.999, 1e-8)]
    want = []
    for w, m, v, g in zip(ws, ms, vs, gs):
        w, m, v = w.copy(), m.copy(), v.copy()
        training_ops.adam_update(np, w, m, v, *scalars, g, False)
        want.append((w, m, v))
    dev = [[cp.asarray(a) for a in arrays] for arrays in (ws, ms, vs, gs)]
    return dev, [cp.asarray(s) for s in scalars], want


def test_multi_update_adam_equals_one_update_per_variable(cp, monkeypatch):
    monkeypatch.setattr(gpu_update_kernels, "_multi_checked", set())
    monkeypatch.setattr(gpu_update_kernels, "_multi_broken", set())
    (ws, ms, vs, gs), scalars, want = _multi_inputs(cp)
    for _ in range(2):  # the first run is cross-checked, the second runs the kernel alone
        assert gpu_update_kernels.apply_adam_multi(cp, ws, ms, vs, gs, scalars, False)
        for got, ref in zip(zip(ws, ms, vs), want):
            for a, b in zip(got, ref):
                np.testing.assert_allclose(cp.asnumpy(a), b, rtol=1e-6)
        (ws, ms, vs, gs), scalars, want = _multi_inputs(cp)
    assert ("adam", 3, False, np.dtype(np.float32)) in gpu_update_kernels._multi_checked


def test_a_multi_update_kernel_that_disagrees_is_dropped_and_its_step_stays_right(cp, monkeypatch, caplog):
    monkeypatch.setattr(gpu_update_kernels, "_multi_checked", set())
    monkeypatch.setattr(gpu_update_kernels, "_multi_broken", set())

    def wrong(*args):  # a kernel with a bug: updates only the first variable
        gpu_update_kernels._adam_reference(*args[:4], *args[-6:])
    monkeypatch.setattr(gpu_update_kernels, "_multi_adam_reference", wrong)
    (ws, ms, vs, gs), scalars, want = _multi_inputs(cp)
    with caplog.at_level("ERROR", logger="labflow.gpu"):
        assert gpu_update_kernels.apply_adam_multi(cp, ws, ms, vs, gs, scalars, False)
    assert "disagreed" in caplog.text
    for got, ref in zip(zip(ws, ms, vs), want):
        for a, b in zip(got, ref):
            np.testing.assert_allclose(cp.asnumpy(a), b, rtol=1e-6)
    assert not gpu_update_kernels.apply_adam_multi(cp, ws, ms, vs, gs, scalars, False)  # one by one from now


def test_multi_update_gradient_descent_equals_one_update_per_variable(cp, monkeypatch):
    monkeypatch.setattr(gpu_update_kernels, "_multi_checked", set())
    monkeypatch.setattr(gpu_update_kernels, "_multi_broken", set())
    rng = np.random.RandomState(6)
    ws = [rng.randn(*s).astype(np.float32) for s in ((4, 3), (3,), (2, 5))]
    ds = [rng.randn(*w.shape).astype(np.float32) for w in ws]
    alpha = np.float32(0.25)
    dev_ws = [cp.asarray(w) for w in ws]
    for _ in range(2):  # checked, then alone
        assert gpu_update_kernels.apply_gradient_descent_multi(cp, dev_ws, [cp.asarray(d) for d in ds],
                                                               cp.asarray(alpha))
        ws = [w - d * alpha for w, d in zip(ws, ds)]
        for got, want in zip(dev_ws, ws):
            np.testing.assert_allclose(cp.asnumpy(got), want, rtol=1e-6)
    assert ("gradient descent", 3, np.dtype(np.float32)) in gpu_update_kernels._multi_checked
