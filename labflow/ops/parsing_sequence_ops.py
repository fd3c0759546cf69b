"""`tf.SequenceExample` parsing (TF 1.x): `tf.parse_single_sequence_example` and `tf.io.parse_sequence_example`
(ops ParseSingleSequenceExample and ParseSequenceExample), with `tf.FixedLenSequenceFeature` for the feature
lists. Host ops, like the Example parsers in parsing_ops.py, whose per-feature decoding they share.
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import name_scope
from labflow.framework.registry import op
from labflow.framework.shapes import TensorShape
from labflow.framework.sparse_tensor import SparseTensor
from labflow.ops.common import convert_to_tensor, dims, make_op


class FixedLenSequenceFeature(collections.namedtuple("FixedLenSequenceFeature",
                                                     ["shape", "dtype", "allow_missing", "default_value"])):
    """A feature list of fixed-shape values, parsed into a dense tensor [time, *shape] (TF 1.x).

    Attributes:
        shape: each step's shape.
        dtype: tf.float32, tf.int64 or tf.string.
        allow_missing: a missing feature list parses as zero steps (else it is an error).
        default_value: pads to the longest Example in `tf.parse_example`; SequenceExample parsing pads with
            0 (b"" for strings) and, as in TF, requires it to be None.
    """

    def __new__(cls, shape: Any, dtype: Any, allow_missing: bool = False,
                default_value: Any = None) -> FixedLenSequenceFeature:
        return super().__new__(cls, shape, dtype, allow_missing, default_value)


def _shape_tuple(s: Any) -> tuple:
    return tuple(s.as_tuple() if isinstance(s, TensorShape) else s)


def _feature_list_values(fl: Any, key: str, dtype: _dt.DType, shape: tuple) -> np.ndarray:
    """One dense feature list as [time, *shape]."""
    from labflow.ops.parsing_ops import _KIND, _KIND_NAME
    kind, per_step = _KIND[dtype], int(np.prod(shape))
    steps = []
    for t, f in enumerate(fl.feature):
        got = f.WhichOneof("kind")
        vals = list(getattr(f, kind).value) if got == kind else []
        if got not in (kind, None):
            raise errors.InvalidArgumentError(None, None, f"Name: <unknown>, Feature list: {key}, Index: {t}.  Data "
                                              f"types don't match. Expected type: {dtype.name}, got "
                                              f"{_KIND_NAME[got]}")
        if len(vals) != per_step:
            raise errors.InvalidArgumentError(None, None, f"Name: <unknown>, Key: {key}, Index: {t}.  Number of "
                                              f"values != expected.  values size: {len(vals)} but output shape: "
                                              f"[{','.join(map(str, shape))}]")
        steps.extend(vals)
    out = np.empty(len(steps), object) if dtype == _dt.string else np.asarray(steps, dtype.as_numpy_dtype)
    if dtype == _dt.string:
        out[:] = steps
    return out.reshape((len(fl.feature),) + shape)


def _feature_list_rows(fl: Any, key: str, dtype: _dt.DType) -> list[list]:
    """One variable-length feature list: each step's values."""
    from labflow.ops.parsing_ops import _KIND, _KIND_NAME
    kind = _KIND[dtype]
    rows = []
    for t, f in enumerate(fl.feature):
        got = f.WhichOneof("kind")
        if got not in (kind, None):
            raise errors.InvalidArgumentError(None, None, f"Name: <unknown>, Feature list: {key}, Index: {t}.  Data "
                                              f"types don't match. Expected type: {dtype.name}, got "
                                              f"{_KIND_NAME[got]}")
        rows.append(list(getattr(f, kind).value) if got == kind else [])
    return rows


def _sparse_triple(per_example: list[list[list]], dtype: _dt.DType, single: bool) -> list:
    """(indices, values, dense_shape) of a VarLen feature list: [time, longest] (single) or [batch, time, longest]."""
    idx, vals = [], []
    steps = max((len(e) for e in per_example), default=0)
    longest = max((len(r) for e in per_example for r in e), default=0)
    for b, e in enumerate(per_example):
        for t, r in enumerate(e):
            for j, v in enumerate(r):
                idx.append([t, j] if single else [b, t, j])
                vals.append(v)
    rank = 2 if single else 3
    out = np.empty(len(vals), object) if dtype == _dt.string else np.asarray(vals, dtype.as_numpy_dtype)
    if dtype == _dt.string:
        out[:] = vals
    shape = [steps, longest] if single else [len(per_example), steps, longest]
    return [np.asarray(idx, np.int64).reshape(-1, rank), out.reshape(-1), np.asarray(shape, np.int64)]


