"""tf.nn's rank-dispatching and alias names (max_pool_v2, avg_pool_v2, conv_transpose, with_space_to_batch,
depthwise_conv2d_backprop_*) and the CTC label helpers (collapse_repeated, ctc_unique_labels)."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.nn import nd_dispatch as nd

R = np.random.RandomState(3)


def test_pool_v2_dispatches_on_rank():
    x1, x2, x3 = R.rand(2, 8, 3), R.rand(2, 6, 4, 3), R.rand(1, 4, 4, 4, 2)
    outs = [nd.max_pool_v2(x1, 2, 2, "VALID"), nd.avg_pool_v2(x2, [2, 2], [2, 2], "VALID"),
            nd.max_pool_v2(x3, [1, 2, 2, 2, 1], [1, 2, 2, 2, 1], "SAME")]
    assert [o.get_shape().as_list() for o in outs] == [[2, 4, 3], [2, 3, 2, 3], [1, 2, 2, 2, 2]]
    with tf.Session() as s:
        a, b, c = s.run(outs)
    np.testing.assert_allclose(a, x1.reshape(2, 4, 2, 3).max(axis=2))
    np.testing.assert_allclose(b, x2.reshape(2, 3, 2, 2, 2, 3).mean(axis=(2, 4)))
    np.testing.assert_allclose(c, x3.reshape(1, 2, 2, 2, 2, 2, 2, 2).max(axis=(2, 4, 6)))
    with pytest.raises(ValueError, match="rank 3, 4 or 5"):
        nd.max_pool_v2(R.rand(2, 3), 1, 1, "VALID")
    with pytest.raises(ValueError, match="rank or a data format"):
        nd.avg_pool_v2(tf.placeholder(tf.float32), 2, 2, "VALID")


def test_conv_transpose_dispatches_on_output_shape_length():
    w2 = R.rand(3, 3, 2, 4)
    y2 = nd.conv_transpose(R.rand(1, 4, 4, 4), w2, [1, 8, 8, 2], 2)
    want2 = tf.nn.conv2d_transpose(R.rand(1, 4, 4, 4), w2, [1, 8, 8, 2], [1, 2, 2, 1])
    assert y2.get_shape().as_list() == [1, 8, 8, 2] and want2.op.type == y2.op.type
    y1 = nd.conv_transpose(R.rand(1, 4, 4), R.rand(3, 2, 4), [1, 8, 2], 2)
    y3 = nd.conv_transpose(R.rand(1, 2, 2, 2, 4), R.rand(2, 2, 2, 2, 4), tf.constant([1, 4, 4, 4, 2]), 2)
    assert y1.get_shape().as_list() == [1, 8, 2] and y3.get_shape()[-1] == 2
    with pytest.raises(ValueError, match="length 3, 4 or 5"):
        nd.conv_transpose(R.rand(1, 4, 4, 4), w2, [8, 8], 2)
    with pytest.raises(ValueError, match="tensor or sized collection"):
        nd.conv_transpose(R.rand(1, 4, 4, 4), w2, 8, 2)


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_with_space_to_batch_is_atrous_convolution(padding):
    x, w = R.rand(2, 9, 8, 3), R.rand(3, 3, 3, 4)
    ph = tf.placeholder(tf.float64, [None, None, None, 3])

    def conv(inp, n, pad):
        assert n == 2 and pad == "VALID"
        return tf.nn.convolution(inp, w, pad)

    static = nd.with_space_to_batch(x, [2, 2], padding, conv, filter_shape=w.shape)
    dynamic = nd.with_space_to_batch(ph, [2, 2], padding, conv, filter_shape=w.shape)
    want = tf.nn.atrous_conv2d(x, w, 2, padding)
    plain = nd.with_space_to_batch(x, [1, 1], padding, lambda i, n, p: tf.nn.convolution(i, w, p))
    with tf.Session() as s:
        a, b, c, d = s.run([static, dynamic, want, plain], {ph: x})
    np.testing.assert_allclose(a, c)
    np.testing.assert_allclose(b, c)
    np.testing.assert_allclose(d, _plain_conv(x, w, padding))


def _plain_conv(x, w, padding):
    with tf.Session() as s:
        return s.run(tf.nn.conv2d(x, w, [1, 1, 1, 1], padding))


def test_with_space_to_batch_errors():
    x = tf.zeros([1, 4, 4, 1])
    with pytest.raises(ValueError, match="filter_shape must be specified"):
        nd.with_space_to_batch(x, [2, 2], "SAME", lambda i, n, p: i)
    with pytest.raises(ValueError, match="Invalid padding"):
        nd.with_space_to_batch(x, [2, 2], "FULL", lambda i, n, p: i)
    with pytest.raises(ValueError, match="positive"):
        nd.with_space_to_batch(x, [0, 2], "VALID", lambda i, n, p: i)
    with pytest.raises(ValueError, match="constant"):
        nd.with_space_to_batch(x, tf.placeholder(tf.int32, [2]), "VALID", lambda i, n, p: i)


def test_depthwise_backprop_aliases_match_the_native_ops():
    x, w = R.rand(1, 5, 5, 2), R.rand(3, 3, 2, 2)
    g = R.rand(1, 5, 5, 4)
    a = nd.depthwise_conv2d_backprop_input([1, 5, 5, 2], w, g, [1, 1, 1, 1], "SAME")
    b = nd.depthwise_conv2d_backprop_filter(x, [3, 3, 2, 2], g, [1, 1, 1, 1], "SAME")
    assert a.op.type == "DepthwiseConv2dNativeBackpropInput" and b.op.type == "DepthwiseConv2dNativeBackpropFilter"
    xt, wt = tf.constant(x), tf.constant(w)
    gx, gw = tf.gradients(tf.nn.depthwise_conv2d(xt, wt, [1, 1, 1, 1], "SAME"), [xt, wt], grad_ys=tf.constant(g))
    with tf.Session() as s:
        av, bv, gxv, gwv = s.run([a, b, gx, gw])
    np.testing.assert_allclose(av, gxv)
    np.testing.assert_allclose(bv, gwv)


def test_collapse_repeated_and_unique_labels():
    labels = np.array([[1, 1, 2, 2, 3], [4, 4, 4, 0, 0], [5, 6, 6, 7, 7]], np.int32)
    collapsed, lengths = tf.nn.collapse_repeated(labels, np.array([5, 3, 4], np.int64))
    assert lengths.dtype == tf.int64 and collapsed.get_shape()[0] == 3
    uniq, idx = tf.nn.ctc_unique_labels([[3, 4, 4, 3], [1, 1, 1, 0]])
    with tf.Session() as s:
        c, n, u, i = s.run([collapsed, lengths, uniq, idx])
    assert c.tolist() == [[1, 2, 3], [4, 0, 0], [5, 6, 7]] and n.tolist() == [3, 1, 3]
    assert u.dtype == np.int64 and u.tolist() == [[3, 4, 0, 0], [1, 0, 0, 0]]
    assert i.tolist() == [[0, 1, 1, 0], [0, 0, 0, 1]]
