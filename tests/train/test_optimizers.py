"""Optimizers: 3 training steps of each against NumPy re-implementations of TF 1.x's update formulas.

The loss is 0.5 * sum((w - t)^2) (+ the same for a bias), so the gradient w - t changes every step and
every slot (momentum, accumulators, Adam's moments and bias correction) matters for the result.
Sparse cases go through tf.gather (IndexedSlices gradients, with a duplicate index).
"""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf

W0 = np.array([[0.5, -1.0], [2.0, 0.25], [-0.75, 1.5]])
T0 = np.array([[1.0, 1.0], [-1.0, 0.5], [0.0, 2.0]])
B0, TB = np.array([0.1, -0.2]), np.array([1.0, -1.0])
IDX = np.array([1, 3, 1])  # row 1 twice: its gradients are summed
WS0 = np.arange(10.0).reshape(5, 2) / 10.0
TS = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 2.0]])


# -- NumPy references (TF 1.x formulas); each returns step(w, g, state) -> w, updating state in place ------
# Python-float hyperparameters become float32 tensors (then cast to the variable's dtype), as in TF.
def f32(x):
    return float(np.float32(x))


def gd(lr):
    lr = f32(lr)

    def step(w, g, s):
        return w - lr * g
    return step


def momentum(lr, mom, nesterov=False):
    lr, mom = f32(lr), f32(mom)
    def step(w, g, s):
        a = s["accum"] = mom * s.get("accum", np.zeros_like(w)) + g
        return w - (lr * g + lr * mom * a if nesterov else lr * a)
    return step


def adagrad(lr, init=0.1):
    lr = f32(lr)
    def step(w, g, s):
        acc = s["acc"] = s.get("acc", np.full_like(w, init)) + g * g
        return w - lr * g / np.sqrt(acc)
    return step


def rmsprop(lr, decay=0.9, mom=0.0, eps=1e-10, centered=False):
    lr, decay, mom, eps = f32(lr), f32(decay), f32(mom), f32(eps)
    def step(w, g, s):
        ms = s["ms"] = decay * s.get("ms", np.ones_like(w)) + (1 - decay) * g * g
        den = ms + eps
        if centered:
            mg = s["mg"] = decay * s.get("mg", np.zeros_like(w)) + (1 - decay) * g
            den = ms - mg * mg + eps
        m = s["mom"] = mom * s.get("mom", np.zeros_like(w)) + lr * g / np.sqrt(den)
        return w - m
    return step


def adam(lr=0.001, b1=0.9, b2=0.999, eps=1e-8):
    lr, eps = f32(lr), f32(eps)

    def step(w, g, s):
        # beta1_power / beta2_power are float32 variables multiplied by beta1 / beta2 after each step
        b1p = s["b1p"] = s.get("b1p", np.float32(b1) / np.float32(b1)) * np.float32(b1)
        b2p = s["b2p"] = s.get("b2p", np.float32(b2) / np.float32(b2)) * np.float32(b2)
        b1_, b2_ = f32(b1), f32(b2)
        lr_t = lr * np.sqrt(1 - float(b2p)) / (1 - float(b1p))
        m = s["m"] = b1_ * s.get("m", np.zeros_like(w)) + (1 - b1_) * g
        v = s["v"] = b2_ * s.get("v", np.zeros_like(w)) + (1 - b2_) * g * g
        return w - lr_t * m / (np.sqrt(v) + eps)
    return step


def sparse_rows(dense_step):
    """TF's sparse semantics for Momentum/Adagrad/RMSProp: only the (deduplicated) rows are touched."""
    def step(w, rows_grad, s):
        uniq, inv = np.unique(IDX, return_inverse=True)
        g = np.zeros((len(uniq), w.shape[1]))
        np.add.at(g, inv, rows_grad)
        sub = s.setdefault("rows", {})
        w = w.copy()
        for k, r in enumerate(uniq):
            w[r] = dense_step(w[r], g[k], sub.setdefault(r, {}))
        return w
    return step


def densified(dense_step):
    """GradientDescent and Adam: a sparse gradient acts like its dense (scattered, summed) version."""
    def step(w, rows_grad, s):
        g = np.zeros_like(w)
        np.add.at(g, IDX, rows_grad)
        return dense_step(w, g, s)
    return step


