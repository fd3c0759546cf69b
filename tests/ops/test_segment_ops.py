"""Segment reductions: sorted, unsorted and sparse; static shapes, empty segments, errors, gradients."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf

D = np.arange(12.0).reshape(4, 3)


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


@pytest.mark.parametrize("fn,op_type,ref", [
    (tf.segment_sum, "SegmentSum", lambda r: r.sum(0)), (tf.segment_mean, "SegmentMean", lambda r: r.mean(0)),
    (tf.segment_max, "SegmentMax", lambda r: r.max(0)), (tf.segment_min, "SegmentMin", lambda r: r.min(0)),
    (tf.segment_prod, "SegmentProd", lambda r: r.prod(0))])
def test_sorted_segment_reductions(fn, op_type, ref):
    y = fn(tf.constant(D), tf.constant([0, 0, 2, 2]))
    assert y.op.type == op_type and y.shape.as_list() == [3, 3]
    got = _run(y)
    np.testing.assert_allclose(got[0], ref(D[:2]))
    np.testing.assert_allclose(got[2], ref(D[2:]))
    # an empty segment is 0 (1 for a product), as TF
    np.testing.assert_allclose(got[1], np.full(3, 1.0 if op_type == "SegmentProd" else 0.0))


def test_sorted_segment_static_shape_is_unknown_for_fed_ids():
    ids = tf.placeholder(tf.int32, [4])
    y = tf.segment_sum(tf.constant(D), ids)
    assert y.shape.as_list() == [None, 3]
    np.testing.assert_allclose(_run(y, {ids: [0, 1, 1, 1]}), [D[0], D[1:].sum(0)])


def test_sorted_segment_errors():
    with pytest.raises(ValueError, match="same size as dimension 0"):
        tf.segment_sum(tf.constant(D), tf.constant([0, 1]))
    with pytest.raises(ValueError, match="rank 1"):
        tf.segment_sum(tf.constant(D), tf.constant([[0, 1, 1, 1]]))
    with pytest.raises(TypeError, match="segment_ids"):
        tf.segment_sum(tf.constant(D), tf.constant([0.0, 1.0, 1.0, 1.0]))
    ids = tf.placeholder(tf.int32, [None])
    y = tf.segment_max(tf.constant(D), ids)
    with pytest.raises(tf.errors.InvalidArgumentError, match="not increasing"):
        _run(y, {ids: [0, 2, 1, 3]})
    with pytest.raises(tf.errors.InvalidArgumentError, match="negative"):
        _run(y, {ids: [-1, 0, 0, 0]})
    with pytest.raises(tf.errors.InvalidArgumentError, match="same size"):
        _run(y, {ids: [0, 0]})


def test_unsorted_segment_reductions_drop_negative_ids_and_fill_empty():
    ids = tf.constant([2, -1, 0, 2])
    mx, mn, pr = _run([tf.unsorted_segment_max(tf.constant(D), ids, 4), tf.unsorted_segment_min(D, ids, 4),
                       tf.unsorted_segment_prod(D, ids, 4)])
    np.testing.assert_allclose(mx[2], np.maximum(D[0], D[3]))
    np.testing.assert_allclose(mn[0], D[2])
    np.testing.assert_allclose(pr[2], D[0] * D[3])
    assert np.all(mx[1] == np.finfo(np.float64).min) and np.all(mn[3] == np.finfo(np.float64).max)
    np.testing.assert_allclose(pr[1], 1.0)
    ints = _run(tf.unsorted_segment_max(tf.constant([3, 9]), tf.constant([1, 1]), 2))
    np.testing.assert_array_equal(ints, [np.iinfo(np.int32).min, 9])


def test_unsorted_segment_id_out_of_range_is_an_error():
    ids = tf.placeholder(tf.int32, [None])
    y = tf.unsorted_segment_prod(tf.constant(D), ids, 2)
    with pytest.raises(tf.errors.InvalidArgumentError, match="out of range"):
        _run(y, {ids: [0, 1, 2, 0]})


def test_unsorted_segment_mean_and_sqrt_n():
    ids = tf.constant([1, 1, 0, 1])
    mean, sqrt_n = _run([tf.unsorted_segment_mean(tf.constant(D), ids, 3),
                         tf.math.unsorted_segment_sqrt_n(tf.constant(D), ids, 3)])
    np.testing.assert_allclose(mean, [D[2], D[[0, 1, 3]].mean(0), np.zeros(3)])
    np.testing.assert_allclose(sqrt_n, [D[2], D[[0, 1, 3]].sum(0) / np.sqrt(3), np.zeros(3)])
    with pytest.raises(TypeError, match="float"):
        tf.unsorted_segment_mean(tf.constant([1, 2]), tf.constant([0, 0]), 1)


def test_segment_gradients():
    x = tf.constant(np.array([1.0, 5.0, 2.0, 2.0, 3.0]))
    ids = tf.constant([0, 0, 1, 1, 1])
    g_mean, g_max, g_prod, g_umax = _run([
        tf.gradients(tf.segment_mean(x, ids), x)[0], tf.gradients(tf.segment_max(x, ids), x)[0],
        tf.gradients(tf.segment_prod(x, ids), x)[0], tf.gradients(tf.unsorted_segment_max(x, ids, 2), x)[0]])
    np.testing.assert_allclose(g_mean, [0.5, 0.5, 1 / 3, 1 / 3, 1 / 3])
    np.testing.assert_allclose(g_max, [0, 1, 0, 0, 1])
    np.testing.assert_allclose(g_prod, [5, 1, 6, 6, 4])
    np.testing.assert_allclose(g_umax, [0, 1, 0, 0, 1])
    tied = tf.constant([2.0, 2.0])
    np.testing.assert_allclose(_run(tf.gradients(tf.segment_max(tied, [0, 0]), tied)[0]), [0.5, 0.5])


def test_sparse_segment_ops():
    idx, seg = tf.constant([3, 0, 0]), tf.constant([0, 0, 2])
    s, m, q, s6 = _run([tf.sparse_segment_sum(D, idx, seg), tf.sparse_segment_mean(D, idx, seg),
                        tf.sparse_segment_sqrt_n(D, idx, seg), tf.sparse_segment_sum(D, idx, seg, num_segments=6)])
    np.testing.assert_allclose(s, [D[3] + D[0], np.zeros(3), D[0]])
    np.testing.assert_allclose(m, [(D[3] + D[0]) / 2, np.zeros(3), D[0]])
    np.testing.assert_allclose(q, [(D[3] + D[0]) / np.sqrt(2), np.zeros(3), D[0]])
    assert s6.shape == (6, 3)
    y = tf.sparse_segment_mean(D, idx, seg, num_segments=4)
    assert y.op.type == "SparseSegmentMeanWithNumSegments" and y.shape.as_list() == [4, 3]


def test_sparse_segment_gradient_uses_the_grad_ops():
    x = tf.constant(D)
    y = tf.sparse_segment_mean(x, tf.constant([3, 0, 0]), tf.constant([0, 0, 1]))
    g = tf.gradients(y, x)[0]
    assert g.op.type == "SparseSegmentMeanGrad"
    np.testing.assert_allclose(_run(g), [[1.5] * 3, [0] * 3, [0] * 3, [0.5] * 3])


def test_sparse_segment_errors():
    idx = tf.placeholder(tf.int32, [None])
    seg = tf.placeholder(tf.int32, [None])
    y = tf.sparse_segment_sum(D, idx, seg)
    with pytest.raises(tf.errors.InvalidArgumentError, match="out of range"):
        _run(y, {idx: [0, 4], seg: [0, 1]})
    with pytest.raises(tf.errors.InvalidArgumentError, match="not increasing"):
        _run(y, {idx: [0, 1], seg: [1, 0]})
    n = tf.sparse_segment_sum(D, idx, seg, num_segments=1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_segments"):
        _run(n, {idx: [0, 1], seg: [0, 1]})
    with pytest.raises(ValueError, match="one length"):
        tf.sparse_segment_sum(D, tf.constant([0, 1]), tf.constant([0]))


@pytest.mark.parametrize("reduction", ["add", "multiply", "maximum", "minimum", "mean"])
def test_scatter_fallback_without_ufunc_at_matches(reduction):
    # CuPy lacks ufunc.at for some reductions: the one-hot path must give the same result
    from labflow.ops.segment_ops import _scatter

    class NoAt:
        def __init__(self, fn):
            self.fn = fn

        def __call__(self, *a, **k):
            return self.fn(*a, **k)

    class Xp:
        def __getattr__(self, name):
            value = getattr(np, name)
            return NoAt(value) if name in ("add", "multiply", "maximum", "minimum") else value

    ids = np.array([2, -1, 0, 2, 5])
    vals = np.random.RandomState(1).randn(5, 3)
    want, want_counts = _scatter(np, reduction, ids, vals, 4)
    got, got_counts = _scatter(Xp(), reduction, ids, vals, 4)
    np.testing.assert_allclose(got, want)
    np.testing.assert_array_equal(got_counts, want_counts)
