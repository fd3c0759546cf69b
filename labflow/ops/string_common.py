"""Helpers shared by the string op modules: the host-op flags, type checks, and bytes-array plumbing."""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.graph import name_scope
from labflow.framework.tensor import Tensor
from labflow.ops.common import convert_to_tensor, dims, make_op

HOST = dict(host_op=True, not_differentiable=True)


def check_string(t: Any, op_type: str, arg: str) -> None:
    """TF's construction-time type error for a non-string input of a string op."""
    if t.dtype.base_dtype != _dt.string:
        raise TypeError(f"Input '{arg}' of '{op_type}' Op has type {t.dtype.base_dtype.name} that does not match "
                        "expected type of string.")


def as_bytes_array(x: Any) -> np.ndarray:
    """A kernel's string input as an object array of bytes (a fed str becomes UTF-8 bytes)."""
    arr = np.asarray(x, dtype=object)
    if not all(isinstance(v, bytes) for v in arr.flat):
        arr = np.vectorize(lambda v: v.encode("utf-8") if isinstance(v, str) else bytes(v), otypes=[object])(arr)
    return arr


def map_strings(fn: Any, arr: np.ndarray, dtype: Any = object) -> np.ndarray:
    """`fn` applied to every element of an object array, as an array of `dtype` with the same shape."""
    out = np.empty(arr.shape, dtype=dtype)
    flat = out.reshape(-1)
    for i, v in enumerate(arr.reshape(-1)):
        flat[i] = fn(v)
    return out


def unary_string_shape(op_type: str, out_dtype: Any = _dt.string):
    def fn(ins, attrs):
        check_string(ins[0], op_type, "input")
        return out_dtype, dims(ins[0])
    return fn


def unary_op(op_type: str, input: Any, attrs: dict, name: str | None) -> Tensor:
    with name_scope(name, op_type) as scope:
        t = convert_to_tensor(input, dtype=_dt.string, name="input")
        return make_op(op_type, [t], attrs=attrs, name=scope).outputs[0]
