"""Sparse arithmetic (TF 1.x): SparseAdd and its gradient op, sparse + dense, sparse (*, /, +) broadcast dense,
SparseSoftmax, sparse element-wise maximum/minimum, and the reductions SparseReduceMax[Sparse] and
SparseReduceSumSparse. Like TF's, these kernels run on the host: they regroup index rows."""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.registry import op
from labflow.framework.sparse_tensor import SparseTensor, SparseTensorValue
from labflow.framework.tensor import Tensor
from labflow.ops.common import NUMERIC_TYPES, REAL_TYPES, base, convert_to_tensor, dims, make_op
from labflow.ops.sparse_indexing import (
    as_sparse,
    axes_arg,
    check_index_inputs,
    check_triple,
    const_shape,
    host,
    keep_arg,
    rank_of,
    row_groups,
    sparse_of,
    triple_shape,
)

_CPU = ("CPU",)


# -- SparseAdd ------------------------------------------------------------------------------------------
def _sparse_add_shape(ins, attrs):
    check_index_inputs("SparseAdd", ins, (0, 2))
    check_index_inputs("SparseAdd", ins, (3, 5))
    if base(ins[1]) != base(ins[4]):
        raise TypeError(f"SparseAdd: a and b must have one dtype, got {base(ins[1]).name} and {base(ins[4]).name}")
    return triple_shape(base(ins[1]), rank_of(ins[2], ins[0]) or rank_of(ins[5], ins[3]), const_shape(ins[2]))


def _check_same_shape(op_type: str, a_shape: list, b_shape: list) -> None:
    if a_shape != b_shape:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: operands do not have the same dense shape: "
                                          f"{a_shape} vs {b_shape}")


@op("SparseAdd", inputs=("a_indices", "a_values", "a_shape", "b_indices", "b_values", "b_shape", "thresh"),
    attrs={"Treal": None}, types=NUMERIC_TYPES, type_inputs=("a_values", "b_values"), shape=_sparse_add_shape,
    outputs=3, output_names=("sum_indices", "sum_values", "sum_shape"), devices=_CPU)
def sparse_add_kernel(xp, a_indices, a_values, a_shape, b_indices, b_values, b_shape, thresh, *, Treal):
    ai, ashp = check_triple("SparseAdd", a_indices, a_values, a_shape, "a")
    bi, bshp = check_triple("SparseAdd", b_indices, b_values, b_shape, "b")
    _check_same_shape("SparseAdd", ashp, bshp)
    rows, inv = row_groups(np.concatenate([ai, bi]))
    vals = np.zeros(rows.shape[0], dtype=a_values.dtype)
    np.add.at(vals, inv, np.concatenate([a_values, b_values]))
    count = np.bincount(inv, minlength=rows.shape[0])
    # TF applies the threshold only where both operands had an entry (the sum may cancel to near zero)
    keep = (count < 2) | (np.abs(vals) >= thresh)
    return rows[keep], vals[keep], np.asarray(ashp, np.int64)


@sparse_add_kernel.grad
def _sparse_add_grad(op, *grads):
    g = grads[1]
    a_g, b_g = make_op("SparseAddGrad", [g, op.inputs[0], op.inputs[3], op.outputs[0]]).outputs
    return [None, a_g, None, None, b_g, None, None]


def _sparse_add_grad_shape(ins, attrs):
    return [(base(ins[0]), (dims(ins[1]) or (None,))[:1]), (base(ins[0]), (dims(ins[2]) or (None,))[:1])]


@op("SparseAddGrad", inputs=("backprop_val_grad", "a_indices", "b_indices", "sum_indices"), types=NUMERIC_TYPES,
    type_inputs=("backprop_val_grad",), shape=_sparse_add_grad_shape, outputs=2,
    output_names=("a_val_grad", "b_val_grad"), not_differentiable=True, devices=_CPU)
def sparse_add_grad_kernel(xp, backprop_val_grad, a_indices, b_indices, sum_indices):
    where = {tuple(r): k for k, r in enumerate(host(sum_indices).tolist())}

    def pick(idx):
        pos = np.asarray([where.get(tuple(r), -1) for r in host(idx).tolist()], np.int64)
        out = np.zeros(pos.shape[0], dtype=backprop_val_grad.dtype)
        out[pos >= 0] = backprop_val_grad[pos[pos >= 0]]
        return out
    return pick(a_indices), pick(b_indices)


