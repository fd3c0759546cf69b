"""tf.nn.bidirectional_dynamic_rnn and tf.nn.static_bidirectional_rnn against a NumPy RNN: the backward
direction reverses each row's valid steps only, outputs line up in time, TF's variable names, gradients."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf

rnn_cell = tf.nn.rnn_cell
R = np.random.RandomState(5)
BATCH, STEPS, DEPTH, UNITS = 3, 5, 2, 4
X = R.randn(BATCH, STEPS, DEPTH)
LENGTHS = np.array([5, 2, 3])


def numpy_rnn(xs, kernel, bias, lengths):
    """BasicRNNCell over [batch, time, depth] with TF's length rule (zero outputs, state carried)."""
    h = np.zeros((xs.shape[0], bias.shape[0]))
    outs = np.zeros(xs.shape[:2] + (bias.shape[0],))
    for t in range(xs.shape[1]):
        nh = np.tanh(np.concatenate([xs[:, t], h], 1) @ kernel + bias)
        live = (t < lengths)[:, None]
        h = np.where(live, nh, h)
        outs[:, t] = np.where(live, nh, 0)
    return outs, h


def reverse_rows(xs, lengths):
    out = xs.copy()
    for b, n in enumerate(lengths):
        out[b, :n] = xs[b, :n][::-1]
    return out


def bidirectional_ref(kf, bf, kb, bb, lengths):
    out_fw, st_fw = numpy_rnn(X, kf, bf, lengths)
    tmp, st_bw = numpy_rnn(reverse_rows(X, lengths), kb, bb, lengths)
    return out_fw, reverse_rows(tmp, lengths), st_fw, st_bw


def _weights():
    kf, kb = R.randn(DEPTH + UNITS, UNITS) * 0.5, R.randn(DEPTH + UNITS, UNITS) * 0.5
    bf, bb = R.randn(UNITS) * 0.1, R.randn(UNITS) * 0.1
    return kf, bf, kb, bb


def _assign(sess, scope, kf, bf, kb, bb):
    vals = {f"{scope}/fw/basic_rnn_cell/kernel:0": kf, f"{scope}/fw/basic_rnn_cell/bias:0": bf,
            f"{scope}/bw/basic_rnn_cell/kernel:0": kb, f"{scope}/bw/basic_rnn_cell/bias:0": bb}
    for v in tf.global_variables():
        sess.run(v.assign(vals[v.name]))


@pytest.mark.parametrize("time_major", [False, True])
@pytest.mark.parametrize("known_time", [True, False])
def test_bidirectional_dynamic_rnn_matches_numpy(time_major, known_time):
    kf, bf, kb, bb = _weights()
    data = X.transpose(1, 0, 2) if time_major else X
    shape = list(data.shape)
    if not known_time:
        shape[0 if time_major else 1] = None  # runs dynamic_rnn's while_loop
    x = tf.placeholder(tf.float64, shape)
    (out_fw, out_bw), (st_fw, st_bw) = tf.nn.bidirectional_dynamic_rnn(
        rnn_cell.BasicRNNCell(UNITS), rnn_cell.BasicRNNCell(UNITS), x, sequence_length=LENGTHS, dtype=tf.float64,
        time_major=time_major)
    names = sorted(v.name for v in tf.global_variables())
    assert names == ["bidirectional_rnn/bw/basic_rnn_cell/bias:0", "bidirectional_rnn/bw/basic_rnn_cell/kernel:0",
                     "bidirectional_rnn/fw/basic_rnn_cell/bias:0", "bidirectional_rnn/fw/basic_rnn_cell/kernel:0"]
    if known_time:
        assert out_bw.get_shape().as_list() == list(data.shape[:2]) + [UNITS]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        _assign(sess, "bidirectional_rnn", kf, bf, kb, bb)
        got = sess.run([out_fw, out_bw, st_fw, st_bw], {x: data})
    want = bidirectional_ref(kf, bf, kb, bb, LENGTHS)
    if time_major:
        got[0], got[1] = got[0].transpose(1, 0, 2), got[1].transpose(1, 0, 2)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_without_sequence_length_the_whole_sequence_is_reversed():
    kf, bf, kb, bb = _weights()
    (out_fw, out_bw), _ = tf.nn.bidirectional_dynamic_rnn(rnn_cell.BasicRNNCell(UNITS), rnn_cell.BasicRNNCell(UNITS),
                                                          tf.constant(X), dtype=tf.float64, scope="birnn")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        _assign(sess, "birnn", kf, bf, kb, bb)
        got = sess.run([out_fw, out_bw])
    full = np.full(BATCH, STEPS)
    want = bidirectional_ref(kf, bf, kb, bb, full)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-10)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-10)


def test_static_bidirectional_rnn_matches_numpy_and_concatenates():
    kf, bf, kb, bb = _weights()
    steps = [tf.constant(X[:, t]) for t in range(STEPS)]
    outputs, st_fw, st_bw = tf.nn.static_bidirectional_rnn(rnn_cell.BasicRNNCell(UNITS), rnn_cell.BasicRNNCell(UNITS),
                                                           steps, dtype=tf.float64, sequence_length=LENGTHS)
    assert len(outputs) == STEPS and outputs[0].get_shape().as_list() == [BATCH, 2 * UNITS]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        _assign(sess, "bidirectional_rnn", kf, bf, kb, bb)
        got = sess.run([outputs, st_fw, st_bw])
    out_fw, out_bw, want_fw, want_bw = bidirectional_ref(kf, bf, kb, bb, LENGTHS)
    np.testing.assert_allclose(np.stack(got[0], 1), np.concatenate([out_fw, out_bw], 2), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[1], want_fw, rtol=1e-10)
    np.testing.assert_allclose(got[2], want_bw, rtol=1e-10)


def test_gradients_flow_to_both_directions_and_the_inputs():
    x = tf.constant(X)
    (out_fw, out_bw), _ = tf.nn.bidirectional_dynamic_rnn(rnn_cell.BasicRNNCell(UNITS), rnn_cell.BasicRNNCell(UNITS),
                                                          x, sequence_length=LENGTHS, dtype=tf.float64)
    loss = tf.reduce_sum(tf.square(out_bw)) + tf.reduce_sum(out_fw)
    grads = tf.gradients(loss, tf.global_variables() + [x])
    assert all(g is not None for g in grads)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        gx = sess.run(tf.convert_to_tensor(grads[-1]))
    # padding steps feed nothing: their input gradient is zero
    assert np.all(gx[1, 2:] == 0) and np.all(gx[2, 3:] == 0) and np.abs(gx[0]).sum() > 0


def test_errors():
    cell = rnn_cell.BasicRNNCell(UNITS)
    with pytest.raises(TypeError, match="RNNCell"):
        tf.nn.bidirectional_dynamic_rnn(cell, "not a cell", tf.constant(X), dtype=tf.float64)
    with pytest.raises(TypeError, match="sequence"):
        tf.nn.static_bidirectional_rnn(cell, cell, tf.constant(X), dtype=tf.float64)
    with pytest.raises(ValueError, match="must not be empty"):
        tf.nn.static_bidirectional_rnn(cell, cell, [], dtype=tf.float64)
    with pytest.raises(ValueError, match="dtype must be specified"):
        tf.nn.bidirectional_dynamic_rnn(cell, rnn_cell.BasicRNNCell(UNITS), tf.constant(X))
