"""Array ops that sort, search or count: unique, setdiff1d, sort/argsort, searchsorted, bincount,
histogram_fixed_width, unravel_index and confusion_matrix."""

from __future__ import annotations

import collections
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import name_scope
from labflow.framework.registry import op
from labflow.framework.shapes import shape_str
from labflow.framework.tensor import Tensor
from labflow.ops.array_ops import _int, _set_attrs
from labflow.ops.common import (
    ALL_TYPES,
    INDEX_TYPES,
    REAL_TYPES,
    base,
    constant_value,
    convert_same_dtype,
    convert_to_tensor,
    dims,
    make_op,
    make_tensor,
    merge_dims,
)

__all__ = ["unique", "unique_with_counts", "setdiff1d", "sort", "argsort", "searchsorted", "bincount",
           "histogram_fixed_width", "histogram_fixed_width_bins", "unravel_index", "confusion_matrix"]

UniqueOutput = collections.namedtuple("Unique", ["y", "idx"])
UniqueWithCountsOutput = collections.namedtuple("UniqueWithCounts", ["y", "idx", "count"])
ListDiffOutput = collections.namedtuple("ListDiff", ["out", "idx"])


def _vector(t: Tensor, op_type: str, what: str) -> tuple | None:
    d = dims(t)
    if d is not None and len(d) != 1:
        raise ValueError(f"Shape must be rank 1 but is rank {len(d)} for '{op_type}' (input '{what}')")
    return d


def _check_out_type(dt: Any, what: str) -> _dt.DType:
    dt = _dt.as_dtype(dt).base_dtype
    if dt not in INDEX_TYPES:
        raise TypeError(f"{what} must be int32 or int64, got {dt.name}")
    return dt


# -- Unique / UniqueWithCounts ----------------------------------------------------------------------------
def _first_occurrence_unique(xp, x):
    """Distinct values of `x` in order of first appearance, and each entry's position among them."""
    _, first, inv, counts = xp.unique(x, return_index=True, return_inverse=True, return_counts=True)
    order = xp.argsort(first)
    rank = xp.empty_like(order)
    rank[order] = xp.arange(order.shape[0])
    return x[first[order]], rank[inv.reshape(-1)], counts[order]


def _unique_shape(with_counts: bool):
    def fn(ins, attrs):
        _vector(ins[0], "Unique", "x")
        out = [(base(ins[0]), (None,)), (attrs["out_idx"], dims(ins[0]) or (None,))]
        return out + [(attrs["out_idx"], (None,))] if with_counts else out
    return fn


@op("Unique", inputs=("x",), attrs={"out_idx": _dt.int32}, types=ALL_TYPES, shape=_unique_shape(False), outputs=2,
    output_names=("y", "idx"), not_differentiable=True)
def unique_kernel(xp, x, *, out_idx):
    y, idx, _ = _first_occurrence_unique(xp, x)
    return y, idx.astype(out_idx.as_numpy_dtype, copy=False)


@op("UniqueWithCounts", inputs=("x",), attrs={"out_idx": _dt.int32}, types=ALL_TYPES, shape=_unique_shape(True),
    outputs=3, output_names=("y", "idx", "count"), not_differentiable=True)
def unique_with_counts_kernel(xp, x, *, out_idx):
    y, idx, counts = _first_occurrence_unique(xp, x)
    dt = out_idx.as_numpy_dtype
    return y, idx.astype(dt, copy=False), counts.astype(dt, copy=False)


def unique(x: Any, out_idx: Any = _dt.int32, name: str | None = None) -> UniqueOutput:
    """The distinct values of the 1-D tensor `x` in order of first appearance, and `idx` with
    `x == y[idx]`. Returns a namedtuple `(y, idx)`."""
    t = convert_to_tensor(x, name="x")
    o = make_op("Unique", [t], {"out_idx": _check_out_type(out_idx, "out_idx")}, name or "Unique")
    return UniqueOutput(*o.outputs)