# -- SparseTensorDenseAdd ----------------------------------------------------------------------------------
def _st_dense_add_shape(ins, attrs):
    check_index_inputs("SparseTensorDenseAdd", ins, (0, 2))
    attrs["Tindices"] = _dt.int64
    return base(ins[3]), dims(ins[3])


@op("SparseTensorDenseAdd", inputs=("a_indices", "a_values", "a_shape", "b"), attrs={"Tindices": None},
    types=NUMERIC_TYPES, type_inputs=("a_values", "b"), shape=_st_dense_add_shape, devices=_CPU)
def sparse_tensor_dense_add_kernel(xp, a_indices, a_values, a_shape, b, *, Tindices):
    idx, shp = check_triple("SparseTensorDenseAdd", a_indices, a_values, a_shape, "a")
    if list(b.shape) != shp:
        raise errors.InvalidArgumentError(None, None, f"SparseTensorDenseAdd: the sparse operand's shape {shp} "
                                          f"differs from the dense operand's {list(b.shape)}; they must match")
    out = np.array(b, copy=True)
    np.add.at(out, tuple(idx.T), a_values)
    return out


@sparse_tensor_dense_add_kernel.grad
def _st_dense_add_grad(op, grad):
    from labflow.ops.array_nd_ops import gather_nd
    return [None, gather_nd(grad, op.inputs[0]), None, grad]


def sparse_add(a: Any, b: Any, threshold: Any = None, thresh: Any = None) -> Any:
    """a + b where at least one operand is a SparseTensor (TF 1.x `tf.sparse_add`, `tf.sparse.add`).

    Args:
        a: a SparseTensor (or SparseTensorValue) or a dense tensor.
        b: the same; at least one of `a` and `b` is sparse, and both have one dense shape.
        threshold: entries present in both operands whose sum has a magnitude below it are dropped.
        thresh: TF 1.x's older name for `threshold`.

    Returns:
        A SparseTensor in row-major order for two sparse operands (op SparseAdd), else a dense tensor
        (op SparseTensorDenseAdd).

    Raises:
        TypeError: neither operand is sparse.
        InvalidArgumentError (at run time): the dense shapes differ.
    """
    a_sp, b_sp = isinstance(a, (SparseTensor, SparseTensorValue)), isinstance(b, (SparseTensor, SparseTensorValue))
    if not a_sp and not b_sp:
        raise TypeError("sparse_add: at least one operand must be a SparseTensor; add dense tensors with tf.add")
    thr = threshold if threshold is not None else (thresh if thresh is not None else 0)
    if a_sp and b_sp:
        a, b = as_sparse(a, "a", "sparse_add"), as_sparse(b, "b", "sparse_add")
        real = {_dt.complex64: _dt.float32, _dt.complex128: _dt.float64}.get(a.dtype, a.dtype)
        t = convert_to_tensor(thr, dtype=real)
        o = make_op("SparseAdd", [a.indices, a.values, a.dense_shape, b.indices, b.values, b.dense_shape, t],
                    {"Treal": base(t)}, "SparseAdd")
        # the kernel checks both shapes are a's: a constant one keeps the result's static shape (as TF's does)
        shape = a.dense_shape if const_shape(a.dense_shape) is not None else o.outputs[2]
        return SparseTensor(o.outputs[0], o.outputs[1], shape)
    sp, dense = (as_sparse(a, "a", "sparse_add"), b) if a_sp else (as_sparse(b, "b", "sparse_add"), a)
    d = convert_to_tensor(dense, dtype=sp.dtype)
    return make_op("SparseTensorDenseAdd", [sp.indices, sp.values, sp.dense_shape, d], None,
                   "SparseTensorDenseAdd").outputs[0]


# -- SparseDenseCwiseMul / Div / Add -----------------------------------------------------------------------
def _cwise_shape(op_type: str):
    def fn(ins, attrs):
        check_index_inputs(op_type, ins, (0, 2))
        return base(ins[1]), (dims(ins[1]) or (None,))[:1]
    return fn


