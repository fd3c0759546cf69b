"""Math ops: elementwise arithmetic, matmul, reductions, comparisons, casts, and Tensor operators."""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.gradients import unbroadcast
from labflow.framework.registry import op
from labflow.framework.tensor import Tensor
from labflow.ops import array_ops
from labflow.ops.common import (
    INDEX_TYPES, NUMERIC_TYPES, axis_list, base, broadcast_shape, constant_value, convert_same_dtype,
    convert_to_tensor, dims, make_tensor,
)

__all__ = ["add", "add_n", "reduce_sum"]


# -- Add --------------------------------------------------------------------------------------------
@op("Add", inputs=("x", "y"), types=NUMERIC_TYPES + (_dt.string,), shape=broadcast_shape, xp_fn="add")
def add_kernel(xp, x, y):
    return xp.add(x, y)


@add_kernel.grad
def _add_grad(op, grad):
    x, y = op.inputs
    return [unbroadcast(grad, x), unbroadcast(grad, y)]


def add(x: Any, y: Any, name: str | None = None) -> Any:
    """x + y elementwise, with NumPy broadcasting."""
    x, y = convert_same_dtype([x, y])
    return make_tensor("Add", [x, y], None, name or "add")


# -- AddN -------------------------------------------------------------------------------------------
def _add_n_shape(ins, attrs):
    from labflow.framework.shapes import TensorShape
    s = TensorShape(None)
    for t in ins:
        try:
            s = s.merge_with(TensorShape(dims(t)))
        except ValueError:
            raise ValueError(f"Shapes must be equal: {TensorShape(dims(ins[0]))} vs "
                             f"{TensorShape(dims(t))}") from None
    return base(ins[0]), s.as_tuple()


@op("AddN", inputs=("*inputs",), attrs={"N": 1}, types=NUMERIC_TYPES, shape=_add_n_shape)
def add_n_kernel(xp, *inputs, N):
    if len(inputs) == 1:
        return inputs[0]
    out = xp.add(inputs[0], inputs[1])
    for t in inputs[2:]:
        xp.add(out, t, out=out)
    return out


@add_n_kernel.grad
def _add_n_grad(op, grad):
    return [grad] * len(op.inputs)


def add_n(inputs: list, name: str | None = None) -> Any:
    """Sums a list of tensors of the same shape and dtype."""
    if not inputs or not isinstance(inputs, (list, tuple)):
        raise ValueError("inputs must be a non-empty list of at least one Tensor with the same dtype and "
                         "shape")
    ts = convert_same_dtype(list(inputs))
    if len(ts) == 1 and name is None:
        return ts[0]
    return make_tensor("AddN", ts, {"N": len(ts)}, name or "AddN")


# -- Sum --------------------------------------------------------------------------------------------
def reduction_shape(ins, attrs):
    x, axes = ins
    xd = dims(x)
    av = constant_value(axes)
    if xd is None:
        return base(x), None
    if av is None:
        if attrs["keep_dims"]:
            return base(x), (None,) * len(xd)
        return base(x), None
    ax = axis_list([int(a) for a in np.reshape(av, [-1])], len(xd))
    if attrs["keep_dims"]:
        return base(x), tuple(1 if i in ax else d for i, d in enumerate(xd))
    return base(x), tuple(d for i, d in enumerate(xd) if i not in ax)


def _np_axes(axes) -> Any:
    a = np.asarray(axes)
    return tuple(int(i) for i in a.reshape(-1)) if a.ndim else int(a)


@op("Sum", inputs=("input", "reduction_indices"), attrs={"keep_dims": False}, types=NUMERIC_TYPES,
    type_inputs=("input",), shape=reduction_shape)
def sum_kernel(xp, input, reduction_indices, *, keep_dims):
    return xp.sum(input, axis=_np_axes(reduction_indices), keepdims=keep_dims, dtype=input.dtype)


@sum_kernel.grad
def _sum_grad(op, grad):
    x = op.inputs[0]
    if not op.get_attr("keep_dims"):
        # Put the reduced axes back as size-1 dims, then broadcast to the input's shape.
        out_shape = make_tensor("ReducedShape", [array_ops.shape(x), op.inputs[1]])
        grad = array_ops.reshape(grad, out_shape)
    return [make_tensor("BroadcastTo", [grad, array_ops.shape(x)]), None]


def _reduction_axes(x: Tensor, axis: Any) -> Tensor:
    if axis is None:
        r = dims(x)
        if r is not None:
            return convert_to_tensor(np.arange(len(r), dtype=np.int32))
        return make_tensor("Range", [convert_to_tensor(0), make_tensor("Rank", [x]), convert_to_tensor(1)])
    return convert_to_tensor(axis, dtype_hint=_dt.int32)


def reduce_sum(input_tensor: Any, axis: Any = None, keepdims: Any = None, name: str | None = None,
               reduction_indices: Any = None, keep_dims: Any = None) -> Any:
    """Sum over `axis` (all axes when None); `reduction_indices`/`keep_dims` are the TF1 spellings."""
    x = convert_to_tensor(input_tensor)
    axis = _pick(axis, reduction_indices, "axis", "reduction_indices")
    kd = bool(_pick(keepdims, keep_dims, "keepdims", "keep_dims") or False)
    return make_tensor("Sum", [x, _reduction_axes(x, axis)], {"keep_dims": kd}, name or "Sum")


def _pick(a: Any, b: Any, na: str, nb: str) -> Any:
    if a is not None and b is not None:
        raise ValueError(f"Cannot specify both '{na}' and '{nb}'")
    return a if a is not None else b


# -- shape helpers used by gradients ----------------------------------------------------------------
def _reduced_shape_shape(ins, attrs):
    return _dt.int32, dims(ins[0])


@op("ReducedShape", inputs=("input_shape", "axes"), shape=_reduced_shape_shape, not_differentiable=True)
def reduced_shape_kernel(xp, input_shape, axes):
    out = np.array(input_shape, dtype=np.int32).copy()
    ax = np.asarray(axes).reshape(-1)
    if out.size:
        out[ax % out.size] = 1
    return out


def _bga_shape(ins, attrs):
    return [(base(ins[0]), (None,)), (base(ins[0]), (None,))]


@op("BroadcastGradientArgs", inputs=("s0", "s1"), types=INDEX_TYPES, shape=_bga_shape, outputs=2,
    not_differentiable=True, output_names=("r0", "r1"))
def broadcast_gradient_args_kernel(xp, s0, s1):
    s0, s1 = [int(d) for d in s0], [int(d) for d in s1]
    n = max(len(s0), len(s1))
    a, b = [1] * (n - len(s0)) + s0, [1] * (n - len(s1)) + s1
    r0 = [i for i in range(n) if a[i] == 1 and b[i] != 1 or (i < n - len(s0))]
    r1 = [i for i in range(n) if b[i] == 1 and a[i] != 1 or (i < n - len(s1))]
    return np.array(sorted(set(r0)), dtype=np.int32), np.array(sorted(set(r1)), dtype=np.int32)


def _broadcast_to_shape(ins, attrs):
    from labflow.framework.constant_value import constant_shape
    return base(ins[0]), constant_shape(ins[1])


@op("BroadcastTo", inputs=("input", "shape"), shape=_broadcast_to_shape)
def broadcast_to_kernel(xp, input, shape):
    return xp.broadcast_to(input, tuple(int(s) for s in shape))


@broadcast_to_kernel.grad
def _broadcast_to_grad(op, grad):
    return [unbroadcast(grad, op.inputs[0]), None]
