"""File and serialization ops of `tf.io`: WriteFile, MatchingFiles, SerializeTensor/ParseTensor, DecodeCompressed.

All are host ops on `tf.string` values (object arrays of bytes) and none is differentiable, as in TF.
The file ops are stateful so they run when the step runs, never while the graph is folded.
"""

from __future__ import annotations

import glob
import gzip
import zlib
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.registry import REQUIRED, op
from labflow.framework.tensor import Operation, Tensor
from labflow.ops.common import base, convert_to_tensor, dims, make_op, no_outputs

__all__ = ["write_file", "matching_files", "serialize_tensor", "parse_tensor", "decode_compressed"]

_HOST = dict(host_op=True, not_differentiable=True)


def _text(v: Any) -> str:
    x = np.asarray(v, dtype=object).item() if np.ndim(v) == 0 else v
    return x.decode("utf-8") if isinstance(x, bytes) else str(x)


def _require_string(op_type: str, arg: str, t: Any) -> None:
    if t.dtype.base_dtype != _dt.string:
        raise TypeError(f"Input '{arg}' of '{op_type}' Op has type {t.dtype.base_dtype.name} that does not match "
                        "expected type of string.")


def _require_scalar(op_type: str, arg: str, t: Any) -> None:
    d = dims(t)
    if d is not None and len(d) != 0:
        raise ValueError(f"Shape must be rank 0 but is rank {len(d)} for '{op_type}' (input '{arg}' must be a "
                         "scalar)")


# -- WriteFile ----------------------------------------------------------------------------------------------
def _write_file_shape(ins, attrs):
    _require_string("WriteFile", "filename", ins[0])
    _require_string("WriteFile", "contents", ins[1])
    _require_scalar("WriteFile", "filename", ins[0])
    _require_scalar("WriteFile", "contents", ins[1])
    return no_outputs(ins, attrs)


@op("WriteFile", inputs=("filename", "contents"), shape=_write_file_shape, outputs=0, stateful=True, **_HOST)
def write_file_kernel(xp, filename, contents):
    from labflow.fileio import atomic_write
    path = _text(filename)
    data = np.asarray(contents, dtype=object).item()
    try:
        # as TF: the missing parent directories are created; a reader never sees half a file
        atomic_write(path, data if isinstance(data, bytes) else str(data).encode("utf-8"))
    except OSError as e:
        from labflow.gfile import _os_error
        kind = type(_os_error(e, path))  # TF's class for the cause: NotFound, PermissionDenied, ...
        raise kind(None, None, f"WriteFile could not write {path}: {e.strerror or e}") from None


def write_file(filename: Any, contents: Any, name: str | None = None) -> Operation:
    """An op writing the string scalar `contents` to the file `filename` (TF 1.x `tf.write_file`).

    The file is replaced atomically; missing parent directories are created.
    """
    f = convert_to_tensor(filename, dtype=_dt.string, name="filename")
    c = convert_to_tensor(contents, dtype=_dt.string, name="contents")
    return make_op("WriteFile", [f, c], name=name or "WriteFile")


# -- MatchingFiles ------------------------------------------------------------------------------------------
def _matching_files_shape(ins, attrs):
    _require_string("MatchingFiles", "pattern", ins[0])
    d = dims(ins[0])
    if d is not None and len(d) > 1:
        raise ValueError(f"Shape must be at most rank 1 but is rank {len(d)} for 'MatchingFiles' (input 'pattern')")
    return _dt.string, (None,)


@op("MatchingFiles", inputs=("pattern",), shape=_matching_files_shape, stateful=True, **_HOST)
def matching_files_kernel(xp, pattern):
    out: list[str] = []
    for p in np.asarray(pattern, dtype=object).reshape(-1):
        out.extend(sorted(glob.glob(_text(p))))
    return np.array([s.encode("utf-8") for s in out], dtype=object).reshape(len(out))


def matching_files(pattern: Any, name: str | None = None) -> Tensor:
    """The sorted file names matching a glob pattern (or a vector of patterns), as a string vector.

    No match gives an empty vector, as TF (`tf.train.match_filenames_once` stores such a result once).
    """
    p = convert_to_tensor(pattern, dtype=_dt.string, name="pattern")
    return make_op("MatchingFiles", [p], name=name or "MatchingFiles").outputs[0]


# -- SerializeTensor / ParseTensor --------------------------------------------------------------------------
def _serialize_shape(ins, attrs):
    return _dt.string, ()


