"""Session.run semantics: fetch structures, feeds, pruning, caching, errors, default sessions."""

from __future__ import annotations

import collections
import inspect

import numpy as np
import pytest

import labflow as tf


def _line() -> int:
    return inspect.currentframe().f_back.f_lineno


def test_fetch_structures():
    a = tf.constant(1.0, name="a")
    b = tf.constant([2.0, 3.0], name="b")
    c = tf.add(a, b, name="c")
    Pair = collections.namedtuple("Pair", "x y")
    with tf.Session() as sess:
        assert sess.run(a) == 1.0
        out = sess.run({"a": a, "nested": [b, (c, a)], "pair": Pair(a, c), "name": "c:0"})
        assert out["a"] == 1.0
        np.testing.assert_array_equal(out["nested"][0], [2, 3])
        assert isinstance(out["nested"][1], tuple)
        np.testing.assert_array_equal(out["nested"][1][0], [3, 4])
        assert isinstance(out["pair"], Pair) and out["pair"].x == 1.0
        np.testing.assert_array_equal(out["name"], [3, 4])
        assert sess.run(tf.no_op()) is None
        assert sess.run([c.op, a]) == [None, 1.0]
        assert sess.run("c")  is None
        ordered = sess.run(collections.OrderedDict([("z", a), ("y", b)]))
        assert list(ordered) == ["z", "y"]


def test_fetch_scalar_is_numpy_scalar_and_copies_constants():
    a = tf.constant([1.0, 2.0])
    with tf.Session() as sess:
        v = sess.run(a)
        v[0] = 100.0  # the user owns what a fetch returns
        np.testing.assert_array_equal(sess.run(a), [1.0, 2.0])


def test_bad_fetches():
    a = tf.constant(1.0)
    with tf.Session() as sess:
        with pytest.raises(TypeError, match="None"):
            sess.run(None)
        with pytest.raises(TypeError):
            sess.run(3)
        with pytest.raises((KeyError, ValueError)):
            sess.run("nope:0")
        other = tf.Graph()
        with other.as_default():
            b = tf.constant(2.0)
        with pytest.raises(ValueError, match="not an element of this graph"):
            sess.run(b)
    del a


def test_feeds_by_tensor_and_name_and_dtype_conversion():
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    y = tf.add(x, x, name="y")
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {x: [[1, 2]]}), [[2, 4]])
        out = sess.run(y, {"x:0": np.array([[1.5, 2.5]], np.float64)})
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, [[3, 5]])


def test_feed_shape_error_message():
    x = tf.placeholder(tf.float32, [None, 784], name="x")
    y = tf.identity(x)
    with tf.Session() as sess:
        with pytest.raises(ValueError, match=r"Cannot feed value of shape \(2, 3\) for Tensor 'x:0', which "
                                             r"has shape '\(\?, 784\)'"):
            sess.run(y, {x: np.zeros((2, 3))})


def test_feed_value_errors():
    x = tf.placeholder(tf.float32, [2], name="x")
    with tf.Session() as sess:
        with pytest.raises(TypeError, match="cannot be a labflow Tensor"):
            sess.run(x, {x: tf.constant([1.0, 2.0])})
        with pytest.raises(TypeError, match="Cannot interpret feed_dict key"):
            sess.run(x, {"missing:0": [1, 2]})
        with pytest.raises(TypeError, match="x:0"):
            sess.run(x, {x: ["a", "b"]})


def test_any_tensor_is_feedable_and_cuts_upstream():
    p = tf.placeholder(tf.float32, [], name="p")
    mid = tf.add(p, p, name="mid")
    out = tf.add(mid, tf.constant(1.0), name="out")
    with tf.Session() as sess:
        # `p` is not fed, but feeding `mid` cuts it off.
        assert sess.run(out, {mid: 10.0}) == 11.0
        assert sess.run(mid, {mid: 5.0}) == 5.0  # a fed tensor can be fetched


def test_unfed_placeholder_names_it_and_the_path():
    x = tf.placeholder(tf.float32, [None, 3], name="inputs")
    h = tf.identity(x, name="hidden")
    loss = tf.reduce_sum(h, name="loss")
    line = _line() - 1
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError) as ei:
            sess.run(loss)
    msg = str(ei.value)
    assert "You must feed a value for placeholder tensor 'inputs'" in msg
    assert "loss <- hidden <- inputs" in msg
    assert ei.value.op.name == "inputs"
    assert __file__ in msg and f"line {line - 2}" in msg


