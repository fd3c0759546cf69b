"""SparseTensors to and from strings (SerializeSparse, SerializeManySparse, DeserializeManySparse: each
component a serialized TensorProto, as TF writes them) and EditDistance between two SparseTensors of sequences."""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.registry import REQUIRED, op
from labflow.framework.sparse_tensor import SparseTensor
from labflow.framework.tensor import Tensor
from labflow.ops.common import ALL_TYPES, base, convert_to_tensor, dims, make_op
from labflow.ops.sparse_indexing import (
    as_sparse,
    check_index_inputs,
    check_triple,
    const_shape,
    host,
    rank_of,
    row_order,
)

_CPU = ("CPU",)


def _proto_bytes(a: np.ndarray) -> bytes:
    from labflow.framework.proto_convert import make_tensor_proto
    return make_tensor_proto(a).SerializeToString()


def _from_proto(data: bytes, what: str) -> np.ndarray:
    from labflow.framework.proto_convert import make_ndarray
    from labflow.framework.protos import tensor_pb2
    p = tensor_pb2.TensorProto()
    try:
        p.ParseFromString(data)
    except Exception:  # noqa: BLE001 - protobuf's DecodeError class differs between runtimes
        raise errors.InvalidArgumentError(None, None, f"DeserializeManySparse: could not parse {what} as a "
                                          "TensorProto; pass strings made by serialize_many_sparse") from None
    return make_ndarray(p)


def _strings(items: list, shape: tuple) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out.reshape(shape)


# -- SerializeSparse / SerializeManySparse -----------------------------------------------------------------
def _serialize_shape(many: bool):
    def fn(ins, attrs):
        check_index_inputs("SerializeManySparse" if many else "SerializeSparse", ins, (0, 2))
        if attrs["out_type"] != _dt.string:
            raise TypeError("serialize_sparse: only out_type=tf.string is supported (variant is TF 2's encoding)")
        shape = const_shape(ins[2])
        return _dt.string, (((shape[0] if shape else None), 3) if many else (3,))
    return fn


@op("SerializeSparse", inputs=("sparse_indices", "sparse_values", "sparse_shape"), attrs={"out_type": _dt.string},
    types=ALL_TYPES, type_inputs=("sparse_values",), shape=_serialize_shape(False), not_differentiable=True,
    devices=_CPU)
def serialize_sparse_kernel(xp, sparse_indices, sparse_values, sparse_shape, *, out_type):
    idx, shp = check_triple("SerializeSparse", sparse_indices, sparse_values, sparse_shape)
    return _strings([_proto_bytes(idx), _proto_bytes(host(sparse_values)), _proto_bytes(np.asarray(shp, np.int64))],
                    (3,))


@op("SerializeManySparse", inputs=("sparse_indices", "sparse_values", "sparse_shape"),
    attrs={"out_type": _dt.string}, types=ALL_TYPES, type_inputs=("sparse_values",), shape=_serialize_shape(True),
    not_differentiable=True, devices=_CPU)
def serialize_many_sparse_kernel(xp, sparse_indices, sparse_values, sparse_shape, *, out_type):
    idx, shp = check_triple("SerializeManySparse", sparse_indices, sparse_values, sparse_shape)
    if len(shp) < 2:
        raise errors.InvalidArgumentError(None, None, f"SerializeManySparse: the SparseTensor must have rank >= 2 "
                                          f"(a batch of SparseTensors), got dense shape {shp}")
    vals = host(sparse_values)
    rows = []
    for b in range(shp[0]):
        at = idx[:, 0] == b
        rows += [_proto_bytes(np.ascontiguousarray(idx[at, 1:])), _proto_bytes(vals[at]),
                 _proto_bytes(np.asarray(shp[1:], np.int64))]
    return _strings(rows, (shp[0], 3))


