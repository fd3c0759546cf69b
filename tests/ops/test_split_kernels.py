"""Kernels split over the intra-op threads compute what they compute unsplit (sizes above every split
threshold; the op sweep's small samples mostly run unsplit)."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.backend import threads
from labflow.framework import registry
from labflow.ops import conv_kernels as ck
from labflow.ops import pool_kernels as pk

pytestmark = pytest.mark.skipif(not threads._blas_controllable(),
                                reason="threadpoolctl cannot control this NumPy's BLAS")

R = np.random.default_rng(7)


def _both(fn):
    """fn() unsplit and split over two threads (inside a step, as the executor runs kernels)."""
    saved = threads._configured
    try:
        threads._configured = 1
        ref = fn()
        threads._configured = 2
        threads.step_begin()
        try:
            got = fn()
        finally:
            threads.step_end()
    finally:
        threads._configured = saved
    return ref, got


CONV_CASES = [  # x shape, filter shape, strides, pads
    ((40, 14, 14, 32), (5, 5, 32, 16), (1, 1), ((2, 2), (2, 2))),   # transposed-conv input gradient
    ((24, 15, 15, 3), (3, 3, 3, 8), (2, 2), ((0, 1), (0, 1))),      # col2im input gradient
    ((32, 28, 28, 1), (5, 5, 1, 8), (1, 1), ((2, 2), (2, 2))),      # cols layout
    ((1, 40, 40, 16), (3, 3, 16, 32), (1, 1), ((1, 1), (1, 1))),    # one image: its GEMMs are split instead
]


@pytest.mark.parametrize("xs,ws,strides,pads", CONV_CASES)
def test_conv2d_and_gradients_split_match_unsplit(xs, ws, strides, pads):
    x = R.standard_normal(xs).astype(np.float32)
    w = R.standard_normal(ws).astype(np.float32)
    y = ck.conv2d(np, x, w, strides, (1, 1), pads)
    dy = R.standard_normal(y.shape).astype(np.float32)
    for fn in (lambda: ck.conv2d(np, x, w, strides, (1, 1), pads),
               lambda: ck.conv2d(np, x, w, strides, (1, 1), pads, epilogue=lambda b: np.maximum(b, 0, out=b)),
               lambda: ck.conv2d_backprop_filter(np, x, dy, ws, strides, (1, 1), pads),
               lambda: ck.conv2d_backprop_input(np, dy, w, xs, strides, (1, 1), pads)):
        ref, got = _both(fn)
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-3)


def test_pooling_split_matches_unsplit():
    x = R.standard_normal((64, 28, 28, 32)).astype(np.float32)
    x[:, ::3] = 0  # ties: the first max must win in every part
    pads = ((0, 0), (0, 0))
    y = pk.max_pool(np, x, (2, 2), (2, 2), pads, 14, 14)
    g = R.standard_normal(y.shape).astype(np.float32)
    for fn in (lambda: pk.max_pool(np, x, (2, 2), (2, 2), pads, 14, 14),
               lambda: pk.avg_pool(np, x, (3, 3), (2, 2), pads, 13, 13),
               lambda: pk.max_pool_grad(np, x, y, g, (2, 2), (2, 2), pads)):
        ref, got = _both(fn)
        np.testing.assert_array_equal(got, ref)


def test_matmul_and_batch_matmul_kernels_split_match_unsplit():
    a = R.standard_normal((50, 3136)).astype(np.float32)
    b = R.standard_normal((1024, 3136)).astype(np.float32)
    mm = registry.get("MatMul")
    ref, got = _both(lambda: mm(a, b, transpose_a=False, transpose_b=True))
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-3)
    bx = R.standard_normal((8, 128, 256)).astype(np.float32)
    by = R.standard_normal((8, 256, 128)).astype(np.float32)
    ref, got = _both(lambda: registry.get("BatchMatMulV2")(bx, by, adj_x=False, adj_y=False))
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-3)


def test_adam_split_matches_unsplit():
    n = 1 << 20
    init = [R.standard_normal(n).astype(np.float32) for _ in range(2)] + [np.abs(R.standard_normal(n)).astype(
        np.float32)]
    grad = R.standard_normal(n).astype(np.float32)

    def step():
        g = tf.Graph()
        with g.as_default():
            var = tf.Variable(init[0])
            opt = tf.train.AdamOptimizer(0.01)
            train = opt.apply_gradients([(tf.constant(grad), var)])
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                for _ in range(3):
                    sess.run(train)
                return sess.run(var)

    ref, got = _both(step)
    np.testing.assert_array_equal(got, ref)


def test_sparse_xent_blocks_match_the_whole_array_formula():
    from labflow.ops import nn_xent_ops
    x = (R.standard_normal((300, 5000)) * 4).astype(np.float32)
    labels = R.integers(0, 5000, 300)
    shifted = x.astype(np.float64) - x.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    want_loss = np.log(e.sum(axis=1)) - shifted[np.arange(300), labels]
    want_back = e / e.sum(axis=1, keepdims=True)
    want_back[np.arange(300), labels] -= 1
    (l1, b1), (l2, b2) = _both(lambda: nn_xent_ops._sparse_xent_cpu(x, labels, np.float32))
    for loss, back in ((l1, b1), (l2, b2)):
        np.testing.assert_allclose(loss, want_loss, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(back, want_back, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(b1, b2)


def test_gradient_descent_update_split_matches_unsplit():
    n = 1 << 20
    init, grad = R.standard_normal(n).astype(np.float32), R.standard_normal(n).astype(np.float32)

    def step():
        with tf.Graph().as_default():
            var = tf.Variable(init)
            train = tf.train.GradientDescentOptimizer(0.3).apply_gradients([(tf.constant(grad), var)])
            with tf.Session() as sess:
                sess.run(var.initializer)
                sess.run(train)
                return sess.run(var)

    ref, got = _both(step)
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_allclose(got, init - np.float32(0.3) * grad, rtol=1e-6)


def test_concurrent_sessions_split_safely():
    """Two threads stepping their own conv nets at once (steps tuning and splitting concurrently) get
    exactly what each gets alone."""
    import threading

    def build(seed):
        g = tf.Graph()
        with g.as_default():
            rs = np.random.RandomState(seed)
            x = tf.constant(rs.rand(16, 28, 28, 8).astype(np.float32))
            w = tf.Variable(rs.randn(5, 5, 8, 16).astype(np.float32) * 0.1)
            y = tf.nn.max_pool2d(tf.nn.relu(tf.nn.conv2d(x, w, 1, "SAME")), 2, 2, "SAME")
            loss = tf.reduce_sum(y * y)
            train = tf.train.AdamOptimizer(0.01).minimize(loss)
        sess = tf.Session(graph=g)
        sess.run(tf.variables_initializer(g.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)))
        return sess, train, loss

    def losses(sess, train, loss, out):
        out.extend(sess.run([train, loss])[1] for _ in range(12))

    alone = []
    for seed in (0, 1):
        s = build(seed)
        got: list = []
        losses(*s, got)
        alone.append(got)
        s[0].close()
    sessions = [build(0), build(1)]
    results: list[list] = [[], []]
    ts = [threading.Thread(target=losses, args=(*s, r)) for s, r in zip(sessions, results)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not any(t.is_alive() for t in ts)
    for got, want in zip(results, alone):
        np.testing.assert_allclose(got, want, rtol=1e-5)
    for s in sessions:
        s[0].close()
