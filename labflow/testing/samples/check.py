"""Sweep samples for CheckNumerics and the tf.io ops (WriteFile, MatchingFiles, SerializeTensor, ParseTensor,
DecodeCompressed).

References are NumPy / the protobuf runtime / zlib; failing checks and bad inputs are in tests/ops/test_check_ops.py
and tests/ops/test_io_extra_ops.py.
"""

from __future__ import annotations

import gzip
import os
import tempfile
import zlib

import numpy as np

import labflow as tf
from labflow import dtypes as _dt
from labflow.framework.protos import tensor_pb2
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(5)


def _strings(*vals: bytes, shape: tuple | None = None) -> np.ndarray:
    out = np.empty(len(vals), dtype=object)
    out[:] = list(vals)
    return out.reshape(shape if shape is not None else (len(vals),))


def _scalar(v: bytes) -> np.ndarray:
    return np.array(v, dtype=object)


# -- CheckNumerics ------------------------------------------------------------------------------------------
@samples("CheckNumerics")
def _check_numerics():
    return [
        Case(lambda x: tf.check_numerics(x, "sample"), [R.randn(3, 4)], lambda x: x,
             dtypes=(_dt.float16, _dt.float32, _dt.float64), name="finite"),
        Case(lambda x: tf.check_numerics(x * x, "squared"), [R.randn(5)], lambda x: x * x, name="of_product"),
        Case(lambda x: tf.verify_tensor_all_finite(x, "verify"), [R.randn(2, 2, 2)], lambda x: x, name="verify"),
    ]


# -- WriteFile ----------------------------------------------------------------------------------------------
@samples("WriteFile")
def _write_file():
    path = os.path.join(tempfile.mkdtemp(dir=tf.test.get_temp_dir()), "sub", "out.bin")  # removed at exit

    def build(contents):
        w = tf.write_file(path, contents)
        with tf.control_dependencies([w]):
            return tf.read_file(path)
    return [Case(build, [_scalar(b"\x00bytes\nand text\xff")], lambda c: c, grad=False, name="roundtrip")]


# -- MatchingFiles ------------------------------------------------------------------------------------------
def _tree() -> str:
    d = tempfile.mkdtemp(dir=tf.test.get_temp_dir())  # removed at exit
    for name in ("b.txt", "a.txt", "c.csv", "a.txt.bak"):
        with open(os.path.join(d, name), "wb") as f:
            f.write(b"x")
    return d


@samples("MatchingFiles")
def _matching_files():
    d = _tree()
    txt = os.path.join(d, "*.txt").encode()
    csv = os.path.join(d, "?.csv").encode()
    none = os.path.join(d, "*.nothing").encode()

    def ref(patterns):
        names = []
        for p in np.asarray(patterns, dtype=object).reshape(-1):
            names += sorted(os.path.join(d, n) for n in os.listdir(d) if _glob_match(n, p.decode()))
        return _strings(*[n.encode() for n in names])
    return [
        Case(tf.matching_files, [_scalar(txt)], ref, grad=False, name="scalar_pattern"),
        Case(tf.matching_files, [_strings(txt, csv)], ref, grad=False, name="vector_of_patterns"),
        Case(tf.matching_files, [_scalar(none)], ref, grad=False, name="no_match"),
    ]


def _glob_match(name: str, pattern: str) -> bool:
    import fnmatch
    return fnmatch.fnmatchcase(name, os.path.basename(pattern))


# -- SerializeTensor / ParseTensor --------------------------------------------------------------------------
def _proto_bytes(x: np.ndarray) -> np.ndarray:
    """The TensorProto wire bytes built by hand: dtype enum, shape dims and little-endian tensor_content."""
    p = tensor_pb2.TensorProto(dtype=_dt.as_dtype(x.dtype).as_datatype_enum)
    for n in x.shape:
        p.tensor_shape.dim.add(size=n)
    p.tensor_content = x.astype(x.dtype.newbyteorder("<")).tobytes()
    return _scalar(p.SerializeToString())


@samples("SerializeTensor")
def _serialize_tensor():
    return [
        Case(tf.serialize_tensor, [np.array([1, 2], np.int32)], _proto_bytes, grad=False, name="int32"),
        Case(tf.serialize_tensor, [R.randn(2, 3)], _proto_bytes, grad=False, name="float"),
    ]


@samples("ParseTensor")
def _parse_tensor():
    return [
        Case(lambda x: tf.parse_tensor(tf.serialize_tensor(x), x.dtype), [R.randn(3, 1, 2)], lambda x: x, grad=False,
             dtypes=(_dt.float16, _dt.float32, _dt.float64), name="roundtrip"),
        Case(lambda s: tf.parse_tensor(s, tf.int64), [_proto_bytes(np.arange(6, dtype=np.int64).reshape(2, 3))],
             lambda s: np.arange(6, dtype=np.int64).reshape(2, 3), grad=False, name="from_bytes"),
        Case(lambda x: tf.parse_tensor(tf.serialize_tensor(x), tf.string), [_strings(b"a", b"", b"\xffz")],
             lambda x: x, grad=False, name="strings"),
    ]


# -- DecodeCompressed ---------------------------------------------------------------------------------------
_TEXTS = (b"hello hello hello", b"", bytes(range(256)) * 3)


@samples("DecodeCompressed")
def _decode_compressed():
    plain = _strings(*_TEXTS)
    return [
        Case(lambda s: tf.decode_compressed(s, "ZLIB"), [_strings(*[zlib.compress(t) for t in _TEXTS])],
             lambda s: plain, grad=False, name="zlib"),
        Case(lambda s: tf.decode_compressed(s, "GZIP"),
             [_strings(*[gzip.compress(t) for t in _TEXTS[:2]], shape=(1, 2))],
             lambda s: plain[:2].reshape(1, 2), grad=False, name="gzip_2d"),
        Case(tf.decode_compressed, [plain], lambda s: s, grad=False, name="none"),
    ]
