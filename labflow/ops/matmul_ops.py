"""Matrix products: MatMul (rank 2) and BatchMatMulV2 (batches, broadcast), and `tf.matmul`.

Part of the math family (re-exported by math_ops). The kernels hand transposed *views* straight to
xp.dot / xp.matmul (BLAS / cuBLAS read them through their strides: no copies).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.backend import gpu_blas, threads
from labflow.framework.gradients import unbroadcast
from labflow.framework.registry import REQUIRED, op
from labflow.framework.shapes import broadcast_dims
from labflow.framework.tensor import Tensor
from labflow.ops.common import (
    COMPLEX_TYPES,
    FLOAT_TYPES,
    base,
    bias_activation_kernel,
    bias_epilogue,
    check_fused_ops,
    dims,
    make_tensor,
)
from labflow.ops.math_helpers import T, convert_args, op_scope

__all__ = ["matmul"]

_MATMUL_TYPES = FLOAT_TYPES + (_dt.int32, _dt.int64) + COMPLEX_TYPES


def _conj(t: Tensor) -> Tensor:
    return make_tensor("Conj", [t]) if t.dtype.is_complex else t


# -- MatMul -----------------------------------------------------------------------------------------
def _matmul_shape(ins, attrs):
    a, b = ins
    ad, bd = dims(a), dims(b)
    for d in (ad, bd):
        if d is not None and len(d) != 2:
            raise ValueError(f"Shape must be rank 2 but is rank {len(d)}")
    m = k1 = k2 = n = None
    if ad is not None:
        k1, m = ad if attrs["transpose_a"] else ad[::-1]
    if bd is not None:
        n, k2 = bd if attrs["transpose_b"] else bd[::-1]
    if k1 is not None and k2 is not None and k1 != k2:
        raise ValueError(f"Dimensions must be equal, but are {k1} and {k2}")
    return base(a), (m, n)


@op("MatMul", inputs=("a", "b"), attrs={"transpose_a": False, "transpose_b": False}, types=_MATMUL_TYPES,
    shape=_matmul_shape, blas=True)
def matmul_kernel(xp, a, b, *, transpose_a, transpose_b):
    if xp is not np:
        return gpu_blas.gemm(xp, a.T if transpose_a else a, b.T if transpose_b else b)
    if a.shape[0] * a.shape[1] * b.shape[1 - transpose_b] >= threads.GEMM_SPLIT_MACS:
        return threads.gemm(a.T if transpose_a else a, b.T if transpose_b else b)
    # dot, not matmul: for 2-D operands it reaches GEMM with less overhead (measured ~20% on a
    # 256x784 @ 784x100 float32 product, more with a transposed operand).
    # With a transposed left operand (weight gradients: x^T @ g) matmul measured ~15% faster.
    if transpose_a:
        return xp.matmul(a.T, b.T if transpose_b else b)
    return xp.dot(a, b.T if transpose_b else b)


# -- _FusedMatMul: MatMul + bias add (+ Relu) in one pass, made only by the runtime's fusion rewrite -----
def _fused_matmul_shape(ins, attrs):
    check_fused_ops("_FusedMatMul", attrs["fused_ops"])
    dt, (m, n) = _matmul_shape(ins[:2], attrs)
    bd = dims(ins[2])
    if bd is not None and (len(bd) != 1 or (n is not None and bd[0] is not None and bd[0] != n)):
        raise ValueError(f"_FusedMatMul: bias must be a vector of the output's {n} columns, got shape {list(bd)}")
    return dt, (m, n)


@op("_FusedMatMul", inputs=("a", "b", "bias"), attrs={"transpose_a": False, "transpose_b": False,
                                                      "fused_ops": REQUIRED},
    types=FLOAT_TYPES, shape=_fused_matmul_shape, not_differentiable=True, blas=True)
def fused_matmul_kernel(xp, a, b, bias, *, transpose_a, transpose_b, fused_ops):
    # TF's grappler remapper makes the same node (runtime/fusion.py does here, after gradients exist). On
    # the CPU the bias add and activation run on each part's rows right after its GEMM, while in cache.
    a, b = (a.T if transpose_a else a), (b.T if transpose_b else b)
    epilogue = bias_epilogue(xp, bias, fused_ops)
    if xp is np:
        return threads.gemm(a, b, epilogue=epilogue)
    fused = bias_activation_kernel(xp, fused_ops)
    if fused is not None:
        return fused(gpu_blas.gemm(xp, a, b), bias)
    out = gpu_blas.gemm(xp, a, b)
    epilogue(out)
    return out


def _mm(a: Tensor, b: Tensor, ta: bool, tb: bool) -> Tensor:
    return make_tensor("MatMul", [a, b], {"transpose_a": ta, "transpose_b": tb})


@matmul_kernel.grad
def _matmul_grad(op, grad):
    ta, tb = op.get_attr("transpose_a"), op.get_attr("transpose_b")
    a, b = _conj(op.inputs[0]), _conj(op.inputs[1])
    if not ta and not tb:
        return [_mm(grad, b, False, True), _mm(a, grad, True, False)]
    if not ta and tb:
        return [_mm(grad, b, False, False), _mm(grad, a, True, False)]
    if ta and not tb:
        return [_mm(b, grad, False, True), _mm(a, grad, False, False)]
    return [_mm(b, grad, True, True), _mm(grad, a, True, True)]


# -- BatchMatMulV2 ----------------------------------------------------------------------------------
def _batch_matmul_shape(ins, attrs):
    x, y = ins
    xd, yd = dims(x), dims(y)
    for d in (xd, yd):
        if d is not None and len(d) < 2:
            raise ValueError(f"Shape must be at least rank 2 but is rank {len(d)}")
    if xd is None or yd is None:
        return base(x), None
    k1, m = xd[-2:] if attrs["adj_x"] else xd[-2:][::-1]
    n, k2 = yd[-2:] if attrs["adj_y"] else yd[-2:][::-1]
    if k1 is not None and k2 is not None and k1 != k2:
        raise ValueError(f"Dimensions must be equal, but are {k1} and {k2}")
    return base(x), broadcast_dims(xd[:-2], yd[:-2]) + (m, n)


@op("BatchMatMulV2", inputs=("x", "y"), attrs={"adj_x": False, "adj_y": False}, types=_MATMUL_TYPES,
    shape=_batch_matmul_shape, blas=True)
def batch_matmul_v2_kernel(xp, x, y, *, adj_x, adj_y):
    if adj_x:
        x = xp.swapaxes(x, -1, -2)
        if x.dtype.kind == "c":
            x = xp.conj(x)
    if adj_y:
        y = xp.swapaxes(y, -1, -2)
        if y.dtype.kind == "c":
            y = xp.conj(y)
    if xp is np and x.ndim == y.ndim >= 3 and x.shape[:-2] == y.shape[:-2] \
            and x.size * y.shape[-1] >= threads.GEMM_SPLIT_MACS:
        # Same batch dims on both sides: the batch is split over the intra-op threads.
        out = np.empty(x.shape[:-1] + y.shape[-1:], dtype=np.result_type(x, y))
        xs, ys = x.reshape((-1,) + x.shape[-2:]), y.reshape((-1,) + y.shape[-2:])
        os_ = out.reshape((-1,) + out.shape[-2:])
        threads.parallel_for(len(xs), lambda lo, hi: np.matmul(xs[lo:hi], ys[lo:hi], out=os_[lo:hi]),
                             parts=threads.gemm_parts())
        return out
    return xp.matmul(x, y)


def _bmm(x: Tensor, y: Tensor, ax: bool, ay: bool) -> Tensor:
    return make_tensor("BatchMatMulV2", [x, y], {"adj_x": ax, "adj_y": ay})


@batch_matmul_v2_kernel.grad
def _batch_matmul_v2_grad(op, grad):
    x, y = op.inputs
    ax, ay = op.get_attr("adj_x"), op.get_attr("adj_y")
    if not ax:
        gx = _bmm(grad, y, False, True) if not ay else _bmm(grad, y, False, False)
        gy = _bmm(x, grad, True, False) if not ay else _bmm(grad, x, True, False)
    else:
        gx = _bmm(y, grad, False, True) if not ay else _bmm(y, grad, True, True)
        gy = _bmm(x, grad, False, False) if not ay else _bmm(grad, x, True, True)
    # Broadcast batch dimensions are summed away (the matrix dims already match).
    return [unbroadcast(gx, x), unbroadcast(gy, y)]


# -- tf.matmul --------------------------------------------------------------------------------------
def matmul(a: Any, b: Any, transpose_a: bool = False, transpose_b: bool = False, adjoint_a: bool = False,
           adjoint_b: bool = False, a_is_sparse: bool = False, b_is_sparse: bool = False,
           name: str | None = None) -> Tensor:
    """The matrix product a @ b (op type MatMul for matrices, BatchMatMulV2 for batches).

    Inputs of rank > 2 (or unknown rank) are batches of matrices in the last two dimensions, with
    broadcasting batch dimensions. `a_is_sparse`/`b_is_sparse` are accepted hints with no effect.

    Args:
        a, b: tensors of the same numeric type.
        transpose_a, transpose_b: transpose the matrix before multiplying.
        adjoint_a, adjoint_b: conjugate and transpose (the same as transpose for real types).
        name: the op name (default "MatMul").

    Raises:
        ValueError: the inner dimensions differ ("Dimensions must be equal, but are 784 and 100 for
            'MatMul' ..."), a rank is below 2, or both transpose_x and adjoint_x are set.
        TypeError: a and b have different dtypes.
    """
    with op_scope(name, "MatMul", [a, b]) as scope:
        if transpose_a and adjoint_a:
            raise ValueError("Only one of transpose_a and adjoint_a can be True.")
        if transpose_b and adjoint_b:
            raise ValueError("Only one of transpose_b and adjoint_b can be True.")
        a, b = convert_args("MatMul", [("a", a, T), ("b", b, T)])
        ad, bd = dims(a), dims(b)
        if not (a_is_sparse or b_is_sparse) and (ad is None or len(ad) > 2 or bd is None or len(bd) > 2):
            # Batches take adjoints: the adjoint of conj(a) is a's transpose (conj is a no-op for reals).
            if transpose_a:
                a = _conj(a)
            if transpose_b:
                b = _conj(b)
            return make_tensor("BatchMatMulV2", [a, b], {"adj_x": bool(transpose_a or adjoint_a),
                                                         "adj_y": bool(transpose_b or adjoint_b)}, scope)
        if adjoint_a:
            a, transpose_a = _conj(a), True
        if adjoint_b:
            b, transpose_b = _conj(b), True
        return make_tensor("MatMul", [a, b], {"transpose_a": bool(transpose_a),
                                              "transpose_b": bool(transpose_b)}, scope)
