"""tf.losses: values vs NumPy for every Reduction, weights, label smoothing, collections, errors."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow import losses
from labflow.losses import Reduction

R = np.random.RandomState(9)


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


def _np_log_softmax(x):
    s = x - x.max(-1, keepdims=True)
    return s - np.log(np.exp(s).sum(-1, keepdims=True))


def _np_reduce(per, weights, reduction):
    w = np.broadcast_to(np.asarray(weights, np.float64), per.shape)
    weighted = per * w
    if reduction == Reduction.NONE:
        return weighted
    total = weighted.sum()
    if reduction == Reduction.SUM:
        return total
    if reduction == Reduction.MEAN:
        d = w.sum()
    elif reduction == Reduction.SUM_OVER_BATCH_SIZE:
        d = per.size
    else:
        d = np.count_nonzero(w)
    return total / d if d else 0.0


ALL = [Reduction.NONE, Reduction.SUM, Reduction.MEAN, Reduction.SUM_OVER_BATCH_SIZE,
       Reduction.SUM_BY_NONZERO_WEIGHTS]
WEIGHTS = [1.0, 2.5, np.array([1.0, 0.0, 2.0, 0.5]), np.array([[0.0], [1.0], [3.0], [0.0]]),
           np.zeros(4)]


def test_reduction_enum_matches_tf():
    assert Reduction.SUM_OVER_NONZERO_WEIGHTS == Reduction.SUM_BY_NONZERO_WEIGHTS == \
        "weighted_sum_by_nonzero_weights"
    assert Reduction.MEAN == "weighted_mean" and Reduction.NONE == "none"
    assert set(Reduction.all()) == set(ALL)
    with pytest.raises(ValueError, match="Invalid Reduction Key"):
        Reduction.validate("mean")


@pytest.mark.parametrize("reduction", ALL)
@pytest.mark.parametrize("wi", range(len(WEIGHTS)))
def test_sparse_softmax_cross_entropy_every_reduction(reduction, wi):
    logits = R.randn(4, 5).astype(np.float32)
    labels = np.array([0, 4, 2, 1])
    w = WEIGHTS[wi]
    per = -np.take_along_axis(_np_log_softmax(logits.astype(np.float64)), labels[:, None], 1)[:, 0]
    np_w = w.reshape(-1) if np.ndim(w) == 2 else w
    want = _np_reduce(per, np_w, reduction)
    got = _run(losses.sparse_softmax_cross_entropy(labels, logits, weights=w, reduction=reduction))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reduction", ALL)
def test_softmax_cross_entropy_every_reduction(reduction):
    logits = R.randn(4, 3).astype(np.float32)
    onehot = np.eye(3)[[2, 0, 1, 1]]
    w = np.array([1.0, 0.0, 2.0, 0.5])
    per = -(onehot * _np_log_softmax(logits.astype(np.float64))).sum(-1)
    got = _run(losses.softmax_cross_entropy(onehot, logits, weights=w, reduction=reduction))
    np.testing.assert_allclose(got, _np_reduce(per, w, reduction), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reduction", ALL)
@pytest.mark.parametrize("wi", [0, 1, 3])
def test_mean_squared_error_every_reduction(reduction, wi):
    pred, lab = R.randn(4, 3), R.randn(4, 3)
    w = WEIGHTS[wi]
    got = _run(losses.mean_squared_error(lab, pred, weights=w, reduction=reduction))
    np.testing.assert_allclose(got, _np_reduce((pred - lab) ** 2, w, reduction), rtol=1e-5, atol=1e-6)


def test_default_reduction_is_mean_over_nonzero_weights():
    pred, lab = R.randn(4, 2), R.randn(4, 2)
    w = np.array([[1.0, 0.0], [2.0, 1.0], [0.0, 0.0], [1.0, 1.0]])
    got = _run(losses.absolute_difference(lab, pred, weights=w))
    np.testing.assert_allclose(got, (np.abs(pred - lab) * w).sum() / 5, rtol=1e-6)


def test_all_zero_weights_give_zero_not_nan():
    got = _run(losses.mean_squared_error(np.ones(3), np.zeros(3), weights=0.0))
    assert got == 0.0


def test_label_smoothing():
    logits = R.randn(2, 4).astype(np.float32)
    onehot = np.eye(4)[[1, 3]]
    smoothed = onehot * 0.8 + 0.2 / 4
    per = -(smoothed * _np_log_softmax(logits.astype(np.float64))).sum(-1)
    got = _run(losses.softmax_cross_entropy(onehot, logits, label_smoothing=0.2))
    np.testing.assert_allclose(got, per.mean(), rtol=1e-5)
    mlabels = np.array([[1.0, 0.0], [0.0, 1.0]])
    mlog = R.randn(2, 2)
    sm = mlabels * 0.9 + 0.05
    want = (np.maximum(mlog, 0) - mlog * sm + np.log1p(np.exp(-np.abs(mlog)))).mean()
    got = _run(losses.sigmoid_cross_entropy(mlabels, mlog, label_smoothing=0.1))
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_other_losses_values():
    lab = (R.rand(3, 2) > 0.5).astype(np.float64)
    pred = R.rand(3, 2) * 0.9 + 0.05
    logit = R.randn(3, 2) * 2
    want_log = (-lab * np.log(pred + 1e-7) - (1 - lab) * np.log(1 - pred + 1e-7)).mean()
    np.testing.assert_allclose(_run(losses.log_loss(lab, pred)), want_log, rtol=1e-5)
    err = np.abs(logit - lab)
    want_huber = np.where(err <= 1.0, 0.5 * err ** 2, err - 0.5).mean()
    np.testing.assert_allclose(_run(losses.huber_loss(lab, logit)), want_huber, rtol=1e-5)
    want_hinge = np.maximum(0, 1 - (2 * lab - 1) * logit).mean()
    np.testing.assert_allclose(_run(losses.hinge_loss(lab, logit)), want_hinge, rtol=1e-5)
    u = pred / np.linalg.norm(pred, axis=1, keepdims=True)
    v = lab + 1
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    want_cos = (1 - (u * v).sum(1)).mean()
    np.testing.assert_allclose(_run(losses.cosine_distance(v, u, axis=1)), want_cos, rtol=1e-5)
    with pytest.raises(ValueError, match="You must specify 'axis'"):
        losses.cosine_distance(v, u)


def test_names_dtype_and_collection():
    logits = tf.placeholder(tf.float32, [None, 3])
    labels = tf.placeholder(tf.int32, [None])
    loss = losses.sparse_softmax_cross_entropy(labels, logits)
    assert loss.name == "sparse_softmax_cross_entropy_loss/value:0"
    assert loss.dtype == tf.float32
    assert loss.get_shape().as_list() == []
    onehot = losses.softmax_cross_entropy(tf.one_hot(labels, 3), logits, scope="xe")
    assert onehot.name == "xe/value:0"
    assert losses.get_losses() == [loss, onehot]
    assert tf.get_collection(tf.GraphKeys.LOSSES) == [loss, onehot]
    losses.mean_squared_error([1.0], [2.0], loss_collection=None)
    assert len(losses.get_losses()) == 2
    assert losses.get_losses(scope="xe") == [onehot]


def test_sparse_labels_with_trailing_one_dimension():
    logits = R.randn(3, 4).astype(np.float32)
    a = losses.sparse_softmax_cross_entropy(np.array([[1], [2], [3]]), logits, weights=np.ones((3, 1)))
    b = losses.sparse_softmax_cross_entropy(np.array([1, 2, 3]), logits)
    av, bv = _run([a, b])
    np.testing.assert_allclose(av, bv)


def test_no_gradient_flows_into_onehot_labels():
    labels = tf.placeholder(tf.float32, [None, 3])
    logits = tf.placeholder(tf.float32, [None, 3])
    loss = losses.softmax_cross_entropy(labels, logits)
    g_lab, g_log = tf.gradients(loss, [labels, logits])
    assert g_lab is None and g_log is not None


def test_get_total_loss_adds_regularization():
    w = tf.get_variable("w", shape=[2], initializer=tf.ones_initializer(),
                        regularizer=lambda v: tf.reduce_sum(v) * 0.5)
    data_loss = losses.mean_squared_error([0.0, 0.0], w)
    total = losses.get_total_loss()
    only_data = losses.get_total_loss(add_regularization_losses=False, name="data_total")
    reg = losses.get_regularization_loss()
    assert total.name == "total_loss:0"
    assert len(losses.get_regularization_losses()) == 1
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        t, d, r, dl = s.run([total, only_data, reg, data_loss])
    assert (t, d, r, dl) == (2.0, 1.0, 1.0, 1.0)


def test_total_loss_errors_without_losses_and_zero_regularization():
    with pytest.raises(ValueError, match="No losses"):
        losses.get_total_loss()
    assert _run(losses.get_regularization_loss()) == 0.0
    losses.add_loss(tf.constant(3.0))
    assert _run(losses.get_total_loss()) == 3.0


def test_argument_errors():
    with pytest.raises(ValueError, match="onehot_labels must not be None"):
        losses.softmax_cross_entropy(None, [[1.0]])
    with pytest.raises(ValueError, match="incompatible"):
        losses.softmax_cross_entropy(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="weights can not be broadcast"):
        losses.mean_squared_error(np.zeros((4, 3)), np.zeros((4, 3)), weights=np.ones(3))
    with pytest.raises(ValueError, match="weights can not be broadcast"):
        losses.mean_squared_error(np.zeros((4, 3)), np.zeros((4, 3)), weights=np.ones((2, 3)))
    with pytest.raises(ValueError, match="Invalid Reduction Key"):
        losses.mean_squared_error([1.0], [1.0], reduction="sum")


def test_compute_weighted_loss_keeps_input_dtype():
    per = tf.constant([1.0, 3.0], tf.float64)
    loss = losses.compute_weighted_loss(per, weights=[1.0, 0.0])
    assert loss.dtype == tf.float64
    assert _run(loss) == 1.0
