"""Parsing ops: `tf.parse_example`, `tf.parse_single_example`, `tf.decode_raw` and `tf.decode_csv`.

The kernels decode serialized `tf.train.Example` protos (wire-compatible with TF's example.proto) on the
host: strings never live on a GPU, so every op here is a host op (like PyFunc): placed on any device,
its kernel runs on NumPy values and a GPU consumer gets its numeric outputs copied over.
Dense features (`FixedLenFeature`) come out as tensors; variable-length ones (`VarLenFeature`) as
SparseTensors (each example's values in a row, the dense shape [batch, longest]); `SparseFeature` and
`FixedLenSequenceFeature` are built on top of them. SequenceExamples are parsed in parsing_sequence_ops.py.
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import name_scope
from labflow.framework.registry import REQUIRED, op
from labflow.framework.shapes import TensorShape
from labflow.framework.tensor import Tensor
from labflow.ops.common import convert_to_tensor, dims, make_op

__all__ = ["FixedLenFeature", "VarLenFeature", "SparseFeature", "FixedLenSequenceFeature",
           "parse_single_sequence_example", "parse_sequence_example", "parse_example", "parse_single_example",
           "decode_raw", "decode_csv"]

_HOST = dict(host_op=True, not_differentiable=True)
# Which Feature.kind holds each output dtype (the only three an Example can hold).
_KIND = {_dt.float32: "float_list", _dt.int64: "int64_list", _dt.string: "bytes_list"}
_KIND_NAME = {"float_list": "float", "int64_list": "int64", "bytes_list": "string"}


class FixedLenFeature(collections.namedtuple("FixedLenFeature", ["shape", "dtype", "default_value"])):
    """A dense input feature of fixed shape (TF 1.x `tf.FixedLenFeature`).

    Attributes:
        shape: the feature's shape (a list of ints).
        dtype: tf.float32, tf.int64 or tf.string.
        default_value: used when an Example lacks the feature (None: the feature is required).
    """

    def __new__(cls, shape: Any, dtype: Any, default_value: Any = None) -> FixedLenFeature:
        return super().__new__(cls, shape, dtype, default_value)


# -- the kernel's decoding -------------------------------------------------------------------------------
class VarLenFeature(collections.namedtuple("VarLenFeature", ["dtype"])):
    """A feature with any number of values per Example, parsed into a SparseTensor (TF 1.x)."""

    __slots__ = ()


class SparseFeature(collections.namedtuple("SparseFeature",
                                           ["index_key", "value_key", "dtype", "size", "already_sorted"])):
    """A SparseTensor [size] read from two features of an Example: the indices and the values (TF 1.x).

    Attributes:
        index_key: the int64 feature holding the indices (one key: labflow reads 1-D SparseFeatures).
        value_key: the feature holding the values.
        dtype: the values' dtype.
        size: the dense size of the SparseTensor.
        already_sorted: the indices are known to be in order (skips the reorder).
    """

    def __new__(cls, index_key: Any, value_key: str, dtype: Any, size: Any,
                already_sorted: bool = False) -> SparseFeature:
        return super().__new__(cls, index_key, value_key, dtype, size, already_sorted)


def _example_class() -> Any:
    from labflow.framework.protos.example_pb2 import Example  # lazily: protobuf only loads when parsing
    return Example


def _dense_values(ex: Any, key: str, dtype: _dt.DType, shape: tuple, default: np.ndarray, index: int) -> np.ndarray:
    """The value of feature `key` of one Example as an array of `shape`, or the default."""
    feats = ex.features.feature
    kind = _KIND[dtype]
    if key not in feats or feats[key].WhichOneof("kind") is None:
        if default.size == 0 and int(np.prod(shape)) != 0:
            raise errors.InvalidArgumentError(
                None, None, f"Name: <unknown>, Feature: {key} (data type: {dtype.name}) is required but could "
                "not be found.")
        return default
    f = feats[key]
    got = f.WhichOneof("kind")
    if got != kind:
        raise errors.InvalidArgumentError(
            None, None, f"Name: <unknown>, Key: {key}, Index: {index}.  Data types don't match. Data type: "
            f"{_KIND_NAME[got]} but expected type: {dtype.name}")
    vals = getattr(f, kind).value
    want = int(np.prod(shape))
    if len(vals) != want:
        raise errors.InvalidArgumentError(
            None, None, f"Name: <unknown>, Key: {key}, Index: {index}.  Number of {_KIND_NAME[kind]} values != "
            f"expected.  Values size: {len(vals)} but output shape: [{','.join(map(str, shape))}]")
    if dtype == _dt.string:
        out = np.empty(want, dtype=object)
        out[:] = list(vals)
        return out.reshape(shape)
    return np.asarray(vals, dtype=dtype.as_numpy_dtype).reshape(shape)


def _var_values(ex: Any, key: str, dtype: _dt.DType, index: int) -> list:
    """The values of variable-length feature `key` of one Example ([] when it is absent)."""
    feats = ex.features.feature
    if key not in feats or feats[key].WhichOneof("kind") is None:
        return []
    got, kind = feats[key].WhichOneof("kind"), _KIND[dtype]
    if got != kind:
        raise errors.InvalidArgumentError(
            None, None, f"Name: <unknown>, Key: {key}, Index: {index}.  Data types don't match. Data type: "
            f"{_KIND_NAME[got]} but expected type: {dtype.name}")
    return list(getattr(feats[key], kind).value)


def _sparse_outputs(rows: list, dtype: _dt.DType, single: bool) -> list:
    """(indices, values, dense_shape) of one variable-length feature over the parsed Examples."""
    longest = max((len(r) for r in rows), default=0)
    idx = [([j] if single else [i, j]) for i, r in enumerate(rows) for j in range(len(r))]
    values = [v for r in rows for v in r]
    vals = np.empty(len(values), dtype=object) if dtype == _dt.string else np.asarray(values,
                                                                                       dtype=dtype.as_numpy_dtype)
    if dtype == _dt.string:
        vals[:] = values
    indices = np.asarray(idx, dtype=np.int64).reshape(-1, 1 if single else 2)
    shape = np.asarray([longest] if single else [len(rows), longest], dtype=np.int64)
    return [indices, vals.reshape(-1), shape]


def _parse(serialized: np.ndarray, defaults: tuple, dense_keys: list, Tdense: list, dense_shapes: list,
           sparse_keys: list = (), sparse_types: list = (), single: bool = False) -> Any:
    """Decodes every serialized Example in `serialized`: one stacked output per dense key, then
    (indices, values, dense_shape) per sparse key."""
    flat = np.asarray(serialized, dtype=object).reshape(-1)
    cls = _example_class()
    shapes = [tuple(s.as_tuple() if isinstance(s, TensorShape) else s) for s in dense_shapes]
    defs = [np.asarray(d, dtype=t.as_numpy_dtype) for d, t in zip(defaults, Tdense)]
    defs = [d if d.size == 0 else d.reshape(s) for d, s in zip(defs, shapes)]
    outs = [np.empty((len(flat), *s), dtype=t.as_numpy_dtype) for s, t in zip(shapes, Tdense)]
    rows: list[list] = [[] for _ in sparse_keys]
    for i, blob in enumerate(flat):
        try:
            ex = cls.FromString(bytes(blob))
        except Exception:  # noqa: BLE001 - protobuf's DecodeError class differs between runtimes
            raise errors.InvalidArgumentError(
                None, None, f"Could not parse example input, value: '{bytes(blob)[:40]!r}'") from None
        for k, (key, t, s) in enumerate(zip(dense_keys, Tdense, shapes)):
            v = _dense_values(ex, key, t, s, defs[k], i)
            # A 0-d object array assigned into an object array would be stored as an array, not bytes.
            outs[k][i] = v.item() if v.ndim == 0 else v
        for k, (key, t) in enumerate(zip(sparse_keys, sparse_types)):
            rows[k].append(_var_values(ex, key, t, i))
    if single:
        outs = [o[0] for o in outs]
    for k, t in enumerate(sparse_types):
        outs.extend(_sparse_outputs(rows[k], t, single))
    return outs


def _parse_shape(single: bool):
    def fn(ins, attrs):
        d = dims(ins[0])
        if single and d is not None and len(d) != 0:
            raise ValueError(f"Shape must be rank 0 but is rank {len(d)} (input 'serialized' of "
                             "ParseSingleExample is one serialized Example)")
        if not single and d is not None and len(d) != 1:
            raise ValueError(f"Shape must be rank 1 but is rank {len(d)} (input 'serialized' of ParseExample "
                             "is a vector of serialized Examples)")
        lead = () if single else ((None,) if d is None else d)
        out = [(t, lead + tuple(s.as_tuple() if isinstance(s, TensorShape) else s))
               for t, s in zip(attrs["Tdense"], attrs["dense_shapes"])]
        rank = 1 if single else 2
        for t in attrs["sparse_types"]:
            out += [(_dt.int64, (None, rank)), (t, (None,)), (_dt.int64, (rank,))]
        return out
    return fn


_PARSE_ATTRS = {"dense_keys": REQUIRED, "Tdense": REQUIRED, "dense_shapes": REQUIRED, "sparse_keys": [],
                "sparse_types": []}
_N_DENSE = lambda attrs, n: len(attrs["dense_keys"]) + 3 * len(attrs["sparse_keys"])  # noqa: E731


@op("ParseExample", inputs=("serialized", "*dense_defaults"), attrs=_PARSE_ATTRS, shape=_parse_shape(False),
    outputs=_N_DENSE, **_HOST)
def parse_example_kernel(xp, serialized, *dense_defaults, dense_keys, Tdense, dense_shapes, sparse_keys,
                         sparse_types):
    outs = _parse(serialized, dense_defaults, dense_keys, Tdense, dense_shapes, sparse_keys, sparse_types)
    return outs[0] if len(outs) == 1 else tuple(outs)


@op("ParseSingleExample", inputs=("serialized", "*dense_defaults"), attrs=_PARSE_ATTRS, shape=_parse_shape(True),
    outputs=_N_DENSE, **_HOST)
def parse_single_example_kernel(xp, serialized, *dense_defaults, dense_keys, Tdense, dense_shapes, sparse_keys,
                                sparse_types):
    outs = _parse(serialized, dense_defaults, dense_keys, Tdense, dense_shapes, sparse_keys, sparse_types, True)
    return outs[0] if len(outs) == 1 else tuple(outs)


def _build_parse(op_type: str, serialized: Any, features: dict, name: str | None, default_name: str) -> dict:
    """Parses the base features with one op, then builds SparseFeatures and FixedLenSequenceFeatures from them."""
    if not features:
        raise ValueError("Missing: features was empty (give at least one FixedLenFeature or VarLenFeature).")
    base_features, derived = _lower_features(features)
    out = _build_base_parse(op_type, serialized, base_features, name, default_name)
    single = op_type == "ParseSingleExample"
    for key, f in derived.items():
        out[key] = _derive(key, f, out, single)
    return {k: out[k] for k in features}


def _lower_features(features: dict) -> tuple[dict, dict]:
    """SparseFeature and FixedLenSequenceFeature read their keys as VarLenFeatures (as TF's Python layer does)."""
    base_features, derived = {}, {}
    for k, f in features.items():
        if isinstance(f, SparseFeature):
            if not isinstance(f.index_key, str):
                raise ValueError(f"Feature '{k}': labflow reads SparseFeatures with one index_key (1-D), got "
                                 f"{f.index_key!r}")
            base_features[f.index_key] = VarLenFeature(_dt.int64)
            base_features[f.value_key] = VarLenFeature(f.dtype)
            derived[k] = f
        elif isinstance(f, FixedLenSequenceFeature):
            if not f.allow_missing:
                raise ValueError(f"Feature '{k}': parse_example reads a FixedLenSequenceFeature only with "
                                 "allow_missing=True")
            base_features[k] = VarLenFeature(f.dtype)
            derived[k] = f
        else:
            base_features[k] = f
    return base_features, derived


def _derive(key: str, f: Any, parsed: dict, single: bool) -> Any:
    from labflow.framework.sparse_tensor import SparseTensor
    from labflow.ops import array_ops
    if isinstance(f, SparseFeature):
        from labflow.ops.sparse_transform_ops import sparse_merge
        ids, vals = parsed[f.index_key], parsed[f.value_key]
        if single:  # a [n] SparseTensor: merge over a leading batch of one, then drop it
            from labflow.ops.sparse_transform_ops import sparse_expand_dims
            ids, vals = sparse_expand_dims(ids, 0), sparse_expand_dims(vals, 0)
        out = sparse_merge(ids, vals, f.size, already_sorted=f.already_sorted)
        if single:
            from labflow.ops.array_gather_ops import gather
            return SparseTensor(gather(out.indices, [1], axis=1), out.values, gather(out.dense_shape, [1]))
        return out
    from labflow.ops.sparse_ops import sparse_tensor_to_dense
    dt = _dt.as_dtype(f.dtype).base_dtype
    pad = f.default_value if f.default_value is not None else (b"" if dt == _dt.string else 0)
    shape = [int(d) for d in TensorShape(f.shape).as_tuple()]
    sp = parsed[key]
    per_step = int(np.prod(shape))
    if per_step != 1:  # every Example must hold whole steps, or the padding would split one across rows
        from labflow.ops import math_ops
        from labflow.ops.check_ops import assert_equal
        from labflow.ops.image_common import with_dependencies
        from labflow.ops.sparse_ops import sparse_reduce_sum
        ones = array_ops.ones_like(sp.indices[:, 0])
        counts = sparse_reduce_sum(SparseTensor(sp.indices, ones, sp.dense_shape), axis=-1)
        check = assert_equal(math_ops.floormod(counts, per_step), array_ops.zeros_like(counts),
                             message=f"Feature '{key}': an Example's number of values is not a multiple of the "
                                     f"FixedLenSequenceFeature shape {shape}")
        sp = SparseTensor(sp.indices, with_dependencies([check], sp.values), sp.dense_shape)
    dense = sparse_tensor_to_dense(sp, default_value=pad)
    if single:
        return array_ops.reshape(dense, [-1] + shape)
    from labflow.ops.array_join_ops import concat
    lead = array_ops.shape(dense)[:1]
    return array_ops.reshape(dense, concat([lead, np.asarray([-1] + shape, np.int32)], 0))


def _build_base_parse(op_type: str, serialized: Any, features: dict, name: str | None, default_name: str) -> dict:
    if not features:
        raise ValueError("Missing: features was empty (give at least one FixedLenFeature or VarLenFeature).")
    keys = sorted(k for k, f in features.items() if isinstance(f, FixedLenFeature))  # TF orders keys by name
    sparse = sorted(k for k, f in features.items() if isinstance(f, VarLenFeature))
    for k in sorted(features):
        f = features[k]
        if not isinstance(f, (FixedLenFeature, VarLenFeature)):
            raise ValueError(f"Feature '{k}': labflow supports tf.FixedLenFeature and tf.VarLenFeature, got "
                             f"{type(f).__name__}")
        dt = _dt.as_dtype(f.dtype).base_dtype
        if dt not in _KIND:
            raise ValueError(f"Feature '{k}' has dtype {dt.name}: an Example holds only float32, int64 and string")
        if isinstance(f, VarLenFeature):
            continue
        if TensorShape(f.shape).as_tuple() is None or not TensorShape(f.shape).is_fully_defined():
            raise ValueError(f"Feature '{k}': FixedLenFeature needs a fully defined shape, got {f.shape}")
    with name_scope(name, default_name) as scope:
        s = convert_to_tensor(serialized, dtype=_dt.string, name="serialized")
        defaults, tdense, shapes = [], [], []
        for k in keys:
            f = features[k]
            dt = _dt.as_dtype(f.dtype).base_dtype
            shape = TensorShape(f.shape)
            if f.default_value is None:
                # An empty default marks a required feature (TF's convention for dense_defaults).
                d = convert_to_tensor(np.zeros((0,), dtype=dt.as_numpy_dtype), dtype=dt, name=f"key_{k}")
            else:
                v = np.asarray(f.default_value, dtype=dt.as_numpy_dtype)
                if v.size != int(np.prod(shape.as_tuple())):
                    raise ValueError(f"Feature '{k}': default_value has {v.size} values, shape {shape} needs "
                                     f"{int(np.prod(shape.as_tuple()))}")
                d = convert_to_tensor(v.reshape(shape.as_tuple()), dtype=dt, name=f"key_{k}")
            defaults.append(d)
            tdense.append(dt)
            shapes.append(shape)
        stypes = [_dt.as_dtype(features[k].dtype).base_dtype for k in sparse]
        o = make_op(op_type, [s, *defaults], attrs={"dense_keys": keys, "Tdense": tdense, "dense_shapes": shapes,
                                                    "sparse_keys": sparse, "sparse_types": stypes}, name=scope)
    from labflow.framework.sparse_tensor import SparseTensor
    out = dict(zip(keys, o.outputs[:len(keys)]))
    rest = o.outputs[len(keys):]
    for j, k in enumerate(sparse):
        out[k] = SparseTensor(*rest[3 * j:3 * j + 3])
    return out


def parse_example(serialized: Any, features: dict, name: str | None = None, example_names: Any = None) -> dict:
    """Parses a batch of serialized `Example` protos into dense tensors (TF 1.x `tf.parse_example`).

    Args:
        serialized: a 1-D string tensor of serialized Examples.
        features: a dict of feature key -> `FixedLenFeature` or `VarLenFeature`.
        name: a name for the op.
        example_names: accepted for TF compatibility (TF uses it only in error messages).

    Returns:
        A dict of key -> tensor of shape [batch] + feature shape, or a SparseTensor [batch, longest] for a
        VarLenFeature.

    Raises:
        ValueError: a feature of another kind, a dtype an Example cannot hold, a bad default.
        InvalidArgumentError (at run time): a required feature is missing, or has the wrong type or size.
    """
    return _build_parse("ParseExample", serialized, features, name, "ParseExample")


def parse_single_example(serialized: Any, features: dict, name: str | None = None,
                         example_names: Any = None) -> dict:
    """Parses one serialized `Example` proto into dense tensors (TF 1.x `tf.parse_single_example`).

    Args:
        serialized: a scalar string tensor (one serialized Example).
        features: a dict of feature key -> `FixedLenFeature` or `VarLenFeature`.
        name: a name for the op.
        example_names: accepted for TF compatibility.

    Returns:
        A dict of key -> tensor with the feature's shape, or a SparseTensor [n] for a VarLenFeature.
    """
    return _build_parse("ParseSingleExample", serialized, features, name, "ParseSingleExample")


# -- decode_raw ----------------------------------------------------------------------------------------------
_RAW_TYPES = (_dt.float16, _dt.float32, _dt.float64, _dt.int32, _dt.uint16, _dt.uint8, _dt.int16, _dt.int8,
              _dt.int64, _dt.bool, _dt.complex64, _dt.complex128)


def _decode_raw_shape(ins, attrs):
    if ins[0].dtype.base_dtype != _dt.string:
        raise TypeError(f"Input 'bytes' of 'DecodeRaw' Op has type {ins[0].dtype.name} that does not match "
                        "expected type of string.")
    if attrs["out_type"] not in _RAW_TYPES:
        raise TypeError(f"Value for attr 'out_type' of {attrs['out_type'].name} is not in the list of allowed "
                        f"values: {', '.join(t.name for t in _RAW_TYPES)}")
    d = dims(ins[0])
    return attrs["out_type"], None if d is None else d + (None,)


@op("DecodeRaw", inputs=("bytes",), attrs={"out_type": REQUIRED, "little_endian": True}, shape=_decode_raw_shape,
    **_HOST)
def decode_raw_kernel(xp, data, *, out_type, little_endian):
    arr = np.asarray(data, dtype=object)
    flat = arr.reshape(-1)
    dt = np.dtype(out_type.as_numpy_dtype).newbyteorder("<" if little_endian else ">")
    size = dt.itemsize
    n = len(flat[0]) if len(flat) else 0
    for i, b in enumerate(flat):
        if len(b) != n:
            raise errors.InvalidArgumentError(
                None, None, f"DecodeRaw requires input strings to all be the same size, but element {i} has size "
                f"{len(b)} != {n}")
    if n % size:
        raise errors.InvalidArgumentError(
            None, None, f"Input to DecodeRaw has length {n} that is not a multiple of {size}, the size of "
            f"{out_type.name}")
    out = np.frombuffer(b"".join(bytes(b) for b in flat), dtype=dt).reshape(arr.shape + (n // size,))
    # Native byte order and a writable copy: later kernels may update it in place.
    return out.astype(out_type.as_numpy_dtype, copy=True)


def decode_raw(bytes: Any, out_type: Any, little_endian: bool = True, name: str | None = None) -> Tensor:
    """Reinterprets the bytes of each string as a vector of numbers (TF 1.x `tf.decode_raw`).

    Args:
        bytes: a string tensor; every element must have the same length.
        out_type: the element dtype (e.g. tf.uint8 for image bytes written with `ndarray.tostring()`).
        little_endian: the byte order of the input (TF's default: little-endian).
        name: a name for the op.

    Returns:
        A tensor of shape `bytes.shape + [len(element) / sizeof(out_type)]`.
    """
    t = convert_to_tensor(bytes, dtype=_dt.string, name="bytes")
    return make_op("DecodeRaw", [t], attrs={"out_type": _dt.as_dtype(out_type).base_dtype,
                                            "little_endian": bool(little_endian)},
                   name=name or "DecodeRaw").outputs[0]


# -- decode_csv ----------------------------------------------------------------------------------------------
_CSV_TYPES = (_dt.float32, _dt.float64, _dt.int32, _dt.int64, _dt.string)


def _decode_csv_shape(ins, attrs):
    if len(ins) - 1 != len(attrs["OUT_TYPE"]):
        raise ValueError(f"DecodeCSV has {len(ins) - 1} record_defaults for {len(attrs['OUT_TYPE'])} OUT_TYPE")
    for i, (t, want) in enumerate(zip(ins[1:], attrs["OUT_TYPE"])):
        if want not in _CSV_TYPES:
            raise TypeError(f"record_defaults[{i}] has dtype {want.name}: DecodeCSV supports "
                            f"{', '.join(d.name for d in _CSV_TYPES)}")
        d = dims(t)
        if d is not None and (len(d) > 1 or (len(d) == 1 and d[0] is not None and d[0] > 1)):
            raise ValueError(f"Shape of record_defaults[{i}] must be [] or [0] or [1] (one default or none), "
                             f"got {list(d)}")
    if len(attrs["field_delim"]) != 1:
        raise ValueError(f"field_delim should be only 1 char, got {attrs['field_delim']!r}")
    return [(t, dims(ins[0])) for t in attrs["OUT_TYPE"]]


def _split_csv(line: str, delim: str, quoted: bool) -> list[str]:
    import csv
    if quoted:
        rows = list(csv.reader([line], delimiter=delim, quotechar='"', strict=True))
    else:
        rows = list(csv.reader([line], delimiter=delim, quoting=csv.QUOTE_NONE))
    return rows[0] if rows else [""]


@op("DecodeCSV", inputs=("records", "*record_defaults"),
    attrs={"OUT_TYPE": REQUIRED, "field_delim": ",", "use_quote_delim": True, "na_value": ""},
    shape=_decode_csv_shape, outputs=lambda attrs, n: len(attrs["OUT_TYPE"]), **_HOST)
def decode_csv_kernel(xp, records, *record_defaults, OUT_TYPE, field_delim, use_quote_delim, na_value):
    arr = np.asarray(records, dtype=object)
    flat = arr.reshape(-1)
    defaults = [np.asarray(d, dtype=object if t == _dt.string else t.as_numpy_dtype).reshape(-1)
                for d, t in zip(record_defaults, OUT_TYPE)]
    outs = [np.empty(len(flat), dtype=t.as_numpy_dtype) for t in OUT_TYPE]
    for r, rec in enumerate(flat):
        text = rec.decode("utf-8") if isinstance(rec, bytes) else str(rec)
        try:
            fields = _split_csv(text, field_delim, use_quote_delim)
        except Exception as e:  # noqa: BLE001 - csv.Error: an unbalanced quote
            raise errors.InvalidArgumentError(None, None, f"Quoted field has to end with quote followed by delim or "
                                              f"end in record {r}: {text!r} ({e})") from None
        if len(fields) != len(OUT_TYPE):
            raise errors.InvalidArgumentError(None, None, f"Expect {len(OUT_TYPE)} fields but have {len(fields)} "
                                              f"in record {r}")
        for c, (field, t) in enumerate(zip(fields, OUT_TYPE)):
            if field == "" or (na_value and field == na_value):
                if defaults[c].size == 0:
                    raise errors.InvalidArgumentError(None, None, f"Field {c} is required but missing in record "
                                                      f"{r}!")
                outs[c][r] = defaults[c][0]
            elif t == _dt.string:
                outs[c][r] = field.encode("utf-8")
            else:
                try:
                    outs[c][r] = int(field) if t.is_integer else float(field)
                except (ValueError, OverflowError):
                    raise errors.InvalidArgumentError(None, None, f"Field {c} in record {r} is not a valid "
                                                      f"{t.name}: {field}") from None
    res = [o.reshape(arr.shape) for o in outs]
    return res[0] if len(res) == 1 else tuple(res)


def decode_csv(records: Any, record_defaults: list, field_delim: str = ",", use_quote_delim: bool = True,
               name: str | None = None, na_value: str = "") -> list[Tensor]:
    """Converts CSV records to tensors, one per column (TF 1.x `tf.decode_csv`).

    Args:
        records: a string tensor; each element is one CSV line.
        record_defaults: one entry per column: a one-element list/tensor giving the column's dtype and its
            default for empty fields, or an empty one (e.g. `tf.constant([], tf.int32)`) when the field
            is required.
        field_delim: the one-character field separator.
        use_quote_delim: fields may be double-quoted ("" inside escapes a quote).
        name: a name for the op.
        na_value: a field equal to this is treated as missing.

    Returns:
        A list of tensors, each with the shape of `records`.
    """
    with name_scope(name, "DecodeCSV") as scope:
        r = convert_to_tensor(records, dtype=_dt.string, name="records")
        defs = []
        for i, d in enumerate(record_defaults):
            if isinstance(d, Tensor):
                defs.append(d)
            elif isinstance(d, (list, tuple)) and len(d) == 0:
                raise ValueError(f"record_defaults[{i}] is an empty list: give a typed empty tensor, e.g. "
                                 "tf.constant([], tf.int32), to mark a required column")
            else:
                defs.append(convert_to_tensor(d, name=f"record_defaults_{i}"))
        types = [t.dtype.base_dtype for t in defs]
        o = make_op("DecodeCSV", [r, *defs], attrs={"OUT_TYPE": types, "field_delim": field_delim,
                                                    "use_quote_delim": bool(use_quote_delim),
                                                    "na_value": na_value}, name=scope)
    return list(o.outputs)


from labflow.ops.parsing_sequence_ops import (  # noqa: E402 - it reuses this module's decoders
    FixedLenSequenceFeature,
    parse_sequence_example,
    parse_single_sequence_example,
)