def unique_with_counts(x: Any, out_idx: Any = _dt.int32, name: str | None = None) -> UniqueWithCountsOutput:
    """Like `unique`, plus `count[i]`: how often `y[i]` occurs in `x`. Returns `(y, idx, count)`."""
    t = convert_to_tensor(x, name="x")
    o = make_op("UniqueWithCounts", [t], {"out_idx": _check_out_type(out_idx, "out_idx")}, name or "UniqueWithCounts")
    return UniqueWithCountsOutput(*o.outputs)


# -- ListDiff ----------------------------------------------------------------------------------------------
def _list_diff_shape(ins, attrs):
    _vector(ins[0], "ListDiff", "x")
    _vector(ins[1], "ListDiff", "y")
    return [(base(ins[0]), (None,)), (attrs["out_idx"], (None,))]


@op("ListDiff", inputs=("x", "y"), attrs={"out_idx": _dt.int32}, types=ALL_TYPES, shape=_list_diff_shape, outputs=2,
    output_names=("out", "idx"), not_differentiable=True)
def list_diff_kernel(xp, x, y, *, out_idx):
    if y.shape[0]:
        ys = xp.sort(y)
        pos = xp.minimum(xp.searchsorted(ys, x), ys.shape[0] - 1)
        keep = ys[pos] != x
    else:
        keep = xp.ones(x.shape, dtype=bool)
    idx = xp.nonzero(keep)[0]
    return x[idx], idx.astype(out_idx.as_numpy_dtype, copy=False)


def setdiff1d(x: Any, y: Any, index_dtype: Any = _dt.int32, name: str | None = None) -> ListDiffOutput:
    """The entries of the 1-D `x` that are not in `y`, in x's order (duplicates kept), and their
    positions in x. Returns a namedtuple `(out, idx)`."""
    xt, yt = convert_same_dtype([x, y])
    o = make_op("ListDiff", [xt, yt], {"out_idx": _check_out_type(index_dtype, "index_dtype")}, name or "ListDiff")
    return ListDiffOutput(*o.outputs)


# -- sort / argsort (composites of top_k, as in TF) --------------------------------------------------------
def _sort_or_argsort(values: Any, axis: Any, direction: str, return_argsort: bool, name: str | None,
                     default: str) -> Tensor:
    from labflow.ops import math_ops
    from labflow.ops.array_reshape_ops import transpose
    from labflow.ops.nn_extra_ops import top_k
    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError(f"{default}: direction must be 'ASCENDING' or 'DESCENDING', got {direction!r}")
    with name_scope(name, default, [values]):
        x = convert_to_tensor(values, name="values")
        if base(x) not in REAL_TYPES:
            raise TypeError(f"{default}: values must be a real number tensor, got {base(x).name}")
        av = constant_value(axis) if isinstance(axis, Tensor) else axis
        if av is None or np.ndim(av) != 0:
            raise ValueError(f"{default}: axis must be a constant scalar int, got {axis!r}")
        a = int(av)
        d = dims(x)
        if d is None and a != -1:
            raise ValueError(f"{default} along axis {a} needs values of known rank (axis=-1 works for any rank)")
        if d is not None:
            r = len(d)
            if r == 0:
                raise ValueError(f"{default}: values must have rank >= 1, got a scalar")
            if not -r <= a < r:
                raise ValueError(f"{default}: axis {a} is out of range for a tensor of rank {r}")
            a %= r
        last = d is None or a == len(d) - 1
        perm = None if last else list(range(a)) + list(range(a + 1, len(d))) + [a]
        moved = x if perm is None else transpose(x, perm)
        ascending = direction == "ASCENDING"
        if ascending:
            # top_k sorts descending (and keeps equal values in index order): sort a reversed-order image.
            top = _dt.as_dtype(base(x)).max if base(x).is_unsigned else None
            flip = (lambda t: math_ops.subtract(top, t)) if top is not None else math_ops.negative
            moved = flip(moved)
        n = d[a] if d is not None and d[a] is not None else _last_dim(moved)
        vals, idx = top_k(moved, n)
        out = idx if return_argsort else (flip(vals) if ascending else vals)
        if perm is not None:
            out = transpose(out, list(np.argsort(perm)))
        return out


