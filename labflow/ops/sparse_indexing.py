"""Host-side helpers shared by the sparse kernels: validating (indices, values, shape) triples, grouping rows
of indices, and the shape functions of ops that return a SparseTensor's three components."""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.constant_value import constant_value
from labflow.framework.sparse_tensor import SparseTensor, SparseTensorValue
from labflow.ops.common import base, dims


def host(a: Any) -> np.ndarray:
    """A NumPy view of a kernel input (the sparse kernels run on the host, as TF's do)."""
    return np.asarray(a.get() if hasattr(a, "get") else a)


def check_triple(op_type: str, indices: Any, values: Any, shape: Any, what: str = "input") -> tuple:
    """(indices [N, rank] int64, values, shape list) after TF's checks: matching sizes and in-bounds indices."""
    idx, shp = host(indices).astype(np.int64, copy=False), [int(s) for s in host(shape).reshape(-1)]
    if idx.ndim != 2 or idx.shape[1] != len(shp):
        raise errors.InvalidArgumentError(None, None, f"{op_type}: {what} indices must be a matrix [N, {len(shp)}] "
                                          f"for a dense shape of rank {len(shp)}, got shape {list(idx.shape)}")
    if values is not None and np.shape(values)[0] != idx.shape[0]:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: {what} has {idx.shape[0]} indices but "
                                          f"{np.shape(values)[0]} values; give one value per index row")
    if idx.size:
        bad = np.nonzero(((idx < 0) | (idx >= np.asarray(shp, np.int64))).any(axis=1))[0]
        if bad.size:
            raise errors.InvalidArgumentError(None, None, f"{op_type}: {what} indices[{bad[0]}] = "
                                              f"{idx[bad[0]].tolist()} is out of bounds for the dense shape {shp}")
    return idx, shp


def row_groups(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of `rows` in row-major (lexicographic) order, and each row's position among them."""
    if rows.shape[0] == 0:
        return rows.reshape(0, rows.shape[1]), np.zeros(0, np.int64)
    if rows.shape[1] == 0:
        return rows[:1], np.zeros(rows.shape[0], np.int64)
    uniq, inv = np.unique(rows, axis=0, return_inverse=True)
    return uniq, inv.reshape(-1)


def row_order(idx: np.ndarray) -> np.ndarray:
    """The stable permutation that puts index rows in row-major order (TF's canonical order)."""
    if idx.shape[0] == 0 or idx.shape[1] == 0:
        return np.arange(idx.shape[0])
    return np.lexsort(idx.T[::-1])


def rank_of(shape_t: Any, indices_t: Any = None) -> int | None:
    """The static rank of a sparse operand from its dense_shape (else its indices') static shape."""
    d = dims(shape_t)
    if d is not None and d[0] is not None:
        return d[0]
    if indices_t is not None:
        d = dims(indices_t)
        if d is not None and d[1] is not None:
            return d[1]
    return None


def triple_shape(value_dtype: Any, rank: int | None, dense_shape: tuple | None = None) -> list:
    """Static (dtype, dims) of the (indices, values, dense_shape) outputs of an op returning a SparseTensor."""
    if dense_shape is not None:
        rank = len(dense_shape)
    return [(_dt.int64, (None, rank)), (value_dtype, (None,)), (_dt.int64, (rank,))]


def const_shape(t: Any) -> list[int] | None:
    """A constant dense_shape's values, else None."""
    v = constant_value(t)
    return None if v is None else [int(s) for s in np.asarray(v).reshape(-1)]


def check_index_inputs(op_type: str, ins: list, at: tuple = (0, 2)) -> None:
    """Graph-construction checks of a sparse operand's indices (a matrix) and dense_shape (a vector)."""
    i, s = ins[at[0]], ins[at[1]]
    for t, name, r in ((i, "indices", 2), (s, "dense_shape", 1)):
        d = dims(t)
        if d is not None and len(d) != r:
            raise ValueError(f"{op_type}: {name} must be rank {r}, got shape {list(d)}")
        if base(t) != _dt.int64:
            raise TypeError(f"{op_type}: {name} must be int64, got {base(t).name}")


def sparse_of(op_: Any, first: int = 0) -> SparseTensor:
    """The SparseTensor made of an op's outputs `first`, `first + 1`, `first + 2`."""
    o = op_.outputs
    return SparseTensor(o[first], o[first + 1], o[first + 2])


def as_sparse(x: Any, arg: str, fn: str) -> SparseTensor:
    """`x` as a SparseTensor (a SparseTensor, SparseTensorValue or triple); a TypeError naming `arg` otherwise."""
    if isinstance(x, SparseTensor):
        return x
    if isinstance(x, SparseTensorValue):
        return SparseTensor(*x)
    raise TypeError(f"{fn}: {arg} must be a SparseTensor (or SparseTensorValue), got {type(x).__name__}")


def axes_arg(sp: SparseTensor, axis: Any, reduction_axes: Any) -> Any:
    """TF's (axis, reduction_axes) pair as an int32 vector; None means every axis, written out as TF's wrappers
    do (the kernels, like TF's, read an empty vector as no axis at all)."""
    a = axis if axis is not None else reduction_axes
    if a is not None:
        return np.asarray(a, np.int32).reshape(-1)
    rank = rank_of(sp.dense_shape, sp.indices)
    if rank is not None:
        return np.arange(rank, dtype=np.int32)
    from labflow.ops.array_ops import size
    from labflow.ops.array_reshape_ops import range as range_
    return range_(0, size(sp.dense_shape))


def keep_arg(keepdims: Any, keep_dims: Any) -> bool:
    return bool(keepdims if keepdims is not None else keep_dims or False)
