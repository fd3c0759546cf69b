"""Comparisons, logical ops, finiteness tests and casts (part of the math family, re-exported by math_ops)."""

from __future__ import annotations

from typing import Any

from labflow import dtypes as _dt
from labflow.framework.convert import convert_to_tensor
from labflow.framework.registry import REQUIRED, op
from labflow.framework.tensor import IndexedSlices, Tensor
from labflow.ops.common import (
    ALL_TYPES,
    FLOAT_TYPES,
    NUMERIC_TYPES,
    REAL_TYPES,
    base,
    broadcast_bool_shape,
    broadcast_dims,
    dims,
    make_tensor,
)
from labflow.ops.math_helpers import T, apply, op_scope

__all__ = ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_and",
           "logical_or", "logical_not", "logical_xor", "is_nan", "is_inf", "is_finite", "cast",
           "saturate_cast", "to_float", "to_double", "to_int32", "to_int64", "to_bfloat16"]

_EQ_TYPES = NUMERIC_TYPES + (_dt.bool, _dt.string)


def _xy(x: Any, y: Any) -> list:
    return [("x", x, T), ("y", y, T)]


# -- comparisons: bool results, with broadcasting; never differentiable -----------------------------
@op("Equal", inputs=("x", "y"), types=_EQ_TYPES, shape=broadcast_bool_shape, xp_fn="equal",
    not_differentiable=True)
def equal_kernel(xp, x, y):
    return xp.equal(x, y)


@op("NotEqual", inputs=("x", "y"), types=_EQ_TYPES, shape=broadcast_bool_shape, xp_fn="not_equal",
    not_differentiable=True)
def not_equal_kernel(xp, x, y):
    return xp.not_equal(x, y)


@op("Less", inputs=("x", "y"), types=REAL_TYPES, shape=broadcast_bool_shape, xp_fn="less",
    not_differentiable=True)
def less_kernel(xp, x, y):
    return xp.less(x, y)


@op("LessEqual", inputs=("x", "y"), types=REAL_TYPES, shape=broadcast_bool_shape, xp_fn="less_equal",
    not_differentiable=True)
def less_equal_kernel(xp, x, y):
    return xp.less_equal(x, y)


@op("Greater", inputs=("x", "y"), types=REAL_TYPES, shape=broadcast_bool_shape, xp_fn="greater",
    not_differentiable=True)
def greater_kernel(xp, x, y):
    return xp.greater(x, y)


@op("GreaterEqual", inputs=("x", "y"), types=REAL_TYPES, shape=broadcast_bool_shape, xp_fn="greater_equal",
    not_differentiable=True)
def greater_equal_kernel(xp, x, y):
    return xp.greater_equal(x, y)


def _cast_compare_shape(ins: list, attrs: dict) -> tuple:
    if dims(ins[2]) not in (None, ()):
        raise ValueError(f"_CastGreaterEqual: `one` must be a scalar, got shape {list(dims(ins[2]))}")
    return base(ins[0]), broadcast_dims(dims(ins[0]), dims(ins[1]))


@op("_CastGreaterEqual", inputs=("x", "y", "one"), types=FLOAT_TYPES, shape=_cast_compare_shape,
    not_differentiable=True)
def cast_greater_equal_kernel(xp, x, y, one):
    """Cast(GreaterEqual(x, y)) to x's float type, as (x >= y) * one: what runtime/elementwise_fusion.py
    makes of a dropout's keep mask, so that it joins the elementwise cluster around it on a GPU (its bool
    value kept it out: two launches and two clusters instead of one)."""
    return xp.multiply(xp.greater_equal(x, y), one)


def equal(x: Any, y: Any, name: str | None = None) -> Tensor:
    """x == y elementwise, with broadcasting; a bool tensor (op type Equal).

    `==` on Tensors stays Python identity (as in TF 1.x): use this function for values.
    """
    return apply("Equal", _xy(x, y), name=name)


def not_equal(x: Any, y: Any, name: str | None = None) -> Tensor:
    """x != y elementwise, with broadcasting; a bool tensor (op type NotEqual)."""
    return apply("NotEqual", _xy(x, y), name=name)