CASES = {
    "gd": (lambda: tf.train.GradientDescentOptimizer(0.1), gd(0.1)),
    "momentum": (lambda: tf.train.MomentumOptimizer(0.1, 0.9), momentum(0.1, 0.9)),
    "nesterov": (lambda: tf.train.MomentumOptimizer(0.1, 0.9, use_nesterov=True), momentum(0.1, 0.9, True)),
    "adagrad": (lambda: tf.train.AdagradOptimizer(0.3), adagrad(0.3)),
    "adagrad_init": (lambda: tf.train.AdagradOptimizer(0.3, initial_accumulator_value=2.0),
                     adagrad(0.3, 2.0)),
    "rmsprop": (lambda: tf.train.RMSPropOptimizer(0.01), rmsprop(0.01)),
    "rmsprop_mom": (lambda: tf.train.RMSPropOptimizer(0.01, decay=0.8, momentum=0.5, epsilon=1e-3),
                    rmsprop(0.01, 0.8, 0.5, 1e-3)),
    "rmsprop_centered": (lambda: tf.train.RMSPropOptimizer(0.01, momentum=0.9, epsilon=1e-3, centered=True),
                         rmsprop(0.01, 0.9, 0.9, 1e-3, centered=True)),
    "adam": (lambda: tf.train.AdamOptimizer(), adam()),
    "adam_custom": (lambda: tf.train.AdamOptimizer(0.1, beta1=0.5, beta2=0.9, epsilon=1e-3),
                    adam(0.1, 0.5, 0.9, 1e-3)),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", sorted(CASES))
def test_three_dense_steps_match_numpy(case, dtype):
    make_opt, ref = CASES[case]
    w = tf.Variable(W0.astype(dtype), name="W")
    b = tf.Variable(B0.astype(dtype), name="b")
    c = tf.Variable(dtype(0.5), name="c")  # a scalar variable: 0-d arrays in the kernels
    loss = (0.5 * tf.reduce_sum(tf.square(w - T0.astype(dtype)))
            + 0.5 * tf.reduce_sum(tf.square(b - TB.astype(dtype))) + 0.5 * tf.square(c - 2.0))
    train = make_opt().minimize(loss)
    ws, bs, cs, sw, sb, sc = W0.copy(), B0.copy(), np.array(0.5), {}, {}, {}
    tol = 1e-10 if dtype == np.float64 else 2e-5
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train)
            ws, bs, cs = ref(ws, ws - T0, sw), ref(bs, bs - TB, sb), ref(cs, cs - 2.0, sc)
            got_w, got_b, got_c = sess.run([w, b, c])
            assert got_w.dtype == dtype and got_c.shape == ()
            np.testing.assert_allclose(got_w, ws, rtol=tol, atol=tol)
            np.testing.assert_allclose(got_b, bs, rtol=tol, atol=tol)
            np.testing.assert_allclose(got_c, cs, rtol=tol, atol=tol)


SPARSE = {
    "gd": (lambda: tf.train.GradientDescentOptimizer(0.1), densified(gd(0.1)), "ScatterSub"),
    "momentum": (lambda: tf.train.MomentumOptimizer(0.1, 0.9), sparse_rows(momentum(0.1, 0.9)),
                 "SparseApplyMomentum"),
    "nesterov": (lambda: tf.train.MomentumOptimizer(0.1, 0.9, use_nesterov=True),
                 sparse_rows(momentum(0.1, 0.9, True)), "SparseApplyMomentum"),
    "adagrad": (lambda: tf.train.AdagradOptimizer(0.3), sparse_rows(adagrad(0.3)), "SparseApplyAdagrad"),
    "rmsprop": (lambda: tf.train.RMSPropOptimizer(0.01, momentum=0.5, epsilon=1e-3),
                sparse_rows(rmsprop(0.01, 0.9, 0.5, 1e-3)), "SparseApplyRMSProp"),
    "rmsprop_centered": (lambda: tf.train.RMSPropOptimizer(0.01, momentum=0.5, epsilon=1e-3, centered=True),
                         sparse_rows(rmsprop(0.01, 0.9, 0.5, 1e-3, True)), "SparseApplyCenteredRMSProp"),
    "adam": (lambda: tf.train.AdamOptimizer(0.1), densified(adam(0.1)), "ApplyAdam"),
}


