"""tf.bitwise: and/or/xor/invert, TF's clamped shifts, popcount, dtype checks, no gradients."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.ops import bitwise_ops


def _run(fetches):
    with tf.Session() as sess:
        return sess.run(fetches)


def test_and_or_xor_broadcast():
    a = tf.constant([[12], [10]], tf.int32)
    b = tf.constant([6, 3], tf.int32)
    got = _run([tf.bitwise.bitwise_and(a, b), tf.bitwise.bitwise_or(a, b), tf.bitwise.bitwise_xor(a, b)])
    x, y = np.array([[12], [10]]), np.array([6, 3])
    for g, w in zip(got, (x & y, x | y, x ^ y)):
        np.testing.assert_array_equal(g, w)
    assert tf.bitwise.bitwise_and(a, b).op.type == "BitwiseAnd"
    assert tf.bitwise.bitwise_and(a, b).get_shape().as_list() == [2, 2]


def test_invert_unsigned_and_signed():
    u, s = _run([tf.bitwise.invert(tf.constant([0, 1, 255], tf.uint8)), tf.bitwise.invert(tf.constant([0, -1, 5]))])
    assert u.dtype == np.uint8 and u.tolist() == [255, 254, 0]
    assert s.tolist() == [-1, 0, -6]


def test_shifts_follow_tensorflow_for_out_of_range_amounts():
    # TensorFlow's results for these int8 inputs (the shift clamps to [0, 7]; left shifts wrap)
    x = tf.constant([1, -8, 64, 127, -128], tf.int8)
    y = tf.constant([-1, 9, 1, 8, 3], tf.int8)
    left, right = _run([tf.bitwise.left_shift(x, y), tf.bitwise.right_shift(x, y)])
    assert left.tolist() == [1, 0, -128, -128, 0]
    assert right.tolist() == [1, -1, 32, 0, -16]
    u = tf.constant([1, 200, 255], tf.uint8)
    v = tf.constant([9, 1, 200], tf.uint8)
    assert _run(tf.bitwise.left_shift(u, v)).tolist() == [128, 144, 128]
    assert _run(tf.bitwise.right_shift(u, v)).tolist() == [0, 100, 1]
    big = _run([tf.bitwise.left_shift(tf.constant([5], tf.int64), tf.constant([70], tf.int64)),
                tf.bitwise.right_shift(tf.constant([-5], tf.int64), tf.constant([70], tf.int64))])
    assert big[0].tolist() == [-2**63] and big[1].tolist() == [-1]


def test_population_count():
    x = tf.constant([1, -8, 64, 127, -128], tf.int8)
    got = _run(bitwise_ops.population_count(x))
    assert got.dtype == np.uint8 and got.tolist() == [1, 5, 1, 7, 1]
    assert _run(bitwise_ops.population_count(tf.constant([2**64 - 1], tf.uint64))).tolist() == [64]


def test_errors():
    with pytest.raises(TypeError, match="int8, int16, int32, int64, uint8"):
        tf.bitwise.bitwise_and(tf.constant([1.0]), tf.constant([2.0]))
    with pytest.raises(TypeError, match="does not match"):
        tf.bitwise.bitwise_or(tf.constant([1], tf.int32), tf.constant([1], tf.int64))
    with pytest.raises(ValueError, match="Dimensions must be equal|broadcast|compatible"):
        tf.bitwise.bitwise_xor(tf.constant([1, 2, 3]), tf.constant([1, 2]))


def test_not_differentiable():
    from labflow.framework import registry
    for t in ("BitwiseAnd", "BitwiseOr", "BitwiseXor", "Invert", "LeftShift", "RightShift", "PopulationCount"):
        assert not registry.get(t).differentiable