def less(x: Any, y: Any, name: str | None = None) -> Tensor:
    """x < y elementwise, with broadcasting; a bool tensor (op type Less)."""
    return apply("Less", _xy(x, y), name=name)


def less_equal(x: Any, y: Any, name: str | None = None) -> Tensor:
    """x <= y elementwise, with broadcasting; a bool tensor (op type LessEqual)."""
    return apply("LessEqual", _xy(x, y), name=name)


def greater(x: Any, y: Any, name: str | None = None) -> Tensor:
    """x > y elementwise, with broadcasting; a bool tensor (op type Greater)."""
    return apply("Greater", _xy(x, y), name=name)


def greater_equal(x: Any, y: Any, name: str | None = None) -> Tensor:
    """x >= y elementwise, with broadcasting; a bool tensor (op type GreaterEqual)."""
    return apply("GreaterEqual", _xy(x, y), name=name)


# -- logical ops ------------------------------------------------------------------------------------
@op("LogicalAnd", inputs=("x", "y"), types=(_dt.bool,), shape=broadcast_bool_shape, xp_fn="logical_and",
    not_differentiable=True)
def logical_and_kernel(xp, x, y):
    return xp.logical_and(x, y)


@op("LogicalOr", inputs=("x", "y"), types=(_dt.bool,), shape=broadcast_bool_shape, xp_fn="logical_or",
    not_differentiable=True)
def logical_or_kernel(xp, x, y):
    return xp.logical_or(x, y)


def _bool_same(ins, attrs):
    return _dt.bool, dims(ins[0])


@op("LogicalNot", inputs=("x",), types=(_dt.bool,), shape=_bool_same, xp_fn="logical_not",
    not_differentiable=True)
def logical_not_kernel(xp, x):
    return xp.logical_not(x)


def logical_and(x: Any, y: Any, name: str | None = None) -> Tensor:
    """x AND y elementwise for bool tensors, with broadcasting (op type LogicalAnd)."""
    return apply("LogicalAnd", _xy(x, y), name=name)


def logical_or(x: Any, y: Any, name: str | None = None) -> Tensor:
    """x OR y elementwise for bool tensors, with broadcasting (op type LogicalOr)."""
    return apply("LogicalOr", _xy(x, y), name=name)


def logical_not(x: Any, name: str | None = None) -> Tensor:
    """NOT x elementwise for a bool tensor (op type LogicalNot)."""
    return apply("LogicalNot", [("x", x, T)], name=name)


def logical_xor(x: Any, y: Any, name: str = "LogicalXor") -> Tensor:
    """x XOR y elementwise for bool tensors: (x OR y) AND NOT (x AND y), as TF 1.x builds it."""
    return logical_and(logical_or(x, y), logical_not(logical_and(x, y)), name=name)


# -- finiteness -------------------------------------------------------------------------------------
@op("IsNan", inputs=("x",), types=FLOAT_TYPES, shape=_bool_same, xp_fn="isnan", not_differentiable=True)
def is_nan_kernel(xp, x):
    return xp.isnan(x)


@op("IsInf", inputs=("x",), types=FLOAT_TYPES, shape=_bool_same, xp_fn="isinf", not_differentiable=True)
def is_inf_kernel(xp, x):
    return xp.isinf(x)


@op("IsFinite", inputs=("x",), types=FLOAT_TYPES, shape=_bool_same, xp_fn="isfinite",
    not_differentiable=True)
def is_finite_kernel(xp, x):
    return xp.isfinite(x)


def is_nan(x: Any, name: str | None = None) -> Tensor:
    """True where x is NaN (op type IsNan)."""
    return apply("IsNan", [("x", x, T)], name=name)


def is_inf(x: Any, name: str | None = None) -> Tensor:
    """True where x is +inf or -inf (op type IsInf)."""
    return apply("IsInf", [("x", x, T)], name=name)


def is_finite(x: Any, name: str | None = None) -> Tensor:
    """True where x is neither NaN nor infinite (op type IsFinite)."""
    return apply("IsFinite", [("x", x, T)], name=name)