def _dense_at(op_type: str, sp_indices, sp_values, sp_shape, dense) -> np.ndarray:
    """The dense operand broadcast to the sparse one's shape, read at its indices (only the dense side
    broadcasts, as in TF)."""
    idx, shp = check_triple(op_type, sp_indices, sp_values, sp_shape, "sp")
    d = host(dense)
    if d.ndim > len(shp) or any(x not in (1, s) for x, s in zip(d.shape[::-1], shp[::-1])):
        raise errors.InvalidArgumentError(None, None, f"{op_type}: the dense operand of shape {list(d.shape)} does "
                                          f"not broadcast to the sparse operand's shape {shp}")
    return np.broadcast_to(d, shp)[tuple(idx.T)] if idx.shape[0] else np.zeros(0, d.dtype)


def _cwise_op(op_type: str, fn):
    @op(op_type, inputs=("sp_indices", "sp_values", "sp_shape", "dense"), types=NUMERIC_TYPES,
        type_inputs=("sp_values", "dense"), shape=_cwise_shape(op_type), devices=_CPU,
        not_differentiable=op_type == "SparseDenseCwiseAdd")
    def kernel(xp, sp_indices, sp_values, sp_shape, dense):
        return fn(sp_values, _dense_at(op_type, sp_indices, sp_values, sp_shape, dense)).astype(sp_values.dtype)
    return kernel


sparse_dense_cwise_mul_kernel = _cwise_op("SparseDenseCwiseMul", np.multiply)
sparse_dense_cwise_div_kernel = _cwise_op("SparseDenseCwiseDiv", np.divide)
# TF registers a gradient for SparseDenseCwiseAdd that only raises "not implemented": here it is not differentiable
sparse_dense_cwise_add_kernel = _cwise_op("SparseDenseCwiseAdd", np.add)


def _cwise_grad(is_mul: bool):
    def grad_fn(op, grad):
        from labflow.framework.gradients import unbroadcast
        from labflow.ops import array_nd_ops, array_ops, math_ops
        idx, vals, shp, y = op.inputs
        y_full = array_ops.broadcast_to(y, shp)
        dense_vals = array_nd_ops.gather_nd(y_full, idx)
        if is_mul:
            dx, dy_val = math_ops.multiply(grad, dense_vals), math_ops.multiply(grad, vals)
        else:
            dx = math_ops.divide(grad, dense_vals)
            dy_val = math_ops.multiply(grad, math_ops.divide(math_ops.negative(vals), math_ops.square(dense_vals)))
        dy = unbroadcast(array_nd_ops.scatter_nd(idx, dy_val, shp), y, y_full)
        return [None, dx, None, dy]
    return grad_fn


sparse_dense_cwise_mul_kernel.grad(_cwise_grad(True))
sparse_dense_cwise_div_kernel.grad(_cwise_grad(False))


def _sparse_dense_cwise(op_type: str, sp_t: Any, dense_t: Any, name: str | None) -> SparseTensor:
    sp = as_sparse(sp_t, "sp_t", op_type)
    d = convert_to_tensor(dense_t, dtype=sp.dtype)
    v = make_op(op_type, [sp.indices, sp.values, sp.dense_shape, d], None, name or op_type).outputs[0]
    return SparseTensor(sp.indices, v, sp.dense_shape)


def sparse_dense_cwise_mul(sp_t: Any, dense_t: Any, name: str | None = None) -> SparseTensor:
    """The SparseTensor `sp_t * dense_t` at sp_t's entries (the dense operand broadcasts; TF's `sp_t * dense`)."""
    return _sparse_dense_cwise("SparseDenseCwiseMul", sp_t, dense_t, name)


def sparse_dense_cwise_div(sp_t: Any, dense_t: Any, name: str | None = None) -> SparseTensor:
    """The SparseTensor `sp_t / dense_t` at sp_t's entries (the dense operand broadcasts)."""
    return _sparse_dense_cwise("SparseDenseCwiseDiv", sp_t, dense_t, name)


def sparse_dense_cwise_add(sp_t: Any, dense_t: Any, name: str | None = None) -> SparseTensor:
    """The SparseTensor `sp_t + dense_t` at sp_t's entries only (the dense operand broadcasts)."""
    return _sparse_dense_cwise("SparseDenseCwiseAdd", sp_t, dense_t, name)


