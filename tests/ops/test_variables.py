"""tf.Variable (TF 1.x ref variables), assignment ops, collections and initializers."""

from __future__ import annotations

import inspect
import os

import numpy as np
import pytest

import labflow as tf
from labflow import initializers


def _line() -> int:
    return inspect.currentframe().f_back.f_lineno


def test_variable_ops_and_names_like_tf1():
    v = tf.Variable(tf.zeros([3, 2]), name="W")
    b = tf.Variable([1.0, 2.0])
    c = tf.Variable(lambda: tf.ones([2]), name="c")
    assert v.name == "W:0" and v.op.name == "W" and v.op.type == "VariableV2"
    assert v.initializer.name == "W/Assign" and v.initializer.type == "Assign"
    assert v.value().name == "W/read:0" and v.value().op.type == "Identity"
    assert b.name == "Variable:0" and b.initial_value.name == "Variable/initial_value:0"
    assert c.initial_value.op.name.startswith("c/Initializer/")
    assert c.initial_value.op.get_attr("_class") == [b"loc:@c"]
    assert v.value().op.get_attr("_class") == [b"loc:@W"]
    assert v.dtype.name == "float32_ref"
    assert v.dtype.base_dtype == tf.float32
    assert v.shape.as_list() == [3, 2] and v.get_shape().as_list() == [3, 2]
    assert v._ref().dtype.is_ref_dtype and v._as_graph_element() is v.value()
    assert v.graph is tf.get_default_graph()
    assert repr(v) == "<tf.Variable 'W:0' shape=(3, 2) dtype=float32_ref>"
    w2 = tf.Variable(1.0, name="W")
    assert w2.name == "W_1:0"


def test_collections_and_initializers():
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(2.0, name="b", trainable=False)
    c = tf.Variable(3.0, name="c", trainable=False, collections=[tf.GraphKeys.LOCAL_VARIABLES])
    assert tf.global_variables() == [a, b]
    assert tf.all_variables() == [a, b]
    assert tf.trainable_variables() == [a]
    assert tf.local_variables() == [c]
    assert tf.global_variables("a") == [a]
    init = tf.global_variables_initializer()
    assert init.name == "init" and init.type == "NoOp"
    assert set(init.control_inputs) == {a.initializer, b.initializer}
    local = tf.local_variables_initializer()
    assert local.name == "init_1"
    assert tf.variables_initializer([]).type == "NoOp"
    with tf.Session() as sess:
        sess.run(init)
        assert sess.run([a, b]) == [1.0, 2.0]
        assert not sess.run(tf.is_variable_initialized(c))
        sess.run(local)
        assert sess.run(tf.is_variable_initialized(c))


def test_uninitialized_read_names_variable_line_and_fix():
    v = tf.Variable(tf.zeros([2]), name="weights"); line = _line()  # noqa: E702
    with tf.Session() as sess:
        with pytest.raises(tf.errors.FailedPreconditionError) as e:
            sess.run(v)
    msg = str(e.value)
    assert "Attempting to use uninitialized value weights" in msg
    assert f"line {line}" in msg and os.path.basename(__file__) in msg
    assert "global_variables_initializer" in msg or "initializer" in msg


def test_uninitialized_update_names_variable():
    v = tf.Variable([1.0], name="acc")
    with tf.Session() as sess:
        with pytest.raises(tf.errors.FailedPreconditionError, match="uninitialized value acc"):
            sess.run(v.assign_add([1.0]))


def test_report_uninitialized_variables():
    a = tf.Variable(1.0, name="a")
    tf.Variable(2.0, name="b")
    report = tf.report_uninitialized_variables()
    with tf.Session() as sess:
        assert list(sess.run(report)) == [b"a", b"b"]
        sess.run(a.initializer)
        assert list(sess.run(report)) == [b"b"]
        sess.run(tf.global_variables_initializer())
        assert sess.run(report).shape == (0,)


def test_assign_stores_a_copy_and_updates_in_place():
    x = tf.placeholder(tf.float32, [3])
    c = tf.constant([1.0, 2.0, 3.0])
    v = tf.Variable(c)
    fed = tf.Variable(tf.zeros([3]))
    assign_fed = fed.assign(x)
    inc = v.assign_add([1.0, 1.0, 1.0])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        feed = np.array([5.0, 6.0, 7.0], np.float32)
        sess.run(assign_fed, {x: feed})
        sess.run(inc)
        np.testing.assert_array_equal(sess.run(c), [1, 2, 3])  # the constant is untouched
        np.testing.assert_array_equal(feed, [5, 6, 7])  # so is the fed array
        got = sess.run(v)
        got[0] = 100.0  # fetched values are copies
        np.testing.assert_array_equal(sess.run(v), [2, 3, 4])
        ref = [item for d in sess._devices for _, item in d.resources.items() if item.name == v.op.name][0]
        before = ref.value
        sess.run(inc)
        sess.run(v.assign([0.0, 0.0, 0.0]))
        assert ref.value is before  # later updates write into the same array


