"""tf.cond, tf.case and tf.while_loop: semantics, errors, gradients (against NumPy), nesting, devices."""

from __future__ import annotations

import collections

import numpy as np
import pytest

import labflow as tf
from labflow.testing.gradient_check import gradient_check


def test_cond_runs_only_the_taken_branch_and_its_side_effects():
    v = tf.Variable(0)
    p = tf.placeholder(tf.bool, [])
    x = tf.placeholder(tf.float32, [2])
    out = tf.cond(p, lambda: (x * 2.0, tf.assign_add(v, 1)), lambda: (x - 1.0, tf.assign_add(v, 10)))
    assert out[0].get_shape().as_list() == [2] and out[0].op.type == "If" and out[0].op.name == "cond"
    with tf.Session() as s:
        s.run(v.initializer)
        a, n = s.run(out, {p: True, x: [1, 2]})
        np.testing.assert_array_equal(a, [2, 4])
        assert n == 1
        a, n = s.run(out, {p: False, x: [1, 2]})
        np.testing.assert_array_equal(a, [0, 1])
        assert n == 11 and s.run(v) == 11  # only the taken branch's assign ran, each time


def test_cond_structures_python_values_ops_and_shapes():
    p = tf.placeholder(tf.bool, [])
    x = tf.placeholder(tf.float32, [None, 3])
    Pair = collections.namedtuple("Pair", "a b")
    out = tf.cond(p, lambda: Pair(x, {"k": 1.0}), lambda: Pair(x[:1] * 0.0, {"k": 2.0}))
    assert isinstance(out, Pair) and out.a.get_shape().as_list() == [None, 3]
    single = tf.cond(p, lambda: [x], lambda: [x + 1.0])  # a one-element list is unpacked (strict=False)
    assert isinstance(single, tf.Tensor)
    counter = tf.Variable(0)
    op = tf.cond(p, lambda: tf.assign_add(counter, 1).op, lambda: tf.no_op())
    assert isinstance(op, tf.Operation)
    with tf.Session() as s:
        s.run(counter.initializer)
        r = s.run(out, {p: False, x: np.ones((4, 3))})
        assert r.a.shape == (1, 3) and r.b["k"] == 2.0
        s.run(op, {p: True})
        s.run(op, {p: False})
        assert s.run(counter) == 1


def test_cond_errors_say_what_is_wrong():
    x = tf.constant(1.0)
    with pytest.raises(TypeError, match="Python bool"):
        tf.cond(True, lambda: x, lambda: x)
    with pytest.raises(TypeError, match="bool Tensor"):
        tf.cond(tf.constant(1), lambda: x, lambda: x)
    with pytest.raises(ValueError, match="scalar"):
        tf.cond(tf.constant([True, False]), lambda: x, lambda: x)
    with pytest.raises(TypeError, match="same type: float32, int32"):
        tf.cond(tf.constant(True), lambda: x, lambda: tf.constant(1))
    with pytest.raises(ValueError, match="same structure"):
        tf.cond(tf.constant(True), lambda: (x, x), lambda: x)
    with pytest.raises(TypeError, match="callable"):
        tf.cond(tf.constant(True), x, lambda: x)
    with pytest.raises(ValueError, match="must return a value"):
        tf.cond(tf.constant(True), lambda: None, lambda: x)


def test_an_error_inside_a_branch_names_the_inner_op_and_the_function():
    x = tf.placeholder(tf.float32, [None])
    y = tf.cond(tf.constant(True), lambda: tf.reshape(x, [2, 2], name="bad_reshape"), lambda: tf.zeros([2, 2]))
    with tf.Session() as s, pytest.raises(tf.errors.InvalidArgumentError) as e:
        s.run(y, {x: [1.0, 2.0, 3.0]})
    assert "bad_reshape" in str(e.value) and "cond/true_branch" in str(e.value)


