"""Plumbing shared by the math op wrappers: TF 1.x's rules for applying an op to Python values.

TF's generated wrappers open a name scope named after the op (or the user's `name`), convert
non-tensor arguments inside it (so a constant operand is named e.g. `Mul/y`) and give the op the
scope's name. Inputs that share the type attr "T" take the dtype of the first tensor among them,
and a Python float never silently becomes an integer (TypeError naming the op, like TF).

This module imports nothing from the math family, so math_ops and its split-off modules can all
use it without import cycles.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Sequence

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.convert import convert_to_tensor
from labflow.framework.graph import _graph_of
from labflow.framework.tensor import IndexedSlices, Tensor

T = "T"  # marks an argument that shares the op's type attr "T"


@contextlib.contextmanager
def op_scope(name: str | None, default: str, values: Sequence[Any]) -> Iterator[str]:
    """TF's `ops.name_scope(name, default, values)` in the graph of `values`; yields 'scope/'."""
    g = _graph_of(*[v for v in values if isinstance(v, (Tensor, IndexedSlices)) or
                    hasattr(v, "_as_graph_element")])
    with g.as_default(), g.name_scope(name or default) as scope:
        yield scope


def tensor_dtype(v: Any) -> _dt.DType | None:
    """The base dtype of a Tensor or tensor-like object (Variable), else None."""
    if isinstance(v, Tensor):
        return v.dtype.base_dtype
    if hasattr(v, "_as_graph_element") and hasattr(v, "dtype"):
        return _dt.as_dtype(v.dtype).base_dtype
    return None


def _has_python_float(v: Any) -> bool:
    if isinstance(v, float) and not isinstance(v, np.generic):
        return True
    if isinstance(v, (list, tuple)):
        return any(_has_python_float(x) for x in v)
    return False


def _holds_tensor(v: Any) -> bool:
    if isinstance(v, (list, tuple)):
        return any(_holds_tensor(x) for x in v)
    return isinstance(v, (Tensor, IndexedSlices)) or hasattr(v, "_as_graph_element")


def is_plain(v: Any) -> bool:
    """True for Python/NumPy values (converted with the shared dtype); False for tensor-likes."""
    return not _holds_tensor(v)


def convert_operand(v: Any, dtype: _dt.DType | None, arg: str, op_type: str) -> Tensor:
    """Converts one non-tensor operand to `dtype`; a Python float for an integer type is a TypeError."""
    if isinstance(v, Tensor):
        return v
    if dtype is not None and is_plain(v):
        if not (dtype.is_floating or dtype.is_complex) and _has_python_float(v):
            raise TypeError(f"Expected {dtype.name} passed to parameter '{arg}' of op '{op_type}', got "
                            f"{v!r} of type 'float' instead: cast the tensor to a float type (tf.cast / "
                            "tf.to_float) or pass an integer.")
        return convert_to_tensor(v, dtype=dtype, name=arg)
    return convert_to_tensor(v, name=arg)


def convert_args(op_type: str, args: Sequence[tuple]) -> list[Tensor]:
    """Converts `(arg_name, value, hint)` triples; hint T: shares the first tensor's dtype."""
    shared = None
    for _, v, h in args:
        if h is T:
            shared = tensor_dtype(v)
            if shared is not None:
                break
    out = []
    for arg, v, h in args:
        if isinstance(v, Tensor):
            out.append(v)
        elif h is T:
            t = convert_operand(v, shared, arg, op_type)
            if shared is None:
                shared = t.dtype.base_dtype
            out.append(t)
        else:
            out.append(convert_to_tensor(v, dtype_hint=h, name=arg))
    return out


def apply_op(op_type: str, args: Sequence[tuple], attrs: dict | None = None, name: str | None = None,
             default_name: str | None = None) -> Any:
    """Creates `op_type` like TF's generated wrappers and returns its Operation.

    Args:
        args: `(arg_name, value, hint)` per input; hint is `T` (shares the type attr), a DType
            (the preferred dtype for Python values) or None.
        name: the user's name (a scope name; 'x/' re-enters an existing scope exactly).
        default_name: the scope when `name` is None (default: the op type, as in TF).
    """
    with op_scope(name, default_name or op_type, [a[1] for a in args]) as scope:
        ins = convert_args(op_type, args)
        return _graph_of(*ins).create_op(op_type, ins, attrs=attrs, name=scope)


def apply(op_type: str, args: Sequence[tuple], attrs: dict | None = None, name: str | None = None,
          default_name: str | None = None) -> Any:
    """Like `apply_op`, returning the op's single output tensor."""
    return apply_op(op_type, args, attrs, name, default_name)._outputs[0]


def pick(a: Any, b: Any, na: str, nb: str) -> Any:
    """TF's `deprecated_argument_lookup`: the new or the old spelling of an argument, not both."""
    if a is not None and b is not None:
        raise ValueError(f"Cannot specify both '{na}' and '{nb}'")
    return a if a is not None else b
