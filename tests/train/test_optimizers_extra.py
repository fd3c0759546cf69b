"""AdadeltaOptimizer, FtrlOptimizer, ProximalGradientDescentOptimizer, ProximalAdagradOptimizer: several
steps against NumPy re-implementations of TF's kernels (dense and sparse, duplicate indices summed first),
slot names, minimising a small problem, argument errors."""

import numpy as np
import pytest

import labflow as tf

W0 = np.array([[0.5, -1.0, 0.25], [1.5, 0.1, -0.3], [-0.7, 0.2, 0.9], [0.05, -0.4, 1.2]], np.float64)
X = np.array([[1.0, 0.5, -0.2, 0.3], [-0.4, 1.1, 0.6, -0.9]], np.float64)
IDX = np.array([0, 2, 2, 3])


def _dense_grad(w):
    # loss = sum((X w - 1)^2)
    return 2 * X.T @ (X @ w - 1)


def _sparse_grad(w):
    # loss = sum((w[IDX] - 1)^2); duplicate rows summed (TF's _apply_sparse_duplicate_indices)
    g = np.zeros_like(w)
    for i in IDX:
        g[i] += 2 * (w[i] - 1)
    return g, np.unique(IDX)


def _run(opt_fn, sparse, steps=4):
    tf.reset_default_graph()
    w = tf.Variable(W0, name="w")
    if sparse:
        loss = tf.reduce_sum(tf.square(tf.gather(w, IDX) - 1.0))
    else:
        loss = tf.reduce_sum(tf.square(tf.matmul(tf.constant(X), w) - 1.0))
    opt = opt_fn()
    train = opt.minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out = []
        for _ in range(steps):
            sess.run(train)
            out.append(sess.run(w))
        slots = {n: sess.run(opt.get_slot(w, n)) for n in opt.get_slot_names()}
        names = {n: opt.get_slot(w, n).op.name for n in opt.get_slot_names()}
        loss_end = sess.run(loss)
    return out, slots, names, loss_end


def _reference(update, state, sparse, steps=4):
    w = W0.copy()
    out = []
    for _ in range(steps):
        if sparse:
            g, rows = _sparse_grad(w)
            sub = {k: v[rows] for k, v in state.items()}
            nw, nsub = update(w[rows], g[rows], sub)
            w[rows] = nw
            for k in state:
                state[k][rows] = nsub[k]
        else:
            w, state = update(w, _dense_grad(w), state)
        out.append(w.copy())
    return out, state


def _adadelta(lr, rho, eps):
    def update(w, g, s):
        a = rho * s["accum"] + (1 - rho) * g * g
        upd = np.sqrt(s["accum_update"] + eps) / np.sqrt(a + eps) * g
        return w - lr * upd, {"accum": a, "accum_update": rho * s["accum_update"] + (1 - rho) * upd * upd}
    return update


def _ftrl(lr, power, l1, l2, shrink):
    def update(w, g, s):
        gs = g + 2 * shrink * w
        na = s["accum"] + g * g
        lin = s["linear"] + gs - (na ** -power - s["accum"] ** -power) / lr * w
        y = na ** -power / lr + 2 * l2
        w = np.where(np.abs(lin) > l1, (l1 * np.sign(lin) - lin) / y, 0.0)
        return w, {"accum": na, "linear": lin}
    return update


def _prox(p, rate, l1, l2):
    return np.sign(p) * np.maximum(np.abs(p) - rate * l1, 0) / (1 + rate * l2)


def _pgd(lr, l1, l2):
    return lambda w, g, s: (_prox(w - lr * g, lr, l1, l2), s)


def _padagrad(lr, l1, l2):
    def update(w, g, s):
        a = s["accumulator"] + g * g
        rate = lr / np.sqrt(a)
        return _prox(w - rate * g, rate, l1, l2), {"accumulator": a}
    return update


def _zeros():
    return np.zeros_like(W0)


