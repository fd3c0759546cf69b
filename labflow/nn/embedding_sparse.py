"""Embeddings of sparse ids: `tf.nn.embedding_lookup_sparse` and `tf.nn.safe_embedding_lookup_sparse`.

Each row of a SparseTensor of ids (a bag of features) becomes one combined embedding: the rows of the
params are gathered (so their gradient is an IndexedSlices of just those rows), weighted, and summed per
sparse row with UnsortedSegmentSum; "mean" and "sqrtn" divide by the sum of the weights or the root of
the sum of their squares (0 where a row has none, as TF's div_no_nan).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.graph import name_scope
from labflow.framework.sparse_tensor import SparseTensor
from labflow.framework.tensor import Tensor
from labflow.ops import (
    array_gather_ops,
    array_join_ops,
    array_ops,
    array_slice_ops,
    compare_ops,
    math_ops,
    reduction_ops,
    unary_ops,
)
from labflow.ops.common import convert_to_tensor
from labflow.ops.embedding_ops import embedding_lookup

__all__ = ["embedding_lookup_sparse", "safe_embedding_lookup_sparse"]

_COMBINERS = ("mean", "sqrtn", "sum")


def _params(params: Any, what: str) -> list:
    if params is None:
        raise ValueError(f"Missing {what}: pass the embedding matrix (or a list of its partitions)")
    if not isinstance(params, (list, tuple)):
        params = [params]
    if not params:
        raise ValueError(f"Missing {what}: an empty list was given")
    return list(params)


def _check_sparse(sp_ids: Any, sp_weights: Any, what: str) -> None:
    if not isinstance(sp_ids, SparseTensor):
        raise TypeError(f"{what} must be a SparseTensor, got {type(sp_ids).__name__}")
    if sp_weights is not None:
        if not isinstance(sp_weights, SparseTensor):
            raise TypeError(f"sp_weights must be either None or SparseTensor, got {type(sp_weights).__name__}")
        for a, b, nm in ((sp_ids.values, sp_weights.values, "values"), (sp_ids.indices, sp_weights.indices,
                                                                          "indices")):
            if not a.get_shape().is_compatible_with(b.get_shape()):
                raise ValueError(f"sp_ids and sp_weights must have the same {nm} shape, got {a.get_shape()} and "
                                 f"{b.get_shape()}")


def _combine(params: list, ids: Tensor, weights: Tensor | None, segment_ids: Tensor, num_rows: Any,
             combiner: str, partition_strategy: str, max_norm: Any, name: Any) -> Tensor:
    """out[r] = combiner over the entries i with segment_ids[i] == r of weights[i] * params[ids[i]].

    Entries with a negative segment id are left out (UnsortedSegmentSum drops them)."""
    emb = embedding_lookup(params, ids, partition_strategy=partition_strategy, max_norm=max_norm)
    original = emb.dtype.base_dtype
    if original in (_dt.float16, _dt.bfloat16):
        emb = compare_ops.cast(emb, _dt.float32)  # the sums run in float32, as TF's
    ndims = emb.get_shape().ndims
    if weights is None:
        weights = array_ops.ones_like(ids, dtype=emb.dtype.base_dtype)
    elif weights.dtype.base_dtype != emb.dtype.base_dtype:
        weights = compare_ops.cast(weights, emb.dtype.base_dtype)
    if ndims is None:
        bshape = array_join_ops.concat([array_ops.shape(weights),
                                        array_ops.ones_like(array_ops.shape(emb)[1:])], 0)
    else:
        bshape = array_join_ops.concat([array_ops.shape(weights), [1] * (ndims - 1)], 0)
    w = array_ops.reshape(weights, bshape)
    total = array_gather_ops.unsorted_segment_sum(math_ops.multiply(emb, w), segment_ids, num_rows)
    if combiner == "sum":
        out = total
    else:
        ws = w if combiner == "mean" else unary_ops.square(w)
        denom = array_gather_ops.unsorted_segment_sum(ws, segment_ids, num_rows)
        if combiner == "sqrtn":
            denom = unary_ops.sqrt(denom)
        out = math_ops.div_no_nan(total, denom)
    if out.dtype.base_dtype != original:
        out = compare_ops.cast(out, original)
    return array_ops.identity(out, name=name)


def embedding_lookup_sparse(params: Any, sp_ids: SparseTensor, sp_weights: SparseTensor | None,
                            partition_strategy: str = "mod", name: str | None = None, combiner: str | None = None,
                            max_norm: Any = None) -> Tensor:
    """Combined embeddings of the ids in each row of a 2-D SparseTensor (TF 1.x signature).

    For row r of `sp_ids`: "sum" gives `sum_j w_j * params[id_j]`, "mean" divides that by `sum_j w_j`,
    "sqrtn" by `sqrt(sum_j w_j^2)`; without `sp_weights` every weight is 1. The output has
    `max(row) + 1` rows (as TF's segment sums: trailing empty rows are not included; an empty row in
    the middle is zero). See `safe_embedding_lookup_sparse` for a result with one row per sparse row.

    Args:
        params: [vocab, d1, ...] embeddings, or a list of its partitions.
        sp_ids: a SparseTensor [N, ?] of int64 (or int32) ids.
        sp_weights: None, or a SparseTensor of float weights with the indices of `sp_ids`.
        partition_strategy: "mod" or "div", for partitioned params (see `tf.nn.embedding_lookup`).
        name: a name for the operation.
        combiner: "mean" (the default when None), "sqrtn" or "sum".
        max_norm: if not None, each embedding is clipped to this L2 norm before combining.

    Returns:
        A dense Tensor [rows, d1, ...] of combined embeddings.

    Raises:
        TypeError: `sp_ids` or `sp_weights` is not a SparseTensor.
        ValueError: an unknown combiner, or sp_ids and sp_weights of different shapes.
    """
    if combiner is None:
        combiner = "mean"
    if combiner not in _COMBINERS:
        raise ValueError(f"combiner must be one of 'mean', 'sqrtn' or 'sum', got {combiner}")
    params = _params(params, "params")
    _check_sparse(sp_ids, sp_weights, "sp_ids")
    with name_scope(name, "embedding_lookup_sparse") as scope:
        segment_ids = compare_ops.cast(array_slice_ops.slice(sp_ids.indices, [0, 0], [-1, 1]), _dt.int32)
        segment_ids = array_ops.reshape(segment_ids, [-1])
        # TF's segment sums have max(id) + 1 rows; the -1 makes an empty SparseTensor give 0 rows.
        num_rows = math_ops.add(reduction_ops.reduce_max(array_join_ops.concat([[-1], segment_ids], 0)), 1)
        weights = None if sp_weights is None else sp_weights.values
        return _combine(params, sp_ids.values, weights, segment_ids, num_rows, combiner, partition_strategy,
                        max_norm, scope)


def _flat_rows(sparse_ids: SparseTensor) -> tuple:
    """The row of each entry when the leading dims of the dense shape are flattened, and their count."""
    rank = sparse_ids.indices.get_shape().as_list()[1] if sparse_ids.indices.get_shape().ndims else None
    if rank is None:
        d = sparse_ids.dense_shape.get_shape()
        rank = d.as_list()[0] if d.ndims else None
    if rank is None:
        raise ValueError("safe_embedding_lookup_sparse needs the rank of sparse_ids to be known statically "
                         "(the static shape of its indices [N, rank] or dense_shape [rank])")
    if rank < 2:
        raise ValueError(f"sparse_ids must be at least rank 2 ([rows, ids per row]), got rank {rank}")
    shape = sparse_ids.dense_shape
    idx = sparse_ids.indices
    row = array_slice_ops.slice(idx, [0, 0], [-1, 1])
    for k in range(1, rank - 1):
        row = math_ops.add(math_ops.multiply(row, shape[k]), array_slice_ops.slice(idx, [0, k], [-1, 1]))
    num_rows = reduction_ops.reduce_prod(array_slice_ops.slice(shape, [0], [rank - 1]))
    return compare_ops.cast(array_ops.reshape(row, [-1]), _dt.int32), compare_ops.cast(num_rows, _dt.int32), rank


def safe_embedding_lookup_sparse(embedding_weights: Any, sparse_ids: SparseTensor, sparse_weights: Any = None,
                                 combiner: str = "mean", default_id: int | None = None, name: str | None = None,
                                 partition_strategy: str = "div", max_norm: Any = None) -> Tensor:
    """Like `embedding_lookup_sparse`, robust to invalid ids and empty rows (TF 1.x signature).

    Ids < 0 are ignored, and so are entries with weight <= 0 unless combiner is "sum". A row with no
    entry left gets the embedding of `default_id`, or zeros when it is None. `sparse_ids` may have rank
    > 2: the result has shape `dense_shape[:-1] + params.shape[1:]`.

    Args:
        embedding_weights: [vocab, d1, ...] embeddings, or a list of its partitions.
        sparse_ids: a SparseTensor [d0, ..., dn-1, ?] of int64 ids.
        sparse_weights: None, or a SparseTensor of float weights with the indices of `sparse_ids`.
        combiner: "mean" (default), "sqrtn" or "sum".
        default_id: the id whose embedding empty rows get (None: zeros).
        name: a name for the operation.
        partition_strategy: "div" (default) or "mod", for partitioned embedding_weights.
        max_norm: if not None, each embedding is clipped to this L2 norm before combining.

    Returns:
        A dense Tensor [d0, ..., dn-1, d1, ...] of combined embeddings.

    Raises:
        TypeError: `sparse_ids` or `sparse_weights` is not a SparseTensor.
        ValueError: missing embedding_weights, an unknown combiner, or an unknown rank of sparse_ids.
    """
    if combiner not in _COMBINERS:
        raise ValueError(f"combiner must be one of 'mean', 'sqrtn' or 'sum', got {combiner}")
    params = _params(embedding_weights, "embedding_weights")
    _check_sparse(sparse_ids, sparse_weights, "sparse_ids")
    if sparse_weights is not None:
        params = [convert_to_tensor(p, dtype=sparse_weights.dtype) for p in params]
    with name_scope(name, "embedding_lookup") as scope:
        rows, num_rows, rank = _flat_rows(sparse_ids)
        ids = sparse_ids.values
        valid = compare_ops.greater_equal(ids, array_ops.zeros_like(ids))
        weights = None if sparse_weights is None else sparse_weights.values
        if weights is not None and combiner != "sum":
            valid = compare_ops.logical_and(valid, compare_ops.greater(weights, array_ops.zeros_like(weights)))
        # Invalid entries go to segment -1, which UnsortedSegmentSum drops; their id is read as 0 meanwhile.
        rows = array_gather_ops.where(valid, rows, math_ops.subtract(array_ops.zeros_like(rows), 1))
        safe_ids = array_gather_ops.where(valid, ids, array_ops.zeros_like(ids))
        result = _combine(params, safe_ids, weights, rows, num_rows, combiner, partition_strategy, max_norm,
                          None)
        if default_id is not None:
            # Rows with no valid entry summed to zeros; they get default_id's embedding instead.
            counts = array_gather_ops.unsorted_segment_sum(compare_ops.cast(valid, _dt.int32), rows, num_rows)
            empty = compare_ops.cast(compare_ops.equal(counts, 0), result.dtype.base_dtype)
            nd = result.get_shape().ndims
            empty = array_ops.reshape(empty, [-1] + [1] * ((nd or 2) - 1))
            fill = embedding_lookup(params, convert_to_tensor(np.array([default_id], np.int64)),
                                    partition_strategy=partition_strategy, max_norm=max_norm)
            result = math_ops.add(result, math_ops.multiply(empty, compare_ops.cast(fill, result.dtype.base_dtype)))
        out_shape = array_join_ops.concat([
            compare_ops.cast(array_slice_ops.slice(sparse_ids.dense_shape, [0], [rank - 1]), _dt.int32),
            array_slice_ops.slice(array_ops.shape(result), [1], [-1])], 0)
        return array_ops.reshape(result, out_shape, name=scope)
