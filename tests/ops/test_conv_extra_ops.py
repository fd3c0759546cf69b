"""tf.nn's extra conv family: selu/swish/crelu/softsign, conv1d, convolution/atrous, depthwise/separable,
conv3d, 1-D/3-D pooling, pool, max_pool_with_argmax: TF1 names, graph structure, values and errors."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.testing.samples.conv import ref_avg_pool, ref_conv2d, ref_conv2d_backprop_input, ref_max_pool
from labflow.testing.samples.conv_extra import ref_conv3d, ref_depthwise, ref_max_pool3d

R = np.random.RandomState(5)


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


def test_names_are_exported_under_tf_nn():
    for name in ("selu", "swish", "silu", "crelu", "softsign", "conv1d", "conv1d_transpose", "convolution",
                 "atrous_conv2d", "atrous_conv2d_transpose", "depthwise_conv2d", "depthwise_conv2d_native",
                 "depthwise_conv2d_native_backprop_input", "depthwise_conv2d_native_backprop_filter",
                 "separable_conv2d", "conv3d", "conv3d_transpose", "conv3d_backprop_filter_v2", "max_pool3d",
                 "avg_pool3d", "max_pool1d", "avg_pool1d", "pool", "max_pool_with_argmax"):
        assert callable(getattr(tf.nn, name)), name


# -- activations ------------------------------------------------------------------------------------
def test_selu_values_names_and_gradient_op():
    x = np.array([-2.0, -0.5, 0.0, 1.5], np.float32)
    y = tf.nn.selu(tf.constant(x))
    assert y.op.type == "Selu" and y.op.name == "Selu"
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    want = np.where(x > 0, scale * x, scale * alpha * np.expm1(x))
    np.testing.assert_allclose(_run(y), want, rtol=1e-6)
    g = tf.gradients(y, y.op.inputs[0])[0]
    assert g.op.type == "SeluGrad"
    np.testing.assert_allclose(_run(g), np.where(x > 0, scale, scale * alpha * np.exp(x)), rtol=1e-6)


def test_softsign_and_its_grad_op():
    x = tf.constant([-3.0, 0.0, 1.0])
    y = tf.nn.softsign(x, name="ss")
    assert y.op.name == "ss" and y.op.type == "Softsign"
    np.testing.assert_allclose(_run(y), [-0.75, 0.0, 0.5])
    g = tf.gradients(y, x)[0]
    assert g.op.type == "SoftsignGrad"
    np.testing.assert_allclose(_run(g), [1 / 16, 1.0, 0.25])


def test_selu_rejects_integer_input():
    with pytest.raises(TypeError):
        tf.nn.selu(tf.constant([1, 2]))


def test_swish_silu_and_beta():
    x = np.array([-1.0, 0.5, 2.0])
    sig = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(_run(tf.nn.swish(tf.constant(x))), x * sig)
    np.testing.assert_allclose(_run(tf.nn.silu(tf.constant(x))), x * sig)
    np.testing.assert_allclose(_run(tf.nn.swish(tf.constant(x), beta=2.0)), x / (1 + np.exp(-2 * x)))
    xt = tf.constant(x)
    g = tf.gradients(tf.nn.swish(xt), xt)[0]
    np.testing.assert_allclose(_run(g), sig + x * sig * (1 - sig))


def test_crelu_concatenates_along_axis():
    x = np.array([[1.0, -2.0], [-3.0, 4.0]])
    np.testing.assert_allclose(_run(tf.nn.crelu(tf.constant(x))), np.concatenate([np.maximum(x, 0),
                                                                                  np.maximum(-x, 0)], -1))
    y = tf.nn.crelu(tf.constant(x), axis=0)
    assert y.shape.as_list() == [4, 2]


# -- conv1d / convolution / atrous ------------------------------------------------------------------
def test_conv1d_is_conv2d_between_expand_and_squeeze():
    x, w = R.randn(2, 9, 3), R.randn(3, 3, 4)
    y = tf.nn.conv1d(tf.constant(x), tf.constant(w), 2, "SAME")
    types = [o.type for o in tf.get_default_graph().get_operations()]
    assert "Conv2D" in types and y.op.type == "Squeeze"
    assert y.shape.as_list() == [2, 5, 4]
    np.testing.assert_allclose(_run(y), ref_conv2d(x[:, None], w[None], (1, 2))[:, 0], rtol=1e-10)


def test_conv1d_ncw_and_dilations():
    x, w = R.randn(2, 3, 10), R.randn(2, 3, 2)
    y = tf.nn.conv1d(tf.constant(x), tf.constant(w), 1, "VALID", data_format="NCW", dilations=3)
    want = ref_conv2d(x.transpose(0, 2, 1)[:, None], w[None], padding="VALID", d=(1, 3))[:, 0].transpose(0, 2, 1)
    np.testing.assert_allclose(_run(y), want, rtol=1e-10)


def test_conv1d_bad_data_format():
    with pytest.raises(ValueError, match="NWC"):
        tf.nn.conv1d(tf.zeros([1, 4, 2]), tf.zeros([2, 2, 2]), 1, "SAME", data_format="NHWCX")


def test_conv1d_transpose_is_the_adjoint():
    x, w = R.randn(2, 4, 3), R.randn(3, 2, 3)
    y = tf.nn.conv1d_transpose(tf.constant(x), tf.constant(w), [2, 8, 2], 2)
    want = ref_conv2d_backprop_input((2, 1, 8, 2), w[None], x[:, None], (1, 2))[:, 0]
    np.testing.assert_allclose(_run(y), want, rtol=1e-10)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_convolution_dispatches_on_rank(n):
    xs = {1: (2, 7, 2), 2: (2, 6, 5, 2), 3: (1, 4, 5, 3, 2)}[n]
    ws = {1: (3, 2, 3), 2: (3, 2, 2, 3), 3: (2, 3, 2, 2, 3)}[n]
    x, w = R.randn(*xs), R.randn(*ws)
    y = tf.nn.convolution(tf.constant(x), tf.constant(w), "SAME", dilation_rate=[2] * n)
    got = _run(y)
    if n == 1:
        want = ref_conv2d(x[:, None], w[None], d=(1, 2))[:, 0]
    elif n == 2:
        want = ref_conv2d(x, w, d=(2, 2))
    else:
        want = ref_conv3d(x, w, (1, 1, 1), "SAME", d=(2, 2, 2))
    np.testing.assert_allclose(got, want, rtol=1e-10)
    assert y.shape.as_list() == list(want.shape)


def test_convolution_errors():
    x, w = tf.zeros([1, 8, 8, 2]), tf.zeros([3, 3, 2, 2])
    with pytest.raises(ValueError, match="strides > 1 not supported in conjunction with dilation_rate > 1"):
        tf.nn.convolution(x, w, "SAME", strides=[2, 2], dilation_rate=[2, 2])
    with pytest.raises(ValueError, match="padding"):
        tf.nn.convolution(x, w, "FULL")
    with pytest.raises(ValueError, match="data_format"):
        tf.nn.convolution(x, w, "SAME", data_format="NDHWC")
    with pytest.raises(ValueError, match="rank"):
        tf.nn.convolution(tf.zeros([1, 8, 2]), w, "SAME")


def test_atrous_conv2d_and_transpose():
    x, w = R.randn(1, 9, 8, 2), R.randn(3, 3, 2, 3)
    y = tf.nn.atrous_conv2d(tf.constant(x), tf.constant(w), 2, "SAME")
    np.testing.assert_allclose(_run(y), ref_conv2d(x, w, d=(2, 2)), rtol=1e-10)
    v = R.randn(1, 9, 8, 3)
    t = tf.nn.atrous_conv2d_transpose(tf.constant(v), tf.constant(w), [1, 9, 8, 2], 2, "SAME")
    np.testing.assert_allclose(_run(t), ref_conv2d_backprop_input((1, 9, 8, 2), w, v, d=(2, 2)), rtol=1e-10)
    with pytest.raises(ValueError, match="rate 0 cannot be less than one"):
        tf.nn.atrous_conv2d(tf.constant(x), tf.constant(w), 0, "SAME")
    with pytest.raises(ValueError, match="output_shape does not match"):
        tf.nn.atrous_conv2d_transpose(tf.constant(v), tf.constant(w), [1, 9, 8, 5], 2, "SAME")


# -- depthwise / separable --------------------------------------------------------------------------
def test_depthwise_conv2d_names_rate_and_values():
    x, w = R.randn(2, 7, 6, 3), R.randn(3, 3, 3, 2)
    y = tf.nn.depthwise_conv2d(tf.constant(x), tf.constant(w), [1, 1, 1, 1], "SAME", rate=[2, 2])
    assert y.op.type == "DepthwiseConv2dNative" and y.op.name == "depthwise"
    assert y.shape.as_list() == [2, 7, 6, 6]
    np.testing.assert_allclose(_run(y), ref_depthwise(x, w, d=(2, 2)), rtol=1e-10)


def test_depthwise_errors():
    x = tf.zeros([1, 6, 6, 3])
    with pytest.raises(ValueError, match="in_channels"):
        tf.nn.depthwise_conv2d(x, tf.zeros([3, 3, 2, 1]), [1, 1, 1, 1], "SAME")
    with pytest.raises(ValueError, match="strides > 1 not supported"):
        tf.nn.depthwise_conv2d(x, tf.zeros([3, 3, 3, 1]), [1, 2, 2, 1], "SAME", rate=2)
    with pytest.raises(ValueError, match="rank 4"):
        tf.nn.depthwise_conv2d(x, tf.zeros([3, 3, 3]), [1, 1, 1, 1], "SAME")


def test_depthwise_runtime_depth_mismatch_is_invalid_argument():
    x = tf.placeholder(tf.float32, [None, 5, 5, None])
    y = tf.nn.depthwise_conv2d_native(x, tf.zeros([3, 3, 2, 1]), [1, 1, 1, 1], "SAME")
    with pytest.raises(tf.errors.InvalidArgumentError, match="same depth"):
        _run(y, {x: np.zeros((1, 5, 5, 3), np.float32)})


def test_depthwise_gradients_use_tf_ops():
    x, w = tf.constant(R.randn(1, 5, 5, 2)), tf.constant(R.randn(3, 3, 2, 2))
    y = tf.nn.depthwise_conv2d_native(x, w, [1, 2, 2, 1], "SAME")
    gx, gw = tf.gradients(y, [x, w])
    assert gx.op.type == "DepthwiseConv2dNativeBackpropInput"
    assert gw.op.type == "DepthwiseConv2dNativeBackpropFilter"


def test_separable_conv2d_is_depthwise_then_pointwise():
    x, dw, pw = R.randn(2, 6, 6, 3), R.randn(3, 3, 3, 2), R.randn(1, 1, 6, 4)
    y = tf.nn.separable_conv2d(tf.constant(x), tf.constant(dw), tf.constant(pw), [1, 1, 1, 1], "VALID")
    assert y.op.type == "Conv2D" and y.shape.as_list() == [2, 4, 4, 4]
    want = ref_conv2d(ref_depthwise(x, dw, padding="VALID"), pw, padding="VALID")
    np.testing.assert_allclose(_run(y), want, rtol=1e-10)
    with pytest.raises(ValueError, match="pointwise filter"):
        tf.nn.separable_conv2d(tf.constant(x), tf.constant(dw), tf.zeros([1, 1, 5, 4], tf.float64), [1, 1, 1, 1],
                               "VALID")


# -- 3-D --------------------------------------------------------------------------------------------
def test_conv3d_values_shape_and_errors():
    x, w = R.randn(1, 4, 5, 6, 2), R.randn(2, 3, 3, 2, 3)
    y = tf.nn.conv3d(tf.constant(x), tf.constant(w), [1, 2, 1, 2, 1], "SAME")
    assert y.op.type == "Conv3D" and y.shape.as_list() == [1, 2, 5, 3, 3]
    np.testing.assert_allclose(_run(y), ref_conv3d(x, w, (2, 1, 2), "SAME"), rtol=1e-10)
    with pytest.raises(ValueError, match="rank 5"):
        tf.nn.conv3d(tf.zeros([1, 4, 4, 2]), tf.zeros([2, 2, 2, 2, 2]), [1] * 5, "SAME")
    with pytest.raises(ValueError, match="in_channels"):
        tf.nn.conv3d(tf.zeros([1, 4, 4, 4, 3]), tf.zeros([2, 2, 2, 2, 2]), [1] * 5, "SAME")
    with pytest.raises(ValueError, match="Negative dimension size"):
        tf.nn.conv3d(tf.zeros([1, 2, 4, 4, 2]), tf.zeros([3, 2, 2, 2, 2]), [1] * 5, "VALID")


def test_conv3d_gradients_and_transpose():
    x, w = tf.constant(R.randn(1, 3, 4, 4, 2)), tf.constant(R.randn(2, 2, 2, 2, 3))
    y = tf.nn.conv3d(x, w, [1, 1, 1, 1, 1], "VALID")
    gx, gw = tf.gradients(y, [x, w])
    assert (gx.op.type, gw.op.type) == ("Conv3DBackpropInputV2", "Conv3DBackpropFilterV2")
    t = tf.nn.conv3d_transpose(y, w, [1, 3, 4, 4, 2], [1, 1, 1, 1, 1], "VALID")
    assert t.shape.as_list() == [1, 3, 4, 4, 2]
    with pytest.raises(ValueError, match="output_shape does not match"):
        tf.nn.conv3d_transpose(y, w, [1, 3, 4, 4, 5], [1, 1, 1, 1, 1], "VALID")


def test_pool3d_values_and_tie_rule():
    x = R.randn(2, 4, 5, 3, 2)
    y = tf.nn.max_pool3d(tf.constant(x), 2, 2, "SAME")
    np.testing.assert_allclose(_run(y), ref_max_pool3d(x, (2, 2, 2), (2, 2, 2), "SAME"))
    ones = tf.ones([1, 2, 2, 2, 1])
    g = tf.gradients(tf.nn.max_pool3d(ones, 2, 2, "VALID"), ones)[0]
    np.testing.assert_allclose(_run(g), np.ones((1, 2, 2, 2, 1)))  # TF's CPU rule: every tied max gets it
    a = tf.nn.avg_pool3d(tf.constant(np.arange(8.0).reshape(1, 2, 2, 2, 1)), 2, 1, "SAME")
    np.testing.assert_allclose(_run(a).ravel(), [3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7])


def test_pool3d_errors():
    with pytest.raises(ValueError, match="batch and depth"):
        tf.nn.max_pool3d(tf.zeros([1, 4, 4, 4, 2]), [2, 2, 2, 2, 1], 1, "SAME")
    with pytest.raises(ValueError, match="padding"):
        tf.nn.avg_pool3d(tf.zeros([1, 4, 4, 4, 2]), 2, 1, "FULL")
    with pytest.raises(ValueError, match="NDHWC"):
        tf.nn.avg_pool3d(tf.zeros([1, 4, 4, 4, 2]), 2, 1, "SAME", data_format="NHWC")


# -- 1-D pooling / pool -----------------------------------------------------------------------------
def test_pool1d():
    x = R.randn(2, 7, 3)
    m = tf.nn.max_pool1d(tf.constant(x), 2, 2, "SAME")
    a = tf.nn.avg_pool1d(tf.constant(x), 3, 1, "VALID")
    assert m.shape.as_list() == [2, 4, 3] and a.shape.as_list() == [2, 5, 3]
    np.testing.assert_allclose(_run(m), ref_max_pool(x[:, None], (1, 2), (1, 2), "SAME")[:, 0])
    np.testing.assert_allclose(_run(a), ref_avg_pool(x[:, None], (1, 3), (1, 1), "VALID")[:, 0])


@pytest.mark.parametrize("n", [1, 2, 3])
def test_pool_dispatches_on_window_rank(n):
    shape = {1: (2, 6, 2), 2: (2, 5, 6, 2), 3: (1, 4, 4, 5, 2)}[n]
    x = R.randn(*shape)
    y = tf.nn.pool(tf.constant(x), [2] * n, "MAX", "SAME", strides=[2] * n)
    got = _run(y)
    if n == 1:
        want = ref_max_pool(x[:, None], (1, 2), (1, 2), "SAME")[:, 0]
    elif n == 2:
        want = ref_max_pool(x, (2, 2), (2, 2), "SAME")
    else:
        want = ref_max_pool3d(x, (2, 2, 2), (2, 2, 2), "SAME")
    np.testing.assert_allclose(got, want)


def test_pool_errors():
    x = tf.zeros([1, 6, 6, 2])
    with pytest.raises(ValueError, match="pooling_type"):
        tf.nn.pool(x, [2, 2], "MIN", "SAME")
    with pytest.raises(ValueError, match="'SAME' padding is not implemented"):
        tf.nn.pool(x, [2, 2], "MAX", "SAME", dilation_rate=[2, 2])
    with pytest.raises(ValueError, match="strides > 1"):
        tf.nn.pool(x, [2, 2], "MAX", "VALID", dilation_rate=[2, 2], strides=[2, 2])


# -- max_pool_with_argmax ---------------------------------------------------------------------------
def test_max_pool_with_argmax_matches_tf_indices():
    x = np.arange(48.0).reshape(2, 3, 4, 2)
    out = tf.nn.max_pool_with_argmax(tf.constant(x), [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
    assert out.argmax.dtype == tf.int64 and out.output.op.type == "MaxPoolWithArgmax"
    y, arg = _run(list(out))
    # values checked against TF 2.21's CPU kernel for this input
    np.testing.assert_array_equal(arg[0].ravel(), [10, 11, 14, 15, 18, 19, 22, 23])
    np.testing.assert_array_equal(arg[1].ravel(), [10, 11, 14, 15, 18, 19, 22, 23])
    _, arg2 = _run(list(tf.nn.max_pool_with_argmax(tf.constant(x), 2, 2, "SAME", include_batch_in_index=True)))
    np.testing.assert_array_equal(arg2[1].ravel(), [34, 35, 38, 39, 42, 43, 46, 47])
    np.testing.assert_allclose(y[1].ravel(), [34, 35, 38, 39, 42, 43, 46, 47])


def test_max_pool_with_argmax_gradient_and_errors():
    x = tf.constant(R.randn(1, 4, 4, 1))
    y, _ = tf.nn.max_pool_with_argmax(x, 2, 2, "VALID")
    g = tf.gradients(y, x)[0]
    assert g.op.type == "MaxPoolGradWithArgmax"
    assert _run(g).sum() == pytest.approx(4.0)
    with pytest.raises(ValueError, match="NHWC"):
        tf.nn.max_pool_with_argmax(x, 2, 2, "VALID", data_format="NCHW")
    with pytest.raises(TypeError, match="Targmax"):
        tf.nn.max_pool_with_argmax(x, 2, 2, "VALID", Targmax=tf.float32)


def test_pool_dilated_valid_matches_tf():
    # TF 2.21: tf.nn.pool(-arange(1, 11).reshape(1, 5, 2), [2], "MAX", "VALID", dilation_rate=[2])
    x = -np.arange(1.0, 11.0).reshape(1, 5, 2)
    y = tf.nn.pool(tf.constant(x), [2], "MAX", "VALID", dilation_rate=[2])
    np.testing.assert_allclose(_run(y), [[[-1, -2], [-3, -4], [-5, -6]]])
    x2 = R.randn(2, 7, 6, 3)
    xt = tf.constant(x2)
    a = tf.nn.pool(xt, [2, 3], "AVG", "VALID", dilation_rate=[2, 2])
    want = sum(x2[:, i * 2:i * 2 + 5, j * 2:j * 2 + 2] for i in range(2) for j in range(3)) / 6
    np.testing.assert_allclose(_run(a), want)
    m = tf.nn.pool(xt, [2, 2], "MAX", "VALID", dilation_rate=[3, 1])
    assert m.shape.as_list() == [2, 4, 5, 3]
    g = _run(tf.gradients(m, xt)[0])
    assert g.sum() == pytest.approx(2 * 4 * 5 * 3)


def test_max_pool_with_argmax_integer_minimum_never_points_at_padding():
    low = np.iinfo(np.int32).min
    x = np.full((1, 3, 3, 1), low, np.int32)
    y, arg = _run(list(tf.nn.max_pool_with_argmax(tf.constant(x), 3, 1, "SAME")))
    assert (y == low).all()
    assert arg.min() >= 0 and arg.max() < 9
    assert arg[0, 1, 1, 0] == 0  # the first real element of the full window