# -- SparseSoftmax -----------------------------------------------------------------------------------------
def _softmax_shape(ins, attrs):
    check_index_inputs("SparseSoftmax", ins, (0, 2))
    r = rank_of(ins[2], ins[0])
    if r is not None and r < 2:
        raise ValueError(f"SparseSoftmax: the SparseTensor must have rank >= 2, got rank {r}")
    return base(ins[1]), (dims(ins[1]) or (None,))[:1]


@op("SparseSoftmax", inputs=("sp_indices", "sp_values", "sp_shape"), types=(_dt.float16, _dt.float32, _dt.float64),
    type_inputs=("sp_values",), shape=_softmax_shape, devices=_CPU)
def sparse_softmax_kernel(xp, sp_indices, sp_values, sp_shape):
    idx, shp = check_triple("SparseSoftmax", sp_indices, sp_values, sp_shape)
    if len(shp) < 2:
        raise errors.InvalidArgumentError(None, None, f"SparseSoftmax: the SparseTensor must have rank >= 2, "
                                          f"got dense shape {shp}")
    _, grp = row_groups(idx[:, :-1])
    n = int(grp.max()) + 1 if grp.size else 0
    top = np.full(n, -np.inf, dtype=np.float64)
    v = sp_values.astype(np.float64)
    np.maximum.at(top, grp, v)
    e = np.exp(v - top[grp])
    total = np.zeros(n, np.float64)
    np.add.at(total, grp, e)
    return (e / total[grp]).astype(sp_values.dtype)


@sparse_softmax_kernel.grad
def _sparse_softmax_grad(op, grad):
    from labflow.ops import math_ops
    from labflow.ops.sparse_ops import sparse_reduce_sum
    idx, _, shp = op.inputs
    out = op.outputs[0]
    prod = SparseTensor(idx, math_ops.multiply(out, grad), shp)
    summed = math_ops.negative(sparse_reduce_sum(prod, [-1], keepdims=True))
    shifted = sparse_dense_cwise_add(SparseTensor(idx, grad, shp), summed)
    return [None, math_ops.multiply(shifted.values, out), None]


def sparse_softmax(sp_input: Any, name: str | None = None) -> SparseTensor:
    """Softmax over the last dimension of a SparseTensor's entries; missing entries count as absent, not as zero
    (TF 1.x `tf.sparse_softmax`). Indices must be in row-major order."""
    sp = as_sparse(sp_input, "sp_input", "sparse_softmax")
    v = make_op("SparseSoftmax", [sp.indices, sp.values, sp.dense_shape], None, name or "SparseSoftmax").outputs[0]
    return SparseTensor(sp.indices, v, sp.dense_shape)


# -- SparseSparseMaximum / Minimum -------------------------------------------------------------------------
def _minmax_shape(op_type: str):
    def fn(ins, attrs):
        check_index_inputs(op_type, ins, (0, 2))
        check_index_inputs(op_type, ins, (3, 5))
        return triple_shape(base(ins[1]), rank_of(ins[2], ins[0]))[:2]
    return fn


def _minmax_op(op_type: str, ufunc):
    # TF registers a gradient for these that only raises NotImplementedError: here they are not differentiable
    @op(op_type, inputs=("a_indices", "a_values", "a_shape", "b_indices", "b_values", "b_shape"), types=REAL_TYPES,
        type_inputs=("a_values", "b_values"), shape=_minmax_shape(op_type), outputs=2,
        output_names=("output_indices", "output_values"), not_differentiable=True, devices=_CPU)
    def kernel(xp, a_indices, a_values, a_shape, b_indices, b_values, b_shape):
        ai, ashp = check_triple(op_type, a_indices, a_values, a_shape, "a")
        bi, bshp = check_triple(op_type, b_indices, b_values, b_shape, "b")
        _check_same_shape(op_type, ashp, bshp)
        rows, inv = row_groups(np.concatenate([ai, bi]))
        # an index missing from one operand compares against that operand's implicit zero
        av = np.zeros(rows.shape[0], a_values.dtype)
        bv = np.zeros(rows.shape[0], a_values.dtype)
        av[inv[:ai.shape[0]]] = a_values
        bv[inv[ai.shape[0]:]] = b_values
        return rows, ufunc(av, bv)
    return kernel