CASES = {
    "adadelta": (lambda: tf.train.AdadeltaOptimizer(1.0, rho=0.9, epsilon=1e-6), _adadelta(1.0, 0.9, 1e-6),
                 lambda: {"accum": _zeros(), "accum_update": _zeros()}),
    "ftrl": (lambda: tf.train.FtrlOptimizer(0.1, l1_regularization_strength=0.01, l2_regularization_strength=0.02),
             _ftrl(0.1, -0.5, 0.01, 0.02, 0.0), lambda: {"accum": np.full_like(W0, 0.1), "linear": _zeros()}),
    "ftrl_power": (lambda: tf.train.FtrlOptimizer(0.1, learning_rate_power=-0.7, initial_accumulator_value=0.5,
                                                  l1_regularization_strength=0.05),
                   _ftrl(0.1, -0.7, 0.05, 0.0, 0.0), lambda: {"accum": np.full_like(W0, 0.5), "linear": _zeros()}),
    "ftrl_shrinkage": (lambda: tf.train.FtrlOptimizer(0.1, l1_regularization_strength=0.01,
                                                      l2_regularization_strength=0.02,
                                                      l2_shrinkage_regularization_strength=0.1),
                       _ftrl(0.1, -0.5, 0.01, 0.02, 0.1),
                       lambda: {"accum": np.full_like(W0, 0.1), "linear": _zeros()}),
    "ftrl_beta": (lambda: tf.train.FtrlOptimizer(0.1, l2_regularization_strength=0.02, beta=0.3),
                  _ftrl(0.1, -0.5, 0.0, 0.02 + 0.3 / 0.2, 0.0),
                  lambda: {"accum": np.full_like(W0, 0.1), "linear": _zeros()}),
    "proximal_gd": (lambda: tf.train.ProximalGradientDescentOptimizer(0.05, l1_regularization_strength=0.05,
                                                                      l2_regularization_strength=0.1),
                    _pgd(0.05, 0.05, 0.1), dict),
    "proximal_adagrad": (lambda: tf.train.ProximalAdagradOptimizer(0.1, l1_regularization_strength=0.05,
                                                                   l2_regularization_strength=0.1),
                         _padagrad(0.1, 0.05, 0.1), lambda: {"accumulator": np.full_like(W0, 0.1)}),
}


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_steps_match_numpy_reference(case, sparse):
    make, update, state = CASES[case]
    got, slots, _, _ = _run(make, sparse)
    want, want_state = _reference(update, state(), sparse)
    # Python-float hyperparameters become float32 tensors cast to float64, as in TF: hence rtol 1e-6.
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-9)
    for k, v in want_state.items():
        np.testing.assert_allclose(slots[k], v, rtol=1e-6, atol=1e-9)


def test_slot_names_are_tfs():
    assert _run(CASES["adadelta"][0], False, 1)[2] == {"accum": "w/Adadelta", "accum_update": "w/Adadelta_1"}
    assert _run(CASES["ftrl"][0], False, 1)[2] == {"accum": "w/Ftrl", "linear": "w/Ftrl_1"}
    named = lambda: tf.train.FtrlOptimizer(0.1, accum_name="A", linear_name="L")  # noqa: E731
    assert _run(named, False, 1)[2] == {"accum": "w/A", "linear": "w/L"}
    assert _run(CASES["proximal_adagrad"][0], False, 1)[2] == {"accumulator": "w/ProximalAdagrad"}
    assert _run(CASES["proximal_gd"][0], False, 1)[2] == {}


@pytest.mark.parametrize("make", [
    lambda: tf.train.AdadeltaOptimizer(1.0, rho=0.9, epsilon=1e-4),
    lambda: tf.train.FtrlOptimizer(0.5),
    lambda: tf.train.ProximalGradientDescentOptimizer(0.05),
    lambda: tf.train.ProximalAdagradOptimizer(0.5),
], ids=["adadelta", "ftrl", "proximal_gd", "proximal_adagrad"])
def test_minimizes_least_squares(make):
    _, _, _, start = _run(make, False, steps=0)
    _, _, _, end = _run(make, False, steps=150)
    assert end < 0.05 * start


def test_l1_drives_weights_to_exact_zero():
    opt = lambda: tf.train.ProximalGradientDescentOptimizer(0.05, l1_regularization_strength=50.0)  # noqa: E731
    w = _run(opt, False, steps=20)[0][-1]
    assert np.all(w == 0.0)
    ftrl = lambda: tf.train.FtrlOptimizer(0.1, l1_regularization_strength=100.0)  # noqa: E731
    assert np.all(_run(ftrl, False, steps=3)[0][-1] == 0.0)


def test_float32_variables_and_tensor_learning_rate():
    tf.reset_default_graph()
    w = tf.Variable(np.float32([1.0, -2.0]))
    lr = tf.placeholder(tf.float32, [])
    train = tf.train.FtrlOptimizer(lr).minimize(tf.reduce_sum(w * w))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train, {lr: 0.1})
        assert sess.run(w).dtype == np.float32


