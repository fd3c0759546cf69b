"""The one-kernel GPU Adam update, run here through a stand-in for cupy.ElementwiseKernel that executes
the kernel's C body with NumPy: argument binding and arithmetic must equal the generic update's."""

from __future__ import annotations

import re
import types

import numpy as np
import pytest

from labflow.train import gpu_update_kernels, training_ops


class _ElementwiseKernel:
    """Runs an ElementwiseKernel body (declarations, compound assignments) as NumPy statements."""

    def __init__(self, in_params, out_params, operation, name):
        self.names = [p.split()[-1] for p in (in_params + ", " + out_params).split(",")]
        body = re.sub(r"^\s*T\s+", "", operation.strip(), flags=re.M).replace(";", "")
        self.code = compile(body, name, "exec")

    def __call__(self, *args):
        scope = dict(zip(self.names, args), sqrt=np.sqrt)
        outs = {n: scope[n] for n in self.names[-3:]}
        exec(self.code, scope)
        for n, arr in outs.items():
            if scope[n] is not arr:  # "m += ..." rebinding a 0-d result: write it back in place
                arr[...] = scope[n]


_fake_cupy = types.SimpleNamespace(ElementwiseKernel=_ElementwiseKernel, asarray=np.asarray, sqrt=np.sqrt,
                                   empty_like=np.empty_like, subtract=np.subtract, square=np.square,
                                   multiply=np.multiply)


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_kernel_adam_equals_the_generic_update(nesterov, dtype, monkeypatch):
    monkeypatch.setattr(gpu_update_kernels, "_kernels", {})
    rng = np.random.RandomState(0)
    w, m, v, g = (rng.randn(7, 5).astype(dtype) for _ in range(4))
    v = np.abs(v)
    scalars = [dtype(s) for s in (0.9 ** 3, 0.999 ** 3, 1e-2, 0.9, 0.999, 1e-8)]
    want = [a.copy() for a in (w, m, v)]
    b1p, b2p, lr, b1, b2, eps = scalars
    alpha = lr * np.sqrt(1 - b2p) / (1 - b1p)
    training_ops._adam_block(np, *want, g, np.empty_like(w), np.empty_like(w), alpha, b1, b2, eps, nesterov)
    assert gpu_update_kernels.apply_adam(_fake_cupy, w, m, v, *scalars, g, nesterov)
    for got, ref in zip((w, m, v), want):
        np.testing.assert_allclose(got, ref, rtol=1e-6 if dtype == np.float32 else 1e-12)


def test_other_dtypes_and_failed_compiles_take_the_generic_update(monkeypatch):
    monkeypatch.setattr(gpu_update_kernels, "_kernels", {})
    half = np.ones(3, np.float16)
    assert not gpu_update_kernels.apply_adam(_fake_cupy, half, half, half, *[np.float16(0.5)] * 6, half, False)

    class CompileException(Exception):
        pass

    def broken(*a):
        def call(*args):
            raise CompileException("nvrtc: error")
        return call
    monkeypatch.setattr(gpu_update_kernels, "_broken", set())
    bad = types.SimpleNamespace(ElementwiseKernel=broken, asarray=np.asarray)
    x = np.ones(3, np.float32)
    assert not gpu_update_kernels.apply_adam(bad, x, x, x, *[np.float32(0.5)] * 6, x, False)
    assert ("adam", False, "float32") in gpu_update_kernels._broken
