"""Helpers shared by op declarations: dtype lists, shape functions, attr coercion, wrapper plumbing."""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.constant_value import constant_shape, constant_value  # noqa: F401 - re-export
from labflow.framework.convert import convert_same_dtype, convert_to_tensor  # noqa: F401 - re-export
from labflow.framework.graph import _graph_of, get_default_graph  # noqa: F401 - re-export
from labflow.framework.shapes import broadcast_dims, shape_str

FLOAT_TYPES = (_dt.float16, _dt.bfloat16, _dt.float32, _dt.float64)
INT_TYPES = (_dt.int8, _dt.int16, _dt.int32, _dt.int64, _dt.uint8, _dt.uint16)
SIGNED_INT_TYPES = (_dt.int8, _dt.int16, _dt.int32, _dt.int64)
COMPLEX_TYPES = (_dt.complex64, _dt.complex128)
REAL_TYPES = FLOAT_TYPES + INT_TYPES
NUMERIC_TYPES = REAL_TYPES + COMPLEX_TYPES
ALL_TYPES = NUMERIC_TYPES + (_dt.bool, _dt.string)
INDEX_TYPES = (_dt.int32, _dt.int64)


def dims(t: Any) -> tuple | None:
    """The static dims tuple of a tensor (None for unknown rank)."""
    return t._shape_dims


def base(t: Any) -> _dt.DType:
    return t.dtype.base_dtype


def same_as_input(ins: list, attrs: dict) -> tuple:
    """Shape function: one output with the first input's dtype and shape."""
    return base(ins[0]), dims(ins[0])


def broadcast_shape(ins: list, attrs: dict) -> tuple:
    """Shape function for elementwise binary ops: NumPy broadcasting, TF's error text on mismatch."""
    return base(ins[0]), broadcast_dims(dims(ins[0]), dims(ins[1]))


def broadcast_bool_shape(ins: list, attrs: dict) -> tuple:
    """Like broadcast_shape, but the output is bool (comparisons)."""
    return _dt.bool, broadcast_dims(dims(ins[0]), dims(ins[1]))


def no_outputs(ins: list, attrs: dict) -> list:
    return []


def op_name(name: str | None, default: str) -> str:
    return name or default


def make_op(op_type: str, inputs: list, attrs: dict | None = None, name: str | None = None) -> Any:
    """Creates the op in the graph of its inputs (else the default graph) and returns the Operation."""
    g = _graph_of(*inputs)
    return g.create_op(op_type, inputs, attrs=attrs, name=name)


def make_tensor(op_type: str, inputs: list, attrs: dict | None = None, name: str | None = None) -> Any:
    """Like make_op, returning the single output tensor."""
    return make_op(op_type, inputs, attrs, name)._outputs[0]


def axis_list(axis: Any, rank: int | None) -> tuple | None:
    """Normalises a Python/NumPy axis argument to a sorted tuple of non-negative ints (None: all)."""
    if axis is None:
        return None if rank is None else tuple(range(rank))
    ax = [int(a) for a in (axis if isinstance(axis, (list, tuple)) else [axis])]
    if rank is None:
        return tuple(ax) if all(a >= 0 for a in ax) else None
    out = []
    for a in ax:
        if not -rank <= a < max(rank, 1):
            raise ValueError(f"axis {a} is out of range for a tensor of rank {rank}: it must be in "
                             f"[{-rank}, {rank})")
        out.append(a % rank if rank else 0)
    return tuple(sorted(set(out)))


def merge_dims(a: tuple | None, b: tuple | None) -> tuple | None:
    """Merges two static shapes; raises ValueError with TF's shape-inference wording on a mismatch."""
    if a is None:
        return b
    if b is None:
        return a
    if len(a) != len(b):
        raise ValueError(f"Shapes must be equal rank, but are {len(a)} and {len(b)}")
    out = []
    for i, (x, y) in enumerate(zip(a, b)):
        if x is not None and y is not None and x != y:
            raise ValueError(f"Dimension {i} in both shapes must be equal, but are {x} and {y}. Shapes are "
                             f"{shape_str(a)} and {shape_str(b)}.")
        out.append(x if x is not None else y)
    return tuple(out)


