"""Segment reductions: segment_sum/mean/max/min/prod over sorted ids, unsorted_segment_max/min/prod (and the
composed unsorted_segment_mean/sqrt_n), sparse_segment_sum/mean/sqrt_n and their *Grad ops, with TF's
gradients. unsorted_segment_sum itself lives in array_gather_ops.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.registry import op
from labflow.framework.tensor import Tensor
from labflow.ops import math_ops as m
from labflow.ops.array_gather_ops import _usum_shape, gather, unsorted_segment_sum
from labflow.ops.array_ops import _check_rank, _int, _set_attrs, ones_like, reshape, shape, where, zeros_like
from labflow.ops.array_slice_ops import _index_dtype_error
from labflow.ops.common import (
    INDEX_TYPES,
    REAL_TYPES,
    base,
    constant_value,
    convert_to_tensor,
    dims,
    make_tensor,
    merge_dims,
)
from labflow.ops.math_helpers import op_scope

__all__ = ["segment_sum", "segment_mean", "segment_max", "segment_min", "segment_prod", "unsorted_segment_max",
           "unsorted_segment_min", "unsorted_segment_prod", "unsorted_segment_mean", "unsorted_segment_sqrt_n",
           "sparse_segment_sum", "sparse_segment_mean", "sparse_segment_sqrt_n"]

_MIN_MAX_TYPES = tuple(t for t in REAL_TYPES if t != _dt.bfloat16)


# -- kernels' shared scatter-reduction ----------------------------------------------------------------
def _identity(reduction: str, dtype: Any) -> Any:
    if reduction in ("add", "mean", "sqrt_n"):
        return 0
    if reduction == "multiply":
        return 1
    info = np.finfo(dtype) if np.dtype(dtype).kind == "f" else np.iinfo(dtype)
    # TF fills an empty unsorted max/min segment with the type's lowest/highest finite value
    return info.min if reduction == "maximum" else info.max


def _scatter(xp, reduction: str, ids, vals, n: int):
    """out[k] = reduction(vals[i] for ids[i] == k), k < n; ids outside [0, n) are dropped.

    Returns (out, counts): counts[k] is the number of rows in segment k.
    """
    ufunc = "add" if reduction in ("mean", "sqrt_n") else reduction
    keep = (ids >= 0) & (ids < n)
    safe = xp.where(keep, ids, n)  # dropped rows land in a spare last row that is cut off
    out = xp.full((n + 1,) + vals.shape[1:], _identity(reduction, vals.dtype), dtype=vals.dtype)
    try:
        # CuPy has ufunc.at only for some ufuncs (atomics): others raise, and take the one-hot path
        getattr(xp, ufunc).at(out, safe, vals)
    except (AttributeError, NotImplementedError, TypeError):
        hot = safe[None, :] == xp.arange(n + 1, dtype=safe.dtype)[:, None]
        hot = hot.reshape(hot.shape + (1,) * (vals.ndim - 1))
        picked = xp.where(hot, vals[None], xp.asarray(_identity(reduction, vals.dtype), dtype=vals.dtype))
        out = getattr(xp, {"add": "sum", "multiply": "prod", "maximum": "max", "minimum": "min"}[ufunc])(
            picked, axis=1).astype(vals.dtype)
    counts = xp.bincount(safe, minlength=n + 1)
    out, counts = out[:n], counts[:n]
    shaped = counts.reshape((n,) + (1,) * (vals.ndim - 1))
    if reduction == "mean":
        out = (out / xp.maximum(shaped, 1)).astype(vals.dtype)
    elif reduction == "sqrt_n":
        out = (out / xp.sqrt(xp.maximum(shaped, 1).astype(np.float64))).astype(vals.dtype)
    return out, counts


def _check_sorted(xp, ids, n_rows: int, what: str = "segment_ids") -> int:
    """Validates sorted, non-negative ids and returns the number of segments (last id + 1)."""
    if ids.shape[0] != n_rows:
        raise errors.InvalidArgumentError(None, None, f"{what} should be the same size as dimension 0 of input: "
                                          f"got {ids.shape[0]} ids for {n_rows} rows")
    if ids.shape[0] == 0:
        return 0
    if int(ids[0]) < 0:
        raise errors.InvalidArgumentError(None, None, f"{what}[0] = {int(ids[0])} is negative: segment ids "
                                          "must be >= 0 (use unsorted_segment_* to drop rows)")
    if bool((ids[1:] < ids[:-1]).any()):
        raise errors.InvalidArgumentError(None, None, f"{what} are not increasing: sorted segment ops need "
                                          "ids sorted ascending (use unsorted_segment_* for unsorted ids)")
    return int(ids[-1]) + 1


# -- Segment{Sum,Mean,Max,Min,Prod}: sorted ids ------------------------------------------------------
def _segment_shape(ins, attrs):
    data, ids = ins
    if base(ids) not in INDEX_TYPES:
        raise _index_dtype_error("segment_ids", base(ids))
    _set_attrs(attrs, Tindices=base(ids))
    _check_rank(ids, 1)
    dd, sd = dims(data), dims(ids)
    if dd is not None:
        if len(dd) < 1:
            raise ValueError("Shape must be at least rank 1 but is rank 0 (input 'data')")
        if sd is not None:
            try:
                merge_dims(dd[:1], sd)
            except ValueError:
                raise ValueError(f"segment_ids should be the same size as dimension 0 of data, but are {sd[0]} "
                                 f"and {dd[0]}") from None
    return base(data), None if dd is None else (_num_sorted_segments(ids),) + tuple(dd[1:])


def _num_sorted_segments(ids: Tensor) -> int | None:
    """The static row count of a sorted segment reduction: last id + 1 (0 for no ids), None unless constant."""
    iv = constant_value(ids)
    return None if iv is None else (int(np.asarray(iv)[-1]) + 1 if np.asarray(iv).size else 0)


_SEGMENT = dict(inputs=("data", "segment_ids"), attrs={"Tindices": None}, type_inputs=("data",),
                shape=_segment_shape)


def _sorted_kernel(reduction: str):
    def kernel(xp, data, segment_ids):
        n = _check_sorted(xp, segment_ids, data.shape[0])
        out, counts = _scatter(xp, reduction, segment_ids, data, n)
        if reduction in ("maximum", "minimum"):  # TF's sorted max/min of an empty segment is 0
            empty = (counts == 0).reshape((n,) + (1,) * (data.ndim - 1))
            out = xp.where(empty, xp.zeros((), dtype=data.dtype), out)
        return out
    return kernel


segment_sum_kernel = op("SegmentSum", types=REAL_TYPES, **_SEGMENT)(_sorted_kernel("add"))
segment_mean_kernel = op("SegmentMean", types=REAL_TYPES, **_SEGMENT)(_sorted_kernel("mean"))
segment_max_kernel = op("SegmentMax", types=_MIN_MAX_TYPES, **_SEGMENT)(_sorted_kernel("maximum"))
segment_min_kernel = op("SegmentMin", types=_MIN_MAX_TYPES, **_SEGMENT)(_sorted_kernel("minimum"))
segment_prod_kernel = op("SegmentProd", types=REAL_TYPES, **_SEGMENT)(_sorted_kernel("multiply"))


def _ones_column(ids: Tensor, data: Tensor, dtype: Any) -> Tensor:
    """Ones shaped ids.shape + [1] * (rank(data) - rank(ids)): per-row counts that broadcast over data."""
    from labflow.ops.array_ops import fill
    return fill(_broadcast_shape_like(ids, data), convert_to_tensor(1, dtype=dtype))


@segment_sum_kernel.grad
def _segment_sum_grad(op, grad):
    return [gather(grad, op.inputs[1]), None]


@segment_mean_kernel.grad
def _segment_mean_grad(op, grad):
    data, ids = op.inputs
    counts = segment_sum(_ones_column(ids, data, base(grad)), ids)
    return [gather(m.truediv(grad, counts), ids), None]


def _min_max_grad(op, grad):
    data, ids = op.inputs
    is_selected = m.equal(data, gather(op.outputs[0], ids))
    num_selected = segment_sum(m.cast(is_selected, base(grad)), ids)
    gathered = gather(m.truediv(grad, num_selected), ids)
    return [where(is_selected, gathered, zeros_like(data)), None]


segment_max_kernel.grad(_min_max_grad)
segment_min_kernel.grad(_min_max_grad)


@segment_prod_kernel.grad
def _segment_prod_grad(op, grad):
    data, ids = op.inputs
    zero = zeros_like(data)
    is_zero = m.equal(data, zero)
    num_zeros = segment_sum(m.cast(is_zero, _dt.int32), ids)
    # a segment with two or more zeros has a zero gradient everywhere
    grad = where(m.greater(num_zeros, convert_to_tensor(1, dtype=_dt.int32)), zeros_like(grad), grad)
    non_zero = where(is_zero, ones_like(data), data)
    non_zero_prod = segment_prod(non_zero, ids)
    partial = where(is_zero, gather(non_zero_prod, ids), m.truediv(gather(op.outputs[0], ids), non_zero))
    return [m.multiply(gather(grad, ids), partial), None]


def _segment(op_type: str, data: Any, segment_ids: Any, name: str | None) -> Tensor:
    with op_scope(name, op_type, [data, segment_ids]) as scope:
        d = convert_to_tensor(data, name="data")
        i = convert_to_tensor(segment_ids, dtype_hint=_dt.int32, name="segment_ids")
        return make_tensor(op_type, [d, i], None, scope)


_SORTED_DOC = """{what} of the rows of `data` per segment (op type {op}).

    `output[k]` reduces `data[i]` over the rows i with `segment_ids[i] == k`; the output has
    `segment_ids[-1] + 1` rows and data's other dimensions. {empty}

    Args:
        data: a real tensor of rank >= 1.
        segment_ids: a 1-D int32/int64 tensor, sorted ascending, with one id per row of `data`.
        name: the op name.

    Raises:
        InvalidArgumentError: at run time, the ids are not sorted, are negative, or do not match the rows.
    """


def segment_sum(data: Any, segment_ids: Any, name: str | None = None) -> Tensor:
    return _segment("SegmentSum", data, segment_ids, name)


def segment_mean(data: Any, segment_ids: Any, name: str | None = None) -> Tensor:
    return _segment("SegmentMean", data, segment_ids, name)


def segment_max(data: Any, segment_ids: Any, name: str | None = None) -> Tensor:
    return _segment("SegmentMax", data, segment_ids, name)


def segment_min(data: Any, segment_ids: Any, name: str | None = None) -> Tensor:
    return _segment("SegmentMin", data, segment_ids, name)


def segment_prod(data: Any, segment_ids: Any, name: str | None = None) -> Tensor:
    return _segment("SegmentProd", data, segment_ids, name)


segment_sum.__doc__ = _SORTED_DOC.format(what="The sum", op="SegmentSum", empty="An empty segment is 0.")
segment_mean.__doc__ = _SORTED_DOC.format(what="The mean", op="SegmentMean", empty="An empty segment is 0.")
segment_max.__doc__ = _SORTED_DOC.format(what="The maximum", op="SegmentMax", empty="An empty segment is 0.")
segment_min.__doc__ = _SORTED_DOC.format(what="The minimum", op="SegmentMin", empty="An empty segment is 0.")
segment_prod.__doc__ = _SORTED_DOC.format(what="The product", op="SegmentProd", empty="An empty segment is 1.")


# -- UnsortedSegment{Max,Min,Prod} ------------------------------------------------------------------
_UNSORTED = dict(inputs=("data", "segment_ids", "num_segments"), attrs={"Tindices": None, "Tnumsegments": None},
                 type_inputs=("data",), shape=_usum_shape, host_inputs=(2,))


def _unsorted_kernel(reduction: str):
    def kernel(xp, data, segment_ids, num_segments):
        n = _int(num_segments)
        ids = segment_ids.reshape(-1)
        if ids.size and bool((ids >= n).any()):
            bad = int(ids[ids >= n][0])
            raise errors.InvalidArgumentError(None, None, f"segment_ids has the value {bad}, which is out of range "
                                              f"[0, {n}): raise num_segments (negative ids are dropped)")
        vals = data.reshape(ids.shape + data.shape[segment_ids.ndim:])
        return _scatter(xp, reduction, ids, vals, n)[0]
    return kernel


unsorted_segment_max_kernel = op("UnsortedSegmentMax", types=_MIN_MAX_TYPES, **_UNSORTED)(
    _unsorted_kernel("maximum"))
unsorted_segment_min_kernel = op("UnsortedSegmentMin", types=_MIN_MAX_TYPES, **_UNSORTED)(
    _unsorted_kernel("minimum"))
unsorted_segment_prod_kernel = op("UnsortedSegmentProd", types=REAL_TYPES, **_UNSORTED)(
    _unsorted_kernel("multiply"))


def _gather_drop_negatives(params: Tensor, ids: Tensor) -> tuple:
    """gather(params, ids) with the rows of negative ids zeroed; also returns the clipped ids and the mask."""
    clipped = m.maximum(ids, zeros_like(ids))
    gathered = gather(params, clipped)
    is_positive = m.greater_equal(ids, zeros_like(ids))
    keep = m.cast(is_positive, base(params))
    keep = reshape(keep, _broadcast_shape_like(ids, gathered))
    return m.multiply(gathered, keep), clipped, is_positive


def _broadcast_shape_like(ids: Tensor, gathered: Tensor) -> Tensor:
    """ids.shape + [1] * (rank(gathered) - rank(ids)): a per-id value reshaped to this broadcasts over gathered."""
    from labflow.ops.array_join_ops import concat
    from labflow.ops.array_ops import fill, rank
    one = convert_to_tensor(1, dtype=_dt.int32)
    tail = fill(reshape(m.subtract(rank(gathered), rank(ids)), np.array([1], np.int32)), one)
    return concat([shape(ids), tail], 0)


def _unsorted_min_max_grad(op, grad):
    data, ids, n = op.inputs
    gathered_out, _, is_positive = _gather_drop_negatives(op.outputs[0], ids)
    pos = reshape(is_positive, _broadcast_shape_like(ids, gathered_out))
    is_selected = m.logical_and(m.equal(data, gathered_out), pos)
    num_selected = unsorted_segment_sum(m.cast(is_selected, base(grad)), ids, n)
    gathered_grads = _gather_drop_negatives(m.truediv(grad, num_selected), ids)[0]
    return [where(is_selected, gathered_grads, zeros_like(gathered_grads)), None, None]


unsorted_segment_max_kernel.grad(_unsorted_min_max_grad)
unsorted_segment_min_kernel.grad(_unsorted_min_max_grad)


@unsorted_segment_prod_kernel.grad
def _unsorted_segment_prod_grad(op, grad):
    data, ids, n = op.inputs
    is_zero = m.equal(data, zeros_like(data))
    num_zeros = unsorted_segment_sum(m.cast(is_zero, _dt.int32), ids, n)
    grad = where(m.greater(num_zeros, convert_to_tensor(1, dtype=_dt.int32)), zeros_like(grad), grad)
    non_zero = where(is_zero, ones_like(data), data)
    non_zero_prod = unsorted_segment_prod(non_zero, ids, n)
    clipped = m.maximum(ids, zeros_like(ids))
    partial = where(is_zero, gather(non_zero_prod, clipped), m.truediv(gather(op.outputs[0], clipped), non_zero))
    gathered_grad = _gather_drop_negatives(grad, ids)[0]
    return [m.multiply(gathered_grad, partial), None, None]


def _unsorted(op_type: str, data: Any, segment_ids: Any, num_segments: Any, name: str | None) -> Tensor:
    with op_scope(name, op_type, [data, segment_ids, num_segments]) as scope:
        d = convert_to_tensor(data, name="data")
        i = convert_to_tensor(segment_ids, dtype_hint=_dt.int32, name="segment_ids")
        n = convert_to_tensor(num_segments, dtype_hint=_dt.int32, name="num_segments")
        return make_tensor(op_type, [d, i, n], None, scope)


_UNSORTED_DOC = """{what} of the slices of `data` per segment id (op type {op}).

    `output[k]` reduces `data[i...]` over the index tuples with `segment_ids[i...] == k`. Ids may repeat
    and come in any order; negative ids are dropped. `segment_ids.shape` must be a prefix of
    `data.shape`; the output has shape `[num_segments] + data.shape[segment_ids.ndim:]`. {empty}

    Args:
        data: a real tensor.
        segment_ids: an int32/int64 tensor whose shape is a prefix of data's.
        num_segments: a scalar int32/int64, the number of output rows.
        name: the op name.
    """


def unsorted_segment_max(data: Any, segment_ids: Any, num_segments: Any, name: str | None = None) -> Tensor:
    return _unsorted("UnsortedSegmentMax", data, segment_ids, num_segments, name)


def unsorted_segment_min(data: Any, segment_ids: Any, num_segments: Any, name: str | None = None) -> Tensor:
    return _unsorted("UnsortedSegmentMin", data, segment_ids, num_segments, name)


def unsorted_segment_prod(data: Any, segment_ids: Any, num_segments: Any, name: str | None = None) -> Tensor:
    return _unsorted("UnsortedSegmentProd", data, segment_ids, num_segments, name)


unsorted_segment_max.__doc__ = _UNSORTED_DOC.format(
    what="The maximum", op="UnsortedSegmentMax", empty="An empty segment holds the dtype's lowest value.")
unsorted_segment_min.__doc__ = _UNSORTED_DOC.format(
    what="The minimum", op="UnsortedSegmentMin", empty="An empty segment holds the dtype's highest value.")
unsorted_segment_prod.__doc__ = _UNSORTED_DOC.format(
    what="The product", op="UnsortedSegmentProd", empty="An empty segment is 1.")


def _segment_counts(data: Tensor, ids: Tensor, n: Any) -> Tensor:
    """Rows per segment (at least 1), shaped to broadcast over the unsorted_segment_sum of data (TF's
    _unsorted_segment_N)."""
    ones = _ones_column(ids, data, base(data))
    counts = unsorted_segment_sum(ones, ids, n)
    return m.maximum(counts, convert_to_tensor(1, dtype=base(data)))


def unsorted_segment_mean(data: Any, segment_ids: Any, num_segments: Any, name: str | None = None) -> Tensor:
    """The mean of the slices of `data` per segment id, composed as TF does (UnsortedSegmentSum / count).

    Ids may repeat and come in any order; negative ids are dropped; an empty segment is 0.
    """
    with op_scope(name, "UnsortedSegmentMean", [data, segment_ids, num_segments]):
        d = convert_to_tensor(data, name="data")
        if not (d.dtype.is_floating or d.dtype.is_complex):
            raise TypeError(f"unsorted_segment_mean needs float data, got {d.dtype.name}: cast it first")
        i = convert_to_tensor(segment_ids, dtype_hint=_dt.int32, name="segment_ids")
        return m.truediv(unsorted_segment_sum(d, i, num_segments), _segment_counts(d, i, num_segments))


def unsorted_segment_sqrt_n(data: Any, segment_ids: Any, num_segments: Any, name: str | None = None) -> Tensor:
    """The sum of the slices of `data` per segment id divided by sqrt(count), composed as TF does.

    Ids may repeat and come in any order; negative ids are dropped; an empty segment is 0.
    """
    with op_scope(name, "UnsortedSegmentSqrtN", [data, segment_ids, num_segments]):
        d = convert_to_tensor(data, name="data")
        if not d.dtype.is_floating:
            raise TypeError(f"unsorted_segment_sqrt_n needs float data, got {d.dtype.name}: cast it first")
        i = convert_to_tensor(segment_ids, dtype_hint=_dt.int32, name="segment_ids")
        return m.truediv(unsorted_segment_sum(d, i, num_segments), m.sqrt(_segment_counts(d, i, num_segments)))


from labflow.ops.sparse_segment_ops import (  # noqa: E402 - the sparse_segment_* part of the family
    sparse_segment_mean,
    sparse_segment_sqrt_n,
    sparse_segment_sum,
)
