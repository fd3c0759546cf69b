"""Sparse ops that move entries (TF 1.x): SparseConcat, SparseReshape, SparseSlice (+ SparseSliceGrad),
SparseReorder, SparseFillEmptyRows (+ SparseFillEmptyRowsGrad) and SparseSplit. Host kernels, as in TF."""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.registry import op
from labflow.framework.sparse_tensor import SparseTensor
from labflow.ops.common import ALL_TYPES, NUMERIC_TYPES, base, convert_to_tensor, dims, make_op
from labflow.ops.sparse_indexing import (
    as_sparse,
    check_index_inputs,
    check_triple,
    const_shape,
    host,
    rank_of,
    row_order,
    sparse_of,
    triple_shape,
)

_CPU = ("CPU",)


# -- SparseConcat ------------------------------------------------------------------------------------------
def _concat_shape(ins, attrs):
    n = attrs["N"]
    shapes = [const_shape(t) for t in ins[2 * n:]]
    rank = next((rank_of(s) for s in ins[2 * n:] if rank_of(s) is not None), None)
    out = None
    if rank is not None and not -rank <= attrs["concat_dim"] < rank:
        raise ValueError(f"SparseConcat: concat_dim {attrs['concat_dim']} is out of range for rank {rank}")
    if all(s is not None for s in shapes):
        d = attrs["concat_dim"] % len(shapes[0])
        out = list(shapes[0])
        out[d] = sum(s[d] for s in shapes)
    return triple_shape(base(ins[n]), rank, out)


@op("SparseConcat", inputs=("*indices", "*values", "*shapes"), attrs={"concat_dim": 0, "N": None}, types=ALL_TYPES,
    type_inputs=("values",), shape=_concat_shape, outputs=3, output_names=("output_indices", "output_values",
                                                                          "output_shape"),
    not_differentiable=True, devices=_CPU)
def sparse_concat_kernel(xp, *args, concat_dim, N):
    parts = [check_triple("SparseConcat", args[k], args[N + k], args[2 * N + k], f"input {k}") for k in range(N)]
    rank = len(parts[0][1])
    d = concat_dim % rank if -rank <= concat_dim < rank else None
    for k, (_, shp) in enumerate(parts):
        if d is None or len(shp) != rank or any(a != b for i, (a, b) in enumerate(zip(shp, parts[0][1])) if i != d):
            raise errors.InvalidArgumentError(None, None, f"SparseConcat: input {k} has dense shape {shp}, which does "
                                              f"not match input 0's {parts[0][1]} outside concat_dim {concat_dim} "
                                              "(pass expand_nonconcat_dim=True to grow them to the largest)")
    offsets = np.cumsum([0] + [shp[d] for _, shp in parts])
    idx = np.concatenate([i + np.eye(1, rank, d, dtype=np.int64) * off for (i, _), off in zip(parts, offsets)])
    vals = np.concatenate(args[N:2 * N])
    order = row_order(idx)
    shape = list(parts[0][1])
    shape[d] = int(offsets[-1])
    return idx[order], vals[order], np.asarray(shape, np.int64)


