"""Static evaluation of small subgraphs (TF's `tensor_util.constant_value`), for shape functions."""

from __future__ import annotations

from typing import Any

import numpy as np


def constant_value(tensor: Any) -> np.ndarray | None:
    """The value of `tensor` if it can be computed without running the graph, else None."""
    from labflow.framework.tensor import Tensor
    if not isinstance(tensor, Tensor):
        return None
    op = tensor.op
    t = op.type
    a = op._attrs
    if t == "Const":
        return a["value"]
    if t == "Shape":
        d = op._inputs[0]._shape_dims
        if d is not None and all(x is not None for x in d):
            return np.array(d, dtype=a.get("out_type").as_numpy_dtype)
        return None
    if t == "Size":
        d = op._inputs[0]._shape_dims
        if d is not None and all(x is not None for x in d):
            return np.array(int(np.prod(d, dtype=np.int64)), dtype=a.get("out_type").as_numpy_dtype)
        return None
    if t == "Rank":
        d = op._inputs[0]._shape_dims
        return None if d is None else np.array(len(d), dtype=np.int32)
    if t in ("Identity", "StopGradient"):
        return constant_value(op._inputs[0])
    if t == "Range":
        vals = [constant_value(x) for x in op._inputs]
        if any(v is None for v in vals):
            return None
        return np.arange(*[v.item() for v in vals], dtype=tensor.dtype.as_numpy_dtype)
    if t == "Fill":
        d, v = constant_value(op._inputs[0]), constant_value(op._inputs[1])
        return None if d is None or v is None else np.full([int(x) for x in d], v, dtype=v.dtype)
    if t in ("Equal", "NotEqual"):
        a0, b0 = constant_value(op._inputs[0]), constant_value(op._inputs[1])
        if a0 is None or b0 is None:
            return None
        return np.equal(a0, b0) if t == "Equal" else np.not_equal(a0, b0)
    if t == "Unpack":
        v = constant_value(op._inputs[0])
        return None if v is None else np.take(v, tensor.value_index, axis=a.get("axis", 0))
    if t == "Cast":
        v = constant_value(op._inputs[0])
        return None if v is None else v.astype(a["DstT"].as_numpy_dtype)
    if t == "Pack":
        vals = [constant_value(x) for x in op._inputs]
        if any(v is None for v in vals):
            return None
        return np.stack(vals, axis=a["axis"])
    if t == "ConcatV2":
        vals = [constant_value(x) for x in op._inputs]
        if any(v is None for v in vals):
            return None
        return np.concatenate(vals[:-1], axis=int(vals[-1]))
    if t in _FOLDABLE:
        return _fold(op)
    return None


# Cheap, stateless ops that shape arithmetic goes through: when all their inputs are constant, run
# their NumPy kernel here so shape functions see the value (e.g. reshape(x, shape(y)[:1] * 2)).
_FOLDABLE = frozenset({"StridedSlice", "Slice", "GatherV2", "Add", "Sub", "Mul", "FloorDiv", "FloorMod",
                       "Maximum", "Minimum", "Prod", "Sum", "Neg", "Squeeze", "ExpandDims", "Reshape"})


def _fold(op: Any) -> np.ndarray | None:
    vals = []
    for x in op._inputs:
        v = constant_value(x)
        if v is None or np.size(v) > 1024:
            return None
        vals.append(np.asarray(v))
    d = op._opdef
    kernel = d.kernel_for("CPU")
    if kernel is None or d.stateful or d.needs_ctx or d.needs_step:
        return None
    kwargs = {a: op._attrs[a] for a in d.attrs if a in d.kernel_attrs}
    try:
        out = getattr(np, d.xp_fn)(*vals) if d.xp_fn else kernel(np, *vals, **kwargs)
    except Exception:  # noqa: BLE001 - folding is best effort; the op still runs at run time
        return None
    return None if isinstance(out, tuple) else np.asarray(out)


def constant_shape(tensor: Any) -> tuple | None:
    """Like TF's `constant_value_as_shape`: a dims tuple (None for unknown entries) or None (unknown rank)."""
    from labflow.framework.tensor import Tensor
    v = constant_value(tensor)
    if v is not None:
        return tuple(None if int(x) < 0 else int(x) for x in np.reshape(v, [-1]))
    if isinstance(tensor, Tensor):
        op = tensor.op
        if op.type == "Shape":
            return op._inputs[0]._shape_dims
        if op.type == "Pack":
            out = []
            for x in op._inputs:
                xv = constant_value(x)
                out.append(None if xv is None or int(xv) < 0 else int(xv))
            return tuple(out)
        if op.type == "ConcatV2":
            parts = [constant_shape(x) for x in op._inputs[:-1]]
            if any(p is None for p in parts):
                return None
            return tuple(d for p in parts for d in p)
        if op.type == "StridedSlice" and _simple_slice(op):
            # shape(x)[a:b]: slice the partially known dims of x's shape (TF's constant_value_as_shape).
            src = constant_shape(op._inputs[0])
            b, e, st = (constant_value(x) for x in op._inputs[1:])
            if src is not None and b is not None and e is not None and st is not None:
                a = op._attrs
                lo = None if a.get("begin_mask", 0) & 1 else int(np.reshape(b, [-1])[0])
                hi = None if a.get("end_mask", 0) & 1 else int(np.reshape(e, [-1])[0])
                return tuple(src[lo:hi:int(np.reshape(st, [-1])[0])])
        d = tensor._shape_dims
        if d is not None and len(d) == 1 and d[0] is not None:
            return (None,) * d[0]
    return None


def _simple_slice(op: Any) -> bool:
    a = op._attrs
    return (not a.get("ellipsis_mask", 0) and not a.get("new_axis_mask", 0) and not a.get("shrink_axis_mask", 0)
            and op._inputs[1]._shape_dims == (1,))
