"""Plan rewrites: constant folding and constant hoisting (on by default, off with opt_level L0)."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf

NO_REWRITES = tf.ConfigProto(graph_options=tf.GraphOptions(
    optimizer_options=tf.OptimizerOptions(opt_level=tf.OptimizerOptions.L0)))


def _node_types(sess) -> list[str]:
    step = list(sess._cache.values())[-1]
    return [n.type for cp in step.partitions for n in cp.nodes]


def test_chain_of_constant_adds_becomes_one_add():
    x = tf.Variable(np.zeros(2, np.float32))
    y = x
    for _ in range(1000):
        y = y + 1.0
    with tf.Session() as sess:
        sess.run(x.initializer)
        np.testing.assert_array_equal(sess.run(y), [1000, 1000])
        assert _node_types(sess).count("Add") == 1
    with tf.Session(config=NO_REWRITES) as sess:
        sess.run(x.initializer)
        np.testing.assert_array_equal(sess.run(y), [1000, 1000])
        assert _node_types(sess).count("Add") == 1000


def test_multiplications_hoist_and_broadcast():
    x = tf.placeholder(tf.float32, [2, 3])
    y = (x * tf.constant([1.0, 2.0, 3.0])) * 2.0
    with tf.Session() as sess:
        out = sess.run(y, {x: np.ones((2, 3))})
        assert _node_types(sess).count("Mul") == 1
    np.testing.assert_array_equal(out, [[2, 4, 6], [2, 4, 6]])


def test_shared_inner_node_is_not_rewritten():
    x = tf.placeholder(tf.float32, [])
    inner = x + 1.0
    outer = inner + 2.0
    with tf.Session() as sess:
        a, b = sess.run([inner, outer], {x: 1.0})  # `inner` is fetched too: it must stay
        assert (a, b) == (2.0, 4.0)
        assert _node_types(sess).count("Add") == 2


def test_constant_subgraphs_fold_but_stateful_ops_do_not():
    c = tf.reduce_sum(tf.constant([[1.0, 2.0], [3.0, 4.0]]), axis=0) * 2.0
    r = tf.random_uniform([3], seed=1) + tf.constant(1.0)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(c), [8, 12])
        assert set(_node_types(sess)) == {"Const", "_Fetch"}
        r1, r2 = sess.run(r), sess.run(r)
        assert "RandomUniform" in _node_types(sess)
    assert not np.array_equal(r1, r2)


def test_an_op_that_fails_on_constants_still_reports_its_error():
    x = tf.constant([1, 2, 3])
    bad = tf.gather(x, tf.constant([5]))
    with tf.Session() as sess:
        try:
            sess.run(bad)
        except tf.errors.OpError as e:
            assert "GatherV2" in str(e)
        else:  # NumPy indexing past the end raises; if an op ever clips instead, it must not fold a lie
            raise AssertionError("out-of-range gather should fail")


def _run_both(fetch, feeds=None):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run(fetch, feeds)
        types = _node_types(sess)
    with tf.Session(config=NO_REWRITES) as sess:
        sess.run(tf.global_variables_initializer())
        ref = sess.run(fetch, feeds)
    return got, ref, types


def test_weight_gradient_of_an_unrolled_layer_is_one_matmul():
    rng = np.random.RandomState(0)
    w = tf.Variable(rng.randn(30, 16).astype(np.float32))
    xs = [tf.constant(rng.randn(8, 30).astype(np.float32)) for _ in range(6)]
    h = tf.zeros([8, 16])
    for x in xs:  # an RNN-like chain: the same weight used at every step
        h = tf.tanh(tf.matmul(x, w) + h)
    g, = tf.gradients(tf.reduce_sum(h * h), [w])
    got, ref, types = _run_both(g)
    assert types.count("MatMul") == 6 + 1 and types.count("ConcatV2") == 2  # 6 forward, 1 for the 6 grads
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_sums_of_products_merge_for_every_transpose_combination():
    rng = np.random.RandomState(1)
    for ta in (False, True):
        for tb in (False, True):
            a = [tf.constant(rng.randn(*((5, 7) if ta else (7, 5))).astype(np.float32)) for _ in range(3)]
            b = [tf.constant(rng.randn(*((9, 5) if tb else (5, 9))).astype(np.float32)) for _ in range(3)]
            total = tf.add_n([tf.matmul(x, y, transpose_a=ta, transpose_b=tb) for x, y in zip(a, b)])
            got, ref, types = _run_both(total)
            want = sum((x.T if ta else x) @ (y.T if tb else y) for x, y in
                       zip([tf.Session().run(t) for t in a], [tf.Session().run(t) for t in b]))
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(ref, want, rtol=1e-5, atol=1e-5)


def test_products_used_elsewhere_or_of_unknown_shape_are_not_merged():
    x = tf.placeholder(tf.float32, [None, 4])
    w = tf.constant(np.ones((4, 3), np.float32))
    shared = tf.matmul(x, w)
    total = tf.add_n([shared, tf.matmul(x, w * 2.0)])
    feeds = {x: np.ones((2, 4), np.float32)}
    got, ref, types = _run_both([total, shared], feeds)
    assert "AddN" in types
    np.testing.assert_allclose(got[0], ref[0])
    y = tf.placeholder(tf.float32, [None, 4])  # unknown rows: the concatenation's size is unknown
    unknown = tf.add_n([tf.matmul(y, w), tf.matmul(y, w * 3.0)])
    got, ref, types = _run_both(unknown, {y: np.ones((2, 4), np.float32)})
    assert "AddN" in types
    np.testing.assert_allclose(got, ref)


def _unrolled_rnn(steps=5, batch=4, width=6, bias_add=False):
    """`x[:, t, :]` at every step into a cell with a weight and a bias, as the PTB tutorial unrolls
    (`+ b`, or `tf.nn.bias_add` as the RNN cells write it)."""
    rng = np.random.RandomState(2)
    x = tf.Variable(rng.randn(batch, steps, width).astype(np.float32))
    w = tf.Variable(rng.randn(2 * width, width).astype(np.float32) * 0.3)
    b = tf.Variable(np.zeros(width, np.float32))
    h = tf.zeros([batch, width])
    for t in range(steps):
        z = tf.matmul(tf.concat([x[:, t, :], h], 1), w)
        h = tf.tanh(tf.nn.bias_add(z, b) if bias_add else z + b)
    return x, w, b, tf.gradients(tf.reduce_sum(h * h), [x, w, b])


@pytest.mark.parametrize("bias_add", [False, True])
def test_bias_and_input_slice_gradients_of_an_unrolled_layer_are_one_op_each(bias_add):
    x, w, b, grads = _unrolled_rnn(bias_add=bias_add)
    got, ref, types = _run_both(grads)
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-6)
    # The 5 per-step bias sums are one Sum (over the weight gradient's concatenation), and the 5 slice
    # gradients of x one Pack: no StridedSliceGrad and no AddN of the per-step terms is left.
    assert types.count("StridedSliceGrad") == 0 and types.count("Pack") == 1
    # The bias's; reduce_sum(h * h) itself is not run: its gradient starts from OnesLike(loss), a
    # constant once materialized, so nothing fetched needs the loss's value.
    assert types.count("BiasAddGrad" if bias_add else "Sum") == 1
    assert types.count("ConcatV2") == 5 + 2  # the forward's, and the weight gradient's two operands


def test_slice_gradients_that_overlap_or_leave_a_gap_are_not_packed():
    v = tf.Variable(np.arange(12, dtype=np.float32).reshape(3, 4))
    for picks in ([0, 0, 2], [0, 2]):  # index 0 twice; index 1 never
        loss = tf.add_n([tf.reduce_sum(v[:, i] * float(k + 1)) for k, i in enumerate(picks)])
        (g,), (r,), types = _run_both([tf.gradients(loss, [v])[0]])
        np.testing.assert_allclose(g, r)
        assert "Pack" not in types


def test_ones_and_zeros_like_of_a_known_shape_become_constants():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [2, 3])
        u = tf.placeholder(tf.float32, [None, 3])
        ones, zeros, dynamic = tf.ones_like(x * 2.0), tf.zeros_like(x), tf.ones_like(u)
    with tf.Session(graph=g) as s:
        o, z, d = s.run([ones, zeros, dynamic], {x: np.full((2, 3), 5, np.float32), u: np.zeros((4, 3), np.float32)})
        types = {n.name: n.type for p in next(iter(s._cache.values())).partitions for n in p.nodes}
    np.testing.assert_array_equal(o, np.ones((2, 3), np.float32))
    np.testing.assert_array_equal(z, np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(d, np.ones((4, 3), np.float32))  # unknown batch: computed per run
    assert types[ones.op.name + "/materialized"] == "Const" and types[zeros.op.name + "/materialized"] == "Const"
    assert types[dynamic.op.name] == "OnesLike"
