"""embedding_lookup (single and partitioned params), its sparse gradient, and sparse optimizer updates."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.ops.embedding_ops import dynamic_partition, dynamic_stitch, embedding_lookup

R = np.random.RandomState(3)


def _table(n=10, d=3, dtype=np.float32):
    return R.randn(n, d).astype(dtype)


def _partition_rows(table, p, strategy):
    """The rows of `table` held by each of p partitions, like TF's mod/div strategies."""
    n = table.shape[0]
    if strategy == "mod":
        return [table[i::p] for i in range(p)]
    per, extras = divmod(n, p)
    out, start = [], 0
    for i in range(p):
        size = per + (1 if i < extras else 0)
        out.append(table[start:start + size])
        start += size
    return out


def test_single_params_is_a_named_gather():
    w = tf.Variable(_table())
    e = embedding_lookup(w, [[1, 2], [3, 1]])
    assert e.get_shape().as_list() == [2, 2, 3]
    assert e.op.type == "Identity"
    gather = e.op.inputs[0].op
    assert gather.type == "GatherV2" and gather.name == "embedding_lookup"
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        table = s.run(w)
        np.testing.assert_array_equal(s.run(e), table[[[1, 2], [3, 1]]])


def test_gradient_is_indexed_slices():
    w = tf.Variable(_table(dtype=np.float64))
    e = embedding_lookup(w, [4, 4, 7])
    g = tf.gradients(tf.reduce_sum(e * 2.0), w)[0]
    assert isinstance(g, tf.IndexedSlices)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        gv = s.run(g)
    np.testing.assert_array_equal(np.sort(gv.indices), [4, 4, 7])
    np.testing.assert_array_equal(gv.values, np.full((3, 3), 2.0))


@pytest.mark.parametrize("opt", [lambda: tf.train.GradientDescentOptimizer(0.5),
                                 lambda: tf.train.MomentumOptimizer(0.1, 0.9),
                                 lambda: tf.train.AdagradOptimizer(0.1)])
def test_optimizer_updates_only_looked_up_rows(opt):
    w = tf.Variable(_table())
    ids = tf.placeholder(tf.int32, [None])
    loss = tf.reduce_sum(tf.square(embedding_lookup(w, ids)))
    train = opt().minimize(loss)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        before = s.run(w)
        s.run(train, {ids: [2, 5, 5]})
        after = s.run(w)
    untouched = [i for i in range(10) if i not in (2, 5)]
    # Bit-identical: a sparse update never writes the other rows (a dense one would add 0.0 * lr).
    assert after[untouched].tobytes() == before[untouched].tobytes()
    assert not np.array_equal(after[[2, 5]], before[[2, 5]])


def test_gradient_descent_sparse_step_value_and_op():
    w = tf.Variable(_table(dtype=np.float64))
    e = embedding_lookup(w, [1, 1, 3])
    train = tf.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_sum(e))
    types = {op.type for op in tf.get_default_graph().get_operations()}
    assert "ScatterSub" in types and "ApplyGradientDescent" not in types
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        before = s.run(w)
        s.run(train)
        after = s.run(w)
    want = before.copy()
    want[1] -= 0.2  # looked up twice: the duplicate rows' gradients add up
    want[3] -= 0.1
    np.testing.assert_allclose(after, want)


@pytest.mark.parametrize("strategy", ["mod", "div"])
@pytest.mark.parametrize("sizes", [(4, 3, 3), (5, 5)])
def test_partitioned_lookup_matches_one_table(strategy, sizes):
    table = _table(n=sum(sizes))
    parts = _partition_rows(table, len(sizes), strategy)
    assert [p.shape[0] for p in parts] == list(sizes) or strategy == "mod"
    ids = np.array([[0, 9], [3, 7], [5, 1]], np.int32)
    ps = [tf.constant(p) for p in parts]
    e = embedding_lookup(ps, ids, partition_strategy=strategy)
    assert e.get_shape().as_list() == [3, 2, 3]
    with tf.Session() as s:
        np.testing.assert_array_equal(s.run(e), table[ids])


