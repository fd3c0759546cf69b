"""Plan rewrites: constant folding and constant hoisting (on by default, off with opt_level L0)."""

from __future__ import annotations

import numpy as np

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
