"""Bitwise ops on integers (`tf.bitwise`): and, or, xor, invert, left/right shift and population count.

Shifts follow TF's kernels: the shift amount is clamped to [0, bits - 1] (so an out-of-range shift is
well defined: a left shift by >= bits keeps only what a shift by bits - 1 keeps, a right shift of a
negative signed value by >= bits gives -1), left shifts wrap, right shifts of signed types are
arithmetic. None of them is differentiable (as in TF).
"""

from __future__ import annotations

from typing import Any

from labflow import dtypes as _dt
from labflow.framework.registry import op
from labflow.framework.tensor import Tensor
from labflow.ops.common import (
    base,
    broadcast_shape,
    convert_same_dtype,
    convert_to_tensor,
    dims,
    make_tensor,
    same_as_input,
)

__all__: list[str] = []

BITWISE_TYPES = (_dt.int8, _dt.int16, _dt.int32, _dt.int64, _dt.uint8, _dt.uint16, _dt.uint32, _dt.uint64)
_UNSIGNED = {1: "uint8", 2: "uint16", 4: "uint32", 8: "uint64"}


def _unsigned(xp: Any, x: Any) -> Any:
    return x.view(getattr(xp, _UNSIGNED[x.dtype.itemsize]))


def _clamped(xp: Any, x: Any, y: Any) -> Any:
    """The shift amounts clamped to [0, bits - 1], in x's unsigned type."""
    bits = 8 * x.dtype.itemsize
    return xp.clip(y, 0, bits - 1).astype(_unsigned(xp, x).dtype)


_BINARY = dict(inputs=("x", "y"), types=BITWISE_TYPES, shape=broadcast_shape, not_differentiable=True)


@op("BitwiseAnd", xp_fn="bitwise_and", **_BINARY)
def bitwise_and_kernel(xp, x, y):
    return xp.bitwise_and(x, y)


@op("BitwiseOr", xp_fn="bitwise_or", **_BINARY)
def bitwise_or_kernel(xp, x, y):
    return xp.bitwise_or(x, y)


@op("BitwiseXor", xp_fn="bitwise_xor", **_BINARY)
def bitwise_xor_kernel(xp, x, y):
    return xp.bitwise_xor(x, y)


@op("LeftShift", **_BINARY)
def left_shift_kernel(xp, x, y):
    # shift the unsigned view: a signed left shift that overflows wraps instead of being undefined
    ux, uy = xp.broadcast_arrays(_unsigned(xp, xp.ascontiguousarray(x)), _clamped(xp, x, y))
    return xp.left_shift(ux, uy).view(x.dtype)


@op("RightShift", **_BINARY)
def right_shift_kernel(xp, x, y):
    return xp.right_shift(x, _clamped(xp, x, y).astype(x.dtype))


_UNARY = dict(inputs=("x",), types=BITWISE_TYPES, not_differentiable=True)


@op("Invert", xp_fn="invert", shape=same_as_input, **_UNARY)
def invert_kernel(xp, x):
    return xp.invert(x)


@op("PopulationCount", shape=lambda ins, attrs: (_dt.uint8, dims(ins[0])), **_UNARY)
def population_count_kernel(xp, x):
    # SWAR bit count on the zero-extended unsigned value (NumPy and CuPy have no popcount ufunc in common)
    v = _unsigned(xp, xp.ascontiguousarray(x)).astype(xp.uint64)
    v = v - ((v >> xp.uint64(1)) & xp.uint64(0x5555555555555555))
    v = (v & xp.uint64(0x3333333333333333)) + ((v >> xp.uint64(2)) & xp.uint64(0x3333333333333333))
    v = (v + (v >> xp.uint64(4))) & xp.uint64(0x0F0F0F0F0F0F0F0F)
    return ((v * xp.uint64(0x0101010101010101)) >> xp.uint64(56)).astype(xp.uint8)


# -- public wrappers (tf.bitwise.*) ------------------------------------------------------------------
def _binary(op_type: str, x: Any, y: Any, name: str | None) -> Tensor:
    a, b = convert_same_dtype([x, y], name=op_type)
    return make_tensor(op_type, [a, b], {"T": base(a)}, name or op_type)


def _unary(op_type: str, x: Any, name: str | None) -> Tensor:
    t = convert_to_tensor(x, name="x")
    return make_tensor(op_type, [t], {"T": base(t)}, name or op_type)


def bitwise_and(x: Any, y: Any, name: str | None = None) -> Tensor:
    """Elementwise `x & y` of two integer tensors of one dtype (broadcasting); op BitwiseAnd."""
    return _binary("BitwiseAnd", x, y, name)


def bitwise_or(x: Any, y: Any, name: str | None = None) -> Tensor:
    """Elementwise `x | y` (broadcasting); op BitwiseOr."""
    return _binary("BitwiseOr", x, y, name)


def bitwise_xor(x: Any, y: Any, name: str | None = None) -> Tensor:
    """Elementwise `x ^ y` (broadcasting); op BitwiseXor."""
    return _binary("BitwiseXor", x, y, name)


def invert(x: Any, name: str | None = None) -> Tensor:
    """Elementwise bitwise NOT `~x` of an integer tensor; op Invert."""
    return _unary("Invert", x, name)


def left_shift(x: Any, y: Any, name: str | None = None) -> Tensor:
    """Elementwise `x << y`, y clamped to [0, bits - 1] and overflow wrapping (TF's LeftShift)."""
    return _binary("LeftShift", x, y, name)


def right_shift(x: Any, y: Any, name: str | None = None) -> Tensor:
    """Elementwise `x >> y`, arithmetic for signed types, y clamped to [0, bits - 1] (TF's RightShift)."""
    return _binary("RightShift", x, y, name)


def population_count(x: Any, name: str | None = None) -> Tensor:
    """The number of set bits of each element (uint8 result); op PopulationCount (TF's `tf.math.popcount`)."""
    return _unary("PopulationCount", x, name)
