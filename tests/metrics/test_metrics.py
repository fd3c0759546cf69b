"""tf.metrics: streaming accuracy/mean/precision/recall over local variables, reset by the local initializer."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow import metrics


def test_accuracy_streams_over_batches():
    labels = tf.placeholder(tf.int64, [None])
    preds = tf.placeholder(tf.int64, [None])
    acc, update = metrics.accuracy(labels, preds)
    assert acc.name == "accuracy/value:0" and update.name == "accuracy/update_op:0"
    assert acc.dtype == tf.float32
    with tf.Session() as s:
        s.run(tf.local_variables_initializer())
        assert s.run(acc) == 0.0
        assert s.run(update, {labels: [1, 2, 3, 4], preds: [1, 2, 0, 0]}) == 0.5
        assert s.run(update, {labels: [5, 6], preds: [5, 6]}) == pytest.approx(4 / 6)
        assert s.run(acc) == pytest.approx(4 / 6)
        s.run(tf.local_variables_initializer())
        assert s.run(acc) == 0.0


def test_accuracy_variables_are_local_metric_variables():
    acc, _ = metrics.accuracy([1, 2], [1, 1])
    local = [v.name for v in tf.local_variables()]
    assert local == ["accuracy/total:0", "accuracy/count:0"]
    assert [v.name for v in tf.get_collection(tf.GraphKeys.METRIC_VARIABLES)] == local
    assert not tf.global_variables() and not tf.trainable_variables()
    metrics.accuracy([1], [1])
    assert [v.name for v in tf.local_variables()][2:] == ["accuracy_1/total:0", "accuracy_1/count:0"]


def test_accuracy_of_argmax_predictions_like_the_tutorials():
    logits = tf.placeholder(tf.float32, [None, 3])
    labels = tf.placeholder(tf.int32, [None])
    acc, update = metrics.accuracy(labels=labels, predictions=tf.argmax(logits, 1), name="eval_acc")
    assert acc.name.startswith("eval_acc/")
    with tf.Session() as s:
        s.run(tf.local_variables_initializer())
        got = s.run(update, {logits: [[0.1, 0.8, 0.1], [0.9, 0.0, 0.1], [0.2, 0.3, 0.5]], labels: [1, 2, 2]})
    assert got == pytest.approx(2 / 3)


def test_accuracy_weights_and_squeezing():
    acc, update = metrics.accuracy(np.array([[1], [2], [3]]), np.array([1, 0, 3]), weights=[[1.0], [3.0], [0.0]])
    with tf.Session() as s:
        s.run(tf.local_variables_initializer())
        assert s.run(update) == pytest.approx(0.25)


def test_accuracy_shape_mismatch():
    with pytest.raises(ValueError, match="incompatible"):
        metrics.accuracy(np.zeros((2, 3)), np.zeros((2, 4)))


def test_mean_and_collections():
    vals = tf.placeholder(tf.float32, [None])
    m, up = metrics.mean(vals, metrics_collections=["my_metrics"], updates_collections=["my_updates"])
    assert tf.get_collection("my_metrics") == [m]
    assert tf.get_collection("my_updates") == [up]
    with tf.Session() as s:
        s.run(tf.local_variables_initializer())
        s.run(up, {vals: [1.0, 2.0, 3.0]})
        s.run(up, {vals: [10.0]})
        assert s.run(m) == 4.0


def test_weighted_mean():
    m, up = metrics.mean([1.0, 2.0, 3.0], weights=[0.0, 1.0, 3.0])
    with tf.Session() as s:
        s.run(tf.local_variables_initializer())
        assert s.run(up) == pytest.approx(11 / 4)


def test_precision_recall_and_counts():
    labels = tf.placeholder(tf.bool, [None])
    preds = tf.placeholder(tf.bool, [None])
    p, p_up = metrics.precision(labels, preds)
    r, r_up = metrics.recall(labels, preds)
    tp, tp_up = metrics.true_positives(labels, preds)
    fp, fp_up = metrics.false_positives(labels, preds)
    tn, tn_up = metrics.true_negatives(labels, preds)
    fn, fn_up = metrics.false_negatives(labels, preds)
    lab = np.array([True, True, False, False, True])
    pr = np.array([True, False, True, False, True])
    with tf.Session() as s:
        s.run(tf.local_variables_initializer())
        assert s.run(p) == 0.0 and s.run(r) == 0.0
        s.run([p_up, r_up, tp_up, fp_up, tn_up, fn_up], {labels: lab, preds: pr})
        assert s.run([tp, fp, tn, fn]) == [2.0, 1.0, 1.0, 1.0]
        assert s.run(p) == pytest.approx(2 / 3)
        assert s.run(r) == pytest.approx(2 / 3)


def test_error_metrics():
    mae, mae_up = metrics.mean_absolute_error([1.0, 2.0], [2.0, 4.0])
    mse, mse_up = metrics.mean_squared_error([1.0, 2.0], [2.0, 4.0])
    with tf.Session() as s:
        s.run(tf.local_variables_initializer())
        assert s.run([mae_up, mse_up]) == [1.5, 2.5]


def test_metric_not_initialized_raises():
    acc, update = metrics.accuracy([1], [1])
    with tf.Session() as s:
        with pytest.raises(tf.errors.FailedPreconditionError):
            s.run(update)
