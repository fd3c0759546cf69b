"""tf.nn.rnn_cell: each cell's step against a NumPy reference, TF's variable names, wrappers, errors."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.testing.gradient_check import gradient_check

rnn_cell = tf.nn.rnn_cell


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _run_step(cell, x, state, feeds_state=True):
    """One cell step on NumPy values; returns (output, new_state, {variable name: value})."""
    g = tf.Graph()
    with g.as_default():
        xp = tf.constant(x)
        st = tf.nest.map_structure(tf.constant, state)
        out, new = cell(xp, st)
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            o, n = s.run([out, new])
            weights = {v.op.name: s.run(v) for v in tf.global_variables()}
    return o, n, weights


def test_basic_lstm_cell_step_names_and_gate_order():
    r = np.random.RandomState(0)
    x, c, h = r.randn(3, 5), r.randn(3, 4), r.randn(3, 4)
    cell = rnn_cell.BasicLSTMCell(4, forget_bias=0.5)
    assert cell.state_size == (4, 4) and cell.output_size == 4
    out, (nc, nh), w = _run_step(cell, x, rnn_cell.LSTMStateTuple(c, h))
    assert set(w) == {"basic_lstm_cell/kernel", "basic_lstm_cell/bias"}
    k, b = w["basic_lstm_cell/kernel"], w["basic_lstm_cell/bias"]
    assert k.shape == (9, 16) and not b.any()  # bias starts at zero, like TF
    z = np.concatenate([x, h], 1) @ k + b
    i, j, f, o = np.split(z, 4, axis=1)
    want_c = c * sigmoid(f + 0.5) + sigmoid(i) * np.tanh(j)
    want_h = np.tanh(want_c) * sigmoid(o)
    np.testing.assert_allclose(nc, want_c, rtol=1e-12)
    np.testing.assert_allclose(nh, want_h, rtol=1e-12)
    np.testing.assert_allclose(out, want_h, rtol=1e-12)


def test_basic_lstm_cell_with_concatenated_state():
    r = np.random.RandomState(1)
    x, state = r.randn(2, 3), r.randn(2, 8)
    cell = rnn_cell.BasicLSTMCell(4, state_is_tuple=False)
    assert cell.state_size == 8
    out, new, w = _run_step(cell, x, state)
    k = w["basic_lstm_cell/kernel"]
    c, h = state[:, :4], state[:, 4:]
    i, j, f, o = np.split(np.concatenate([x, h], 1) @ k, 4, axis=1)
    want_c = c * sigmoid(f + 1.0) + sigmoid(i) * np.tanh(j)
    np.testing.assert_allclose(new, np.concatenate([want_c, np.tanh(want_c) * sigmoid(o)], 1), rtol=1e-12)


def test_lstm_cell_peepholes_clipping_and_projection():
    r = np.random.RandomState(2)
    x, c, m = r.randn(3, 5), r.randn(3, 4) * 3, r.randn(3, 2)
    cell = rnn_cell.LSTMCell(4, use_peepholes=True, cell_clip=1.5, num_proj=2, proj_clip=0.3,
                             initializer=tf.random_normal_initializer(seed=3))
    assert cell.state_size == (4, 2) and cell.output_size == 2
    out, (nc, nm), w = _run_step(cell, x, rnn_cell.LSTMStateTuple(c, m))
    assert set(w) == {f"lstm_cell/{n}" for n in ("kernel", "bias", "w_f_diag", "w_i_diag", "w_o_diag",
                                                  "projection/kernel")}
    k, b = w["lstm_cell/kernel"], w["lstm_cell/bias"]
    wf, wi, wo = w["lstm_cell/w_f_diag"], w["lstm_cell/w_i_diag"], w["lstm_cell/w_o_diag"]
    i, j, f, o = np.split(np.concatenate([x, m], 1) @ k + b, 4, axis=1)
    want_c = np.clip(sigmoid(f + 1.0 + wf * c) * c + sigmoid(i + wi * c) * np.tanh(j), -1.5, 1.5)
    want_m = np.clip((sigmoid(o + wo * want_c) * np.tanh(want_c)) @ w["lstm_cell/projection/kernel"], -0.3, 0.3)
    np.testing.assert_allclose(nc, want_c, rtol=1e-12)
    np.testing.assert_allclose(nm, want_m, rtol=1e-12)
    np.testing.assert_allclose(out, want_m, rtol=1e-12)


def test_gru_and_basic_rnn_cells():
    r = np.random.RandomState(4)
    x, h = r.randn(3, 5), r.randn(3, 4)
    out, new, w = _run_step(rnn_cell.GRUCell(4), x, h)
    gk, gb = w["gru_cell/gates/kernel"], w["gru_cell/gates/bias"]
    ck, cb = w["gru_cell/candidate/kernel"], w["gru_cell/candidate/bias"]
    assert (gb == 1).all() and not cb.any()  # TF's GRU starts its gates' bias at 1
    ru = sigmoid(np.concatenate([x, h], 1) @ gk + gb)
    rr, u = ru[:, :4], ru[:, 4:]
    cand = np.tanh(np.concatenate([x, rr * h], 1) @ ck + cb)
    np.testing.assert_allclose(out, u * h + (1 - u) * cand, rtol=1e-12)
    np.testing.assert_allclose(new, out)

    out, new, w = _run_step(rnn_cell.BasicRNNCell(4, activation=tf.nn.relu), x, h)
    want = np.maximum(np.concatenate([x, h], 1) @ w["basic_rnn_cell/kernel"] + w["basic_rnn_cell/bias"], 0)
    np.testing.assert_allclose(out, want, rtol=1e-12)


def test_multi_rnn_cell_stacks_layers_with_tf_names_and_reuses_them_every_step():
    x = tf.placeholder(tf.float32, [None, 3])
    cell = rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(4), rnn_cell.GRUCell(5)])
    assert cell.state_size == ((4, 4), 5) and cell.output_size == 5
    state = cell.zero_state(tf.shape(x)[0], tf.float32)
    with tf.variable_scope("rnn") as vs:
        out, state = cell(x, state)
        vs.reuse_variables()
        out, state = cell(out[:, :3], state)
    names = sorted(v.op.name for v in tf.global_variables())
    assert names == ["rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias",
                     "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel",
                     "rnn/multi_rnn_cell/cell_1/gru_cell/candidate/bias",
                     "rnn/multi_rnn_cell/cell_1/gru_cell/candidate/kernel",
                     "rnn/multi_rnn_cell/cell_1/gru_cell/gates/bias", "rnn/multi_rnn_cell/cell_1/gru_cell/gates/kernel"]
    assert len(cell.trainable_weights) == 6
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        o, (lstm, gru) = s.run([out, state], {x: np.ones((2, 3))})
    assert o.shape == (2, 5) and lstm.c.shape == (2, 4) and gru.shape == (2, 5)


def test_multi_rnn_cell_with_concatenated_state():
    cell = rnn_cell.MultiRNNCell([rnn_cell.BasicRNNCell(2), rnn_cell.BasicRNNCell(3)], state_is_tuple=False)
    assert cell.state_size == 5
    x = tf.ones([4, 2])
    out, state = cell(x, cell.zero_state(4, tf.float32))
    assert state.get_shape().as_list() == [4, 5] and out.get_shape().as_list() == [4, 3]


def test_zero_state_shapes_for_static_and_dynamic_batch():
    cell = rnn_cell.MultiRNNCell([rnn_cell.LSTMCell(4, num_proj=2), rnn_cell.GRUCell(3)])
    z = cell.zero_state(5, tf.float64)
    assert z[0].c.get_shape().as_list() == [5, 4] and z[0].h.get_shape().as_list() == [5, 2]
    assert z[0].c.dtype == tf.float64
    b = tf.placeholder(tf.int32, [])
    z = cell.zero_state(b, tf.float32)
    with tf.Session() as s:
        v = s.run(z, {b: 7})
    assert v[0].c.shape == (7, 4) and v[1].shape == (7, 3) and not v[1].any()


def test_cell_gradients_through_inputs_and_state():
    def build(x, c, h):
        cell = rnn_cell.LSTMCell(3, use_peepholes=True, initializer=tf.random_normal_initializer(seed=1))
        out, st = cell(x, rnn_cell.LSTMStateTuple(c, h))
        out2, st2 = cell(out, st)  # two steps: the second reuses the weights
        return [out2, st2.c]

    r = np.random.RandomState(5)
    gradient_check(build, [r.randn(2, 3), r.randn(2, 3), r.randn(2, 3)])

    def build_gru(x, h):
        return rnn_cell.GRUCell(3, kernel_initializer=tf.random_normal_initializer(seed=2))(x, h)[0]

    gradient_check(build_gru, [r.randn(2, 4), r.randn(2, 3)])


def test_dropout_wrapper_keeps_lstm_memory_and_scales_the_rest():
    inner = rnn_cell.BasicLSTMCell(64)
    cell = rnn_cell.DropoutWrapper(inner, input_keep_prob=1.0, output_keep_prob=0.5, state_keep_prob=0.5, seed=1)
    x = tf.ones([8, 3])
    zero = cell.zero_state(8, tf.float32)
    out, st = cell(x, zero)
    n_random = sum(op.type == "RandomUniform" and "Initializer" not in op.name
                   for op in tf.get_default_graph().get_operations())
    plain_out, plain_st = inner(x, zero)  # the same weights, no dropout
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        o, c, h, po, pc, ph = s.run([out, st.c, st.h, plain_out, plain_st.c, plain_st.h])
    np.testing.assert_allclose(c, pc, rtol=1e-6)  # the memory cell is never dropped (TF's state filter)
    for dropped, plain in ((o, po), (h, ph)):
        kept = dropped != 0
        assert 0.3 < kept.mean() < 0.7
        np.testing.assert_allclose(dropped[kept], plain[kept] / 0.5, rtol=1e-6)
    # one mask for the output and one for h: none for the inputs (keep 1.0) nor for c
    assert n_random == 2


def test_dropout_wrapper_variational_masks_are_shared_by_steps_and_rows():
    x = tf.placeholder(tf.float32, [4, 3, 10])
    seen = []

    class Probe(rnn_cell.BasicRNNCell):
        def call(self, inputs, state):
            seen.append(inputs)
            return super().call(inputs, state)

    cell = rnn_cell.DropoutWrapper(Probe(16), input_keep_prob=0.5, variational_recurrent=True, seed=3)
    tf.nn.static_rnn(cell, tf.unstack(x, axis=1), dtype=tf.float32, scope="var")
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        steps = s.run(seen, {x: np.ones((4, 3, 10))})
    masks = [v != 0 for v in steps]
    assert 0 < masks[0].mean() < 1
    for m in masks:
        np.testing.assert_array_equal(m, masks[0])  # the same mask at every step...
        assert (m == m[:1]).all()  # ...and for every row, as TF's variational dropout
    np.testing.assert_allclose(steps[0][masks[0]], 2.0)


def test_residual_and_device_wrappers():
    x = tf.ones([2, 3])
    cell = rnn_cell.ResidualWrapper(rnn_cell.BasicRNNCell(3))
    out, st = cell(x, cell.zero_state(2, tf.float32))
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        o, h = s.run([out, st])
    np.testing.assert_allclose(o, 1 + h, rtol=1e-6)

    cell = rnn_cell.DeviceWrapper(rnn_cell.BasicRNNCell(3), "/cpu:1")
    out, _ = cell(x, cell.zero_state(2, tf.float32))
    assert out.device.endswith("CPU:1")
    config = tf.ConfigProto(device_count={"CPU": 2})
    with tf.Session(config=config) as s:
        s.run(tf.global_variables_initializer())
        md = tf.RunMetadata()
        s.run(out, options=tf.RunOptions(output_partition_graphs=True), run_metadata=md)
    devices = {n.device for g in md.partition_graphs for n in g.node if "basic_rnn_cell" in n.name}
    assert devices and all(d.endswith("CPU:1") for d in devices)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="same cell object"):
        c = rnn_cell.BasicLSTMCell(2)
        rnn_cell.MultiRNNCell([c, c])
    with pytest.raises(ValueError, match="inputs.shape\\[-1\\] to be known"):
        rnn_cell.BasicLSTMCell(2)(tf.placeholder(tf.float32, [3, None]),
                                  rnn_cell.LSTMStateTuple(tf.zeros([3, 2]), tf.zeros([3, 2])))
    with pytest.raises(ValueError, match="LSTMStateTuple"):
        rnn_cell.BasicLSTMCell(2)(tf.zeros([3, 2]), tf.zeros([3, 4]))
    with pytest.raises(ValueError, match="between 0 and 1"):
        rnn_cell.DropoutWrapper(rnn_cell.GRUCell(2), output_keep_prob=1.5)
    with pytest.raises(ValueError, match="tuple of length 2"):
        cell = rnn_cell.MultiRNNCell([rnn_cell.GRUCell(2), rnn_cell.GRUCell(2)])
        cell(tf.zeros([1, 2]), tf.zeros([1, 2]))


def test_contrib_rnn_names_are_the_same_classes():
    assert tf.contrib.rnn.BasicLSTMCell is rnn_cell.BasicLSTMCell
    assert tf.contrib.rnn.LSTMStateTuple is rnn_cell.LSTMStateTuple
    assert tf.contrib.rnn.static_rnn is tf.nn.static_rnn
    assert tf.nn.rnn_cell.MultiRNNCell is tf.contrib.rnn.MultiRNNCell
