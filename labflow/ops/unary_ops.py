"""Elementwise functions of one tensor: neg, abs, sqrt, exp, log, sigmoid, tanh, floor, ...

Part of the math family (re-exported by math_ops). Gradients are built from the public math
wrappers, looked up at gradient time, so this module does not import math_ops when it loads.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.registry import op
from labflow.framework.shapes import TensorShape
from labflow.framework.tensor import Tensor
from labflow.ops.common import (
    COMPLEX_TYPES,
    FLOAT_TYPES,
    SIGNED_INT_TYPES,
    base,
    convert_to_tensor,
    dims,
    make_tensor,
    same_as_input,
)
from labflow.ops.math_helpers import T, apply

__all__ = ["negative", "neg", "abs", "sign", "square", "sqrt", "rsqrt", "reciprocal", "exp", "expm1", "log",
           "log1p", "sigmoid", "tanh", "floor", "ceil", "round", "rint", "conj", "sin", "cos"]

_SIGNED = FLOAT_TYPES + SIGNED_INT_TYPES
_SIGNED_C = _SIGNED + COMPLEX_TYPES
_FLOAT_C = FLOAT_TYPES + COMPLEX_TYPES


def _m() -> Any:
    from labflow.ops import math_ops
    return math_ops


def _unary(op_type: str, x: Any, name: str | None) -> Tensor:
    return apply(op_type, [("x", x, T)], name=name)


# -- sign and magnitude -----------------------------------------------------------------------------
@op("Neg", inputs=("x",), types=_SIGNED_C, shape=same_as_input, xp_fn="negative")
def neg_kernel(xp, x):
    return xp.negative(x)


@neg_kernel.grad
def _neg_grad(op, grad):
    return [negative(grad)]


def negative(x: Any, name: str | None = None) -> Tensor:
    """-x elementwise (op type Neg)."""
    return _unary("Neg", x, name)


neg = negative


@op("Abs", inputs=("x",), types=_SIGNED, shape=same_as_input, xp_fn="absolute")
def abs_kernel(xp, x):
    return xp.absolute(x)


@abs_kernel.grad
def _abs_grad(op, grad):
    return [_m().multiply(grad, sign(op.inputs[0]))]


def abs(x: Any, name: str | None = None) -> Tensor:  # noqa: A001 - TF's public name
    """|x| elementwise (op type Abs); for complex x the real magnitude (op type ComplexAbs, as TF)."""
    # a Python/NumPy operand is converted inside the op's name scope (`Abs/x`), so look at it without converting
    if x.dtype.is_complex if isinstance(x, Tensor) else np.iscomplexobj(x):
        from labflow.ops.complex_ops import complex_abs
        return complex_abs(x, name)
    return _unary("Abs", x, name)


@op("Sign", inputs=("x",), types=_SIGNED_C, shape=same_as_input, xp_fn="sign")
def sign_kernel(xp, x):
    return xp.sign(x)


@sign_kernel.grad
def _sign_grad(op, grad):
    from labflow.ops import array_ops
    return [array_ops.zeros_like(op.inputs[0])]


def sign(x: Any, name: str | None = None) -> Tensor:
    """-1, 0 or 1 by the sign of x (op type Sign); its gradient is zero."""
    return _unary("Sign", x, name)


# -- powers -----------------------------------------------------------------------------------------
@op("Square", inputs=("x",), types=_SIGNED_C, shape=same_as_input, xp_fn="square")
def square_kernel(xp, x):
    return xp.square(x)


@square_kernel.grad
def _square_grad(op, grad):
    m = _m()
    x = op.inputs[0]
    two = convert_to_tensor(2, dtype=base(x))
    return [m.multiply(grad, m.multiply(x, two))]


def square(x: Any, name: str | None = None) -> Tensor:
    """x * x elementwise (op type Square)."""
    return _unary("Square", x, name)


@op("Sqrt", inputs=("x",), types=_FLOAT_C, shape=same_as_input, xp_fn="sqrt")
def sqrt_kernel(xp, x):
    return xp.sqrt(x)


@sqrt_kernel.grad
def _sqrt_grad(op, grad):
    m = _m()
    y = m._conj(op.outputs[0])
    return [m.multiply(grad, m.realdiv(convert_to_tensor(0.5, dtype=base(y)), y))]


def sqrt(x: Any, name: str | None = None) -> Tensor:
    """The square root of x elementwise (op type Sqrt)."""
    return _unary("Sqrt", x, name)


@op("Rsqrt", inputs=("x",), types=_FLOAT_C, shape=same_as_input)
def rsqrt_kernel(xp, x):
    r = xp.sqrt(x)
    return xp.reciprocal(r, out=r) if r.ndim else xp.reciprocal(r)


@rsqrt_kernel.grad
def _rsqrt_grad(op, grad):
    m = _m()
    y = m._conj(op.outputs[0])
    y3 = m.multiply(m.multiply(y, y), y)
    return [m.multiply(grad, m.multiply(y3, convert_to_tensor(-0.5, dtype=base(y))))]


def rsqrt(x: Any, name: str | None = None) -> Tensor:
    """1 / sqrt(x) elementwise (op type Rsqrt)."""
    return _unary("Rsqrt", x, name)


@op("Reciprocal", inputs=("x",), types=_FLOAT_C + (_dt.int32, _dt.int64), shape=same_as_input,
    xp_fn="reciprocal")
def reciprocal_kernel(xp, x):
    return xp.reciprocal(x)


@reciprocal_kernel.grad
def _reciprocal_grad(op, grad):
    m = _m()
    y = m._conj(op.outputs[0])
    return [m.multiply(negative(grad), m.multiply(y, y))]


def reciprocal(x: Any, name: str | None = None) -> Tensor:
    """1 / x elementwise (op type Reciprocal)."""
    return _unary("Reciprocal", x, name)


# -- exponentials and logarithms --------------------------------------------------------------------
@op("Exp", inputs=("x",), types=_FLOAT_C, shape=same_as_input, xp_fn="exp")
def exp_kernel(xp, x):
    return xp.exp(x)


@exp_kernel.grad
def _exp_grad(op, grad):
    m = _m()
    return [m.multiply(grad, m._conj(op.outputs[0]))]


def exp(x: Any, name: str | None = None) -> Tensor:
    """e ** x elementwise (op type Exp)."""
    return _unary("Exp", x, name)


@op("Expm1", inputs=("x",), types=_FLOAT_C, shape=same_as_input, xp_fn="expm1")
def expm1_kernel(xp, x):
    return xp.expm1(x)


@expm1_kernel.grad
def _expm1_grad(op, grad):
    m = _m()
    return [m.multiply(grad, exp(m._conj(op.inputs[0])))]


def expm1(x: Any, name: str | None = None) -> Tensor:
    """exp(x) - 1 elementwise, accurate near 0 (op type Expm1)."""
    return _unary("Expm1", x, name)


@op("Log", inputs=("x",), types=_FLOAT_C, shape=same_as_input, xp_fn="log")
def log_kernel(xp, x):
    return xp.log(x)


@log_kernel.grad
def _log_grad(op, grad):
    m = _m()
    return [m.multiply(grad, reciprocal(m._conj(op.inputs[0])))]


def log(x: Any, name: str | None = None) -> Tensor:
    """The natural logarithm of x elementwise (op type Log)."""
    return _unary("Log", x, name)


@op("Log1p", inputs=("x",), types=_FLOAT_C, shape=same_as_input, xp_fn="log1p")
def log1p_kernel(xp, x):
    return xp.log1p(x)


@log1p_kernel.grad
def _log1p_grad(op, grad):
    m = _m()
    x = m._conj(op.inputs[0])
    return [m.multiply(grad, reciprocal(m.add(convert_to_tensor(1, dtype=base(x)), x)))]


def log1p(x: Any, name: str | None = None) -> Tensor:
    """log(1 + x) elementwise, accurate near 0 (op type Log1p)."""
    return _unary("Log1p", x, name)


# -- sigmoid and tanh, with TF's fused gradient ops -------------------------------------------------
def _same_pair_shape(ins, attrs):
    a, b = TensorShape(dims(ins[0])), TensorShape(dims(ins[1]))
    try:
        return base(ins[0]), a.merge_with(b).as_tuple()
    except ValueError:
        raise ValueError(f"Shapes must be equal: {a} vs {b}") from None


@op("Sigmoid", inputs=("x",), types=_FLOAT_C, shape=same_as_input)
def sigmoid_kernel(xp, x):
    # 1 / (1 + exp(-x)): exp overflows to inf for very negative x, giving exactly 0.
    e = xp.exp(-x)
    e += 1
    return xp.reciprocal(e, out=e) if e.ndim else xp.reciprocal(e)


@sigmoid_kernel.grad
def _sigmoid_grad(op, grad):
    return [make_tensor("SigmoidGrad", [_m()._conj(op.outputs[0]), grad])]


def sigmoid(x: Any, name: str | None = None) -> Tensor:
    """1 / (1 + exp(-x)) elementwise (op type Sigmoid)."""
    return _unary("Sigmoid", x, name)


@op("SigmoidGrad", inputs=("y", "dy"), types=_FLOAT_C, shape=_same_pair_shape)
def sigmoid_grad_kernel(xp, y, dy):
    t = 1 - y
    t *= y
    t *= dy
    return t


@sigmoid_grad_kernel.grad
def _sigmoid_grad_grad(op, grad):
    m = _m()
    a, b = m._conj(op.inputs[0]), m._conj(op.inputs[1])
    gb = m.multiply(grad, b)
    two = convert_to_tensor(2, dtype=base(a))
    return [m.subtract(gb, m.multiply(m.multiply(two, gb), a)), make_tensor("SigmoidGrad", [a, grad])]


@op("Tanh", inputs=("x",), types=_FLOAT_C, shape=same_as_input, xp_fn="tanh")
def tanh_kernel(xp, x):
    return xp.tanh(x)


@tanh_kernel.grad
def _tanh_grad(op, grad):
    return [make_tensor("TanhGrad", [_m()._conj(op.outputs[0]), grad])]


def tanh(x: Any, name: str | None = None) -> Tensor:
    """The hyperbolic tangent of x elementwise (op type Tanh)."""
    return _unary("Tanh", x, name)


@op("TanhGrad", inputs=("y", "dy"), types=_FLOAT_C, shape=_same_pair_shape)
def tanh_grad_kernel(xp, y, dy):
    t = y * y
    t = xp.subtract(1, t, out=t) if t.ndim else 1 - t
    t *= dy
    return t


@tanh_grad_kernel.grad
def _tanh_grad_grad(op, grad):
    m = _m()
    a, b = m._conj(op.inputs[0]), m._conj(op.inputs[1])
    minus_two = convert_to_tensor(-2, dtype=base(a))
    return [m.multiply(m.multiply(m.multiply(grad, minus_two), b), a), make_tensor("TanhGrad", [a, grad])]


# -- rounding: piecewise constant, so no gradient (TF returns None) ---------------------------------
@op("Floor", inputs=("x",), types=FLOAT_TYPES, shape=same_as_input, xp_fn="floor", not_differentiable=True)
def floor_kernel(xp, x):
    return xp.floor(x)


@op("Ceil", inputs=("x",), types=FLOAT_TYPES, shape=same_as_input, xp_fn="ceil", not_differentiable=True)
def ceil_kernel(xp, x):
    return xp.ceil(x)


@op("Rint", inputs=("x",), types=FLOAT_TYPES, shape=same_as_input, xp_fn="rint", not_differentiable=True)
def rint_kernel(xp, x):
    return xp.rint(x)


@op("Round", inputs=("x",), types=FLOAT_TYPES + (_dt.int32, _dt.int64), shape=same_as_input,
    not_differentiable=True)
def round_kernel(xp, x):
    return x if x.dtype.kind in "iu" else xp.rint(x)  # rint rounds half to even, like TF's Round


def floor(x: Any, name: str | None = None) -> Tensor:
    """The largest integer not greater than x, elementwise (op type Floor)."""
    return _unary("Floor", x, name)


def ceil(x: Any, name: str | None = None) -> Tensor:
    """The smallest integer not less than x, elementwise (op type Ceil)."""
    return _unary("Ceil", x, name)


def rint(x: Any, name: str | None = None) -> Tensor:
    """The closest integer to x, halves to even (op type Rint)."""
    return _unary("Rint", x, name)


def round(x: Any, name: str | None = None) -> Tensor:  # noqa: A001 - TF's public name
    """Rounds half to even ("banker's rounding"), elementwise (op type Round); integers pass through."""
    x = convert_to_tensor(x)
    if x.dtype.is_integer:
        return x
    return _unary("Round", x, name)


# -- complex conjugate, trigonometry ----------------------------------------------------------------
@op("Conj", inputs=("input",), types=COMPLEX_TYPES, shape=same_as_input, xp_fn="conj")
def conj_kernel(xp, input):
    return xp.conj(input)


@conj_kernel.grad
def _conj_grad(op, grad):
    return [conj(grad)]


def conj(x: Any, name: str | None = None) -> Tensor:
    """The complex conjugate of x; real tensors are returned unchanged (op type Conj)."""
    x = convert_to_tensor(x)
    if x.dtype.is_complex:
        return apply("Conj", [("input", x, T)], name=name)
    if x.dtype.is_floating or x.dtype.is_integer:
        return x
    raise TypeError(f"Expected numeric tensor, got dtype {x.dtype.name} (op 'Conj')")


@op("Sin", inputs=("x",), types=_FLOAT_C, shape=same_as_input, xp_fn="sin")
def sin_kernel(xp, x):
    return xp.sin(x)


@sin_kernel.grad
def _sin_grad(op, grad):
    m = _m()
    return [m.multiply(grad, cos(m._conj(op.inputs[0])))]


def sin(x: Any, name: str | None = None) -> Tensor:
    """sin(x) elementwise (op type Sin)."""
    return _unary("Sin", x, name)


@op("Cos", inputs=("x",), types=_FLOAT_C, shape=same_as_input, xp_fn="cos")
def cos_kernel(xp, x):
    return xp.cos(x)


@cos_kernel.grad
def _cos_grad(op, grad):
    m = _m()
    return [negative(m.multiply(grad, sin(m._conj(op.inputs[0]))))]


def cos(x: Any, name: str | None = None) -> Tensor:
    """cos(x) elementwise (op type Cos)."""
    return _unary("Cos", x, name)
