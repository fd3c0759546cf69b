"""tf.nn.static_rnn / dynamic_rnn against a NumPy LSTM, sequence lengths, and the sequence losses."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf

rnn_cell = tf.nn.rnn_cell


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def numpy_lstm(xs, kernel, bias, lengths=None, forget_bias=1.0):
    """[batch, time, depth] through one BasicLSTMCell; returns (outputs, (c, h)) with TF's length rule."""
    b, t, _ = xs.shape
    n = bias.shape[0] // 4
    c, h = np.zeros((b, n)), np.zeros((b, n))
    outs = np.zeros((b, t, n))
    for step in range(t):
        i, j, f, o = np.split(np.concatenate([xs[:, step], h], 1) @ kernel + bias, 4, axis=1)
        nc = c * sigmoid(f + forget_bias) + sigmoid(i) * np.tanh(j)
        nh = np.tanh(nc) * sigmoid(o)
        live = np.ones(b, bool) if lengths is None else step < np.asarray(lengths)
        c, h = np.where(live[:, None], nc, c), np.where(live[:, None], nh, h)
        outs[:, step] = np.where(live[:, None], nh, 0)
    return outs, (c, h)


def _weights(sess):
    vs = {v.op.name.split("/")[-1]: sess.run(v) for v in tf.global_variables()}
    return vs["kernel"], vs["bias"]


@pytest.mark.parametrize("time_major", [False, True])
def test_dynamic_rnn_matches_numpy_and_static_rnn(time_major):
    r = np.random.RandomState(0)
    xs = r.randn(3, 6, 4)
    x = tf.placeholder(tf.float64, [6, None, 4] if time_major else [None, 6, 4])
    cell = rnn_cell.BasicLSTMCell(5)
    out, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float64, time_major=time_major)
    steps = tf.unstack(x, axis=0 if time_major else 1)
    souts, sstate = tf.nn.static_rnn(cell, steps, dtype=tf.float64, scope="rnn")  # the same cell: same weights
    assert [v.op.name for v in tf.global_variables()] == ["rnn/basic_lstm_cell/kernel", "rnn/basic_lstm_cell/bias"]
    feed = {x: xs.transpose(1, 0, 2) if time_major else xs}
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        o, st, so, sst = s.run([out, state, souts, sstate], feed)
        kernel, bias = _weights(s)
    want, (wc, wh) = numpy_lstm(xs, kernel, bias)
    if time_major:
        o = o.transpose(1, 0, 2)
    np.testing.assert_allclose(o, want, rtol=1e-10)
    np.testing.assert_allclose(st.c, wc, rtol=1e-10)
    np.testing.assert_allclose(st.h, wh, rtol=1e-10)
    np.testing.assert_allclose(np.stack(so, 1), want, rtol=1e-10)
    np.testing.assert_allclose(sst.h, wh, rtol=1e-10)


def test_sequence_length_zeroes_outputs_and_carries_the_state():
    r = np.random.RandomState(1)
    xs, lengths = r.randn(4, 5, 3), [5, 2, 0, 3]
    x = tf.placeholder(tf.float64, [None, 5, 3])
    seq = tf.placeholder(tf.int32, [None])
    out, state = tf.nn.dynamic_rnn(rnn_cell.BasicLSTMCell(4), x, sequence_length=seq, dtype=tf.float64)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        o, st = s.run([out, state], {x: xs, seq: lengths})
        kernel, bias = _weights(s)
    want, (wc, wh) = numpy_lstm(xs, kernel, bias, lengths)
    np.testing.assert_allclose(o, want, rtol=1e-10)
    np.testing.assert_allclose(st.c, wc, rtol=1e-10)
    np.testing.assert_allclose(st.h, wh, rtol=1e-10)
    assert not o[1, 2:].any() and not st.h[2].any()  # a zero-length row keeps the initial (zero) state