def serialize_sparse(sp_input: Any, name: str | None = None, out_type: Any = _dt.string) -> Tensor:
    """A SparseTensor as a string vector [3] (its indices, values and shape as serialized TensorProtos)."""
    sp = as_sparse(sp_input, "sp_input", "serialize_sparse")
    return make_op("SerializeSparse", [sp.indices, sp.values, sp.dense_shape], {"out_type": _dt.as_dtype(out_type)},
                   name or "SerializeSparse").outputs[0]


def serialize_many_sparse(sp_input: Any, name: str | None = None, out_type: Any = _dt.string) -> Tensor:
    """A batch SparseTensor [N, ...] as an [N, 3] string matrix, one serialized SparseTensor per row."""
    sp = as_sparse(sp_input, "sp_input", "serialize_many_sparse")
    return make_op("SerializeManySparse", [sp.indices, sp.values, sp.dense_shape],
                   {"out_type": _dt.as_dtype(out_type)}, name or "SerializeManySparse").outputs[0]


# -- DeserializeManySparse ---------------------------------------------------------------------------------
def _deserialize_shape(ins, attrs):
    d = dims(ins[0])
    if d is not None and (len(d) != 2 or d[1] not in (None, 3)):
        raise ValueError(f"DeserializeManySparse: serialized_sparse must be a matrix [N, 3], got shape {list(d)}")
    return [(_dt.int64, (None, None)), (attrs["dtype"], (None,)), (_dt.int64, (None,))]


@op("DeserializeManySparse", inputs=("serialized_sparse",), attrs={"dtype": REQUIRED}, shape=_deserialize_shape,
    outputs=3, output_names=("sparse_indices", "sparse_values", "sparse_shape"), not_differentiable=True,
    devices=_CPU)
def deserialize_many_sparse_kernel(xp, serialized_sparse, *, dtype):
    rows = host(serialized_sparse)
    if rows.ndim != 2 or rows.shape[1] != 3:
        raise errors.InvalidArgumentError(None, None, "DeserializeManySparse: serialized_sparse must be a matrix "
                                          f"[N, 3], got shape {list(rows.shape)}")
    parts = []
    for b, (i, v, s) in enumerate(rows.tolist()):
        idx, vals, shp = (_from_proto(x, f"row {b}") for x in (i, v, s))
        if vals.dtype != np.dtype(dtype.as_numpy_dtype) and not (dtype == _dt.string and vals.dtype == object):
            raise errors.InvalidArgumentError(None, None, f"DeserializeManySparse: row {b} holds {vals.dtype} values "
                                              f"but dtype is {dtype.name}")
        parts.append((idx.reshape(-1, shp.shape[0]).astype(np.int64), vals.reshape(-1), shp.astype(np.int64)))
    ranks = {p[2].shape[0] for p in parts}
    if len(ranks) > 1:
        raise errors.InvalidArgumentError(None, None, f"DeserializeManySparse: the serialized SparseTensors have "
                                          f"different ranks {sorted(ranks)}; they must share one")
    rank = ranks.pop() if ranks else 0
    shape = np.max(np.stack([p[2] for p in parts]), axis=0) if parts else np.zeros(rank, np.int64)
    idx = np.concatenate([np.column_stack([np.full(p[0].shape[0], b, np.int64), p[0]]) for b, p in enumerate(parts)]
                         ) if parts else np.zeros((0, rank + 1), np.int64)
    vals = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, dtype.as_numpy_dtype)
    return idx, vals.astype(dtype.as_numpy_dtype if dtype != _dt.string else object), \
        np.concatenate([[len(parts)], shape]).astype(np.int64)


def deserialize_many_sparse(serialized_sparse: Any, dtype: Any, rank: int | None = None,
                            name: str | None = None) -> SparseTensor:
    """The batch SparseTensor [N, ...] from an [N, 3] matrix made by `serialize_many_sparse` (the dense shape
    is the largest of the rows' shapes)."""
    s = convert_to_tensor(serialized_sparse, dtype=_dt.string)
    o = make_op("DeserializeManySparse", [s], {"dtype": _dt.as_dtype(dtype)}, name or "DeserializeManySparse")
    out = o.outputs
    if rank is not None:
        out[0].set_shape([None, rank])
        out[2].set_shape([rank])
    return SparseTensor(out[0], out[1], out[2])