def test_ops_are_tfs():
    tf.reset_default_graph()
    w = tf.Variable(W0)
    loss = tf.reduce_sum(w * w)
    types = set()
    for opt in (tf.train.AdadeltaOptimizer(), tf.train.FtrlOptimizer(0.1),
                tf.train.FtrlOptimizer(0.1, l2_shrinkage_regularization_strength=0.1),
                tf.train.ProximalGradientDescentOptimizer(0.1), tf.train.ProximalAdagradOptimizer(0.1)):
        train = opt.minimize(loss)
        types |= {op.type for op in tf.get_default_graph().get_operations() if op.type.startswith("Apply")}
        assert train is not None
    assert types == {"ApplyAdadelta", "ApplyFtrl", "ApplyFtrlV2", "ApplyProximalGradientDescent",
                     "ApplyProximalAdagrad"}


@pytest.mark.parametrize("kwargs,msg", [
    ({"initial_accumulator_value": -0.1}, "initial_accumulator_value"),
    ({"learning_rate_power": 0.5}, "learning_rate_power"),
    ({"l1_regularization_strength": -1.0}, "l1_regularization_strength"),
    ({"l2_regularization_strength": -1.0}, "l2_regularization_strength"),
    ({"l2_shrinkage_regularization_strength": -1.0}, "l2_shrinkage_regularization_strength"),
])
def test_ftrl_rejects_bad_arguments(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        tf.train.FtrlOptimizer(0.1, **kwargs)


def test_proximal_adagrad_rejects_non_positive_accumulator():
    with pytest.raises(ValueError, match="initial_accumulator_value must be positive"):
        tf.train.ProximalAdagradOptimizer(0.1, initial_accumulator_value=0.0)


def test_apply_op_shape_errors_name_the_op():
    from labflow.train import training_ops
    tf.reset_default_graph()
    v = tf.Variable(np.zeros((3, 2)))
    a = tf.Variable(np.zeros((3, 2)))
    lin = tf.Variable(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="ApplyFtrl"):
        training_ops.apply_ftrl(v, a, lin, np.zeros((2, 2)), 0.1, 0.0, 0.0, -0.5)
    with pytest.raises(ValueError, match="rank 0"):
        training_ops.apply_proximal_gradient_descent(v, [0.1, 0.2], 0.0, 0.0, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="indices must be a vector"):
        training_ops.sparse_apply_adadelta(v, a, lin, 0.1, 0.9, 1e-6, np.zeros((1, 2)), [[0]])
    with pytest.raises(TypeError, match="int32, int64"):
        training_ops.sparse_apply_proximal_adagrad(v, a, 0.1, 0.0, 0.0, np.zeros((1, 2)), tf.constant([0.5]))


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("l1", [0.0, 0.01])
def test_adagrad_da_matches_numpy_reference(sparse, l1):
    tf.reset_default_graph()
    w = tf.Variable(W0, name="w")
    gs = tf.train.get_or_create_global_step()
    if sparse:
        loss = tf.reduce_sum(tf.square(tf.gather(w, IDX) - 1.0))
    else:
        loss = tf.reduce_sum(tf.square(tf.matmul(tf.constant(X), w) - 1.0))
    opt = tf.train.AdagradDAOptimizer(0.5, gs, l1_regularization_strength=l1, l2_regularization_strength=0.1)
    train = opt.minimize(loss, global_step=gs)
    assert opt.get_slot(w, "gradient_accumulator").op.name == "w/AdagradDA"
    assert opt.get_slot(w, "gradient_squared_accumulator").op.name == "w/AdagradDA_1"
    ref_w, ga, gga = W0.copy(), np.zeros_like(W0), np.full_like(W0, 0.1)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for t in range(1, 5):
            sess.run(train)
            if sparse:
                g, rows = _sparse_grad(ref_w)
            else:
                g, rows = _dense_grad(ref_w), np.arange(len(W0))
            ga[rows] += g[rows]
            gga[rows] += g[rows] ** 2
            shrunk = np.sign(ga[rows]) * np.maximum(np.abs(ga[rows]) - l1 * t, 0)
            ref_w[rows] = -0.5 * shrunk / (0.1 * t * 0.5 + np.sqrt(gga[rows]))
            np.testing.assert_allclose(sess.run(w), ref_w, rtol=1e-6, atol=1e-9)
        assert sess.run(gs) == 4


def test_adagrad_da_rejects_non_positive_accumulator_and_needs_int64_step():
    with pytest.raises(ValueError, match="initial_gradient_squared_accumulator_value must be positive"):
        tf.train.AdagradDAOptimizer(0.1, None, initial_gradient_squared_accumulator_value=0.0)
    tf.reset_default_graph()
    w = tf.Variable([1.0, 2.0])
    step32 = tf.Variable(0, name="step32")
    with pytest.raises(TypeError, match="'global_step' of 'ApplyAdagradDA' Op has type int32"):
        tf.train.AdagradDAOptimizer(0.1, step32).minimize(tf.reduce_sum(w * w))