def test_assign_shapes_and_dtypes():
    v = tf.Variable(tf.zeros([2, 2]))
    with pytest.raises(ValueError, match="Shapes must be equal rank.*Assign"):
        v.assign([1.0, 2.0])
    with pytest.raises(ValueError, match="Dimension 0 in both shapes must be equal.*Assign"):
        tf.assign(v, tf.zeros([3, 2]))
    with pytest.raises((TypeError, ValueError)):
        tf.assign(v, tf.zeros([2, 2], tf.float64))
    with pytest.raises(TypeError, match="tf.Variable"):
        tf.assign(tf.constant([1.0]), [2.0])
    w = tf.Variable([1.0, 2.0], validate_shape=False)
    assert w.shape.ndims is None
    grow = tf.assign(w, [1.0, 2.0, 3.0], validate_shape=False)
    with tf.Session() as sess:
        sess.run(w.initializer)
        np.testing.assert_array_equal(sess.run(grow), [1, 2, 3])
        np.testing.assert_array_equal(sess.run(w), [1, 2, 3])


def test_assign_methods_read_value_and_names():
    v = tf.Variable(10, name="counter")
    add = v.assign_add(5)
    sub = tf.assign_sub(v, 3, name="dec")
    op = v.assign(1, read_value=False)
    assert add.op.type == "AssignAdd" and sub.op.name == "dec" and isinstance(op, tf.Operation)
    assert add.dtype.is_ref_dtype and add.op.get_attr("use_locking") is False
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(add) == 15
        assert sess.run(sub) == 12
        sess.run(op)
        assert v.eval(session=sess) == 1
        v.load(42, sess)
        assert sess.run(v) == 42


def test_scatter_ops_and_variable_methods():
    v = tf.Variable(tf.zeros([4, 2]))
    upd = tf.scatter_add(v, [1, 1, 3], tf.ones([3, 2]))
    sub = v.scatter_sub(tf.IndexedSlices(tf.ones([1, 2]), tf.constant([0])))
    put = tf.scatter_update(v, [2], [[7.0, 8.0]])
    with pytest.raises(ValueError, match="updates.shape = indices.shape"):
        tf.scatter_add(v, [0, 1], tf.ones([3, 2]))
    with tf.Session() as sess:
        sess.run(v.initializer)
        np.testing.assert_array_equal(sess.run(upd), [[0, 0], [2, 2], [0, 0], [1, 1]])
        sess.run(sub)
        sess.run(put)
        np.testing.assert_array_equal(sess.run(v), [[-1, -1], [2, 2], [7, 8], [1, 1]])


def test_conversion_and_operators():
    v = tf.Variable([[1.0, 2.0], [3.0, 4.0]], name="v")
    x = tf.constant([[1.0, 0.0], [0.0, 1.0]])
    exprs = {"matmul": tf.matmul(x, v), "add": v + 1, "radd": 1 + v, "mul": v * x, "neg": -v, "sub": 10 - v,
             "div": v / 2, "pow": v ** 2, "getitem": v[0], "lt": v < 2.5, "abs": abs(-v),
             "np": np.float32(2) * v, "identity": tf.identity(v)}
    assert tf.convert_to_tensor(v) is v.value()
    with pytest.raises(ValueError, match="Incompatible type conversion"):
        tf.convert_to_tensor(v, dtype=tf.int32)
    a = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    want = {"matmul": a, "add": a + 1, "radd": a + 1, "mul": a * np.eye(2), "neg": -a, "sub": 10 - a,
            "div": a / 2, "pow": a ** 2, "getitem": a[0], "lt": a < 2.5, "abs": a, "np": 2 * a, "identity": a}
    with tf.Session() as sess:
        sess.run(v.initializer)
        got = sess.run(exprs)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], err_msg=k)
    with pytest.raises(TypeError, match="not iterable"):
        iter(v)
    assert v != v.value() and v == v and len({v, v}) == 1


def test_read_value_initialized_value_and_variable_from_variable():
    a = tf.Variable(3.0, name="a")
    b = tf.Variable(a.initialized_value() * 2, name="b")
    r = a.read_value()
    assert r.op.type == "Identity" and r is not a.value()
    with tf.Session() as sess:
        sess.run(b.initializer)  # initializes a first through initialized_value
        assert sess.run(b) == 6.0 and sess.run(r) == 3.0


