"""sparse_segment_sum/mean/sqrt_n: segment reductions of `data[indices]` (the rows are picked first), with
and without `num_segments`, and the SparseSegment*Grad ops their gradients are made of. Part of the
segment_ops family (which re-exports these names).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.registry import op
from labflow.framework.tensor import Tensor
from labflow.ops.array_ops import _check_rank, _int, _set_attrs, shape
from labflow.ops.array_slice_ops import _index_dtype_error, strided_slice
from labflow.ops.common import (
    FLOAT_TYPES,
    INDEX_TYPES,
    REAL_TYPES,
    base,
    constant_value,
    convert_to_tensor,
    dims,
    make_tensor,
    merge_dims,
)
from labflow.ops.math_helpers import op_scope
from labflow.ops.segment_ops import _check_sorted, _num_sorted_segments, _scatter

__all__ = ["sparse_segment_sum", "sparse_segment_mean", "sparse_segment_sqrt_n"]


def _check_index_types(attrs: dict, indices: Tensor, segment_ids: Tensor) -> None:
    if base(indices) not in INDEX_TYPES:
        raise _index_dtype_error("indices", base(indices))
    if base(segment_ids) not in INDEX_TYPES:
        raise _index_dtype_error("segment_ids", base(segment_ids))
    _set_attrs(attrs, Tidx=base(indices), Tsegmentids=base(segment_ids))
    _check_rank(indices, 1)
    _check_rank(segment_ids, 1)
    try:
        merge_dims(dims(indices), dims(segment_ids))
    except ValueError:
        raise ValueError(f"indices and segment_ids must have one length, but are {dims(indices)[0]} and "
                         f"{dims(segment_ids)[0]}") from None


def _sparse_segment_shape(ins, attrs):
    data, indices, segment_ids = ins[:3]
    _check_index_types(attrs, indices, segment_ids)
    dd = dims(data)
    if dd is not None and len(dd) < 1:
        raise ValueError("Shape must be at least rank 1 but is rank 0 (input 'data')")
    if len(ins) == 4:
        _check_rank(ins[3], 0)
        _set_attrs(attrs, Tnumsegments=base(ins[3]))
        nv = constant_value(ins[3])
        num = None if nv is None else int(nv)
    else:
        num = _num_sorted_segments(segment_ids)
    return base(data), None if dd is None else (num,) + tuple(dd[1:])


def _rows(xp, data, indices):
    n = data.shape[0]
    if indices.size and bool(((indices < 0) | (indices >= n)).any()):
        bad = int(indices[(indices < 0) | (indices >= n)][0])
        raise errors.InvalidArgumentError(None, None, f"indices has the value {bad}, which is out of range "
                                          f"[0, {n}) for data with {n} rows")
    return xp.take(data, indices, axis=0)


def _sparse_kernel(reduction: str, with_num: bool):
    def kernel(xp, data, indices, segment_ids, num_segments=None):
        last = _check_sorted(xp, segment_ids, indices.shape[0], "segment_ids")
        n = last
        if with_num:
            n = _int(num_segments)
            if last > n:
                raise errors.InvalidArgumentError(None, None, f"segment id {last - 1} is out of range [0, {n}): "
                                                  "raise num_segments")
        return _scatter(xp, reduction, segment_ids, _rows(xp, data, indices), n)[0]
    return kernel


def _declare(op_type: str, reduction: str, types: tuple, with_num: bool):
    inputs = ("data", "indices", "segment_ids") + (("num_segments",) if with_num else ())
    attrs = {"Tidx": None, "Tsegmentids": None}
    if with_num:
        attrs["Tnumsegments"] = None
    return op(op_type, inputs=inputs, attrs=attrs, types=types, type_inputs=("data",), shape=_sparse_segment_shape,
              host_inputs=(3,) if with_num else ())(_sparse_kernel(reduction, with_num))


sparse_segment_sum_kernel = _declare("SparseSegmentSum", "add", REAL_TYPES, False)
sparse_segment_mean_kernel = _declare("SparseSegmentMean", "mean", FLOAT_TYPES, False)
sparse_segment_sqrt_n_kernel = _declare("SparseSegmentSqrtN", "sqrt_n", FLOAT_TYPES, False)
sparse_segment_sum_n_kernel = _declare("SparseSegmentSumWithNumSegments", "add", REAL_TYPES, True)
sparse_segment_mean_n_kernel = _declare("SparseSegmentMeanWithNumSegments", "mean", FLOAT_TYPES, True)
sparse_segment_sqrt_n_n_kernel = _declare("SparseSegmentSqrtNWithNumSegments", "sqrt_n", FLOAT_TYPES, True)


# -- the *Grad ops: scatter each segment's gradient back to the rows it picked -------------------------
def _grad_op_shape(ins, attrs):
    grad, indices, segment_ids, dim0 = ins
    _check_index_types(attrs, indices, segment_ids)
    _check_rank(dim0, 0)
    dv = constant_value(dim0)
    gd = dims(grad)
    return base(grad), None if gd is None else (None if dv is None else int(dv),) + tuple(gd[1:])


def _grad_kernel(scale: str):
    def kernel(xp, grad, indices, segment_ids, output_dim0):
        n0 = _int(output_dim0)
        if segment_ids.size and bool(((segment_ids < 0) | (segment_ids >= grad.shape[0])).any()):
            raise errors.InvalidArgumentError(None, None, f"segment_ids must be in [0, {grad.shape[0]}) (the rows "
                                              "of grad)")
        if indices.size and bool(((indices < 0) | (indices >= n0)).any()):
            raise errors.InvalidArgumentError(None, None, f"indices must be in [0, {n0}) (output_dim0)")
        counts = _scatter(xp, "add", segment_ids, xp.ones(segment_ids.shape[0], dtype=np.float64), grad.shape[0])[0]
        if scale == "mean":
            weight = 1.0 / xp.maximum(counts, 1.0)
        elif scale == "sqrt_n":
            weight = 1.0 / xp.sqrt(xp.maximum(counts, 1.0))
        else:
            weight = xp.ones_like(counts)
        rows = xp.take(grad, segment_ids, axis=0)
        w = xp.take(weight, segment_ids).reshape((-1,) + (1,) * (grad.ndim - 1)).astype(grad.dtype)
        return _scatter(xp, "add", indices, rows * w, n0)[0]
    return kernel


_GRAD = dict(inputs=("grad", "indices", "segment_ids", "output_dim0"), attrs={"Tidx": None, "Tsegmentids": None},
             type_inputs=("grad",), shape=_grad_op_shape, host_inputs=(3,), not_differentiable=True)
op("SparseSegmentSumGrad", types=REAL_TYPES, **_GRAD)(_grad_kernel("sum"))
op("SparseSegmentMeanGrad", types=FLOAT_TYPES, **_GRAD)(_grad_kernel("mean"))
op("SparseSegmentSqrtNGrad", types=FLOAT_TYPES, **_GRAD)(_grad_kernel("sqrt_n"))


def _grad_via(grad_op: str):
    def grad_fn(op, grad):
        data, indices, segment_ids = op.inputs[:3]
        dim0 = strided_slice(shape(data), [0], [1], [1], shrink_axis_mask=1)
        g = make_tensor(grad_op, [grad, indices, segment_ids, dim0])
        return [g] + [None] * (len(op.inputs) - 1)
    return grad_fn


for _k, _g in ((sparse_segment_sum_kernel, "SparseSegmentSumGrad"),
               (sparse_segment_sum_n_kernel, "SparseSegmentSumGrad"),
               (sparse_segment_mean_kernel, "SparseSegmentMeanGrad"),
               (sparse_segment_mean_n_kernel, "SparseSegmentMeanGrad"),
               (sparse_segment_sqrt_n_kernel, "SparseSegmentSqrtNGrad"),
               (sparse_segment_sqrt_n_n_kernel, "SparseSegmentSqrtNGrad")):
    _k.grad(_grad_via(_g))


def _sparse(op_type: str, data: Any, indices: Any, segment_ids: Any, name: str | None, num_segments: Any) -> Tensor:
    if num_segments is not None:
        op_type += "WithNumSegments"
    args = [data, indices, segment_ids] + ([num_segments] if num_segments is not None else [])
    with op_scope(name, op_type, args) as scope:
        ins = [convert_to_tensor(data, name="data"),
               convert_to_tensor(indices, dtype_hint=_dt.int32, name="indices"),
               convert_to_tensor(segment_ids, dtype_hint=_dt.int32, name="segment_ids")]
        if num_segments is not None:
            ins.append(convert_to_tensor(num_segments, dtype_hint=_dt.int32, name="num_segments"))
        return make_tensor(op_type, ins, None, scope)


_DOC = """{what} over segments of the rows `data[indices]` (op type {op}, or {op}WithNumSegments).

    `output[k]` reduces `data[indices[i]]` over the i with `segment_ids[i] == k`. {empty}

    Args:
        data: a tensor of rank >= 1.
        indices: a 1-D int32/int64 tensor of rows of `data` (in range, any order, repeats allowed).
        segment_ids: a 1-D int32/int64 tensor as long as `indices`, sorted ascending.
        name: the op name.
        num_segments: the number of output rows (default: `segment_ids[-1] + 1`).

    Raises:
        InvalidArgumentError: at run time, an index is out of range, the ids are not sorted or are
            negative, or an id is >= num_segments.
    """


def sparse_segment_sum(data: Any, indices: Any, segment_ids: Any, name: str | None = None,
                       num_segments: Any = None) -> Tensor:
    return _sparse("SparseSegmentSum", data, indices, segment_ids, name, num_segments)


def sparse_segment_mean(data: Any, indices: Any, segment_ids: Any, name: str | None = None,
                        num_segments: Any = None) -> Tensor:
    return _sparse("SparseSegmentMean", data, indices, segment_ids, name, num_segments)


def sparse_segment_sqrt_n(data: Any, indices: Any, segment_ids: Any, name: str | None = None,
                          num_segments: Any = None) -> Tensor:
    return _sparse("SparseSegmentSqrtN", data, indices, segment_ids, name, num_segments)


sparse_segment_sum.__doc__ = _DOC.format(what="The sum", op="SparseSegmentSum", empty="An empty segment is 0.")
sparse_segment_mean.__doc__ = _DOC.format(what="The mean", op="SparseSegmentMean", empty="An empty segment is 0.")
sparse_segment_sqrt_n.__doc__ = _DOC.format(what="The sum / sqrt(count)", op="SparseSegmentSqrtN",
                                            empty="An empty segment is 0.")
