"""Elementwise tf.math functions of two or three tensors: atan2, the incomplete gamma and beta functions,
zeta and polygamma, the zero-safe products (xlogy, xdivy, multiply_no_nan), truncating division and
nextafter. All broadcast like TF's binary ops (betainc: equal shapes or scalars, as TF), each with TF's
gradient. Part of the special_math_ops family (which re-exports these names).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.backend import cuda
from labflow.framework.gradients import unbroadcast
from labflow.framework.registry import op
from labflow.framework.shapes import TensorShape
from labflow.framework.tensor import Tensor
from labflow.ops import math_ops as m
from labflow.ops.common import (
    COMPLEX_TYPES,
    FLOAT_TYPES,
    REAL_TYPES,
    base,
    broadcast_shape,
    dims,
    truncate_divide,
)
from labflow.ops.math_helpers import T, apply
from labflow.ops.special_math_ops import const, lgamma, special

# TF 1.x top-level names (tf.<name>); MATH_ONLY are only under tf.math
__all__ = ["atan2", "igamma", "igammac", "betainc", "zeta", "polygamma", "truncatediv", "truncatemod", "floor_div"]
MATH_ONLY = ["xlogy", "xlog1py", "xdivy", "multiply_no_nan", "nextafter"]

_F32_64 = (_dt.float32, _dt.float64)
_FLOAT_C = FLOAT_TYPES + COMPLEX_TYPES


def _xy(op_type: str, x: Any, y: Any, name: str | None, nx: str = "x", ny: str = "y") -> Tensor:
    return apply(op_type, [(nx, x, T), (ny, y, T)], name=name)


def _pair_grads(op, gx: Tensor | None, gy: Tensor | None) -> list:
    """The two partial gradients summed back to the shapes of the op's two inputs."""
    a, b = op.inputs
    return [unbroadcast(gx, a, b) if gx is not None else None, unbroadcast(gy, b, a) if gy is not None else None]


# -- atan2 ------------------------------------------------------------------------------------------
@op("Atan2", inputs=("y", "x"), types=FLOAT_TYPES, shape=broadcast_shape, xp_fn="arctan2")
def atan2_kernel(xp, y, x):
    return xp.arctan2(y, x)


@atan2_kernel.grad
def _atan2_grad(op, grad):
    y, x = op.inputs
    inv = m.reciprocal(m.add(m.square(x), m.square(y)))
    return _pair_grads(op, m.multiply(grad, m.multiply(x, inv)), m.multiply(grad, m.multiply(m.negative(y), inv)))


def atan2(y: Any, x: Any, name: str | None = None) -> Tensor:
    """The angle of the point (x, y) in (-pi, pi], elementwise with broadcasting (op type Atan2)."""
    return _xy("Atan2", y, x, name, "y", "x")


# -- incomplete gamma -------------------------------------------------------------------------------
@op("Igamma", inputs=("a", "x"), types=_F32_64, shape=broadcast_shape)
def igamma_kernel(xp, a, x):
    return special(xp, "gammainc", a, x)


@op("Igammac", inputs=("a", "x"), types=_F32_64, shape=broadcast_shape)
def igammac_kernel(xp, a, x):
    return special(xp, "gammaincc", a, x)


@op("IgammaGradA", inputs=("a", "x"), types=_F32_64, shape=broadcast_shape, not_differentiable=True)
def igamma_grad_a_kernel(xp, a, x):
    # dP(a, x)/da from the series P = sum_n t_n, t_n = x^(a+n) e^-x / Gamma(a+n+1): each term's derivative is
    # t_n (log x - digamma(a+n+1)). The terms peak near n = x - a with a width of ~sqrt(x), so each element
    # sums only n in [x - a - 12 sqrt(x), x - a + 12 sqrt(x)] (what lies outside is below e^-70 of the
    # peak), in log space so nothing overflows: ~24 sqrt(max x) steps of whole-array arithmetic.
    sp = cuda.special_module(xp)
    a64, x64 = xp.broadcast_arrays(a.astype(np.float64), x.astype(np.float64))
    ok = (x64 > 0) & (a64 > 0)
    xs, av = xp.where(ok, x64, 1.0), xp.where(ok, a64, 1.0)
    lx = xp.log(xs)
    an = av + xp.maximum(xp.floor(xs - av - 12 * xp.sqrt(xs) - 5), 0.0)  # a + n at each element's first term
    log_t = an * lx - xs - sp.gammaln(an + 1)
    psi = sp.digamma(an + 1)
    total = xp.exp(log_t) * (lx - psi)
    big = float(xs.max()) if xs.size else 0.0
    for _ in range(int(24 * math.sqrt(big) + 80)):
        an = an + 1
        psi = psi + 1 / an
        log_t = log_t + lx - xp.log(an)
        total = total + xp.exp(log_t) * (lx - psi)
    out = xp.where(ok, total, xp.where(x64 == 0, 0.0, np.nan))
    return out.astype(a.dtype)