def sparse_concat(axis: Any, sp_inputs: list, name: str | None = None, expand_nonconcat_dim: bool = False,
                  concat_dim: Any = None, expand_nonconcat_dims: Any = None) -> SparseTensor:
    """Concatenates SparseTensors along `axis` (TF 1.x `tf.sparse_concat`).

    Args:
        axis: the dimension to concatenate along.
        sp_inputs: a list of SparseTensors of one rank and dtype.
        name: a name for the op.
        expand_nonconcat_dim: grow the inputs' other dimensions to the largest instead of requiring them equal.
        concat_dim, expand_nonconcat_dims: TF 1.x's older names for `axis` and `expand_nonconcat_dim`.

    Returns:
        A SparseTensor in row-major order.

    Raises:
        InvalidArgumentError (at run time): the other dimensions differ and `expand_nonconcat_dim` is False.
    """
    axis = concat_dim if concat_dim is not None else axis
    expand = expand_nonconcat_dims if expand_nonconcat_dims is not None else expand_nonconcat_dim
    sps = [as_sparse(s, "sp_inputs", "sparse_concat") for s in sp_inputs]
    if not sps:
        raise ValueError("sparse_concat: sp_inputs must hold at least one SparseTensor")
    shapes = [s.dense_shape for s in sps]
    if expand:
        from labflow.ops import array_join_ops, math_ops, reduction_ops
        rank = next((rank_of(s) for s in shapes if rank_of(s) is not None), None)
        if rank is None:
            raise ValueError("sparse_concat: expand_nonconcat_dim needs the inputs' rank to be known statically")
        at = np.eye(1, rank, int(axis) % rank, dtype=np.int64).reshape(-1)
        top = reduction_ops.reduce_max(array_join_ops.stack(shapes), axis=0)
        shapes = [math_ops.add(math_ops.multiply(s, at), math_ops.multiply(top, 1 - at)) for s in shapes]
    o = make_op("SparseConcat", [s.indices for s in sps] + [s.values for s in sps] + shapes,
                {"concat_dim": int(axis), "N": len(sps)}, name or "SparseConcat")
    static = [const_shape(t) for t in shapes]
    if all(v is not None for v in static):  # TF's wrapper also gives the result a constant shape when it can
        d = int(axis) % len(static[0])
        total = list(static[0])
        total[d] = sum(v[d] for v in static)
        return SparseTensor(o.outputs[0], o.outputs[1], np.asarray(total, np.int64))
    return sparse_of(o)


