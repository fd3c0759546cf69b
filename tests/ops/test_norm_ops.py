"""tf.nn.lrn / local_response_normalization and tf.nn.fused_batch_norm: TF1 names, values, errors."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.testing.samples.norm import ref_bn, ref_lrn, ref_lrn_grad

R = np.random.RandomState(3)


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


# -- LRN --------------------------------------------------------------------------------------------
def test_lrn_alexnet_settings_and_names():
    x = R.randn(2, 4, 4, 8).astype(np.float32)
    y = tf.nn.local_response_normalization(tf.constant(x), depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75)
    assert y.op.type == "LRN" and y.op.name == "LRN"
    assert y.op.get_attr("depth_radius") == 2 and y.op.get_attr("beta") == 0.75
    np.testing.assert_allclose(_run(y), ref_lrn(x, 2, 2.0, 1e-4, 0.75), rtol=1e-5)
    assert tf.nn.lrn is tf.nn.local_response_normalization


def test_lrn_defaults_match_tf_values():
    # tf.nn.lrn(x, 1) for x = arange(4): these values agree with TF 2.21's CPU kernel
    x = np.arange(4.0, dtype=np.float32).reshape(1, 1, 1, 4)
    want = x / np.sqrt(1 + np.array([1.0, 5.0, 14.0, 13.0]))
    np.testing.assert_allclose(_run(tf.nn.lrn(tf.constant(x), 1)), want, rtol=1e-6)


def test_lrn_gradient_is_lrn_grad():
    x = tf.constant(R.randn(1, 2, 2, 5))
    y = tf.nn.lrn(x, 2, alpha=0.3)
    g = tf.gradients(y, x)[0]
    assert g.op.type == "LRNGrad"
    np.testing.assert_allclose(_run(g), ref_lrn_grad(np.ones((1, 2, 2, 5)), _run(x), 2, 1.0, 0.3, 0.5), rtol=1e-10)


def test_lrn_errors():
    with pytest.raises(ValueError, match="rank 4"):
        tf.nn.lrn(tf.zeros([2, 3]))
    with pytest.raises(ValueError, match="depth_radius"):
        tf.nn.lrn(tf.zeros([1, 2, 2, 3]), depth_radius=-1)
    with pytest.raises(TypeError):
        tf.nn.lrn(tf.constant([[[[1]]]]))


# -- fused_batch_norm -------------------------------------------------------------------------------
def _inputs(shape, c):
    return (R.randn(*shape).astype(np.float32), (R.rand(c) + 0.5).astype(np.float32),
            R.randn(c).astype(np.float32))


def test_fused_batch_norm_training_matches_tf_semantics():
    x, s, o = _inputs((2, 3, 2, 4), 4)
    y, mean, var = tf.nn.fused_batch_norm(tf.constant(x), s, o)
    assert y.op.type == "FusedBatchNormV3" and y.op.get_attr("is_training")
    assert y.op.get_attr("epsilon") == pytest.approx(0.001)
    assert mean.shape.as_list() == [4] and var.shape.as_list() == [4]
    got = _run([y, mean, var])
    want = ref_bn(x, s, o, None, None, 0.001, "NHWC", True)
    for g, w in zip(got, want[:3]):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    # the returned variance is the unbiased one (TF's), the normalization uses the biased one
    np.testing.assert_allclose(got[2], x.reshape(-1, 4).var(axis=0, ddof=1), rtol=1e-5)


def test_fused_batch_norm_exponential_avg_factor():
    x, s, o = _inputs((2, 3, 2, 4), 4)
    m, v = np.full(4, 0.1, np.float32), np.full(4, 1.5, np.float32)
    _, mean, var = tf.nn.fused_batch_norm(tf.constant(x), s, o, m, v, exponential_avg_factor=0.3)
    got_m, got_v = _run([mean, var])
    np.testing.assert_allclose(got_m, 0.7 * m + 0.3 * x.reshape(-1, 4).mean(0), rtol=1e-5)
    np.testing.assert_allclose(got_v, 0.7 * v + 0.3 * x.reshape(-1, 4).var(0, ddof=1), rtol=1e-5)


def test_fused_batch_norm_inference_nchw_and_min_epsilon():
    x, s, o = _inputs((2, 3, 4, 2), 3)
    m, v = R.randn(3).astype(np.float32), (R.rand(3) + 0.5).astype(np.float32)
    y, bm, bv = tf.nn.fused_batch_norm(tf.constant(x), s, o, m, v, epsilon=0.0, data_format="NCHW",
                                       is_training=False)
    assert y.op.get_attr("epsilon") == pytest.approx(1.001e-5)
    got = _run([y, bm, bv])
    np.testing.assert_allclose(got[0], ref_bn(x, s, o, m, v, 1.001e-5, "NCHW", False)[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], m)
    np.testing.assert_allclose(got[2], v)


def test_fused_batch_norm_gradients():
    x, s, o = _inputs((2, 3, 3, 2), 2)
    xt, st, ot = tf.constant(x), tf.constant(s), tf.constant(o)
    y, _, _ = tf.nn.fused_batch_norm(xt, st, ot)
    gx, gs, go = tf.gradients(tf.reduce_sum(y * y), [xt, st, ot])
    assert gx.op.type == "FusedBatchNormGradV3"
    gx, gs, go = _run([gx, gs, go])
    xhat = (x - x.mean((0, 1, 2))) / np.sqrt(x.var((0, 1, 2)) + 1e-3)
    dy = 2 * (xhat * s + o)
    np.testing.assert_allclose(go, dy.sum((0, 1, 2)), rtol=1e-4)
    np.testing.assert_allclose(gs, (dy * xhat).sum((0, 1, 2)), rtol=1e-4)
    n = x.size // 2
    sums = dy.sum((0, 1, 2)), (dy * xhat).sum((0, 1, 2))
    want_dx = s / np.sqrt(x.var((0, 1, 2)) + 1e-3) * (dy - sums[0] / n - xhat * sums[1] / n)
    np.testing.assert_allclose(gx, want_dx, rtol=1e-3, atol=1e-4)


def test_fused_batch_norm_errors():
    x = tf.zeros([2, 3, 3, 4])
    with pytest.raises(ValueError, match="mean"):
        tf.nn.fused_batch_norm(x, tf.ones([4]), tf.zeros([4]), is_training=False)
    with pytest.raises(ValueError, match="channel"):
        tf.nn.fused_batch_norm(x, tf.ones([3]), tf.zeros([3]))
    with pytest.raises(ValueError, match="rank 4"):
        tf.nn.fused_batch_norm(tf.zeros([2, 4]), tf.ones([4]), tf.zeros([4]))
    with pytest.raises(ValueError, match="format"):
        tf.nn.fused_batch_norm(x, tf.ones([4]), tf.zeros([4]), data_format="NWC")


def test_fused_batch_norm_runtime_missing_statistics_is_invalid_argument():
    m = tf.placeholder(tf.float32, [None])
    y, _, _ = tf.nn.fused_batch_norm(tf.zeros([1, 2, 2, 3]), tf.ones([3]), tf.zeros([3]), m, m, is_training=False)
    with pytest.raises(tf.errors.InvalidArgumentError, match="is_training"):
        _run(y, {m: np.zeros(2, np.float32)})


def test_fused_batch_norm_half_input_float32_params():
    x, s, o = _inputs((2, 2, 2, 3), 3)
    y, mean, _ = tf.nn.fused_batch_norm(tf.constant(x.astype(np.float16)), s, o)
    assert y.dtype == tf.float16 and mean.dtype == tf.float32
    np.testing.assert_allclose(_run(y), ref_bn(x, s, o, None, None, 1e-3, "NHWC", True)[0], atol=1e-2)


def test_graph_def_round_trip_keeps_attrs():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [2, 3, 3, 4], name="x")
        y, _, _ = tf.nn.fused_batch_norm(x, tf.ones([4]), tf.zeros([4]))
        tf.identity(tf.nn.lrn(y, 2, alpha=0.5), name="out")
    gd = g.as_graph_def()
    node = [n for n in gd.node if n.op == "FusedBatchNormV3"][0]
    assert node.attr["U"].type == tf.float32.as_datatype_enum
    xv = R.randn(2, 3, 3, 4).astype(np.float32)
    with tf.Session(graph=g) as sess:
        want = sess.run("out:0", {"x:0": xv})
    g2 = tf.Graph()
    with g2.as_default():
        tf.import_graph_def(gd, name="")
        with tf.Session(graph=g2) as sess:
            np.testing.assert_allclose(sess.run("out:0", {"x:0": xv}), want)