def _last_dim(t: Tensor) -> Tensor:
    from labflow.ops.array_ops import shape
    return shape(t)[-1]


def sort(values: Any, axis: Any = -1, direction: str = "ASCENDING", name: str | None = None) -> Tensor:
    """`values` sorted along `axis` ('ASCENDING' or 'DESCENDING'); built on top_k, so it has a gradient."""
    return _sort_or_argsort(values, axis, direction, False, name, "sort")


def argsort(values: Any, axis: Any = -1, direction: str = "ASCENDING", stable: bool = False,
            name: str | None = None) -> Tensor:
    """int32 indices that sort `values` along `axis`. The order is always stable (equal values keep their
    index order), so `stable=True` costs nothing extra."""
    return _sort_or_argsort(values, axis, direction, True, name, "argsort")


# -- LowerBound / UpperBound ---------------------------------------------------------------------------
def _bound_shape(ins, attrs):
    s, v = ins
    sd, vd = dims(s), dims(v)
    for d, what in ((sd, "sorted_inputs"), (vd, "values")):
        if d is not None and len(d) < 1:
            raise ValueError(f"Shape must be at least rank 1 but is rank 0 for input '{what}' of searchsorted")
    if sd is not None and vd is not None:
        if len(sd) != len(vd):
            raise ValueError(f"searchsorted: sorted_sequence {shape_str(sd)} and values {shape_str(vd)} must have "
                             "the same rank")
        merge_dims(sd[:-1], vd[:-1])
    return attrs["out_type"], vd


def _bound_kernel(side: str):
    def kernel(xp, sorted_inputs, values, *, out_type):
        if sorted_inputs.shape[:-1] != values.shape[:-1]:
            raise errors.InvalidArgumentError(
                None, None, f"searchsorted: the leading dimensions of sorted_sequence {list(sorted_inputs.shape)} "
                f"and values {list(values.shape)} must match")
        dt = out_type.as_numpy_dtype
        if sorted_inputs.ndim == 1:
            return xp.searchsorted(sorted_inputs, values, side=side).astype(dt, copy=False)
        # Batched: one stable sort per row of the values merged with the sequence. Ties put a value before
        # equal sequence entries (left: values come first) or after them (right: values come last); a value's
        # answer is then the number of sequence entries sorted ahead of it.
        n, m = sorted_inputs.shape[-1], values.shape[-1]
        s = sorted_inputs.reshape(-1, n)
        v = values.reshape(-1, m)
        merged = xp.concatenate([v, s] if side == "left" else [s, v], axis=1)
        order = xp.argsort(merged, axis=1, kind="stable")
        from_seq = (order >= m) if side == "left" else (order < n)
        ahead = xp.cumsum(from_seq, axis=1) - from_seq
        where = xp.argsort(order, axis=1)[:, :m] if side == "left" else xp.argsort(order, axis=1)[:, n:]
        return xp.take_along_axis(ahead, where, axis=1).reshape(values.shape).astype(dt, copy=False)
    return kernel


for _name, _side in (("LowerBound", "left"), ("UpperBound", "right")):
    op(_name, inputs=("sorted_inputs", "values"), attrs={"out_type": _dt.int32}, types=REAL_TYPES,
       shape=_bound_shape, not_differentiable=True)(_bound_kernel(_side))


