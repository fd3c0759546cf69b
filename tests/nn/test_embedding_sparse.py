"""tf.nn.embedding_lookup_sparse and tf.nn.safe_embedding_lookup_sparse against NumPy: combiners, weights,
partitioned params, gradients (IndexedSlices), invalid ids, empty rows, default_id, rank > 2, errors."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.testing.gradient_check import gradient_check

R = np.random.RandomState(8)
P = R.randn(7, 3)
IDX = np.array([[0, 0], [0, 1], [0, 2], [2, 0], [3, 0], [3, 1]], np.int64)
IDS = np.array([1, 4, 1, 6, 0, 2], np.int64)
WTS = np.array([0.5, 2.0, 1.0, 3.0, -1.0, 0.25])


def combine_ref(params, rows, ids, weights, n_rows, combiner):
    out = np.zeros((n_rows,) + params.shape[1:])
    for r in range(n_rows):
        m = rows == r
        if not m.any():
            continue
        e, w = params[ids[m]], weights[m]
        s = (e * w[:, None]).sum(0)
        if combiner == "mean":
            s = s / w.sum()
        elif combiner == "sqrtn":
            s = s / np.sqrt((w ** 2).sum())
        out[r] = s
    return out


def _sp(values, idx=IDX, shape=(4, 3)):
    return tf.SparseTensor(idx, values, shape)


@pytest.mark.parametrize("combiner", ["sum", "mean", "sqrtn"])
@pytest.mark.parametrize("weighted", [False, True])
def test_embedding_lookup_sparse_matches_numpy(combiner, weighted):
    w = WTS if weighted else np.ones(len(IDS))
    out = tf.nn.embedding_lookup_sparse(tf.constant(P), _sp(IDS), _sp(WTS) if weighted else None, combiner=combiner)
    assert out.get_shape().as_list() == [None, 3]
    with tf.Session() as sess:
        got = sess.run(out)
    # rows = max(row) + 1 (TF's segment sums); row 1 has no ids and is zero
    np.testing.assert_allclose(got, combine_ref(P, IDX[:, 0], IDS, w, 4, combiner), rtol=1e-12)


def test_default_combiner_is_mean_and_trailing_empty_rows_are_dropped():
    sp = tf.SparseTensor([[0, 0], [1, 0], [1, 1]], np.array([2, 3, 5], np.int64), [5, 2])
    with tf.Session() as sess:
        got = sess.run(tf.nn.embedding_lookup_sparse(P, sp, None))
    np.testing.assert_allclose(got, [P[2], (P[3] + P[5]) / 2])


@pytest.mark.parametrize("strategy", ["mod", "div"])
def test_partitioned_params(strategy):
    parts = [P[i::2] for i in range(2)] if strategy == "mod" else [P[:4], P[4:]]
    out = tf.nn.embedding_lookup_sparse([tf.constant(p) for p in parts], _sp(IDS), _sp(WTS), combiner="sum",
                                        partition_strategy=strategy)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(out), combine_ref(P, IDX[:, 0], IDS, WTS, 4, "sum"), rtol=1e-12)


def test_gradient_is_indexed_slices_of_the_looked_up_rows():
    params = tf.Variable(P)
    out = tf.nn.embedding_lookup_sparse(params, _sp(IDS), _sp(WTS), combiner="mean")
    (g,) = tf.gradients(tf.reduce_sum(out * np.arange(3.0)), [params])
    assert isinstance(g, tf.IndexedSlices)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        vals, ids = sess.run([g.values, g.indices])
    assert set(ids.tolist()) <= set(IDS.tolist())


@pytest.mark.parametrize("combiner", ["sum", "mean", "sqrtn"])
def test_numerical_gradient_for_params_and_weights(combiner):
    def build(params, weights):
        return tf.nn.embedding_lookup_sparse(params, _sp(IDS), _sp(weights), combiner=combiner)
    gradient_check(build, [P, np.abs(WTS) + 0.5])


@pytest.mark.parametrize("combiner", ["sum", "mean", "sqrtn"])
def test_safe_lookup_prunes_invalid_ids_and_weights(combiner):
    ids = np.array([1, -1, 1, 6, 0, 2], np.int64)
    wts = np.array([0.5, 2.0, 1.0, 0.0, -1.0, 0.25])
    out = tf.nn.safe_embedding_lookup_sparse(tf.constant(P), _sp(ids, shape=(5, 3)), _sp(wts, shape=(5, 3)),
                                             combiner=combiner)
    assert out.get_shape().as_list() == [5, 3]
    keep = ids >= 0
    if combiner != "sum":
        keep &= wts > 0  # "sum" keeps weights <= 0 (TF prunes them only for mean and sqrtn)
    want = combine_ref(P, IDX[keep, 0], ids[keep], wts[keep], 5, combiner)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(out), want, rtol=1e-12)


def test_safe_lookup_default_id_fills_empty_rows():
    ids = np.array([1, -1, 1, 6, 0, 2], np.int64)
    out = tf.nn.safe_embedding_lookup_sparse(tf.constant(P), _sp(ids, shape=(5, 3)), None, combiner="sum",
                                             default_id=3)
    want = combine_ref(P, IDX[ids >= 0, 0], ids[ids >= 0], np.ones(5), 5, "sum")
    want[1] = want[4] = P[3]
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(out), want, rtol=1e-12)


def test_safe_lookup_higher_rank_ids():
    idx = np.array([[0, 0, 0], [0, 0, 1], [1, 1, 0]], np.int64)
    sp = tf.SparseTensor(idx, np.array([2, 4, 5], np.int64), [2, 2, 3])
    out = tf.nn.safe_embedding_lookup_sparse(tf.constant(P), sp, combiner="mean")
    assert out.get_shape().as_list() == [2, 2, 3]
    want = np.zeros((2, 2, 3))
    want[0, 0] = (P[2] + P[4]) / 2
    want[1, 1] = P[5]
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(out), want, rtol=1e-12)
    gradient_check(lambda p: tf.nn.safe_embedding_lookup_sparse(
        p, tf.SparseTensor(idx, np.array([2, 4, 5], np.int64), [2, 2, 3]), default_id=0), [P])


def test_errors():
    with pytest.raises(TypeError, match="SparseTensor"):
        tf.nn.embedding_lookup_sparse(P, np.array([[1]]), None)
    with pytest.raises(TypeError, match="sp_weights must be either None or SparseTensor"):
        tf.nn.embedding_lookup_sparse(P, _sp(IDS), WTS)
    with pytest.raises(ValueError, match="combiner must be one of"):
        tf.nn.embedding_lookup_sparse(P, _sp(IDS), None, combiner="max")
    with pytest.raises(ValueError, match="Missing embedding_weights"):
        tf.nn.safe_embedding_lookup_sparse(None, _sp(IDS))
    with pytest.raises(ValueError, match="same values shape"):
        tf.nn.embedding_lookup_sparse(P, _sp(IDS), _sp(WTS[:3], idx=IDX[:3]))
