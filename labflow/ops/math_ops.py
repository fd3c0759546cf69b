"""Math ops: elementwise binary arithmetic, add_n, broadcasting helpers, and the Tensor operators.

The family is split by what it holds: unary_ops (elementwise functions of one tensor), compare_ops
(comparisons, logical ops, casts), reduction_ops (reduce_*, argmax, cumsum), matmul_ops (matmul).
Their public names are re-exported from here, so `labflow.ops.math_ops` is TF's `math_ops`.
"""

from __future__ import annotations

from typing import Any

import ml_dtypes
import numpy as np

from labflow import dtypes as _dt
from labflow.framework.gradients import unbroadcast
from labflow.framework.registry import op
from labflow.framework.shapes import TensorShape
from labflow.framework.tensor import IndexedSlices, Tensor
from labflow.ops import array_ops
from labflow.ops.common import (
    COMPLEX_TYPES,
    FLOAT_TYPES,
    INDEX_TYPES,
    NUMERIC_TYPES,
    REAL_TYPES,
    base,
    broadcast_shape,
    constant_shape,
    convert_same_dtype,
    convert_to_tensor,
    dims,
    make_tensor,
    same_shape,
)
from labflow.ops.fused_elementwise_ops import MAX_KERNEL_ARGS, evaluate
from labflow.ops.math_helpers import T, apply, convert_operand, op_scope, tensor_dtype

__all__ = ["add", "add_n", "subtract", "sub", "multiply", "mul", "scalar_mul", "divide", "truediv", "realdiv",
           "div", "div_no_nan", "floordiv", "floormod", "mod", "pow", "maximum", "minimum",
           "squared_difference"]

_POW_TYPES = FLOAT_TYPES + (_dt.int32, _dt.int64) + COMPLEX_TYPES


def _conj(t: Tensor) -> Tensor:
    """conj(t) for complex tensors, t itself otherwise (gradients of complex ops use the conjugate)."""
    return make_tensor("Conj", [t]) if t.dtype.is_complex else t


def _xy(x: Any, y: Any) -> list:
    return [("x", x, T), ("y", y, T)]


# -- Add / Sub / Mul --------------------------------------------------------------------------------
@op("Add", inputs=("x", "y"), types=NUMERIC_TYPES + (_dt.string,), shape=broadcast_shape, xp_fn="add")
def add_kernel(xp, x, y):
    return xp.add(x, y)


@add_kernel.grad
def _add_grad(op, grad):
    x, y = op.inputs
    return [unbroadcast(grad, x, y), unbroadcast(grad, y, x)]


def add(x: Any, y: Any, name: str | None = None) -> Tensor:
    """Returns x + y elementwise, with NumPy broadcasting (op type Add).

    Args:
        x: a Tensor or value (numeric or string).
        y: a Tensor or value of the same dtype as `x`.
        name: the op name (default "Add").
    """
    return apply("Add", _xy(x, y), name=name)


# TF 2.x's graphs (tf.compat.v1 included) write `a + b` as AddV2: Add without strings, imported from their GraphDefs.
@op("AddV2", inputs=("x", "y"), types=NUMERIC_TYPES, shape=broadcast_shape, xp_fn="add")
def add_v2_kernel(xp, x, y):
    return xp.add(x, y)


add_v2_kernel.grad(_add_grad)


@op("Sub", inputs=("x", "y"), types=NUMERIC_TYPES, shape=broadcast_shape, xp_fn="subtract")
def sub_kernel(xp, x, y):
    return xp.subtract(x, y)


@sub_kernel.grad
def _sub_grad(op, grad):
    x, y = op.inputs
    return [unbroadcast(grad, x, y), unbroadcast(make_tensor("Neg", [grad]), y, x)]


def subtract(x: Any, y: Any, name: str | None = None) -> Tensor:
    """Returns x - y elementwise, with broadcasting (op type Sub, default name "Sub")."""
    return apply("Sub", _xy(x, y), name=name)


sub = subtract


