"""tf.nn.dilation2d / erosion2d: values against the naive definition, gradients, shapes and errors."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.testing.samples.morphology import np_dilation2d, np_dilation2d_backprop

R = np.random.RandomState(5)


@pytest.mark.parametrize("strides,rates,padding", [([1, 1, 1, 1], [1, 1, 1, 1], "SAME"),
                                                   ([1, 2, 3, 1], [1, 1, 1, 1], "VALID"),
                                                   ([1, 1, 2, 1], [1, 2, 2, 1], "SAME")])
def test_dilation_and_erosion_values_and_gradients(strides, rates, padding):
    x, f = R.rand(2, 7, 8, 3), R.rand(3, 2, 3)
    xt, ft = tf.constant(x), tf.constant(f)
    y = tf.nn.dilation2d(xt, ft, strides, rates, padding)
    e = tf.nn.erosion2d(xt, ft, strides, rates, padding)
    want = np_dilation2d(x, f, strides, rates, padding)
    assert y.get_shape().as_list() == list(want.shape) and y.op.type == "Dilation2D"
    g = R.randn(*want.shape)
    gx, gf = tf.gradients(y, [xt, ft], grad_ys=tf.constant(g))
    assert gx.op.type == "Dilation2DBackpropInput" and gf.op.type == "Dilation2DBackpropFilter"
    with tf.Session() as s:
        yv, ev, gxv, gfv = s.run([y, e, gx, gf])
    np.testing.assert_allclose(yv, want)
    np.testing.assert_allclose(ev, -np_dilation2d(-x, f[::-1, ::-1], strides, rates, padding))
    wx, wf = np_dilation2d_backprop(x, f, g, strides, rates, padding)
    np.testing.assert_allclose(gxv, wx)
    np.testing.assert_allclose(gfv, wf)


def test_ties_go_to_the_first_tap_and_tf2_argument_names():
    x = np.zeros((1, 3, 3, 1), np.float32)
    y = tf.nn.dilation2d(input=x, filters=np.zeros((2, 2, 1), np.float32), strides=[1, 1, 1, 1],
                         dilations=[1, 1, 1, 1], padding="VALID")
    gx = tf.gradients(y, y.op.inputs[0])[0]
    with tf.Session() as s:
        assert s.run(gx)[0, :, :, 0].tolist() == [[1, 1, 0], [1, 1, 0], [0, 0, 0]]


def test_shape_and_argument_errors():
    x, f = tf.zeros([1, 4, 4, 2]), tf.zeros([2, 2, 2])
    with pytest.raises(ValueError, match=r"strides must be \[1, rows, cols, 1\]"):
        tf.nn.dilation2d(x, f, [2, 1, 1, 1], [1, 1, 1, 1], "SAME")
    with pytest.raises(ValueError, match="padding must be 'SAME' or 'VALID'"):
        tf.nn.dilation2d(x, f, [1, 1, 1, 1], [1, 1, 1, 1], "FULL")
    with pytest.raises(ValueError, match="depth 2 must equal filter depth 3"):
        tf.nn.dilation2d(x, tf.zeros([2, 2, 3]), [1, 1, 1, 1], [1, 1, 1, 1], "SAME")
    with pytest.raises(ValueError, match="larger than the input"):
        tf.nn.dilation2d(x, f, [1, 1, 1, 1], [1, 4, 1, 1], "VALID")
    with pytest.raises(ValueError, match="input must be 4-D"):
        tf.nn.dilation2d(tf.zeros([4, 4, 2]), f, [1, 1, 1, 1], [1, 1, 1, 1], "SAME")
    with pytest.raises(TypeError, match="needs filter"):
        tf.nn.dilation2d(x, f, [1, 1, 1, 1])
    y = tf.nn.dilation2d(x, f, [1, 1, 1, 1], [1, 1, 1, 1], "SAME")
    gx = tf.gradients(tf.reduce_sum(y), x)[0]
    with pytest.raises(LookupError, match="No gradient defined"):
        tf.gradients(tf.reduce_sum(gx), x)
