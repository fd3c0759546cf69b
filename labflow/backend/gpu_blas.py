"""Matrix products on a GPU as one cuBLAS call made straight from Python.

`cupy.matmul` reaches cuBLAS through CuPy's generic gufunc machinery and `ndarray.dot` through its
tensordot path: measured on an H200 (benchmarks/gpu_kernel_micro.py, CuPy 14), ~20-45 us of host time
per product, when the GEMMs of a small training step take 20-60 us of device time. A step issues one
product per MatMul, conv GEMM and bias gradient, so that host time is what the step waits on. Here a
product is the strides read off the operands and one `cublas<t>gemm`: row-major C = A @ B is
column-major C^T = B^T @ A^T, and a transposed view is the other operand order, so no copies.

Anything cuBLAS cannot read as it is (strides that are not a matrix, dtypes other than float32/64,
empty products) or a backend without cuBLAS (the emulated GPU) takes `xp.matmul`; so does everything
after the direct call ever raises (a CuPy whose cuBLAS binding differs must cost speed, not the run).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

_log = logging.getLogger("labflow.gpu")
_state: dict[str, Any] = {}
# alpha and beta live in host memory (cuBLAS's default pointer mode) for the life of the process
_INT32 = 2**31  # cuBLAS takes sizes and leading dimensions as int
_SCALARS = {np.dtype(np.float32): (np.ones((), np.float32), np.zeros((), np.float32)),
            np.dtype(np.float64): (np.ones((), np.float64), np.zeros((), np.float64))}


def _cublas(xp: Any) -> Any:
    """CuPy's cuBLAS binding, or None (no CuPy, the emulated GPU, or a direct call that failed)."""
    lib = _state.get("cublas", False)
    if lib is False:
        lib = None
        # LABFLOW_GPU_DIRECT_BLAS=0 turns this path off (A/B timing, or a CuPy it misbehaves with)
        if hasattr(getattr(xp, "cuda", None), "get_current_stream") and os.environ.get(
                "LABFLOW_GPU_DIRECT_BLAS", "1") != "0":
            from labflow.backend import cuda  # the one module that imports CuPy
            lib = cuda.cublas_binding()
        _state["cublas"] = lib
    return lib


def _operand(x: Any) -> tuple[bool, int] | None:
    """How cuBLAS reads the row-major matrix `x` [r, c] as column-major: (transposed, leading dim)."""
    r, c = x.shape
    item = x.itemsize
    s0, s1 = x.strides
    if s0 % item or s1 % item or s0 < 0 or s1 < 0:
        return None
    s0, s1 = s0 // item, s1 // item
    if c == 1 or s1 == 1:  # rows contiguous: column-major x^T [c, r], read without transposing
        ld = s0 if r > 1 else c
        if ld >= max(c, 1):
            return False, ld
    if r == 1 or s0 == 1:  # columns contiguous (a transposed view): column-major x [r, c], transposed
        ld = s1 if c > 1 else r
        if ld >= max(r, 1):
            return True, ld
    return None


def gemm(xp: Any, a: Any, b: Any, out: Any = None, accumulate: bool = False) -> Any:
    """a [M, K] @ b [K, N] on the GPU, into `out` (a C-contiguous [M, N] array) when given; with
    `accumulate`, out += a @ b. Either operand may be any strided view cuBLAS can read (a transpose)."""
    lib = _cublas(xp)
    plan = None
    if lib is not None and a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype and a.dtype in _SCALARS:
        m, k = a.shape
        n = b.shape[1]
        if m and n and k and b.shape[0] == k and max(m, n, k) < _INT32 and (
                out is None or (out.dtype == a.dtype and out.shape == (m, n) and out.flags.c_contiguous)):
            ra, rb = _operand(a), _operand(b)
            if ra is not None and rb is not None and max(ra[1], rb[1]) < _INT32:
                plan = (m, n, k, ra, rb)
    if plan is None:
        if accumulate:
            out += xp.matmul(a, b)
            return out
        return xp.matmul(a, b, out=out) if out is not None else xp.matmul(a, b)
    m, n, k, (ta, lda), (tb, ldb) = plan
    if out is None:
        out = xp.empty((m, n), dtype=a.dtype)
    one, zero = _SCALARS[a.dtype]
    fn = lib.sgemm if a.dtype == np.float32 else lib.dgemm
    try:
        # CuPy's handle getter binds the current stream and CuPy's cuBLAS workspace; a cublasSetStream
        # here would reset that workspace to cuBLAS's default (cuBLAS docs).
        handle = xp.cuda.device.get_cublas_handle()
        fn(handle, int(tb), int(ta), n, m, k, one.ctypes.data, b.data.ptr, ldb, a.data.ptr, lda,
           (one if accumulate else zero).ctypes.data, out.data.ptr, n)
    except Exception as e:  # noqa: BLE001 - see the module docstring: fall back for good
        _state["cublas"] = None
        _log.warning("labflow: direct cuBLAS GEMM failed (%s: %s); using cupy.matmul", type(e).__name__, e)
        return gemm(xp, a, b, out, accumulate)
    return out


# The longest row of ones kept (16 MB of float32): longer sums take CuPy's reduction.
MAX_ONES = 1 << 22


def ones_row(xp: Any, n: int, dtype: Any, like: Any) -> Any | None:
    """A [1, n] row of ones on `like`'s GPU (a view of one cached buffer, grown as needed): the left
    operand of a sum over leading axes done as a GEMM. None past MAX_ONES."""
    if n > MAX_ONES:
        return None
    key = ("ones", xp, dtype, getattr(getattr(like, "device", None), "id", 0))
    buf = _state.get(key)
    if buf is None or buf.shape[1] < n:
        buf = _state[key] = xp.ones((1, 1 << max(n - 1, 0).bit_length()), dtype=dtype)
    return buf[:, :n]