# -- SparseReshape -----------------------------------------------------------------------------------------
def _reshape_shape(ins, attrs):
    for t, what, r in ((ins[0], "input_indices", 2), (ins[1], "input_shape", 1), (ins[2], "new_shape", 1)):
        d = dims(t)
        if d is not None and len(d) != r:
            raise ValueError(f"SparseReshape: {what} must be rank {r}, got shape {list(d)}")
    new = const_shape(ins[2])
    old = const_shape(ins[1])
    if new is not None and old is not None and new.count(-1) == 1:
        known = int(np.prod([s for s in new if s != -1]))
        new = [int(np.prod(old)) // known if s == -1 and known else s for s in new]
    rank = len(new) if new is not None else (dims(ins[2]) or (None,))[0]
    return [(_dt.int64, (None, rank)), (_dt.int64, (rank,))]


def _resolve_shape(old: list, new: list) -> list:
    total = int(np.prod(old, dtype=np.int64))
    if new.count(-1) > 1 or any(s < -1 for s in new):
        raise errors.InvalidArgumentError(None, None, f"SparseReshape: new_shape {new} may hold at most one -1 "
                                          "and no other negative size")
    if -1 in new:
        known = int(np.prod([s for s in new if s != -1], dtype=np.int64))
        if known == 0 or total % known:
            raise errors.InvalidArgumentError(None, None, f"SparseReshape: cannot reshape a SparseTensor of dense "
                                              f"shape {old} ({total} elements) into {new}")
        new = [total // known if s == -1 else s for s in new]
    if int(np.prod(new, dtype=np.int64)) != total:
        raise errors.InvalidArgumentError(None, None, f"SparseReshape: cannot reshape a SparseTensor of dense shape "
                                          f"{old} ({total} elements) into {new} "
                                          f"({int(np.prod(new, dtype=np.int64))} elements)")
    return new


@op("SparseReshape", inputs=("input_indices", "input_shape", "new_shape"), shape=_reshape_shape, outputs=2,
    output_names=("output_indices", "output_shape"), not_differentiable=True, devices=_CPU)
def sparse_reshape_kernel(xp, input_indices, input_shape, new_shape):
    idx, old = check_triple("SparseReshape", input_indices, None, input_shape)
    new = _resolve_shape(old, [int(s) for s in host(new_shape).reshape(-1)])
    if not idx.shape[0]:
        return np.zeros((0, len(new)), np.int64), np.asarray(new, np.int64)
    flat = np.ravel_multi_index(tuple(idx.T), old) if old else np.zeros(idx.shape[0], np.int64)
    out = np.stack(np.unravel_index(flat, new), axis=1) if new else np.zeros((idx.shape[0], 0), np.int64)
    return out.astype(np.int64), np.asarray(new, np.int64)


def sparse_reshape(sp_input: Any, shape: Any, name: str | None = None) -> SparseTensor:
    """The SparseTensor with the same entries in row-major order and dense shape `shape` (one -1 is inferred)."""
    sp = as_sparse(sp_input, "sp_input", "sparse_reshape")
    o = make_op("SparseReshape", [sp.indices, sp.dense_shape, convert_to_tensor(shape, dtype=_dt.int64)], None,
                name or "SparseReshape")
    old, new = const_shape(sp.dense_shape), const_shape(o.inputs[2])
    if old is not None and new is not None:
        try:
            static = _resolve_shape(old, new)
        except errors.InvalidArgumentError as e:  # a constant mismatch fails at construction, as in TF
            raise ValueError(e.message) from None
        return SparseTensor(o.outputs[0], sp.values, np.asarray(static, np.int64))
    return SparseTensor(o.outputs[0], sp.values, o.outputs[1])


# -- SparseSlice -------------------------------------------------------------------------------------------
def _slice_shape(ins, attrs):
    check_index_inputs("SparseSlice", ins, (0, 2))
    shape, start, size = const_shape(ins[2]), const_shape(ins[3]), const_shape(ins[4])
    out = None
    if shape is not None and start is not None and size is not None:
        out = [max(0, min(z, s - b)) for s, b, z in zip(shape, start, size)]
    return triple_shape(base(ins[1]), rank_of(ins[2], ins[0]), out)


def _slice_bounds(op_type: str, shp: list, start: Any, size: Any) -> tuple[np.ndarray, np.ndarray]:
    b, z = host(start).reshape(-1).astype(np.int64), host(size).reshape(-1).astype(np.int64)
    if b.shape[0] != len(shp) or z.shape[0] != len(shp) or (b < 0).any() or (z < 0).any():
        raise errors.InvalidArgumentError(None, None, f"{op_type}: start {b.tolist()} and size {z.tolist()} must be "
                                          f"{len(shp)} non-negative numbers for a dense shape of rank {len(shp)}")
    return b, z


@op("SparseSlice", inputs=("indices", "values", "shape", "start", "size"), types=ALL_TYPES, type_inputs=("values",),
    shape=_slice_shape, outputs=3, output_names=("output_indices", "output_values", "output_shape"), devices=_CPU)
def sparse_slice_kernel(xp, indices, values, shape, start, size):
    idx, shp = check_triple("SparseSlice", indices, values, shape)
    b, z = _slice_bounds("SparseSlice", shp, start, size)
    keep = ((idx >= b) & (idx < b + z)).all(axis=1)
    out_shape = np.maximum(0, np.minimum(z, np.asarray(shp, np.int64) - b))
    return idx[keep] - b, values[keep], out_shape.astype(np.int64)


@sparse_slice_kernel.grad
def _sparse_slice_grad(op, *grads):
    g = make_op("SparseSliceGrad", [grads[1], op.inputs[0], op.inputs[3], op.outputs[0]]).outputs[0]
    return [None, g, None, None, None]


@op("SparseSliceGrad", inputs=("backprop_val_grad", "input_indices", "input_start", "output_indices"),
    types=NUMERIC_TYPES, type_inputs=("backprop_val_grad",),
    shape=lambda ins, attrs: (base(ins[0]), (dims(ins[1]) or (None,))[:1]), not_differentiable=True, devices=_CPU)
def sparse_slice_grad_kernel(xp, backprop_val_grad, input_indices, input_start, output_indices):
    idx, start = host(input_indices).astype(np.int64), host(input_start).astype(np.int64)
    where = {tuple(r): k for k, r in enumerate((host(output_indices) + start).tolist())}
    out = np.zeros(idx.shape[0], dtype=backprop_val_grad.dtype)
    for i, r in enumerate(idx.tolist()):
        k = where.get(tuple(r))
        if k is not None:
            out[i] = backprop_val_grad[k]
    return out


def sparse_slice(sp_input: Any, start: Any, size: Any, name: str | None = None) -> SparseTensor:
    """The entries of `sp_input` inside the box [start, start + size) (TF 1.x `tf.sparse_slice`).

    Args:
        sp_input: the SparseTensor.
        start: the box's first coordinate, one per dimension.
        size: the box's size, one per dimension; it is clipped to the dense shape.
        name: a name for the op.

    Returns:
        A SparseTensor of the clipped box's shape, its indices re-based to start at 0.
    """
    sp = as_sparse(sp_input, "sp_input", "sparse_slice")
    o = make_op("SparseSlice", [sp.indices, sp.values, sp.dense_shape, convert_to_tensor(start, dtype=_dt.int64),
                                convert_to_tensor(size, dtype=_dt.int64)], None, name or "SparseSlice")
    return sparse_of(o)


# -- SparseReorder -----------------------------------------------------------------------------------------
def _reorder_shape(ins, attrs):
    check_index_inputs("SparseReorder", ins, (0, 2))
    return [(_dt.int64, dims(ins[0])), (base(ins[1]), dims(ins[1]))]


@op("SparseReorder", inputs=("input_indices", "input_values", "input_shape"), types=ALL_TYPES,
    type_inputs=("input_values",), shape=_reorder_shape, outputs=2, output_names=("output_indices", "output_values"),
    devices=_CPU)
def sparse_reorder_kernel(xp, input_indices, input_values, input_shape):
    idx, _ = check_triple("SparseReorder", input_indices, input_values, input_shape)
    order = row_order(idx)
    return idx[order], input_values[order]


@sparse_reorder_kernel.grad
def _sparse_reorder_grad(op, *grads):
    from labflow.ops import array_gather_ops, array_ops, array_reshape_ops
    indices, _, shape = op.inputs
    positions = array_reshape_ops.range(0, array_ops.shape(indices, out_type=_dt.int64)[0])
    order = sparse_reorder(SparseTensor(indices, positions, shape)).values
    return [None, array_gather_ops.gather(grads[1], array_reshape_ops.invert_permutation(order)), None]


def sparse_reorder(sp_input: Any, name: str | None = None) -> SparseTensor:
    """The same SparseTensor with its entries in row-major (canonical) order (TF 1.x `tf.sparse_reorder`)."""
    sp = as_sparse(sp_input, "sp_input", "sparse_reorder")
    o = make_op("SparseReorder", [sp.indices, sp.values, sp.dense_shape], None, name or "SparseReorder")
    return SparseTensor(o.outputs[0], o.outputs[1], sp.dense_shape)


# -- SparseFillEmptyRows -----------------------------------------------------------------------------------
def _fill_shape(ins, attrs):
    check_index_inputs("SparseFillEmptyRows", ins, (0, 2))
    d = dims(ins[3])
    if d is not None and len(d) != 0:
        raise ValueError(f"SparseFillEmptyRows: default_value must be a scalar, got shape {list(d)}")
    rank = rank_of(ins[2], ins[0])
    shape = const_shape(ins[2])
    rows = shape[0] if shape else None
    return [(_dt.int64, (None, rank)), (base(ins[1]), (None,)), (_dt.bool, (rows,)),
            (_dt.int64, (dims(ins[1]) or (None,))[:1])]


@op("SparseFillEmptyRows", inputs=("indices", "values", "dense_shape", "default_value"), types=ALL_TYPES,
    type_inputs=("values", "default_value"), shape=_fill_shape, outputs=4,
    output_names=("output_indices", "output_values", "empty_row_indicator", "reverse_index_map"), devices=_CPU)
def sparse_fill_empty_rows_kernel(xp, indices, values, dense_shape, default_value):
    idx, shp = check_triple("SparseFillEmptyRows", indices, values, dense_shape)
    if not shp:
        raise errors.InvalidArgumentError(None, None, "SparseFillEmptyRows: the SparseTensor must have rank >= 1")
    rows = shp[0]
    counts = np.bincount(idx[:, 0], minlength=rows) if idx.shape[0] else np.zeros(rows, np.int64)
    empty = counts == 0
    per_row = np.maximum(counts, 1)
    starts = np.concatenate([[0], np.cumsum(per_row)[:-1]]).astype(np.int64)
    order = np.argsort(idx[:, 0], kind="stable") if idx.shape[0] else np.zeros(0, np.int64)
    # an entry's slot: its row's start plus its rank among that row's entries (input order kept within a row)
    rank_in_row = np.arange(order.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)
    reverse = np.empty(idx.shape[0], np.int64)
    reverse[order] = starts[idx[order, 0]] + rank_in_row
    n = int(per_row.sum()) if rows else 0
    out_idx = np.zeros((n, len(shp)), np.int64)
    out_vals = np.empty(n, dtype=values.dtype)
    out_idx[reverse] = idx
    out_vals[reverse] = values
    fill_at = starts[empty]
    out_idx[fill_at, 0] = np.nonzero(empty)[0]
    out_vals[fill_at] = default_value
    return out_idx, out_vals, empty, reverse


@sparse_fill_empty_rows_kernel.grad
def _sparse_fill_empty_rows_grad(op, *grads):
    d_values, d_default = make_op("SparseFillEmptyRowsGrad", [op.outputs[3], grads[1]]).outputs
    return [None, d_values, None, d_default]


@op("SparseFillEmptyRowsGrad", inputs=("reverse_index_map", "grad_values"), types=NUMERIC_TYPES,
    type_inputs=("grad_values",), shape=lambda ins, attrs: [(base(ins[1]), dims(ins[0])), (base(ins[1]), ())],
    outputs=2, output_names=("d_values", "d_default_value"), not_differentiable=True, devices=_CPU)
def sparse_fill_empty_rows_grad_kernel(xp, reverse_index_map, grad_values):
    rev = host(reverse_index_map).astype(np.int64)
    filled = np.ones(grad_values.shape[0], bool)
    filled[rev] = False
    return grad_values[rev], np.asarray(grad_values[filled].sum(), dtype=grad_values.dtype)


def sparse_fill_empty_rows(sp_input: Any, default_value: Any, name: str | None = None) -> tuple:
    """Gives every empty row of a SparseTensor one entry `default_value` at column 0 (TF 1.x
    `tf.sparse_fill_empty_rows`).

    Args:
        sp_input: the SparseTensor (rank >= 1; rows are its first dimension).
        default_value: the value of the added entries.
        name: a name for the op.

    Returns:
        (the filled SparseTensor in row order, a bool vector marking the rows that were empty).
    """
    sp = as_sparse(sp_input, "sp_input", "sparse_fill_empty_rows")
    d = convert_to_tensor(default_value, dtype=sp.dtype)
    o = make_op("SparseFillEmptyRows", [sp.indices, sp.values, sp.dense_shape, d], None,
                name or "SparseFillEmptyRows")
    return SparseTensor(o.outputs[0], o.outputs[1], sp.dense_shape), o.outputs[2]


# -- SparseSplit -------------------------------------------------------------------------------------------
def _split_sizes(dim: int, n: int) -> list[int]:
    """TF's rule: `dim // n` each, the first `dim % n` pieces one larger."""
    return [dim // n + (1 if k < dim % n else 0) for k in range(n)]


def _split_shape(ins, attrs):
    check_index_inputs("SparseSplit", ins, (1, 3))
    n, rank = attrs["num_split"], rank_of(ins[3], ins[1])
    shape, axis = const_shape(ins[3]), const_shape(ins[0])
    shapes = [None] * n
    if shape is not None and axis is not None:
        d = axis[0] % len(shape)
        shapes = [[z if i == d else s for i, s in enumerate(shape)] for z in _split_sizes(shape[d], n)]
    parts = [triple_shape(base(ins[2]), rank, s) for s in shapes]
    return [p[0] for p in parts] + [p[1] for p in parts] + [p[2] for p in parts]


@op("SparseSplit", inputs=("split_dim", "indices", "values", "shape"), attrs={"num_split": None}, types=ALL_TYPES,
    type_inputs=("values",), shape=_split_shape, outputs=lambda attrs, n: 3 * attrs["num_split"],
    not_differentiable=True, devices=_CPU)
def sparse_split_kernel(xp, split_dim, indices, values, shape, *, num_split):
    idx, shp = check_triple("SparseSplit", indices, values, shape)
    d = int(host(split_dim).reshape(-1)[0])
    if not -len(shp) <= d < len(shp):
        raise errors.InvalidArgumentError(None, None, f"SparseSplit: split_dim {d} is out of range for a "
                                          f"SparseTensor of rank {len(shp)}")
    d %= len(shp)
    if shp[d] < num_split:
        raise errors.InvalidArgumentError(None, None, f"SparseSplit: cannot split dimension {d} of size {shp[d]} "
                                          f"into {num_split} pieces; use num_split <= {shp[d]}")
    sizes = _split_sizes(shp[d], num_split)
    bounds = np.cumsum([0] + sizes)
    out_i, out_v, out_s = [], [], []
    for k in range(num_split):
        keep = (idx[:, d] >= bounds[k]) & (idx[:, d] < bounds[k + 1])
        piece = idx[keep].copy()
        piece[:, d] -= bounds[k]
        out_i.append(piece)
        out_v.append(values[keep])
        out_s.append(np.asarray([sizes[k] if i == d else s for i, s in enumerate(shp)], np.int64))
    return tuple(out_i + out_v + out_s)


def sparse_split(keyword_required: Any = None, sp_input: Any = None, num_split: Any = None, axis: Any = None,
                 name: str | None = None, split_dim: Any = None) -> list:
    """Splits a SparseTensor into `num_split` along `axis` (TF 1.x `tf.sparse_split`; keywords required).

    Args:
        keyword_required: not to be given: TF requires the other arguments by keyword.
        sp_input: the SparseTensor.
        num_split: the number of pieces; each is `size // num_split` long, the first `size % num_split` one longer.
        axis: the dimension to split.
        name: a name for the op.
        split_dim: TF 1.x's older name for `axis`.

    Returns:
        A list of `num_split` SparseTensors.
    """
    if keyword_required is not None:
        raise ValueError("sparse_split: pass its arguments by keyword (sp_input=, num_split=, axis=)")
    axis = split_dim if axis is None else axis
    if sp_input is None or num_split is None or axis is None:
        raise ValueError("sparse_split: sp_input, num_split and axis are required")
    sp = as_sparse(sp_input, "sp_input", "sparse_split")
    n = int(num_split)
    o = make_op("SparseSplit", [convert_to_tensor(axis, dtype=_dt.int64), sp.indices, sp.values, sp.dense_shape],
                {"num_split": n}, name or "SparseSplit")
    out = o.outputs
    return [SparseTensor(out[k], out[n + k], out[2 * n + k]) for k in range(n)]


__all__ = ["sparse_concat", "sparse_reshape", "sparse_slice", "sparse_reorder", "sparse_fill_empty_rows",
           "sparse_split"]
