"""Sweep samples for the SequenceExample parsers: ParseSingleSequenceExample, ParseSequenceExample.

Inputs are serialized `tf.train.SequenceExample` protos; references are the values the protos were built from.
Errors and feature kinds are in tests/ops/test_sequence_parsing.py.
"""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow.ops.parsing_ops import FixedLenSequenceFeature, parse_sequence_example, parse_single_sequence_example
from labflow.testing.op_sweep import Case, samples
from labflow.testing.samples.parsing import _strings


def sequence_example(length: int, frames: list, ids: list) -> bytes:
    """A SequenceExample: context `length` (int64), feature lists `frames` (float [2] per step) and `ids`."""
    fl = tf.train.FeatureLists(feature_list={
        "frames": tf.train.FeatureList(feature=[tf.train.Feature(float_list=tf.train.FloatList(value=f))
                                                for f in frames]),
        "ids": tf.train.FeatureList(feature=[tf.train.Feature(int64_list=tf.train.Int64List(value=i)) for i in ids]),
    })
    ctx = tf.train.Features(feature={"length": tf.train.Feature(int64_list=tf.train.Int64List(value=[length]))})
    return tf.train.SequenceExample(context=ctx, feature_lists=fl).SerializeToString()


CONTEXT = {"length": tf.FixedLenFeature([], tf.int64)}
SEQUENCE = {"frames": FixedLenSequenceFeature([2], tf.float32), "ids": tf.VarLenFeature(tf.int64)}
A = sequence_example(2, [[1.0, 2.0], [3.0, 4.0]], [[7], [8, 9]])
B = sequence_example(1, [[5.0, 6.0]], [[]])


@samples("ParseSingleSequenceExample")
def _single():
    def build(s):
        ctx, seq = parse_single_sequence_example(s, CONTEXT, SEQUENCE)
        return [ctx["length"], seq["frames"], seq["ids"].indices, seq["ids"].values, seq["ids"].dense_shape]

    def ref(s):
        return [np.int64(2), np.array([[1, 2], [3, 4]], np.float32), np.array([[0, 0], [1, 0], [1, 1]], np.int64),
                np.array([7, 8, 9], np.int64), np.array([2, 2], np.int64)]
    return [Case(build, [np.array(A, dtype=object)], ref, grad=False)]


@samples("ParseSequenceExample")
def _batch():
    def build(s):
        ctx, seq, lengths = parse_sequence_example(s, CONTEXT, SEQUENCE)
        return [ctx["length"], seq["frames"], lengths["frames"], seq["ids"].indices, seq["ids"].dense_shape]

    def ref(s):
        frames = np.array([[[1, 2], [3, 4]], [[5, 6], [0, 0]]], np.float32)  # padded with the default 0
        return [np.array([2, 1], np.int64), frames, np.array([2, 1], np.int64),
                np.array([[0, 0, 0], [0, 1, 0], [0, 1, 1]], np.int64), np.array([2, 2, 2], np.int64)]
    return [Case(build, [_strings(A, B)], ref, grad=False)]
