"""tf.nn.ctc_loss_v2: dense and sparse labels, the blank index, layouts, gradients and errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import labflow as tf

R = np.random.RandomState(17)
T, B, C = 4, 3, 4


def _brute(x, labels, label_len, frames, blank):
    """-log P(labels) by enumerating every path of each row (x: [T, B, C] logits)."""
    out = []
    for b in range(x.shape[1]):
        z = x[:frames[b], b].astype(np.float64)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        want = list(labels[b][:label_len[b]])
        total = 0.0
        for path in itertools.product(range(C), repeat=int(frames[b])):
            merged = [k for i, k in enumerate(path) if i == 0 or k != path[i - 1]]
            if [k for k in merged if k != blank] == want:
                total += np.exp(sum(logp[t, k] for t, k in enumerate(path)))
        out.append(-np.log(total))
    return np.array(out)


@pytest.mark.parametrize("blank", [None, 2, -1])
def test_dense_labels_match_path_enumeration(blank):
    x = R.randn(T, B, C)
    labels = np.array([[1, 2, 0], [3, 3, 1], [1, 0, 0]], np.int32)
    if blank is not None:
        labels = np.where(labels == (blank % C), (blank + 1) % C, labels)  # no label may be the blank
    label_len, frames = np.array([2, 2, 1]), np.array([4, 4, 3])
    loss = tf.nn.ctc_loss_v2(labels, tf.constant(x), label_len, frames, blank_index=blank)
    major = tf.nn.ctc_loss_v2(labels, tf.constant(x.transpose(1, 0, 2)), label_len, frames, logits_time_major=False,
                              blank_index=blank)
    with tf.Session() as s:
        got, got_major = s.run([loss, major])
    want = _brute(x, labels, label_len, frames, 0 if blank is None else blank % C)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(got_major, want, rtol=1e-6)


def test_sparse_labels_and_gradient():
    x = tf.constant(R.randn(T, 2, C))
    sparse = tf.SparseTensor([[0, 0], [0, 1], [1, 0]], tf.constant([0, 2, 1], tf.int32), [2, 2])
    loss = tf.nn.ctc_loss_v2(sparse, x, None, [4, 3], blank_index=3)
    dense = tf.nn.ctc_loss_v2([[0, 2], [1, 0]], x, [2, 1], [4, 3], blank_index=3)
    g = tf.gradients(tf.reduce_sum(loss), x)[0]
    with tf.Session() as s:
        a, b, gv = s.run([loss, dense, g])
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(gv.sum(axis=2)[:3], 0, atol=1e-9)  # softmax minus occupancy sums to 0 per frame
    assert np.abs(gv[3, 1]).max() == 0  # past row 1's last frame


def test_errors():
    x = tf.zeros([T, 1, C])
    sparse = tf.SparseTensor([[0, 0]], tf.constant([1], tf.int32), [1, 1])
    with pytest.raises(ValueError, match="blank_index must be given"):
        tf.nn.ctc_loss_v2(sparse, x, None, [4])
    with pytest.raises(ValueError, match="label_length"):
        tf.nn.ctc_loss_v2([[1]], x, None, [4])
    loss = tf.nn.ctc_loss_v2([[1, 2, 3]], tf.zeros([2, 1, 5]), [3], [2])
    with tf.Session() as s, pytest.raises(tf.errors.InvalidArgumentError, match="Not enough time"):
        s.run(loss)
