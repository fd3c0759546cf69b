"""Sweep samples for the parsing ops: ParseExample, ParseSingleExample, DecodeRaw.

Inputs are serialized `tf.train.Example` protos (string tensors); the reference decodes them with the
protobuf runtime directly. Errors, defaults and the TFRecord pipeline are in tests/ops/test_parsing.py.
"""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow.testing.op_sweep import Case, samples


def _example(x: list, label: int, name: bytes) -> bytes:
    return tf.train.Example(features=tf.train.Features(feature={
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=x)),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
        "name": tf.train.Feature(bytes_list=tf.train.BytesList(value=[name])),
    })).SerializeToString()


FEATURES = {"x": tf.FixedLenFeature([2], tf.float32), "label": tf.FixedLenFeature([], tf.int64),
            "name": tf.FixedLenFeature([], tf.string),
            "missing": tf.FixedLenFeature([2], tf.int64, default_value=[5, 6])}


def _strings(*vals: bytes) -> np.ndarray:
    out = np.empty(len(vals), dtype=object)
    out[:] = list(vals)
    return out


@samples("ParseExample")
def _parse_example():
    batch = _strings(_example([1.5, 2.0], 3, b"a"), _example([-1.0, 0.25], 7, b"bc"))

    def build(s):
        out = tf.parse_example(s, FEATURES)
        return [out[k] for k in sorted(out)]

    def ref(s):  # sorted keys: label, missing, name, x
        return [np.array([3, 7], np.int64), np.array([[5, 6], [5, 6]], np.int64), _strings(b"a", b"bc"),
                np.array([[1.5, 2.0], [-1.0, 0.25]], np.float32)]
    return [Case(build, [batch], ref, grad=False)]


@samples("ParseSingleExample")
def _parse_single():
    one = np.array(_example([4.0, 5.0], 1, b"z"), dtype=object)

    def build(s):
        out = tf.parse_single_example(s, FEATURES)
        return [out[k] for k in sorted(out)]

    def ref(s):
        return [np.int64(1), np.array([5, 6], np.int64), np.array(b"z", dtype=object),
                np.array([4.0, 5.0], np.float32)]
    return [Case(build, [one], ref, grad=False)]


@samples("DecodeRaw")
def _decode_raw():
    img = np.arange(12, dtype=np.uint8)
    f = np.array([1.5, -2.0], dtype=np.float32)
    return [Case(lambda s: tf.decode_raw(s, tf.uint8), [_strings(img.tobytes(), img[::-1].tobytes())],
                 lambda s: np.stack([img, img[::-1]]), grad=False, name="uint8"),
            Case(lambda s: tf.decode_raw(s, tf.float32), [_strings(f.tobytes())], lambda s: f[None], grad=False,
                 name="float32"),
            Case(lambda s: tf.decode_raw(s, tf.int32, little_endian=False),
                 [np.array(np.array([1, -2], ">i4").tobytes(), dtype=object)], lambda s: np.array([1, -2], np.int32),
                 grad=False, name="big_endian")]


@samples("DecodeCSV")
def _decode_csv():
    recs = _strings(b'1,"a,b",2.5,7', b",c,,-3")

    def build(s):
        return tf.decode_csv(s, [[0], [""], tf.constant([1.0], tf.float64), tf.constant([], tf.int64)])

    def ref(s):
        return [np.array([1, 0], np.int32), _strings(b"a,b", b"c"), np.array([2.5, 1.0]), np.array([7, -3], np.int64)]
    return [Case(build, [recs], ref, grad=False),
            Case(lambda s: tf.decode_csv(s, [[0.5], [0.5]], field_delim="|"), [np.array(b"|3", dtype=object)],
                 lambda s: [np.float32(0.5), np.float32(3.0)], grad=False, name="scalar_delim")]
