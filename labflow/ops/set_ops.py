"""Set operations over the last dimension (`tf.sets`): intersection, union, difference and size.

Every position of the leading dimensions holds a set: the values along the last dimension of a dense
tensor (repeats collapse), or a SparseTensor's values in that row. Results are SparseTensors whose rows
hold each result set in ascending order, dense shape = group shape + [largest result set], as in TF.
The kernels are whole-array NumPy work on the host (TF has CPU kernels only): every (row, value) pair
becomes one int64 key, and the set algebra is np.intersect1d / union1d / setdiff1d on sorted keys.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.registry import op
from labflow.framework.sparse_tensor import SparseTensor, SparseTensorValue
from labflow.framework.tensor import Tensor
from labflow.ops.common import base, constant_value, convert_to_tensor, dims, make_op, make_tensor

__all__: list[str] = []

SET_TYPES = (_dt.int8, _dt.int16, _dt.int32, _dt.int64, _dt.uint8, _dt.uint16, _dt.string)
_OPERATIONS = ("a-b", "b-a", "intersection", "union")


# -- host-side helpers -------------------------------------------------------------------------------
def _dense_groups(what: str, x: np.ndarray) -> tuple[tuple, np.ndarray, np.ndarray]:
    if x.ndim < 2:
        raise errors.InvalidArgumentError(None, None, f"{what}: a dense set input must have rank >= 2, got shape "
                                          f"{list(x.shape)}")
    group = x.shape[:-1]
    gid = np.repeat(np.arange(int(np.prod(group)), dtype=np.int64), x.shape[-1])
    return group, gid, x.reshape(-1)


def _sparse_groups(what: str, indices: np.ndarray, values: np.ndarray, shape: np.ndarray,
                   validate: bool) -> tuple[tuple, np.ndarray, np.ndarray]:
    shape = [int(s) for s in np.asarray(shape).reshape(-1)]
    rank = len(shape)
    if rank < 2:
        raise errors.InvalidArgumentError(None, None, f"{what}: a sparse set input must have rank >= 2, got dense "
                                          f"shape {shape}")
    if indices.ndim != 2 or indices.shape[1] != rank or values.shape[0] != indices.shape[0]:
        raise errors.InvalidArgumentError(None, None, f"{what}: indices {list(indices.shape)} and values "
                                          f"{list(values.shape)} do not describe a sparse tensor of rank {rank}")
    if indices.size:
        if (indices < 0).any() or (indices >= np.asarray(shape)).any():
            row = int(np.flatnonzero(((indices < 0) | (indices >= np.asarray(shape))).any(1))[0])
            raise errors.InvalidArgumentError(None, None, f"{what}: indices[{row}] = {indices[row].tolist()} is "
                                              f"out of bounds for dense shape {shape}")
        if validate and indices.shape[0] > 1:
            flat = np.ravel_multi_index(tuple(indices.T), shape) if all(shape) else np.zeros(0)
            bad = np.flatnonzero(np.diff(flat) <= 0)
            if bad.size:
                i = int(bad[0]) + 1
                raise errors.InvalidArgumentError(None, None, (
                    f"{what}: indices[{i}] = {indices[i].tolist()} is out of order or repeated (after "
                    f"{indices[i - 1].tolist()}). Many sparse ops require sorted indices: use tf.sparse_reorder "
                    "to create a correctly ordered copy, or pass validate_indices=False."))
    group = tuple(shape[:-1])
    gid = (np.ravel_multi_index(tuple(indices[:, :-1].T), group) if indices.shape[0] else np.zeros(0, np.int64))
    return group, gid.astype(np.int64), values


def _keys(gid: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    return np.unique(gid * k + codes)


def _codes(*values: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    both = np.concatenate(values) if values else np.zeros(0)
    uniq, inv = np.unique(both, return_inverse=True)
    out, start = [], 0
    for v in values:
        out.append(inv[start:start + v.shape[0]].astype(np.int64))
        start += v.shape[0]
    return uniq, out


def _set_result(what: str, operation: str, a: tuple, b: tuple, dtype: Any) -> list[np.ndarray]:
    (ga, ida, va), (gb, idb, vb) = a, b
    if ga != gb:
        raise errors.InvalidArgumentError(None, None, f"{what}: mismatched group shapes {list(ga)} vs {list(gb)} "
                                          "(all dimensions but the last must be equal)")
    uniq, (ca, cb) = _codes(va, vb)
    k = max(len(uniq), 1)
    ka, kb = _keys(ida, ca, k), _keys(idb, cb, k)
    if operation == "intersection":
        keys = np.intersect1d(ka, kb, assume_unique=True)
    elif operation == "union":
        keys = np.union1d(ka, kb)
    elif operation == "a-b":
        keys = np.setdiff1d(ka, kb, assume_unique=True)
    else:
        keys = np.setdiff1d(kb, ka, assume_unique=True)
    gid, code = keys // k, keys % k
    pos = np.arange(keys.size, dtype=np.int64) - np.searchsorted(gid, gid, side="left")
    width = int(pos.max()) + 1 if pos.size else 0
    lead = np.stack(np.unravel_index(gid, ga), axis=1) if ga and keys.size else np.zeros((keys.size, len(ga)), np.int64)
    indices = np.concatenate([lead.astype(np.int64), pos[:, None]], axis=1)
    values = uniq[code] if keys.size else np.zeros(0, dtype)
    return [indices, np.asarray(values, dtype=dtype), np.array(list(ga) + [width], np.int64)]


# -- shape functions --------------------------------------------------------------------------------
def _check_type(t: Any) -> None:
    if base(t) not in SET_TYPES:
        raise TypeError(f"Set ops take int8, int16, int32, int64, uint8, uint16 or string values, got {base(t).name}")


def _rank_of_dense(t: Any, what: str) -> int | None:
    d = dims(t)
    if d is not None and len(d) < 2:
        raise ValueError(f"Shape must be at least rank 2 but is rank {len(d)} ({what})")
    return None if d is None else len(d)


def _rank_of_sparse(shape_t: Any) -> int | None:
    d = dims(shape_t)
    if d is not None and len(d) != 1:
        raise ValueError(f"A sparse set's dense shape must be a vector, got rank {len(d)}")
    r = None if d is None else d[0]
    if r is not None and r < 2:
        raise ValueError(f"Shape must be at least rank 2 but is rank {r} (a sparse set input)")
    return r


def _set_outputs(rank: int | None, dt: Any, attrs: dict) -> list:
    if attrs["set_operation"] not in _OPERATIONS:
        raise ValueError(f"Invalid set_operation {attrs['set_operation']!r}: use one of {', '.join(_OPERATIONS)}")
    return [(_dt.int64, (None, rank)), (dt, (None,)), (_dt.int64, (rank,))]


def _dense_dense_shape(ins: list, attrs: dict) -> list:
    a, b = ins
    _check_type(a)
    ra, rb = _rank_of_dense(a, "set1"), _rank_of_dense(b, "set2")
    if base(a) != base(b):
        raise TypeError(f"set1 and set2 must have one dtype, got {base(a).name} and {base(b).name}")
    da, db = dims(a), dims(b)
    if da is not None and db is not None:
        if ra != rb:
            raise ValueError(f"Shapes must be equal rank, but are {ra} and {rb}")
        for i, (x, y) in enumerate(zip(da[:-1], db[:-1])):
            if x is not None and y is not None and x != y:
                raise ValueError(f"Dimension {i} in both shapes must be equal, but are {x} and {y} (all dimensions "
                                 "but the last are the group shape)")
    return _set_outputs(ra if ra is not None else rb, base(a), attrs)


def _dense_sparse_shape(ins: list, attrs: dict) -> list:
    a, _, vb, sb = ins
    _check_type(a)
    if base(a) != base(vb):
        raise TypeError(f"set1 and set2 must have one dtype, got {base(a).name} and {base(vb).name}")
    ra, rb = _rank_of_dense(a, "set1"), _rank_of_sparse(sb)
    if ra is not None and rb is not None and ra != rb:
        raise ValueError(f"Shapes must be equal rank, but are {ra} and {rb}")
    return _set_outputs(ra if ra is not None else rb, base(a), attrs)


def _sparse_sparse_shape(ins: list, attrs: dict) -> list:
    _, va, sa, _, vb, sb = ins
    _check_type(va)
    if base(va) != base(vb):
        raise TypeError(f"set1 and set2 must have one dtype, got {base(va).name} and {base(vb).name}")
    ra, rb = _rank_of_sparse(sa), _rank_of_sparse(sb)
    if ra is not None and rb is not None and ra != rb:
        raise ValueError(f"Shapes must be equal rank, but are {ra} and {rb}")
    return _set_outputs(ra if ra is not None else rb, base(va), attrs)


_SET_OP = dict(attrs={"set_operation": "intersection", "validate_indices": True}, outputs=3, host_op=True,
               not_differentiable=True, output_names=("result_indices", "result_values", "result_shape"))


@op("DenseToDenseSetOperation", inputs=("set1", "set2"), shape=_dense_dense_shape, **_SET_OP)
def dense_to_dense_set_kernel(xp, set1, set2, *, set_operation, validate_indices):
    what = "DenseToDenseSetOperation"
    return _set_result(what, set_operation, _dense_groups(what, set1), _dense_groups(what, set2), set1.dtype)


@op("DenseToSparseSetOperation", inputs=("set1", "set2_indices", "set2_values", "set2_shape"),
    shape=_dense_sparse_shape, **_SET_OP)
def dense_to_sparse_set_kernel(xp, set1, set2_indices, set2_values, set2_shape, *, set_operation, validate_indices):
    what = "DenseToSparseSetOperation"
    return _set_result(what, set_operation, _dense_groups(what, set1),
                       _sparse_groups(what, set2_indices, set2_values, set2_shape, validate_indices), set1.dtype)


@op("SparseToSparseSetOperation", inputs=("set1_indices", "set1_values", "set1_shape", "set2_indices",
                                          "set2_values", "set2_shape"), shape=_sparse_sparse_shape, **_SET_OP)
def sparse_to_sparse_set_kernel(xp, set1_indices, set1_values, set1_shape, set2_indices, set2_values, set2_shape, *,
                                set_operation, validate_indices):
    what = "SparseToSparseSetOperation"
    return _set_result(what, set_operation,
                       _sparse_groups(what, set1_indices, set1_values, set1_shape, validate_indices),
                       _sparse_groups(what, set2_indices, set2_values, set2_shape, validate_indices), set1_values.dtype)


def _set_size_shape(ins: list, attrs: dict) -> tuple:
    _check_type(ins[1])
    r = _rank_of_sparse(ins[2])
    v = constant_value(ins[2])
    if v is not None:
        return _dt.int32, tuple(int(s) for s in np.asarray(v).reshape(-1)[:-1])
    return _dt.int32, None if r is None else (None,) * (r - 1)


@op("SetSize", inputs=("set_indices", "set_values", "set_shape"), attrs={"validate_indices": True},
    shape=_set_size_shape, host_op=True, not_differentiable=True)
def set_size_kernel(xp, set_indices, set_values, set_shape, *, validate_indices):
    group, gid, values = _sparse_groups("SetSize", set_indices, set_values, set_shape, validate_indices)
    _, (codes,) = _codes(values)
    n = int(np.prod(group))
    k = int(codes.max()) + 1 if codes.size else 1
    keys = _keys(gid, codes, k)
    return np.bincount(keys // k, minlength=n).astype(np.int32).reshape(group)


# -- public wrappers (tf.sets.*) --------------------------------------------------------------------
def _as_set(x: Any, name: str) -> Any:
    if isinstance(x, SparseTensorValue):
        return SparseTensor.from_value(x)
    if isinstance(x, SparseTensor):
        return x
    return convert_to_tensor(x, name=name)


def _set_operation(a: Any, b: Any, operation: str, validate_indices: bool) -> SparseTensor:
    attrs = {"set_operation": operation, "validate_indices": bool(validate_indices)}
    if isinstance(a, SparseTensor):  # a sparse a comes with a sparse b: dense, sparse pairs were flipped
        ins = [a.indices, a.values, a.dense_shape, b.indices, b.values, b.dense_shape]
        op_type = "SparseToSparseSetOperation"
        attrs["T"] = a.dtype
    elif isinstance(b, SparseTensor):
        ins = [a, b.indices, b.values, b.dense_shape]
        op_type = "DenseToSparseSetOperation"
        attrs["T"] = base(a)
    else:
        ins = [a, b]
        op_type = "DenseToDenseSetOperation"
        attrs["T"] = base(a)
    return SparseTensor(*make_op(op_type, ins, attrs, op_type).outputs)


def _prepare(a: Any, b: Any, what: str) -> tuple[Any, Any, bool]:
    a, b = _as_set(a, "a"), _as_set(b, "b")
    da = a.dtype if isinstance(a, SparseTensor) else base(a)
    db = b.dtype if isinstance(b, SparseTensor) else base(b)
    if da != db:
        raise TypeError(f"{what}: types differ: {da.name} vs {db.name}")
    if isinstance(a, SparseTensor) and not isinstance(b, SparseTensor):
        return b, a, True
    return a, b, False


def set_intersection(a: Any, b: Any, validate_indices: bool = True) -> SparseTensor:
    """The intersection of the sets in the last dimension of `a` and `b` (TF's `tf.sets.set_intersection`).

    Args:
        a, b: dense Tensors or SparseTensors of one dtype (int8/16/32/64, uint8/16 or string), rank >= 2,
            with equal leading (group) dimensions.
        validate_indices: check that sparse indices are in row-major order without repeats.

    Returns:
        A SparseTensor: each row holds the intersection in ascending order; dense shape = group shape +
        [largest intersection].
    """
    a, b, _ = _prepare(a, b, "set_intersection")
    return _set_operation(a, b, "intersection", validate_indices)


def set_union(a: Any, b: Any, validate_indices: bool = True) -> SparseTensor:
    """The union of the sets in the last dimension of `a` and `b` (TF's `tf.sets.set_union`); see
    `set_intersection` for the arguments and the result's layout."""
    a, b, _ = _prepare(a, b, "set_union")
    return _set_operation(a, b, "union", validate_indices)


def set_difference(a: Any, b: Any, aminusb: bool = True, validate_indices: bool = True) -> SparseTensor:
    """`a - b` (or `b - a` when aminusb is False) of the sets in the last dimension (TF's
    `tf.sets.set_difference`); see `set_intersection` for the arguments and the result's layout."""
    a, b, flipped = _prepare(a, b, "set_difference")
    if flipped:
        aminusb = not aminusb
    return _set_operation(a, b, "a-b" if aminusb else "b-a", validate_indices)


def set_size(a: Any, validate_indices: bool = True) -> Tensor:
    """The number of distinct values in each set of the SparseTensor `a` (TF's `tf.sets.set_size`).

    Returns:
        An int32 Tensor of shape `a.dense_shape[:-1]`.

    Raises:
        TypeError: `a` is not a SparseTensor (TF's rule: a dense set's size is its last dimension).
    """
    if isinstance(a, SparseTensorValue):
        a = SparseTensor.from_value(a)
    if not isinstance(a, SparseTensor):
        raise TypeError(f"Expected `SparseTensor`, got {a!r}: set_size takes a SparseTensor")
    return make_tensor("SetSize", [a.indices, a.values, a.dense_shape],
                       {"validate_indices": bool(validate_indices), "T": a.dtype}, "SetSize")
