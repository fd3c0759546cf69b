"""Sparse tensors' ops (TF 1.x): to and from dense, sparse x dense products, sums; `tf.sparse_placeholder`."""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.constant_value import constant_value
from labflow.framework.graph import get_default_graph
from labflow.framework.registry import op
from labflow.framework.sparse_tensor import SparseTensor
from labflow.framework.tensor import Tensor
from labflow.ops.common import NUMERIC_TYPES, base, convert_to_tensor, dims, make_op

__all__ = ["sparse_placeholder", "sparse_to_dense", "sparse_tensor_to_dense", "sparse_tensor_dense_matmul",
           "sparse_reduce_sum"]


def _coords(indices: Any, shape: Any, ctx_name: str) -> tuple:
    """The index tuple for NumPy fancy indexing, after TF's bounds check."""
    idx = np.asarray(indices.get() if hasattr(indices, "get") else indices).astype(np.int64, copy=False)
    shp = [int(s) for s in np.asarray(shape.get() if hasattr(shape, "get") else shape).reshape(-1)]
    if idx.ndim == 1:
        idx = idx[:, None]
    if idx.size and (idx.shape[1] != len(shp) or (idx < 0).any() or (idx >= np.asarray(shp)).any()):
        bad = next(i for i, row in enumerate(idx) if len(row) != len(shp) or any(r < 0 or r >= s for r, s in
                                                                                 zip(row, shp)))
        raise errors.InvalidArgumentError(None, None, f"{ctx_name}: indices[{bad}] = {idx[bad].tolist()} is out of "
                                          f"bounds for the dense shape {shp}")
    return tuple(idx.T), shp


# -- SparseToDense -----------------------------------------------------------------------------------------
def _std_shape(ins: list, attrs: dict) -> tuple:
    for arg, t in (("sparse_indices", ins[0]), ("output_shape", ins[1])):
        if base(t) not in (_dt.int32, _dt.int64):
            raise TypeError(f"SparseToDense: {arg} must be int32 or int64, got {base(t).name}")
    if base(ins[0]) != base(ins[1]):
        raise TypeError(f"SparseToDense: sparse_indices ({base(ins[0]).name}) and output_shape "
                        f"({base(ins[1]).name}) must have the same integer type")
    if attrs.get("Tindices") is None:
        attrs["Tindices"] = base(ins[0])
    shape = constant_value(ins[1])
    if shape is not None:
        return base(ins[2]), tuple(int(s) for s in np.asarray(shape).reshape(-1))
    d = dims(ins[1])
    return base(ins[2]), None if d is None or d[0] is None else (None,) * d[0]


@op("SparseToDense", inputs=("sparse_indices", "output_shape", "sparse_values", "default_value"),
    attrs={"validate_indices": True, "Tindices": None}, types=NUMERIC_TYPES + (_dt.bool, _dt.string),
    type_inputs=("sparse_values", "default_value"), shape=_std_shape, host_inputs=(0, 1))
def sparse_to_dense_kernel(xp, sparse_indices, output_shape, sparse_values, default_value, *, validate_indices,
                           Tindices):
    coords, shp = _coords(sparse_indices, output_shape, "SparseToDense")
    out = xp.full(shp, default_value, dtype=sparse_values.dtype if hasattr(sparse_values, "dtype") else None)
    if coords and len(coords[0]):
        out[coords] = sparse_values
    return out


@sparse_to_dense_kernel.grad
def _sparse_to_dense_grad(op, grad):
    values = op.inputs[2]
    g = make_op("_GatherCoords", [grad, op.inputs[0]])._outputs[0]
    if dims(values) == ():  # one value broadcast to every index: its gradient sums theirs
        from labflow.ops.reduction_ops import reduce_sum
        g = reduce_sum(g)
    return [None, None, g, None]


@op("_GatherCoords", inputs=("params", "indices"), shape=lambda ins, attrs: (base(ins[0]), (None,)),
    not_differentiable=True, host_inputs=(1,))
def gather_coords_kernel(xp, params, indices):
    """params at each row of `indices` (a [N, rank] coordinate list): the gradient of SparseToDense."""
    coords, _ = _coords(indices, params.shape, "SparseToDense gradient")
    return params[coords] if coords and len(coords[0]) else xp.zeros((0,), dtype=params.dtype)