@op("Mul", inputs=("x", "y"), types=NUMERIC_TYPES, shape=broadcast_shape, xp_fn="multiply")
def mul_kernel(xp, x, y):
    return xp.multiply(x, y)


@mul_kernel.grad
def _mul_grad(op, grad):
    x, y = op.inputs
    return [unbroadcast(multiply(grad, _conj(y)), x, y), unbroadcast(multiply(_conj(x), grad), y, x)]


def multiply(x: Any, y: Any, name: str | None = None) -> Tensor:
    """Returns x * y elementwise, with broadcasting (op type Mul, default name "Mul")."""
    return apply("Mul", _xy(x, y), name=name)


mul = multiply


def scalar_mul(scalar: Any, x: Any, name: str | None = None) -> Any:
    """Multiplies a scalar by a Tensor or IndexedSlices (the slices' values are scaled).

    Raises:
        ValueError: `scalar` is not 0-d.
    """
    s = convert_operand(scalar, _dtype_of(x), "scalar", "Mul")
    sd = dims(s)
    if sd is None or len(sd) != 0:
        raise ValueError(f"Only scalar multiply works, got shape {TensorShape(sd)}")
    if isinstance(x, IndexedSlices):
        return IndexedSlices(multiply(s, x.values, name=name), x.indices, x.dense_shape)
    return multiply(s, x, name=name)


def _dtype_of(x: Any) -> Any:
    if isinstance(x, IndexedSlices):
        return x.values.dtype.base_dtype
    return tensor_dtype(x)


# -- division ---------------------------------------------------------------------------------------
@op("RealDiv", inputs=("x", "y"), types=FLOAT_TYPES + COMPLEX_TYPES, shape=broadcast_shape, xp_fn="divide")
def real_div_kernel(xp, x, y):
    return xp.divide(x, y)


@real_div_kernel.grad
def _real_div_grad(op, grad):
    x, y = _conj(op.inputs[0]), _conj(op.inputs[1])
    a, b = op.inputs
    return [unbroadcast(realdiv(grad, y), a, b),
            unbroadcast(multiply(grad, realdiv(realdiv(make_tensor("Neg", [x]), y), y)), b, a)]


def realdiv(x: Any, y: Any, name: str | None = None) -> Tensor:
    """x / y for floating-point or complex tensors (op type RealDiv)."""
    return apply("RealDiv", _xy(x, y), name=name)


@op("DivNoNan", inputs=("x", "y"), types=FLOAT_TYPES + COMPLEX_TYPES, shape=broadcast_shape)
def div_no_nan_kernel(xp, x, y):
    zero = y == 0
    return xp.where(zero, xp.zeros((), dtype=x.dtype), xp.divide(x, xp.where(zero, 1, y)))


@div_no_nan_kernel.grad
def _div_no_nan_grad(op, grad):
    x, y = _conj(op.inputs[0]), _conj(op.inputs[1])
    gy = multiply(grad, div_no_nan(div_no_nan(make_tensor("Neg", [x]), y), y))
    a, b = op.inputs
    return [unbroadcast(div_no_nan(grad, y), a, b), unbroadcast(gy, b, a)]


def div_no_nan(x: Any, y: Any, name: str | None = None) -> Tensor:
    """x / y elementwise, and 0 where y is 0 (op type DivNoNan)."""
    return apply("DivNoNan", _xy(x, y), name=name)


# truediv: integer inputs are cast first (TF's _TRUEDIV_TABLE); None keeps the dtype.
_TRUEDIV_TABLE = {
    _dt.uint8: _dt.float32, _dt.int8: _dt.float32, _dt.uint16: _dt.float32, _dt.int16: _dt.float32,
    _dt.int32: _dt.float64, _dt.int64: _dt.float64, _dt.bfloat16: None, _dt.float16: None,
    _dt.float32: None, _dt.float64: None, _dt.complex64: None, _dt.complex128: None,
}


