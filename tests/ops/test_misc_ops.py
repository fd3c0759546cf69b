"""The small TF 1.x top-level names: preamble switches, arg_max, switch_case, py_function, bitcast,
init_scope, fingerprint, timestamp, tf.print, and the tf.manip namespace."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

import labflow as tf


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


# -- preamble -----------------------------------------------------------------------------------------
def test_tf1_in_tf2_preamble_is_accepted():
    import labflow.compat.v1 as v1
    v1.disable_eager_execution()
    v1.disable_v2_behavior()
    tf.disable_resource_variables()
    tf.disable_control_flow_v2()
    tf.enable_control_flow_v2()
    tf.disable_tensor_equality()
    tf.disable_v2_tensorshape()
    assert tf.executing_eagerly() is False
    assert tf.executing_eagerly_outside_functions() is False
    assert tf.resource_variables_enabled() is False
    assert tf.control_flow_v2_enabled() is True
    x = tf.placeholder(tf.float32, [2])
    assert _run(x * 2, {x: [1, 2]}).tolist() == [2, 4]


@pytest.mark.parametrize("fn,what", [(tf.enable_eager_execution, "graph mode only"),
                                     (tf.enable_v2_behavior, "TF 1.x behaviour only"),
                                     (tf.enable_resource_variables, "reference"),
                                     (tf.enable_tensor_equality, "identity"),
                                     (tf.enable_v2_tensorshape, "Dimension")])
def test_enable_switches_raise_clearly(fn, what):
    with pytest.raises(ValueError, match=what):
        fn()


# -- arg_max / arg_min ----------------------------------------------------------------------------
def test_arg_max_arg_min():
    x = [[1, 5, 2], [7, 2, 9]]
    a = tf.arg_max(x, 1)
    b = tf.arg_min(x, dimension=0, output_type=tf.int32)
    assert a.op.type == "ArgMax" and a.dtype == tf.int64 and b.dtype == tf.int32
    assert [v.tolist() for v in _run([a, b])] == [[1, 2], [0, 1, 0]]
    with pytest.raises(TypeError):
        tf.arg_max(x)  # dimension is required in TF 1.x's arg_max


# -- switch_case ----------------------------------------------------------------------------------
def test_switch_case_list_and_default():
    i = tf.placeholder(tf.int32, [])
    y = tf.switch_case(i, [lambda: tf.constant(10), lambda: tf.constant(20)], default=lambda: tf.constant(-1))
    with tf.Session() as sess:
        assert [int(sess.run(y, {i: k})) for k in (0, 1, 2, -3)] == [10, 20, -1, -1]


def test_switch_case_dict_without_default_uses_largest_key():
    i = tf.placeholder(tf.int32, [])
    y = tf.switch_case(i, {3: lambda: tf.constant(3.0), 1: lambda: tf.constant(1.0)})
    with tf.Session() as sess:
        assert [float(sess.run(y, {i: k})) for k in (1, 3, 0, 9)] == [1.0, 3.0, 3.0, 3.0]


def test_switch_case_runs_only_the_taken_branch():
    v = tf.Variable(0)
    i = tf.placeholder(tf.int32, [])
    y = tf.switch_case(i, [lambda: tf.assign_add(v, 1), lambda: tf.assign_add(v, 100)])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(y, {i: 0})
        sess.run(y, {i: 0})
        assert sess.run(v) == 2


def test_switch_case_errors():
    with pytest.raises(ValueError, match="empty"):
        tf.switch_case(0, [])
    with pytest.raises(TypeError, match="callable"):
        tf.switch_case(0, [1, 2])
    with pytest.raises(TypeError, match="keys must be ints"):
        tf.switch_case(0, {"a": lambda: tf.constant(1)})
    with pytest.raises(TypeError, match="int32"):
        tf.switch_case(tf.constant(0, tf.int64), [lambda: tf.constant(1)])
    with pytest.raises(ValueError, match="scalar"):
        tf.switch_case(tf.constant([0]), [lambda: tf.constant(1)])


# -- py_function ----------------------------------------------------------------------------------
def test_py_function_gets_eager_like_values():
    seen = []

    def f(a, b):
        seen.append((type(a.numpy()), a.shape, b.numpy()))
        return a * b.numpy() + 1

    x = tf.constant([1.0, 2.0, 3.0])
    y = tf.py_function(f, [x, tf.constant(2.0)], tf.float32)
    assert y.op.type == "EagerPyFunc" and y.dtype == tf.float32
    assert _run(y).tolist() == [3.0, 5.0, 7.0]
    assert seen[0][0] is np.ndarray and seen[0][1] == (3,) and seen[0][2] == 2.0


def test_py_function_outputs_and_errors():
    x = tf.constant([1, 2], tf.int64)
    a, b = tf.py_function(lambda v: (v.numpy().sum(), np.float32(0.5)), [x], [tf.int64, tf.float32])
    assert [v.tolist() for v in _run([a, b])] == [3, 0.5]
    none = tf.py_function(lambda v: None, [x], [])
    assert isinstance(none, tf.Operation)
    _run(none)
    bad = tf.py_function(lambda v: 1 / 0, [x], tf.float32)
    with pytest.raises(tf.errors.UnknownError, match="ZeroDivisionError"):
        _run(bad)
    wrong = tf.py_function(lambda v: "text", [x], tf.float32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="expects float"):
        _run(wrong)
    with pytest.raises(TypeError, match="callable"):
        tf.py_function(3, [x], tf.float32)
    with pytest.raises(TypeError, match="Tout"):
        tf.py_function(lambda v: v, [x])


# -- small helpers ----------------------------------------------------------------------------------
def test_guarantee_const_and_grad_pass_through():
    x = tf.constant([1.0, 2.0, 3.0])
    g = tf.guarantee_const(x)
    assert g.op.type == "GuaranteeConst" and _run(g).tolist() == [1.0, 2.0, 3.0]
    assert tf.gradients(g, x)[0] is None
    y = tf.grad_pass_through(tf.round)(x * 1.3)
    val, grad = _run([y, tf.gradients(y, x)[0]])
    assert val.tolist() == [1.0, 3.0, 4.0]
    np.testing.assert_allclose(grad, [1.3, 1.3, 1.3], rtol=1e-6)


def test_convert_to_tensor_or_sparse_tensor():
    sp = tf.SparseTensorValue([[0, 0]], [1.0], [2, 2])
    out = tf.convert_to_tensor_or_sparse_tensor(sp)
    assert isinstance(out, tf.SparseTensor)
    assert tf.convert_to_tensor_or_sparse_tensor(out) is out
    with pytest.raises(ValueError, match="Sparse dtype"):
        tf.convert_to_tensor_or_sparse_tensor(out, dtype=tf.int32)
    t = tf.convert_to_tensor_or_sparse_tensor([1, 2], dtype=tf.int64)
    assert isinstance(t, tf.Tensor) and t.dtype == tf.int64


def test_dimension_at_index_and_is_symbolic_tensor():
    assert tf.dimension_at_index(tf.TensorShape([3, None]), 0).value == 3
    assert tf.dimension_at_index(tf.TensorShape([3, None]), 1).value is None
    assert tf.dimension_at_index(tf.TensorShape(None), 5).value is None
    assert tf.dimension_at_index([4, 5], -1).value == 5
    assert tf.is_symbolic_tensor(tf.constant(1)) and not tf.is_symbolic_tensor(np.ones(2))


def test_op_scope():
    with tf.op_scope([], "outer", "default") as scope:
        assert scope == "outer/"
        assert tf.constant(1, name="c").op.name == "outer/c"
    with tf.op_scope([], None, "dflt") as scope:
        assert scope == "dflt/"


def test_init_scope_lifts_out_of_cond_branches():
    made = {}
    p = tf.placeholder(tf.bool, [])

    def branch():
        with tf.init_scope():
            made["c"] = tf.constant(5.0, name="lifted")
            made["graph"] = tf.get_default_graph()
        return made["c"] + 1.0

    out = tf.cond(p, branch, lambda: tf.constant(0.0))
    g = tf.get_default_graph()
    assert made["graph"] is g and made["c"].graph is g
    assert made["c"].op.name.endswith("lifted")
    assert _run(out, {p: True}) == 6.0
    with tf.control_dependencies([tf.no_op()]):
        with tf.init_scope():
            assert tf.constant(1).op.control_inputs == []


# -- bitcast --------------------------------------------------------------------------------------
def test_bitcast():
    f = tf.constant([1.0, -2.0], tf.float32)
    u8 = tf.bitcast(f, tf.uint8)
    assert u8.get_shape().as_list() == [2, 4] and u8.op.type == "Bitcast"
    np.testing.assert_array_equal(_run(u8), np.array([1.0, -2.0], np.float32).view(np.uint8).reshape(2, 4))
    back = tf.bitcast(u8, tf.float32)
    assert back.get_shape().as_list() == [2] and _run(back).tolist() == [1.0, -2.0]
    assert _run(tf.bitcast(tf.constant([1.0], tf.float32), tf.int32)).tolist() == [0x3F800000]
    assert _run(tf.bitcast(tf.constant(1.0), tf.uint8)).tolist() == [0, 0, 128, 63]  # a scalar gains a dim
    assert _run(tf.bitcast(tf.constant([0, 0, 128, 63], tf.uint8), tf.float32)) == 1.0
    with pytest.raises(ValueError, match="last dimension"):
        tf.bitcast(tf.constant([1, 2, 3], tf.uint8), tf.float32)
    with pytest.raises(TypeError, match="bitcast"):
        tf.bitcast(tf.constant([True]), tf.uint8)
    x = tf.placeholder(tf.uint8, None)
    with pytest.raises(tf.errors.InvalidArgumentError, match="last dimension"):
        _run(tf.bitcast(x, tf.int32), {x: [1, 2]})


# -- fingerprint / timestamp ----------------------------------------------------------------------
def test_fingerprint_matches_tensorflow():
    # TensorFlow's tf.fingerprint for these three inputs
    got = _run([tf.fingerprint(tf.constant([[1, 2], [3, 4]], tf.int32)), tf.fingerprint(tf.constant(["abc", "de"])),
                tf.fingerprint(tf.constant([["abc", "de"], ["x", ""]]))])
    assert got[0].tolist() == [[76, 18, 253, 133, 168, 204, 240, 10], [254, 162, 60, 240, 103, 244, 53, 255]]
    assert got[1].tolist() == [[105, 243, 231, 116, 160, 179, 165, 36], [132, 252, 67, 60, 7, 51, 37, 253]]
    assert got[2].tolist() == [[233, 237, 232, 132, 79, 140, 59, 169], [148, 230, 180, 30, 126, 89, 65, 150]]
    assert tf.fingerprint(tf.zeros([5, 3])).get_shape().as_list() == [5, 8]
    with pytest.raises(ValueError, match="rank >= 1"):
        tf.fingerprint(tf.constant(1))
    with pytest.raises(tf.errors.InvalidArgumentError, match="unsupported method"):
        _run(tf.fingerprint(tf.constant([1]), method="md5"))


def test_timestamp_reads_the_clock_each_run():
    t = tf.timestamp()
    assert t.dtype == tf.float64 and t.op.type == "Timestamp"
    with tf.Session() as sess:
        a = sess.run(t)
        time.sleep(0.01)
        b = sess.run(t)
    assert b > a and abs(a - time.time()) < 60


# -- tf.print -------------------------------------------------------------------------------------
def test_print_formats_like_tensorflow(capsys):
    x = tf.constant([1.0, 2.0, 3.0])
    p = tf.print("hello", tf.constant([[1, 2, 3, 4, 5, 6, 7]]), {"a": x}, [x, 2], output_stream=sys.stdout,
                 summarize=2)
    assert p.type == "PrintV2" and p.inputs[0].op.type == "StringFormat"
    p2 = tf.print(tf.constant(3.5), tf.constant("str"), tf.constant(True), sep="|", end="!\n",
                  output_stream=sys.stdout)
    p3 = tf.print(tf.constant([0.1, 1e-7, 123456789.0]), tf.constant([[1, 2], [3, 4]]), output_stream=sys.stdout)
    p4 = tf.print(tf.reshape(tf.range(24), [2, 3, 4]), summarize=1, output_stream=sys.stdout)
    p5 = tf.print("a", tf.SparseTensor([[0, 0], [1, 2]], [1.5, 2.0], [2, 3]), output_stream=sys.stdout)
    capsys.readouterr()
    with tf.Session() as sess:
        for op in (p, p2, p3, p4, p5):
            sess.run(op)
    out = capsys.readouterr().out
    assert out == ("hello [[1 2 ... 6 7]] {'a': [1 2 3]} [[1 2 3], 2]\n"
                   '3.5|"str"|1!\n'
                   "[0.1 1e-07 123456792] [[1 2]\n [3 4]]\n"
                   "[[[0 ... 3]\n  ...\n  [8 ... 11]]\n\n [[12 ... 15]\n  ...\n  [20 ... 23]]]\n"
                   "a 'SparseTensor(indices=[[0 0]\n [1 2]], values=[1.5 2], shape=[2 3])'\n")


def test_print_to_stderr_file_and_as_dependency(capsys, tmp_path):
    x = tf.constant([1, 2])
    with tf.control_dependencies([tf.print("x is", x)]):
        y = tf.identity(x)
    path = tmp_path / "log.txt"
    pf = tf.print("to file", x, output_stream=f"file://{path}")
    capsys.readouterr()
    with tf.Session() as sess:
        sess.run(y)
        sess.run(pf)
        sess.run(pf)
    assert capsys.readouterr().err == "x is [1 2]\n"
    assert path.read_text() == "to file [1 2]\nto file [1 2]\n"
    with pytest.raises(ValueError, match="output stream"):
        tf.print(x, output_stream=42)


def test_print_does_not_run_unless_asked(capsys):
    tf.print("never")
    with tf.Session() as sess:
        sess.run(tf.constant(1))
    assert "never" not in capsys.readouterr().err


# -- tf.manip ---------------------------------------------------------------------------------------
def test_manip_namespace():
    assert tf.manip.roll is tf.roll and tf.manip.gather_nd is tf.gather_nd and tf.manip.tile is tf.tile
    assert tf.manip.reshape is tf.reshape and tf.manip.scatter_nd is tf.scatter_nd
    assert tf.manip.space_to_batch_nd is tf.space_to_batch_nd and tf.manip.batch_to_space_nd is tf.batch_to_space_nd
    assert _run(tf.manip.roll([1, 2, 3], 1, 0)).tolist() == [3, 1, 2]