sparse_sparse_maximum_kernel = _minmax_op("SparseSparseMaximum", np.maximum)
sparse_sparse_minimum_kernel = _minmax_op("SparseSparseMinimum", np.minimum)


def _minmax(op_type: str, sp_a: Any, sp_b: Any, name: str | None) -> SparseTensor:
    a, b = as_sparse(sp_a, "sp_a", op_type), as_sparse(sp_b, "sp_b", op_type)
    o = make_op(op_type, [a.indices, a.values, a.dense_shape, b.indices, b.values, b.dense_shape], None,
                name or op_type)
    return SparseTensor(o.outputs[0], o.outputs[1], a.dense_shape)


def sparse_maximum(sp_a: Any, sp_b: Any, name: str | None = None) -> SparseTensor:
    """Element-wise maximum of two SparseTensors of one shape (an index missing from one side counts as 0)."""
    return _minmax("SparseSparseMaximum", sp_a, sp_b, name)


def sparse_minimum(sp_a: Any, sp_b: Any, name: str | None = None) -> SparseTensor:
    """Element-wise minimum of two SparseTensors of one shape (an index missing from one side counts as 0)."""
    return _minmax("SparseSparseMinimum", sp_a, sp_b, name)


# -- SparseReduceMax / SparseReduceMaxSparse / SparseReduceSumSparse ---------------------------------------
def _reduce_axes(op_type: str, axes: Any, rank: int) -> list[int]:
    ax = [int(a) for a in host(axes).reshape(-1)]
    for a in ax:
        if not -rank <= a < rank:
            raise errors.InvalidArgumentError(None, None, f"{op_type}: reduction axis {a} is out of range for a "
                                              f"SparseTensor of rank {rank}; use an axis in [{-rank}, {rank})")
    return sorted({a % rank for a in ax})


def _reduce_groups(op_type: str, indices, values, shape, axes, keep_dims, ufunc, start):
    """(group rows, reduced values, output dense shape): each group is the entries sharing the kept coordinates."""
    idx, shp = check_triple(op_type, indices, values, shape)
    red = _reduce_axes(op_type, axes, len(shp))
    kept = [i for i in range(len(shp)) if i not in red]
    rows, grp = row_groups(idx[:, kept])
    vals = np.full(rows.shape[0], start, dtype=values.dtype)
    ufunc.at(vals, grp, values)
    if keep_dims:
        full = np.zeros((rows.shape[0], len(shp)), np.int64)
        full[:, kept] = rows
        return full, vals, [1 if i in red else s for i, s in enumerate(shp)]
    return rows, vals, [shp[i] for i in kept]


def _lowest(dtype: np.dtype) -> Any:
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _reduce_dense_shape(op_type: str):
    def fn(ins, attrs):
        check_index_inputs(op_type, ins, (0, 2))
        shape, axes = const_shape(ins[2]), const_shape(ins[3])
        if shape is None or axes is None:
            return base(ins[1]), None
        red = {a % len(shape) for a in axes}
        if attrs["keep_dims"]:
            return base(ins[1]), tuple(1 if i in red else d for i, d in enumerate(shape))
        return base(ins[1]), tuple(d for i, d in enumerate(shape) if i not in red)
    return fn


def _reduce_sparse_shape(op_type: str):
    def fn(ins, attrs):
        check_index_inputs(op_type, ins, (0, 2))
        rank, axes = rank_of(ins[2], ins[0]), const_shape(ins[3])
        if rank is not None and not attrs["keep_dims"]:
            rank = None if axes is None else rank - len({a % rank for a in axes})
        return triple_shape(base(ins[1]), rank)
    return fn


_REDUCE = dict(inputs=("input_indices", "input_values", "input_shape", "reduction_axes"), attrs={"keep_dims": False},
               type_inputs=("input_values",), host_inputs=(0, 2, 3), not_differentiable=True, devices=_CPU)