def test_gradients_flow_through_the_unrolled_steps():
    from labflow.testing.gradient_check import gradient_check

    def build(x, h0):
        cell = rnn_cell.GRUCell(3, kernel_initializer=tf.random_normal_initializer(seed=4))
        out, state = tf.nn.dynamic_rnn(cell, x, initial_state=h0, sequence_length=[4, 2])
        return [out, state]

    r = np.random.RandomState(2)
    gradient_check(build, [r.randn(2, 4, 3), r.randn(2, 3)])


def test_multilayer_lstm_trains_a_tiny_language_model():
    # A next-symbol task with a period of 4: a 2-layer LSTM learns it in a few hundred SGD steps.
    vocab, steps, batch = 4, 8, 16
    data = np.tile(np.arange(vocab), 200)
    x = tf.placeholder(tf.int32, [batch, steps])
    y = tf.placeholder(tf.int32, [batch, steps])
    tf.set_random_seed(0)
    emb = tf.get_variable("embedding", [vocab, 8])
    cell = rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(16) for _ in range(2)])
    out, _ = tf.nn.dynamic_rnn(cell, tf.nn.embedding_lookup(emb, x), dtype=tf.float32)
    logits = tf.layers.dense(tf.reshape(out, [-1, 16]), vocab)
    loss = tf.contrib.seq2seq.sequence_loss(tf.reshape(logits, [batch, steps, vocab]), y,
                                            tf.ones([batch, steps]))
    train = tf.train.AdamOptimizer(0.05).minimize(loss)
    r = np.random.RandomState(0)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        losses = []
        for _ in range(150):
            starts = r.randint(0, len(data) - steps - 1, batch)
            xb = np.stack([data[i:i + steps] for i in starts])
            yb = np.stack([data[i + 1:i + steps + 1] for i in starts])
            losses.append(s.run([train, loss], {x: xb, y: yb})[1])
    assert losses[0] > 1.0 and np.mean(losses[-10:]) < 0.05, (losses[0], losses[-10:])


def test_model_parallel_layers_on_two_devices_match_one_device():
    # The talk's model parallelism: each LSTM layer on its own device, same numbers as on one.
    r = np.random.RandomState(3)
    xs = r.randn(2, 5, 3).astype(np.float32)
    results = []
    for devices in (["/cpu:0", "/cpu:0"], ["/cpu:0", "/cpu:1"]):
        g = tf.Graph()
        with g.as_default():
            tf.set_random_seed(1)
            x = tf.placeholder(tf.float32, [2, 5, 3])
            cells = [rnn_cell.DeviceWrapper(rnn_cell.BasicLSTMCell(4), d) for d in devices]
            out, _ = tf.nn.dynamic_rnn(rnn_cell.MultiRNNCell(cells), x, dtype=tf.float32)
            with tf.Session(config=tf.ConfigProto(device_count={"CPU": 2})) as s:
                s.run(tf.global_variables_initializer())
                md = tf.RunMetadata()
                results.append(s.run(out, {x: xs}, options=tf.RunOptions(output_partition_graphs=True),
                                     run_metadata=md))
                n_parts = len(md.partition_graphs)
    np.testing.assert_allclose(results[1], results[0], rtol=1e-6)
    assert n_parts == 2