def test_case_picks_the_first_true_predicate_and_checks_exclusivity():
    x = tf.placeholder(tf.int32, [])
    out = tf.case([(tf.less(x, 0), lambda: tf.constant(-1)), (tf.equal(x, 0), lambda: tf.constant(0))],
                  default=lambda: tf.constant(1))
    both = tf.case([(tf.less(x, 5), lambda: tf.constant(1)), (tf.less(x, 10), lambda: tf.constant(2))],
                   default=lambda: tf.constant(3), exclusive=True)
    with tf.Session() as s:
        assert [s.run(out, {x: v}) for v in (-3, 0, 7)] == [-1, 0, 1]
        assert s.run(both, {x: 7}) == 2
        with pytest.raises(tf.errors.InvalidArgumentError, match="more than one predicate"):
            s.run(both, {x: 1})


def test_while_loop_counts_carries_structures_and_stops_at_maximum_iterations():
    i, total = tf.while_loop(lambda i, t: i < 10, lambda i, t: (i + 1, t + i), [tf.constant(0), tf.constant(0)])
    n = tf.placeholder(tf.int32, [])
    State = collections.namedtuple("State", "step acc")
    s_out = tf.while_loop(lambda st: st.step < n, lambda st: State(st.step + 1, st.acc * 2.0),
                          [State(tf.constant(0), tf.constant([1.0, 3.0]))])
    single = tf.while_loop(lambda v: v < 100.0, lambda v: v * 3.0, tf.constant(1.0))
    capped = tf.while_loop(lambda v: v > -1, lambda v: v + 1, [tf.constant(0)], maximum_iterations=7)
    assert isinstance(single, tf.Tensor) and isinstance(s_out[0], State)
    with tf.Session() as s:
        assert s.run([i, total]) == [10, 45]
        r = s.run(s_out, {n: 3})[0]
        assert r.step == 3 and list(r.acc) == [8.0, 24.0]
        assert s.run(single) == 243.0
        assert s.run(capped) == 7


def test_while_loop_shape_invariants():
    x = tf.constant([[1.0]])
    grow = tf.while_loop(lambda a: tf.shape(a)[0] < 5, lambda a: tf.concat([a, a[:1] + 1.0], 0), [x],
                         shape_invariants=[tf.TensorShape([None, 1])])
    assert grow.get_shape().as_list() == [None, 1]
    with tf.Session() as s:
        np.testing.assert_array_equal(s.run(grow)[:, 0], [1, 2, 2, 2, 2])
    with pytest.raises(ValueError, match="shape_invariants"):
        tf.while_loop(lambda a: tf.shape(a)[0] < 5, lambda a: tf.concat([a, a], 0), [x])
    with pytest.raises(TypeError, match="enters the loop as int32"):
        tf.while_loop(lambda a: a < 5, lambda a: tf.cast(a, tf.float32), [tf.constant(0)])


def _numeric_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        d = np.zeros_like(x)
        d[idx] = eps
        g[idx] = (f(x + d) - f(x - d)) / (2 * eps)
    return g


def test_cond_gradients_against_central_differences():
    def build(x, w):
        p = tf.reduce_sum(x) > 0
        return tf.cond(p, lambda: tf.tanh(x * w), lambda: tf.sin(x) + w)

    r = np.random.RandomState(0)
    gradient_check(build, [np.abs(r.randn(3)) + 0.1, r.randn(3)])
    gradient_check(build, [-np.abs(r.randn(3)) - 0.1, r.randn(3)])


