"""tf.layers conv1d/conv3d/separable_conv2d/conv2d_transpose and 1-D/3-D pooling: weights, shapes, values,
variable scopes and errors."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.testing.samples.conv import ref_avg_pool, ref_conv2d, ref_conv2d_backprop_input, ref_max_pool
from labflow.testing.samples.conv_extra import ref_conv3d, ref_conv3d_backprop_input, ref_depthwise, ref_max_pool3d

R = np.random.RandomState(9)


def _init_run(fetches, feed=None):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed)


def _run_with_weights(y, names, feed=None):
    """y's value and the named variables' values, from one session (one random initialization)."""
    by_name = {v.op.name: v for v in tf.global_variables()}
    out = _init_run([y] + [by_name[n] for n in names], feed)
    return out[0], out[1:]


def test_conv1d_layer():
    x = R.randn(2, 9, 3)
    y = tf.layers.conv1d(tf.constant(x), 4, 3, strides=2, padding="same", activation=tf.nn.relu)
    assert y.shape.as_list() == [2, 5, 4]
    assert sorted(v.op.name for v in tf.trainable_variables()) == ["conv1d/bias", "conv1d/kernel"]
    got, (k, b) = _run_with_weights(y, ["conv1d/kernel", "conv1d/bias"])
    assert k.shape == (3, 3, 4)
    want = np.maximum(ref_conv2d(x[:, None], k[None], (1, 2))[:, 0] + b, 0)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_conv1d_layer_channels_first_and_dilation():
    x = R.randn(2, 3, 10).astype(np.float32)
    layer = tf.layers.Conv1D(2, 3, dilation_rate=2, data_format="channels_first", name="c1")
    y = layer.apply(tf.constant(x))
    assert y.shape.as_list() == [2, 2, 6]
    got, (k, b) = _run_with_weights(y, ["c1/kernel", "c1/bias"])
    want = ref_conv2d(x.transpose(0, 2, 1)[:, None], k[None], padding="VALID", d=(1, 2))[:, 0] + b
    np.testing.assert_allclose(got, want.transpose(0, 2, 1), rtol=1e-5, atol=1e-6)
    assert layer.compute_output_shape([2, 3, 10]).as_list() == [2, 2, 6]


def test_conv3d_layer():
    x = R.randn(1, 4, 5, 6, 2)
    y = tf.layers.conv3d(tf.constant(x), 3, (2, 3, 3), strides=(1, 2, 2), padding="same", use_bias=False)
    assert y.shape.as_list() == [1, 4, 3, 3, 3]
    got, (k,) = _run_with_weights(y, ["conv3d/kernel"])
    np.testing.assert_allclose(got, ref_conv3d(x, k, (1, 2, 2), "SAME"), rtol=1e-5)


def test_conv3d_layer_channels_first_bias():
    x = R.randn(1, 2, 3, 4, 4).astype(np.float32)
    y = tf.layers.conv3d(tf.constant(x), 2, 2, data_format="channels_first", name="v",
                         bias_initializer=tf.constant_initializer(0.5))
    assert y.shape.as_list() == [1, 2, 2, 3, 3]
    got, (k,) = _run_with_weights(y, ["v/kernel"])
    want = ref_conv3d(x.transpose(0, 2, 3, 4, 1), k, (1, 1, 1), "VALID").transpose(0, 4, 1, 2, 3) + 0.5
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_separable_conv2d_layer():
    x = R.randn(2, 6, 6, 3)
    y = tf.layers.separable_conv2d(tf.constant(x), 5, 3, depth_multiplier=2, padding="same")
    assert y.shape.as_list() == [2, 6, 6, 5]
    names = sorted(v.op.name for v in tf.trainable_variables())
    assert names == ["separable_conv2d/bias", "separable_conv2d/depthwise_kernel",
                     "separable_conv2d/pointwise_kernel"]
    got, (dk, pk) = _run_with_weights(y, ["separable_conv2d/depthwise_kernel", "separable_conv2d/pointwise_kernel"])
    assert dk.shape == (3, 3, 3, 2) and pk.shape == (1, 1, 6, 5)
    np.testing.assert_allclose(got, ref_conv2d(ref_depthwise(x, dk), pk, padding="VALID"), rtol=1e-5)


def test_conv2d_transpose_layer_shapes_and_values():
    x = R.randn(2, 3, 4, 3)
    y = tf.layers.conv2d_transpose(tf.constant(x), 2, 3, strides=2, padding="valid")
    assert y.shape.as_list() == [2, 7, 9, 2]
    got, (k,) = _run_with_weights(y, ["conv2d_transpose/kernel"])
    assert k.shape == (3, 3, 2, 3)
    want = ref_conv2d_backprop_input((2, 7, 9, 2), k, x, (2, 2), "VALID")
    np.testing.assert_allclose(got, want, rtol=1e-5)
    z = tf.layers.conv2d_transpose(tf.constant(x), 2, 3, strides=2, padding="same")
    assert z.shape.as_list() == [2, 6, 8, 2]


def test_conv2d_transpose_layer_unknown_batch_and_size():
    x = tf.placeholder(tf.float32, [None, None, 4, 3])
    y = tf.layers.conv2d_transpose(x, 2, 2, strides=2, padding="same")
    assert y.shape.as_list()[3] == 2
    got = _init_run(y, {x: np.ones((3, 5, 4, 3), np.float32)})
    assert got.shape == (3, 10, 8, 2)


def test_layer_reuse_and_errors():
    x = tf.zeros([1, 8, 2])
    tf.layers.conv1d(x, 2, 3, name="shared")
    tf.layers.conv1d(x, 2, 3, name="shared", reuse=True)
    assert len(tf.trainable_variables()) == 2
    with pytest.raises(ValueError, match="expected ndim=3"):
        tf.layers.conv1d(tf.zeros([1, 4, 4, 2]), 2, 3)
    with pytest.raises(ValueError, match="dilation_rate"):
        tf.layers.Conv3D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="filters"):
        tf.layers.Conv1D(0, 3)
    with pytest.raises(ValueError, match="depth_multiplier"):
        tf.layers.SeparableConv2D(2, 3, depth_multiplier=0)


def test_pooling_layers_1d_and_3d():
    x1 = R.randn(2, 7, 3)
    m1 = tf.layers.max_pooling1d(tf.constant(x1), 2, 2, padding="same")
    a1 = tf.layers.average_pooling1d(tf.constant(x1), 3, 1)
    assert m1.shape.as_list() == [2, 4, 3] and a1.shape.as_list() == [2, 5, 3]
    x3 = R.randn(1, 4, 5, 4, 2)
    m3 = tf.layers.MaxPooling3D(2, 2, padding="same")(tf.constant(x3))
    a3 = tf.layers.average_pooling3d(tf.constant(x3), (2, 1, 2), 1)
    assert m3.shape.as_list() == [1, 2, 3, 2, 2] and a3.shape.as_list() == [1, 3, 5, 3, 2]
    got = _init_run([m1, a1, m3])
    np.testing.assert_allclose(got[0], ref_max_pool(x1[:, None], (1, 2), (1, 2), "SAME")[:, 0])
    np.testing.assert_allclose(got[1], ref_avg_pool(x1[:, None], (1, 3), (1, 1), "VALID")[:, 0])
    np.testing.assert_allclose(got[2], ref_max_pool3d(x3, (2, 2, 2), (2, 2, 2), "SAME"))
    x1c = tf.constant(x1.transpose(0, 2, 1))
    mc = tf.layers.max_pooling1d(x1c, 2, 2, data_format="channels_first")
    assert mc.shape.as_list() == [2, 3, 3]
    with pytest.raises(ValueError, match="expected ndim=5"):
        tf.layers.max_pooling3d(tf.zeros([1, 4, 4, 2]), 2, 2)
    assert tf.layers.MaxPool1D is tf.layers.MaxPooling1D and tf.layers.AvgPool3D is tf.layers.AveragePooling3D


def test_batch_normalization_fused_uses_fused_batch_norm_op():
    x = R.randn(4, 3, 3, 2).astype(np.float32)
    xt = tf.constant(x)
    y = tf.layers.batch_normalization(xt, training=True, momentum=0.5)
    assert y.op.type == "FusedBatchNormV3"
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    assert len(updates) == 2
    g = tf.gradients(tf.reduce_sum(y * tf.constant(R.randn(4, 3, 3, 2).astype(np.float32))), xt)[0]
    assert g.op.type == "FusedBatchNormGradV3"
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got, _ = sess.run([y, updates])
        mm, mv = sess.run(["batch_normalization/moving_mean:0", "batch_normalization/moving_variance:0"])
    flat = x.reshape(-1, 2)
    np.testing.assert_allclose(got, (x - flat.mean(0)) / np.sqrt(flat.var(0) + 1e-3), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(mm, 0.5 * flat.mean(0), rtol=1e-5)
    np.testing.assert_allclose(mv, 0.5 + 0.5 * flat.var(0, ddof=1), rtol=1e-5)
    z = tf.layers.batch_normalization(xt, axis=1, training=False, name="bn_nchw")
    assert z.op.type == "FusedBatchNormV3" and z.op.get_attr("data_format") == "NCHW"
    np.testing.assert_allclose(_init_run(z), x / np.sqrt(1 + 1e-3), rtol=1e-5)


def test_batch_normalization_not_fused_for_training_tensor_or_fused_false():
    xt = tf.constant(R.randn(2, 3, 3, 2).astype(np.float32))
    y = tf.layers.batch_normalization(xt, training=tf.placeholder_with_default(True, []))
    z = tf.layers.batch_normalization(xt, training=True, fused=False)
    assert y.op.type != "FusedBatchNormV3" and z.op.type != "FusedBatchNormV3"


def test_separable_conv1d_layer():
    x = R.randn(2, 8, 3)
    y = tf.layers.separable_conv1d(tf.constant(x), 4, 3, depth_multiplier=2, padding="same", strides=2)
    assert y.shape.as_list() == [2, 4, 4]
    got, (dk, pk) = _run_with_weights(y, ["separable_conv1d/depthwise_kernel", "separable_conv1d/pointwise_kernel"])
    assert dk.shape == (3, 3, 2) and pk.shape == (1, 6, 4)
    dw = ref_depthwise(x[:, None], dk[None], s=(1, 2))
    np.testing.assert_allclose(got, ref_conv2d(dw, pk[None], padding="VALID")[:, 0], rtol=1e-5)


def test_conv3d_transpose_layer():
    x = R.randn(1, 2, 3, 2, 3)
    y = tf.layers.conv3d_transpose(tf.constant(x), 2, 2, strides=2, padding="same", use_bias=False)
    assert y.shape.as_list() == [1, 4, 6, 4, 2]
    got, (k,) = _run_with_weights(y, ["conv3d_transpose/kernel"])
    assert k.shape == (2, 2, 2, 2, 3)
    np.testing.assert_allclose(got, ref_conv3d_backprop_input((1, 4, 6, 4, 2), k, x, (2, 2, 2), "SAME"), rtol=1e-5)
    assert tf.layers.Conv3DTranspose(2, 3).compute_output_shape([1, 2, 3, 4, 5]).as_list() == [1, 4, 5, 6, 2]
