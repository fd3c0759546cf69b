"""`tf.sparse_matmul` (TF 1.x; op SparseMatMul): a dense float32/bfloat16 matrix product whose `a_is_sparse` /
`b_is_sparse` hints told TF's CPU kernel to skip zeros. The hints change only speed, never the value, so
one BLAS product serves for every hint."""

from __future__ import annotations

from typing import Any

from labflow import dtypes as _dt
from labflow.framework.registry import op
from labflow.framework.tensor import Tensor
from labflow.ops.common import base, convert_to_tensor, make_op
from labflow.ops.matmul_ops import _matmul_shape

_TYPES = (_dt.float32, _dt.bfloat16)


def _shape(ins, attrs):
    for arg, t in (("a", ins[0]), ("b", ins[1])):
        if base(t) not in _TYPES:
            raise TypeError(f"SparseMatMul: {arg} must be float32 or bfloat16, got {base(t).name}")
    attrs["Ta"], attrs["Tb"] = base(ins[0]), base(ins[1])
    return _dt.float32, _matmul_shape(ins, attrs)[1]


@op("SparseMatMul", inputs=("a", "b"), attrs={"transpose_a": False, "transpose_b": False, "a_is_sparse": False,
                                             "b_is_sparse": False, "Ta": None, "Tb": None}, shape=_shape, blas=True)
def sparse_matmul_kernel(xp, a, b, *, transpose_a, transpose_b):
    a32, b32 = a.astype(xp.float32, copy=False), b.astype(xp.float32, copy=False)
    return xp.matmul(a32.T if transpose_a else a32, b32.T if transpose_b else b32)


@sparse_matmul_kernel.grad
def _sparse_matmul_grad(op, grad):
    from labflow.ops.math_ops import cast
    a, b = op.inputs
    ta, tb = op.get_attr("transpose_a"), op.get_attr("transpose_b")
    sa, sb = op.get_attr("a_is_sparse"), op.get_attr("b_is_sparse")
    # the products of the MatMul gradient, each keeping the hint of the operand it reads
    if not ta:
        ga = sparse_matmul(grad, b, transpose_b=not tb, b_is_sparse=sb)
    else:
        ga = sparse_matmul(b, grad, transpose_a=tb, transpose_b=True, a_is_sparse=sb)
    if not tb:
        gb = sparse_matmul(a, grad, transpose_a=not ta, a_is_sparse=sa)
    else:
        gb = sparse_matmul(grad, a, transpose_a=True, transpose_b=ta, b_is_sparse=sa)
    return [ga if base(a) == _dt.float32 else cast(ga, base(a)), gb if base(b) == _dt.float32 else cast(gb, base(b))]


def sparse_matmul(a: Any, b: Any, transpose_a: bool = False, transpose_b: bool = False, a_is_sparse: bool = False,
                  b_is_sparse: bool = False, name: str | None = None) -> Tensor:
    """The float32 matrix product `a @ b` (TF 1.x `tf.sparse_matmul`).

    Args:
        a: a float32 or bfloat16 matrix.
        b: a float32 or bfloat16 matrix.
        transpose_a: use `a` transposed.
        transpose_b: use `b` transposed.
        a_is_sparse: a hint that `a` is mostly zeros (recorded on the op; the value does not depend on it).
        b_is_sparse: the same for `b`.
        name: a name for the op.

    Returns:
        A float32 matrix.
    """
    at, bt = convert_to_tensor(a, dtype_hint=_dt.float32), convert_to_tensor(b, dtype_hint=_dt.float32)
    return make_op("SparseMatMul", [at, bt], {"transpose_a": bool(transpose_a), "transpose_b": bool(transpose_b),
                                              "a_is_sparse": bool(a_is_sparse), "b_is_sparse": bool(b_is_sparse)},
                   name or "SparseMatMul").outputs[0]