def test_rnn_in_a_while_loop_gradients_match_numpy():
    # A tanh RNN over a time dimension known only at run time, its weight made inside the body.
    r = np.random.RandomState(1)
    xs = tf.placeholder(tf.float64, [None, 3, 4])

    def body(t, h):
        with tf.variable_scope("cell", reuse=tf.AUTO_REUSE):
            w = tf.get_variable("w", [4 + 5, 5], tf.float64, tf.random_normal_initializer(seed=2))
        return t + 1, tf.tanh(tf.matmul(tf.concat([xs[t], h], 1), w))

    _, h = tf.while_loop(lambda t, h: t < tf.shape(xs)[0], body, [tf.constant(0), tf.zeros([3, 5], tf.float64)])
    (w,) = tf.global_variables()
    assert w.op.name == "cell/w"
    loss = tf.reduce_sum(h * h)
    gw, gx = tf.gradients(loss, [w, xs])
    xv = r.randn(6, 3, 4)
    with tf.Session() as s:
        s.run(w.initializer)
        wv = s.run(w)
        got_l, got_w, got_x = s.run([loss, gw, gx], {xs: xv})

    def f(wv, xv):
        h = np.zeros((3, 5))
        for t in range(xv.shape[0]):
            h = np.tanh(np.concatenate([xv[t], h], 1) @ wv)
        return (h * h).sum()

    np.testing.assert_allclose(got_l, f(wv, xv), rtol=1e-12)
    np.testing.assert_allclose(got_w, _numeric_grad(lambda a: f(a, xv), wv), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got_x, _numeric_grad(lambda a: f(wv, a), xv), rtol=1e-6, atol=1e-8)


def test_loop_gradients_for_initial_values_zero_iterations_and_back_prop_false():
    def build(x, w):
        n = tf.cast(tf.reduce_sum(x) > 0, tf.int32) * 3  # 3 iterations or none
        _, y = tf.while_loop(lambda i, a: i < n, lambda i, a: (i + 1, a * w + tf.sin(a)), [0, x])
        return y

    r = np.random.RandomState(3)
    gradient_check(build, [np.abs(r.randn(4)) + 0.1, r.randn(4)])
    x = tf.placeholder(tf.float64, [4])
    w = tf.placeholder(tf.float64, [4])
    _, y = tf.while_loop(lambda i, a: i < 0, lambda i, a: (i + 1, a * w), [0, x])
    gx, gw = tf.gradients(tf.reduce_sum(y), [x, w])
    _, z = tf.while_loop(lambda i, a: i < 2, lambda i, a: (i + 1, a * w), [0, x], back_prop=False)
    assert tf.gradients(tf.reduce_sum(z), x) == [None]
    with tf.Session() as s:
        a, b = s.run([gx, gw], {x: np.ones(4), w: np.ones(4)})
    np.testing.assert_array_equal(a, np.ones(4))  # no iteration: y = x
    np.testing.assert_array_equal(b, np.zeros(4))


def test_random_ops_in_a_loop_body_are_not_redrawn_by_the_gradient():
    x = tf.placeholder(tf.float32, [1000])
    _, y = tf.while_loop(lambda i, a: i < 2, lambda i, a: (i + 1, tf.nn.dropout(a, keep_prob=0.5)), [0, x])
    (g,) = tf.gradients(tf.reduce_sum(y), x)
    with tf.Session() as s:
        yv, gv = s.run([y, g], {x: np.ones(1000, np.float32)})
    assert 0.1 < (yv != 0).mean() < 0.4
    np.testing.assert_array_equal(gv, yv)  # d(x * m1 * m2)/dx = m1 * m2 = y / x, the masks of this run


def test_nested_loops_and_conds_with_gradients():
    def build(x, w):
        def outer_body(i, a):
            inner = tf.while_loop(lambda j, b: j < i, lambda j, b: (j + 1, b * w), [0, a])[1]
            return i + 1, tf.cond(tf.reduce_sum(inner) > 0, lambda: inner * 0.5, lambda: inner + x)
        return tf.while_loop(lambda i, a: i < 3, outer_body, [1, x])[1]

    r = np.random.RandomState(4)
    gradient_check(build, [r.randn(3), r.randn(3) * 0.5 + 1.0])


def test_loop_on_another_device_receives_its_captures():
    with tf.device("/cpu:0"):
        x = tf.constant([1.0, 2.0])
    with tf.device("/cpu:1"):
        y = tf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a + x), [0, tf.zeros([2])])[1]
    with tf.Session(config=tf.ConfigProto(device_count={"CPU": 2})) as s:
        md = tf.RunMetadata()
        out = s.run(y, options=tf.RunOptions(output_partition_graphs=True), run_metadata=md)
    np.testing.assert_array_equal(out, [3, 6])
    assert any(n.op == "While" and n.device.endswith("CPU:1") for g in md.partition_graphs for n in g.node)