def sparse_to_dense(sparse_indices: Any, output_shape: Any, sparse_values: Any, default_value: Any = 0,
                    validate_indices: bool = True, name: str | None = None) -> Tensor:
    """A dense tensor of `output_shape` holding `sparse_values` at `sparse_indices`, else `default_value`."""
    v = convert_to_tensor(sparse_values)
    idx = convert_to_tensor(sparse_indices, dtype_hint=_dt.int64)
    shape = convert_to_tensor(output_shape, dtype_hint=base(idx) if base(idx).is_integer else _dt.int64)
    if base(shape) != base(idx) and base(shape).is_integer and base(idx).is_integer:
        from labflow.ops.math_ops import cast  # TF's wrapper takes mixed int32/int64 and the op one type
        shape = cast(shape, _dt.int64)
        idx = cast(idx, _dt.int64)
    ins = [idx, shape, v, convert_to_tensor(default_value, dtype=base(v))]
    op_ = make_op("SparseToDense", ins, {"validate_indices": bool(validate_indices)}, name or "SparseToDense")
    return op_._outputs[0]


def sparse_tensor_to_dense(sp_input: Any, default_value: Any = 0, validate_indices: bool = True,
                           name: str | None = None) -> Tensor:
    """The dense form of a SparseTensor (TF 1.x `tf.sparse_tensor_to_dense`, `tf.sparse.to_dense`)."""
    sp = SparseTensor.from_value(sp_input)
    return sparse_to_dense(sp.indices, sp.dense_shape, sp.values, default_value, validate_indices,
                           name or "SparseToDense")


# -- SparseTensorDenseMatMul -----------------------------------------------------------------------------
def _spmm_shape(ins: list, attrs: dict) -> tuple:
    a_shape = constant_value(ins[2])
    b = dims(ins[3])
    rows = None
    if a_shape is not None:
        a_shape = [int(s) for s in np.asarray(a_shape).reshape(-1)]
        rows = a_shape[1] if attrs["adjoint_a"] else a_shape[0]
    cols = None if b is None else (b[0] if attrs["adjoint_b"] else b[1])
    return base(ins[1]), (rows, cols)


@op("SparseTensorDenseMatMul", inputs=("a_indices", "a_values", "a_shape", "b"),
    attrs={"adjoint_a": False, "adjoint_b": False}, types=NUMERIC_TYPES, type_inputs=("a_values", "b"),
    shape=_spmm_shape, host_inputs=(0, 2))
def spmm_kernel(xp, a_indices, a_values, a_shape, b, *, adjoint_a, adjoint_b):
    (r, c), shp = _coords(a_indices, a_shape, "SparseTensorDenseMatMul")
    if adjoint_a:
        r, c, shp = c, r, shp[::-1]
    bb = b.T if adjoint_b else b
    if bb.shape[0] != shp[1]:
        raise errors.InvalidArgumentError(None, None, f"SparseTensorDenseMatMul: the sparse operand is "
                                          f"{shp[0]}x{shp[1]} but the dense one has {bb.shape[0]} rows")
    out = xp.zeros((shp[0], bb.shape[1]), dtype=bb.dtype)
    xp.add.at(out, xp.asarray(r), a_values[:, None] * bb[xp.asarray(c)])
    return out


@spmm_kernel.grad
def _spmm_grad(op, grad):
    from labflow.ops import array_gather_ops, array_reshape_ops, math_ops, reduction_ops
    a_indices, a_values, a_shape, b = op.inputs
    adj_a, adj_b = op.get_attr("adjoint_a"), op.get_attr("adjoint_b")
    sp = SparseTensor(a_indices, a_values, a_shape)
    # d/d b: A^T grad (A^T's adjoint is A); with adjoint_b the product read b transposed.
    gb = sparse_tensor_dense_matmul(sp, grad, adjoint_a=not adj_a)
    if adj_b:
        gb = array_reshape_ops.transpose(gb)
    rows = array_gather_ops.gather(a_indices, 0, axis=1)
    cols = array_gather_ops.gather(a_indices, 1, axis=1)
    out_idx, b_idx = (cols, rows) if adj_a else (rows, cols)
    b_rows = array_gather_ops.gather(array_reshape_ops.transpose(b) if adj_b else b, b_idx)
    ga = reduction_ops.reduce_sum(math_ops.multiply(array_gather_ops.gather(grad, out_idx), b_rows), axis=1)
    return [None, ga, None, gb]


