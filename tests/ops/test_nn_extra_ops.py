"""relu6 / elu / leaky_relu / softplus / top_k / in_top_k: TF1 signatures, names, errors, semantics."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.ops import nn_extra_ops as nx


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


# -- activations ----------------------------------------------------------------------------------
@pytest.mark.parametrize("fn,op_type", [(nx.relu6, "Relu6"), (nx.elu, "Elu"), (nx.softplus, "Softplus"),
                                        (nx.leaky_relu, "LeakyRelu")])
def test_activation_default_names_and_types(fn, op_type):
    y = fn(tf.constant([1.0, -2.0]))
    assert y.op.type == op_type
    assert y.op.name == op_type
    z = fn(tf.constant([1.0]), name="act")
    assert z.op.name == "act"


def test_activations_are_exported_under_tf_nn():
    for name in ("relu6", "elu", "leaky_relu", "softplus", "top_k", "in_top_k", "embedding_lookup", "moments",
                 "batch_normalization", "l2_normalize", "xw_plus_b", "weighted_cross_entropy_with_logits"):
        assert callable(getattr(tf.nn, name)), name


def test_leaky_relu_alpha_attr_and_int_input():
    y = nx.leaky_relu(tf.constant([-2, 3]), alpha=0.5)
    assert y.dtype == tf.float32
    assert y.op.get_attr("alpha") == 0.5
    np.testing.assert_allclose(_run(y), [-1.0, 3.0])
    y2 = nx.leaky_relu(tf.constant([-2.0]), alpha=np.float32(0.25))
    np.testing.assert_allclose(_run(y2), [-0.5])


def test_leaky_relu_alpha_must_be_constant():
    a = tf.placeholder(tf.float32, [])
    with pytest.raises(TypeError, match="alpha"):
        nx.leaky_relu(tf.constant([1.0]), alpha=a)


def test_elu_rejects_int():
    with pytest.raises(TypeError, match="Elu"):
        nx.elu(tf.constant([1, 2]))


def test_relu6_gradient_zero_outside_and_at_bounds():
    x = tf.constant([-1.0, 0.0, 3.0, 6.0, 7.0])
    g = tf.gradients(nx.relu6(x), x)[0]
    np.testing.assert_array_equal(_run(g), [0, 0, 1, 0, 0])


def test_softplus_large_values_do_not_overflow():
    x = tf.constant([-1000.0, 1000.0], dtype=tf.float32)
    y, g = _run([nx.softplus(x), tf.gradients(nx.softplus(x), x)[0]])
    np.testing.assert_allclose(y, [0.0, 1000.0])
    np.testing.assert_allclose(g, [0.0, 1.0])


def test_elu_second_derivative():
    x = tf.constant([-1.0, 2.0], dtype=tf.float64)
    g = tf.gradients(nx.elu(x), x)[0]
    gg = tf.gradients(g, x)[0]
    np.testing.assert_allclose(_run(gg), [np.exp(-1.0), 0.0])


# -- top_k ----------------------------------------------------------------------------------------
def test_top_k_returns_values_and_indices():
    x = tf.constant([[1.0, 5.0, 3.0], [9.0, 2.0, 4.0]])
    res = nx.top_k(x, k=2)
    values, indices = res
    assert res.values is values and res.indices is indices
    assert values.op.type == "TopKV2" and values.op.name == "TopKV2"
    assert indices.dtype == tf.int32
    assert values.get_shape().as_list() == [2, 2]
    assert values.op.get_attr("sorted") is True
    v, i = _run([values, indices])
    np.testing.assert_array_equal(v, [[5, 3], [9, 4]])
    np.testing.assert_array_equal(i, [[1, 2], [0, 2]])


def test_top_k_errors_name_the_op():
    x = tf.constant([[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="at least k columns.*TopKV2"):
        nx.top_k(x, 4)
    with pytest.raises(ValueError, match="Need k >= 0"):
        nx.top_k(x, -1)
    with pytest.raises(ValueError, match="at least rank 1"):
        nx.top_k(tf.constant(1.0), 1)


def test_top_k_dynamic_k_and_unknown_shape():
    x = tf.placeholder(tf.float32, [None, None])
    k = tf.placeholder(tf.int32, [])
    v, i = nx.top_k(x, k)
    assert v.get_shape().as_list() == [None, None]
    xs = np.array([[3.0, 1.0, 2.0, 0.5]], np.float32)
    out = _run(v, {x: xs, k: 3})
    np.testing.assert_array_equal(out, [[3.0, 2.0, 1.0]])


def test_top_k_gradient_scatters_into_input_shape():
    x = tf.placeholder(tf.float64, [None, None, 4])
    v, _ = nx.top_k(x, 2)
    g = tf.gradients(v, x, grad_ys=tf.ones_like(v) * 3.0)[0]
    xs = np.array([[[1.0, 4.0, 2.0, 3.0]], [[9.0, 0.0, 8.0, 7.0]]])
    out = _run(g, {x: xs})
    np.testing.assert_array_equal(out, [[[0, 3, 0, 3]], [[3, 0, 3, 0]]])


# -- in_top_k -------------------------------------------------------------------------------------
def test_in_top_k_ties_count_as_in():
    p = tf.constant([[0.1, 0.5, 0.5, 0.2]])
    r = _run([nx.in_top_k(p, [1], 1), nx.in_top_k(p, [2], 1), nx.in_top_k(p, [3], 1), nx.in_top_k(p, [3], 3)])
    assert [bool(x[0]) for x in r] == [True, True, False, True]


def test_in_top_k_name_dtype_and_shape():
    p = tf.placeholder(tf.float32, [None, 10])
    t = tf.placeholder(tf.int64, [None])
    r = nx.in_top_k(p, t, 1)
    assert r.dtype == tf.bool
    assert r.op.type == "InTopKV2"
    assert r.op.name == "in_top_k/InTopKV2"
    assert r.op.inputs[2].dtype == tf.int64
    assert r.get_shape().as_list() == [None]


def test_in_top_k_errors():
    with pytest.raises(TypeError, match="predictions.*float32"):
        nx.in_top_k(tf.constant([[1.0, 2.0]], tf.float64), [0], 1)
    with pytest.raises(ValueError, match="Dimensions must be equal.*InTopKV2"):
        nx.in_top_k(tf.constant([[1.0, 2.0]]), [0, 1], 1)
    with pytest.raises(TypeError):
        nx.in_top_k(tf.constant([[1.0, 2.0]]), tf.constant([0.5]), 1)


def test_in_top_k_mnist_evaluation_pattern():
    # Mechanics 101's evaluation(): correct = in_top_k(logits, labels, 1); sum of cast to int32.
    logits = tf.placeholder(tf.float32, [None, 3])
    labels = tf.placeholder(tf.int32, [None])
    correct = tf.reduce_sum(tf.cast(nx.in_top_k(logits, labels, 1), tf.int32))
    out = _run(correct, {logits: [[0.1, 0.8, 0.1], [0.9, 0.05, 0.05], [0.2, 0.3, 0.5]], labels: [1, 2, 2]})
    assert out == 2