def same_shape(ins: list, attrs: dict) -> tuple:
    """Shape function for ops whose inputs must all have one shape (the output has it too)."""
    from labflow.framework.shapes import TensorShape
    s = TensorShape(None)
    for t in ins:
        try:
            s = s.merge_with(TensorShape(dims(t)))
        except ValueError:
            raise ValueError(f"Shapes must be equal: {TensorShape(dims(ins[0]))} vs "
                             f"{TensorShape(dims(t))}") from None
    return base(ins[0]), s.as_tuple()


def downcast(a: Any, dtype: Any) -> Any:
    """`a` back in `dtype` after an upcast. CuPy's astype(copy=False) costs ~4 us of host time even
    when the dtype already matches, and a GPU step pays it per kernel."""
    return a if a.dtype == dtype else a.astype(dtype)


def truncate_divide(xp: Any, x: Any, y: Any) -> Any:
    """Integer x / y rounded toward zero, like C's `/` (also what TF's ScatterDiv does on ints)."""
    q = xp.floor_divide(x, y)
    # floor and truncation differ by one where the division is inexact and the signs differ
    fix = (xp.remainder(x, y) != 0) & ((x < 0) != (y < 0))
    return q + fix.astype(q.dtype)


def sum_leading(xp, x, axes, keepdims: bool = False):
    """Sum over `axes`; when they are exactly the leading axes of a large enough float32/64 C-contiguous
    array (bias gradients: [N,H,W,C] -> [C]) it is one GEMV-shaped product `ones @ x.reshape(rows, C)`:
    on NumPy 3-5x faster than its reduction; on a GPU one cuBLAS call against a cached row of ones,
    where CuPy's reduction over a leading axis measured 423 us of device time for [50,28,28,32] on an
    H200 and the product 26 us (benchmarks/gpu_kernel_micro.py). Anything else is a plain `xp.sum`."""
    ax = tuple(sorted(a % x.ndim for a in axes)) if isinstance(axes, tuple) else None
    if (ax and not keepdims and ax == tuple(range(len(ax))) and len(ax) < x.ndim
            and x.size >= (4096 if xp is np else 1) and x.dtype in (xp.float32, xp.float64) and x.flags.c_contiguous):
        rows = 1
        for a in ax:
            rows *= x.shape[a]
        if rows:
            # the kept axes are trailing, so the product already has their (flattened) order
            if xp is np:
                return (xp.ones(rows, dtype=x.dtype) @ x.reshape(rows, -1)).reshape(x.shape[len(ax):])
            from labflow.backend import gpu_blas
            ones = gpu_blas.ones_row(xp, rows, x.dtype, x)
            if ones is not None:
                return gpu_blas.gemm(xp, ones, x.reshape(rows, -1)).reshape(x.shape[len(ax):])
    return xp.sum(x, axis=axes, keepdims=keepdims, dtype=x.dtype)


# -- what the fused ops (_FusedConv2D, _FusedMatMul: made by runtime/fusion.py) run after their product --
FUSABLE_ACTIVATIONS = ("Relu",)


def check_fused_ops(op_type: str, fused_ops: list) -> None:
    """The `fused_ops` attr is BiasAdd, then at most one activation (TF's remapper makes the same)."""
    if not fused_ops or fused_ops[0] != "BiasAdd" or len(fused_ops) > 2 or any(
            f not in FUSABLE_ACTIVATIONS for f in fused_ops[1:]):
        raise ValueError(f"{op_type} cannot fuse {list(fused_ops)} (it fuses BiasAdd and then one of "
                         f"{', '.join(FUSABLE_ACTIVATIONS)})")


def bias_activation_kernel(xp: Any, fused_ops: list) -> Any | None:
    """On a GPU, with an activation: `fn(product, bias)` doing the bias add and activation as one fused
    kernel (in place they are a launch each). None elsewhere: the in-place epilogue is used."""
    if xp is np or len(fused_ops) < 2:
        return None
    from labflow.ops.fused_elementwise_ops import evaluate
    program = ["Add 0 1"] + [f"{act} {i + 2}" for i, act in enumerate(fused_ops[1:])]
    return lambda product, bias: evaluate(xp, program, [len(program) + 1], product, bias)


def bias_epilogue(xp: Any, bias: Any, fused_ops: list) -> Any:
    """In-place `block += bias[cols]` (+ the activation) for one [rows, channels] output block whose
    channels are the slice `cols` of the output's."""
    relu = "Relu" in fused_ops

    def epilogue(block: Any, cols: slice = slice(None)) -> None:
        xp.add(block, bias[cols], out=block)
        if relu:
            xp.maximum(block, 0, out=block)
    return epilogue
