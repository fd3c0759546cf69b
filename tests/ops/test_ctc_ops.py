"""tf.nn.ctc_loss (against enumeration of every alignment, its options, its gradient, TF's errors) and the
greedy and beam-search decoders."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import labflow as tf
from labflow.testing.gradient_check import gradient_check
from labflow.testing.samples.ctc import ref_collapse, ref_log_softmax

R = np.random.RandomState(11)
T, B, C = 5, 3, 4  # blank = 3


def _sparse(labels):
    idx = [(b, i) for b, lab in enumerate(labels) for i in range(len(lab))]
    vals = [v for lab in labels for v in lab]
    shape = [len(labels), max(len(lab) for lab in labels)]
    return tf.SparseTensor(np.array(idx, np.int64).reshape(-1, 2), np.array(vals, np.int32), shape)


def brute_loss(x, labels, lengths, merge=True):
    losses = []
    for b, lab in enumerate(labels):
        ly = ref_log_softmax(x[:lengths[b], b])
        p = sum(np.exp(sum(ly[t, k] for t, k in enumerate(path)))
                for path in itertools.product(range(x.shape[2]), repeat=int(lengths[b]))
                if ref_collapse(path, x.shape[2] - 1, merge) == list(lab))
        losses.append(-np.log(p))
    return np.array(losses)


LABELS = [[0, 1], [2, 2], [1]]
LENGTHS = np.array([5, 4, 3], np.int32)
X = R.randn(T, B, C)


@pytest.mark.parametrize("merge", [True, False])
def test_ctc_loss_matches_enumeration(merge):
    loss = tf.nn.ctc_loss(_sparse(LABELS), tf.constant(X), LENGTHS, ctc_merge_repeated=merge)
    assert loss.get_shape().as_list() == [B] and loss.op.type == "CTCLoss"
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(loss), brute_loss(X, LABELS, LENGTHS, merge), rtol=1e-10)


def test_preprocess_collapse_repeated_and_batch_major():
    loss = tf.nn.ctc_loss(_sparse(LABELS), tf.constant(X.transpose(1, 0, 2)), LENGTHS,
                          preprocess_collapse_repeated=True, time_major=False)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(loss), brute_loss(X, [[0, 1], [2], [1]], LENGTHS), rtol=1e-10)


def test_float32_and_the_gradient_is_softmax_minus_occupancy():
    x32 = X.astype(np.float32)
    xt = tf.constant(x32)
    loss = tf.nn.ctc_loss(_sparse(LABELS), xt, LENGTHS)
    (g,) = tf.gradients(tf.reduce_sum(loss * [1.0, 2.0, 3.0]), [xt])
    with tf.Session() as sess:
        lv, gv = sess.run([loss, g])
    assert lv.dtype == np.float32 and gv.dtype == np.float32
    np.testing.assert_allclose(lv, brute_loss(X, LABELS, LENGTHS), rtol=1e-5)
    assert np.all(gv[3:, 2] == 0) and np.all(gv[4:, 1] == 0)  # steps past a row's length
    # each step's gradient sums to zero over the classes (softmax minus a distribution), times the weight
    np.testing.assert_allclose(gv.sum(2), 0, atol=1e-5)


def test_numerical_gradient():
    lab = [[0, 1], [2, 2], [1]]

    def build(x):
        return tf.nn.ctc_loss(_sparse(lab), x, LENGTHS)
    gradient_check(build, [X], rtol=1e-5, atol=1e-8)


def test_a_trained_ctc_model_decodes_its_labels():
    # one linear layer over fixed features learns to emit "1 0 2" (blank = 3)
    feats = R.randn(8, 1, 6)
    w = tf.Variable(tf.zeros([6, C], tf.float64))
    logits = tf.reshape(tf.matmul(tf.reshape(tf.constant(feats), [-1, 6]), w), [8, 1, C])
    loss = tf.reduce_mean(tf.nn.ctc_loss(_sparse([[1, 0, 2]]), logits, [8]))
    train = tf.train.AdamOptimizer(0.1).minimize(loss)
    (decoded,), _ = tf.nn.ctc_greedy_decoder(logits, [8])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss)
        for _ in range(200):
            sess.run(train)
        last, dec = sess.run([loss, decoded])
    assert last < 0.1 * first
    np.testing.assert_array_equal(dec.values, [1, 0, 2])


def test_ignore_longer_outputs_than_inputs():
    labels = _sparse([[0, 1, 0, 1, 0, 1], [1]])
    x = tf.constant(X[:, :2])
    loss = tf.nn.ctc_loss(labels, x, [5, 5], ignore_longer_outputs_than_inputs=True)
    (g,) = tf.gradients(loss, [x])
    with tf.Session() as sess:
        lv, gv = sess.run([loss, g])
    assert lv[0] == 0 and np.all(gv[:, 0] == 0)
    np.testing.assert_allclose(lv[1], brute_loss(X[:, 1:2], [[1]], [5])[0], rtol=1e-10)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Not enough time .*required: 6, available: 5"):
        with tf.Session() as sess:
            sess.run(tf.nn.ctc_loss(labels, x, [5, 5]))


@pytest.mark.parametrize("indices,values,lengths,match", [
    ([[0, 1], [0, 0], [1, 0]], [1, 1, 2], [5, 5], "out of order"),
    ([[1, 0]], [2], [5, 5], "Labels length is zero in batch 0"),
    ([[0, 0], [0, 1], [0, 2], [1, 0]], [1, 3, 1, 2], [5, 5], "non-null label .* following a null label"),
    ([[0, 0], [1, 0]], [1, -1], [5, 5], "must be nonnegative"),
    ([[0, 0], [1, 0]], [1, 1], [6, 5], r"sequence_length\(0\) = 6 is outside \[0, max_time = 5\]"),
    ([[0, 0], [2, 0]], [1, 1], [5, 5], "batch index must be between 0 and batch_size"),
])
def test_ctc_loss_errors(indices, values, lengths, match):
    labels = tf.SparseTensor(np.array(indices, np.int64), np.array(values, np.int32), [3, 3])
    loss = tf.nn.ctc_loss(labels, tf.constant(X[:, :2]), lengths)
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        with tf.Session() as sess:
            sess.run(loss)


def test_ctc_loss_construction_errors():
    with pytest.raises(TypeError, match="Expected labels .* to be a SparseTensor"):
        tf.nn.ctc_loss(np.array([[1]]), tf.constant(X), LENGTHS)
    with pytest.raises(ValueError, match="3-D"):
        tf.nn.ctc_loss(_sparse(LABELS), tf.constant(X[0]), LENGTHS)


def test_greedy_decoder():
    x = np.full((4, 2, 3), -5.0)
    best = [[0, 2], [0, 1], [2, 1], [0, 1]]  # per time step, per batch row
    for t, row in enumerate(best):
        for b, k in enumerate(row):
            x[t, b, k] = float(t + 1)
    (dec,), lp = tf.nn.ctc_greedy_decoder(tf.constant(x), [4, 3])
    (dec_nomerge,), _ = tf.nn.ctc_greedy_decoder(tf.constant(x), [4, 3], merge_repeated=False)
    with tf.Session() as sess:
        d, d2, lpv = sess.run([dec, dec_nomerge, lp])
    # row 0: 0 0 - 0 -> [0, 0]; row 1 (3 steps): - 1 1 -> [1]
    np.testing.assert_array_equal(d.indices, [[0, 0], [0, 1], [1, 0]])
    np.testing.assert_array_equal(d.values, [0, 0, 1])
    np.testing.assert_array_equal(d.dense_shape, [2, 2])
    np.testing.assert_array_equal(d2.values, [0, 0, 0, 1, 1])
    np.testing.assert_allclose(lpv, [[-10.0], [-6.0]])


def _exact_best(x, length, merge_repeated=False):
    ly = ref_log_softmax(x[:length])
    probs: dict = {}
    for path in itertools.product(range(x.shape[1]), repeat=length):
        lab = tuple(ref_collapse(path, x.shape[1] - 1, True))
        probs[lab] = probs.get(lab, 0.0) + np.exp(sum(ly[t, k] for t, k in enumerate(path)))
    return sorted(probs.items(), key=lambda kv: -kv[1])


def test_beam_search_with_a_wide_beam_is_exact():
    x = R.randn(4, 2, 3)
    decoded, lp = tf.nn.ctc_beam_search_decoder(tf.constant(x), [4, 3], beam_width=50, top_paths=3,
                                                merge_repeated=False)
    assert len(decoded) == 3 and lp.get_shape().as_list() == [2, 3]
    with tf.Session() as sess:
        got, lpv = sess.run([decoded, lp])
    for b, n in enumerate([4, 3]):
        best = _exact_best(x[:, b], n)
        for i in range(3):
            row = got[i].values[got[i].indices[:, 0] == b].tolist()
            assert tuple(row) == best[i][0]
            np.testing.assert_allclose(lpv[b, i], np.log(best[i][1]), rtol=1e-6)


def test_beam_search_merge_repeated_merges_the_returned_paths():
    # the best labelling is "0 - 0" = [0, 0]; TF 1.x's merge_repeated=True returns it as [0]
    x = np.log(np.array([[[0.9, 0.05, 0.05]], [[0.05, 0.05, 0.9]], [[0.9, 0.05, 0.05]]]))
    (d1,), _ = tf.nn.ctc_beam_search_decoder_v2(tf.constant(x), [3], beam_width=10)
    (d2,), _ = tf.nn.ctc_beam_search_decoder(tf.constant(x), [3], beam_width=10)
    with tf.Session() as sess:
        a, b = sess.run([d1, d2])
    np.testing.assert_array_equal(a.values, [0, 0])
    np.testing.assert_array_equal(b.values, [0])


def test_decoder_errors():
    with pytest.raises(ValueError, match="top_paths .* must be <= beam_width"):
        tf.nn.ctc_beam_search_decoder(tf.constant(X), LENGTHS, beam_width=2, top_paths=3)
    (dec,), _ = tf.nn.ctc_greedy_decoder(tf.constant(X), [5, 5, 9])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"sequence_length\(2\) = 9"):
        with tf.Session() as sess:
            sess.run(dec.values)
    decoded, _ = tf.nn.ctc_beam_search_decoder(tf.constant(X), [1, 1, 1], beam_width=8, top_paths=8)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Less leaves in the beam search than requested"):
        with tf.Session() as sess:
            sess.run(decoded[0].values)


def test_second_derivative_is_refused_as_in_tf():
    x = tf.constant(X)
    loss = tf.nn.ctc_loss(_sparse(LABELS), x, LENGTHS)
    (g,) = tf.gradients(tf.reduce_sum(loss), [x])
    with pytest.raises(LookupError, match="second derivative of ctc_loss"):
        tf.gradients(tf.reduce_sum(g * g), [x])


def test_greedy_decoder_blank_index():
    x = np.log(np.array([[[0.7, 0.2, 0.1]], [[0.1, 0.8, 0.1]], [[0.7, 0.2, 0.1]]]))
    (d0,), _ = tf.nn.ctc_greedy_decoder(tf.constant(x), [3], blank_index=0)
    (dl,), _ = tf.nn.ctc_greedy_decoder(tf.constant(x), [3])
    with tf.Session() as sess:
        a, b = sess.run([d0.values, dl.values])
    np.testing.assert_array_equal(a, [1])  # class 0 is the blank
    np.testing.assert_array_equal(b, [0, 1, 0])  # the last class (2) is the blank
