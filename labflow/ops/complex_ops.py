"""Complex numbers: tf.complex, real, imag, angle, the magnitude of complex tensors (ComplexAbs), to_complex64/128.

Gradients follow TF's convention for complex values: the gradient of a real loss L with respect to z is
dL/dRe(z) + i dL/dIm(z), so Real's gradient is complex(g, 0) and Complex's is (real(g), imag(g)).
`tf.conj` is declared with the other elementwise functions (unary_ops).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.gradients import unbroadcast
from labflow.framework.registry import op
from labflow.framework.shapes import broadcast_dims
from labflow.framework.tensor import Tensor
from labflow.ops.common import COMPLEX_TYPES, base, convert_to_tensor, dims, make_tensor
from labflow.ops.compare_ops import cast
from labflow.ops.math_helpers import op_scope

__all__ = ["complex", "real", "imag", "angle", "to_complex64", "to_complex128"]

_REAL_OF = {_dt.complex64: _dt.float32, _dt.complex128: _dt.float64}
_COMPLEX_OF = {_dt.float32: _dt.complex64, _dt.float64: _dt.complex128}


def _complex_shape(ins: list, attrs: dict) -> tuple:
    return attrs["Tout"], broadcast_dims(dims(ins[0]), dims(ins[1]))


def _to_real_shape(ins: list, attrs: dict) -> tuple:
    return _REAL_OF[base(ins[0])], dims(ins[0])


def _zeros_like(t: Tensor) -> Tensor:
    return make_tensor("ZerosLike", [t])


@op("Complex", inputs=("real", "imag"), attrs={"Tout": _dt.complex64}, types=(_dt.float32, _dt.float64),
    shape=_complex_shape)
def complex_kernel(xp, real, imag, *, Tout):
    out = xp.empty(np.broadcast_shapes(real.shape, imag.shape), dtype=Tout.as_numpy_dtype)
    out.real[...] = real
    out.imag[...] = imag
    return out


@complex_kernel.grad
def _complex_grad(op, grad):
    re, im = op.inputs
    return [unbroadcast(real(grad), re, im), unbroadcast(imag(grad), im, re)]


@op("Real", inputs=("input",), attrs={"Tout": _dt.float32}, types=COMPLEX_TYPES, shape=_to_real_shape)
def real_kernel(xp, input):
    return xp.ascontiguousarray(xp.real(input))


@real_kernel.grad
def _real_grad(op, grad):
    return [complex(grad, _zeros_like(grad))]


@op("Imag", inputs=("input",), attrs={"Tout": _dt.float32}, types=COMPLEX_TYPES, shape=_to_real_shape)
def imag_kernel(xp, input):
    return xp.ascontiguousarray(xp.imag(input))


@imag_kernel.grad
def _imag_grad(op, grad):
    return [complex(_zeros_like(grad), grad)]


@op("Angle", inputs=("input",), attrs={"Tout": _dt.float32}, types=COMPLEX_TYPES, shape=_to_real_shape)
def angle_kernel(xp, input):
    out = xp.angle(input)
    return out.astype(input.real.dtype, copy=False)


@angle_kernel.grad
def _angle_grad(op, grad):
    # d angle(z) = -g / (Im z + i Re z), TF's formula (the gradient is infinite at z = 0, as in TF)
    x = op.inputs[0]
    z = make_tensor("Reciprocal", [complex(imag(x), real(x))])
    return [make_tensor("Neg", [make_tensor("Mul", [complex(grad, _zeros_like(grad)), z])])]


@op("ComplexAbs", inputs=("x",), attrs={"Tout": _dt.float32}, types=COMPLEX_TYPES, shape=_to_real_shape)
def complex_abs_kernel(xp, x):
    return xp.absolute(x).astype(x.real.dtype, copy=False)


@complex_abs_kernel.grad
def _complex_abs_grad(op, grad):
    # z * g / |z|, and 0 where |z| = 0 (TF's DivNoNan), with the division done on the real factor
    scale = make_tensor("DivNoNan", [grad, op.outputs[0]])
    return [make_tensor("Mul", [complex(scale, _zeros_like(scale)), op.inputs[0]])]


def complex(real: Any, imag: Any, name: str | None = None) -> Tensor:  # noqa: A001 - TF's public name
    """Builds `real + imag * 1j` elementwise, with broadcasting (op type Complex).

    Args:
        real: a float32 or float64 tensor.
        imag: a tensor of the same dtype as `real`.
        name: a name for the operation.

    Returns:
        A complex64 tensor for float32 inputs, complex128 for float64 inputs.

    Raises:
        TypeError: `real` and `imag` are not both float32 or both float64.
    """
    real = convert_to_tensor(real, name="real")
    imag = convert_to_tensor(imag, name="imag")
    with op_scope(name, "Complex", [real, imag]) as scope:
        rt, it = real.dtype.base_dtype, imag.dtype.base_dtype
        if rt != it or rt not in _COMPLEX_OF:
            raise TypeError(f"real and imag have incorrect types: {rt.name} {it.name} (tf.complex needs both "
                            "float32 or both float64: cast them with tf.cast)")
        return make_tensor("Complex", [real, imag], {"Tout": _COMPLEX_OF[rt]}, scope)


def _part(op_type: str, x: Any, name: str | None, real_fn: Any) -> Tensor:
    with op_scope(name, op_type, [x]) as scope:
        x = convert_to_tensor(x, name="input")
        if x.dtype.is_complex:
            return make_tensor(op_type, [x], {"Tout": x.dtype.real_dtype}, scope)
        if not (x.dtype.is_floating or x.dtype.is_integer):
            raise TypeError(f"tf.{op_type.lower()} expects a numeric tensor, got dtype {x.dtype.name}")
        return real_fn(x)


def real(input: Any, name: str | None = None) -> Tensor:  # noqa: A002 - TF's argument name
    """The real part of a complex tensor (op type Real); a real tensor is returned unchanged.

    Returns:
        float32 for complex64 input, float64 for complex128.
    """
    return _part("Real", input, name, lambda x: x)


def imag(input: Any, name: str | None = None) -> Tensor:  # noqa: A002 - TF's argument name
    """The imaginary part of a complex tensor (op type Imag); zeros for a real tensor, like TF."""
    return _part("Imag", input, name, _zeros_like)


def angle(input: Any, name: str | None = None) -> Tensor:  # noqa: A002 - TF's argument name
    """The argument atan2(imag, real) of a complex tensor, in (-pi, pi] (op type Angle).

    A real tensor gives pi where it is negative and 0 elsewhere, like TF.
    """
    def _real_angle(x: Tensor) -> Tensor:
        from labflow.ops import array_ops, math_ops
        neg = math_ops.less(x, array_ops.zeros_like(x))
        pi = math_ops.multiply(array_ops.ones_like(x), convert_to_tensor(3.141592653589793, dtype=x.dtype))
        return array_ops.where(neg, pi, array_ops.zeros_like(x))
    return _part("Angle", input, name, _real_angle)


def complex_abs(x: Any, name: str | None = None) -> Tensor:
    """|x| of a complex tensor as a real tensor (op type ComplexAbs, scope "Abs" like TF's tf.abs)."""
    with op_scope(name, "Abs", [x]) as scope:
        x = convert_to_tensor(x, name="x")
        if not x.dtype.is_complex:
            raise TypeError(f"ComplexAbs expects complex64 or complex128, got {x.dtype.name}: use tf.abs")
        return make_tensor("ComplexAbs", [x], {"Tout": x.dtype.real_dtype}, scope)


def to_complex64(x: Any, name: str = "ToComplex64") -> Any:
    """Casts `x` to complex64 (TF 1.x's deprecated shorthand for tf.cast)."""
    return cast(x, _dt.complex64, name=name)


def to_complex128(x: Any, name: str = "ToComplex128") -> Any:
    """Casts `x` to complex128 (TF 1.x's deprecated shorthand for tf.cast)."""
    return cast(x, _dt.complex128, name=name)
