"""Sparse functions TF 1.x builds from other ops: retain, transpose, to_indicator, merge, reset_shape, mask (on
IndexedSlices), from_dense, expand_dims and eye. No op types of their own, so no kernels here."""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.constant_value import constant_value
from labflow.framework.graph import get_default_graph
from labflow.framework.sparse_tensor import SparseTensor
from labflow.framework.tensor import IndexedSlices, Tensor
from labflow.ops.common import convert_to_tensor
from labflow.ops.sparse_indexing import as_sparse, rank_of
from labflow.ops.sparse_shape_ops import sparse_reorder


def _ops():
    from labflow.ops import (
        array_gather_ops,
        array_join_ops,
        array_nd_ops,
        array_ops,
        array_reshape_ops,
        array_slice_ops,
        math_ops,
    )
    return array_gather_ops, array_join_ops, array_nd_ops, array_ops, array_reshape_ops, array_slice_ops, math_ops


def sparse_retain(sp_input: Any, to_retain: Any) -> SparseTensor:
    """The entries of `sp_input` whose `to_retain` flag (a bool vector, one per entry) is True."""
    gather_ops, _, _, array_ops, _, _, _ = _ops()
    sp = as_sparse(sp_input, "sp_input", "sparse_retain")
    keep = convert_to_tensor(to_retain, dtype=_dt.bool)
    kd, vd = keep.get_shape(), sp.values.get_shape()
    if kd.ndims is not None and kd.ndims != 1:
        raise ValueError(f"sparse_retain: to_retain must be a vector, got shape {kd}")
    if kd.ndims == 1 and vd.ndims == 1 and None not in (kd[0], vd[0]) and kd[0] != vd[0]:
        raise ValueError(f"sparse_retain: to_retain has {kd[0]} flags but sp_input has {vd[0]} entries")
    where = array_ops.reshape(gather_ops.where(keep), [-1])
    return SparseTensor(gather_ops.gather(sp.indices, where), gather_ops.gather(sp.values, where),
                        array_ops.identity(sp.dense_shape))


def sparse_transpose(sp_input: Any, perm: Any = None, name: str | None = None) -> SparseTensor:
    """Permutes a SparseTensor's dimensions (default: reversed) and puts the result in row-major order."""
    gather_ops, _, _, _, range_ops, _, math_ops = _ops()
    sp = as_sparse(sp_input, "sp_input", "sparse_transpose")
    with get_default_graph().name_scope(name or "SparseTranspose"):
        if perm is None:
            rank = rank_of(sp.dense_shape, sp.indices)
            if rank is not None:
                perm = np.arange(rank)[::-1].copy()
            else:
                from labflow.ops.array_ops import size
                perm = math_ops.subtract(math_ops.subtract(size(sp.dense_shape), 1),
                                         range_ops.range(0, size(sp.dense_shape)))
        perm_t = convert_to_tensor(perm, dtype=_dt.int32)
        indices = gather_ops.gather(sp.indices, perm_t, axis=1)
        shape = gather_ops.gather(sp.dense_shape, perm_t)
        return sparse_reorder(SparseTensor(indices, sp.values, shape))


def sparse_merge(sp_ids: Any, sp_values: Any, vocab_size: Any, name: str | None = None,
                 already_sorted: bool = False) -> SparseTensor:
    """A SparseTensor whose last coordinate is each entry's id: `out[..., sp_ids[..., k]] = sp_values[..., k]`,
    with a last dimension of `vocab_size` (TF 1.x `tf.sparse_merge`, one id column)."""
    _, join_ops, _, array_ops, _, slice_ops, math_ops = _ops()
    ids, vals = as_sparse(sp_ids, "sp_ids", "sparse_merge"), as_sparse(sp_values, "sp_values", "sparse_merge")
    if not ids.dtype.is_integer:
        raise TypeError(f"sparse_merge: sp_ids must hold integers, got {ids.dtype.name}")
    with get_default_graph().name_scope(name or "SparseMerge"):
        col = array_ops.reshape(math_ops.cast(ids.values, _dt.int64), [-1, 1])
        lead = slice_ops.slice(ids.indices, [0, 0], [-1, -1])[:, :-1]
        indices = join_ops.concat([lead, col], 1)
        size = array_ops.reshape(convert_to_tensor(vocab_size, dtype=_dt.int64), [1])
        shape = join_ops.concat([ids.dense_shape[:-1], size], 0)
        out = SparseTensor(indices, vals.values, shape)
        return out if already_sorted else sparse_reorder(out)


def sparse_to_indicator(sp_input: Any, vocab_size: Any, name: str | None = None) -> Tensor:
    """A dense bool tensor [..., vocab_size] that is True at each id the SparseTensor of ids holds in that row."""
    _, _, _, array_ops, _, _, _ = _ops()
    from labflow.ops.sparse_ops import sparse_tensor_to_dense
    sp = as_sparse(sp_input, "sp_input", "sparse_to_indicator")
    with get_default_graph().name_scope(name or "SparseToIndicator"):
        ones = array_ops.fill(array_ops.shape(sp.values), True)
        merged = sparse_merge(sp, SparseTensor(sp.indices, ones, sp.dense_shape), vocab_size)
        return sparse_tensor_to_dense(merged, default_value=False, validate_indices=False)


