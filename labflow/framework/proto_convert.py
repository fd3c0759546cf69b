"""Python/NumPy values <-> protos: `TensorProto` (TF's make_tensor_proto / make_ndarray), `AttrValue`.

Writers follow TensorFlow's encoding (raw little-endian `tensor_content` for numeric tensors, `string_val`
for strings); readers accept everything TF writers produce (`half_val`, `float_val`, `int_val`, ... with
TF's rule that a short value list fills the shape with its last value).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.protos import attr_value_pb2, tensor_pb2, tensor_shape_pb2
from labflow.framework.shapes import TensorShape

__all__ = ["make_tensor_proto", "make_ndarray", "attr_value_from_python", "attr_value_to_python",
           "shape_proto"]


# -- tensors --------------------------------------------------------------------------------------------
def shape_proto(dims: tuple | None) -> tensor_shape_pb2.TensorShapeProto:
    p = tensor_shape_pb2.TensorShapeProto()
    if dims is None:
        p.unknown_rank = True
    else:
        for d in dims:
            p.dim.add(size=-1 if d is None else int(d))
    return p


def _to_bytes(x: Any) -> bytes:
    if isinstance(x, (bytes, np.bytes_)):
        return bytes(x)
    if isinstance(x, (str, np.str_)):
        return str(x).encode("utf-8")
    raise TypeError(f"A string tensor may only hold bytes or str elements, got {type(x).__name__}: {x!r}")


def make_tensor_proto(values: Any, dtype: Any = None, shape: Any = None) -> tensor_pb2.TensorProto:
    """TF's `tf.make_tensor_proto`: a NumPy-convertible value as a `TensorProto`.

    Numeric values (bfloat16 and float16 included) go into `tensor_content` as little-endian raw bytes;
    strings into `string_val`.

    Args:
        values: an array-like; strings may be `str` (encoded as UTF-8) or `bytes`.
        dtype: the tensor's dtype (default: from the value, with TF's constant rules).
        shape: reshape to this shape (same number of elements, or a single value broadcast to it).

    Raises:
        TypeError / ValueError: for values that no tensor dtype can hold, or a shape that does not fit.
    """
    dt = None if dtype is None else _dt.as_dtype(dtype).base_dtype
    if isinstance(values, np.ndarray) and (dt is None or dt.np == values.dtype or dt is _dt.string):
        arr = values
    else:
        from labflow.framework.convert import _np_value
        arr = _np_value(values, dt)
    if dt is None:
        dt = _dt.string if arr.dtype.kind in "SUO" else _dt.as_dtype(arr.dtype)
    if shape is not None:
        shp = tuple(TensorShape(shape).as_list())
        if arr.shape != shp:
            n = int(np.prod(shp, dtype=np.int64))
            if arr.size == 1:
                arr = np.full(shp, arr.reshape(()), dtype=arr.dtype)
            elif arr.size == n:
                arr = arr.reshape(shp)
            else:
                raise ValueError(f"Too many or too few elements for a tensor of shape {list(shp)}: "
                                 f"{n} needed, {arr.size} given.")
    tp = tensor_pb2.TensorProto(dtype=dt.as_datatype_enum)
    tp.tensor_shape.CopyFrom(shape_proto(arr.shape))
    if dt is _dt.string:
        tp.string_val.extend(_to_bytes(x) for x in arr.reshape(-1).tolist())
        return tp
    a = np.ascontiguousarray(arr, dtype=dt.np)
    if sys.byteorder != "little":  # tensor_content is little-endian on the wire
        a = a.byteswap()
    tp.tensor_content = a.tobytes()
    return tp


# dtype -> (repeated field of TensorProto, how the field's values become array elements)
_VAL_FIELDS: dict[Any, tuple[str, ...]] = {
    _dt.float32: ("float_val",), _dt.float64: ("double_val",),
    _dt.float16: ("half_val", "float_val"), _dt.bfloat16: ("half_val", "float_val"),
    _dt.int8: ("int_val",), _dt.int16: ("int_val",), _dt.int32: ("int_val",), _dt.uint8: ("int_val",),
    _dt.uint16: ("int_val",), _dt.int64: ("int64_val",), _dt.bool: ("bool_val",),
    _dt.complex64: ("scomplex_val",), _dt.complex128: ("dcomplex_val",), _dt.string: ("string_val",),
}


def _field_values(tp: tensor_pb2.TensorProto, dt: _dt.DType) -> np.ndarray:
    for field in _VAL_FIELDS[dt]:
        vals = getattr(tp, field)
        if not len(vals):
            continue
        if field == "half_val":  # the 16-bit patterns, one per int32
            return np.asarray(vals, dtype=np.int32).astype(np.uint16).view(dt.np)
        if field in ("scomplex_val", "dcomplex_val"):
            if len(vals) % 2:
                raise ValueError(f"A {dt.name} TensorProto needs an even number of {field} entries (real, "
                                 f"imaginary pairs), got {len(vals)}.")
            ri = np.asarray(vals, dtype=np.float64).reshape(-1, 2)
            return (ri[:, 0] + 1j * ri[:, 1]).astype(dt.np)
        if dt is _dt.string:
            out = np.empty(len(vals), dtype=object)
            out[:] = list(vals)
            return out
        return np.asarray(vals).astype(dt.np)
    return np.empty(0, dtype=object if dt is _dt.string else dt.np)


def make_ndarray(tensor: Any) -> np.ndarray:
    """TF's `tf.make_ndarray`: a `TensorProto` (labflow's or TF's) as a NumPy array.

    Reads `tensor_content` or the typed repeated fields (`half_val` for float16/bfloat16, `float_val`,
    `int_val`, ...). Fewer values than elements follow TF's rule: none means zeros, otherwise the
    last value repeats (a single value is broadcast to the shape). Strings come back as `bytes`.

    Raises:
        ValueError: for an unsupported dtype, an unknown dimension or a content size that does not fit.
    """
    if not isinstance(tensor, tensor_pb2.TensorProto):
        tensor = tensor_pb2.TensorProto.FromString(tensor.SerializeToString())
    try:
        dt = _dt.as_dtype(int(tensor.dtype)).base_dtype
    except TypeError:
        raise ValueError(f"Cannot convert a TensorProto of DataType enum {tensor.dtype} to a NumPy array: "
                         "labflow has no such dtype.") from None
    if tensor.tensor_shape.unknown_rank or any(d.size < 0 for d in tensor.tensor_shape.dim):
        raise ValueError("A TensorProto must have a fully known shape, got "
                         f"{TensorShape(tensor.tensor_shape)}.")
    shape = tuple(int(d.size) for d in tensor.tensor_shape.dim)
    n = int(np.prod(shape, dtype=np.int64))
    if tensor.tensor_content:
        if dt is _dt.string:
            raise ValueError("A string TensorProto must use string_val, not tensor_content.")
        content = tensor.tensor_content
        if len(content) != n * dt.size:
            raise ValueError(f"TensorProto tensor_content holds {len(content)} bytes; a {dt.name} tensor of "
                             f"shape {list(shape)} needs {n * dt.size}.")
        a = np.frombuffer(content, dtype=dt.np)
        if sys.byteorder != "little":
            a = a.byteswap()
        return a.reshape(shape).copy()
    vals = _field_values(tensor, dt)
    if vals.size == n:
        return vals.reshape(shape)
    if vals.size > n:
        raise ValueError(f"TensorProto holds {vals.size} values, more than the {n} elements of shape "
                         f"{list(shape)}.")
    if vals.size == 0:
        return np.full(shape, b"", dtype=object) if dt is _dt.string else np.zeros(shape, dtype=dt.np)
    out = np.empty(n, dtype=vals.dtype)
    out[:vals.size] = vals
    out[vals.size:] = vals[-1]
    return out.reshape(shape)


# -- attrs ----------------------------------------------------------------------------------------------
def _kind(v: Any) -> str | None:
    if isinstance(v, (bool, np.bool_)):
        return "b"
    if isinstance(v, (int, np.integer)):
        return "i"
    if isinstance(v, (float, np.floating)):
        return "f"
    if isinstance(v, (str, bytes)):
        return "s"
    if isinstance(v, _dt.DType):
        return "type"
    if isinstance(v, TensorShape):
        return "shape"
    if isinstance(v, np.ndarray):
        return "tensor"
    return None


def _set_scalar(kind: str, v: Any) -> Any:
    if kind == "s":
        return v.encode("utf-8") if isinstance(v, str) else bytes(v)
    if kind == "type":
        return v.as_datatype_enum
    return {"b": bool, "i": int, "f": float}[kind](v)


def attr_value_from_python(v: Any) -> attr_value_pb2.AttrValue:
    """A labflow attr value (int, float, bool, str, DType, TensorShape, ndarray or a list) as an AttrValue.

    Raises:
        TypeError: for a value no AttrValue field can hold (a dict, None inside a list, a nested list, ...).
    """
    av = attr_value_pb2.AttrValue()
    kind = _kind(v)
    if kind == "shape":
        av.shape.CopyFrom(shape_proto(v.as_tuple()))
    elif kind == "tensor":
        av.tensor.CopyFrom(make_tensor_proto(v))
    elif kind is not None:
        setattr(av, kind, _set_scalar(kind, v))
    elif isinstance(v, (list, tuple)):
        kinds = {_kind(x) for x in v}
        if kinds == {"i", "f"}:
            kinds = {"f"}
        if None in kinds or len(kinds) > 1:
            raise TypeError(f"A list attr must hold elements of one kind (ints, floats, bools, strings, "
                            f"dtypes, shapes or arrays), got {v!r}")
        av.list.SetInParent()  # an empty list is still a list
        if kinds:
            (k,) = kinds
            field = getattr(av.list, k)
            if k == "shape":
                field.extend(shape_proto(TensorShape(x).as_tuple()) for x in v)
            elif k == "tensor":
                field.extend(make_tensor_proto(x) for x in v)
            else:
                field.extend(_set_scalar(k, x) for x in v)
    else:
        raise TypeError(f"Cannot store a {type(v).__name__} ({v!r}) in a GraphDef attr: attrs are ints, "
                        "floats, bools, strings, dtypes, shapes, arrays or lists of those.")
    return av


def _f32(f: float) -> float:
    # The shortest decimal that round-trips through float32 gives back the Python float the op was built
    # with (0.2, not 0.20000000298023224).
    return float(str(np.float32(f)))


def decode_str(b: bytes) -> Any:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b


def _py_scalar(kind: str, v: Any) -> Any:
    if kind == "s":
        return decode_str(v)
    if kind == "f":
        return _f32(v)
    if kind == "type":
        try:
            return _dt.as_dtype(int(v))
        except TypeError:
            raise ValueError(f"DataType enum {int(v)} has no labflow dtype.") from None
    if kind == "shape":
        return TensorShape(v)
    if kind == "tensor":
        a = make_ndarray(v)
        a.setflags(write=False)
        return a
    return bool(v) if kind == "b" else int(v)


def attr_value_to_python(av: Any) -> Any:
    """An AttrValue as the Python value a labflow op keeps (strings decode to str when they are UTF-8).

    Raises:
        ValueError: for function and placeholder attrs, which labflow graphs do not have.
    """
    which = av.WhichOneof("value")
    if which is None:
        return None
    if which == "list":
        fields = [(f.name, vals) for f, vals in av.list.ListFields()]
        if not fields:
            return []
        if len(fields) > 1:
            raise ValueError(f"A list attr holds more than one kind of value: {[f for f, _ in fields]}")
        (kind, vals), = fields
        if kind == "func":
            raise ValueError("Function-valued attrs (list(func)) are not supported by labflow.")
        return [_py_scalar(kind, x) for x in vals]
    if which in ("func", "placeholder"):
        raise ValueError(f"AttrValue '{which}' attrs (function libraries) are not supported by labflow.")
    return _py_scalar(which, getattr(av, which))
