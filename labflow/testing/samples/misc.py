"""Sweep samples for the small TF 1.x top-level ops: GuaranteeConst, Bitcast, Fingerprint, StringFormat,
PrintV2, Timestamp and EagerPyFunc (tf.py_function). Fingerprint's reference values are FarmHash
Fingerprint64 computed by labflow.ops.string_hashing (itself checked against FarmHash's published
values in the string tests)."""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow.ops import misc_ops, print_ops
from labflow.ops.string_hashing import fingerprint64
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(3)


@samples("GuaranteeConst")
def _guarantee_const():
    return [Case(misc_ops.guarantee_const, [R.randn(2, 3)], lambda x: x, grad=False),
            Case(misc_ops.guarantee_const, [np.arange(4, dtype=np.int64)], lambda x: x, grad=False, name="int64")]


@samples("Bitcast")
def _bitcast():
    f = np.array([[1.0, -2.5], [0.0, 3.25]], np.float32)
    return [Case(lambda x: misc_ops.bitcast(x, tf.uint8), [f], lambda x: x.view(np.uint8).reshape(2, 2, 4),
                 dtypes=(tf.float32,), grad=False, name="f32_to_u8"),
            Case(lambda x: misc_ops.bitcast(x, tf.float64), [np.arange(24, dtype=np.uint8).reshape(3, 8)],
                 lambda x: x.view(np.float64).reshape(3), grad=False, name="u8_to_f64"),
            Case(lambda x: misc_ops.bitcast(x, tf.int32), [f], lambda x: x.view(np.int32), dtypes=(tf.float32,),
                 grad=False, name="same_size"),
            Case(lambda x: misc_ops.bitcast(x, tf.float16), [np.array([1, 2, 65535], np.uint16)],
                 lambda x: x.view(np.float16), grad=False, name="u16_to_f16")]


def _fp(b: bytes) -> np.ndarray:
    return np.frombuffer(fingerprint64(b).to_bytes(8, "little"), np.uint8)


@samples("Fingerprint")
def _fingerprint():
    def ref_numeric(x):
        return np.stack([_fp(np.ascontiguousarray(r).tobytes()) for r in x.reshape(x.shape[0], -1)])

    def ref_strings(s):
        rows = s.reshape(s.shape[0], -1)
        if rows.shape[1] == 1:
            return np.stack([_fp(bytes(r[0])) for r in rows])
        return np.stack([_fp(b"".join(_fp(bytes(v)).tobytes() for v in r)) for r in rows])
    words = np.array([[b"abc", b"de"], [b"x", b""]], dtype=object)
    return [Case(misc_ops.fingerprint, [np.array([[1, 2], [3, 4]], np.int32)], ref_numeric, grad=False,
                 name="int32_rows"),
            Case(misc_ops.fingerprint, [R.randn(3, 2, 2)], ref_numeric, grad=False, name="float_rank3"),
            Case(misc_ops.fingerprint, [words[:, 0].copy()], ref_strings, grad=False, name="one_string_per_row"),
            Case(misc_ops.fingerprint, [words], ref_strings, grad=False, name="strings_per_row")]


@samples("StringFormat")
def _string_format():
    return [Case(lambda x, y: print_ops.string_format("x={} y={}!", [x, y], summarize=2),
                 [np.arange(7, dtype=np.int32), np.array([[True, False]])],
                 lambda x, y: np.array(b"x=[0 1 ... 5 6] y=[[1 0]]!", dtype=object), grad=False),
            Case(lambda x: print_ops.string_format("{}", x), [np.array([0.1, 123456789.0, 1e-7], np.float32)],
                 lambda x: np.array(b"[0.1 123456792 1e-07]", dtype=object), dtypes=(tf.float32,), grad=False,
                 name="float32_digits")]


@samples("PrintV2")
def _print_v2():
    def build(x):
        p = misc_ops.print("x:", x, output_stream="stderr", summarize=1)
        with tf.control_dependencies([p]):
            return tf.identity(x)
    return [Case(build, [np.arange(4, dtype=np.int32)], lambda x: x, grad=False)]


@samples("Timestamp")
def _timestamp():
    def build(z):
        t = misc_ops.timestamp()
        return [tf.greater(t, 1.5e9), z]
    return [Case(build, [np.zeros(2)], lambda z: [np.array(True), z], grad=False)]


@samples("EagerPyFunc")
def _eager_py_func():
    def two(x, y):
        return misc_ops.py_function(lambda a, b: [a.numpy() * b, np.int64(a.shape[0])], [x, y], [x.dtype, tf.int64])
    return [Case(lambda x: misc_ops.py_function(lambda a: np.sinh(a), [x], x.dtype), [R.randn(2, 3)], np.sinh,
                 grad=False),
            Case(two, [R.randn(3), R.randn(3)], lambda a, b: [a * b, np.int64(3)], grad=False, name="two_outputs")]