@pytest.mark.parametrize("time_major", [False, True])
def test_an_unknown_number_of_steps_runs_a_while_loop_with_the_same_results(time_major):
    r = np.random.RandomState(5)
    xs, lens = r.randn(3, 6, 4), [6, 2, 0]
    results, weights = [], None
    for steps in (6, None):
        g = tf.Graph()
        with g.as_default():
            shape = [steps, None, 4] if time_major else [None, steps, 4]
            x = tf.placeholder(tf.float64, shape)
            seq = tf.placeholder(tf.int32, [None])
            cell = rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(5), rnn_cell.GRUCell(3)])
            out, state = tf.nn.dynamic_rnn(cell, x, sequence_length=seq, dtype=tf.float64, time_major=time_major)
            assert any(op.type == "While" for op in g.get_operations()) == (steps is None)
            loss = tf.reduce_sum(out * out) + tf.reduce_sum(state[1])
            grads = tf.gradients(loss, tf.trainable_variables() + [x])
            with tf.Session() as s:
                s.run(tf.global_variables_initializer())
                if weights is None:
                    weights = s.run(tf.trainable_variables())
                else:  # the same weights in both graphs (their names are the same, TF's)
                    for v, w in zip(tf.trainable_variables(), weights):
                        v.load(w, s)
                feed = {x: xs.transpose(1, 0, 2) if time_major else xs, seq: lens}
                results.append(s.run([out, state, grads], feed))
    (o1, s1, g1), (o2, s2, g2) = results
    np.testing.assert_allclose(o2, o1, rtol=1e-12, atol=1e-15)
    for a, b in zip(tf.nest.flatten(s2) + g2, tf.nest.flatten(s1) + g1):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_rnn_argument_errors():
    with pytest.raises(ValueError, match="dtype must be specified"):
        tf.nn.dynamic_rnn(rnn_cell.GRUCell(2), tf.placeholder(tf.float32, [1, 2, 3]))
    with pytest.raises(ValueError, match="rank 3"):
        tf.nn.dynamic_rnn(rnn_cell.GRUCell(2), tf.placeholder(tf.float32, [2, 3]), dtype=tf.float32)
    with pytest.raises(TypeError, match="RNNCell"):
        tf.nn.static_rnn(lambda x, s: (x, s), [tf.zeros([1, 2])], dtype=tf.float32)
    with pytest.raises(ValueError, match="sequence_length must be a vector"):
        tf.nn.static_rnn(rnn_cell.GRUCell(2), [tf.zeros([1, 2])], dtype=tf.float32, sequence_length=[[1]])


def test_sequence_loss_and_legacy_losses_match_numpy():
    r = np.random.RandomState(4)
    logits, targets = r.randn(3, 4, 5), r.randint(0, 5, (3, 4))
    weights = (r.rand(3, 4) > 0.3).astype(np.float64)
    lp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    xent = -np.take_along_axis(lp, targets[..., None], -1)[..., 0] * weights
    seq2seq = tf.contrib.seq2seq
    with tf.Session() as s:
        both, steps, rows, none = s.run([
            seq2seq.sequence_loss(logits, targets, weights),
            seq2seq.sequence_loss(logits, targets, weights, average_across_timesteps=False),
            seq2seq.sequence_loss(logits, targets, weights, average_across_batch=False),
            seq2seq.sequence_loss(logits, targets, weights, False, False)])
        per_row = s.run(tf.contrib.legacy_seq2seq.sequence_loss_by_example(
            list(logits.transpose(1, 0, 2)), list(targets.T), list(weights.T)))
        legacy = s.run(tf.contrib.legacy_seq2seq.sequence_loss(
            list(logits.transpose(1, 0, 2)), list(targets.T), list(weights.T)))
    np.testing.assert_allclose(both, xent.sum() / weights.sum(), rtol=1e-10)
    np.testing.assert_allclose(steps, xent.sum(0) / (weights.sum(0) + 1e-12), rtol=1e-10)
    np.testing.assert_allclose(rows, xent.sum(1) / (weights.sum(1) + 1e-12), rtol=1e-10)
    np.testing.assert_allclose(none, xent, rtol=1e-10)
    np.testing.assert_allclose(per_row, xent.sum(1) / (weights.sum(1) + 1e-12), rtol=1e-10)
    np.testing.assert_allclose(legacy, per_row.sum() / 3, rtol=1e-10)
    with pytest.raises(ValueError, match="batch_size x sequence_length x logits"):
        seq2seq.sequence_loss(logits[0], targets, weights)