def test_a_closed_session_ends_a_long_loop():
    import threading
    import time
    s = tf.Session()
    forever = tf.while_loop(lambda i: i >= 0, lambda i: i + 1, [tf.constant(0, tf.int64)])
    errors = []

    def run():
        try:
            s.run(forever)
        except tf.errors.OpError as e:
            errors.append(e)

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.5)
    s.close()
    t.join(10)
    assert not t.is_alive() and errors and isinstance(errors[0], tf.errors.CancelledError)


def test_graph_def_and_saver_round_trips_keep_functions_and_gradients(tmp_path):
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float64, [3], name="x")
        w = tf.Variable([0.5, 1.5, -1.0], dtype=tf.float64, name="w")

        def outer_body(i, a):
            inner = tf.while_loop(lambda j, b: j < i, lambda j, b: (j + 1, b * w), [0, a])[1]
            return i + 1, tf.cond(tf.reduce_sum(inner) > 0, lambda: inner * 0.5, lambda: inner + x)

        y = tf.identity(tf.while_loop(lambda i, a: i < 3, outer_body, [1, x])[1], name="y")
        tf.identity(tf.gradients(tf.reduce_sum(y * y), w)[0], name="gw")
        saver = tf.train.Saver()
    feed = {"x:0": np.array([1.0, -2.0, 3.0])}
    gd = g.as_graph_def()
    assert len(gd.library.function) == 6  # 2 loops x (cond, body) + 2 branches
    with tf.Session(graph=g) as s:
        s.run(w.initializer)
        want = s.run(["y:0", "gw:0"], feed)
        path = saver.save(s, str(tmp_path / "model"))
    g2 = tf.Graph()
    with g2.as_default():
        restorer = tf.train.import_meta_graph(path + ".meta")
    with tf.Session(graph=g2) as s:
        restorer.restore(s, path)
        got = s.run(["y:0", "gw:0"], feed)
    for a, b in zip(want, got):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_a_loop_on_a_gpu_keeps_its_values_on_the_device():
    from labflow.testing.emulated_gpu import emulated_gpu
    with emulated_gpu() as emu:
        g = tf.Graph()
        with g.as_default(), tf.device("/gpu:0"):
            x = tf.placeholder(tf.float32, [256])
            _, y = tf.while_loop(lambda i, a: i < 50, lambda i, a: (i + 1, tf.tanh(a) * 1.01), [0, x])
        with tf.Session(graph=g) as s:
            s.run(y, {x: np.ones(256, np.float32)})
            emu.reset()
            out = s.run(y, {x: np.ones(256, np.float32)})
            transfers = emu.transfers
    assert s.placements() and all(p.device.endswith("GPU:0") for p in s.placements() if p.node == "while")
    want = np.ones(256, np.float32)
    for _ in range(50):
        want = np.tanh(want) * np.float32(1.01)
    np.testing.assert_allclose(out, want, rtol=1e-5)
    # The feed in, the result out, and the loop test's bool read on the host once per iteration: the
    # loop variable itself never leaves the device.
    assert transfers <= 2 + 51, transfers