def sparse_tensor_dense_matmul(sp_a: Any, b: Any, adjoint_a: bool = False, adjoint_b: bool = False,
                               name: str | None = None) -> Tensor:
    """The dense product of a rank-2 SparseTensor and a dense matrix (TF 1.x `tf.sparse_tensor_dense_matmul`)."""
    sp = SparseTensor.from_value(sp_a)
    bt = convert_to_tensor(b, dtype=sp.dtype)
    return make_op("SparseTensorDenseMatMul", [sp.indices, sp.values, sp.dense_shape, bt],
                   {"adjoint_a": bool(adjoint_a), "adjoint_b": bool(adjoint_b)},
                   name or "SparseTensorDenseMatMul")._outputs[0]


# -- SparseReduceSum --------------------------------------------------------------------------------------
def _srs_shape(ins: list, attrs: dict) -> tuple:
    shape, axes = constant_value(ins[2]), constant_value(ins[3])
    if shape is None or axes is None:
        return base(ins[1]), None
    shape = [int(s) for s in np.asarray(shape).reshape(-1)]
    axes = {int(a) % len(shape) for a in np.asarray(axes).reshape(-1)}
    if attrs["keep_dims"]:
        return base(ins[1]), tuple(1 if i in axes else d for i, d in enumerate(shape))
    return base(ins[1]), tuple(d for i, d in enumerate(shape) if i not in axes)


@op("SparseReduceSum", inputs=("input_indices", "input_values", "input_shape", "reduction_axes"),
    attrs={"keep_dims": False}, types=NUMERIC_TYPES, type_inputs=("input_values",), shape=_srs_shape,
    host_inputs=(0, 2, 3))
def sparse_reduce_sum_kernel(xp, input_indices, input_values, input_shape, reduction_axes, *, keep_dims):
    coords, shp = _coords(input_indices, input_shape, "SparseReduceSum")
    dense = xp.zeros(shp, dtype=input_values.dtype)
    if coords and len(coords[0]):
        xp.add.at(dense, coords, input_values)
    rank = len(shp)
    axes = [int(a) for a in np.asarray(reduction_axes).reshape(-1)]
    if any(not -rank <= a < rank for a in axes):
        raise errors.InvalidArgumentError(None, None, f"SparseReduceSum: reduction axes {axes} are out of range for "
                                          f"a SparseTensor of rank {rank}; use axes in [{-rank}, {rank})")
    # an empty axis list reduces nothing (TF's kernel); the wrapper writes out every axis for axis=None
    return xp.sum(dense, axis=tuple(sorted({a % rank for a in axes})), keepdims=keep_dims)


@sparse_reduce_sum_kernel.grad
def _sparse_reduce_sum_grad(op, grad):
    """Each entry's gradient is the output gradient at its reduced position (TF's _SparseReduceSumGrad)."""
    from labflow.ops import array_nd_ops, array_ops, math_ops
    indices, _, shape, axes = op.inputs
    kept = math_ops.cast(make_op("ReducedShape", [shape, axes])._outputs[0], _dt.int64)
    scale = math_ops.floordiv(shape, kept)
    g = array_ops.reshape(grad, kept)
    return [None, array_nd_ops.gather_nd(g, math_ops.floordiv(indices, scale)), None, None]


def sparse_reduce_sum(sp_input: Any, axis: Any = None, keepdims: Any = None, reduction_axes: Any = None,
                      keep_dims: Any = None) -> Tensor:
    """The sum of a SparseTensor's entries over `axis` (all when None), as a dense tensor."""
    from labflow.ops.sparse_indexing import axes_arg
    sp = SparseTensor.from_value(sp_input)
    keep = bool(keepdims if keepdims is not None else keep_dims or False)
    return make_op("SparseReduceSum", [sp.indices, sp.values, sp.dense_shape,
                                       convert_to_tensor(axes_arg(sp, axis, reduction_axes))],
                   {"keep_dims": keep}, "SparseReduceSum")._outputs[0]


# -- placeholders -------------------------------------------------------------------------------------------
def sparse_placeholder(dtype: Any, shape: Any = None, name: str | None = None) -> SparseTensor:
    """A SparseTensor to feed with a `tf.SparseTensorValue` (or an (indices, values, dense_shape) triple)."""
    from labflow.framework.shapes import TensorShape
    from labflow.ops.array_ops import placeholder
    s = TensorShape(shape)
    rank = s.ndims
    g = get_default_graph()
    with g.name_scope(name or "SparsePlaceholder"):
        values = placeholder(dtype, [None], name="values")
        indices = placeholder(_dt.int64, [None, rank], name="indices")
        dense_shape = placeholder(_dt.int64, [rank], name="shape")
    return SparseTensor(indices, values, dense_shape)