@pytest.mark.parametrize("case", sorted(SPARSE))
def test_three_sparse_steps_match_numpy(case):
    make_opt, ref, op_type = SPARSE[case]
    w = tf.Variable(WS0, name="emb")
    rows = tf.gather(w, IDX)
    loss = 0.5 * tf.reduce_sum(tf.square(rows - TS))
    opt = make_opt()
    grads_and_vars = opt.compute_gradients(loss)
    assert isinstance(grads_and_vars[0][0], tf.IndexedSlices)
    train = opt.apply_gradients(grads_and_vars)
    ops = tf.get_default_graph().get_operations()
    types = {o.type for o in ops if o.name.startswith(opt.get_name() + "/")}
    assert op_type in types
    ws, st = WS0.copy(), {}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train)
            ws = ref(ws, ws[IDX] - TS, st)
            np.testing.assert_allclose(sess.run(w), ws, rtol=1e-10, atol=1e-10)


def test_global_step_increments_after_updates():
    w = tf.Variable(1.0)
    gs = tf.train.get_or_create_global_step()
    assert gs.name == "global_step:0" and gs.dtype.base_dtype == tf.int64
    assert tf.train.get_global_step() is gs and tf.train.get_or_create_global_step() is gs
    with pytest.raises(ValueError, match='"global_step" already exists'):
        tf.train.create_global_step()
    train = tf.train.GradientDescentOptimizer(0.5).minimize(tf.square(w), global_step=gs)
    assert train.name == "GradientDescent" and train.type == "AssignAdd"
    assert train in tf.get_collection(tf.GraphKeys.TRAIN_OP)
    update = tf.get_default_graph().get_operation_by_name("GradientDescent/update")
    # TF prunes the control edge to the op when one of its inputs (the constant 1) already carries it.
    assert update in train.control_inputs + [c for t in train.inputs for c in t.op.control_inputs]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for k in range(1, 4):
            assert sess.run(train) is None
            assert sess.run(gs) == k
        assert tf.train.global_step(sess, gs) == 3
        assert sess.run(w) == pytest.approx(0.0)  # w - 0.5 * 2w = 0 after the first step


def test_global_step_tensor_lookup_and_checks():
    assert tf.train.get_global_step() is None
    with pytest.raises(TypeError, match="integer type"):
        tf.train.assert_global_step(tf.Variable(0.0))
    v = tf.Variable(0, name="global_step", dtype=tf.int64)
    assert v.name == "global_step:0" and tf.train.get_global_step().name == "global_step:0"


def test_slot_names_placement_and_collections():
    with tf.device("/cpu:1"):
        w = tf.Variable(W0, name="W")
    b = tf.Variable(B0, name="b")
    loss = tf.reduce_sum(w) + tf.reduce_sum(b)
    adam = tf.train.AdamOptimizer()
    adam.minimize(loss)
    assert adam.get_slot_names() == ["m", "v"]
    m, v = adam.get_slot(w, "m"), adam.get_slot(w, "v")
    assert m.name == "W/Adam:0" and v.name == "W/Adam_1:0" and adam.get_slot(b, "m").name == "b/Adam:0"
    assert m.op.get_attr("_class") == [b"loc:@W"] and m.device == w.device
    assert m in tf.global_variables() and m not in tf.trainable_variables()
    assert adam.get_slot(w, "nope") is None
    names = [x.op.name for x in adam.variables()]
    assert names == ["W/Adam", "W/Adam_1", "b/Adam", "b/Adam_1", "beta1_power", "beta2_power"]
    mom = tf.train.MomentumOptimizer(0.1, 0.9)
    mom.minimize(loss)
    assert mom.get_slot(w, "momentum").name == "W/Momentum:0"
    rms = tf.train.RMSPropOptimizer(0.1, centered=True)
    rms.minimize(loss)
    assert [rms.get_slot(w, s).name for s in ("rms", "mg", "momentum")] == [
        "W/RMSProp:0", "W/RMSProp_1:0", "W/RMSProp_2:0"]
    ada = tf.train.AdagradOptimizer(0.1)
    ada.minimize(loss)
    assert ada.get_slot(b, "accumulator").name == "b/Adagrad:0"
    with tf.Session(config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(adam.get_slot(b, "v")), [0, 0])
        np.testing.assert_array_equal(sess.run(rms.get_slot(w, "rms")), np.ones_like(W0))
        np.testing.assert_array_equal(sess.run(ada.get_slot(w, "accumulator")), np.full_like(W0, 0.1))


