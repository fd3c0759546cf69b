"""tf.math extras that TF composes from other ops (log_sigmoid, reduce_std/variance, polyval, lbeta,
accumulate_n, monotonicity tests), plus the EuclideanNorm reduction. Part of the special_math_ops
family (which re-exports these names).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.registry import op
from labflow.framework.tensor import Tensor
from labflow.ops import math_ops as m
from labflow.ops.common import FLOAT_TYPES, convert_to_tensor
from labflow.ops.math_helpers import op_scope
from labflow.ops.reduction_ops import _REDUCE, _SCAN, _grad_with_kept_dims, _np_axes, _reduce, _scan_op

# TF 1.x top-level names (tf.<name>); MATH_ONLY are only under tf.math
__all__ = ["log_sigmoid", "accumulate_n", "is_non_decreasing", "is_strictly_increasing", "lbeta"]
MATH_ONLY = ["reciprocal_no_nan", "divide_no_nan", "reduce_variance", "reduce_std", "reduce_euclidean_norm", "polyval",
             "cumulative_logsumexp", "bessel_i0", "bessel_i1"]

divide_no_nan = m.div_no_nan


def log_sigmoid(x: Any, name: str | None = None) -> Tensor:
    """log(sigmoid(x)) computed stably as -softplus(-x) (TF composes it the same way).

    Args:
        x: a float tensor.
        name: the name scope (default "LogSigmoid").
    """
    from labflow.ops.nn_extra_ops import softplus
    with op_scope(name, "LogSigmoid", [x]) as scope:
        x = convert_to_tensor(x, name="x")
        return m.negative(softplus(m.negative(x)), name=scope)


def reciprocal_no_nan(x: Any, name: str | None = None) -> Tensor:
    """1 / x elementwise, and 0 where x is 0 (TF's div_no_nan(1, x)).

    Raises:
        TypeError: `x` is not a float or complex tensor.
    """
    with op_scope(name, "reciprocal_no_nan", [x]) as scope:
        x = convert_to_tensor(x, name="x")
        if not (x.dtype.is_floating or x.dtype.is_complex):
            raise TypeError(f"reciprocal_no_nan needs a float or complex tensor, got {x.dtype.name}: cast it "
                            "first (tf.cast)")
        return m.div_no_nan(convert_to_tensor(1, dtype=x.dtype.base_dtype), x, name=scope)


# -- moments ----------------------------------------------------------------------------------------
def _float_input(input_tensor: Any, what: str) -> Tensor:
    x = convert_to_tensor(input_tensor, name="input_tensor")
    if not x.dtype.is_floating:
        raise TypeError(f"Input must be a float tensor for {what}, got {x.dtype.name}: cast it first (tf.cast)")
    return x


def reduce_variance(input_tensor: Any, axis: Any = None, keepdims: bool = False, name: str | None = None) -> Tensor:
    """The variance of `input_tensor` over `axis`: mean(|x - mean(x)|^2), as TF.

    Args:
        input_tensor: a float tensor.
        axis: the dimensions to reduce; None reduces all of them.
        keepdims: keep the reduced dimensions with length 1.
        name: the name scope (default "reduce_variance").

    Raises:
        TypeError: the input is not a float tensor.
    """
    with op_scope(name, "reduce_variance", [input_tensor]):
        x = _float_input(input_tensor, "reduce_variance")
        means = m.reduce_mean(x, axis=axis, keepdims=True)
        dev = m.subtract(x, means)
        return m.reduce_mean(m.square(dev), axis=axis, keepdims=keepdims)


def reduce_std(input_tensor: Any, axis: Any = None, keepdims: bool = False, name: str | None = None) -> Tensor:
    """The standard deviation of `input_tensor` over `axis` (the square root of reduce_variance).

    Raises:
        TypeError: the input is not a float tensor.
    """
    with op_scope(name, "reduce_std", [input_tensor]):
        return m.sqrt(reduce_variance(input_tensor, axis=axis, keepdims=keepdims))


@op("EuclideanNorm", types=FLOAT_TYPES, **_REDUCE)
def euclidean_norm_kernel(xp, input, reduction_indices, *, keep_dims):
    ax = _np_axes(reduction_indices)
    wide = input.astype(np.float32) if input.dtype.itemsize < 4 else input
    return xp.sqrt(xp.sum(wide * wide, axis=ax, keepdims=keep_dims)).astype(input.dtype)


@euclidean_norm_kernel.grad
def _euclidean_norm_grad(op, grad):
    out = _grad_with_kept_dims(op, op.outputs[0])
    g = _grad_with_kept_dims(op, grad)
    return [m.truediv(op.inputs[0], m.truediv(out, g)), None]


def reduce_euclidean_norm(input_tensor: Any, axis: Any = None, keepdims: Any = None, name: str | None = None,
                          reduction_indices: Any = None, keep_dims: Any = None) -> Tensor:
    """sqrt(sum(x ** 2)) over `axis` (op type EuclideanNorm); axis None reduces every dimension.

    Args:
        input_tensor: a float tensor.
        axis: the dimensions to reduce (an int, a list, or a 1-D tensor); negative values count from the end.
        keepdims: keep the reduced dimensions with length 1.
        name: the op name (default "EuclideanNorm").
        reduction_indices: the TF 1.x spelling of `axis`.
        keep_dims: the TF 1.x spelling of `keepdims`.
    """
    return _reduce("EuclideanNorm", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


# -- sums and polynomials ---------------------------------------------------------------------------
def accumulate_n(inputs: Sequence[Any], shape: Any = None, tensor_dtype: Any = None,
                 name: str | None = None) -> Tensor:
    """The elementwise sum of a list of tensors of one shape and dtype (TF computes it as add_n).

    Args:
        inputs: a non-empty list of tensors.
        shape: the expected shape of each input (checked when given).
        tensor_dtype: the expected dtype of each input (checked when given).
        name: the op name.

    Raises:
        ValueError: `inputs` is empty or not a list, or the inputs' shapes differ from each other or
            from `shape`.
        TypeError: the inputs' dtypes differ from each other or from `tensor_dtype`.
    """
    from labflow.framework.shapes import TensorShape
    if not inputs or not isinstance(inputs, (list, tuple)):
        raise ValueError("inputs must be a non-empty list of tensors of the same shape and dtype")
    ts = [convert_to_tensor(t) for t in inputs]
    if not all(t.dtype == ts[0].dtype for t in ts):
        raise TypeError(f"inputs must be a list of tensors of one dtype, got {[t.dtype.name for t in ts]}")
    if tensor_dtype is not None and _dt.as_dtype(tensor_dtype) != ts[0].dtype:
        raise TypeError(f"tensor_dtype is {_dt.as_dtype(tensor_dtype).name}, but the inputs are "
                        f"{ts[0].dtype.name}")
    merged = TensorShape(shape)
    for t in ts:
        try:
            merged = merged.merge_with(t.get_shape())
        except ValueError:
            raise ValueError(f"Input tensor {t.name} has shape {t.get_shape()}, which is incompatible with "
                             f"the others (and shape={shape}): all inputs must have one shape") from None
    if len(ts) == 1 and name is None:
        return ts[0]
    return m.add_n(ts, name=name)


def polyval(coeffs: Sequence[Any], x: Any, name: str | None = None) -> Tensor:
    """The polynomial coeffs[0] * x^(n-1) + ... + coeffs[n-1], elementwise in x (Horner's rule).

    Args:
        coeffs: a list of tensors (or numbers) of x's dtype, highest power first; broadcast with x.
        x: the points.
        name: the name scope (default "polyval").

    Raises:
        ValueError: `coeffs` is not a list.
    """
    if not isinstance(coeffs, (list, tuple)):
        raise ValueError(f"coeffs must be a list of tensors, got {type(coeffs).__name__}")
    with op_scope(name, "polyval", [x] + list(coeffs)):
        x = convert_to_tensor(x, name="x")
        if not coeffs:
            from labflow.ops.array_ops import zeros_like
            return zeros_like(x, name=name)
        cs = [convert_to_tensor(c, dtype=x.dtype.base_dtype, name="coeff") for c in coeffs]
        p = cs[0]
        for c in cs[1:]:
            p = m.add(c, m.multiply(p, x))
        return p


def lbeta(x: Any, name: str | None = None) -> Tensor:
    """log|Beta(x)| over the last dimension: sum(lgamma(x)) - lgamma(sum(x)), as TF.

    An empty last dimension gives 0 (Beta of no arguments is 1), so the result has x's shape without
    its last dimension.
    """
    from labflow.ops.special_math_ops import lgamma
    with op_scope(name, "lbeta", [x]):
        x = convert_to_tensor(x, name="x")
        return m.subtract(m.reduce_sum(lgamma(x), axis=[-1]), lgamma(m.reduce_sum(x, axis=[-1])))


# -- monotonicity -----------------------------------------------------------------------------------
def _adjacent(x: Any, name: str | None, default: str, cmp: Any) -> Tensor:
    from labflow.ops.array_ops import reshape
    from labflow.ops.array_slice_ops import strided_slice
    with op_scope(name, default, [x]):
        x = convert_to_tensor(x, name="x")
        if not (x.dtype.is_floating or x.dtype.is_integer):
            raise TypeError(f"Expected x to be numeric, got {x.dtype.name}")
        flat = reshape(x, np.array([-1], np.int32))
        head = strided_slice(flat, [0], [-1], [1])
        tail = strided_slice(flat, [1], [2 ** 31 - 1], [1])
        return m.reduce_all(cmp(head, tail))


def is_non_decreasing(x: Any, name: str | None = None) -> Tensor:
    """True when every element of x (flattened, row-major) is <= the next; True for fewer than two.

    Raises:
        TypeError: x is not numeric.
    """
    return _adjacent(x, name, "is_non_decreasing", m.less_equal)


def is_strictly_increasing(x: Any, name: str | None = None) -> Tensor:
    """True when every element of x (flattened, row-major) is < the next; True for fewer than two.

    Raises:
        TypeError: x is not numeric.
    """
    return _adjacent(x, name, "is_strictly_increasing", m.less)




# -- cumulative logsumexp ---------------------------------------------------------------------------
@op("CumulativeLogsumexp", **{**_SCAN, "types": FLOAT_TYPES})
def cumulative_logsumexp_kernel(xp, x, axis, *, exclusive, reverse):
    ax = int(axis) % x.ndim
    y = xp.moveaxis(x, ax, 0)
    if reverse:
        y = xp.flip(y, 0)
    out = y.astype(np.float32) if y.dtype.itemsize < 4 else y.copy()
    # a Hillis-Steele scan: log2(n) whole-array logaddexp steps, each exact, so nothing underflows the way
    # log(cumsum(exp(x - max))) does for entries far below the maximum
    shift = 1
    while shift < out.shape[0]:
        step = out.copy()
        step[shift:] = xp.logaddexp(out[shift:], out[:-shift])
        out, shift = step, shift * 2
    if exclusive:
        shifted = xp.full_like(out, -np.inf)
        shifted[1:] = out[:-1]
        out = shifted
    if reverse:
        out = xp.flip(out, 0)
    return xp.ascontiguousarray(xp.moveaxis(out, 0, ax)).astype(x.dtype)


@cumulative_logsumexp_kernel.grad
def _cumulative_logsumexp_grad(op, grad):
    from labflow.ops.array_ops import where, zeros_like
    x, axis = op.inputs
    out = op.outputs[0]
    ex, rev = op.get_attr("exclusive"), op.get_attr("reverse")
    # split the gradient by sign so its logarithm exists (TF's rule)
    lowest = m.add(zeros_like(grad), convert_to_tensor(float(np.finfo(grad.dtype.as_numpy_dtype).min),
                                                        dtype=grad.dtype.base_dtype))
    zero = zeros_like(grad)
    log_pos = where(m.greater(grad, zero), m.log(where(m.greater(grad, zero), grad, m.exp(zero))), lowest)
    neg = m.negative(grad)
    log_neg = where(m.greater(neg, zero), m.log(where(m.greater(neg, zero), neg, m.exp(zero))), lowest)
    pos_part = m.exp(m.add(cumulative_logsumexp(m.subtract(log_pos, out), axis, exclusive=ex, reverse=not rev), x))
    neg_part = m.exp(m.add(cumulative_logsumexp(m.subtract(log_neg, out), axis, exclusive=ex, reverse=not rev), x))
    return [m.subtract(pos_part, neg_part), None]


def cumulative_logsumexp(x: Any, axis: Any = 0, exclusive: bool = False, reverse: bool = False,
                         name: str | None = None) -> Tensor:
    """log(cumsum(exp(x))) along `axis`, computed without overflow or underflow (op type CumulativeLogsumexp).

    `exclusive`: the i-th output excludes the i-th input (the first is -inf); `reverse`: from the end.
    """
    return _scan_op("CumulativeLogsumexp", x, axis, exclusive, reverse, name)


# -- unscaled Bessel functions ----------------------------------------------------------------------
def bessel_i0(x: Any, name: str | None = None) -> Tensor:
    """The modified Bessel function of order 0, exp(|x|) * bessel_i0e(x) (composed as TF)."""
    from labflow.ops.special_math_ops import bessel_i0e
    with op_scope(name, "bessel_i0", [x]):
        x = convert_to_tensor(x, name="x")
        return m.multiply(m.exp(m.abs(x)), bessel_i0e(x))


def bessel_i1(x: Any, name: str | None = None) -> Tensor:
    """The modified Bessel function of order 1, exp(|x|) * bessel_i1e(x) (composed as TF)."""
    from labflow.ops.special_math_ops import bessel_i1e
    with op_scope(name, "bessel_i1", [x]):
        x = convert_to_tensor(x, name="x")
        return m.multiply(m.exp(m.abs(x)), bessel_i1e(x))