def _same_dtype_pair(x: Any, y: Any, what: str) -> tuple:
    x = convert_operand(x, None if isinstance(x, Tensor) else _dtype_of(y), "x", what)
    y = convert_operand(y, x.dtype.base_dtype, "y", what)
    if x.dtype.base_dtype != y.dtype.base_dtype:
        raise TypeError(f"{what}: x and y must have the same dtype, got {x.dtype.base_dtype.name} != "
                        f"{y.dtype.base_dtype.name}")
    return x, y


def truediv(x: Any, y: Any, name: str | None = None) -> Tensor:
    """x / y with Python 3 semantics: integers are cast to float (int8/16 to float32, int32/64 to float64).

    Raises:
        TypeError: x and y have different dtypes, or the dtype cannot be divided (e.g. bool).
    """
    with op_scope(name, "truediv", [x, y]) as scope:
        x, y = _same_dtype_pair(x, y, "truediv")
        xd = x.dtype.base_dtype
        if xd not in _TRUEDIV_TABLE:
            raise TypeError(f"Invalid dtype {xd.name} in __truediv__ (op 'truediv')")
        target = _TRUEDIV_TABLE[xd]
        if target is not None:
            x, y = compare_ops.cast(x, target), compare_ops.cast(y, target)
        return make_tensor("RealDiv", [x, y], None, scope)


def divide(x: Any, y: Any, name: str | None = None) -> Tensor:
    """Computes Python-style division x / y (truediv: integers give floats)."""
    if not isinstance(x, Tensor) and not hasattr(x, "_as_graph_element"):
        x = convert_to_tensor(x, dtype=_dtype_of(y))
    return truediv(x, y, name=name)


def div(x: Any, y: Any, name: str | None = None) -> Tensor:
    """TF 1.x `tf.div`: floor division for integers, RealDiv for floating-point and complex types."""
    with op_scope(name, "div", [x, y]) as scope:
        x, y = _same_dtype_pair(x, y, "div")
        op_type = "RealDiv" if x.dtype.is_floating or x.dtype.is_complex else "FloorDiv"
        return make_tensor(op_type, [x, y], None, scope)


@op("FloorDiv", inputs=("x", "y"), types=REAL_TYPES, shape=broadcast_shape, xp_fn="floor_divide",
    not_differentiable=True)
def floor_div_kernel(xp, x, y):
    return xp.floor_divide(x, y)


def floordiv(x: Any, y: Any, name: str | None = None) -> Tensor:
    """floor(x / y) elementwise (op type FloorDiv); integers stay integers. Not differentiable."""
    return apply("FloorDiv", _xy(x, y), name=name, default_name="floordiv")


@op("FloorMod", inputs=("x", "y"), types=REAL_TYPES, shape=broadcast_shape, xp_fn="remainder")
def floor_mod_kernel(xp, x, y):
    return xp.remainder(x, y)


@floor_mod_kernel.grad
def _floor_mod_grad(op, grad):
    x, y = op.inputs
    q = make_tensor("FloorDiv", [x, y])
    return [unbroadcast(grad, x, y), unbroadcast(multiply(grad, make_tensor("Neg", [q])), y, x)]


def floormod(x: Any, y: Any, name: str | None = None) -> Tensor:
    """x - floor(x / y) * y elementwise: the result has the sign of y (op type FloorMod)."""
    return apply("FloorMod", _xy(x, y), name=name)


mod = floormod


# -- Pow / Maximum / Minimum / SquaredDifference ----------------------------------------------------
@op("Pow", inputs=("x", "y"), types=_POW_TYPES, shape=broadcast_shape, xp_fn="power")
def pow_kernel(xp, x, y):
    return xp.power(x, y)


@pow_kernel.grad
def _pow_grad(op, grad):
    cast = compare_ops.cast
    x, y = op.inputs
    z = op.outputs[0]
    gx = multiply(multiply(grad, y), pow(x, subtract(y, 1)))
    # d/dy = z * log(x) where x > 0, else 0 (TF's rule); the max keeps log() finite elsewhere.
    dt = base(x)
    if dt.is_complex:
        mask = cast(compare_ops.not_equal(x, 0), dt)
        log_x = multiply(make_tensor("Log", [add(x, subtract(1, mask))]), mask)
    else:
        mask = cast(compare_ops.greater(x, 0), dt)
        tiny = convert_to_tensor(ml_dtypes.finfo(dt.as_numpy_dtype).tiny, dtype=dt)
        log_x = multiply(make_tensor("Log", [maximum(x, tiny)]), mask)
    gy = multiply(multiply(grad, z), log_x)
    return [unbroadcast(gx, x, y), unbroadcast(gy, y, x)]


