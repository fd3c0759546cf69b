"""The composite tf.nn functions: moments, batch_normalization, l2_normalize, xw_plus_b, relu_layer,
weighted_cross_entropy_with_logits, sufficient_statistics / normalize_moments."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.testing.gradient_check import gradient_check

R = np.random.RandomState(5)


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


@pytest.mark.parametrize("axes", [[0], [0, 1, 2], [1]])
def test_moments_values(axes):
    x = R.randn(4, 3, 2, 5)
    m, v = tf.nn.moments(tf.constant(x), axes)
    mv, vv = _run([m, v])
    np.testing.assert_allclose(mv, x.mean(axis=tuple(axes)))
    np.testing.assert_allclose(vv, x.var(axis=tuple(axes)))
    assert m.op.name.startswith("moments/")


def test_moments_keep_dims_and_names():
    x = tf.placeholder(tf.float32, [None, 6])
    m, v = tf.nn.moments(x, [0], keep_dims=True)
    assert m.get_shape().as_list() == [1, 6]
    m2, _ = tf.nn.moments(x, [0], keepdims=True, name="stats")
    assert m2.get_shape().as_list() == [1, 6]
    assert m2.name.startswith("stats/")
    with pytest.raises(ValueError, match="both"):
        tf.nn.moments(x, [0], keep_dims=True, keepdims=True)


def test_moments_half_is_computed_in_float32():
    x = (R.randn(64, 3) * 100 + 1000).astype(np.float16)
    m, v = tf.nn.moments(tf.constant(x), [0])
    assert m.dtype == tf.float16 and v.dtype == tf.float16
    mv, vv = _run([m, v])
    np.testing.assert_allclose(mv, x.astype(np.float32).mean(0), rtol=1e-3)
    np.testing.assert_allclose(vv, x.astype(np.float32).var(0), rtol=1e-2)


def test_moments_gradient():
    gradient_check(lambda x: list(tf.nn.moments(x, [0])), [R.randn(5, 3)])


def test_batch_normalization_matches_numpy_and_has_gradients():
    x, mean, var = R.randn(6, 4), R.randn(4), R.rand(4) + 0.5
    beta, gamma = R.randn(4), R.randn(4)
    y = tf.nn.batch_normalization(tf.constant(x), mean, var, beta, gamma, 1e-3)
    want = gamma * (x - mean) / np.sqrt(var + 1e-3) + beta
    np.testing.assert_allclose(_run(y), want, rtol=1e-10)
    y2 = tf.nn.batch_normalization(tf.constant(x), mean, var, None, None, 1e-3)
    np.testing.assert_allclose(_run(y2), (x - mean) / np.sqrt(var + 1e-3), rtol=1e-10)
    assert y.op.name.startswith("batchnorm/")
    gradient_check(lambda x, m, v, b, g: tf.nn.batch_normalization(x, m, v, b, g, 1e-3),
                   [x, mean, var, beta, gamma])


def test_batch_norm_with_moments_normalizes_a_batch():
    x = R.randn(32, 5) * 3 + 2
    xt = tf.constant(x)
    m, v = tf.nn.moments(xt, [0])
    y = _run(tf.nn.batch_normalization(xt, m, v, None, None, 1e-8))
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-10)
    np.testing.assert_allclose(y.std(0), 1, rtol=1e-6)


def test_l2_normalize():
    x = R.randn(3, 4)
    np.testing.assert_allclose(_run(tf.nn.l2_normalize(x, 1)), x / np.linalg.norm(x, axis=1, keepdims=True))
    np.testing.assert_allclose(_run(tf.nn.l2_normalize(x, dim=0)), x / np.linalg.norm(x, axis=0, keepdims=True))
    np.testing.assert_allclose(_run(tf.nn.l2_normalize(x)), x / np.linalg.norm(x))
    np.testing.assert_array_equal(_run(tf.nn.l2_normalize(np.zeros((2, 2)), 1)), np.zeros((2, 2)))
    assert tf.nn.l2_normalize(x, 1, name="unit").op.name == "unit"
    gradient_check(lambda x: tf.nn.l2_normalize(x, 1), [x])


def test_xw_plus_b_and_relu_layer():
    x, w, b = R.randn(3, 4), R.randn(4, 2), R.randn(2)
    y = tf.nn.xw_plus_b(x, w, b)
    assert y.op.type == "BiasAdd" and y.op.name == "xw_plus_b"
    np.testing.assert_allclose(_run(y), x @ w + b)
    r = tf.nn.relu_layer(x, w, b)
    assert r.op.type == "Relu" and r.op.name == "relu_layer"
    np.testing.assert_allclose(_run(r), np.maximum(x @ w + b, 0))


def test_weighted_cross_entropy_with_logits():
    logits = R.randn(4, 3) * 4
    labels = (R.rand(4, 3) > 0.5).astype(np.float64)
    pw = 3.0
    sig = 1 / (1 + np.exp(-logits))
    want = -(labels * np.log(sig) * pw + (1 - labels) * np.log(1 - sig))
    got = tf.nn.weighted_cross_entropy_with_logits(labels=labels, logits=logits, pos_weight=pw)
    np.testing.assert_allclose(_run(got), want, rtol=1e-10)
    got2 = tf.nn.weighted_cross_entropy_with_logits(targets=labels, logits=logits, pos_weight=pw)
    np.testing.assert_allclose(_run(got2), want, rtol=1e-10)
    gradient_check(lambda lg: tf.nn.weighted_cross_entropy_with_logits(labels=labels, logits=lg, pos_weight=pw),
                   [logits])
    with pytest.raises(ValueError, match="same shape"):
        tf.nn.weighted_cross_entropy_with_logits(labels=np.zeros((2, 3)), logits=np.zeros((3, 2)), pos_weight=1.0)


def test_weighted_cross_entropy_pos_weight_one_is_sigmoid_xent():
    logits, labels = R.randn(5), (R.rand(5) > 0.5).astype(np.float64)
    a = tf.nn.weighted_cross_entropy_with_logits(labels=labels, logits=logits, pos_weight=1.0)
    b = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
    av, bv = _run([a, b])
    np.testing.assert_allclose(av, bv, rtol=1e-12)


def test_sufficient_statistics_and_normalize_moments():
    x = R.randn(6, 3)
    for shift in (None, 0.5):
        c, m_ss, v_ss, sh = tf.nn.sufficient_statistics(tf.constant(x), [0], shift=shift)
        mean, var = tf.nn.normalize_moments(c, m_ss, v_ss, sh)
        mv, vv = _run([mean, var])
        np.testing.assert_allclose(mv, x.mean(0))
        np.testing.assert_allclose(vv, x.var(0), rtol=1e-10)
    p = tf.placeholder(tf.float64, [None, 3])
    c, m_ss, v_ss, _ = tf.nn.sufficient_statistics(p, [0])
    assert _run(c, {p: x}) == 6.0
