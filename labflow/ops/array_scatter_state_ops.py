"""Variable updates at indices: scatter_nd_update/add/sub (index tuples) and scatter_mul/div/min/max (rows).

They follow state_ops' ScatterUpdate/ScatterAdd: the variable arrives as a VarRef, its stored array is
updated in place and the op returns the ref. Unlike those, indices are checked: an out-of-range index is
an InvalidArgumentError naming it, as on TF's CPU kernels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.tensor import Tensor
from labflow.ops.array_ops import _scatter_add
from labflow.ops.common import (
    ALL_TYPES,
    INDEX_TYPES,
    NUMERIC_TYPES,
    REAL_TYPES,
    convert_to_tensor,
    dims,
    truncate_divide,
)
from labflow.ops.state_ops import _scatter, _scatter_op, _scatter_shape, as_ref, check_ref
from labflow.runtime.devices import deref

__all__ = ["scatter_nd_update", "scatter_nd_add", "scatter_nd_sub", "scatter_mul", "scatter_div", "scatter_min",
           "scatter_max", "batch_scatter_update"]


def _in_place(xp: Any, ref: Any, k: int, update: Any) -> Any:
    """Runs `update(rows_view)` on the variable's array seen as [prod(shape[:k])] + shape[k:]."""
    from labflow.ops.array_nd_ops import as_rows
    cur = deref(ref)
    if cur.flags.c_contiguous:
        update(as_rows(cur, k))
    else:  # a reshape would copy: update a contiguous copy and write it back
        tmp = xp.ascontiguousarray(cur)
        update(as_rows(tmp, k))
        xp.copyto(cur, tmp)
    return ref


# -- ScatterNdUpdate / ScatterNdAdd / ScatterNdSub ----------------------------------------------------------
def _scatter_nd_shape(op_type: str):
    def fn(ins, attrs):
        from labflow.ops.array_nd_ops import _check_indices, check_nd_updates
        check_ref(ins, op_type)
        ref, indices, updates = ins
        _check_indices(indices, op_type)
        check_nd_updates(op_type, dims(indices), dims(ref), dims(updates))
        return ref.dtype, dims(ref)
    return fn


def _scatter_nd_op(op_type: str, use_locking: bool, types: tuple):
    return _scatter_op(op_type, use_locking, types, shape=_scatter_nd_shape(op_type))


def _nd_prep(xp, ref, indices, updates, op_type):
    from labflow.ops.array_nd_ops import nd_updates
    return nd_updates(xp, indices, deref(ref).shape, updates, op_type, shape_name="ref.shape",
                      what=f"the variable {ref.name} of shape", suffix=f" (variable {ref.name})")


@_scatter_nd_op("ScatterNdUpdate", True, ALL_TYPES)
def scatter_nd_update_kernel(xp, ref, indices, updates, *, use_locking, Tindices):
    k, rows, vals = _nd_prep(xp, ref, indices, updates, "ScatterNdUpdate")

    def put(view):
        view[rows] = vals
    return _in_place(xp, ref, k, put)


@_scatter_nd_op("ScatterNdAdd", False, NUMERIC_TYPES)
def scatter_nd_add_kernel(xp, ref, indices, updates, *, use_locking, Tindices):
    k, rows, vals = _nd_prep(xp, ref, indices, updates, "ScatterNdAdd")
    return _in_place(xp, ref, k, lambda view: _scatter_add(xp, view, rows, vals))


@_scatter_nd_op("ScatterNdSub", False, NUMERIC_TYPES)
def scatter_nd_sub_kernel(xp, ref, indices, updates, *, use_locking, Tindices):
    k, rows, vals = _nd_prep(xp, ref, indices, updates, "ScatterNdSub")
    return _in_place(xp, ref, k, lambda view: _scatter_add(xp, view, rows, xp.negative(vals)))


# -- ScatterMul / ScatterDiv / ScatterMin / ScatterMax ------------------------------------------------------
def _scatter_rows_op(op_type: str, types: tuple):
    return _scatter_op(op_type, False, types, shape=_scatter_shape(op_type, name_op=True))


def _rows_update(xp, ref, indices, updates, op_type, ufunc):
    from labflow.ops.array_nd_ops import apply_at
    cur = deref(ref)
    flat = indices.reshape(-1).astype(np.int64, copy=False)
    n = cur.shape[0]
    if flat.size:
        bad = (flat < 0) | (flat >= n)
        if bool(bad.any()):
            pos = int(xp.argmax(bad))
            at = ",".join(str(int(i)) for i in np.unravel_index(pos, indices.shape)) if indices.ndim else ""
            raise errors.InvalidArgumentError(
                None, None, f"{op_type}: indices[{at}] = {int(flat[pos])} is not in [0, {n}) (the first "
                f"dimension of variable {ref.name})")
    want = tuple(indices.shape) + cur.shape[1:]
    if updates.ndim == 0:
        vals = xp.broadcast_to(updates, (flat.shape[0],) + cur.shape[1:])
    elif updates.shape == want:
        vals = updates.reshape((-1,) + cur.shape[1:])
    else:
        raise errors.InvalidArgumentError(
            None, None, f"{op_type}: updates.shape {list(updates.shape)} must be indices.shape + "
            f"params.shape[1:] = {list(want)} or [] (variable {ref.name})")
    if ufunc == "divide" and cur.dtype.kind in "iu":
        ufunc = truncate_divide
    apply_at(xp, ufunc, cur, flat, vals)
    return ref


