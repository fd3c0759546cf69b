"""Elementwise tf.math functions of one tensor beyond unary_ops: inverse trigonometric and hyperbolic
functions, erf/erfc/erfinv, lgamma/digamma, the scaled Bessel functions, each with TF's gradient.

Special functions run through scipy.special on the CPU and cupyx.scipy.special on a GPU
(backend.cuda.special_module). Functions of two or three tensors live in special_binary_ops and the
composites (log_sigmoid, reduce_std, polyval, ...) in math_extra_ops; both are re-exported here, so
this module's `__all__` is the whole family.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.backend import cuda
from labflow.framework.registry import op
from labflow.framework.tensor import Tensor
from labflow.ops import math_ops as m
from labflow.ops.common import COMPLEX_TYPES, FLOAT_TYPES, base, convert_to_tensor, downcast, same_as_input
from labflow.ops.unary_ops import _unary

# TF 1.x top-level names (tf.<name>); MATH_ONLY are only under tf.math (labflow/math lists the namespace)
__all__ = ["acos", "asin", "atan", "sinh", "cosh", "tan", "asinh", "acosh", "atanh", "erf", "erfc", "lgamma",
           "digamma"]
MATH_ONLY = ["erfinv", "bessel_i0e", "bessel_i1e"]

_FLOAT_C = FLOAT_TYPES + COMPLEX_TYPES
_HALF = (np.dtype(np.float16), np.dtype(_dt.bfloat16.as_numpy_dtype))


def special(xp: Any, fn: str, *args: Any) -> Any:
    """scipy.special's `fn` on `args` in their dtype; 16-bit floats are computed in float32 (the
    special-function libraries have no half-precision loops)."""
    sp = cuda.special_module(xp)
    dt = args[-1].dtype
    if dt in _HALF:
        return getattr(sp, fn)(*[a.astype(np.float32) for a in args]).astype(dt)
    return downcast(getattr(sp, fn)(*args), dt)


def const(value: float, like: Tensor) -> Tensor:
    return convert_to_tensor(value, dtype=base(like))


def _x(op) -> Tensor:
    return m._conj(op.inputs[0])


# -- inverse trigonometric --------------------------------------------------------------------------
@op("Acos", inputs=("x",), types=_FLOAT_C, shape=same_as_input, xp_fn="arccos")
def acos_kernel(xp, x):
    return xp.arccos(x)


@acos_kernel.grad
def _acos_grad(op, grad):
    x = _x(op)
    return [m.negative(m.multiply(grad, m.rsqrt(m.subtract(const(1, x), m.square(x)))))]


def acos(x: Any, name: str | None = None) -> Tensor:
    """The inverse cosine of x elementwise, in [0, pi] (op type Acos)."""
    return _unary("Acos", x, name)


@op("Asin", inputs=("x",), types=_FLOAT_C, shape=same_as_input, xp_fn="arcsin")
def asin_kernel(xp, x):
    return xp.arcsin(x)


@asin_kernel.grad
def _asin_grad(op, grad):
    x = _x(op)
    return [m.multiply(grad, m.rsqrt(m.subtract(const(1, x), m.square(x))))]


def asin(x: Any, name: str | None = None) -> Tensor:
    """The inverse sine of x elementwise, in [-pi/2, pi/2] (op type Asin)."""
    return _unary("Asin", x, name)


@op("Atan", inputs=("x",), types=_FLOAT_C, shape=same_as_input, xp_fn="arctan")
def atan_kernel(xp, x):
    return xp.arctan(x)


@atan_kernel.grad
def _atan_grad(op, grad):
    x = _x(op)
    return [m.multiply(grad, m.reciprocal(m.add(const(1, x), m.square(x))))]


def atan(x: Any, name: str | None = None) -> Tensor:
    """The inverse tangent of x elementwise (op type Atan)."""
    return _unary("Atan", x, name)


@op("Tan", inputs=("x",), types=_FLOAT_C, shape=same_as_input, xp_fn="tan")
def tan_kernel(xp, x):
    return xp.tan(x)


@tan_kernel.grad
def _tan_grad(op, grad):
    return [m.multiply(grad, m.square(m.reciprocal(m.cos(_x(op)))))]


def tan(x: Any, name: str | None = None) -> Tensor:
    """tan(x) elementwise (op type Tan)."""
    return _unary("Tan", x, name)


# -- hyperbolic -------------------------------------------------------------------------------------
@op("Sinh", inputs=("x",), types=_FLOAT_C, shape=same_as_input, xp_fn="sinh")
def sinh_kernel(xp, x):
    return xp.sinh(x)


@sinh_kernel.grad
def _sinh_grad(op, grad):
    return [m.multiply(grad, cosh(_x(op)))]


def sinh(x: Any, name: str | None = None) -> Tensor:
    """The hyperbolic sine of x elementwise (op type Sinh)."""
    return _unary("Sinh", x, name)


@op("Cosh", inputs=("x",), types=_FLOAT_C, shape=same_as_input, xp_fn="cosh")
def cosh_kernel(xp, x):
    return xp.cosh(x)


@cosh_kernel.grad
def _cosh_grad(op, grad):
    return [m.multiply(grad, sinh(_x(op)))]


def cosh(x: Any, name: str | None = None) -> Tensor:
    """The hyperbolic cosine of x elementwise (op type Cosh)."""
    return _unary("Cosh", x, name)


@op("Asinh", inputs=("x",), types=_FLOAT_C, shape=same_as_input, xp_fn="arcsinh")
def asinh_kernel(xp, x):
    return xp.arcsinh(x)


@asinh_kernel.grad
def _asinh_grad(op, grad):
    return [m.realdiv(grad, cosh(m._conj(op.outputs[0])))]


def asinh(x: Any, name: str | None = None) -> Tensor:
    """The inverse hyperbolic sine of x elementwise (op type Asinh)."""
    return _unary("Asinh", x, name)


@op("Acosh", inputs=("x",), types=_FLOAT_C, shape=same_as_input, xp_fn="arccosh")
def acosh_kernel(xp, x):
    return xp.arccosh(x)


@acosh_kernel.grad
def _acosh_grad(op, grad):
    return [m.realdiv(grad, sinh(m._conj(op.outputs[0])))]


def acosh(x: Any, name: str | None = None) -> Tensor:
    """The inverse hyperbolic cosine of x elementwise; NaN below 1 (op type Acosh)."""
    return _unary("Acosh", x, name)


@op("Atanh", inputs=("x",), types=_FLOAT_C, shape=same_as_input, xp_fn="arctanh")
def atanh_kernel(xp, x):
    return xp.arctanh(x)


@atanh_kernel.grad
def _atanh_grad(op, grad):
    x = _x(op)
    return [m.multiply(grad, m.reciprocal(m.subtract(const(1, x), m.square(x))))]


def atanh(x: Any, name: str | None = None) -> Tensor:
    """The inverse hyperbolic tangent of x elementwise; NaN outside [-1, 1] (op type Atanh)."""
    return _unary("Atanh", x, name)


# -- error function ---------------------------------------------------------------------------------
@op("Erf", inputs=("x",), types=FLOAT_TYPES, shape=same_as_input)
def erf_kernel(xp, x):
    return special(xp, "erf", x)


def _erf_slope(x: Tensor) -> Tensor:
    return m.multiply(const(2 / math.sqrt(math.pi), x), m.exp(m.negative(m.square(x))))


@erf_kernel.grad
def _erf_grad(op, grad):
    return [m.multiply(grad, _erf_slope(op.inputs[0]))]


def erf(x: Any, name: str | None = None) -> Tensor:
    """The Gauss error function of x elementwise (op type Erf)."""
    return _unary("Erf", x, name)


@op("Erfc", inputs=("x",), types=FLOAT_TYPES, shape=same_as_input)
def erfc_kernel(xp, x):
    return special(xp, "erfc", x)


@erfc_kernel.grad
def _erfc_grad(op, grad):
    return [m.negative(m.multiply(grad, _erf_slope(op.inputs[0])))]


def erfc(x: Any, name: str | None = None) -> Tensor:
    """The complementary error function 1 - erf(x), accurate for large x (op type Erfc)."""
    return _unary("Erfc", x, name)


@op("Erfinv", inputs=("x",), types=FLOAT_TYPES, shape=same_as_input)
def erfinv_kernel(xp, x):
    return special(xp, "erfinv", x)


@erfinv_kernel.grad
def _erfinv_grad(op, grad):
    y = op.outputs[0]
    return [m.multiply(grad, m.multiply(const(math.sqrt(math.pi) / 2, y), m.exp(m.square(y))))]


def erfinv(x: Any, name: str | None = None) -> Tensor:
    """The inverse of erf on (-1, 1); +-inf at +-1 and NaN outside (op type Erfinv)."""
    return _unary("Erfinv", x, name)


# -- gamma family -----------------------------------------------------------------------------------
@op("Lgamma", inputs=("x",), types=FLOAT_TYPES, shape=same_as_input)
def lgamma_kernel(xp, x):
    return special(xp, "gammaln", x)


@lgamma_kernel.grad
def _lgamma_grad(op, grad):
    return [m.multiply(grad, digamma(_x(op)))]


def lgamma(x: Any, name: str | None = None) -> Tensor:
    """log|Gamma(x)| elementwise (op type Lgamma)."""
    return _unary("Lgamma", x, name)


@op("Digamma", inputs=("x",), types=FLOAT_TYPES, shape=same_as_input)
def digamma_kernel(xp, x):
    return special(xp, "digamma", x)


@digamma_kernel.grad
def _digamma_grad(op, grad):
    from labflow.ops.special_binary_ops import polygamma
    x = _x(op)
    return [m.multiply(grad, polygamma(const(1, x), x))]


def digamma(x: Any, name: str | None = None) -> Tensor:
    """The derivative of lgamma, Psi(x), elementwise (op type Digamma)."""
    return _unary("Digamma", x, name)


# -- exponentially scaled modified Bessel functions -------------------------------------------------
@op("BesselI0e", inputs=("x",), types=FLOAT_TYPES, shape=same_as_input)
def bessel_i0e_kernel(xp, x):
    return special(xp, "i0e", x)


@bessel_i0e_kernel.grad
def _bessel_i0e_grad(op, grad):
    x = op.inputs[0]
    return [m.multiply(grad, m.subtract(bessel_i1e(x), m.multiply(m.sign(x), op.outputs[0])))]


def bessel_i0e(x: Any, name: str | None = None) -> Tensor:
    """exp(-|x|) * I0(x), the exponentially scaled modified Bessel function of order 0 (op type BesselI0e)."""
    return _unary("BesselI0e", x, name)


@op("BesselI1e", inputs=("x",), types=FLOAT_TYPES, shape=same_as_input)
def bessel_i1e_kernel(xp, x):
    return special(xp, "i1e", x)


@bessel_i1e_kernel.grad
def _bessel_i1e_grad(op, grad):
    from labflow.ops.array_ops import where
    x, y = op.inputs[0], op.outputs[0]
    zero = m.equal(x, const(0, x))
    safe_x = where(zero, m.add(x, const(1, x)), x)  # the x == 0 branch is masked; keep it finite
    slope = m.subtract(bessel_i0e(x), m.multiply(y, m.add(m.sign(x), m.reciprocal(safe_x))))
    return [m.multiply(grad, where(zero, m.add(m.multiply(x, const(0, x)), const(0.5, x)), slope))]


def bessel_i1e(x: Any, name: str | None = None) -> Tensor:
    """exp(-|x|) * I1(x), the exponentially scaled modified Bessel function of order 1 (op type BesselI1e)."""
    return _unary("BesselI1e", x, name)


from labflow.ops import math_extra_ops, special_binary_ops  # noqa: E402 - the rest of the family

__all__ += special_binary_ops.__all__ + math_extra_ops.__all__
MATH_ONLY += special_binary_ops.MATH_ONLY + math_extra_ops.MATH_ONLY
from labflow.ops.math_extra_ops import *  # noqa: E402,F401,F403
from labflow.ops.math_extra_ops import (  # noqa: E402,F401 - the tf.math-only names
    bessel_i0,
    bessel_i1,
    cumulative_logsumexp,
    divide_no_nan,
    polyval,
    reciprocal_no_nan,
    reduce_euclidean_norm,
    reduce_std,
    reduce_variance,
)
from labflow.ops.special_binary_ops import *  # noqa: E402,F401,F403
from labflow.ops.special_binary_ops import multiply_no_nan, nextafter, xdivy, xlog1py, xlogy  # noqa: E402,F401