def test_map_fn_scan_and_folds_match_numpy_with_gradients():
    r = np.random.RandomState(6)
    xv = r.randn(5, 3)
    x = tf.placeholder(tf.float64, [None, 3])
    sq = tf.map_fn(lambda row: tf.reduce_sum(row * row), x)
    pairs = tf.map_fn(lambda e: (e[0] * 2.0, tf.cast(e[1], tf.float64)), (x, tf.range(tf.shape(x)[0])),
                      dtype=(tf.float64, tf.float64))
    cums = tf.scan(lambda a, row: a + row, x)
    rev = tf.scan(lambda a, row: a * 0.5 + row, x, initializer=tf.zeros([3], tf.float64), reverse=True)
    left = tf.foldl(lambda a, row: a * 2.0 + row, x)
    right = tf.foldr(lambda a, row: a * 2.0 + row, x, initializer=tf.ones([3], tf.float64))
    assert sq.get_shape().as_list() == [None]
    (gx,) = tf.gradients(tf.reduce_sum(sq) + tf.reduce_sum(cums), x)
    with tf.Session() as s:
        v = s.run([sq, pairs, cums, rev, left, right, gx], {x: xv})
    np.testing.assert_allclose(v[0], (xv * xv).sum(1))
    np.testing.assert_allclose(v[1][0], xv * 2)
    np.testing.assert_allclose(v[1][1], np.arange(5))
    np.testing.assert_allclose(v[2], np.cumsum(xv, 0))
    want = np.zeros((5, 3))
    a = np.zeros(3)
    for i in reversed(range(5)):
        a = a * 0.5 + xv[i]
        want[i] = a
    np.testing.assert_allclose(v[3], want)
    a = xv[0]
    for i in range(1, 5):
        a = a * 2 + xv[i]
    np.testing.assert_allclose(v[4], a)
    a = np.ones(3)
    for i in reversed(range(5)):
        a = a * 2 + xv[i]
    np.testing.assert_allclose(v[5], a)
    # d/dx [sum_i |x_i|^2 + sum_i sum_{j<=i} x_j] = 2 x + (n - i)
    np.testing.assert_allclose(v[6], 2 * xv + (5 - np.arange(5))[:, None])


def test_a_traced_step_shows_each_iteration_of_a_loop_and_its_gradient():
    from labflow.notebook import TimelineView
    x = tf.placeholder(tf.float32, [3])
    y = tf.while_loop(lambda i, a: i < 4, lambda i, a: (i + 1, tf.tanh(a) * 2.0), [0, x], name="loop")[1]
    (g,) = tf.gradients(tf.reduce_sum(y), x)
    with tf.Session() as s:
        md = tf.RunMetadata()
        s.run(g, {x: [1.0, 2.0, 3.0]}, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE), run_metadata=md)
    names = [ns.node_name for ds in md.step_stats.dev_stats for ns in ds.node_stats]
    assert names.count("loop/Tanh") == 4 and names.count("loop/Less") == 5  # the body 4 times, the test 5
    assert sum(n.startswith("gradients/loop_grad/WhileGrad/") and n.endswith("Tanh_grad/TanhGrad") for n in names) == 4
    tanh = next(ns for ds in md.step_stats.dev_stats for ns in ds.node_stats if ns.node_name == "loop/Tanh")
    assert [d.size for d in tanh.output[0].tensor_description.shape.dim] == [3]
    assert sum(b.name == "loop/Tanh" for b in TimelineView(md).bars) == 4


def test_graph_views_draw_the_functions_inside_their_ops():
    from labflow.notebook import GraphView
    from labflow.notebook.graph_model import from_graph
    x = tf.placeholder(tf.float32, [3], name="x")
    w = tf.Variable([1.0, 2.0, 3.0], name="w")
    y = tf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, tf.cond(
        tf.reduce_sum(a) > 0, lambda: a * w, lambda: a)), [0, x], name="loop")[1]
    tf.gradients(tf.reduce_sum(y), x)
    model = from_graph(tf.get_default_graph())
    inner = {n for n in model.nodes if n.startswith("loop/")}
    assert {"loop/cond/Less", "loop/body/add", "loop/body/cond", "loop/body/cond/then/mul"} <= inner
    assert not any("gradients" in n for n in inner)  # the WhileGrad op stands for the gradient inside
    edges = {(e.src, e.dst) for e in model.edges()}
    assert ("x", "loop/body/arg_1") in edges and ("w/read", "loop/body/cond/capture_0") in edges  # captured in cond
    view = GraphView(tf.get_default_graph())
    view.expand("*")
    assert 'data-name="loop/body/add"' in view.svg() and 'data-name="loop/body/cond/then/mul"' in view.svg()
