"""Clip composites: TF1 signatures, names, IndexedSlices and None handling, NaN propagation."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


def _slices(values, indices, dense_shape):
    return tf.IndexedSlices(tf.constant(values), tf.constant(indices), tf.constant(dense_shape))


def test_clip_by_value_values_name_and_gradient():
    x = tf.constant([-3.0, -0.5, 0.5, 3.0])
    y = tf.clip_by_value(x, -1.0, 1.0)
    assert y.op.name == "clip_by_value" and y.op.type == "Maximum"
    np.testing.assert_array_equal(_run(y), [-1, -0.5, 0.5, 1])
    np.testing.assert_array_equal(_run(tf.gradients(y, x)[0]), [0, 1, 1, 0])
    assert tf.clip_by_value(x, 0.0, 1.0, name="c").op.name == "c"


def test_clip_by_value_tensor_bounds_and_ints():
    x = tf.constant([[1, 5], [7, -2]])
    y = tf.clip_by_value(x, 0, tf.constant([4, 6]))
    np.testing.assert_array_equal(_run(y), [[1, 5], [4, 0]])
    assert y.dtype == tf.int32


def test_clip_by_value_refuses_to_broadcast_t():
    with pytest.raises(ValueError, match="broadcast"):
        tf.clip_by_value(tf.zeros([3]), tf.zeros([2, 3]), 1.0)


def test_clip_by_value_indexed_slices():
    s = _slices([[5.0, -5.0]], [2], [4, 2])
    out = tf.clip_by_value(s, -1.0, 1.0)
    assert isinstance(out, tf.IndexedSlices) and out.indices is s.indices
    np.testing.assert_array_equal(_run(out.values), [[1, -1]])


def test_clip_by_norm():
    x = tf.constant([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(_run(tf.clip_by_norm(x, 1.0)), [[0.6, 0.8], [0, 0]], rtol=1e-6)
    np.testing.assert_allclose(_run(tf.clip_by_norm(x, 10.0)), [[3, 4], [0, 0]])
    per_row = tf.clip_by_norm(x, 1.0, axes=[1])
    np.testing.assert_allclose(_run(per_row), [[0.6, 0.8], [0, 0]], rtol=1e-6)
    assert per_row.op.name == "clip_by_norm_2"


def test_clip_by_norm_zero_tensor_has_finite_gradient():
    x = tf.zeros([3])
    g = tf.gradients(tf.reduce_sum(tf.clip_by_norm(x, 1.0)), x)[0]
    v = _run(g)
    assert np.isfinite(v).all()


def test_clip_by_norm_indexed_slices():
    s = _slices([[3.0, 4.0]], [0], [2, 2])
    out = tf.clip_by_norm(s, 2.5)
    assert isinstance(out, tf.IndexedSlices)
    np.testing.assert_allclose(_run(out.values), [[1.5, 2.0]], rtol=1e-6)


def test_global_norm_skips_none_and_reads_slices():
    a = tf.constant([3.0, 0.0])
    s = _slices([[4.0]], [1], [3, 1])
    n = tf.global_norm([a, None, s])
    assert n.op.name == "global_norm/global_norm"
    assert _run(n) == pytest.approx(5.0)
    with pytest.raises(TypeError, match="t_list should be a sequence"):
        tf.global_norm(a)
    with pytest.raises(TypeError, match="t_list should be a sequence"):
        tf.global_norm("abc")


def test_clip_by_global_norm():
    a = tf.constant([3.0, 0.0])
    b = tf.constant([[0.0], [4.0]])
    s = _slices([[4.0]], [1], [3, 1])
    clipped, norm = tf.clip_by_global_norm([a, None, b], 1.0)
    assert clipped[1] is None and len(clipped) == 3
    av, bv, nv = _run([clipped[0], clipped[2], norm])
    assert nv == pytest.approx(5.0)
    np.testing.assert_allclose(av, [0.6, 0.0], rtol=1e-6)
    np.testing.assert_allclose(bv, [[0.0], [0.8]], rtol=1e-6)
    assert clipped[0].op.name == "clip_by_global_norm/clip_by_global_norm/_0"
    (cs,), n2 = tf.clip_by_global_norm([s], 10.0)
    assert isinstance(cs, tf.IndexedSlices) and cs.indices is s.indices
    np.testing.assert_allclose(_run(cs.values), [[4.0]])
    (u,), used = tf.clip_by_global_norm([a], 1.0, use_norm=tf.constant(30.0))
    np.testing.assert_allclose(_run(u), [0.1, 0.0], rtol=1e-6)
    assert _run(used) == 30.0


def test_clip_by_global_norm_nan_when_norm_is_infinite():
    a = tf.constant([np.inf, 1.0])
    (c,), n = tf.clip_by_global_norm([a], 1.0)
    cv, nv = _run([c, n])
    assert np.isinf(nv) and np.isnan(cv).all()


def test_clip_by_global_norm_mixed_precision_and_gradient():
    a = tf.constant([3.0, 4.0], tf.float64)
    (c,), n = tf.clip_by_global_norm([a], 1.0)
    assert c.dtype == tf.float64
    g = tf.gradients(tf.reduce_sum(c), a)[0]
    assert np.isfinite(_run(g)).all()


def test_clip_by_average_norm():
    x = tf.constant([3.0, 4.0])  # l2 norm 5, 2 elements: average norm 2.5
    np.testing.assert_allclose(_run(tf.clip_by_average_norm(x, 1.0)), [1.2, 1.6], rtol=1e-6)
    np.testing.assert_allclose(_run(tf.clip_by_average_norm(x, 5.0)), [3.0, 4.0], rtol=1e-6)