def _igamma_grads(op, grad) -> list:
    a, x = op.inputs
    partial_a = apply("IgammaGradA", [("a", a, T), ("x", x, T)])
    one = const(1, x)
    partial_x = m.exp(m.subtract(m.add(m.negative(x), m.multiply(m.subtract(a, one), m.log(x))), lgamma(a)))
    return _pair_grads(op, m.multiply(partial_a, grad), m.multiply(partial_x, grad))


@igamma_kernel.grad
def _igamma_grad(op, grad):
    return _igamma_grads(op, grad)


@igammac_kernel.grad
def _igammac_grad(op, grad):
    return [None if g is None else m.negative(g) for g in _igamma_grads(op, grad)]


def igamma(a: Any, x: Any, name: str | None = None) -> Tensor:
    """The regularized lower incomplete gamma function P(a, x), with broadcasting (op type Igamma).

    Differentiable in both arguments (d/da through the op IgammaGradA, as TF).
    """
    return _xy("Igamma", a, x, name, "a", "x")


def igammac(a: Any, x: Any, name: str | None = None) -> Tensor:
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x) (op type Igammac)."""
    return _xy("Igammac", a, x, name, "a", "x")


# -- incomplete beta --------------------------------------------------------------------------------
def _betainc_shape(ins, attrs):
    shape = TensorShape(None)
    for t in ins:
        d = dims(t)
        if d == ():
            continue
        try:
            shape = shape.merge_with(TensorShape(d))
        except ValueError:
            raise ValueError(f"Shapes of a, b and x are inconsistent: {TensorShape(dims(ins[0]))} vs. "
                             f"{TensorShape(dims(ins[1]))} vs. {TensorShape(dims(ins[2]))} (each must be a "
                             "scalar or have the common shape)") from None
    if all(dims(t) == () for t in ins):
        return base(ins[0]), ()
    if any(dims(t) is None for t in ins):
        return base(ins[0]), shape.as_tuple() if shape.ndims is not None else None
    return base(ins[0]), shape.as_tuple()


@op("Betainc", inputs=("a", "b", "x"), types=_F32_64, shape=_betainc_shape)
def betainc_kernel(xp, a, b, x):
    shapes = {t.shape for t in (a, b, x) if t.ndim}
    if len(shapes) > 1:
        raise errors.InvalidArgumentError(None, None, "Shapes of a, b, and x are inconsistent: "
                                          f"{list(a.shape)} vs. {list(b.shape)} vs. {list(x.shape)}")
    return special(xp, "betainc", a, b, x)


@betainc_kernel.grad
def _betainc_grad(op, grad):
    a, b, x = op.inputs
    one = const(1, x)
    log_beta = m.subtract(m.add(lgamma(a), lgamma(b)), lgamma(m.add(a, b)))
    log_slope = m.subtract(m.add(m.multiply(m.subtract(b, one), m.log1p(m.negative(x))),
                                 m.multiply(m.subtract(a, one), m.log(x))), log_beta)
    return [None, None, unbroadcast(m.multiply(m.exp(log_slope), grad), x, a)]


def betainc(a: Any, b: Any, x: Any, name: str | None = None) -> Tensor:
    """The regularized incomplete beta function I_x(a, b) (op type Betainc).

    `a`, `b` and `x` have one shape, or are scalars. Differentiable in `x` only, as TF.
    """
    return apply("Betainc", [("a", a, T), ("b", b, T), ("x", x, T)], name=name)


# -- zeta / polygamma -------------------------------------------------------------------------------
@op("Zeta", inputs=("x", "q"), types=_F32_64, shape=broadcast_shape)
def zeta_kernel(xp, x, q):
    return special(xp, "zeta", x, q)


@zeta_kernel.grad
def _zeta_grad(op, grad):
    x, q = op.inputs
    return _pair_grads(op, None, m.multiply(m.multiply(m.negative(x), zeta(m.add(x, const(1, x)), q)), grad))


def zeta(x: Any, q: Any, name: str | None = None) -> Tensor:
    """The Hurwitz zeta function sum_n (q + n)^-x (op type Zeta); differentiable in `q` only, as TF."""
    return _xy("Zeta", x, q, name, "x", "q")


@op("Polygamma", inputs=("a", "x"), types=_F32_64, shape=broadcast_shape)
def polygamma_kernel(xp, a, x):
    # psi^(n)(x) = (-1)^(n+1) n! zeta(n+1, x); n = 0 is digamma. Non-integer orders give NaN, like TF.
    sp = cuda.special_module(xp)
    a, x = xp.broadcast_arrays(a, x)
    n = xp.where(a == xp.floor(a), a, np.nan).astype(np.float64)
    sign = xp.where(xp.remainder(n, 2) == 0, -1.0, 1.0)
    nonzero = sign * xp.exp(sp.gammaln(n + 1)) * sp.zeta(n + 1, x.astype(np.float64))
    out = xp.where(n == 0, sp.digamma(x.astype(np.float64)), nonzero)
    return xp.where(n < 0, np.nan, out).astype(x.dtype)


@polygamma_kernel.grad
def _polygamma_grad(op, grad):
    a, x = op.inputs
    return _pair_grads(op, None, m.multiply(polygamma(m.add(a, const(1, a)), x), grad))


def polygamma(a: Any, x: Any, name: str | None = None) -> Tensor:
    """The polygamma function psi^(a)(x), the a-th derivative of digamma (op type Polygamma).

    `a` holds non-negative integers (as floats); others give NaN. Differentiable in `x` only, as TF.
    """
    return _xy("Polygamma", a, x, name, "a", "x")


# -- zero-safe products and quotients -----------------------------------------------------------------
@op("Xlogy", inputs=("x", "y"), types=_FLOAT_C, shape=broadcast_shape)
def xlogy_kernel(xp, x, y):
    zero = x == 0
    return xp.where(zero, xp.zeros((), dtype=x.dtype), x * xp.log(xp.where(zero, 1, y)))


def _not_zero(x: Tensor) -> Tensor:
    return m.cast(m.not_equal(x, const(0, x)), base(x))


@xlogy_kernel.grad
def _xlogy_grad(op, grad):
    x, y = m._conj(op.inputs[0]), m._conj(op.inputs[1])
    return _pair_grads(op, m.multiply(xlogy(_not_zero(x), y), grad), m.multiply(xdivy(x, y), grad))


def xlogy(x: Any, y: Any, name: str | None = None) -> Tensor:
    """x * log(y), and 0 where x is 0 (even where y is 0 or NaN) (op type Xlogy)."""
    return _xy("Xlogy", x, y, name)


@op("Xlog1py", inputs=("x", "y"), types=_FLOAT_C, shape=broadcast_shape)
def xlog1py_kernel(xp, x, y):
    zero = x == 0
    return xp.where(zero, xp.zeros((), dtype=x.dtype), x * xp.log1p(xp.where(zero, 0, y)))


@xlog1py_kernel.grad
def _xlog1py_grad(op, grad):
    x, y = m._conj(op.inputs[0]), m._conj(op.inputs[1])
    return _pair_grads(op, m.multiply(xlog1py(_not_zero(x), y), grad),
                       m.multiply(xdivy(x, m.add(y, const(1, y))), grad))


def xlog1py(x: Any, y: Any, name: str | None = None) -> Tensor:
    """x * log1p(y), and 0 where x is 0 (op type Xlog1py)."""
    return _xy("Xlog1py", x, y, name)


@op("Xdivy", inputs=("x", "y"), types=_FLOAT_C, shape=broadcast_shape)
def xdivy_kernel(xp, x, y):
    zero = x == 0
    return xp.where(zero, xp.zeros((), dtype=x.dtype), x / xp.where(zero, 1, y))


@xdivy_kernel.grad
def _xdivy_grad(op, grad):
    x, y = m._conj(op.inputs[0]), m._conj(op.inputs[1])
    return _pair_grads(op, m.multiply(xdivy(_not_zero(x), y), grad),
                       m.multiply(xdivy(m.negative(x), m.square(y)), grad))


def xdivy(x: Any, y: Any, name: str | None = None) -> Tensor:
    """x / y, and 0 where x is 0 (even where y is 0) (op type Xdivy)."""
    return _xy("Xdivy", x, y, name)


@op("MulNoNan", inputs=("x", "y"), types=_FLOAT_C, shape=broadcast_shape)
def mul_no_nan_kernel(xp, x, y):
    zero = y == 0
    return xp.where(zero, xp.zeros((), dtype=x.dtype), x * xp.where(zero, 1, y))


@mul_no_nan_kernel.grad
def _mul_no_nan_grad(op, grad):
    x, y = op.inputs
    return _pair_grads(op, multiply_no_nan(grad, y), multiply_no_nan(x, grad))


def multiply_no_nan(x: Any, y: Any, name: str | None = None) -> Tensor:
    """x * y, and 0 where y is 0 even if x is NaN or infinite (op type MulNoNan)."""
    return _xy("MulNoNan", x, y, name)


# -- truncating division ----------------------------------------------------------------------------
def _check_int_divisor(xp, y) -> None:
    if y.dtype.kind in "iu" and bool((y == 0).any()):
        raise errors.InvalidArgumentError(None, None, "Integer division by zero: the divisor y has a zero "
                                          "entry (mask it, or divide as floats)")


@op("TruncateDiv", inputs=("x", "y"), types=REAL_TYPES, shape=broadcast_shape, not_differentiable=True)
def truncate_div_kernel(xp, x, y):
    _check_int_divisor(xp, y)
    if x.dtype.kind in "iu":
        return truncate_divide(xp, x, y).astype(x.dtype)
    return xp.trunc(x / y)


@op("TruncateMod", inputs=("x", "y"), types=FLOAT_TYPES + (_dt.int32, _dt.int64), shape=broadcast_shape,
    not_differentiable=True)
def truncate_mod_kernel(xp, x, y):
    _check_int_divisor(xp, y)
    return xp.fmod(x, y)


def truncatediv(x: Any, y: Any, name: str | None = None) -> Tensor:
    """x / y rounded toward zero, like C (op type TruncateDiv). Not differentiable.

    Raises:
        InvalidArgumentError: at run time, an integer `y` has a zero.
    """
    return _xy("TruncateDiv", x, y, name)


def truncatemod(x: Any, y: Any, name: str | None = None) -> Tensor:
    """The remainder of truncating division, with the sign of x, like C's fmod (op type TruncateMod)."""
    return _xy("TruncateMod", x, y, name)


def floor_div(x: Any, y: Any, name: str | None = None) -> Tensor:
    """floor(x / y) elementwise (op type FloorDiv): TF 1.x's generated name for `tf.floordiv`."""
    return _xy("FloorDiv", x, y, name)


# -- nextafter --------------------------------------------------------------------------------------
@op("NextAfter", inputs=("x1", "x2"), types=_F32_64, shape=broadcast_shape, xp_fn="nextafter")
def next_after_kernel(xp, x1, x2):
    return xp.nextafter(x1, x2)


@next_after_kernel.grad
def _next_after_grad(op, grad):
    from labflow.ops.array_ops import zeros_like
    return _pair_grads(op, grad, m.multiply(zeros_like(op.inputs[1]), grad))


def nextafter(x1: Any, x2: Any, name: str | None = None) -> Tensor:
    """The next representable value after x1 in the direction of x2, elementwise (op type NextAfter)."""
    return _xy("NextAfter", x1, x2, name, "x1", "x2")