def pow(x: Any, y: Any, name: str | None = None) -> Tensor:  # noqa: A001 - TF's public name
    """x ** y elementwise (op type Pow, default name "Pow")."""
    return apply("Pow", _xy(x, y), name=name)


@op("Maximum", inputs=("x", "y"), types=REAL_TYPES, shape=broadcast_shape, xp_fn="maximum")
def maximum_kernel(xp, x, y):
    return xp.maximum(x, y)


@op("Minimum", inputs=("x", "y"), types=REAL_TYPES, shape=broadcast_shape, xp_fn="minimum")
def minimum_kernel(xp, x, y):
    return xp.minimum(x, y)


def _min_or_max_grad(op, grad, cmp: str):
    x, y = op.inputs
    # Ties send the gradient to x (TF's rule: x wins where x >= y for Maximum).
    gx = multiply(grad, compare_ops.cast(make_tensor(cmp, [x, y]), base(grad)))
    return [unbroadcast(gx, x, y), unbroadcast(subtract(grad, gx), y, x)]


@maximum_kernel.grad
def _maximum_grad(op, grad):
    return _min_or_max_grad(op, grad, "GreaterEqual")


@minimum_kernel.grad
def _minimum_grad(op, grad):
    return _min_or_max_grad(op, grad, "LessEqual")


def maximum(x: Any, y: Any, name: str | None = None) -> Tensor:
    """max(x, y) elementwise, with broadcasting (op type Maximum)."""
    return apply("Maximum", _xy(x, y), name=name)


def minimum(x: Any, y: Any, name: str | None = None) -> Tensor:
    """min(x, y) elementwise, with broadcasting (op type Minimum)."""
    return apply("Minimum", _xy(x, y), name=name)


@op("SquaredDifference", inputs=("x", "y"), types=FLOAT_TYPES + (_dt.int32, _dt.int64) + COMPLEX_TYPES,
    shape=broadcast_shape)
def squared_difference_kernel(xp, x, y):
    d = xp.subtract(x, y)
    return d * xp.conj(d) if d.dtype.kind == "c" else d * d


@squared_difference_kernel.grad
def _squared_difference_grad(op, grad):
    x, y = op.inputs
    g = multiply(scalar_mul(2.0, grad), subtract(x, y))
    return [unbroadcast(g, x, y), unbroadcast(make_tensor("Neg", [g]), y, x)]


def squared_difference(x: Any, y: Any, name: str | None = None) -> Tensor:
    """(x - y) * (x - y) elementwise (op type SquaredDifference)."""
    return apply("SquaredDifference", _xy(x, y), name=name)


# -- AddN -------------------------------------------------------------------------------------------
# Inputs per fused AddN kernel on a GPU (fused_elementwise_ops.MAX_KERNEL_ARGS bounds a kernel's arrays).
_ADDN_PER_KERNEL = MAX_KERNEL_ARGS // 2


@op("AddN", inputs=("*inputs",), attrs={"N": 1}, types=NUMERIC_TYPES, shape=same_shape)
def add_n_kernel(xp, *inputs):
    if len(inputs) == 1:
        return inputs[0]
    if xp is not np and len(inputs) > 2 and inputs[0].dtype.kind == "f" and all(
            t.shape == inputs[0].shape and t.dtype == inputs[0].dtype for t in inputs):
        # On a GPU each add is a launch: sum up to _ADDN_PER_KERNEL inputs per fused kernel instead.
        out = None
        for lo in range(0, len(inputs), _ADDN_PER_KERNEL):
            part = ([out] if out is not None else []) + list(inputs[lo:lo + _ADDN_PER_KERNEL])
            out = part[0] if len(part) == 1 else evaluate(
                xp, [" ".join(["AddN"] + [str(i) for i in range(len(part))])], [len(part)], *part)
        return out
    out = xp.add(inputs[0], inputs[1])
    if out.ndim:
        for t in inputs[2:]:
            xp.add(out, t, out=out)
    else:
        for t in inputs[2:]:
            out = out + t
    return out


