"""Conv2D or MatMul -> bias add -> Relu runs as one _FusedConv2D or _FusedMatMul (TF's remapper), with the
same results."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf

OFF = tf.ConfigProto(graph_options=tf.GraphOptions(optimizer_options=tf.OptimizerOptions(
    opt_level=tf.OptimizerOptions.L0)))


def _ops(sess, fetch, feed):
    md = tf.RunMetadata()
    sess.run(fetch, feed, options=tf.RunOptions(output_partition_graphs=True), run_metadata=md)
    return [n.op for g in md.partition_graphs for n in g.node]


@pytest.mark.parametrize("bias_add,relu", [(True, True), (False, True), (True, False)])
def test_fused_matches_unfused(bias_add, relu):
    rng = np.random.RandomState(0)
    x = tf.placeholder(tf.float32, [None, 9, 9, 3])
    w = tf.constant(rng.randn(3, 3, 3, 4).astype(np.float32))
    b = tf.placeholder(tf.float32, [4])
    c = tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding="SAME")
    y = tf.nn.bias_add(c, b) if bias_add else c + b
    if relu:
        y = tf.nn.relu(y)
    feed = {x: rng.randn(5, 9, 9, 3).astype(np.float32), b: rng.randn(4).astype(np.float32)}
    with tf.Session() as fused, tf.Session(config=OFF) as plain:
        np.testing.assert_allclose(fused.run(y, feed), plain.run(y, feed), rtol=1e-6, atol=1e-6)
        ops = _ops(fused, y, feed)
    assert "_FusedConv2D" in ops and "Conv2D" not in ops
    assert ("Relu" in ops) is False


def test_no_fusion_when_an_intermediate_is_used_elsewhere():
    x = tf.placeholder(tf.float32, [2, 6, 6, 1])
    w = tf.ones([3, 3, 1, 2])
    c = tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding="SAME")
    y = tf.nn.relu(c + tf.ones([2]))
    feed = {x: np.ones((2, 6, 6, 1), np.float32)}
    with tf.Session() as sess:
        out_c, out_y = sess.run([c, y], feed)  # the conv output is fetched: it must exist
        np.testing.assert_allclose(out_y, np.maximum(out_c + 1, 0))
        assert "Conv2D" in _ops(sess, [c, y], feed)


def _train_conv(config, xv: np.ndarray, known_batch: bool) -> tuple:
    """Three SGD steps of relu(conv2d(x, w) + b); returns the final (w, b) and the plan's op types."""
    g = tf.Graph()
    with g.as_default():
        x = tf.constant(xv) if known_batch else tf.placeholder(tf.float32, [None, *xv.shape[1:]])
        feed = None if known_batch else {x: xv}
        w = tf.Variable(np.full((3, 3, 2, 3), 0.1, np.float32))
        b = tf.Variable(tf.zeros([3]))
        loss = tf.reduce_sum(tf.nn.relu(tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME") + b))
        train = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
        with tf.Session(config=config) as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(3):
                sess.run(train, feed)
            return sess.run([w, b]), _ops(sess, train, feed)


def test_training_through_a_fused_forward_matches():
    xv = np.random.RandomState(1).randn(4, 8, 8, 2).astype(np.float32)
    (fused, _), (plain, _) = _train_conv(None, xv, True), _train_conv(OFF, xv, True)
    for a, b in zip(fused, plain):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_training_with_an_unknown_batch_fuses_and_shape_readers_follow():
    """The gradient of `conv + b` reads Shape(conv) when the batch is unknown: it reads the fused output."""
    xv = np.random.RandomState(2).randn(4, 8, 8, 2).astype(np.float32)
    (fused, fused_ops), (plain, _) = _train_conv(None, xv, False), _train_conv(OFF, xv, False)
    assert "_FusedConv2D" in fused_ops and "Conv2D" not in fused_ops
    for a, c in zip(fused, plain):
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bias_add,relu,ta", [(True, True, False), (False, True, True), (False, False, False)])
def test_fused_matmul_matches_unfused(bias_add, relu, ta):
    rng = np.random.RandomState(1)
    x = tf.placeholder(tf.float32, [20, None] if ta else [None, 20])
    w = tf.constant(rng.randn(20, 300).astype(np.float32))
    b = tf.placeholder(tf.float32, [300])
    m = tf.matmul(x, w, transpose_a=ta)
    y = tf.nn.bias_add(m, b) if bias_add else b + m
    if relu:
        y = tf.nn.relu(y)
    xv = rng.randn(400, 20).astype(np.float32)  # big enough for the GEMM (and its epilogue) to split
    feed = {x: xv.T.copy() if ta else xv, b: rng.randn(300).astype(np.float32)}
    with tf.Session() as fused, tf.Session(config=OFF) as plain:
        np.testing.assert_allclose(fused.run(y, feed), plain.run(y, feed), rtol=1e-5, atol=1e-5)
        ops = _ops(fused, y, feed)
    assert "_FusedMatMul" in ops and "MatMul" not in ops and ("Relu" in ops) is False


def test_dense_layer_training_fuses_and_trains_the_same():
    rng = np.random.RandomState(2)
    data = rng.randn(64, 30).astype(np.float32)
    target = rng.randn(64, 1).astype(np.float32)

    def train(config):
        g = tf.Graph()
        with g.as_default():
            tf.set_random_seed(3)
            x = tf.placeholder(tf.float32, [None, 30])
            h = tf.layers.dense(x, 40, activation=tf.nn.relu)
            loss = tf.reduce_mean(tf.square(tf.layers.dense(h, 1) - target))
            step = tf.train.GradientDescentOptimizer(0.05).minimize(loss)
            with tf.Session(config=config) as sess:
                sess.run(tf.global_variables_initializer())
                losses = [sess.run([step, loss], {x: data})[1] for _ in range(20)]
                return losses, _ops(sess, [step, loss], {x: data})

    fused_losses, ops = train(None)
    plain_losses, _ = train(OFF)
    assert "_FusedMatMul" in ops  # the hidden layer's matmul + bias + relu (the relu output feeds ReluGrad)
    np.testing.assert_allclose(fused_losses, plain_losses, rtol=1e-5)
    assert fused_losses[-1] < fused_losses[0]


def _train_on_cpu_and_emulated_gpu(make_optimizer, shapes, model):
    """Trains model(x, *variables) for 3 steps on the CPU and on the emulated GPU; checks both give the
    same variables and returns each run's partition op types."""
    from labflow.testing.emulated_gpu import emulated_gpu
    rng = np.random.RandomState(3)
    xs = rng.randn(6, 4).astype(np.float32)
    inits = [rng.randn(*s).astype(np.float32) for s in shapes]

    def train(device):
        g = tf.Graph()
        with g.as_default(), tf.device(device):
            x = tf.placeholder(tf.float32, [None, 4])
            variables = [tf.Variable(i) for i in inits]
            step = make_optimizer().minimize(model(x, *variables))
        with tf.Session(graph=g) as s:
            s.run(tf.global_variables_initializer())
            for _ in range(3):
                s.run(step, {x: xs})
            return s.run(variables), _ops(s, step, {x: xs})

    want, cpu_ops = train("/cpu:0")
    with emulated_gpu():
        got, gpu_ops = train("/gpu:0")
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    return cpu_ops, gpu_ops


def test_one_adam_optimizers_updates_run_as_one_op_on_a_gpu():
    # runtime/fusion.group_updates: the ApplyAdam nodes sharing their scalars become one _MultiApplyAdam on a
    # GPU partition (one kernel launch); the trained values are the CPU's.
    cpu_ops, gpu_ops = _train_on_cpu_and_emulated_gpu(
        lambda: tf.train.AdamOptimizer(0.1), [(4, 5), (5,), (5, 1)],
        lambda x, w, b, v: tf.reduce_mean(tf.square(tf.matmul(tf.tanh(tf.matmul(x, w) + b), v))))
    assert cpu_ops.count("ApplyAdam") == 3 and "_MultiApplyAdam" not in cpu_ops
    assert gpu_ops.count("_MultiApplyAdam") == 1 and "ApplyAdam" not in gpu_ops
    # and beta1_power.assign(beta1_power * beta1) (and beta2's) multiply in place, on either device
    assert cpu_ops.count("_AssignMul") == gpu_ops.count("_AssignMul") == 2 and "Assign" not in gpu_ops


def test_one_gradient_descent_optimizers_updates_run_as_one_op_on_a_gpu():
    _, gpu_ops = _train_on_cpu_and_emulated_gpu(
        lambda: tf.train.GradientDescentOptimizer(0.3), [(4, 3), (3,)],
        lambda x, w, b: tf.reduce_mean(tf.square(tf.matmul(x, w) + b)))
    assert gpu_ops.count("_MultiApplyGradientDescent") == 1 and "ApplyGradientDescent" not in gpu_ops


def test_adam_updates_that_share_a_variable_or_depend_on_each_other_are_not_grouped():
    from labflow.runtime.fusion import _independent
    from labflow.runtime.partition import PNode

    def node(name, *inputs, control=()):
        n = PNode(name, "ApplyAdam", None, {}, None, None, [], [])
        n.inputs, n.control_inputs = [(i, 0) for i in inputs], list(control)
        return n
    w1, w2, m, v, g = (node(k) for k in ("w1", "w2", "m", "v", "g"))
    a = node("a", w1, m, v, g)
    assert _independent([a, node("b", w2, node("m2"), node("v2"), g)])
    assert not _independent([a, node("b", w1, node("m2"), node("v2"), g)])  # w1 updated twice
    later = node("x", g, control=[a])  # depends on update a
    assert not _independent([a, node("b", w2, node("m2"), node("v2"), later)])


def test_the_gradient_of_relu_then_max_pool_is_one_op():
    rng = np.random.RandomState(4)
    x = tf.placeholder(tf.float32, [None, 6, 6, 2])
    h = tf.nn.relu(x * 1.0)
    loss = tf.reduce_sum(tf.nn.max_pool2d(h, 2, 2, "SAME") * rng.randn(1, 3, 3, 2).astype(np.float32))
    (gx,) = tf.gradients(loss, [x])
    feed = {x: rng.randn(3, 6, 6, 2).astype(np.float32)}
    with tf.Session() as fused, tf.Session(config=OFF) as plain:
        np.testing.assert_allclose(fused.run(gx, feed), plain.run(gx, feed), rtol=1e-6)
        ops = _ops(fused, gx, feed)
    assert "_FusedMaxPoolGrad" in ops and "MaxPoolGrad" not in ops and "ReluGrad" not in ops
