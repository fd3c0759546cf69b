"""custom_gradient, recompute_grad, hessians, AggregationMethod, UnconnectedGradients, no_gradient (graph mode,
TF 1.x semantics)."""

import numpy as np
import pytest

import labflow as tf
from labflow.ops.template import (
    AggregationMethod,
    UnconnectedGradients,
    custom_gradient,
    hessians,
    no_gradient,
    recompute_grad,
)


def _run(fetches, feed=None):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed)


def test_custom_gradient_replaces_the_gradient():
    tf.reset_default_graph()

    @custom_gradient
    def log1pexp(x):
        e = tf.exp(x)

        def grad(dy):
            return dy * (1 - 1 / (1 + e))
        return tf.log(1 + e), grad

    x = tf.constant([100.0, 0.0])
    y = log1pexp(x)
    assert y.op.type == "IdentityN"
    dx = tf.gradients(y, x)[0]
    np.testing.assert_allclose(_run(dx), [1.0, 0.5])
    # A gradient seed reaches grad_fn as dy.
    np.testing.assert_allclose(_run(tf.gradients(y, x, grad_ys=tf.constant([2.0, 4.0]))[0]), [2.0, 2.0])


def test_several_inputs_and_outputs():
    tf.reset_default_graph()

    @custom_gradient
    def two(a, b):
        def grad(d1, d2):
            return d1 + d2, 2 * d2
        return (a * b, a + b), grad

    a, b = tf.constant(1.0), tf.constant(2.0)
    p, q = two(a, b)
    assert _run([p, q]) == [2.0, 3.0]
    assert _run(tf.gradients(p + 3 * q, [a, b])) == [4.0, 6.0]
    # An output nothing depends on gets a zero gradient.
    assert _run(tf.gradients(p, [a, b])) == [1.0, 0.0]


def test_variables_are_passed_to_grad_fn():
    tf.reset_default_graph()
    w = tf.Variable(2.0, name="w")
    seen = []

    @custom_gradient
    def scale(x):
        def grad(dy, variables=None):
            seen.append([v.name for v in variables])
            return dy * 10.0, [dy * 100.0]
        return x * w, grad

    z = scale(tf.constant(3.0))
    gx, gw = tf.gradients(z, [tf.get_default_graph().get_tensor_by_name("Const:0"), w])
    assert _run([z, gx, gw]) == [6.0, 10.0, 100.0]
    assert seen == [["w:0"]]


def test_grad_fn_must_take_variables_when_f_reads_them():
    tf.reset_default_graph()
    w = tf.Variable(2.0)

    def f(x):
        return x * w, lambda dy: dy

    with pytest.raises(TypeError, match="must accept keyword argument 'variables'"):
        custom_gradient(f)(tf.constant(1.0))


def test_wrong_number_of_gradients_is_reported():
    tf.reset_default_graph()

    @custom_gradient
    def f(a, b):
        return a * b, lambda dy: dy

    y = f(tf.constant(1.0), tf.constant(2.0))
    with pytest.raises(ValueError, match="returned 1 gradients for 2 inputs"):
        tf.gradients(y, [tf.get_default_graph().get_tensor_by_name("Const:0")])


def test_keyword_arguments_are_rejected_in_graph_mode():
    tf.reset_default_graph()

    @custom_gradient
    def f(x, scale=1.0):
        return x * scale, lambda dy: dy

    with pytest.raises(ValueError, match="keywords arguments only when eager"):
        f(tf.constant(1.0), scale=2.0)


def test_recompute_grad_matches_plain_gradients():
    tf.reset_default_graph()

    def block(x):
        v = tf.get_variable("v", [], dtype=tf.float64, initializer=tf.constant_initializer(3.0))
        return tf.sin(x) * v

    x = tf.constant([0.5, 1.0], tf.float64)
    with tf.variable_scope("R"):
        r = recompute_grad(block)(x)
    assert len(tf.global_variables()) == 1
    grads = tf.gradients(tf.reduce_sum(r), [x] + tf.trainable_variables())
    gx, gv = _run(grads)
    np.testing.assert_allclose(gx, 3 * np.cos([0.5, 1.0]))
    np.testing.assert_allclose(gv, np.sin([0.5, 1.0]).sum())
    # The recomputation runs in the backward pass: a second copy of block's Sin exists.
    sins = [op for op in tf.get_default_graph().get_operations() if op.type == "Sin"]
    assert len(sins) == 2


def test_hessians_against_analytic():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float64, [3])
    h = hessians(tf.reduce_sum(x * x * x), x)[0]
    assert h.get_shape().as_list() == [3, 3]
    np.testing.assert_allclose(_run(h, {x: [1.0, 2.0, 3.0]}), np.diag([6.0, 12.0, 18.0]))
    v = tf.Variable([[1.0, 2.0], [3.0, 4.0]], dtype=tf.float64)
    h2 = hessians(tf.reduce_sum(v * v) * tf.reduce_sum(v), v)[0]
    assert h2.get_shape().as_list() == [2, 2, 2, 2]
    vals = np.array([1.0, 2.0, 3.0, 4.0])
    want = 2 * np.eye(4) * vals.sum() + 2 * vals[:, None] + 2 * vals[None, :]
    np.testing.assert_allclose(_run(h2).reshape(4, 4), want)


def test_hessians_of_unconnected_x_is_none_and_unknown_shape_is_an_error():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [2])
    y = tf.placeholder(tf.float32, [2])
    assert hessians(tf.reduce_sum(x * x), [y]) == [None]
    z = tf.placeholder(tf.float32, [None])
    with pytest.raises(ValueError, match="static shape"):
        hessians(tf.reduce_sum(z * z), z)


def test_unconnected_gradients():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [2])
    y = tf.placeholder(tf.float32, [2])
    v = tf.Variable([[1.0, 2.0]])
    assert tf.gradients(x * 2, [y]) == [None]
    assert tf.gradients(x * 2, [y], unconnected_gradients=UnconnectedGradients.NONE) == [None]
    gy, gv, gx = tf.gradients(x * 2, [y, v, x], unconnected_gradients="zero")
    assert gy.get_shape().as_list() == [2]
    out = _run([gy, gv, gx], {x: [1.0, 1.0], y: [3.0, 4.0]})
    np.testing.assert_allclose(out[0], [0.0, 0.0])
    np.testing.assert_allclose(out[1], [[0.0, 0.0]])
    np.testing.assert_allclose(out[2], [2.0, 2.0])
    with pytest.raises(ValueError, match="Unknown value for unconnected_gradients: 'bad'"):
        tf.gradients(x * 2, [x], unconnected_gradients="bad")


def test_aggregation_methods():
    assert (AggregationMethod.ADD_N, AggregationMethod.DEFAULT, AggregationMethod.EXPERIMENTAL_TREE,
            AggregationMethod.EXPERIMENTAL_ACCUMULATE_N) == (0, 0, 1, 2)
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [2])
    for method in (AggregationMethod.ADD_N, AggregationMethod.EXPERIMENTAL_TREE,
                   AggregationMethod.EXPERIMENTAL_ACCUMULATE_N):
        g = tf.gradients(x * x + 3 * x, x, aggregation_method=method)[0]
        np.testing.assert_allclose(_run(g, {x: [1.0, 2.0]}), [5.0, 7.0])
    with pytest.raises(ValueError, match="Invalid `aggregation_method` specified 7"):
        tf.gradients(x * 2, [x], aggregation_method=7)


def test_no_gradient_alias():
    assert no_gradient is tf.NoGradient
