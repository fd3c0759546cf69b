"""tf.TensorArray: TF 1.x's methods, its run-time checks, shapes, gradients, and use in while loops."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.testing.gradient_check import gradient_check


def test_write_read_stack_unstack_gather_scatter_size():
    x = tf.placeholder(tf.float32, [4, 2])
    src = tf.TensorArray(tf.float32, size=4).unstack(x)
    assert src.element_shape.as_list() == [2]
    out = tf.TensorArray(tf.float32, size=3)
    out = out.write(2, src.read(0)).write(0, src.read(3)).write(1, src.read(1) + 1.0)
    stacked = out.stack()
    assert stacked.get_shape().as_list() == [None, 2] and out.element_shape.as_list() == [2]
    picked = src.gather([3, 1])
    scattered = tf.TensorArray(tf.float32, size=4).scatter([1, 3, 0, 2], x).stack()
    grown = tf.TensorArray(tf.float32, size=0, dynamic_size=True).write(2, [1.0, 2.0])
    xv = np.arange(8, dtype=np.float32).reshape(4, 2)
    with tf.Session() as s:
        st, pk, sc, n, m = s.run([stacked, picked, scattered, out.size(), grown.size()], {x: xv})
    np.testing.assert_array_equal(st, [xv[3], xv[1] + 1, xv[0]])
    np.testing.assert_array_equal(pk, xv[[3, 1]])
    np.testing.assert_array_equal(sc, xv[[2, 0, 3, 1]])
    assert n == 3 and m == 3  # a dynamic array grows to the highest index written


def test_run_time_errors_name_the_index():
    ta = tf.TensorArray(tf.float32, size=2)
    twice = ta.write(0, 1.0).write(0, 2.0).stack()
    unwritten = ta.write(0, 1.0).read(1)
    past_end = ta.write(5, 1.0).stack()
    with tf.Session() as s:
        with pytest.raises(tf.errors.InvalidArgumentError, match="index 0 because it has already been written"):
            s.run(twice)
        with pytest.raises(tf.errors.InvalidArgumentError, match="index 1 because it has not yet been written"):
            s.run(unwritten)
        with pytest.raises(tf.errors.InvalidArgumentError, match="index 5 but array is not resizeable and size is: 2"):
            s.run(past_end)


def test_static_errors():
    ta = tf.TensorArray(tf.float32, size=2, element_shape=[3])
    with pytest.raises(TypeError, match="TensorArray dtype is float32 but Op is trying to write dtype int32"):
        ta.write(0, tf.constant([1, 2, 3]))
    with pytest.raises(ValueError, match="Inconsistent shapes"):
        ta.write(0, tf.zeros([4]))
    with pytest.raises(ValueError, match="size must be given"):
        tf.TensorArray(tf.float32)


def test_gradients_through_every_method():
    def build(x):
        ta = tf.TensorArray(tf.float64, size=3).unstack(x)
        out = tf.TensorArray(tf.float64, size=3).write(0, ta.read(2) * ta.read(0)).write(1, tf.sin(ta.read(1)))
        out = out.write(2, ta.read(0))
        sc = tf.TensorArray(tf.float64, size=3).scatter([2, 0, 1], x * x)
        return [out.stack(), ta.gather([1, 1]), sc.stack()]

    gradient_check(build, [np.random.RandomState(0).randn(3, 2)])


def test_a_loop_over_tensor_arrays_with_an_unknown_length_and_its_gradient():
    r = np.random.RandomState(1)
    xs = tf.placeholder(tf.float64, [None, 3, 4])
    n = tf.shape(xs)[0]
    w = tf.constant(r.randn(9, 5) * 0.3)
    inputs = tf.TensorArray(tf.float64, size=n).unstack(xs)

    def body(t, h, outs):
        h = tf.tanh(tf.matmul(tf.concat([inputs.read(t), h], 1), w))
        return t + 1, h, outs.write(t, h)

    _, _, outs = tf.while_loop(lambda t, h, o: t < n, body, [0, tf.zeros([3, 5], tf.float64),
                                                            tf.TensorArray(tf.float64, size=n)])
    assert isinstance(outs, tf.TensorArray) and outs.element_shape.as_list() == [3, 5]
    ys = outs.stack()
    assert ys.get_shape().as_list() == [None, 3, 5]
    (gx,) = tf.gradients(tf.reduce_sum(ys * ys), xs)
    xv = r.randn(5, 3, 4)
    with tf.Session() as s:
        got, g = s.run([ys, gx], {xs: xv})

    def f(xv):
        h, hs = np.zeros((3, 5)), []
        for t in range(xv.shape[0]):
            h = np.tanh(np.concatenate([xv[t], h], 1) @ s_w)
            hs.append(h)
        return np.stack(hs)

    with tf.Session() as s:
        s_w = s.run(w)
    np.testing.assert_allclose(got, f(xv), rtol=1e-12)
    num = np.zeros_like(xv)
    for idx in np.ndindex(*xv.shape):
        d = np.zeros_like(xv)
        d[idx] = 1e-6
        num[idx] = ((f(xv + d) ** 2).sum() - (f(xv - d) ** 2).sum()) / 2e-6
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8)
