"""Convolution and pooling semantics the sweep can't see: TF1 signatures, attrs, names, errors, SAME
padding asymmetry, tie-breaking, chunking, and second derivatives."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.ops import conv_kernels, conv_ops, pool_kernels, pool_ops
from labflow.testing.gradient_check import gradient_check
from labflow.testing.samples.conv import ref_conv2d, ref_max_pool, ref_max_pool_grad

R = np.random.RandomState(3)


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


# -- names, attrs, signatures -----------------------------------------------------------------------
def test_conv2d_default_name_attrs_and_static_shape():
    x = tf.placeholder(tf.float32, [None, 28, 28, 1])
    w = tf.zeros([5, 5, 1, 32])
    y = conv_ops.conv2d(x, w, strides=[1, 1, 1, 1], padding="SAME")
    assert y.op.name == "Conv2D" and y.op.type == "Conv2D"
    assert y.get_shape().as_list() == [None, 28, 28, 32]
    a = y.op.attrs
    assert a["strides"] == [1, 1, 1, 1] and a["padding"] == "SAME" and a["data_format"] == "NHWC"
    assert a["dilations"] == [1, 1, 1, 1] and a["use_cudnn_on_gpu"] is True and a["explicit_paddings"] == []
    assert a["T"] == tf.float32
    nd = [n for n in tf.get_default_graph().as_graph_def().node if n.name == "Conv2D"][0]
    assert set(nd.attr) >= {"T", "strides", "padding", "data_format", "dilations", "use_cudnn_on_gpu",
                            "explicit_paddings"}


@pytest.mark.parametrize("k", [2, [2], [2, 2], [1, 2, 2, 1], (2, 2)])
def test_pool_int_and_list_ksize_forms(k):
    x = tf.placeholder(tf.float32, [1, 4, 4, 3])
    y = conv_ops.max_pool(x, k, k, "VALID")
    assert y.op.get_attr("ksize") == [1, 2, 2, 1] and y.op.get_attr("strides") == [1, 2, 2, 1]
    assert y.get_shape().as_list() == [1, 2, 2, 3]


def test_nchw_sequences_put_spatial_dims_last():
    x = tf.placeholder(tf.float32, [1, 3, 4, 4])
    y = conv_ops.avg_pool(x, 2, [1, 2], "VALID", data_format="NCHW")
    assert y.op.get_attr("ksize") == [1, 1, 2, 2] and y.op.get_attr("strides") == [1, 1, 1, 2]
    assert y.get_shape().as_list() == [1, 3, 3, 2]


def test_pool_default_names():
    x = tf.placeholder(tf.float32, [1, 4, 4, 1])
    assert conv_ops.max_pool(x, 2, 2, "SAME").op.name == "MaxPool"
    assert conv_ops.max_pool2d(x, 2, 2, "SAME").op.name == "MaxPool2d"
    assert conv_ops.avg_pool(x, 2, 2, "SAME").op.name == "AvgPool"
    assert conv_ops.avg_pool2d(x, 2, 2, "SAME").op.name == "AvgPool2D"
    assert conv_ops.max_pool(x, 2, 2, "SAME", name="p").op.name == "p"


def test_gradient_op_types():
    x = tf.placeholder(tf.float32, [2, 6, 6, 3])
    w = tf.ones([3, 3, 3, 4])
    y = conv_ops.max_pool(conv_ops.conv2d(x, w, 1, "SAME"), 2, 2, "SAME")
    gx, gw = tf.gradients(y, [x, w])
    assert gx.op.type == "Conv2DBackpropInput" and gw.op.type == "Conv2DBackpropFilter"
    assert gx.get_shape().as_list() == [2, 6, 6, 3] and gw.get_shape().as_list() == [3, 3, 3, 4]
    assert {o.type for o in tf.get_default_graph().get_operations()} >= {"MaxPoolGrad"}


def test_filter_and_filters_are_exclusive():
    x = tf.zeros([1, 3, 3, 1])
    with pytest.raises(ValueError, match="Cannot specify both 'filters' and 'filter'"):
        conv_ops.conv2d(x, tf.zeros([1, 1, 1, 1]), 1, "SAME", filters=tf.zeros([1, 1, 1, 1]))


# -- shape errors (TF's wording, naming the op) -----------------------------------------------------
def test_depth_mismatch_names_the_op():
    with pytest.raises(ValueError, match=r"Depth of input \(2\) is not a multiple of input depth of filter "
                                         r"\(3\) for 'Conv2D' \(op: 'Conv2D'\)"):
        conv_ops.conv2d(tf.zeros([1, 5, 5, 2]), tf.zeros([3, 3, 3, 4]), 1, "SAME")
    with pytest.raises(ValueError, match="grouped convolutions are not supported"):
        conv_ops.conv2d(tf.zeros([1, 5, 5, 4]), tf.zeros([3, 3, 2, 4]), 1, "SAME")


def test_valid_window_larger_than_input():
    with pytest.raises(ValueError, match="Negative dimension size caused by subtracting 5 from 3 for 'c'"):
        conv_ops.conv2d(tf.zeros([1, 3, 3, 1]), tf.zeros([5, 5, 1, 1]), 1, "VALID", name="c")
    with pytest.raises(ValueError, match="Negative dimension size caused by subtracting 5 from 4"):
        conv_ops.conv2d(tf.zeros([1, 9, 4, 1]), tf.zeros([3, 3, 1, 1]), 1, "VALID", dilations=2)
    with pytest.raises(ValueError, match="subtracting 3 from 2.*MaxPool"):
        conv_ops.max_pool(tf.zeros([1, 2, 2, 1]), 3, 1, "VALID")


def test_rank_and_attr_errors():
    with pytest.raises(ValueError, match="Shape must be rank 4 but is rank 3"):
        conv_ops.conv2d(tf.zeros([5, 5, 1]), tf.zeros([3, 3, 1, 1]), 1, "SAME")
    with pytest.raises(ValueError, match="strides should be of length 1, 2 or 4 but was 3"):
        conv_ops.conv2d(tf.zeros([1, 5, 5, 1]), tf.zeros([3, 3, 1, 1]), [1, 1, 1], "SAME")
    with pytest.raises(ValueError, match="does not yet support strides in the batch and depth"):
        conv_ops.conv2d(tf.zeros([1, 5, 5, 1]), tf.zeros([3, 3, 1, 1]), [2, 1, 1, 1], "SAME")
    with pytest.raises(ValueError, match="does not yet support dilations in the batch and depth"):
        conv_ops.conv2d(tf.zeros([1, 5, 5, 1]), tf.zeros([3, 3, 1, 1]), 1, "SAME", dilations=[1, 1, 1, 2])
    with pytest.raises(ValueError, match="Pooling is not yet supported on the batch dimension"):
        conv_ops.max_pool(tf.zeros([2, 4, 4, 1]), [2, 2, 2, 1], 1, "SAME")
    with pytest.raises(ValueError, match="padding must be 'SAME' or 'VALID'"):
        conv_ops.avg_pool(tf.zeros([1, 4, 4, 1]), 2, 2, "FULL")
    with pytest.raises(ValueError, match="Invalid data format"):
        conv_ops.conv2d(tf.zeros([1, 5, 5, 1]), tf.zeros([3, 3, 1, 1]), 1, "SAME", data_format="HWNC")


def test_explicit_padding_errors():
    x, w = tf.zeros([1, 5, 5, 1]), tf.zeros([3, 3, 1, 1])
    with pytest.raises(ValueError, match='"EXPLICIT" is not a valid value'):
        conv_ops.conv2d(x, w, 1, "EXPLICIT")
    with pytest.raises(ValueError, match="it must be of size 4"):
        conv_ops.conv2d(x, w, 1, [[1, 1], [1, 1]])
    with pytest.raises(ValueError, match="list/tuple of size 2"):
        conv_ops.conv2d(x, w, 1, [[0, 0], [1], [1, 1], [0, 0]])
    with pytest.raises(ValueError, match="Nonzero explicit padding in the batch or depth"):
        conv_ops.conv2d(x, w, 1, [[0, 0], [1, 1], [1, 1], [0, 1]])


def test_backprop_shape_checks():
    w = tf.zeros([3, 3, 2, 4])
    with pytest.raises(ValueError, match="doesn't match computed: actual = 5, computed = 3"):
        conv_ops.conv2d_backprop_input([1, 6, 6, 2], w, tf.zeros([1, 5, 3, 4]), [1, 2, 2, 1], "SAME")
    with pytest.raises(ValueError, match="filter and out_backprop must have the same out_depth: 4 vs 3"):
        conv_ops.conv2d_backprop_filter(tf.zeros([1, 6, 6, 2]), [3, 3, 2, 4], tf.zeros([1, 6, 6, 3]), 1,
                                        "SAME")
    with pytest.raises(ValueError, match="input channels does not match filter's input channels, 3 != 4"):
        conv_ops.conv2d_transpose(tf.zeros([1, 3, 3, 3]), w, [1, 6, 6, 2], 2)


def test_runtime_errors_when_static_shapes_are_unknown():
    x = tf.placeholder(tf.float32)
    y = conv_ops.conv2d(x, tf.zeros([5, 5, 1, 1]), 1, "VALID")
    with pytest.raises(tf.errors.InvalidArgumentError, match="Computed output size would be negative"):
        _run(y, {x: np.zeros((1, 3, 3, 1))})
    with pytest.raises(tf.errors.InvalidArgumentError, match="must have the same depth: 2 vs 1"):
        _run(y, {x: np.zeros((1, 6, 6, 2))})


# -- semantics ----------------------------------------------------------------------------------------
def test_same_padding_puts_the_extra_row_at_the_bottom_right():
    x = np.arange(25, dtype=np.float32).reshape(1, 5, 5, 1)
    # k=2, stride 2 on 5: out 3, one pad row/col, all of it after the data.
    y = _run(conv_ops.conv2d(x, np.ones((2, 2, 1, 1), np.float32), 2, "SAME"))[0, :, :, 0]
    assert y[0, 0] == 0 + 1 + 5 + 6 and y[2, 2] == 24 and y[0, 2] == 4 + 9
    # k=4, stride 1: 3 pad rows -> 1 before, 2 after; same as explicit [[1, 2], [1, 2]].
    w = R.randn(4, 4, 1, 2).astype(np.float32)
    same = conv_ops.conv2d(x, w, 1, "SAME")
    expl = conv_ops.conv2d(x, w, 1, [[0, 0], [1, 2], [1, 2], [0, 0]])
    a, b = _run([same, expl])
    np.testing.assert_allclose(a, b, rtol=1e-6)
    p = _run(conv_ops.max_pool(x, 2, 2, "SAME"))[0, :, :, 0]
    np.testing.assert_array_equal(p, [[6, 8, 9], [16, 18, 19], [21, 23, 24]])


def test_avg_pool_same_counts_only_real_elements():
    x = np.ones((1, 3, 3, 1), np.float32)
    np.testing.assert_array_equal(_run(conv_ops.avg_pool(x, 2, 2, "SAME")), np.ones((1, 2, 2, 1)))


def test_max_pool_gradient_goes_to_the_first_tied_maximum():
    x = tf.constant(np.array([[1, 1, 0, 2], [1, 1, 2, 2]], np.float32).reshape(1, 2, 4, 1))
    g = _run(tf.gradients(conv_ops.max_pool(x, 2, 2, "VALID"), x)[0])[0, :, :, 0]
    np.testing.assert_array_equal(g, [[1, 0, 0, 1], [0, 0, 0, 0]])
    # Overlapping windows (3x3, stride 1) on a constant input: each window's first element wins.
    xo = tf.constant(np.zeros((1, 4, 4, 1), np.float32))
    go = _run(tf.gradients(conv_ops.max_pool(xo, 3, 1, "VALID"), xo)[0])[0, :, :, 0]
    np.testing.assert_array_equal(go, [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])


def test_max_pool_gradient_never_goes_to_padding_and_ignores_inf_elsewhere():
    x = tf.constant(np.full((1, 3, 3, 1), -np.inf, np.float32))
    g = _run(tf.gradients(conv_ops.max_pool(x, 2, 2, "SAME"), x)[0])[0, :, :, 0]
    np.testing.assert_array_equal(g, [[1, 0, 1], [0, 0, 0], [1, 0, 1]])
    xv = np.array([[1, 2], [3, 4]], np.float32).reshape(1, 2, 2, 1)
    y = conv_ops.max_pool(xv, 2, 2, "VALID")
    gi = _run(pool_ops.max_pool_grad(xv, y, np.full((1, 1, 1, 1), np.inf, np.float32), 2, 2, "VALID"))
    np.testing.assert_array_equal(gi[0, :, :, 0], [[0, 0], [0, np.inf]])


def test_nchw_matches_nhwc():
    x = R.randn(2, 7, 6, 3).astype(np.float32)
    w = R.randn(3, 2, 3, 4).astype(np.float32)
    a = conv_ops.conv2d(x, w, [1, 2, 1, 1], "SAME")
    b = conv_ops.conv2d(x.transpose(0, 3, 1, 2), w, [1, 1, 2, 1], "SAME", data_format="NCHW")
    pa = conv_ops.max_pool(x, 3, 2, "SAME")
    pb = conv_ops.max_pool(x.transpose(0, 3, 1, 2), 3, 2, "SAME", data_format="NCHW")
    va, vb, vpa, vpb = _run([a, b, pa, pb])
    np.testing.assert_allclose(vb.transpose(0, 2, 3, 1), va, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(vpb.transpose(0, 2, 3, 1), vpa)


def test_float16_is_computed_in_float32_and_returned_as_float16():
    x = R.randn(1, 6, 6, 8).astype(np.float16)
    w = R.randn(3, 3, 8, 2).astype(np.float16)
    y = _run(conv_ops.conv2d(x, w, 1, "SAME"))
    assert y.dtype == np.float16
    want = ref_conv2d(x.astype(np.float64), w.astype(np.float64))
    np.testing.assert_allclose(y, want, rtol=1e-2, atol=2e-2)


@pytest.mark.parametrize("c,s", [(3, (2, 2)), (1, (1, 1)), (8, (1, 1))])
def test_chunked_batches_match_one_chunk(monkeypatch, c, s):
    # Tiny chunk budgets force many chunks, with a short last one (C=1: cols layout; C=8, stride 1:
    # the transposed-convolution input gradient).
    x = R.randn(7, 9, 8, c)
    w = R.randn(3, 3, c, 5)
    pads = ((1, 1), (1, 0))
    oh, ow = (9 + 2 - 3) // s[0] + 1, (8 + 1 - 3) // s[1] + 1
    dy = R.randn(7, oh, ow, 5)
    g = R.randn(7, oh, ow, c)

    def all_kernels():
        return [conv_kernels.conv2d(np, x, w, s, (1, 1), pads),
                conv_kernels.conv2d_backprop_filter(np, x, dy, w.shape, s, (1, 1), pads),
                conv_kernels.conv2d_backprop_input(np, dy, w, x.shape, s, (1, 1), pads),
                pool_kernels.max_pool(np, x, (3, 3), s, pads, oh, ow),
                pool_kernels.avg_pool(np, x, (3, 3), s, pads, oh, ow),
                pool_kernels.max_pool_grad(np, x, pool_kernels.max_pool(np, x, (3, 3), s, pads, oh, ow),
                                           g, (3, 3), s, pads)]
    one = all_kernels()
    monkeypatch.setattr(conv_kernels, "CHUNK_BYTES", 1)
    monkeypatch.setattr(conv_kernels, "MIN_ROWS", 1)
    monkeypatch.setattr(pool_kernels, "POOL_CHUNK_BYTES", 1)
    many = all_kernels()
    assert one[0].shape == (7, oh, ow, 5)
    for a, b in zip(one, many):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_the_cnn_layer_shapes_match_the_reference():
    # The hot path of the Deep MNIST CNN (cols layout for C=1, rows layout and the transposed
    # convolution for the input gradient), against the loop references.
    x = R.rand(3, 28, 28, 1).astype(np.float32)
    w1 = (R.randn(5, 5, 1, 8) * 0.1).astype(np.float32)
    xt = tf.constant(x)
    h = conv_ops.max_pool(tf.nn.relu(conv_ops.conv2d(xt, w1, 1, "SAME")), 2, 2, "SAME")
    hv = _run(h)
    want = ref_max_pool(np.maximum(ref_conv2d(x, w1), 0), (2, 2), (2, 2), "SAME")
    np.testing.assert_allclose(hv, want, rtol=1e-4, atol=1e-5)
    # ReLU outputs tie at 0 in many windows: the first one takes the gradient.
    r = np.maximum(ref_conv2d(x, w1), 0)
    g = R.randn(*hv.shape).astype(np.float32)
    got = _run(pool_ops.max_pool_grad(r, conv_ops.max_pool(r, 2, 2, "SAME"), g, 2, 2, "SAME"))
    np.testing.assert_allclose(got, ref_max_pool_grad(r, g, (2, 2), (2, 2), "SAME"), rtol=1e-6)


def test_second_derivatives_through_conv_and_pool():
    # Hessian-vector products: the gradient w.r.t. the filter, differentiated w.r.t. the input.
    def build(x, w):
        y = conv_ops.max_pool(conv_ops.conv2d(x, w, [1, 2, 1, 1], "SAME"), 2, 1, "SAME")
        loss = tf.reduce_sum(y * y)
        return tf.gradients(loss, w)[0]
    gradient_check(build, [R.randn(2, 5, 4, 2), R.randn(3, 2, 2, 3)], rtol=1e-4, atol=1e-6)


def test_pool_gradients_of_gradients_use_the_tf_ops():
    x = tf.placeholder(tf.float64, [1, 4, 4, 2])
    gy = tf.placeholder(tf.float64, [1, 2, 2, 2])
    g = tf.gradients(conv_ops.max_pool(x, 2, 2, "SAME"), x, grad_ys=gy)[0]
    assert tf.gradients(tf.reduce_sum(g * g), gy)[0].op.type == "MaxPoolGradGrad"
    ga = tf.gradients(conv_ops.avg_pool(x, 2, 2, "SAME"), x, grad_ys=gy)[0]
    assert ga.op.type == "AvgPoolGrad"
    assert tf.gradients(tf.reduce_sum(ga * ga), gy)[0].op.type == "AvgPool"


@pytest.mark.parametrize("shape", [(2, 0, 5, 3), (0, 4, 5, 3), (2, 4, 0, 3)])
def test_empty_inputs(shape):
    x = tf.placeholder(tf.float32, shape)
    outs = [conv_ops.max_pool(x, 2, 2, "SAME"), conv_ops.avg_pool(x, 3, 2, "SAME"),
            conv_ops.conv2d(x, tf.ones([3, 3, 3, 2]), 2, "SAME")]
    outs += tf.gradients(tf.add_n([tf.reduce_sum(o) for o in outs]), [x])
    outs.append(tf.gradients(conv_ops.max_pool(x, 3, 2, "SAME"), x)[0])
    vals = _run(outs, {x: np.zeros(shape)})
    assert [v.shape for v in vals] == [tuple(o.get_shape().as_list()) for o in outs]
