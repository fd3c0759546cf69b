"""Array ops that index by value: gather, unsorted_segment_sum, one_hot, where/select and
boolean_mask. Part of the array family (re-exported by array_ops)."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.convert import make_const
from labflow.framework.registry import op
from labflow.framework.shapes import shape_str
from labflow.framework.tensor import IndexedSlices, Tensor
from labflow.ops.array_join_ops import concat
from labflow.ops.array_ops import (
    _check_rank,
    _int,
    _int_const,
    _merge_dims,
    _scatter_add,
    _set_attrs,
    _shape_of,
    ones_like,
    reshape,
    size,
    zeros_like,
)
from labflow.ops.array_reshape_ops import expand_dims, squeeze, transpose
from labflow.ops.array_slice_ops import _index_dtype_error
from labflow.ops.common import (
    ALL_TYPES,
    INDEX_TYPES,
    NUMERIC_TYPES,
    base,
    constant_value,
    convert_same_dtype,
    convert_to_tensor,
    dims,
    make_tensor,
)

__all__ = ["gather", "unsorted_segment_sum", "one_hot", "where", "boolean_mask"]


# -- GatherV2 / UnsortedSegmentSum ------------------------------------------------------------------
def _gather_shape(ins, attrs):
    p, i, a = ins
    _check_rank(a, 0)
    if base(i) not in INDEX_TYPES:
        raise _index_dtype_error("indices", base(i))
    _set_attrs(attrs, Tparams=base(p), Tindices=base(i), Taxis=base(a))
    if attrs["batch_dims"] != 0:
        raise ValueError(f"GatherV2 with batch_dims={attrs['batch_dims']} is not supported (only 0)")
    pd, idd, av = dims(p), dims(i), constant_value(a)
    if pd is None or idd is None:
        return base(p), None
    r = len(pd)
    if av is None:
        return base(p), (None,) * (r - 1 + len(idd))
    ax = int(av)
    if not -r <= ax < r:
        raise ValueError(f"Expected axis in the range [{-r}, {r}), but got {ax}")
    ax %= r
    return base(p), pd[:ax] + idd + pd[ax + 1:]


@op("GatherV2", inputs=("params", "indices", "axis"),
    attrs={"batch_dims": 0, "Tparams": None, "Tindices": None, "Taxis": None}, shape=_gather_shape,
    host_inputs=(2,))
def gather_kernel(xp, params, indices, axis):
    return xp.take(params, indices, axis=_int(axis))


@gather_kernel.grad
def _gather_grad(op, grad):
    params, indices, axis = op.inputs
    grad = convert_to_tensor(grad)
    g = grad.graph
    av, pd, idd = constant_value(axis), dims(params), dims(indices)
    pshape = _shape_of(params)
    if av is not None and int(av) == 0:
        # Sparse: the rows of params that were gathered, with their gradients (TF's IndexedSlices).
        if idd is not None and len(idd) == 1:
            return [IndexedSlices(grad, indices, pshape), None, None]
        if pd is not None and all(d is not None for d in pd[1:]):
            values_shape = _int_const((-1,) + pd[1:], g)
        else:
            values_shape = concat([expand_dims(size(indices), 0), pshape[1:]], 0)
        flat = reshape(indices, _int_const([-1], g))
        return [IndexedSlices(reshape(grad, values_shape), flat, pshape), None, None]
    if av is None or pd is None:
        raise ValueError(f"Gradient of gather '{op.name}' along a non-zero axis needs a static axis and a "
                         "params tensor of known rank")
    # Dense: move the gathered axis to the front, sum rows per index, move it back.
    r, a = len(pd), int(av) % len(pd)
    if all(d is not None for d in pd[:a] + pd[a + 1:]):
        values_shape = _int_const(pd[:a] + (-1,) + pd[a + 1:], g)
    else:
        values_shape = concat([pshape[:a], [-1], pshape[a + 1:]], 0)
    perm = [a] + list(builtins.range(a)) + list(builtins.range(a + 1, r))
    moved = transpose(reshape(grad, values_shape), perm)
    n = pd[a] if pd[a] is not None else pshape[a]
    summed = unsorted_segment_sum(moved, reshape(indices, _int_const([-1], g)), n)
    return [transpose(summed, list(np.argsort(perm))), None, None]


def gather(params: Any, indices: Any, validate_indices: Any = None, name: str | None = None, axis: Any = None,
           batch_dims: int = 0) -> Tensor:
    """Gathers slices of `params` along `axis` (default 0) at `indices` (any shape, int32/int64).

    The output shape is `params.shape[:axis] + indices.shape + params.shape[axis + 1:]`. Its gradient
    with respect to `params` along axis 0 is an IndexedSlices (only the gathered rows).
    """
    p = convert_to_tensor(params)
    i = convert_to_tensor(indices, dtype_hint=_dt.int32)
    a = convert_to_tensor(0 if axis is None else axis, dtype_hint=_dt.int32)
    if base(a) not in INDEX_TYPES:
        raise _index_dtype_error("axis", base(a))
    return make_tensor("GatherV2", [p, i, a], {"batch_dims": int(batch_dims)}, name or "GatherV2")


def _usum_shape(ins, attrs):
    data, ids, n = ins
    _check_rank(n, 0)
    if base(ids) not in INDEX_TYPES:
        raise _index_dtype_error("segment_ids", base(ids))
    if base(n) not in INDEX_TYPES:
        raise _index_dtype_error("num_segments", base(n))
    _set_attrs(attrs, Tindices=base(ids), Tnumsegments=base(n))
    dd, sd, nv = dims(data), dims(ids), constant_value(n)
    num = None if nv is None else int(nv)
    if num is not None and num < 0:
        raise ValueError(f"num_segments must be non-negative, got {num}")
    if dd is None or sd is None:
        return base(data), None
    try:
        if len(sd) > len(dd):
            raise ValueError
        _merge_dims(dd[:len(sd)], sd)
    except ValueError:
        raise ValueError(f"data.shape = {shape_str(dd)} does not start with segment_ids.shape = "
                         f"{shape_str(sd)}") from None
    return base(data), (num,) + dd[len(sd):]


@op("UnsortedSegmentSum", inputs=("data", "segment_ids", "num_segments"),
    attrs={"Tindices": None, "Tnumsegments": None}, types=NUMERIC_TYPES, type_inputs=("data",),
    shape=_usum_shape, host_inputs=(2,))
def unsorted_segment_sum_kernel(xp, data, segment_ids, num_segments):
    n = _int(num_segments)
    ids = segment_ids.reshape(-1)
    # Checked on the CPU only, as TF does: on a GPU the check would cost a device->host sync on the hot
    # path of every embedding gradient.
    if xp is np and ids.size and int(ids.max()) >= n:
        from labflow import errors
        raise errors.InvalidArgumentError(None, None, f"UnsortedSegmentSum: segment_ids has the value "
                                          f"{int(ids.max())}, which is out of range [0, {n}): raise "
                                          "num_segments (negative ids are dropped)")
    vals = data.reshape(ids.shape + data.shape[segment_ids.ndim:])
    out = xp.zeros((n + 1,) + vals.shape[1:], dtype=data.dtype)
    # Negative ids are dropped (TF's rule): they land in a spare last row that is cut off.
    _scatter_add(xp, out, xp.where(ids < 0, n, ids), vals)
    return out[:n]


@unsorted_segment_sum_kernel.grad
def _unsorted_segment_sum_grad(op, grad):
    from labflow.ops import math_ops
    ids = op.inputs[1]
    grad = convert_to_tensor(grad)
    zero = make_const(np.array(0, base(ids).as_numpy_dtype), base(ids))
    gathered = gather(grad, math_ops.maximum(ids, zero))
    # Rows whose id was negative were dropped, so their gradient is zero.
    keep = math_ops.cast(math_ops.greater_equal(ids, zero), base(grad))
    keep = reshape(keep, concat([_shape_of(ids), ones_like(_shape_of(grad)[1:])], 0))
    return [math_ops.multiply(gathered, keep), None, None]


def unsorted_segment_sum(data: Any, segment_ids: Any, num_segments: Any, name: str | None = None) -> Tensor:
    """Sums the slices of `data` per segment id: `out[k] = sum(data[i] for segment_ids[i] == k)`.

    Ids may repeat and come in any order; negative ids are dropped. `segment_ids.shape` must be a prefix
    of `data.shape`; the output has shape `[num_segments] + data.shape[segment_ids.ndim:]`.
    """
    d = convert_to_tensor(data)
    i = convert_to_tensor(segment_ids, dtype_hint=_dt.int32)
    n = convert_to_tensor(num_segments, dtype_hint=_dt.int32)
    return make_tensor("UnsortedSegmentSum", [d, i, n], None, name or "UnsortedSegmentSum")


# -- OneHot -----------------------------------------------------------------------------------------
_ONE_HOT_INDEX_TYPES = (_dt.uint8, _dt.int32, _dt.int64)


def _one_hot_shape(ins, attrs):
    idx, depth, on, off = ins
    if base(idx) not in _ONE_HOT_INDEX_TYPES:
        raise TypeError(f"Value passed to parameter 'indices' has DataType {base(idx).name} not in list of "
                        "allowed values: uint8, int32, int64")
    for t in (depth, on, off):
        _check_rank(t, 0)
    _set_attrs(attrs, TI=base(idx))
    dv = constant_value(depth)
    d = None if dv is None else int(dv)
    if d is not None and d < 0:
        raise ValueError(f"depth must be non-negative, got: {d}")
    idd, a = dims(idx), attrs["axis"]
    r = None if idd is None else len(idd)
    if a < -1 or (r is not None and a > r):
        raise ValueError(f"Expected axis to be -1 or between [0, {'?' if r is None else r + 1}).  But "
                         f"received: {a}")
    if idd is None:
        return base(on), None
    pos = r if a == -1 else a
    return base(on), idd[:pos] + (d,) + idd[pos:]


@op("OneHot", inputs=("indices", "depth", "on_value", "off_value"), attrs={"axis": -1, "TI": None},
    types=ALL_TYPES, type_inputs=("on_value", "off_value"), shape=_one_hot_shape, not_differentiable=True,
    host_inputs=(1,))
def one_hot_kernel(xp, indices, depth, on_value, off_value, *, axis):
    d = _int(depth)
    pos = indices.ndim if axis == -1 else axis
    shape = [1] * (indices.ndim + 1)
    shape[pos] = d
    hot = xp.expand_dims(indices, pos) == xp.arange(d).reshape(shape)
    return xp.where(hot, on_value, off_value)


def one_hot(indices: Any, depth: Any, on_value: Any = None, off_value: Any = None, axis: int | None = None,
            dtype: Any = None, name: str | None = None) -> Tensor:
    """One-hot encodes `indices` into a new dimension of size `depth` at `axis` (default: last).

    Positions equal to an index get `on_value` (default 1), the rest `off_value` (default 0). The dtype
    comes from `dtype`, else from on/off values given as tensors or NumPy values, else float32.
    Indices outside [0, depth) give a row of `off_value`.
    """
    i = convert_to_tensor(indices, dtype_hint=_dt.int32)
    g = i.graph
    with g.name_scope(name or "one_hot") as scope:
        dt = None if dtype is None else _dt.as_dtype(dtype).base_dtype
        given = [v for v in (on_value, off_value) if v is not None]
        if dt is None and given:
            dts = [base(convert_to_tensor(v)) if not isinstance(v, Tensor) else base(v) for v in given]
            dt = dts[0]
        dt = dt or _dt.float32
        vals = []
        for v, default, what in ((on_value, 1, "on_value"), (off_value, 0, "off_value")):
            if isinstance(v, Tensor) and base(v) != dt:
                raise TypeError(f"dtype {base(v).name} of {what} does not match dtype parameter {dt.name}")
            t = convert_to_tensor(default if v is None else v, dtype=dt, name=what)
            if base(t) != dt:
                raise TypeError(f"dtype {base(t).name} of {what} does not match dtype parameter {dt.name}")
            vals.append(t)
        d = convert_to_tensor(depth, dtype=_dt.int32, name="depth")
        a = -1 if axis is None else int(axis)
        return make_tensor("OneHot", [i, d] + vals, {"axis": a}, scope)


# -- Select / Where / boolean_mask ------------------------------------------------------------------
def _select_shape(ins, attrs):
    c, t, e = ins
    if base(c) != _dt.bool:
        raise TypeError(f"Value passed to parameter 'condition' has DataType {base(c).name} not in list of "
                        "allowed values: bool")
    data = _merge_dims(dims(t), dims(e))
    cd = dims(c)
    if cd is None or data is None or len(cd) == 0:
        return base(t), data
    if len(cd) != 1 or len(data) <= 1:
        return base(t), _merge_dims(data, cd)
    # A vector condition picks whole rows of t/e (TF1 Select).
    first = _merge_dims(cd, data[:1])
    return base(t), first + data[1:]


@op("Select", inputs=("condition", "t", "e"), types=ALL_TYPES, type_inputs=("t", "e"), shape=_select_shape)
def select_kernel(xp, condition, t, e):
    if condition.ndim == 1 and t.ndim > 1:
        condition = condition.reshape((-1,) + (1,) * (t.ndim - 1))
    return xp.where(condition, t, e)


@select_kernel.grad
def _select_grad(op, grad):
    c = op.inputs[0]
    grad = convert_to_tensor(grad)
    zeros = zeros_like(grad)
    return [None, where(c, grad, zeros), where(c, zeros, grad)]


def _where_shape(ins, attrs):
    d = dims(ins[0])
    return _dt.int64, (None, None if d is None else len(d))


@op("Where", inputs=("input",), types=NUMERIC_TYPES + (_dt.bool,), shape=_where_shape,
    not_differentiable=True)
def where_kernel(xp, input):
    return xp.argwhere(input).astype(np.int64, copy=False)


def where(condition: Any, x: Any = None, y: Any = None, name: str | None = None) -> Tensor:
    """TF 1.x `tf.where`: with `x` and `y`, picks from x where `condition` holds, else from y (Select;
    shapes must match, or `condition` is a vector over x's first dimension). With neither, returns the
    int64 coordinates of the true entries of `condition`, shape [num_true, rank] (Where)."""
    if x is None and y is None:
        c = convert_to_tensor(condition, dtype_hint=_dt.bool)
        return make_tensor("Where", [c], None, name or "Where")
    if x is None or y is None:
        raise ValueError("x and y must both be non-None or both be None.")
    c = convert_to_tensor(condition, dtype=_dt.bool)
    xv, yv = convert_same_dtype([x, y])
    return make_tensor("Select", [c, xv, yv], None, name or "Select")


def boolean_mask(tensor: Any, mask: Any, name: str = "boolean_mask", axis: int | None = None) -> Tensor:
    """The entries of `tensor` where the boolean `mask` (covering dims axis..axis+k-1) is true.

    The masked dimensions collapse into one of size num_true; the result is `gather` of the flattened
    tensor at `where(mask)`.
    """
    x = convert_to_tensor(tensor)
    m = convert_to_tensor(mask, dtype=_dt.bool)
    md = dims(m)
    if md == ():
        raise ValueError("mask cannot be scalar.")
    if md is None:
        raise ValueError("Number of mask dimensions must be specified, even if some dimensions are None.  "
                         "E.g. shape=[None] is ok, but shape=None is not.")
    a = 0 if axis is None else int(axis)
    k = len(md)
    xd = dims(x)
    if xd is not None:
        x.get_shape()[a:a + k].assert_is_compatible_with(m.get_shape())
    with x.graph.name_scope(name or "boolean_mask"):
        if k > 1:
            if xd is not None and all(d is not None for d in xd[:a] + xd[a + k:]):
                new_shape = _int_const(xd[:a] + (-1,) + xd[a + k:], x.graph)
            else:
                s = _shape_of(x)
                new_shape = concat([s[:a], [-1], s[a + k:]], 0)
            x = reshape(x, new_shape)
            m = reshape(m, [-1])
        idx = squeeze(where(m), axis=[1])
        return gather(x, idx, axis=a)