def test_updates_are_in_place():
    w = tf.Variable(np.ones((4, 3)), name="W")
    train = tf.train.MomentumOptimizer(0.1, 0.9).minimize(tf.reduce_sum(tf.square(w)))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        refs = {item.name: item for d in sess._devices for _, item in d.resources.items()}
        before_w, before_m = refs["W"].value, refs["W/Momentum"].value
        sess.run(train)
        sess.run(train)
        assert refs["W"].value is before_w and refs["W/Momentum"].value is before_m
        assert not np.allclose(before_w, 1.0)


def test_learning_rate_tensor_and_callable():
    lr = tf.placeholder(tf.float32, [])
    w = tf.Variable(np.array([1.0, 2.0]))
    train = tf.train.GradientDescentOptimizer(lr).minimize(tf.reduce_sum(w))
    w2 = tf.Variable(np.array([1.0]))
    train2 = tf.train.MomentumOptimizer(lambda: 0.5, lambda: 0.0).minimize(tf.reduce_sum(w2))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train, {lr: 0.25})
        sess.run(train, {lr: 0.5})
        sess.run(train2)
        np.testing.assert_allclose(sess.run(w), [0.25, 1.25])
        np.testing.assert_allclose(sess.run(w2), [0.5])


def test_compute_and_apply_gradients_api():
    w = tf.Variable(3.0, name="w")
    unused = tf.Variable(1.0, name="unused")
    loss = tf.square(w)
    opt = tf.train.GradientDescentOptimizer(0.25)
    gv = opt.compute_gradients(loss)
    assert [v for _, v in gv] == [w, unused] and gv[1][0] is None
    clipped = [(g * 0.5, v) for g, v in gv if g is not None]
    train = opt.apply_gradients(clipped, name="step")
    assert train.name == "step"
    only = opt.compute_gradients(loss, var_list=[w])
    assert len(only) == 1
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        assert sess.run(w) == pytest.approx(3.0 - 0.25 * 0.5 * 6.0)
        assert sess.run(unused) == 1.0


def test_optimizer_errors():
    w = tf.Variable(1.0)
    other = tf.Variable(2.0)
    opt = tf.train.GradientDescentOptimizer(0.1)
    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        opt.minimize(tf.square(w), var_list=[other])
    with pytest.raises(ValueError, match="No variables provided"):
        opt.apply_gradients([])
    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        opt.apply_gradients([(None, w)])
    with pytest.raises(ValueError, match="Invalid type int32"):
        opt.minimize(tf.constant(3))
    with pytest.raises(ValueError, match="gate_gradients must be one of"):
        opt.compute_gradients(tf.square(w), gate_gradients=7)
    with pytest.raises(ValueError, match="initial_accumulator_value must be positive"):
        tf.train.AdagradOptimizer(0.1, initial_accumulator_value=0.0)
    with pytest.raises(ValueError, match="Must specify the optimizer name"):
        tf.train.GradientDescentOptimizer(0.1, name="")
    with pytest.raises(NotImplementedError, match="Trying to update a Tensor"):
        t = tf.identity(w.value())
        opt.apply_gradients([(tf.constant(1.0), t)])


def test_gate_graph_and_constraint():
    w = tf.Variable([3.0, -3.0])
    c = tf.Variable([5.0], constraint=lambda x: tf.clip_by_value(x, 0.0, 1.0))
    opt = tf.train.GradientDescentOptimizer(0.5)
    train = opt.minimize(tf.reduce_sum(tf.square(w)) + tf.reduce_sum(c), gate_gradients=opt.GATE_GRAPH)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        np.testing.assert_allclose(sess.run(w), [0.0, 0.0])
        np.testing.assert_allclose(sess.run(c), [1.0])