# -- Cast -------------------------------------------------------------------------------------------
def _cast_shape(ins, attrs):
    src, dst = ins[0].dtype.base_dtype, attrs["DstT"]
    if (src == _dt.string) != (dst == _dt.string):
        raise TypeError(f"Cast {src.name} to {dst.name} is not supported")
    return dst, dims(ins[0])


@op("Cast", inputs=("x",), attrs={"SrcT": REQUIRED, "DstT": REQUIRED, "Truncate": False}, shape=_cast_shape)
def cast_kernel(xp, x, *, DstT):
    if x.dtype.kind == "c" and not DstT.is_complex:
        x = xp.real(x)  # TF keeps the real part
    return x.astype(DstT.as_numpy_dtype, copy=False)


@cast_kernel.grad
def _cast_grad(op, grad):
    src, dst = op.get_attr("SrcT"), op.get_attr("DstT")
    if (src.is_floating or src.is_complex) and (dst.is_floating or dst.is_complex):
        return [cast(grad, src)]
    return [None]


def cast(x: Any, dtype: Any, name: str | None = None) -> Any:
    """Casts a tensor (or the values of an IndexedSlices) to `dtype` (op type Cast).

    Floats become integers by truncation toward zero; complex to real keeps the real part. A tensor
    that already has `dtype` is returned as is (no op is added), like TF.

    Raises:
        TypeError: the cast involves strings.
    """
    dst = _dt.as_dtype(dtype).base_dtype
    if isinstance(x, Tensor) and x.dtype.base_dtype == dst:
        return x
    with op_scope(name, "Cast", [x]) as scope:
        if isinstance(x, IndexedSlices):
            vals = cast(x.values, dst, name=scope)
            return IndexedSlices(vals, x.indices, x.dense_shape)
        x = convert_to_tensor(x, name="x")
        src = x.dtype.base_dtype
        if src == dst:
            return x
        return make_tensor("Cast", [x], {"SrcT": src, "DstT": dst, "Truncate": False}, scope)


def _largest_below(src: _dt.DType, bound: int) -> Any:
    """The largest value of `src` that is <= `bound`: int32's max rounds up to 2**31 in float32, which would
    overflow the cast, so a float bound steps one unit down (TF's saturate_cast gives 2147483520)."""
    f = src.as_numpy_dtype
    hi = f(bound)
    if src.is_floating and float(hi) > bound:  # integer maxima are 2**k - 1, so `hi` rounded to exactly 2**k
        import ml_dtypes
        hi = f(float(hi) * (1 - float(ml_dtypes.finfo(f).eps) / 2))
    return hi


def saturate_cast(value: Any, dtype: Any, name: str | None = None) -> Tensor:
    """Casts `value` to `dtype`, first clipping it to the range `dtype` can hold."""
    from labflow.ops import math_ops
    with op_scope(name, "saturate_cast", [value]) as scope:
        value = convert_to_tensor(value, name="value")
        dst = _dt.as_dtype(dtype).base_dtype
        src = value.dtype.base_dtype
        if not (src.is_complex or dst.is_complex or src.is_bool or dst.is_bool):
            if src.min < dst.min:
                value = math_ops.maximum(value, convert_to_tensor(dst.min, dtype=src, name="min"))
            if src.max > dst.max:
                value = math_ops.minimum(value, convert_to_tensor(_largest_below(src, dst.max), dtype=src,
                                                                  name="max"))
        return cast(value, dst, name=scope)


def to_float(x: Any, name: str = "ToFloat") -> Any:
    """Casts to float32 (TF 1.x alias of `cast(x, tf.float32)`)."""
    return cast(x, _dt.float32, name=name)


def to_double(x: Any, name: str = "ToDouble") -> Any:
    """Casts to float64."""
    return cast(x, _dt.float64, name=name)


def to_int32(x: Any, name: str = "ToInt32") -> Any:
    """Casts to int32."""
    return cast(x, _dt.int32, name=name)


def to_int64(x: Any, name: str = "ToInt64") -> Any:
    """Casts to int64."""
    return cast(x, _dt.int64, name=name)


def to_bfloat16(x: Any, name: str = "ToBFloat16") -> Any:
    """Casts to bfloat16."""
    return cast(x, _dt.bfloat16, name=name)


del ALL_TYPES
