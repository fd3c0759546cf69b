"""GPU-only kernels called directly: the direct cuBLAS product (every operand layout it reads without a
copy), the sum over leading axes done as a product. Compared with NumPy on fresh random data.

Marked `gpu`: skipped where CuPy or an NVIDIA GPU is missing (on the emulated GPU they run its
fallbacks, which must agree too).
"""

from __future__ import annotations

import numpy as np
import pytest

from labflow.backend import cuda, gpu_blas
from labflow.ops.common import sum_leading

pytestmark = pytest.mark.gpu


@pytest.fixture
def cp():
    return cuda.cupy_module()


def _close(got, want, dtype):
    got = cuda.asnumpy(got) if not isinstance(got, np.ndarray) else got
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * max(1.0, float(np.abs(want).max())))


def _operand(cp, rng, shape, transposed, sliced, dtype):
    """A [r, c] device operand: contiguous, a transposed view, or a column slice (row stride > c)."""
    r, c = shape
    if transposed:
        host = rng.standard_normal((c + 3 * sliced, r)).astype(dtype)
        dev = cp.asarray(host)[:c].T if sliced else cp.asarray(host).T
        return dev, (host[:c].T if sliced else host.T)
    host = rng.standard_normal((r, c + 3 * sliced)).astype(dtype)
    return cp.asarray(host)[:, :c], host[:, :c]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("sliced", [False, True])
@pytest.mark.parametrize("mnk", [(7, 5, 3), (1, 9, 4), (6, 1, 8), (5, 4, 1), (64, 33, 129)])
def test_gemm_matches_numpy_for_every_layout(cp, dtype, ta, tb, sliced, mnk):
    rng = np.random.default_rng(hash((ta, tb, sliced, mnk)) % 2**32)
    m, n, k = mnk
    a, ah = _operand(cp, rng, (m, k), ta, sliced, dtype)
    b, bh = _operand(cp, rng, (k, n), tb, sliced, dtype)
    want = ah.astype(np.float64) @ bh.astype(np.float64)
    _close(gpu_blas.gemm(cp, a, b), want, dtype)
    out = cp.full((m, n), np.nan, dtype=dtype)  # every element must be written
    assert gpu_blas.gemm(cp, a, b, out) is out
    _close(out, want, dtype)
    gpu_blas.gemm(cp, a, b, out, accumulate=True)
    _close(out, 2 * want, dtype)


def test_gemm_falls_back_for_other_dtypes_and_empty_products(cp):
    a = cp.asarray(np.arange(6, dtype=np.int32).reshape(2, 3))
    b = cp.asarray(np.arange(12, dtype=np.int32).reshape(3, 4))
    np.testing.assert_array_equal(cuda.asnumpy(gpu_blas.gemm(cp, a, b)), cuda.asnumpy(a) @ cuda.asnumpy(b))
    z = gpu_blas.gemm(cp, cp.ones((4, 0), np.float32), cp.ones((0, 3), np.float32))
    np.testing.assert_array_equal(cuda.asnumpy(z), np.zeros((4, 3), np.float32))


@pytest.mark.parametrize("shape,axes", [((50, 28, 28, 32), (0, 1, 2)), ((50, 14, 14, 64), (0, 1, 2)),
                                        ((50, 1024), (0,)), ((3, 10), (0,)), ((7, 5, 2), (0, 1))])
def test_sum_over_leading_axes_on_gpu(cp, shape, axes):
    host = np.random.default_rng(1).random(shape, dtype=np.float32)
    got = sum_leading(cp, cp.asarray(host), axes)
    assert got.shape == shape[len(axes):]
    _close(got, host.astype(np.float64).sum(axis=axes), np.float32)
    # the cached row of ones is shared, so a smaller sum after a larger one reads only its part
    small = host[:1]
    _close(sum_leading(cp, cp.asarray(small), axes), small.astype(np.float64).sum(axis=axes), np.float32)


POOLS = [((2, 2), (2, 2), ((0, 0), (0, 0))), ((2, 2), (2, 2), ((0, 1), (0, 1))),
         ((3, 3), (2, 2), ((1, 1), (1, 1))), ((3, 3), (1, 1), ((1, 1), (1, 1))), ((2, 3), (1, 2), ((0, 0), (0, 0)))]


