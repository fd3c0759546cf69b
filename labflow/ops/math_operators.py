"""Tensor operators, installed as TF's math_ops installs them.

`x + y` opens a name scope "add" (the op is named "add", a constant operand "add/y"), converts the
other operand to x's dtype (a Python float with an integer tensor is a TypeError, like TF) and calls
the public wrapper. `/` is truediv (integers give floats), `//` floordiv, `%` floormod, `@` matmul;
`<`, `<=`, `>`, `>=` compare elementwise; `&`, `|`, `^`, `~` are logical ops on bool tensors.
`==` and `!=` stay Python identity, as in TF 1.x (Tensors are dict keys); use tf.equal for values.
"""

from __future__ import annotations

from typing import Any, Callable

from labflow.framework.tensor import Tensor
from labflow.ops import math_ops as _m
from labflow.ops.math_helpers import convert_operand, is_plain, op_scope


def _override_binary(fn: Callable, op_name: str) -> None:
    def binary_op_wrapper(x: Tensor, y: Any) -> Any:
        with op_scope(None, op_name, [x, y]) as name:
            if not isinstance(y, Tensor):
                try:
                    y = convert_operand(y, x.dtype.base_dtype, "y", op_name)
                except TypeError:
                    # An object that knows how to combine itself with a tensor gets its turn.
                    if not is_plain(y) and hasattr(type(y), f"__r{op_name}__"):
                        return NotImplemented
                    raise
            return fn(x, y, name=name)

    def r_binary_op_wrapper(y: Tensor, x: Any) -> Any:
        with op_scope(None, op_name, [x, y]) as name:
            x = convert_operand(x, y.dtype.base_dtype, "x", op_name)
            return fn(x, y, name=name)

    binary_op_wrapper.__name__ = f"__{op_name}__"
    r_binary_op_wrapper.__name__ = f"__r{op_name}__"
    Tensor._override_operator(f"__{op_name}__", binary_op_wrapper)
    Tensor._override_operator(f"__r{op_name}__", r_binary_op_wrapper)


_override_binary(_m.add, "add")
_override_binary(_m.subtract, "sub")
_override_binary(_m.multiply, "mul")
_override_binary(_m.truediv, "truediv")
_override_binary(_m.floordiv, "floordiv")
_override_binary(_m.floormod, "mod")
_override_binary(_m.pow, "pow")
_override_binary(_m.matmul, "matmul")
_override_binary(_m.logical_and, "and")
_override_binary(_m.logical_or, "or")
_override_binary(_m.logical_xor, "xor")

Tensor._override_operator("__lt__", _m.less)
Tensor._override_operator("__le__", _m.less_equal)
Tensor._override_operator("__gt__", _m.greater)
Tensor._override_operator("__ge__", _m.greater_equal)
Tensor._override_operator("__neg__", _m.negative)
Tensor._override_operator("__abs__", _m.abs)
Tensor._override_operator("__invert__", _m.logical_not)