def test_unneeded_placeholder_is_pruned():
    x = tf.placeholder(tf.float32, name="unused")
    a = tf.constant(2.0)
    _ = tf.identity(x)
    with tf.Session() as sess:
        assert sess.run(a) == 2.0


def test_plan_is_cached_and_invalidated_by_graph_changes():
    a = tf.constant(1.0)
    b = tf.add(a, a)
    with tf.Session() as sess:
        sess.run(b)
        sess.run(b)
        assert len(sess._cache) == 1
        tf.add(b, b)  # graph changed: the version moves on
        sess.run(b)
        assert len(sess._cache) == 2


def test_runtime_kernel_error_names_op_and_user_line():
    x = tf.placeholder(tf.float32, name="x")
    y = tf.placeholder(tf.float32, name="y")
    z = tf.add(x, y, name="bad_add"); line = _line()  # noqa: E702
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError) as ei:
            sess.run(z, {x: np.ones(3), y: np.ones(4)})
    msg = str(ei.value)
    assert "bad_add" in msg and "Add" in msg and "CPU:0" in msg
    assert f'"{__file__}", line {line}' in msg
    assert ei.value.op is z.op
    assert isinstance(ei.value, ValueError)


def test_closed_session():
    a = tf.constant(1.0)
    sess = tf.Session()
    sess.close()
    with pytest.raises(RuntimeError, match="closed Session"):
        sess.run(a)
    sess.close()  # idempotent


def test_default_session_eval_and_run():
    a = tf.constant(3.0)
    op = tf.no_op()
    with pytest.raises(ValueError, match="No default session"):
        a.eval()
    with tf.Session() as sess:
        assert tf.get_default_session() is sess
        assert a.eval() == 3.0
        op.run()
    assert tf.get_default_session() is None
    sess = tf.Session()
    assert a.eval(session=sess) == 3.0
    with sess.as_default():
        assert a.eval() == 3.0
    sess.close()


def test_interactive_session_installs_itself():
    a = tf.constant(4.0)
    sess = tf.InteractiveSession()
    try:
        assert tf.get_default_session() is sess
        assert a.eval() == 4.0
    finally:
        sess.close()
    assert tf.get_default_session() is None


def test_session_graph_argument_and_context_default_graph():
    g = tf.Graph()
    with g.as_default():
        c = tf.constant(5.0)
    with tf.Session(graph=g) as sess:
        assert tf.get_default_graph() is g  # entering the session makes its graph the default
        assert sess.run(c) == 5.0
    assert tf.get_default_graph() is not g


def test_list_devices_and_config():
    with tf.Session(config=tf.ConfigProto(device_count={"CPU": 3})) as sess:
        names = [d.name for d in sess.list_devices()]
    assert names[:3] == [f"/job:localhost/replica:0/task:0/device:CPU:{i}" for i in range(3)]
    with pytest.raises(TypeError, match="unknown field"):
        tf.ConfigProto(no_such_option=1)


def test_run_options_and_metadata_are_accepted():
    a = tf.constant(1.0)
    with tf.Session() as sess:
        md = tf.RunMetadata()
        assert sess.run(a, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE), run_metadata=md) == 1.0


def test_make_callable():
    x = tf.placeholder(tf.float32, [])
    y = tf.add(x, tf.constant(1.0))
    with tf.Session() as sess:
        f = sess.make_callable(y, [x])
        assert f(2.0) == 3.0


def test_placement_log_is_data():
    a = tf.constant(1.0, name="a")
    with tf.Session(config=tf.ConfigProto(log_device_placement=True)) as sess:
        sess.run(a)
        (p,) = sess.placements()
    assert p.node == "a" and p.device.endswith("CPU:0") and p.reason


def test_control_dependency_on_a_fed_placeholder_is_satisfied_by_the_feed():
    x = tf.placeholder(tf.float32, [None])
    with tf.control_dependencies([x]):
        y = tf.constant(1.0) + 1
    with tf.Session() as sess:
        assert sess.run(y, {x: [1.0]}) == 2.0
        with pytest.raises(tf.errors.InvalidArgumentError, match="must feed"):
            sess.run(y)
