"""tf.nn.weighted_moments, zero_fraction, batch_norm_with_global_normalization, compute_average_loss and
scale_regularization_loss against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.testing.gradient_check import gradient_check

X = np.array([[1.0, 0.0, 3.0], [0.0, 5.0, 6.0]])
W = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 1.0]])


def _run(t):
    with tf.Session() as sess:
        return sess.run(t)


def test_weighted_moments():
    mean, var = _run(tf.nn.weighted_moments(X, [0], W))
    want_mean = (W * X).sum(0) / W.sum(0)
    want_var = (W * (X - want_mean) ** 2).sum(0) / W.sum(0)
    np.testing.assert_allclose(mean, want_mean)
    np.testing.assert_allclose(var, want_var)
    m2, v2 = _run(tf.nn.weighted_moments(X, [0, 1], W, keep_dims=True))
    assert m2.shape == (1, 1)
    np.testing.assert_allclose(m2, [[(W * X).sum() / W.sum()]])
    # zero total weight gives 0, not NaN (div_no_nan)
    m3, _ = _run(tf.nn.weighted_moments(X, [0], np.zeros_like(W)))
    np.testing.assert_array_equal(m3, [0, 0, 0])
    half, _ = _run(tf.nn.weighted_moments(X.astype(np.float16), [1], W))
    assert half.dtype == np.float16
    gradient_check(lambda x: list(tf.nn.weighted_moments(x, [1], W)), [X])
    with pytest.raises(ValueError, match="keepdims"):
        tf.nn.weighted_moments(X, [0], W, keep_dims=True, keepdims=True)


def test_zero_fraction():
    v = _run(tf.nn.zero_fraction(X))
    assert v.dtype == np.float32
    np.testing.assert_allclose(v, 2 / 6)
    np.testing.assert_allclose(_run(tf.nn.zero_fraction(np.array([0, 0, 7], np.int32))), 2 / 3)


def test_batch_norm_with_global_normalization():
    m, v, beta, gamma = np.array([1.0, 1, 1]), np.array([4.0, 4, 4]), np.array([0.0, 1, 0]), np.array([2.0, 2, 2])
    with_scale = _run(tf.nn.batch_norm_with_global_normalization(X, m, v, beta, gamma, 0.0, True))
    np.testing.assert_allclose(with_scale, (X - m) / 2 * gamma + beta)
    no_scale = _run(tf.nn.batch_norm_with_global_normalization(input=X, mean=m, variance=v, beta=beta, gamma=gamma,
                                                               variance_epsilon=0.0,
                                                               scale_after_normalization=False))
    np.testing.assert_allclose(no_scale, (X - m) / 2 + beta)


def test_compute_average_loss():
    np.testing.assert_allclose(_run(tf.nn.compute_average_loss([1.0, 2.0, 3.0])), 2.0)
    np.testing.assert_allclose(_run(tf.nn.compute_average_loss([1.0, 2.0, 3.0], sample_weight=[1.0, 0.0, 2.0],
                                                               global_batch_size=6)), 7 / 6)
    np.testing.assert_allclose(_run(tf.nn.compute_average_loss(np.zeros([0]), global_batch_size=0)), 0.0)
    with pytest.raises(ValueError, match="at least rank 1"):
        tf.nn.compute_average_loss(3.0)
    with pytest.raises(ValueError, match="non-negative integer"):
        tf.nn.compute_average_loss([1.0], global_batch_size=2.5)


def test_scale_regularization_loss():
    np.testing.assert_allclose(_run(tf.nn.scale_regularization_loss([tf.constant(1.0), tf.constant(2.5)])), 3.5)
    np.testing.assert_allclose(_run(tf.nn.scale_regularization_loss(tf.constant([1.0, 2.0]))), 3.0)
