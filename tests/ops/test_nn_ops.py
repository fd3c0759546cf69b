"""tf.nn semantics the sweep can't see: TF1 signatures, names, errors, stability, dropout."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


def _np_log_softmax(x, axis=-1):
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


# -- relu / softmax ---------------------------------------------------------------------------------
def test_relu_default_name_dtype_and_second_derivative():
    x = tf.constant([-1.0, 2.0, -3.0, 4.0])
    y = tf.nn.relu(x)
    assert y.op.name == "Relu" and y.dtype == tf.float32
    g = tf.gradients(y, x)[0]
    assert g.op.type == "ReluGrad"
    gg = tf.gradients(g, x)[0]
    np.testing.assert_array_equal(_run(y), [0, 2, 0, 4])
    np.testing.assert_array_equal(_run(g), [0, 1, 0, 1])
    np.testing.assert_array_equal(_run(gg), [0, 0, 0, 0])


def test_relu_rejects_bool():
    with pytest.raises(TypeError, match="Relu"):
        tf.nn.relu(tf.constant([True, False]))


def test_softmax_is_stable_for_huge_logits():
    x = tf.constant([[1000.0, 0.0, -1000.0], [-1e30, -1e30, -1e30]])
    s, ls = _run([tf.nn.softmax(x), tf.nn.log_softmax(x)])
    np.testing.assert_allclose(s, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-7)
    assert np.isfinite(ls[1]).all() and ls[0, 0] == 0.0


def test_softmax_names_and_axis_spellings():
    x = tf.placeholder(tf.float32, [2, 3, 4])
    assert tf.nn.softmax(x).op.name == "Softmax"
    assert tf.nn.softmax(x, name="probs").op.name == "probs"
    assert tf.nn.log_softmax(x).op.type == "LogSoftmax"
    v = np.random.RandomState(0).randn(2, 3, 4).astype(np.float32)
    a, b = _run([tf.nn.softmax(x, axis=1), tf.nn.softmax(x, dim=-2)], {x: v})
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-5)
    assert tf.nn.softmax(x, axis=0).get_shape().as_list() == [2, 3, 4]


def test_softmax_axis_errors():
    x = tf.placeholder(tf.float32, [2, 3])
    msg = r"Dimension \(2\) must be in the range \[-2, 2\)"
    with pytest.raises(tf.errors.InvalidArgumentError, match=msg):
        tf.nn.softmax(x, axis=2)
    with pytest.raises(ValueError, match="Cannot specify both 'axis' and 'dim'"):
        tf.nn.softmax(x, axis=0, dim=0)
    with pytest.raises(ValueError, match="rank of the input must be known"):
        tf.nn.softmax(tf.placeholder(tf.float32), axis=0)
    with pytest.raises(ValueError, match="rank >= 1"):
        tf.nn.softmax(tf.constant(1.0))
    with pytest.raises(TypeError, match="Softmax"):
        tf.nn.softmax(tf.constant([1, 2]))


def test_softmax_unknown_rank_last_axis_runs():
    x = tf.placeholder(tf.float64)
    v = np.random.RandomState(1).randn(2, 2, 3)
    np.testing.assert_allclose(_run(tf.nn.log_softmax(x), {x: v}), _np_log_softmax(v), rtol=1e-12)


# -- softmax_cross_entropy_with_logits --------------------------------------------------------------
def test_xent_v1_rejects_positional_arguments():
    with pytest.raises(ValueError, match="Only call `softmax_cross_entropy_with_logits` with named"):
        tf.nn.softmax_cross_entropy_with_logits(tf.constant([[0.0, 1.0]]), tf.constant([[1.0, 2.0]]))
    with pytest.raises(ValueError, match="Only call `sparse_softmax_cross_entropy_with_logits`"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(tf.constant([1]), tf.constant([[1.0, 2.0]]))
    with pytest.raises(ValueError, match="Both labels and logits must be provided"):
        tf.nn.softmax_cross_entropy_with_logits(logits=tf.constant([[1.0, 2.0]]))


def test_xent_v1_stops_label_gradient_v2_does_not():
    labels = tf.constant([[0.2, 0.8], [0.5, 0.5]])
    logits = tf.constant([[1.0, 2.0], [0.0, -1.0]])
    v1 = tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    v2 = tf.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits)
    assert tf.gradients(v1, labels) == [None]
    g_lab, g_log = tf.gradients(v2, [labels, logits])
    g1 = tf.gradients(v1, logits)[0]
    lv, l2, gl, gg, g1v = _run([v1, v2, g_lab, g_log, g1])
    np.testing.assert_allclose(lv, l2)
    lg = np.array([[1.0, 2.0], [0.0, -1.0]])
    lab = np.array([[0.2, 0.8], [0.5, 0.5]])
    np.testing.assert_allclose(lv, -(lab * _np_log_softmax(lg)).sum(-1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gl, -_np_log_softmax(lg), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gg, np.exp(_np_log_softmax(lg)) - lab, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g1v, gg)


def test_xent_names_and_op_structure():
    labels = tf.placeholder(tf.float32, [None, 3])
    logits = tf.placeholder(tf.float32, [None, 3])
    loss = tf.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits)
    assert loss.op.type == "SoftmaxCrossEntropyWithLogits"
    assert loss.op.name == "softmax_cross_entropy_with_logits"
    assert [t.get_shape().as_list() for t in loss.op.outputs] == [[None], [None, 3]]
    v1 = tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    assert v1.op.name == "softmax_cross_entropy_with_logits_sg"
    sp_labels = tf.placeholder(tf.int64, [None])
    sp = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=sp_labels, logits=logits)
    assert sp.op.name == "SparseSoftmaxCrossEntropyWithLogits/SparseSoftmaxCrossEntropyWithLogits"
    assert sp.op.get_attr("Tlabels") == tf.int64


def test_xent_stable_and_half_precision():
    logits = np.array([[1000.0, -1000.0, 0.0]], np.float16)
    labels = np.array([[0.0, 1.0, 0.0]], np.float16)
    out = tf.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits)
    assert out.dtype == tf.float16
    sp = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[1], logits=logits)
    assert sp.dtype == tf.float16
    a, b = _run([out, sp])
    np.testing.assert_allclose(a, [2000.0])  # computed in float32: no overflow of exp in half
    np.testing.assert_allclose(b, [2000.0])

def test_xent_static_shape_errors_name_the_op():
    msg = r"Dimensions must be equal, but are 3 and 4.*SoftmaxCrossEntropyWithLogits"
    with pytest.raises(ValueError, match=msg):
        tf.nn.softmax_cross_entropy_with_logits_v2(labels=tf.zeros([2, 4]), logits=tf.zeros([2, 3]))


def test_xent_rank3_and_axis():
    r = np.random.RandomState(2)
    lg = r.randn(2, 3, 4)
    lab = np.exp(_np_log_softmax(r.randn(2, 3, 4), axis=1))
    x = tf.placeholder(tf.float64, [2, 3, 4])
    y = tf.placeholder(tf.float64)
    loss = tf.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=x, axis=1)
    assert loss.get_shape().as_list() == [2, 4]
    want = -(lab * _np_log_softmax(lg, 1)).sum(1)
    np.testing.assert_allclose(_run(loss, {x: lg, y: lab}), want, rtol=1e-12)
    x2, y2 = tf.placeholder(tf.float64), tf.placeholder(tf.float64)
    loss2 = tf.nn.softmax_cross_entropy_with_logits_v2(labels=y2, logits=x2)
    want2 = -(lab * _np_log_softmax(lg)).sum(-1)
    np.testing.assert_allclose(_run(loss2, {x2: lg, y2: lab}), want2, rtol=1e-12)


# -- sparse -----------------------------------------------------------------------------------------
def test_sparse_out_of_range_label_is_invalid_argument_naming_the_op():
    logits = tf.placeholder(tf.float32, [3, 10])
    labels = tf.placeholder(tf.int32, [3])
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits, name="xent")
    v = np.zeros((3, 10), np.float32)
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError) as ei:
            sess.run(loss, {logits: v, labels: [1, 12, 3]})
        msg = str(ei.value)
        assert "Received a label value of 12 which is outside the valid range of [0, 10)" in msg
        assert "Label values: 1 12 3" in msg and "xent/xent (op: SparseSoftmaxCrossEntropyWithLogits)" in msg
        with pytest.raises(tf.errors.InvalidArgumentError, match="label value of -1"):
            sess.run(loss, {logits: v, labels: [0, -1, 3]})
        assert np.allclose(sess.run(loss, {logits: v, labels: [0, 9, 3]}), np.log(10.0))


def test_sparse_static_checks():
    with pytest.raises(ValueError, match=r"Rank mismatch: Rank of labels \(received 2\) should equal rank of "
                                         r"logits minus 1 \(received 2\)"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.zeros([2, 3], tf.int32),
                                                       logits=tf.zeros([2, 3]))
    with pytest.raises(ValueError, match="Shape mismatch: The shape of labels"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.zeros([4], tf.int32),
                                                       logits=tf.zeros([2, 3]))
    with pytest.raises(ValueError, match="Logits cannot be scalars"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.zeros([], tf.int32), logits=tf.constant(1.0))
    with pytest.raises(TypeError, match="int32, int64"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.zeros([2]), logits=tf.zeros([2, 3]))


def test_sparse_runtime_batch_mismatch_is_clear():
    logits = tf.placeholder(tf.float32, [None, 3])
    labels = tf.placeholder(tf.int32, [None])
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    msg = "logits and labels must have the same first dimension"
    with pytest.raises(tf.errors.InvalidArgumentError, match=msg):
        _run(loss, {logits: np.zeros((2, 3), np.float32), labels: [0, 1, 2]})


def test_sparse_unknown_rank_flattens_and_restores_shape():
    logits = tf.placeholder(tf.float32)
    labels = tf.placeholder(tf.int64)
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    lg = np.random.RandomState(3).randn(2, 3, 5).astype(np.float32)
    lab = np.array([[0, 4, 2], [1, 1, 3]])
    want = -np.take_along_axis(_np_log_softmax(lg.astype(np.float64)), lab[..., None], -1)[..., 0]
    np.testing.assert_allclose(_run(loss, {logits: lg, labels: lab}), want, rtol=1e-5)


def test_sparse_second_derivative_matches_dense():
    lg = tf.constant(np.random.RandomState(4).randn(3, 4))
    lab = np.array([0, 3, 1])
    sp = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=lab, logits=lg)
    de = tf.nn.softmax_cross_entropy_with_logits_v2(labels=np.eye(4)[lab], logits=lg)
    h_sp = tf.gradients(tf.reduce_sum(tf.square(tf.gradients(sp, lg)[0])), lg)[0]
    h_de = tf.gradients(tf.reduce_sum(tf.square(tf.gradients(de, lg)[0])), lg)[0]
    a, b = _run([h_sp, h_de])
    np.testing.assert_allclose(a, b, rtol=1e-10)
    assert np.abs(a).sum() > 0


# -- sigmoid xent, bias_add, l2_loss ----------------------------------------------------------------
def test_sigmoid_cross_entropy_with_logits():
    x = np.array([-100.0, -1.0, 0.0, 2.0, 100.0])
    z = np.array([0.0, 1.0, 0.5, 0.0, 1.0])
    out = tf.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x)
    assert out.op.name == "logistic_loss"
    want = np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))
    np.testing.assert_allclose(_run(out), want, rtol=1e-5)
    with pytest.raises(ValueError, match="Only call `sigmoid_cross_entropy_with_logits`"):
        tf.nn.sigmoid_cross_entropy_with_logits(z, x)
    with pytest.raises(ValueError, match="same shape"):
        tf.nn.sigmoid_cross_entropy_with_logits(labels=[1.0, 0.0], logits=[1.0, 2.0, 3.0])


def test_bias_add_checks_and_names():
    v = tf.zeros([2, 3, 4])
    assert tf.nn.bias_add(v, tf.zeros([4])).op.name == "BiasAdd"
    assert tf.nn.bias_add(v, tf.zeros([3]), data_format="NCHW").op.get_attr("data_format") == "NCHW"
    with pytest.raises(ValueError, match=r"Dimensions must be equal, but are 4 and 3.*'BiasAdd_\d+'"):
        tf.nn.bias_add(v, tf.zeros([3]))
    with pytest.raises(ValueError, match="data_format"):
        tf.nn.bias_add(v, tf.zeros([4]), data_format="HWC")
    with pytest.raises(ValueError, match="at least rank 2"):
        tf.nn.bias_add(tf.zeros([4]), tf.zeros([4]))


def test_l2_loss():
    x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    y = tf.nn.l2_loss(x)
    assert y.op.name == "L2Loss" and y.get_shape().as_list() == []
    assert _run(y) == 15.0
    np.testing.assert_array_equal(_run(tf.gradients(y, x)[0]), [[1, 2], [3, 4]])


# -- dropout ----------------------------------------------------------------------------------------
def test_dropout_scales_kept_values_and_keeps_the_mean():
    x = tf.ones([200, 500])
    y = tf.nn.dropout(x, keep_prob=0.8, seed=1)
    assert y.get_shape().as_list() == [200, 500]
    v = _run(y)
    assert set(np.unique(v).round(5)) <= {0.0, 1.25}
    assert abs((v > 0).mean() - 0.8) < 0.01
    r = _run(tf.nn.dropout(x, rate=0.3, seed=2))
    assert abs((r > 0).mean() - 0.7) < 0.01


def test_dropout_keep_prob_placeholder_and_noise_shape():
    kp = tf.placeholder(tf.float32, [])
    x = tf.ones([50, 40])
    y = tf.nn.dropout(x, keep_prob=kp, noise_shape=[50, 1], seed=3)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {kp: 1.0}), np.ones((50, 40)))
        v = sess.run(y, {kp: 0.5})
    assert (v == v[:, :1]).all()  # whole rows kept or dropped
    assert 0 < (v[:, 0] > 0).sum() < 50


def test_dropout_argument_errors():
    x = tf.ones([3])
    assert tf.nn.dropout(x, keep_prob=1.0) is x
    with pytest.raises(ValueError, match="You must provide a rate"):
        tf.nn.dropout(x)
    with pytest.raises(ValueError, match="Cannot specify both"):
        tf.nn.dropout(x, keep_prob=0.5, rate=0.5)
    with pytest.raises(ValueError, match="range"):
        tf.nn.dropout(x, rate=1.0)
    with pytest.raises(ValueError, match="floating point"):
        tf.nn.dropout(tf.ones([3], tf.int32), rate=0.5)


def test_nn_namespace_exports():
    for name in ("relu", "softmax", "log_softmax", "softmax_cross_entropy_with_logits",
                 "softmax_cross_entropy_with_logits_v2", "sparse_softmax_cross_entropy_with_logits",
                 "sigmoid_cross_entropy_with_logits", "bias_add", "l2_loss", "dropout", "sigmoid", "tanh"):
        assert callable(getattr(tf.nn, name)), name
