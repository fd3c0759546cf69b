"""tf.layers: naming, variable sharing, shapes, dropout/batch-norm semantics, and training small models."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow import layers, losses
from labflow.ops.conv_ops import conv2d as nn_conv2d

R = np.random.RandomState(1)


def _names(vs):
    return [v.name for v in vs]


# -- naming and reuse -----------------------------------------------------------------------------
def test_dense_unique_default_names_and_variables():
    x = tf.placeholder(tf.float32, [None, 4])
    h = layers.dense(x, 3)
    y = layers.dense(h, 2, activation=tf.nn.relu)
    assert _names(tf.global_variables()) == ["dense/kernel:0", "dense/bias:0", "dense_1/kernel:0",
                                             "dense_1/bias:0"]
    assert _names(tf.trainable_variables()) == _names(tf.global_variables())
    assert h.op.name == "dense/BiasAdd"
    assert y.op.type == "Relu" and y.op.name.startswith("dense_1/")
    assert h.get_shape().as_list() == [None, 3]
    kernel = tf.global_variables()[0]
    assert kernel.get_shape().as_list() == [4, 3]


def test_same_name_twice_without_reuse_errors_like_tf():
    x = tf.placeholder(tf.float32, [None, 4])
    layers.dense(x, 3, name="fc")
    with pytest.raises(ValueError, match="Variable fc/kernel already exists, disallowed"):
        layers.dense(x, 3, name="fc")


def test_reuse_shares_weights():
    x = tf.placeholder(tf.float32, [None, 4])
    a = layers.dense(x, 3, name="fc")
    b = layers.dense(x, 3, name="fc", reuse=True)
    with tf.variable_scope("model"):
        c = layers.dense(x, 3)
    with tf.variable_scope("model", reuse=True):
        d = layers.dense(x, 3)
    with tf.variable_scope("auto", reuse=tf.AUTO_REUSE):
        e1 = layers.dense(x, 3, name="shared")
    with tf.variable_scope("auto", reuse=tf.AUTO_REUSE):
        e2 = layers.dense(x, 3, name="shared")
    assert _names(tf.trainable_variables()) == ["fc/kernel:0", "fc/bias:0", "model/dense/kernel:0",
                                                "model/dense/bias:0", "auto/shared/kernel:0", "auto/shared/bias:0"]
    assert b.op.name.startswith("fc_1/")
    xs = R.randn(2, 4).astype(np.float32)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        av, bv, cv, dv, e1v, e2v = s.run([a, b, c, d, e1, e2], {x: xs})
    np.testing.assert_array_equal(av, bv)
    np.testing.assert_array_equal(cv, dv)
    np.testing.assert_array_equal(e1v, e2v)


def test_reuse_of_missing_layer_errors():
    x = tf.placeholder(tf.float32, [None, 4])
    with pytest.raises(ValueError, match="does not exist"):
        layers.dense(x, 3, name="nope", reuse=True)


def test_layer_object_called_twice_reuses_its_weights():
    layer = layers.Dense(5, name="proj")
    x1 = tf.placeholder(tf.float32, [None, 3])
    x2 = tf.placeholder(tf.float32, [None, 3])
    y1 = layer.apply(x1)
    y2 = layer(x2)
    assert len(tf.trainable_variables()) == 2
    assert layer.built and layer.name == "proj" and layer.scope_name == "proj"
    assert layer.kernel.name == "proj/kernel:0" and layer.bias.name == "proj/bias:0"
    assert _names(layer.trainable_weights) == ["proj/kernel:0", "proj/bias:0"]
    assert _names(layer.variables) == _names(layer.weights) == ["proj/kernel:0", "proj/bias:0"]
    assert layer.non_trainable_weights == []
    assert y1.op.name.startswith("proj/") and y2.op.name.startswith("proj/")
    assert layer.count_params() == 20


def test_unnamed_layer_objects_get_unique_scopes():
    x = tf.placeholder(tf.float32, [None, 3])
    a, b = layers.Dense(2), layers.Dense(2)
    a(x)
    b(x)
    assert (a.name, b.name) == ("dense", "dense_1")
    conv = layers.Conv2D(4, 3)
    with pytest.raises(ValueError, match="has not been used yet"):
        _ = conv.scope_name


def test_non_trainable_layer_and_regularizers():
    x = tf.placeholder(tf.float32, [None, 3])
    layer = layers.Dense(2, trainable=False, kernel_regularizer=lambda w: tf.reduce_sum(tf.square(w)),
                         activity_regularizer=lambda a: tf.reduce_mean(a))
    layer(x)
    assert tf.trainable_variables() == []
    assert len(layer.non_trainable_weights) == 2 and layer.trainable_weights == []
    reg = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    assert len(reg) == 2 and layer.losses == reg


def test_layers_inside_scopes_get_prefixed():
    x = tf.placeholder(tf.float32, [None, 8, 8, 1])
    with tf.variable_scope("net"):
        h = layers.conv2d(x, 2, 3, name="c1")
        h = layers.max_pooling2d(h, 2, 2)
    assert _names(tf.global_variables()) == ["net/c1/kernel:0", "net/c1/bias:0"]
    assert h.op.name == "net/max_pooling2d/MaxPool"


# -- shapes ---------------------------------------------------------------------------------------
def test_dense_on_rank3_inputs():
    x = tf.placeholder(tf.float32, [None, 5, 4])
    y = layers.dense(x, 3)
    assert y.get_shape().as_list() == [None, 5, 3]
    xs = R.randn(2, 5, 4).astype(np.float32)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        k, b, out = s.run(tf.trainable_variables() + [y], {x: xs})
    np.testing.assert_allclose(out, xs @ k + b, rtol=1e-5)


def test_dense_errors():
    with pytest.raises(ValueError, match="last dimension of the inputs to `Dense` should be defined"):
        layers.dense(tf.placeholder(tf.float32, [None, None]), 3)
    with pytest.raises(ValueError, match="min_ndim=2"):
        layers.dense(tf.placeholder(tf.float32, [3]), 3)
    with pytest.raises(ValueError, match="units"):
        layers.Dense(0)


def test_dense_float64_inputs_make_float64_weights():
    y = layers.dense(tf.placeholder(tf.float64, [None, 2]), 1)
    assert y.dtype == tf.float64 and tf.trainable_variables()[0].dtype.base_dtype == tf.float64


@pytest.mark.parametrize("padding,strides,want", [("valid", 1, [None, 26, 26, 8]), ("same", 1, [None, 28, 28, 8]),
                                                  ("SAME", 2, [None, 14, 14, 8]), ("valid", (2, 3), [None, 13, 9, 8])])
def test_conv2d_shapes(padding, strides, want):
    x = tf.placeholder(tf.float32, [None, 28, 28, 3])
    y = layers.conv2d(x, 8, 3, strides=strides, padding=padding)
    assert y.get_shape().as_list() == want
    kernel = tf.trainable_variables()[0]
    assert kernel.name == "conv2d/kernel:0" and kernel.get_shape().as_list() == [3, 3, 3, 8]
    assert y.op.type == "BiasAdd" and y.op.inputs[0].op.type == "Conv2D"
    assert layers.Conv2D(8, 3, strides=strides, padding=padding).compute_output_shape(
        [None, 28, 28, 3]).as_list() == want


def test_conv2d_matches_nn_conv2d_and_dilation():
    x = R.randn(2, 7, 7, 2).astype(np.float32)
    layer = layers.Conv2D(3, (3, 2), dilation_rate=2, padding="same", use_bias=False)
    y = layer(tf.constant(x))
    ref = nn_conv2d(x, layer.kernel, strides=[1, 1, 1, 1], padding="SAME", dilations=[1, 2, 2, 1])
    assert layer.bias is None
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        a, b = s.run([y, ref])
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_conv2d_argument_errors():
    with pytest.raises(ValueError, match='`padding` argument must be one of "valid", "same"'):
        layers.Conv2D(4, 3, padding="full")
    with pytest.raises(ValueError, match="`kernel_size` argument must be a tuple of 2 integers"):
        layers.Conv2D(4, (3, 3, 3))
    with pytest.raises(ValueError, match="data_format"):
        layers.Conv2D(4, 3, data_format="NHWC")
    with pytest.raises(ValueError, match="dilation_rate"):
        layers.Conv2D(4, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="channel dimension of the inputs should be defined"):
        layers.conv2d(tf.placeholder(tf.float32, [None, 5, 5, None]), 4, 3)


def test_pooling_shapes_and_values():
    x = R.randn(1, 4, 4, 2).astype(np.float32)
    mp = layers.max_pooling2d(x, 2, 2)
    ap = layers.average_pooling2d(x, [2, 2], [2, 2], padding="same")
    mp3 = layers.MaxPooling2D(3, 1, padding="valid")(tf.constant(x))
    assert mp.get_shape().as_list() == [1, 2, 2, 2] and mp3.get_shape().as_list() == [1, 2, 2, 2]
    assert mp.op.name == "max_pooling2d/MaxPool" and ap.op.name == "average_pooling2d/AvgPool"
    with tf.Session() as s:
        m, a = s.run([mp, ap])
    blocks = x.reshape(1, 2, 2, 2, 2, 2).transpose(0, 1, 3, 2, 4, 5)
    np.testing.assert_allclose(m, blocks.max(axis=(3, 4)))
    np.testing.assert_allclose(a, blocks.mean(axis=(3, 4)), rtol=1e-6)


def test_flatten():
    x = tf.placeholder(tf.float32, [None, 3, 4, 5])
    f = layers.flatten(x)
    assert f.get_shape().as_list() == [None, 60]
    u = layers.flatten(tf.placeholder(tf.float32, [None, None, 2]))
    assert u.get_shape().as_list() == [None, None]
    xs = R.randn(2, 3, 4, 5).astype(np.float32)
    with tf.Session() as s:
        np.testing.assert_array_equal(s.run(f, {x: xs}), xs.reshape(2, 60))
    cf = layers.flatten(tf.constant(xs), data_format="channels_first")
    with tf.Session() as s:
        np.testing.assert_array_equal(s.run(cf), xs.transpose(0, 2, 3, 1).reshape(2, 60))


# -- dropout --------------------------------------------------------------------------------------
def test_dropout_python_bool_training():
    x = tf.ones([1000])
    off = layers.dropout(x, rate=0.5)
    on = layers.dropout(x, rate=0.5, training=True, seed=1)
    with tf.Session() as s:
        o, n = s.run([off, on])
    np.testing.assert_array_equal(o, np.ones(1000))
    assert set(np.unique(n)) <= {0.0, 2.0}
    assert 350 < np.count_nonzero(n) < 650


def test_dropout_training_tensor():
    training = tf.placeholder(tf.bool, [])
    x = tf.ones([400, 5])
    y = layers.Dropout(rate=0.25, noise_shape=[400, 1])(x, training=training)
    assert y.get_shape().as_list() == [400, 5]
    with tf.Session() as s:
        np.testing.assert_array_equal(s.run(y, {training: False}), np.ones((400, 5)))
        t = s.run(y, {training: True})
    rows = t[:, 0]
    assert set(np.unique(rows)) <= {0.0, np.float32(1.0 / 0.75)}
    assert np.all(t == rows[:, None])  # whole rows dropped together
    const = layers.dropout(x, training=tf.constant(False))
    with tf.Session() as s:
        np.testing.assert_array_equal(s.run(const), np.ones((400, 5)))


def test_dropout_gradient_through_training_tensor():
    training = tf.placeholder_with_default(True, [])
    x = tf.Variable(np.ones((50,), np.float32))
    y = layers.dropout(x, rate=0.5, training=training)
    g = tf.gradients(tf.reduce_sum(y), x)[0]
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        yv, gv = s.run([y, g])
        np.testing.assert_array_equal(yv, gv)
        np.testing.assert_array_equal(s.run(g, {training: False}), np.ones(50))


# -- batch normalization --------------------------------------------------------------------------
def test_batch_normalization_training_and_updates():
    x = tf.placeholder(tf.float32, [None, 3])
    y = layers.batch_normalization(x, training=True, momentum=0.5)
    names = _names(tf.global_variables())
    assert names == ["batch_normalization/gamma:0", "batch_normalization/beta:0",
                     "batch_normalization/moving_mean:0", "batch_normalization/moving_variance:0"]
    assert _names(tf.trainable_variables()) == names[:2]
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    assert len(updates) == 2
    xs = (R.randn(16, 3) * 2 + 5).astype(np.float32)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        out, _ = s.run([y, updates], {x: xs})
        mm, mv = s.run(tf.global_variables()[2:])
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(0), np.sqrt(xs.var(0) / (xs.var(0) + 1e-3)), rtol=1e-4)
    np.testing.assert_allclose(mm, 0.5 * xs.mean(0), rtol=1e-5)
    np.testing.assert_allclose(mv, 0.5 + 0.5 * xs.var(0), rtol=1e-5)


def test_batch_normalization_inference_uses_moving_stats_and_training_tensor():
    x = tf.placeholder(tf.float32, [None, 2, 2, 3])
    training = tf.placeholder(tf.bool, [])
    bn = layers.BatchNormalization(momentum=0.0)
    y = bn(x, training=training)
    xs = (R.randn(4, 2, 2, 3) + 3).astype(np.float32)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        inf = s.run(y, {x: xs, training: False})
        np.testing.assert_allclose(inf, xs / np.sqrt(1 + 1e-3), rtol=1e-5)
        s.run([y] + bn.updates, {x: xs, training: False})
        np.testing.assert_array_equal(s.run(bn.moving_mean), np.zeros(3))
        s.run([y] + bn.updates, {x: xs, training: True})
        mm, mv = s.run([bn.moving_mean, bn.moving_variance])
    flat = xs.reshape(-1, 3)
    np.testing.assert_allclose(mm, flat.mean(0), rtol=1e-5)
    # 4-D input: TF's fused kernel feeds the unbiased variance to the moving average.
    np.testing.assert_allclose(mv, flat.var(0, ddof=1), rtol=1e-4)


def test_batch_normalization_channels_first_axis():
    xs = R.randn(5, 3, 4, 4).astype(np.float32)
    y = layers.batch_normalization(tf.constant(xs), axis=1, training=True)
    assert tf.trainable_variables()[0].get_shape().as_list() == [3]
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        out = s.run(y)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-5)


# -- training ------------------------------------------------------------------------------------
def test_train_a_tiny_mlp():
    rs = np.random.RandomState(0)
    xs = rs.randn(200, 2).astype(np.float32)
    ys = (xs[:, 0] * xs[:, 1] > 0).astype(np.int64)  # XOR-like quadrants: needs the hidden layer
    tf.set_random_seed(0)
    x = tf.placeholder(tf.float32, [None, 2])
    y = tf.placeholder(tf.int64, [None])
    h = layers.dense(x, 16, activation=tf.nn.relu)
    logits = layers.dense(h, 2)
    loss = losses.sparse_softmax_cross_entropy(y, logits)
    train = tf.train.AdamOptimizer(0.05).minimize(loss)
    acc = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), y), tf.float32))
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        for _ in range(300):
            s.run(train, {x: xs, y: ys})
        assert s.run(acc, {x: xs, y: ys}) > 0.95


def test_train_a_tiny_cnn():
    rs = np.random.RandomState(0)
    xs = rs.rand(64, 8, 8, 1).astype(np.float32)
    ys = np.zeros(64, np.int64)
    xs[32:, :, 4:, :] += 1.0  # class 1: bright right half
    ys[32:] = 1
    tf.set_random_seed(1)
    x = tf.placeholder(tf.float32, [None, 8, 8, 1])
    y = tf.placeholder(tf.int64, [None])
    training = tf.placeholder_with_default(False, [])
    h = layers.conv2d(x, 4, 3, padding="same", activation=tf.nn.relu)
    h = layers.max_pooling2d(h, 2, 2)
    h = layers.flatten(h)
    h = layers.dropout(h, rate=0.2, training=training)
    logits = layers.dense(h, 2)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        first = s.run(loss, {x: xs, y: ys})
        for _ in range(60):
            s.run(train, {x: xs, y: ys, training: True})
        last = s.run(loss, {x: xs, y: ys})
    assert last < first * 0.5