@add_n_kernel.grad
def _add_n_grad(op, grad):
    return [grad] * len(op.inputs)


def add_n(inputs: list, name: str | None = None) -> Any:
    """Sums a list of tensors of the same shape and dtype (op type AddN).

    Raises:
        ValueError: `inputs` is empty or not a list.
    """
    if not inputs or not isinstance(inputs, (list, tuple)):
        raise ValueError("inputs must be a non-empty list of at least one Tensor with the same dtype and "
                         "shape")
    ts = convert_same_dtype(list(inputs))
    if len(ts) == 1:
        return ts[0] if name is None else array_ops.identity(ts[0], name=name)
    with op_scope(name, "AddN", ts) as scope:
        return make_tensor("AddN", ts, {"N": len(ts)}, scope)


# -- broadcasting helpers (used by gradients) -------------------------------------------------------
def _bga_shape(ins, attrs):
    return [(base(ins[0]), (None,)), (base(ins[0]), (None,))]


@op("BroadcastGradientArgs", inputs=("s0", "s1"), types=INDEX_TYPES, shape=_bga_shape, outputs=2,
    not_differentiable=True, output_names=("r0", "r1"), host_op=True)
def broadcast_gradient_args_kernel(xp, s0, s1):
    # Shapes are tiny host-side vectors: plain Python is the fast path here.
    dt = s0.dtype
    s0, s1 = [int(d) for d in s0.tolist()], [int(d) for d in s1.tolist()]
    n = max(len(s0), len(s1))
    a, b = [1] * (n - len(s0)) + s0, [1] * (n - len(s1)) + s1
    r0 = [i for i in range(n) if i < n - len(s0) or (a[i] == 1 and b[i] != 1)]
    r1 = [i for i in range(n) if i < n - len(s1) or (b[i] == 1 and a[i] != 1)]
    return xp.asarray(r0, dtype=dt), xp.asarray(r1, dtype=dt)


def _broadcast_to_shape(ins, attrs):
    x, s = ins
    target = constant_shape(s)
    xd = dims(x)
    if target is not None and xd is not None:
        if len(xd) > len(target):
            raise ValueError(f"Rank of input ({len(xd)}) must be no greater than rank of output shape "
                             f"({len(target)})")
        for a, b in zip(reversed(xd), reversed(target)):
            if a is not None and b is not None and a != 1 and a != b:
                raise ValueError(f"Incompatible shapes: {TensorShape(xd)} vs. {TensorShape(target)}")
    return base(x), target


@op("BroadcastTo", inputs=("input", "shape"), attrs={"Tidx": _dt.int32}, shape=_broadcast_to_shape,
    host_inputs=(1,))
def broadcast_to_kernel(xp, input, shape):
    return xp.broadcast_to(input, tuple(shape.tolist()))


@broadcast_to_kernel.grad
def _broadcast_to_grad(op, grad):
    return [unbroadcast(grad, op.inputs[0]), None]


# -- the rest of the family, re-exported ------------------------------------------------------------
from labflow.ops import compare_ops, matmul_ops, reduction_ops, unary_ops  # noqa: E402
from labflow.ops.compare_ops import *  # noqa: E402,F401,F403
from labflow.ops.matmul_ops import *  # noqa: E402,F401,F403
from labflow.ops.reduction_ops import *  # noqa: E402,F401,F403
from labflow.ops.unary_ops import *  # noqa: E402,F401,F403

__all__ += compare_ops.__all__ + matmul_ops.__all__ + reduction_ops.__all__ + unary_ops.__all__

from labflow.ops import math_operators  # noqa: E402,F401 - installs the Tensor operators