@pytest.mark.parametrize("ksize,strides,pads", POOLS)
def test_max_pool_and_its_gradient_match_the_cpu_with_ties_and_nan(cp, ksize, strides, pads):
    from labflow.ops import pool_kernels as pk
    rng = np.random.default_rng(7)
    # few distinct values: ties in almost every window (ReLU outputs tie at 0), one NaN and one -inf
    x = rng.integers(-1, 2, (2, 7, 6, 3)).astype(np.float32)
    x[0, 2, 3, 1], x[1, 4, 1, 0] = np.nan, -np.inf
    h, w = x.shape[1:3]
    oh = (h + sum(pads[0]) - ksize[0]) // strides[0] + 1
    ow = (w + sum(pads[1]) - ksize[1]) // strides[1] + 1
    y_cpu = pk.max_pool(np, x, ksize, strides, pads, oh, ow)
    y_gpu = pk.max_pool(cp, cp.asarray(x), ksize, strides, pads, oh, ow)
    np.testing.assert_array_equal(cuda.asnumpy(y_gpu), y_cpu)
    g = rng.standard_normal(y_cpu.shape).astype(np.float32)
    for relu in (False, True):  # True: _FusedMaxPoolGrad's mask by x > 0
        dx_cpu = pk.max_pool_grad(np, x, y_cpu, g, ksize, strides, pads, relu)
        dx_gpu = pk.max_pool_grad(cp, cp.asarray(x), cp.asarray(y_cpu), cp.asarray(g), ksize, strides, pads, relu)
        np.testing.assert_allclose(cuda.asnumpy(dx_gpu), dx_cpu, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("xs,ws,strides,dil,pads", [
    ((3, 9, 8, 5), (3, 3, 5, 4), (2, 1), (1, 2), ((1, 2), (0, 3))),
    # over 65535 blocks of 256 threads: every kernel's grid-stride loop takes a second turn
    ((64, 32, 32, 16), (5, 5, 16, 8), (1, 1), (1, 1), ((2, 2), (2, 2))),
])
def test_conv_kernels_on_gpu_match_the_cpu(cp, xs, ws, strides, dil, pads):
    from labflow.ops import conv_kernels as ck
    rng = np.random.default_rng(3)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    y = ck.conv2d(np, x, w, strides, dil, pads)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    _close(ck.conv2d(cp, cp.asarray(x), cp.asarray(w), strides, dil, pads), y, np.float32)
    _close(ck.conv2d_backprop_filter(cp, cp.asarray(x), cp.asarray(dy), ws, strides, dil, pads),
           ck.conv2d_backprop_filter(np, x, dy, ws, strides, dil, pads), np.float32)
    _close(ck.conv2d_backprop_input(cp, cp.asarray(dy), cp.asarray(w), xs, strides, dil, pads),
           ck.conv2d_backprop_input(np, dy, w, xs, strides, dil, pads), np.float32)


@pytest.mark.parametrize("classes", [1, 10, 1024, 1025])  # 1025: past the row kernel, the wide-row path
def test_dense_softmax_xent_on_gpu_matches_the_cpu(cp, classes):
    from labflow.ops import nn_xent_ops
    rng = np.random.default_rng(classes)
    x = (rng.standard_normal((37, classes)) * 5).astype(np.float32)
    y = rng.random((37, classes)).astype(np.float32)
    y /= y.sum(axis=1, keepdims=True)
    x[3, 0], x[5, :] = 80.0, -30.0  # a dominant logit, a flat row
    loss, back = nn_xent_ops._softmax_xent_cpu(x.copy(), y, np.float32)
    got_loss, got_back = nn_xent_ops._softmax_xent_gpu(cp, cp.asarray(x), cp.asarray(y), np.dtype(np.float32))
    _close(got_loss, loss, np.float32)
    _close(got_back, back, np.float32)


def test_sums_longer_than_the_cached_ones_take_the_reduction(cp, monkeypatch):
    monkeypatch.setattr(gpu_blas, "MAX_ONES", 64)  # a row of ones is kept per length class: bounded
    host = np.random.default_rng(2).random((10, 9, 4), dtype=np.float32)
    assert gpu_blas.ones_row(cp, 90, np.dtype(np.float32), cp.asarray(host)) is None
    _close(sum_leading(cp, cp.asarray(host), (0, 1)), host.astype(np.float64).sum(axis=(0, 1)), np.float32)


def test_array_op_paths_behind_the_raw_kernels_still_match_the_cpu(cp, monkeypatch):
    # LABFLOW_GPU_RAW_KERNELS=0 (and any kernel that fails to compile) takes these paths.
    from labflow.ops import conv_kernels as ck
    from labflow.ops import gpu_raw_kernels, nn_xent_ops
    from labflow.ops import pool_kernels as pk
    monkeypatch.setattr(gpu_raw_kernels, "_DISABLED", True)
    rng = np.random.default_rng(5)
    x = rng.integers(-1, 2, (2, 8, 7, 3)).astype(np.float32)  # ties for the pooling gradient
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    one, pads = (1, 1), ((1, 1), (1, 1))
    y = ck.conv2d(np, x, w, one, one, pads)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    _close(ck.conv2d(cp, cp.asarray(x), cp.asarray(w), one, one, pads), y, np.float32)
    _close(ck.conv2d_backprop_filter(cp, cp.asarray(x), cp.asarray(dy), w.shape, one, one, pads),
           ck.conv2d_backprop_filter(np, x, dy, w.shape, one, one, pads), np.float32)
    _close(ck.conv2d_backprop_input(cp, cp.asarray(dy), cp.asarray(w), x.shape, one, one, pads),
           ck.conv2d_backprop_input(np, dy, w, x.shape, one, one, pads), np.float32)
    nopad = ((0, 0), (0, 0))
    p = pk.max_pool(np, x, (2, 2), (2, 2), nopad, 4, 3)
    g = rng.standard_normal(p.shape).astype(np.float32)
    _close(pk.max_pool(cp, cp.asarray(x), (2, 2), (2, 2), nopad, 4, 3), p, np.float32)
    _close(pk.max_pool_grad(cp, cp.asarray(x), cp.asarray(p), cp.asarray(g), (2, 2), (2, 2), nopad),
           pk.max_pool_grad(np, x, p, g, (2, 2), (2, 2), nopad), np.float32)
    logits, labels = rng.standard_normal((5, 10)).astype(np.float32), np.eye(10, dtype=np.float32)[:5]
    for got, want in zip(nn_xent_ops._softmax_xent_gpu(cp, cp.asarray(logits), cp.asarray(labels), logits.dtype),
                         nn_xent_ops._softmax_xent_cpu(logits, labels, logits.dtype)):
        _close(got, want, np.float32)


@pytest.mark.parametrize("nesterov", [False, True])
def test_multi_variable_updates_pass_their_first_run_check(cp, monkeypatch, nesterov):
    # The multi-update kernels fall back silently (values stay right, an error is logged) if their first
    # run disagrees with the one-variable kernels; here they must agree, or the GPU test fails.
    from labflow.train import gpu_update_kernels as guk
    monkeypatch.setattr(guk, "_multi_checked", set())
    monkeypatch.setattr(guk, "_multi_broken", set())
    rng = np.random.default_rng(8)
    shapes = [(300, 7), (5,), (4, 4, 3)]
    arrays = [[cp.asarray(rng.standard_normal(s).astype(np.float32)) for s in shapes] for _ in range(4)]
    arrays[2] = [cp.abs(v) for v in arrays[2]]
    scalars = [cp.asarray(np.float32(s)) for s in (0.9 ** 3, 0.999 ** 3, 1e-2, 0.9, 0.999, 1e-8)]
    assert guk.apply_adam_multi(cp, *arrays, scalars, nesterov)
    assert ("adam", 3, nesterov, np.dtype(np.float32)) in guk._multi_checked
    assert guk.apply_gradient_descent_multi(cp, arrays[0], arrays[3], scalars[2])
    assert ("gradient descent", 3, np.dtype(np.float32)) in guk._multi_checked