@op("SerializeTensor", inputs=("tensor",), attrs={"T": None}, shape=_serialize_shape, **_HOST)
def serialize_tensor_kernel(xp, tensor, *, T):  # noqa: N803 - TF's attr name
    from labflow.framework.proto_convert import make_tensor_proto
    a = np.asarray(tensor)
    dt = T if T is not None else _dt.as_dtype(a.dtype)
    return np.array(make_tensor_proto(a, dtype=dt).SerializeToString(), dtype=object)


def serialize_tensor(tensor: Any, name: str | None = None) -> Tensor:
    """A string scalar holding `tensor` as a serialized TensorProto (TF 1.x `tf.serialize_tensor`)."""
    t = convert_to_tensor(tensor, name="tensor")
    return make_op("SerializeTensor", [t], attrs={"T": base(t)}, name=name or "SerializeTensor").outputs[0]


def _parse_tensor_shape(ins, attrs):
    _require_string("ParseTensor", "serialized", ins[0])
    _require_scalar("ParseTensor", "serialized", ins[0])
    return attrs["out_type"], None


@op("ParseTensor", inputs=("serialized",), attrs={"out_type": REQUIRED}, shape=_parse_tensor_shape, **_HOST)
def parse_tensor_kernel(xp, serialized, *, out_type):
    from google.protobuf.message import DecodeError

    from labflow.framework.proto_convert import make_ndarray
    from labflow.framework.protos import tensor_pb2
    proto = tensor_pb2.TensorProto()
    try:
        proto.ParseFromString(np.asarray(serialized, dtype=object).item())
        got = _dt.as_dtype(proto.dtype)
        value = make_ndarray(proto)
    except (DecodeError, TypeError, ValueError) as e:
        raise errors.InvalidArgumentError(None, None, f"Could not parse `serialized` as TensorProto: {e}") from None
    if got.base_dtype != out_type:
        raise errors.InvalidArgumentError(None, None, f"Type mismatch between parsed tensor ({got.name}) and dtype "
                                          f"({out_type.name})")
    return np.asarray(value, dtype=object) if out_type == _dt.string else value


def parse_tensor(serialized: Any, out_type: Any, name: str | None = None) -> Tensor:
    """The tensor of dtype `out_type` held by a serialized TensorProto (the inverse of `serialize_tensor`).

    Raises (at run time):
        InvalidArgumentError: the bytes are not a TensorProto, or hold another dtype.
    """
    s = convert_to_tensor(serialized, dtype=_dt.string, name="serialized")
    dt = _dt.as_dtype(out_type).base_dtype
    return make_op("ParseTensor", [s], attrs={"out_type": dt}, name=name or "ParseTensor").outputs[0]


# -- DecodeCompressed ---------------------------------------------------------------------------------------
_COMPRESSION = ("", "ZLIB", "GZIP")


def _decode_compressed_shape(ins, attrs):
    _require_string("DecodeCompressed", "bytes", ins[0])
    if attrs["compression_type"] not in _COMPRESSION:
        raise ValueError(f"DecodeCompressed: compression_type must be one of '', 'ZLIB', 'GZIP', got "
                         f"{attrs['compression_type']!r}")
    return _dt.string, dims(ins[0])


def _decompress(b: bytes, kind: str) -> bytes:
    try:
        if kind == "ZLIB":
            return zlib.decompress(b)
        if kind == "GZIP":
            return gzip.decompress(b)
    except (zlib.error, OSError, EOFError) as e:
        raise errors.DataLossError(None, None, f"DecodeCompressed: the input is not valid {kind} data ({e})") \
            from None
    return b


@op("DecodeCompressed", inputs=("bytes",), attrs={"compression_type": ""}, shape=_decode_compressed_shape,
    **_HOST)
def decode_compressed_kernel(xp, data, *, compression_type):
    arr = np.asarray(data, dtype=object)
    out = np.empty(arr.shape, dtype=object)
    for idx, b in np.ndenumerate(arr):
        out[idx] = _decompress(bytes(b), compression_type)
    return out


def decode_compressed(bytes: Any, compression_type: str = "", name: str | None = None) -> Tensor:  # noqa: A002
    """Decompresses each string of `bytes` ('ZLIB' or 'GZIP'; '' passes them through), same shape.

    Raises (at run time):
        DataLossError: a string is not valid data of that compression type.
    """
    t = convert_to_tensor(bytes, dtype=_dt.string, name="bytes")
    ctype = (compression_type or "").upper()
    return make_op("DecodeCompressed", [t], attrs={"compression_type": ctype},
                   name=name or "DecodeCompressed").outputs[0]

