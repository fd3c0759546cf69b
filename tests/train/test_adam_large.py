"""ApplyAdam on a variable large enough for the cache-chunked CPU path matches TF1's formula."""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow.train import training_ops


def test_chunked_adam_matches_reference():
    rs = np.random.RandomState(0)
    w0 = rs.randn(700, 400).astype(np.float32)
    assert w0.size >= 2 * training_ops._ADAM_CHUNK  # exercises the chunked path
    w = tf.Variable(w0)
    g = tf.placeholder(tf.float32, [700, 400])
    step = tf.train.AdamOptimizer(0.01).apply_gradients([(g, w)])
    grads = [rs.randn(700, 400).astype(np.float32) for _ in range(3)]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for gg in grads:
            sess.run(step, {g: gg})
        got = sess.run(w)
    m, v, want = np.zeros_like(w0), np.zeros_like(w0), w0.copy()
    for t, gg in enumerate(grads, 1):
        alpha = np.float32(0.01) * np.sqrt(np.float32(1) - np.float32(0.999) ** t) / (1 - np.float32(0.9) ** t)
        m += (gg - m) * np.float32(0.1)
        v += (gg * gg - v) * np.float32(1 - 0.999)
        want -= (m * alpha) / (np.sqrt(v) + np.float32(1e-8))
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6)