def _parse_sequences(serialized: Any, ctx_defaults: tuple, attrs: dict, single: bool) -> list:
    from labflow.framework.protos.example_pb2 import Example, SequenceExample
    from labflow.ops.parsing_ops import _dense_values, _sparse_outputs, _var_values
    flat = np.asarray(serialized, dtype=object).reshape(-1)
    c_sk, c_st = attrs["context_sparse_keys"], attrs["context_sparse_types"]
    c_dk, c_dt = attrs["context_dense_keys"], attrs["Tcontext_dense"]
    c_ds = [_shape_tuple(s) for s in attrs["context_dense_shapes"]]
    f_sk, f_st = attrs["feature_list_sparse_keys"], attrs["feature_list_sparse_types"]
    f_dk, f_dt = attrs["feature_list_dense_keys"], attrs["feature_list_dense_types"]
    f_ds = [_shape_tuple(s) for s in attrs["feature_list_dense_shapes"]]
    missing_ok = set(attrs["feature_list_dense_missing_assumed_empty"])
    defs = [np.asarray(d, t.as_numpy_dtype) for d, t in zip(ctx_defaults, c_dt)]
    defs = [d if d.size == 0 else d.reshape(s) for d, s in zip(defs, c_ds)]
    c_rows: list = [[] for _ in c_sk]
    c_dense: list = [[] for _ in c_dk]
    f_rows: list = [[] for _ in f_sk]
    f_dense: list = [[] for _ in f_dk]
    for i, blob in enumerate(flat):
        try:
            seq = SequenceExample.FromString(bytes(blob))
        except Exception:  # noqa: BLE001 - protobuf's DecodeError class differs between runtimes
            raise errors.InvalidArgumentError(None, None, "Could not parse serialized SequenceExample, value: "
                                              f"'{bytes(blob)[:40]!r}'") from None
        ctx = Example()
        ctx.features.CopyFrom(seq.context)  # the context is a Features message: reuse the Example decoders
        for k, (key, t, s) in enumerate(zip(c_dk, c_dt, c_ds)):
            c_dense[k].append(_dense_values(ctx, key, t, s, defs[k], i))
        for k, (key, t) in enumerate(zip(c_sk, c_st)):
            c_rows[k].append(_var_values(ctx, key, t, i))
        lists = seq.feature_lists.feature_list
        for k, (key, t, s) in enumerate(zip(f_dk, f_dt, f_ds)):
            if key not in lists:
                if key not in missing_ok:
                    raise errors.InvalidArgumentError(None, None, f"Name: <unknown>, Feature list '{key}' is "
                                                      "required but could not be found (give its "
                                                      "FixedLenSequenceFeature allow_missing=True)")
                f_dense[k].append(np.zeros((0,) + s, t.as_numpy_dtype))
            else:
                f_dense[k].append(_feature_list_values(lists[key], key, t, s))
        for k, (key, t) in enumerate(zip(f_sk, f_st)):
            f_rows[k].append(_feature_list_rows(lists[key], key, t) if key in lists else [])
    c_sparse = [_sparse_outputs(rows, t, single) for rows, t in zip(c_rows, c_st)]
    f_sparse = [_sparse_triple(rows, t, single) for rows, t in zip(f_rows, f_st)]
    outs = [p[0] for p in c_sparse] + [p[1] for p in c_sparse] + [p[2] for p in c_sparse]
    outs += [np.stack([v.item() if v.ndim == 0 else v for v in vs]) if not single else vs[0] for vs in c_dense]
    outs += [p[0] for p in f_sparse] + [p[1] for p in f_sparse] + [p[2] for p in f_sparse]
    if single:
        return outs + [vs[0] for vs in f_dense]
    lengths = []
    for vs, t, s in zip(f_dense, f_dt, f_ds):
        steps = max((v.shape[0] for v in vs), default=0)
        pad = b"" if t == _dt.string else 0
        batch = np.full((len(vs), steps) + s, pad, dtype=object if t == _dt.string else t.as_numpy_dtype)
        for b, v in enumerate(vs):
            batch[b, :v.shape[0]] = v
        outs.append(batch)
        lengths.append(np.asarray([v.shape[0] for v in vs], np.int64))
    return outs + lengths


