"""tf.while_loop on a GPU: a GRU over an unknown number of steps (dynamic_rnn's while_loop) runs there and
trains to the CPU's numbers (tests/ops/test_control_flow.py counts the loop's host<->device copies).

Marked `gpu`: skipped where CuPy or an NVIDIA GPU is missing (the suite also runs it on the emulated GPU).
"""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf

pytestmark = pytest.mark.gpu


def _fixed(shape, dtype=tf.float32, partition_info=None):
    """The same initial values on any device (a device's own RNG would draw others)."""
    return tf.constant(np.random.RandomState(sum(shape)).randn(*shape) * 0.3, dtype)


def _gru_lm(device, xs, ys, steps=3):
    g = tf.Graph()
    with g.as_default(), tf.device(device):
        x = tf.placeholder(tf.int32, [None, None])
        y = tf.placeholder(tf.int32, [None, None])
        emb = tf.get_variable("emb", [20, 8], initializer=_fixed)
        cell = tf.nn.rnn_cell.GRUCell(16, kernel_initializer=_fixed)
        out, _ = tf.nn.dynamic_rnn(cell, tf.nn.embedding_lookup(emb, x), dtype=tf.float32)
        w = tf.get_variable("w", [16, 20], initializer=_fixed)
        logits = tf.reshape(tf.matmul(tf.reshape(out, [-1, 16]), w), [tf.shape(x)[0], -1, 20])
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
        init = tf.global_variables_initializer()
    with tf.Session(graph=g, config=tf.ConfigProto(allow_soft_placement=True)) as s:
        s.run(init)
        losses = [s.run([train, loss], {x: xs, y: ys})[1] for _ in range(steps)]
        placed = {p.node: p.device for p in s.placements()}
    return losses, placed


def test_dynamic_rnn_while_loop_trains_on_the_gpu_like_on_the_cpu():
    r = np.random.RandomState(0)
    xs, ys = r.randint(0, 20, (4, 7)), r.randint(0, 20, (4, 7))
    cpu, _ = _gru_lm("/cpu:0", xs, ys)
    gpu, placed = _gru_lm("/gpu:0", xs, ys)
    assert any(n.startswith("rnn/while") and d.endswith("GPU:0") for n, d in placed.items()), placed
    np.testing.assert_allclose(gpu, cpu, rtol=2e-4)
    assert gpu[-1] < gpu[0]

