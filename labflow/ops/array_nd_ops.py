"""N-dimensional indexing: gather_nd, scatter_nd, tensor_scatter_nd_* and batch_gather.

The variable updates that index the same way (scatter_nd_update/add/sub, scatter_mul/div/min/max) live
in array_scatter_state_ops.py and are re-exported here. An index tuple `indices[..., :k]` addresses a
slice `shape[k:]` of a tensor; kernels turn it into one row number of the tensor viewed as
`[prod(shape[:k])] + shape[k:]`, so every op is a single take / put / ufunc.at over rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.registry import op
from labflow.framework.shapes import shape_str
from labflow.framework.tensor import IndexedSlices, Tensor
from labflow.ops.array_ops import _scatter_add, _set_attrs, _shape_of, reshape, zeros_like
from labflow.ops.array_slice_ops import _index_dtype_error
from labflow.ops.common import (
    ALL_TYPES,
    INDEX_TYPES,
    NUMERIC_TYPES,
    REAL_TYPES,
    base,
    constant_shape,
    convert_to_tensor,
    dims,
    make_tensor,
    merge_dims,
)

__all__ = ["gather_nd", "scatter_nd", "tensor_scatter_update", "tensor_scatter_add", "tensor_scatter_sub",
           "tensor_scatter_nd_update", "tensor_scatter_nd_add", "tensor_scatter_nd_sub", "tensor_scatter_nd_min",
           "tensor_scatter_nd_max", "scatter_nd_non_aliasing_add", "batch_gather"]


# -- kernel helpers -----------------------------------------------------------------------------------
def nd_rows(xp: Any, indices: Any, shape: tuple, op_type: str, what: str = "shape") -> Any:
    """The int64 row numbers (flattened over indices.shape[:-1]) that `indices` address in a tensor of
    `shape` viewed as [prod(shape[:k])] + shape[k:]. InvalidArgumentError names the first bad index."""
    k = indices.shape[-1]
    if k > len(shape):
        raise errors.InvalidArgumentError(
            None, None, f"{op_type}: index innermost dimension length must be <= rank of the {what} "
            f"{list(shape)}; saw: {k} vs. {len(shape)}")
    n = int(np.prod(indices.shape[:-1], dtype=np.int64))
    flat = indices.reshape(n, k).astype(np.int64, copy=False)
    if k == 0:
        return xp.zeros((n,), np.int64)
    if n:
        bad = flat < 0
        for j in range(k):
            bad[:, j] |= flat[:, j] >= shape[j]
        bad_rows = bad.any(axis=1)
        if bool(bad_rows.any()):
            row = int(xp.argmax(bad_rows))
            at = ",".join(str(int(i)) for i in np.unravel_index(row, indices.shape[:-1])) if indices.ndim > 1 else ""
            index = [int(v) for v in flat[row].tolist()]
            raise errors.InvalidArgumentError(
                None, None, f"{op_type}: indices[{at}] = {index} does not index into {what} {list(shape)}; "
                "every index must be in [0, dim) for its dimension")
    lin = flat[:, 0]
    for j in range(1, k):
        lin = lin * shape[j] + flat[:, j]
    return lin


def nd_updates(xp: Any, indices: Any, shape: tuple, updates: Any, op_type: str, shape_name: str = "shape",
               what: str = "shape", suffix: str = "") -> tuple:
    """(k, rows, values) for a scatter of `updates` at the index tuples `indices` into a tensor of `shape`:
    k = indices.shape[-1], the nd_rows row numbers, and `updates` as one row per index tuple. An
    InvalidArgumentError unless updates.shape is indices.shape[:-1] + shape[k:] (`shape_name` and `suffix`
    word that error; `what`, nd_rows')."""
    k = indices.shape[-1]
    want = indices.shape[:-1] + tuple(shape[k:]) if k <= len(shape) else None
    if want is not None and updates.shape != want:
        raise errors.InvalidArgumentError(
            None, None, f"{op_type}: updates.shape {list(updates.shape)} must be indices.shape[:-1] + "
            f"{shape_name}[indices.shape[-1]:] = {list(want)}{suffix}")
    rows = nd_rows(xp, indices, shape, op_type, what)
    return k, rows, updates.reshape((-1,) + tuple(shape[k:]))


def as_rows(a: Any, k: int) -> Any:
    """`a` viewed as [prod(shape[:k])] + shape[k:] (a view for the contiguous arrays kernels make)."""
    return a.reshape((-1,) + a.shape[k:])


# -- shape helpers ------------------------------------------------------------------------------------
def _check_indices(t: Tensor, op_type: str) -> None:
    if base(t) not in INDEX_TYPES:
        raise _index_dtype_error("indices", base(t))
    d = dims(t)
    if d is not None and len(d) == 0:
        raise ValueError(f"Shape must be at least rank 1 but is rank 0 for '{op_type}' (input 'indices': the "
                         "last dimension holds the index tuples)")


def check_nd_updates(op_type: str, idd: tuple | None, sd: tuple | None, ud: tuple | None) -> None:
    """updates.shape must be indices.shape[:-1] + shape[indices.shape[-1]:] (TF's ScatterNd rule)."""
    if idd is None or sd is None or ud is None or idd[-1] is None:
        return
    k = idd[-1]
    if k > len(sd):
        raise ValueError(f"Index innermost dimension length must be <= rank of the shape for '{op_type}'; saw: "
                         f"{k} vs. {len(sd)}")
    want = tuple(idd[:-1]) + tuple(sd[k:])
    try:
        merge_dims(ud, want)
    except ValueError:
        raise ValueError(f"Dimensions of updates must be indices.shape[:-1] + shape[indices.shape[-1]:] for "
                         f"'{op_type}': got updates.shape {shape_str(ud)}, indices.shape {shape_str(idd)}, "
                         f"shape {shape_str(sd)} (want updates.shape {shape_str(want)})") from None


# -- GatherNd -----------------------------------------------------------------------------------------
def _gather_nd_shape(ins, attrs):
    p, i = ins
    _check_indices(i, "GatherNd")
    _set_attrs(attrs, Tparams=base(p), Tindices=base(i))
    pd, idd = dims(p), dims(i)
    if idd is None or idd[-1] is None:
        return base(p), None
    k = idd[-1]
    if pd is None:
        return base(p), None
    if k > len(pd):
        raise ValueError(f"indices.shape[-1] must be <= params.rank, but saw indices shape: {shape_str(idd)} "
                         f"and params shape: {shape_str(pd)} for 'GatherNd'")
    return base(p), tuple(idd[:-1]) + tuple(pd[k:])


@op("GatherNd", inputs=("params", "indices"), attrs={"Tparams": None, "Tindices": None}, shape=_gather_nd_shape)
def gather_nd_kernel(xp, params, indices):
    k = indices.shape[-1]
    rows = nd_rows(xp, indices, params.shape, "GatherNd", "param shape")
    return xp.take(as_rows(params, k), rows, axis=0).reshape(indices.shape[:-1] + params.shape[k:])


@gather_nd_kernel.grad
def _gather_nd_grad(op, grad):
    grad = convert_to_tensor(grad)
    params, indices = op.inputs
    pshape = _shape_of(params, base(indices))
    idd = dims(indices)
    if idd is not None and len(idd) == 2 and idd[-1] == 1:
        # One index per row of params: a sparse gradient, like gather's.
        return [IndexedSlices(grad, reshape(indices, [-1]), pshape), None]
    return [scatter_nd(indices, grad, pshape), None]


def gather_nd(params: Any, indices: Any, name: str | None = None, batch_dims: int = 0) -> Tensor:
    """Gathers slices of `params` addressed by the index tuples in the last dimension of `indices`.

    Args:
        params: the tensor to gather from.
        indices: int32/int64 tensor of shape [..., k] with k <= rank(params).
        name: op name (default "GatherNd").
        batch_dims: leading dimensions shared by params and indices (TF 1.15): each index tuple addresses
            its own batch entry of params.

    Returns:
        A tensor of shape `indices.shape[:-1] + params.shape[k:]`.

    Raises:
        ValueError: k greater than the rank of params, or batch_dims not below the rank of indices.
        InvalidArgumentError (at run time): an index outside params' shape.
    """
    p = convert_to_tensor(params, name="params")
    i = convert_to_tensor(indices, dtype_hint=_dt.int32, name="indices")
    if batch_dims == 0:
        return make_tensor("GatherNd", [p, i], None, name or "GatherNd")
    return _batch_gather_nd(p, i, int(batch_dims), name)


def _batch_gather_nd(p: Tensor, i: Tensor, b: int, name: str | None) -> Tensor:
    """gather_nd with `b` leading batch dimensions: each index tuple gets its batch coordinates prepended."""
    from labflow.framework.graph import name_scope
    from labflow.ops.array_join_ops import concat, stack
    from labflow.ops.array_ops import broadcast_to
    from labflow.ops.array_reshape_ops import range as _range
    from labflow.ops.array_seq_ops import meshgrid
    if base(i) not in INDEX_TYPES:
        raise _index_dtype_error("indices", base(i))
    idd, pd = dims(i), dims(p)
    if b < 0 or idd is None or len(idd) <= b or (pd is not None and len(pd) < b):
        raise ValueError(f"gather_nd: batch_dims={b} must be non-negative and less than the (known) rank of "
                         f"indices {shape_str(idd)} and at most the rank of params {shape_str(pd)}")
    with name_scope(name, "GatherNd", [p, i]):
        dt = base(i)
        ps, ishape = _shape_of(p, dt), _shape_of(i, dt)
        grid = stack(meshgrid(*[_range(0, ps[k], 1, dtype=dt) for k in range(b)], indexing="ij"), axis=-1)
        grid = reshape(grid, concat([ps[:b], [1] * (len(idd) - 1 - b), [b]], 0))
        coords = broadcast_to(grid, concat([ishape[:-1], [b]], 0))
        return make_tensor("GatherNd", [p, concat([coords, i], -1)], None, "GatherNd")


# -- ScatterNd ----------------------------------------------------------------------------------------
def _scatter_nd_shape(ins, attrs):
    i, u, s = ins
    _check_indices(i, "ScatterNd")
    if base(s) != base(i):
        raise TypeError(f"ScatterNd: shape must have the dtype of indices ({base(i).name}), got {base(s).name}")
    sd = dims(s)
    if sd is not None and len(sd) != 1:
        raise ValueError(f"Shape must be rank 1 but is rank {len(sd)} for 'ScatterNd' (input 'shape')")
    _set_attrs(attrs, Tindices=base(i))
    out = constant_shape(s)
    if out is None and sd is not None and sd[0] is not None:
        out = (None,) * sd[0]
    check_nd_updates("ScatterNd", dims(i), out, dims(u))
    return base(u), out


@op("ScatterNd", inputs=("indices", "updates", "shape"), attrs={"Tindices": None}, types=NUMERIC_TYPES,
    type_inputs=("updates",), shape=_scatter_nd_shape, host_inputs=(2,))
def scatter_nd_kernel(xp, indices, updates, shape):
    shp = tuple(int(v) for v in np.asarray(shape).tolist())
    if any(v < 0 for v in shp):
        raise errors.InvalidArgumentError(None, None, f"ScatterNd: shape must be non-negative, got {list(shp)}")
    k, rows, vals = nd_updates(xp, indices, shp, updates, "ScatterNd")
    out = xp.zeros(shp, dtype=updates.dtype)
    _scatter_add(xp, as_rows(out, k), rows, vals)
    return out


@scatter_nd_kernel.grad
def _scatter_nd_grad(op, grad):
    grad = convert_to_tensor(grad)
    return [None, gather_nd(grad, op.inputs[0]), None]


def scatter_nd(indices: Any, updates: Any, shape: Any, name: str | None = None) -> Tensor:
    """A zero tensor of `shape` with `updates` added at the index tuples `indices` (duplicates sum).

    Args:
        indices: int32/int64 tensor of shape [..., k].
        updates: tensor of shape `indices.shape[:-1] + shape[k:]`.
        shape: 1-D tensor (of indices' dtype) or list: the output shape.
        name: op name (default "ScatterNd").

    Returns:
        A tensor of `updates`' dtype and the given shape.
    """
    i = convert_to_tensor(indices, dtype_hint=_dt.int32, name="indices")
    u = convert_to_tensor(updates, name="updates")
    s = convert_to_tensor(shape, dtype=base(i) if base(i) in INDEX_TYPES else None, name="shape")
    return make_tensor("ScatterNd", [i, u, s], None, name or "ScatterNd")


# -- TensorScatterUpdate / Add / Sub / Min / Max -------------------------------------------------------
def _tensor_scatter_shape(op_type: str):
    def fn(ins, attrs):
        t, i, u = ins
        _check_indices(i, op_type)
        _set_attrs(attrs, Tindices=base(i))
        check_nd_updates(op_type, dims(i), dims(t), dims(u))
        return base(t), dims(t)
    return fn


def _tensor_scatter_prep(xp, tensor, indices, updates, op_type):
    k, rows, vals = nd_updates(xp, indices, tensor.shape, updates, op_type, shape_name="tensor.shape")
    out = xp.array(tensor, copy=True)
    return as_rows(out, k), rows, vals, out


def apply_at(xp: Any, ufunc: Any, rows_view: Any, rows: Any, values: Any) -> None:
    """`rows_view[rows] = fn(rows_view[rows], values)` with repeated rows applied one after another.

    `ufunc` names an xp ufunc, or is a function `(xp, a, b)`. NumPy applies a ufunc with `ufunc.at`. CuPy's
    `ufunc.at` covers only some ufuncs, so elsewhere the updates go in rounds: each round applies the first
    remaining occurrence of every distinct row."""
    if isinstance(ufunc, str):
        fn = getattr(xp, ufunc)
        if xp is np:
            fn.at(rows_view, rows, values)
            return
    else:
        def fn(a, b):
            return ufunc(xp, a, b)
    pending = xp.arange(rows.shape[0])
    while pending.shape[0]:
        _, first = xp.unique(rows[pending], return_index=True)
        sel = pending[first]
        target = rows[sel]
        rows_view[target] = fn(rows_view[target], values[sel])
        keep = xp.ones(pending.shape[0], dtype=bool)
        keep[first] = False
        pending = pending[keep]


def _tensor_scatter_op(op_type: str, types: tuple):
    return op(op_type, inputs=("tensor", "indices", "updates"), attrs={"Tindices": None}, types=types,
              type_inputs=("tensor", "updates"), shape=_tensor_scatter_shape(op_type))


@_tensor_scatter_op("TensorScatterUpdate", ALL_TYPES)
def tensor_scatter_update_kernel(xp, tensor, indices, updates):
    view, rows, vals, out = _tensor_scatter_prep(xp, tensor, indices, updates, "TensorScatterUpdate")
    # With duplicate indices one update wins (TF leaves which one unspecified).
    view[rows] = vals
    return out


@_tensor_scatter_op("TensorScatterAdd", NUMERIC_TYPES)
def tensor_scatter_add_kernel(xp, tensor, indices, updates):
    view, rows, vals, out = _tensor_scatter_prep(xp, tensor, indices, updates, "TensorScatterAdd")
    _scatter_add(xp, view, rows, vals)
    return out


@op("ScatterNdNonAliasingAdd", inputs=("input", "indices", "updates"), attrs={"Tindices": None},
    types=NUMERIC_TYPES + (_dt.bool,), type_inputs=("input", "updates"),
    shape=_tensor_scatter_shape("ScatterNdNonAliasingAdd"))
def scatter_nd_non_aliasing_add_kernel(xp, input, indices, updates):
    view, rows, vals, out = _tensor_scatter_prep(xp, input, indices, updates, "ScatterNdNonAliasingAdd")
    if out.dtype == np.bool_:  # bool addition is logical or
        apply_at(xp, "logical_or", view, rows, vals)
    else:
        _scatter_add(xp, view, rows, vals)
    return out


@_tensor_scatter_op("TensorScatterSub", NUMERIC_TYPES)
def tensor_scatter_sub_kernel(xp, tensor, indices, updates):
    view, rows, vals, out = _tensor_scatter_prep(xp, tensor, indices, updates, "TensorScatterSub")
    _scatter_add(xp, view, rows, xp.negative(vals))
    return out


@_tensor_scatter_op("TensorScatterMin", REAL_TYPES)
def tensor_scatter_min_kernel(xp, tensor, indices, updates):
    view, rows, vals, out = _tensor_scatter_prep(xp, tensor, indices, updates, "TensorScatterMin")
    apply_at(xp, "minimum", view, rows, vals)
    return out


@_tensor_scatter_op("TensorScatterMax", REAL_TYPES)
def tensor_scatter_max_kernel(xp, tensor, indices, updates):
    view, rows, vals, out = _tensor_scatter_prep(xp, tensor, indices, updates, "TensorScatterMax")
    apply_at(xp, "maximum", view, rows, vals)
    return out


@tensor_scatter_update_kernel.grad
def _tensor_scatter_update_grad(op, grad):
    grad = convert_to_tensor(grad)
    indices = op.inputs[1]
    tensor_grad = tensor_scatter_update(grad, indices, zeros_like(op.inputs[2]))
    return [tensor_grad, None, gather_nd(grad, indices)]


@tensor_scatter_add_kernel.grad
def _tensor_scatter_add_grad(op, grad):
    return [grad, None, gather_nd(grad, op.inputs[1])]


@scatter_nd_non_aliasing_add_kernel.grad
def _scatter_nd_non_aliasing_add_grad(op, grad):
    grad = convert_to_tensor(grad)
    return [grad, None, gather_nd(grad, op.inputs[1])]


@tensor_scatter_sub_kernel.grad
def _tensor_scatter_sub_grad(op, grad):
    grad = convert_to_tensor(grad)
    from labflow.ops import math_ops
    return [grad, None, math_ops.negative(gather_nd(grad, op.inputs[1]))]


def _tensor_scatter_min_max_grad(op, grad):
    grad = convert_to_tensor(grad)
    # TF's rule: the gradient is shared equally among the inputs (x and every update) equal to the output.
    from labflow.ops import math_ops
    x, indices, y = op.inputs
    out = op.outputs[0]
    x_ind = math_ops.cast(math_ops.equal(x, out), base(grad))
    y_ind = math_ops.cast(math_ops.equal(y, gather_nd(out, indices)), base(grad))
    count = math_ops.add(x_ind, scatter_nd(indices, y_ind, _shape_of(x, base(indices))))
    x_grad = math_ops.multiply(grad, math_ops.divide(x_ind, count))
    y_grad = math_ops.multiply(gather_nd(math_ops.divide(grad, count), indices), y_ind)
    return [x_grad, None, y_grad]


tensor_scatter_min_kernel.grad(_tensor_scatter_min_max_grad)
tensor_scatter_max_kernel.grad(_tensor_scatter_min_max_grad)


def _tensor_scatter(op_type: str, tensor: Any, indices: Any, updates: Any, name: str | None) -> Tensor:
    t = convert_to_tensor(tensor, name="tensor")
    i = convert_to_tensor(indices, dtype_hint=_dt.int32, name="indices")
    u = convert_to_tensor(updates, dtype=base(t), name="updates")
    return make_tensor(op_type, [t, i, u], None, name or op_type)


def tensor_scatter_update(tensor: Any, indices: Any, updates: Any, name: str | None = None) -> Tensor:
    """A copy of `tensor` with the slices at the index tuples `indices` replaced by `updates`.

    `updates` has shape `indices.shape[:-1] + tensor.shape[k:]` (k = indices.shape[-1]). With repeated
    indices one of the updates wins. Out-of-range indices raise InvalidArgumentError when run.
    """
    return _tensor_scatter("TensorScatterUpdate", tensor, indices, updates, name)


def tensor_scatter_add(tensor: Any, indices: Any, updates: Any, name: str | None = None) -> Tensor:
    """A copy of `tensor` with `updates` added at the index tuples `indices` (repeated indices sum)."""
    return _tensor_scatter("TensorScatterAdd", tensor, indices, updates, name)


def tensor_scatter_sub(tensor: Any, indices: Any, updates: Any, name: str | None = None) -> Tensor:
    """A copy of `tensor` with `updates` subtracted at the index tuples `indices` (repeated indices sum)."""
    return _tensor_scatter("TensorScatterSub", tensor, indices, updates, name)


def tensor_scatter_nd_min(tensor: Any, indices: Any, updates: Any, name: str | None = None) -> Tensor:
    """A copy of `tensor` with each addressed slice the elementwise minimum of itself and its updates."""
    return _tensor_scatter("TensorScatterMin", tensor, indices, updates, name)


def tensor_scatter_nd_max(tensor: Any, indices: Any, updates: Any, name: str | None = None) -> Tensor:
    """A copy of `tensor` with each addressed slice the elementwise maximum of itself and its updates."""
    return _tensor_scatter("TensorScatterMax", tensor, indices, updates, name)


def scatter_nd_non_aliasing_add(input: Any, indices: Any, updates: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """A copy of `input` with `updates` added at the index tuples `indices` (repeated indices sum): the
    value form of scatter_nd_add, TF 1.x's ScatterNdNonAliasingAdd."""
    return _tensor_scatter("ScatterNdNonAliasingAdd", input, indices, updates, name)


tensor_scatter_nd_update = tensor_scatter_update
tensor_scatter_nd_add = tensor_scatter_add
tensor_scatter_nd_sub = tensor_scatter_sub


# -- batch_gather (a composite, as in TF) ------------------------------------------------------------
def batch_gather(params: Any, indices: Any, name: str | None = None) -> Tensor:
    """Gathers along the first non-batch dimension: `out[b..., j] = params[b..., indices[b..., j]]`.

    The leading `rank(indices) - 1` dimensions of `params` and `indices` are batch dimensions and must
    match. Built from reshape + gather (TF 1.x composes it the same way), so it differentiates like gather.

    Raises:
        ValueError: indices of unknown rank, or params of lower rank than indices.
    """
    from labflow.framework.graph import name_scope
    from labflow.ops import math_ops
    from labflow.ops.array_gather_ops import gather
    from labflow.ops.array_join_ops import concat
    from labflow.ops.array_reshape_ops import expand_dims
    from labflow.ops.array_reshape_ops import range as _range
    with name_scope(name, "BatchGather", [params, indices]):
        p = convert_to_tensor(params, name="params")
        i = convert_to_tensor(indices, dtype_hint=_dt.int32, name="indices")
        if base(i) not in INDEX_TYPES:
            raise _index_dtype_error("indices", base(i))
        idd, pd = dims(i), dims(p)
        if idd is None:
            raise ValueError("batch_gather does not allow indices with unknown shape.")
        bd = len(idd) - 1
        if bd == 0:
            return gather(p, i)
        if pd is not None and len(pd) <= bd:
            raise ValueError(f"batch_gather: params (rank {len(pd)}) must have higher rank than indices minus "
                             f"one ({bd}): got params {shape_str(pd)} and indices {shape_str(idd)}")
        ps = _shape_of(p, base(i))
        ishape = _shape_of(i, base(i))
        batch = math_ops.reduce_prod(ps[:bd])
        n = ps[bd]
        offsets = math_ops.multiply(_range(0, batch, dtype=base(i)), n)
        flat_i = math_ops.add(reshape(i, concat([expand_dims(batch, 0), [-1]], 0)), expand_dims(offsets, 1))
        flat_p = reshape(p, concat([[-1], ps[bd + 1:]], 0))
        out = reshape(gather(flat_p, flat_i), concat([ishape, ps[bd + 1:]], 0))
        if pd is not None:
            out.set_shape(tuple(merge_dims(tuple(idd[:-1]), tuple(pd[:bd]))) + (idd[-1],) + tuple(pd[bd + 1:]))
        return out


from labflow.ops.array_scatter_state_ops import *  # noqa: E402,F401,F403 - registers and re-exports them
from labflow.ops.array_scatter_state_ops import __all__ as _state_all  # noqa: E402

__all__ += _state_all