def _seq_shape(single: bool):
    def fn(ins, attrs):
        d = dims(ins[0])
        want = 0 if single else 1
        if d is not None and len(d) != want:
            raise ValueError(f"Shape must be rank {want} but is rank {len(d)} (input 'serialized' of "
                             f"{'ParseSingleSequenceExample' if single else 'ParseSequenceExample'})")
        lead = () if single else ((None,) if d is None else d)
        c_rank, f_rank = (1, 2) if single else (2, 3)
        out = [(_dt.int64, (None, c_rank)) for _ in attrs["context_sparse_types"]]
        out += [(t, (None,)) for t in attrs["context_sparse_types"]]
        out += [(_dt.int64, (c_rank,)) for _ in attrs["context_sparse_types"]]
        out += [(t, lead + _shape_tuple(s)) for t, s in zip(attrs["Tcontext_dense"], attrs["context_dense_shapes"])]
        out += [(_dt.int64, (None, f_rank)) for _ in attrs["feature_list_sparse_types"]]
        out += [(t, (None,)) for t in attrs["feature_list_sparse_types"]]
        out += [(_dt.int64, (f_rank,)) for _ in attrs["feature_list_sparse_types"]]
        out += [(t, lead + (None,) + _shape_tuple(s)) for t, s in zip(attrs["feature_list_dense_types"],
                                                                      attrs["feature_list_dense_shapes"])]
        if not single:
            out += [(_dt.int64, lead) for _ in attrs["feature_list_dense_types"]]
        return out
    return fn


_SEQ_ATTRS = {"context_sparse_keys": [], "context_sparse_types": [], "context_dense_keys": [], "Tcontext_dense": [],
              "context_dense_shapes": [], "feature_list_sparse_keys": [], "feature_list_sparse_types": [],
              "feature_list_dense_keys": [], "feature_list_dense_types": [], "feature_list_dense_shapes": [],
              "feature_list_dense_missing_assumed_empty": []}


def _n_outputs(single: bool):
    def fn(attrs, n):
        return (3 * len(attrs["context_sparse_keys"]) + len(attrs["context_dense_keys"])
                + 3 * len(attrs["feature_list_sparse_keys"])
                + (1 if single else 2) * len(attrs["feature_list_dense_keys"]))
    return fn


@op("ParseSingleSequenceExample", inputs=("serialized", "*context_dense_defaults"), attrs=_SEQ_ATTRS,
    shape=_seq_shape(True), outputs=_n_outputs(True), host_op=True, not_differentiable=True)
def parse_single_sequence_example_kernel(xp, serialized, *context_dense_defaults, **attrs):
    outs = _parse_sequences(serialized, context_dense_defaults, attrs, True)
    return outs[0] if len(outs) == 1 else tuple(outs)


@op("ParseSequenceExample", inputs=("serialized", "*context_dense_defaults"),
    attrs=_SEQ_ATTRS, shape=_seq_shape(False), outputs=_n_outputs(False),
    host_op=True, not_differentiable=True)
def parse_sequence_example_kernel(xp, serialized, *context_dense_defaults, **attrs):
    outs = _parse_sequences(serialized, context_dense_defaults, attrs, False)
    return outs[0] if len(outs) == 1 else tuple(outs)


def _split_features(features: dict | None, allowed: tuple, where: str) -> dict:
    from labflow.ops.parsing_ops import _KIND
    out: dict = {}
    for k in sorted(features or {}):
        f = features[k]
        if not isinstance(f, allowed):
            raise ValueError(f"{where} '{k}': expected one of {', '.join(c.__name__ for c in allowed)}, got "
                             f"{type(f).__name__}")
        dt = _dt.as_dtype(f.dtype).base_dtype
        if dt not in _KIND:
            raise ValueError(f"{where} '{k}' has dtype {dt.name}: a SequenceExample holds only float32, int64 and "
                             "string")
        if not hasattr(f, "shape"):
            out.setdefault("sparse", []).append((k, dt))
            continue
        if isinstance(f, FixedLenSequenceFeature) and f.default_value is not None:
            raise ValueError(f"{where} '{k}': a FixedLenSequenceFeature's default_value must be None here (feature "
                             "lists are padded with 0, or b'' for strings)")
        shape = TensorShape(f.shape)
        if not shape.is_fully_defined():
            raise ValueError(f"{where} '{k}': needs a fully defined shape, got {f.shape}")
        out.setdefault("dense", []).append((k, dt, shape, f))
    return out