def searchsorted(sorted_sequence: Any, values: Any, side: str = "left", out_type: Any = _dt.int32,
                 name: str | None = None) -> Tensor:
    """For each value, the index at which it would be inserted into the innermost sorted rows.

    Args:
        sorted_sequence: tensor [..., N], sorted ascending along the last dimension.
        values: tensor [..., M] with the same leading dimensions.
        side: 'left' (first suitable position: LowerBound) or 'right' (last: UpperBound).
        out_type: int32 or int64.
        name: op name.
    """
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    s, v = convert_same_dtype([sorted_sequence, values])
    op_type = "LowerBound" if side == "left" else "UpperBound"
    return make_tensor(op_type, [s, v], {"out_type": _check_out_type(out_type, "out_type")}, name or op_type)


# -- Bincount --------------------------------------------------------------------------------------------
def _bincount_shape(ins, attrs):
    arr, size, w = ins
    if base(arr) != _dt.int32:
        raise TypeError(f"Bincount: arr must be int32, got {base(arr).name}")
    sv = constant_value(size)
    return base(w), (None if sv is None else int(sv),)


@op("Bincount", inputs=("arr", "size", "weights"), types=(_dt.int32, _dt.int64, _dt.float32, _dt.float64),
    type_inputs=("weights",), shape=_bincount_shape, host_inputs=(1,), not_differentiable=True)
def bincount_kernel(xp, arr, size, weights):
    n = _int(size)
    if n < 0:
        raise errors.InvalidArgumentError(None, None, f"Bincount: size ({n}) must be non-negative")
    flat = arr.reshape(-1)
    if flat.size and bool((flat < 0).any()):
        raise errors.InvalidArgumentError(None, None, "Bincount: input arr must be non-negative!")
    keep = flat < n
    w = None
    if weights.size:
        if weights.shape != arr.shape:
            raise errors.InvalidArgumentError(None, None, f"Bincount: weights {list(weights.shape)} must have the "
                                              f"shape of arr {list(arr.shape)} or be empty")
        w = weights.reshape(-1)[keep]
    counts = xp.bincount(flat[keep], weights=w, minlength=n)[:n]
    return counts.astype(weights.dtype, copy=False)


def bincount(arr: Any, weights: Any = None, minlength: Any = None, maxlength: Any = None, dtype: Any = _dt.int32,
             name: str | None = None) -> Tensor:
    """Counts the occurrences of each value in the non-negative int32 tensor `arr`.

    The output has length `max(arr) + 1` (0 for an empty arr), raised to `minlength` and cut to
    `maxlength`. With `weights` (arr's shape) it sums weights instead of counting, in their dtype.
    """
    from labflow.ops import math_ops
    from labflow.ops.array_join_ops import concat
    from labflow.ops.array_ops import reshape
    with name_scope(name, "bincount", [arr, weights, minlength, maxlength]):
        a = convert_to_tensor(arr, dtype=_dt.int32, name="arr")
        # max(arr) + 1, or 0 for an empty arr: the -1 appended keeps the max defined
        padded = concat([reshape(a, [-1]), convert_to_tensor(np.array([-1], np.int32))], 0)
        out_size = math_ops.add(math_ops.reduce_max(padded), 1)
        if minlength is not None:
            out_size = math_ops.maximum(convert_to_tensor(minlength, dtype=_dt.int32), out_size)
        if maxlength is not None:
            out_size = math_ops.minimum(convert_to_tensor(maxlength, dtype=_dt.int32), out_size)
        if weights is None:
            w = convert_to_tensor(np.zeros([0], _dt.as_dtype(dtype).as_numpy_dtype))
        else:
            w = convert_to_tensor(weights, name="weights")
        return make_tensor("Bincount", [a, out_size, w], None, "Bincount")


# -- HistogramFixedWidth -------------------------------------------------------------------------------
def _histogram_shape(ins, attrs):
    v, rng, nb = ins
    rd = dims(rng)
    if rd is not None and rd != (2,) and rd != (None,):
        raise ValueError(f"HistogramFixedWidth: value_range must have shape [2], got {shape_str(rd)}")
    if base(nb) != _dt.int32:
        raise TypeError(f"HistogramFixedWidth: nbins must be int32, got {base(nb).name}")
    nv = constant_value(nb)
    if nv is not None and int(nv) <= 0:
        raise ValueError(f"HistogramFixedWidth: nbins should be a positive number, but got '{int(nv)}'")
    return attrs["dtype"], (None if nv is None else int(nv),)