def sparse_reset_shape(sp_input: Any, new_shape: Any = None) -> SparseTensor:
    """The same entries with dense shape `new_shape` (each size at least the old one), or with the tightest
    shape that holds the entries when `new_shape` is None."""
    _, _, _, array_ops, _, _, math_ops = _ops()
    from labflow.ops import reduction_ops
    sp = as_sparse(sp_input, "sp_input", "sparse_reset_shape")
    if new_shape is None:
        shape = math_ops.add(reduction_ops.reduce_max(sp.indices, axis=0), 1)
        return SparseTensor(sp.indices, sp.values, shape)
    new = convert_to_tensor(new_shape, dtype=_dt.int64)
    old_v, new_v = constant_value(sp.dense_shape), constant_value(new)
    if old_v is not None and new_v is not None:
        old_v, new_v = np.asarray(old_v).reshape(-1), np.asarray(new_v).reshape(-1)
        if old_v.shape != new_v.shape or (new_v < old_v).any():
            raise ValueError(f"sparse_reset_shape: new_shape {new_v.tolist()} must have the rank of the old dense "
                             f"shape {old_v.tolist()} and no smaller size")
        return SparseTensor(sp.indices, sp.values, new)
    from labflow.ops.check_ops import assert_greater_equal
    from labflow.ops.image_common import with_dependencies
    check = assert_greater_equal(new, sp.dense_shape, message="sparse_reset_shape: new_shape must be at least "
                                                              "the old dense shape in every dimension")
    return SparseTensor(sp.indices, sp.values, with_dependencies([check], new))


def sparse_mask(a: IndexedSlices, mask_indices: Any, name: str | None = None) -> IndexedSlices:
    """The slices of the IndexedSlices `a` whose indices are not in `mask_indices` (TF 1.x `tf.sparse_mask`)."""
    gather_ops = _ops()[0]
    from labflow.ops.array_sort_ops import setdiff1d
    if not isinstance(a, IndexedSlices):
        raise TypeError(f"sparse_mask: a must be an IndexedSlices, got {type(a).__name__}")
    with get_default_graph().name_scope(name or "sparse_mask"):
        out_indices, to_gather = setdiff1d(a.indices, convert_to_tensor(mask_indices, dtype=a.indices.dtype))
        return IndexedSlices(gather_ops.gather(a.values, to_gather), out_indices, a.dense_shape)


def from_dense(tensor: Any, name: str | None = None) -> SparseTensor:
    """The SparseTensor of a dense tensor's non-zero entries (non-empty for strings), in row-major order."""
    gather_ops, _, nd_ops, array_ops, _, _, _ = _ops()
    from labflow.ops.compare_ops import not_equal
    t = convert_to_tensor(tensor)
    with get_default_graph().name_scope(name or "dense_to_sparse"):
        zero = "" if t.dtype.base_dtype == _dt.string else np.zeros((), t.dtype.base_dtype.as_numpy_dtype)
        indices = gather_ops.where(not_equal(t, convert_to_tensor(zero, dtype=t.dtype.base_dtype)))
        return SparseTensor(indices, nd_ops.gather_nd(t, indices), array_ops.shape(t, out_type=_dt.int64))


def sparse_expand_dims(sp_input: Any, axis: Any = None, name: str | None = None) -> SparseTensor:
    """Inserts a dimension of size 1 at `axis` (default -1: last) into a SparseTensor (`tf.sparse.expand_dims`)."""
    _, join_ops, _, array_ops, _, _, _ = _ops()
    sp = as_sparse(sp_input, "sp_input", "sparse.expand_dims")
    axis = -1 if axis is None else int(axis)
    rank = rank_of(sp.dense_shape, sp.indices)
    if rank is None:
        raise ValueError("sparse.expand_dims: the SparseTensor's rank must be known statically")
    if not -rank - 1 <= axis <= rank:
        raise ValueError(f"sparse.expand_dims: axis {axis} is out of range for rank {rank}; use [{-rank - 1}, {rank}]")
    axis %= rank + 1
    with get_default_graph().name_scope(name or "expand_dims"):
        n = array_ops.shape(sp.indices, out_type=_dt.int64)[:1]
        zeros = array_ops.zeros(join_ops.concat([n, np.ones(1, np.int64)], 0), dtype=_dt.int64)
        indices = join_ops.concat([sp.indices[:, :axis], zeros, sp.indices[:, axis:]], 1)
        shape = join_ops.concat([sp.dense_shape[:axis], np.ones(1, np.int64), sp.dense_shape[axis:]], 0)
        return SparseTensor(indices, sp.values, shape)


def sparse_eye(num_rows: Any, num_columns: Any = None, dtype: Any = _dt.float32, name: str | None = None
               ) -> SparseTensor:
    """A [num_rows, num_columns] SparseTensor with ones on the diagonal (`tf.sparse.eye`)."""
    _, join_ops, _, array_ops, range_ops, _, math_ops = _ops()
    with get_default_graph().name_scope(name or "eye"):
        rows = convert_to_tensor(num_rows, dtype=_dt.int64)
        cols = rows if num_columns is None else convert_to_tensor(num_columns, dtype=_dt.int64)
        n = math_ops.minimum(rows, cols)
        diag = range_ops.range(0, n)
        return SparseTensor(join_ops.stack([diag, diag], axis=1), array_ops.ones(array_ops.reshape(n, [1]),
                                                                                  dtype=dtype),
                            join_ops.stack([rows, cols]))


__all__ = ["sparse_retain", "sparse_transpose", "sparse_merge", "sparse_to_indicator", "sparse_reset_shape",
           "sparse_mask"]
