"""tf.nn.raw_rnn: TF's loop_fn protocol, finished rows, emit structures, loop state, gradients and errors."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf

T, B, D, U = 5, 3, 2, 4


def _reference(x, lengths, kernel, bias):
    """A BasicRNNCell run row by row until each row's length: outputs (zeros after the end) and final states."""
    out = np.zeros((T, B, U))
    state = np.zeros((B, U))
    for b in range(B):
        h = np.zeros(U)
        for t in range(lengths[b]):
            h = np.tanh(np.concatenate([x[t, b], h]) @ kernel + bias)
            out[t, b] = h
        state[b] = h
    return out, state


def _build(with_loop_state=False):
    inputs = tf.placeholder(tf.float32, (T, B, D))
    lengths = tf.placeholder(tf.int32, (B,))
    inputs_ta = tf.TensorArray(tf.float32, size=T).unstack(inputs)
    cell = tf.nn.rnn_cell.BasicRNNCell(U)

    def loop_fn(time, cell_output, cell_state, loop_state):
        next_state = cell.zero_state(B, tf.float32) if cell_output is None else cell_state
        finished = time >= lengths
        next_input = tf.cond(tf.reduce_all(finished), lambda: tf.zeros([B, D]), lambda: inputs_ta.read(time))
        if not with_loop_state:
            return finished, next_input, next_state, cell_output, None
        steps = tf.constant(0) if loop_state is None else loop_state + 1
        return finished, next_input, next_state, cell_output, steps

    outputs_ta, final_state, final_loop_state = tf.nn.raw_rnn(cell, loop_fn)
    return inputs, lengths, cell, outputs_ta, final_state, final_loop_state


def test_matches_a_row_by_row_rnn_and_stops_when_all_rows_finish():
    inputs, lengths, cell, outputs_ta, final_state, loop_state = _build()
    assert loop_state is None
    outputs = outputs_ta.stack()
    assert outputs.get_shape().as_list() == [None, B, U] and final_state.get_shape().as_list() == [B, U]
    x = np.random.RandomState(0).randn(T, B, D).astype(np.float32)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        kernel, bias = s.run(cell.weights)
        out, state = s.run([outputs, final_state], {inputs: x, lengths: [4, 2, 3]})
    want_out, want_state = _reference(x, [4, 2, 3], kernel, bias)
    assert out.shape == (4, B, U)  # the loop ends once the longest row is done
    np.testing.assert_allclose(out, want_out[:4], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state, want_state, rtol=1e-5, atol=1e-6)


def test_loop_state_and_gradients():
    inputs, lengths, cell, outputs_ta, final_state, loop_state = _build(with_loop_state=True)
    g = tf.gradients(tf.reduce_sum(final_state), [inputs] + cell.weights)
    assert all(v is not None for v in g)
    x = np.random.RandomState(1).randn(T, B, D).astype(np.float32)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        steps, gx = s.run([loop_state, g[0]], {inputs: x, lengths: [5, 1, 2]})
        assert steps == 5
        assert np.abs(gx[1:, 1]).max() == 0 and np.abs(gx[0, 1]).max() > 0  # row 1 reads only its first input
        eps, base = 1e-2, s.run(tf.reduce_sum(final_state), {inputs: x, lengths: [5, 1, 2]})
        bumped = x.copy()
        bumped[0, 0, 0] += eps
        moved = s.run(tf.reduce_sum(final_state), {inputs: bumped, lengths: [5, 1, 2]})
        assert abs((moved - base) / eps - gx[0, 0, 0]) < 5e-2


def test_emit_structure_and_zero_emit_after_finish():
    cell = tf.nn.rnn_cell.BasicRNNCell(U)
    lengths = tf.constant([1, 3])

    def loop_fn(time, cell_output, cell_state, loop_state):
        finished = time >= lengths
        if cell_output is None:
            # a custom emit structure: one int32 scalar per row (the structure has no batch dimension, as in TF)
            return finished, tf.ones([2, D]), cell.zero_state(2, tf.float32), tf.zeros([], tf.int32), None
        return finished, tf.ones([2, D]), cell_state, tf.fill([2], time), None

    emit_ta, _, _ = tf.nn.raw_rnn(cell, loop_fn)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        emitted = s.run(emit_ta.stack())
    assert emitted.dtype == np.int32
    assert emitted.tolist() == [[1, 1], [0, 2], [0, 3]]


def test_errors():
    with pytest.raises(TypeError, match="RNNCell"):
        tf.nn.raw_rnn(lambda x, s: (x, s), lambda *a: None)
    with pytest.raises(TypeError, match="loop_fn must be a callable"):
        tf.nn.raw_rnn(tf.nn.rnn_cell.BasicRNNCell(2), "not callable")
    cell = tf.nn.rnn_cell.LSTMCell(3)

    def bad_state(time, cell_output, cell_state, loop_state):
        return tf.constant([False]), tf.zeros([1, 2]), tf.zeros([1, 3]), None, None
    with pytest.raises((ValueError, TypeError)):
        tf.nn.raw_rnn(cell, bad_state)