@op("HistogramFixedWidth", inputs=("values", "value_range", "nbins"), attrs={"dtype": _dt.int32},
    types=(_dt.int32, _dt.int64, _dt.float32, _dt.float64), type_inputs=("values", "value_range"),
    shape=_histogram_shape, host_inputs=(2,), not_differentiable=True)
def histogram_fixed_width_kernel(xp, values, value_range, nbins, *, dtype):
    n = _int(nbins)
    if n <= 0:
        raise errors.InvalidArgumentError(None, None, f"HistogramFixedWidth: nbins should be a positive number, but "
                                          f"got '{n}'")
    lo, hi = value_range[0].astype(np.float64), value_range[1].astype(np.float64)
    scaled = (values.reshape(-1).astype(np.float64) - lo) / (hi - lo) * n
    idx = xp.clip(xp.floor(scaled), 0, n - 1).astype(np.int64)
    return xp.bincount(idx, minlength=n)[:n].astype(dtype.as_numpy_dtype, copy=False)


def histogram_fixed_width(values: Any, value_range: Any, nbins: Any = 100, dtype: Any = _dt.int32,
                          name: str | None = None) -> Tensor:
    """Counts `values` in `nbins` equal-width bins over `value_range` = [lo, hi]; values below lo go to
    the first bin and values at or above hi to the last."""
    v = convert_to_tensor(values, name="values")
    r = convert_to_tensor(value_range, dtype=base(v), name="value_range")
    nb = convert_to_tensor(nbins, dtype=_dt.int32, name="nbins")
    dt = _check_out_type(dtype, "dtype")
    return make_tensor("HistogramFixedWidth", [v, r, nb], {"dtype": dt}, name or "HistogramFixedWidth")


def histogram_fixed_width_bins(values: Any, value_range: Any, nbins: Any = 100, dtype: Any = _dt.int32,
                               name: str | None = None) -> Tensor:
    """The bin index of each entry of `values` (its shape) for `nbins` equal-width bins over `value_range`;
    values below the range go to bin 0 and values at or above its end to bin nbins - 1. A composite, as in TF."""
    from labflow.ops import math_ops
    from labflow.ops.array_ops import reshape, shape
    from labflow.ops.clip_ops import clip_by_value
    dt = _check_out_type(dtype, "dtype")
    with name_scope(name, "histogram_fixed_width_bins", [values, value_range, nbins]):
        v = convert_to_tensor(values, name="values")
        if not base(v).is_floating:
            v = math_ops.cast(v, _dt.float32)
        rng = convert_to_tensor(value_range, dtype=base(v), name="value_range")
        nb = math_ops.cast(convert_to_tensor(nbins, dtype=_dt.int32, name="nbins"), base(v))
        scaled = math_ops.truediv(math_ops.subtract(reshape(v, [-1]), rng[0]), math_ops.subtract(rng[1], rng[0]))
        idx = clip_by_value(math_ops.floor(math_ops.multiply(nb, scaled)), 0.0, math_ops.subtract(nb, 1.0))
        return reshape(math_ops.cast(idx, dt), shape(v))


