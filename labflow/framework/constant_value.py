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
    return None


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
        d = tensor._shape_dims
        if d is not None and len(d) == 1 and d[0] is not None:
            return (None,) * d[0]
    return None