def test_variable_in_control_dependencies_and_gradients():
    v = tf.Variable(2.0)
    y = v * v
    g, = tf.gradients(y, [v])
    with tf.control_dependencies([v.assign(5.0)]):
        after = tf.identity(v.value() + 0.0)
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(g) == 4.0
        assert sess.run(after) == 5.0


def test_variable_def_round_trip():
    v = tf.Variable([1.0, 2.0], name="v", trainable=False)
    proto = v.to_proto()
    names = (proto.variable_name, proto.initializer_name, proto.snapshot_name)
    assert names == ("v:0", "v/Assign", "v/read:0")
    w = tf.Variable.from_proto(proto)
    assert w.op is v.op and w.initializer is v.initializer and w.value() is v.value() and not w.trainable
    with pytest.raises(ValueError, match="mutually exclusive"):
        tf.Variable(1.0, variable_def=proto)
    with tf.Session() as sess:
        sess.run(w.initializer)
        np.testing.assert_array_equal(sess.run(v), [1, 2])


def test_variable_errors():
    with pytest.raises(ValueError, match="initial_value must be specified"):
        tf.Variable()
    with pytest.raises(ValueError, match="must have a shape specified"):
        tf.Variable(tf.placeholder(tf.float32, [None]))
    with pytest.raises(ValueError, match="collections argument"):
        tf.Variable(1.0, collections="variables")


def test_device_and_colocation_of_variable_ops():
    with tf.device("/cpu:0"):
        v = tf.Variable(tf.zeros([2]), name="dv")
    assert "CPU:0" in v.device
    assert v.value().device == v.device
    with tf.Session(config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
        sess.run(v.initializer)
        np.testing.assert_array_equal(sess.run(v), [0, 0])


def test_variable_on_second_cpu_updated_from_first():
    with tf.device("/cpu:1"):
        v = tf.Variable(tf.zeros([2]), name="remote")
    with tf.device("/cpu:0"):
        delta = tf.constant([1.0, 2.0]) * 2.0
    inc = v.assign_add(delta)
    with tf.Session(config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
        sess.run(v.initializer)
        sess.run(inc)
        sess.run(inc)
        np.testing.assert_array_equal(sess.run(v), [4, 8])


def test_initializers_build_values():
    specs = {
        "zeros": (tf.zeros_initializer(), lambda x: np.all(x == 0)),
        "ones": (tf.ones_initializer(), lambda x: np.all(x == 1)),
        "const": (tf.constant_initializer(3.5), lambda x: np.all(x == 3.5)),
        "normal": (tf.random_normal_initializer(1.0, 0.01, seed=1), lambda x: abs(x.mean() - 1) < 0.01),
        "trunc": (tf.truncated_normal_initializer(stddev=0.1, seed=1),
                  lambda x: np.abs(x).max() <= 0.2 + 1e-6),
        "uniform": (tf.random_uniform_initializer(-1, 1, seed=1), lambda x: x.min() >= -1 and x.max() < 1),
        "glorot_u": (tf.glorot_uniform_initializer(seed=1), lambda x: np.abs(x).max() <= np.sqrt(6 / 50)),
        "glorot_n": (tf.glorot_normal_initializer(seed=1),
                     lambda x: np.abs(x).max() <= 2 * np.sqrt(2 / 50) / .879),
        "vs": (tf.variance_scaling_initializer(2.0, "fan_in", "uniform"),
               lambda x: np.abs(x).max() <= np.sqrt(.3)),
    }
    vals = {k: init([20, 30]) for k, (init, _) in specs.items()}
    assert all(t.get_shape().as_list() == [20, 30] for t in vals.values())
    assert tf.zeros_initializer()([2], dtype=tf.int64).dtype == tf.int64
    with tf.Session() as sess:
        got = sess.run(vals)
    for k, (_, ok) in specs.items():
        assert ok(got[k]), k
    assert initializers.zeros is tf.zeros_initializer
    assert initializers.glorot_uniform().get_config() == {"seed": None, "dtype": "float32"}
    with pytest.raises(ValueError, match="Expected floating point type"):
        tf.random_normal_initializer(dtype=tf.int32)
    with pytest.raises(TypeError, match="Invalid type for initial value"):
        tf.constant_initializer({"a": 1})
    if not hasattr(tf, "qr"):
        with pytest.raises(NotImplementedError, match="tf.qr"):
            tf.orthogonal_initializer()([3, 3])


def test_assert_variables_initialized():
    v = tf.Variable([1.0], name="late")
    check = tf.assert_variables_initialized()
    with tf.Session() as sess:
        with pytest.raises(tf.errors.FailedPreconditionError, match="late"):
            sess.run(check)
        sess.run(v.initializer)
        sess.run(check)