# -- UnravelIndex -------------------------------------------------------------------------------------------
def _unravel_shape(ins, attrs):
    i, d = ins
    if base(i) not in INDEX_TYPES or base(d) != base(i):
        raise TypeError(f"UnravelIndex: indices and dims must share an int32/int64 dtype, got {base(i).name} "
                        f"and {base(d).name}")
    _set_attrs(attrs, Tidx=base(i))
    idd, dd = dims(i), dims(d)
    if idd is not None and len(idd) > 1:
        raise ValueError(f"UnravelIndex: indices must be a scalar or a vector, got shape {shape_str(idd)}")
    if dd is not None and len(dd) != 1:
        raise ValueError(f"UnravelIndex: dims must be a vector, got shape {shape_str(dd)}")
    nd = None if dd is None else dd[0]
    if idd is None:
        return base(i), None
    return base(i), (nd,) + tuple(idd)


@op("UnravelIndex", inputs=("indices", "dims"), attrs={"Tidx": None}, shape=_unravel_shape, host_inputs=(1,),
    not_differentiable=True)
def unravel_index_kernel(xp, indices, dims):
    shape = tuple(int(v) for v in np.asarray(dims).tolist())
    total = int(np.prod(shape, dtype=np.int64))
    if indices.size and bool(((indices < 0) | (indices >= total)).any()):
        raise errors.InvalidArgumentError(None, None, f"UnravelIndex: index out of bounds: every index must be in "
                                          f"[0, {total}) for dims {list(shape)}")
    if not shape:
        return xp.zeros((0,) + indices.shape, dtype=indices.dtype)
    return xp.stack(xp.unravel_index(indices, shape)).astype(indices.dtype, copy=False)


def unravel_index(indices: Any, dims: Any, name: str | None = None) -> Tensor:
    """Converts flat indices into coordinate tuples of an array of shape `dims`: the output is [len(dims)]
    for a scalar index, [len(dims), n] for a vector of n."""
    i = convert_to_tensor(indices, dtype_hint=_dt.int32, name="indices")
    d = convert_to_tensor(dims, dtype=base(i), name="dims")
    return make_tensor("UnravelIndex", [i, d], None, name or "UnravelIndex")


# -- confusion_matrix (a composite of scatter_nd, as in TF) ------------------------------------------------
def confusion_matrix(labels: Any, predictions: Any, num_classes: Any = None, dtype: Any = _dt.int32,
                     name: str | None = None, weights: Any = None) -> Tensor:
    """The [num_classes, num_classes] matrix counting (label, prediction) pairs: rows are labels.

    Args:
        labels, predictions: 1-D int tensors of one length, values in [0, num_classes).
        num_classes: the number of classes (default: 1 + the largest label or prediction).
        dtype: the output dtype (default int32).
        name: name scope (default "confusion_matrix").
        weights: optional 1-D tensor: each pair adds its weight instead of 1.

    Raises:
        ValueError: labels and predictions of different static shapes.
        InvalidArgumentError (at run time): a label or prediction outside [0, num_classes).
    """
    from labflow.ops import math_ops
    from labflow.ops.array_join_ops import concat, stack
    from labflow.ops.array_nd_ops import scatter_nd
    from labflow.ops.array_ops import ones_like, reshape
    dt = _dt.as_dtype(dtype).base_dtype
    with name_scope(name, "confusion_matrix", [labels, predictions, num_classes, weights]):
        lab = math_ops.cast(convert_to_tensor(labels, name="labels"), _dt.int64)
        pred = math_ops.cast(convert_to_tensor(predictions, name="predictions"), _dt.int64)
        lab.get_shape().assert_is_compatible_with(pred.get_shape())
        if num_classes is None:
            # 1 + the largest label or prediction; the -1 appended keeps the max defined for empty inputs
            both = concat([reshape(lab, [-1]), reshape(pred, [-1]), convert_to_tensor(np.array([-1], np.int64))], 0)
            n = math_ops.add(math_ops.reduce_max(both), 1)
        else:
            n = math_ops.cast(convert_to_tensor(num_classes, name="num_classes"), _dt.int64)
        idx = stack([lab, pred], axis=1)
        vals = ones_like(pred, dtype=dt) if weights is None else math_ops.cast(convert_to_tensor(weights), dt)
        return scatter_nd(idx, vals, stack([n, n]))