@pytest.mark.parametrize("strategy", ["mod", "div"])
def test_partitioned_variables_train_sparsely(strategy):
    table = _table(n=10)
    parts = _partition_rows(table, 3, strategy)
    vs = [tf.Variable(p, name=f"emb_{i}") for i, p in enumerate(parts)]
    ids = tf.placeholder(tf.int64, [None])
    e = embedding_lookup(vs, ids, partition_strategy=strategy)
    loss = tf.reduce_sum(e)
    grads = tf.gradients(loss, vs)
    assert all(isinstance(g, tf.IndexedSlices) for g in grads)
    train = tf.train.GradientDescentOptimizer(1.0).minimize(loss)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        s.run(train, {ids: [2, 9]})
        new = np.concatenate(s.run(vs))
    # Reassemble the full table from the partitions, in id order.
    full = np.zeros_like(table)
    order = _partition_rows(np.arange(10), 3, strategy)
    start = 0
    for o in order:
        full[o] = new[start:start + len(o)]
        start += len(o)
    want = table.copy()
    want[[2, 9]] -= 1.0
    np.testing.assert_allclose(full, want, rtol=1e-6)
    untouched = [i for i in range(10) if i not in (2, 9)]
    assert full[untouched].tobytes() == table[untouched].tobytes()


def test_max_norm_clips_each_embedding():
    table = np.array([[3.0, 4.0], [0.3, 0.4]], np.float32)
    e = embedding_lookup(tf.constant(table), [0, 1], max_norm=1.0)
    e2 = embedding_lookup([tf.constant(table[:1]), tf.constant(table[1:])], [0, 1], max_norm=1.0,
                          partition_strategy="div")
    with tf.Session() as s:
        for got in s.run([e, e2]):
            np.testing.assert_allclose(got, [[0.6, 0.8], [0.3, 0.4]], rtol=1e-6)


def test_embedding_lookup_argument_errors():
    with pytest.raises(ValueError, match="Need at least one param"):
        embedding_lookup([], [0])
    with pytest.raises(ValueError, match="Unrecognized partition strategy"):
        embedding_lookup([tf.constant(_table()), tf.constant(_table())], [0], partition_strategy="modulo")
    with pytest.raises(ValueError, match="same shape after dimension 0"):
        embedding_lookup([tf.constant(_table(d=3)), tf.constant(_table(d=4))], [0])


def test_embedding_lookup_name_and_unknown_ids_shape():
    w = tf.Variable(_table())
    ids = tf.placeholder(tf.int32, None)
    e = embedding_lookup(w, ids, name="embed", validate_indices=False)
    assert e.op.inputs[0].op.name == "embed"
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        assert s.run(e, {ids: [[[1]]]}).shape == (1, 1, 1, 3)


def test_lstm_style_static_unroll_gradient():
    # The PTB pattern: embed [batch, steps] ids, unstack over time, sum a loss.
    w = tf.Variable(_table(n=20, d=4))
    ids = tf.placeholder(tf.int32, [2, 3])
    inputs = tf.unstack(embedding_lookup(w, ids), axis=1)
    loss = tf.add_n([tf.reduce_sum(x * x) for x in inputs])
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        before = s.run(w)
        s.run(train, {ids: [[1, 2, 3], [3, 4, 5]]})
        after = s.run(w)
    want = before.copy()
    counts = np.bincount([1, 2, 3, 3, 4, 5], minlength=20)
    want -= 0.1 * 2 * before * counts[:, None]
    np.testing.assert_allclose(after, want, rtol=1e-5)


# -- DynamicPartition / DynamicStitch ---------------------------------------------------------------
def test_dynamic_partition_out_of_range_is_a_runtime_error():
    p = tf.placeholder(tf.int32, [None])
    outs = dynamic_partition(tf.constant([1.0, 2.0]), p, 2)
    with tf.Session() as s:
        with pytest.raises(tf.errors.InvalidArgumentError, match="partitions\\[1\\] = 2 is not in \\[0, 2\\)"):
            s.run(outs, {p: [0, 2]})


def test_dynamic_partition_and_stitch_static_shapes():
    outs = dynamic_partition(tf.zeros([5, 2, 3]), tf.zeros([5], tf.int32), 2)
    assert len(outs) == 2 and outs[0].get_shape().as_list() == [None, 2, 3]
    st = dynamic_stitch([tf.constant([0, 2]), tf.constant([1])], [tf.zeros([2, 4]), tf.ones([1, 4])])
    assert st.get_shape().as_list() == [3, 4]
    with pytest.raises(ValueError, match="does not start with"):
        dynamic_partition(tf.zeros([5]), tf.zeros([4], tf.int32), 2)
    with pytest.raises(ValueError, match="as many indices as data"):
        dynamic_stitch([tf.constant([0])], [])