def _build(op_type: str, serialized: Any, context_features: dict | None, sequence_features: dict | None,
           name: str | None, single: bool) -> tuple:
    from labflow.ops.parsing_ops import FixedLenFeature, VarLenFeature
    if not context_features and not sequence_features:
        raise ValueError("Missing features: give context_features and/or sequence_features")
    ctx = _split_features(context_features, (FixedLenFeature, VarLenFeature), "Context feature")
    seq = _split_features(sequence_features, (FixedLenSequenceFeature, VarLenFeature), "Sequence feature")
    with name_scope(name, op_type) as scope:
        s = convert_to_tensor(serialized, dtype=_dt.string, name="serialized")
        defaults = []
        for k, dt, shape, f in ctx.get("dense", []):
            v = np.zeros((0,), dt.as_numpy_dtype) if f.default_value is None else np.asarray(
                f.default_value, dt.as_numpy_dtype).reshape(shape.as_tuple())
            defaults.append(convert_to_tensor(v, dtype=dt, name=f"context_key_{k}"))
        c_sparse, c_dense = ctx.get("sparse", []), ctx.get("dense", [])
        f_sparse, f_dense = seq.get("sparse", []), seq.get("dense", [])
        attrs = {"context_sparse_keys": [k for k, _ in c_sparse], "context_sparse_types": [t for _, t in c_sparse],
                 "context_dense_keys": [d[0] for d in c_dense], "Tcontext_dense": [d[1] for d in c_dense],
                 "context_dense_shapes": [d[2] for d in c_dense],
                 "feature_list_sparse_keys": [k for k, _ in f_sparse],
                 "feature_list_sparse_types": [t for _, t in f_sparse],
                 "feature_list_dense_keys": [d[0] for d in f_dense],
                 "feature_list_dense_types": [d[1] for d in f_dense],
                 "feature_list_dense_shapes": [d[2] for d in f_dense],
                 "feature_list_dense_missing_assumed_empty": [d[0] for d in f_dense if d[3].allow_missing]}
        o = make_op(op_type, [s, *defaults], attrs, scope).outputs
    pos = 0

    def take(n):
        nonlocal pos
        pos += n
        return o[pos - n:pos]
    ci, cv, cs = take(len(c_sparse)), take(len(c_sparse)), take(len(c_sparse))
    context = {k: SparseTensor(a, b, c) for (k, _), a, b, c in zip(c_sparse, ci, cv, cs)}
    context.update({d[0]: t for d, t in zip(c_dense, take(len(c_dense)))})
    fi, fv, fs = take(len(f_sparse)), take(len(f_sparse)), take(len(f_sparse))
    sequence = {k: SparseTensor(a, b, c) for (k, _), a, b, c in zip(f_sparse, fi, fv, fs)}
    sequence.update({d[0]: t for d, t in zip(f_dense, take(len(f_dense)))})
    if single:
        return context, sequence
    return context, sequence, {d[0]: t for d, t in zip(f_dense, take(len(f_dense)))}


def parse_single_sequence_example(serialized: Any, context_features: dict | None = None,
                                  sequence_features: dict | None = None, example_name: Any = None,
                                  name: str | None = None) -> tuple:
    """Parses one serialized `SequenceExample` (TF 1.x `tf.parse_single_sequence_example`).

    Args:
        serialized: a scalar string tensor.
        context_features: key -> `FixedLenFeature` or `VarLenFeature`, read from the context.
        sequence_features: key -> `FixedLenSequenceFeature` ([time, *shape]) or `VarLenFeature` (a SparseTensor
            [time, longest]), read from the feature lists.
        example_name: accepted for TF compatibility.
        name: a name for the op.

    Returns:
        (context dict, sequence dict).
    """
    return _build("ParseSingleSequenceExample", serialized, context_features, sequence_features, name, True)


def parse_sequence_example(serialized: Any, context_features: dict | None = None,
                           sequence_features: dict | None = None, example_names: Any = None,
                           name: str | None = None) -> tuple:
    """Parses a batch of serialized `SequenceExample`s (`tf.io.parse_sequence_example`).

    Dense feature lists are padded to the longest sequence with 0 (b"" for strings).

    Returns:
        (context dict, sequence dict, lengths dict: each dense feature list's length per example).
    """
    return _build("ParseSequenceExample", serialized, context_features, sequence_features, name, False)