@op("SparseReduceMax", types=REAL_TYPES, shape=_reduce_dense_shape("SparseReduceMax"), **_REDUCE)
def sparse_reduce_max_kernel(xp, input_indices, input_values, input_shape, reduction_axes, *, keep_dims):
    rows, vals, out_shape = _reduce_groups("SparseReduceMax", input_indices, input_values, input_shape,
                                           reduction_axes, keep_dims, np.maximum, _lowest(input_values.dtype))
    out = np.zeros(out_shape, dtype=input_values.dtype)  # TF: an output with no entries to reduce is 0
    if rows.shape[1]:
        out[tuple(rows.T)] = vals
    elif vals.size:  # every axis reduced: one group at the scalar
        out[()] = vals[0]
    return out


@op("SparseReduceMaxSparse", types=REAL_TYPES, shape=_reduce_sparse_shape("SparseReduceMaxSparse"), outputs=3,
    output_names=("output_indices", "output_values", "output_shape"), **_REDUCE)
def sparse_reduce_max_sparse_kernel(xp, input_indices, input_values, input_shape, reduction_axes, *, keep_dims):
    rows, vals, out_shape = _reduce_groups("SparseReduceMaxSparse", input_indices, input_values, input_shape,
                                           reduction_axes, keep_dims, np.maximum, _lowest(input_values.dtype))
    return rows, vals, np.asarray(out_shape, np.int64)


@op("SparseReduceSumSparse", types=NUMERIC_TYPES, shape=_reduce_sparse_shape("SparseReduceSumSparse"), outputs=3,
    output_names=("output_indices", "output_values", "output_shape"), **_REDUCE)
def sparse_reduce_sum_sparse_kernel(xp, input_indices, input_values, input_shape, reduction_axes, *, keep_dims):
    rows, vals, out_shape = _reduce_groups("SparseReduceSumSparse", input_indices, input_values, input_shape,
                                           reduction_axes, keep_dims, np.add, 0)
    return rows, vals, np.asarray(out_shape, np.int64)


def _reduce(op_type: str, sp_input: Any, axis: Any, keepdims: Any, reduction_axes: Any, keep_dims: Any) -> Any:
    sp = as_sparse(sp_input, "sp_input", op_type)
    axes = convert_to_tensor(axes_arg(sp, axis, reduction_axes))
    return make_op(op_type, [sp.indices, sp.values, sp.dense_shape, axes], {"keep_dims": keep_arg(keepdims, keep_dims)},
                   op_type)


def sparse_reduce_max(sp_input: Any, axis: Any = None, keepdims: Any = None, reduction_axes: Any = None,
                      keep_dims: Any = None) -> Tensor:
    """The maximum of a SparseTensor's entries over `axis`, as a dense tensor (TF 1.x `tf.sparse_reduce_max`).

    Implicit zeros take no part; an output position with no entries is 0.

    Args:
        sp_input: the SparseTensor.
        axis: the axes to reduce (None: all of them).
        keepdims: keep the reduced axes with size 1.
        reduction_axes, keep_dims: TF 1.x's older names for `axis` and `keepdims`.

    Returns:
        A dense tensor of the values' dtype.
    """
    return _reduce("SparseReduceMax", sp_input, axis, keepdims, reduction_axes, keep_dims).outputs[0]


def sparse_reduce_max_sparse(sp_input: Any, axis: Any = None, keepdims: Any = None, reduction_axes: Any = None,
                             keep_dims: Any = None) -> SparseTensor:
    """Like `sparse_reduce_max`, returning a SparseTensor holding only the positions that had entries."""
    return sparse_of(_reduce("SparseReduceMaxSparse", sp_input, axis, keepdims, reduction_axes, keep_dims))


def sparse_reduce_sum_sparse(sp_input: Any, axis: Any = None, keepdims: Any = None, reduction_axes: Any = None,
                             keep_dims: Any = None) -> SparseTensor:
    """Like `tf.sparse_reduce_sum`, returning a SparseTensor holding only the positions that had entries."""
    return sparse_of(_reduce("SparseReduceSumSparse", sp_input, axis, keepdims, reduction_axes, keep_dims))


__all__ = ["sparse_add", "sparse_softmax", "sparse_maximum", "sparse_minimum", "sparse_reduce_max",
           "sparse_reduce_max_sparse", "sparse_reduce_sum_sparse", "sparse_dense_cwise_mul", "sparse_dense_cwise_div",
           "sparse_dense_cwise_add"]