# -- EditDistance ------------------------------------------------------------------------------------------
def _edit_shape(ins, attrs):
    check_index_inputs("EditDistance", ins, (0, 2))
    check_index_inputs("EditDistance", ins, (3, 5))
    if base(ins[1]) != base(ins[4]):
        raise TypeError(f"EditDistance: hypothesis and truth must have one dtype, got {base(ins[1]).name} and "
                        f"{base(ins[4]).name}")
    h, t = const_shape(ins[2]), const_shape(ins[5])
    if h is not None and t is not None and len(h) == len(t):
        return _dt.float32, tuple(max(a, b) for a, b in zip(h[:-1], t[:-1]))
    rank = rank_of(ins[2], ins[0]) or rank_of(ins[5], ins[3])
    return _dt.float32, None if rank is None else (None,) * (rank - 1)


def _levenshtein(a: list, b: list) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y))
        prev = cur
    return prev[-1]


def _sequences(idx: np.ndarray, vals: np.ndarray) -> dict:
    out: dict = {}
    order = row_order(idx)
    for k in order.tolist():
        out.setdefault(tuple(idx[k, :-1].tolist()), []).append(vals[k])
    return out


@op("EditDistance", inputs=("hypothesis_indices", "hypothesis_values", "hypothesis_shape", "truth_indices",
                            "truth_values", "truth_shape"), attrs={"normalize": True}, types=ALL_TYPES,
    type_inputs=("hypothesis_values", "truth_values"), shape=_edit_shape, not_differentiable=True, devices=_CPU)
def edit_distance_kernel(xp, hypothesis_indices, hypothesis_values, hypothesis_shape, truth_indices, truth_values,
                         truth_shape, *, normalize):
    hi, hs = check_triple("EditDistance", hypothesis_indices, hypothesis_values, hypothesis_shape, "hypothesis")
    ti, ts = check_triple("EditDistance", truth_indices, truth_values, truth_shape, "truth")
    if len(hs) != len(ts) or len(hs) < 1:
        raise errors.InvalidArgumentError(None, None, f"EditDistance: hypothesis and truth must have one rank >= 1, "
                                          f"got dense shapes {hs} and {ts}")
    out = np.zeros([max(a, b) for a, b in zip(hs[:-1], ts[:-1])], np.float32)
    hyp = _sequences(hi, host(hypothesis_values))
    truth = _sequences(ti, host(truth_values))
    for key in set(hyp) | set(truth):
        h, t = hyp.get(key, []), truth.get(key, [])
        d = float(_levenshtein(h, t))
        if normalize:
            d = d / len(t) if t else (np.inf if h else 0.0)
        out[key] = d
    return out


def edit_distance(hypothesis: Any, truth: Any, normalize: bool = True, name: str = "edit_distance") -> Tensor:
    """The Levenshtein distance between the sequences of two SparseTensors (TF 1.x `tf.edit_distance`).

    Args:
        hypothesis: a SparseTensor whose last dimension holds the hypothesis sequences.
        truth: a SparseTensor of the same rank and dtype holding the reference sequences.
        normalize: divide each distance by the truth's length (inf where the truth is empty).
        name: a name for the op.

    Returns:
        A float32 tensor over the leading dimensions (the larger of the two shapes').
    """
    h = as_sparse(hypothesis, "hypothesis", "edit_distance")
    t = as_sparse(truth, "truth", "edit_distance")
    return make_op("EditDistance", [h.indices, h.values, h.dense_shape, t.indices, t.values, t.dense_shape],
                   {"normalize": bool(normalize)}, name).outputs[0]


__all__ = ["serialize_sparse", "serialize_many_sparse", "deserialize_many_sparse", "edit_distance"]