@_scatter_rows_op("ScatterMul", NUMERIC_TYPES)
def scatter_mul_kernel(xp, ref, indices, updates, *, use_locking, Tindices):
    return _rows_update(xp, ref, indices, updates, "ScatterMul", "multiply")


@_scatter_rows_op("ScatterDiv", NUMERIC_TYPES)
def scatter_div_kernel(xp, ref, indices, updates, *, use_locking, Tindices):
    return _rows_update(xp, ref, indices, updates, "ScatterDiv", "divide")


@_scatter_rows_op("ScatterMin", REAL_TYPES)
def scatter_min_kernel(xp, ref, indices, updates, *, use_locking, Tindices):
    return _rows_update(xp, ref, indices, updates, "ScatterMin", "minimum")


@_scatter_rows_op("ScatterMax", REAL_TYPES)
def scatter_max_kernel(xp, ref, indices, updates, *, use_locking, Tindices):
    return _rows_update(xp, ref, indices, updates, "ScatterMax", "maximum")


# -- public wrappers ---------------------------------------------------------------------------------------
def scatter_nd_update(ref: Any, indices: Any, updates: Any, use_locking: bool = True,
                      name: str | None = None) -> Tensor:
    """Assigns `updates` to the slices of the variable `ref` at the index tuples `indices`, in place.

    Args:
        ref: a Variable.
        indices: int32/int64 tensor [..., k], k <= rank(ref).
        updates: tensor of shape `indices.shape[:-1] + ref.shape[k:]`.
        use_locking: update under the variable's lock (default True).
        name: op name (default "ScatterNdUpdate").

    Returns:
        The variable's ref tensor, holding the updated value once the op has run.
    """
    return _scatter("ScatterNdUpdate", True, ref, indices, updates, use_locking, name)


def scatter_nd_add(ref: Any, indices: Any, updates: Any, use_locking: bool = False,
                   name: str | None = None) -> Tensor:
    """Adds `updates` to the slices of the variable `ref` at the index tuples `indices` (duplicates sum)."""
    return _scatter("ScatterNdAdd", False, ref, indices, updates, use_locking, name)


def scatter_nd_sub(ref: Any, indices: Any, updates: Any, use_locking: bool = False,
                   name: str | None = None) -> Tensor:
    """Subtracts `updates` from the slices of `ref` at the index tuples `indices` (duplicates sum)."""
    return _scatter("ScatterNdSub", False, ref, indices, updates, use_locking, name)


def scatter_mul(ref: Any, indices: Any, updates: Any, use_locking: bool = False,
                name: str | None = None) -> Tensor:
    """`ref[indices] *= updates` in place; duplicate indices multiply in turn. Returns the ref."""
    return _scatter("ScatterMul", False, ref, indices, updates, use_locking, name)


def scatter_div(ref: Any, indices: Any, updates: Any, use_locking: bool = False,
                name: str | None = None) -> Tensor:
    """`ref[indices] /= updates` in place; duplicate indices divide in turn. Returns the ref."""
    return _scatter("ScatterDiv", False, ref, indices, updates, use_locking, name)


def scatter_min(ref: Any, indices: Any, updates: Any, use_locking: bool = False,
                name: str | None = None) -> Tensor:
    """`ref[indices] = minimum(ref[indices], updates)` in place. Returns the ref."""
    return _scatter("ScatterMin", False, ref, indices, updates, use_locking, name)


def scatter_max(ref: Any, indices: Any, updates: Any, use_locking: bool = False,
                name: str | None = None) -> Tensor:
    """`ref[indices] = maximum(ref[indices], updates)` in place. Returns the ref."""
    return _scatter("ScatterMax", False, ref, indices, updates, use_locking, name)


def batch_scatter_update(ref: Any, indices: Any, updates: Any, use_locking: bool = True,
                         name: str | None = None) -> Tensor:
    """`ref[b..., indices[b..., j]] = updates[b..., j]`: scatter_update per batch entry (the leading
    rank(indices) - 1 dimensions of ref and indices are batch dimensions). Builds a ScatterNdUpdate, as TF does.

    Raises:
        ValueError: indices of unknown rank.
    """
    from labflow.framework.graph import name_scope
    from labflow.ops import math_ops
    from labflow.ops.array_join_ops import concat
    from labflow.ops.array_ops import _shape_of, ones_like, reshape
    from labflow.ops.array_reshape_ops import expand_dims
    from labflow.ops.array_reshape_ops import range as _range
    with name_scope(name, "BatchScatterUpdate", [indices, updates]):
        r = as_ref(ref)
        idx = convert_to_tensor(indices, dtype_hint=_dt.int32, name="indices")
        if idx.dtype.base_dtype not in INDEX_TYPES:
            raise TypeError(f"batch_scatter_update: indices must be int32 or int64, got {idx.dtype.name}")
        nd = dims(idx)
        if nd is None:
            raise ValueError("batch_scatter_update needs indices of known rank")
        dt = idx.dtype.base_dtype
        ishape = _shape_of(idx, dt)
        nd_idx = expand_dims(idx, -1)
        parts = []
        for k in range(len(nd) - 1):
            grid = [1] * (len(nd) + 1)
            grid[k] = -1
            coord = reshape(_range(0, ishape[k], 1, dtype=dt), grid)
            parts.append(math_ops.multiply(coord, ones_like(nd_idx)))
        final = concat(parts + [nd_idx], -1) if parts else nd_idx
        return scatter_nd_update(r, final, updates, use_locking=use_locking)
