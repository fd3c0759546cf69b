"""Assertions (static short-cut and Assert ops), CheckNumerics and the tf.debugging namespace."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf


def _run(fetch, feed=None):
    with tf.Session() as sess:
        return sess.run(fetch, feed)


# -- static short-cut --------------------------------------------------------------------------------------
def test_static_failure_raises_at_construction_with_tf_message():
    x, y = tf.constant([1, 2, 3]), tf.constant([1, 2, 4])
    with pytest.raises(tf.errors.InvalidArgumentError) as e:
        tf.assert_equal(x, y, message="msg")
    assert e.value.message == (f"msg\nCondition x == y did not hold element-wise:\nx ({x.name}) = \n[1 2 3]\n"
                               f"y ({y.name}) = \n[1 2 4]")


@pytest.mark.parametrize("fn,x,y,ok", [
    (tf.assert_equal, [1, 2], [1, 2], True), (tf.assert_equal, [1, 2], [1, 3], False),
    (tf.assert_none_equal, [1, 2], [3, 4], True), (tf.assert_none_equal, [1, 2], [3, 2], False),
    (tf.assert_less, [1, 2], [2, 3], True), (tf.assert_less, [1, 3], [2, 3], False),
    (tf.assert_less_equal, [1, 3], [2, 3], True), (tf.assert_less_equal, [1, 4], [2, 3], False),
    (tf.assert_greater, [2, 3], [1, 2], True), (tf.assert_greater, [2, 2], [1, 2], False),
    (tf.assert_greater_equal, [2, 2], [1, 2], True), (tf.assert_greater_equal, [0, 2], [1, 2], False),
    (tf.assert_equal, [[1, 1], [1, 1]], 1, True), (tf.assert_less, np.zeros((0, 3)), 1.0, True),
])
def test_binary_static(fn, x, y, ok):
    if ok:
        assert fn(tf.constant(x), y).type == "NoOp"
    else:
        with pytest.raises(tf.errors.InvalidArgumentError, match="did not hold"):
            fn(tf.constant(x), y)


@pytest.mark.parametrize("fn,good,bad", [
    (tf.assert_positive, [1.0, 2.0], [1.0, 0.0]), (tf.assert_negative, [-1, -2], [-1, 0]),
    (tf.assert_non_negative, [0, 2], [-1, 2]), (tf.assert_non_positive, [0.0, -2.0], [0.0, 1.0]),
])
def test_sign_static(fn, good, bad):
    assert fn(tf.constant(good)).type == "NoOp"
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Condition x [<>]=? 0 did not hold"):
        fn(tf.constant(bad))


def test_python_value_takes_the_tensors_dtype():
    x = tf.placeholder(tf.float32, [2])
    op = tf.assert_less(x, 1)  # 1 becomes a float32 constant
    with tf.control_dependencies([op]):
        y = tf.identity(x)
    np.testing.assert_allclose(_run(y, {x: [0.5, 0.25]}), [0.5, 0.25])


# -- dynamic checks ------------------------------------------------------------------------------------------
def test_dynamic_failure_message_and_summarize():
    p = tf.placeholder(tf.int32, [3])
    op = tf.assert_equal(p, tf.constant([1, 2, 4]), message="check", summarize=2)
    assert op.type == "Assert"
    _run(op, {p: [1, 2, 4]})
    with pytest.raises(tf.errors.InvalidArgumentError) as e:
        _run(op, {p: [0, 0, 0]})
    m = e.value.message
    assert "check" in m and "Condition x == y did not hold element-wise:" in m and f"x ({p.name}) = " in m
    assert "0 0..." in m and "1 2..." in m


def test_assert_as_control_dependency_gates_the_value():
    x = tf.placeholder(tf.float32)
    with tf.control_dependencies([tf.assert_positive(x, message="x must be positive")]):
        y = tf.sqrt(x)
    assert _run(y, {x: 4.0}) == 2.0
    with pytest.raises(tf.errors.InvalidArgumentError, match="x must be positive"):
        _run(y, {x: -1.0})


def test_custom_data_replaces_the_default():
    x = tf.placeholder(tf.int32)
    op = tf.assert_greater(x, 0, data=["x was", x])
    with pytest.raises(tf.errors.InvalidArgumentError, match="x was.*-5") as e:
        _run(op, {x: -5})
    assert "Condition" not in e.value.message


def test_assert_near():
    x = tf.placeholder(tf.float32, [2])
    op = tf.assert_near(x, tf.constant([1.0, 2.0]), rtol=0.0, atol=0.1)
    _run(op, {x: [1.05, 1.95]})
    with pytest.raises(tf.errors.InvalidArgumentError, match="not equal to tolerance rtol = 0.0, atol = 0.1"):
        _run(op, {x: [1.0, 2.2]})
    assert tf.assert_near(tf.constant([1.0, 2.0]), [1.0, 2.0 + 1e-7]).type == "NoOp"
    with pytest.raises(tf.errors.InvalidArgumentError, match="not equal to tolerance"):
        tf.assert_near(tf.constant([1.0, 2.0]), [1.0, 2.001])
    with pytest.raises(TypeError, match="needs float tensors"):
        tf.assert_near(tf.constant([1, 2]), [1, 2])


def test_shape_mismatch_is_a_construction_error():
    with pytest.raises(ValueError):
        tf.assert_equal(tf.placeholder(tf.float32, [2]), tf.placeholder(tf.float32, [3]))


# -- ranks and dtypes ------------------------------------------------------------------------------------------
def test_assert_rank_static():
    x = tf.constant([1, 2, 3])
    assert tf.assert_rank(x, 1).type == "NoOp"
    assert tf.assert_rank_at_least(x, 1).type == "NoOp"
    assert tf.assert_rank_in(x, [0, 1]).type == "NoOp"
    with pytest.raises(ValueError, match=rf"mm\.  Tensor {x.name} must have rank 2\.  Received rank 1, shape"):
        tf.assert_rank(x, 2, message="mm")
    with pytest.raises(ValueError, match="must have rank at least 2"):
        tf.assert_rank_at_least(x, 2)
    with pytest.raises(ValueError, match=r"must have rank in \(0, 2\)"):
        tf.assert_rank_in(x, (0, 2))
    with pytest.raises(ValueError, match="Rank must be a scalar"):
        tf.assert_rank(x, [1, 2])


def test_assert_rank_dynamic():
    p = tf.placeholder(tf.float32)
    op = tf.assert_rank(p, 2)
    assert op.type == "Assert"
    _run(op, {p: np.zeros((2, 2))})
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"Tensor {p.name} must have rank"):
        _run(op, {p: [1.0, 3.0]})
    _run(tf.assert_rank_at_least(p, 1), {p: np.zeros((1, 2, 3))})
    with pytest.raises(tf.errors.InvalidArgumentError, match="must have rank in"):
        _run(tf.assert_rank_in(p, [0, 1]), {p: np.zeros((2, 2))})
    r = tf.placeholder(tf.int32, [])
    _run(tf.assert_rank(tf.zeros([2, 3]), r), {r: 2})


def test_assert_integer_type_scalar():
    assert tf.assert_integer(tf.constant([1, 2])).type == "NoOp"
    with pytest.raises(TypeError, match='Expected "x" to be integer type.  Found: .* of dtype float32'):
        tf.assert_integer(tf.constant(1.0))
    assert tf.assert_type(tf.constant(1.0), tf.float32).type == "NoOp"
    with pytest.raises(TypeError, match="must be of type tf.float32; got tf.int32"):
        tf.assert_type(tf.constant(1), tf.float32)
    s = tf.constant(3.0)
    assert tf.assert_scalar(s) is s
    with pytest.raises(ValueError, match=r"Expected scalar shape for .*, saw shape: \(3,\)|saw shape: \[3\]"):
        tf.assert_scalar(tf.constant([1, 2, 3]))


def test_assert_same_float_dtype_and_iterables():
    a, b = tf.constant(1.0), tf.constant(2.0)
    assert tf.assert_same_float_dtype([a, b]) == tf.float32
    assert tf.assert_same_float_dtype(None, tf.float64) == tf.float64
    assert tf.assert_same_float_dtype() == tf.float32
    with pytest.raises(ValueError, match="must be of the same type"):
        tf.assert_same_float_dtype([a, tf.constant(1.0, tf.float64)])
    with pytest.raises(ValueError, match="Expected floating point type, got int32"):
        tf.assert_same_float_dtype([tf.constant(1)])
    tf.assert_proper_iterable([1, 2])
    tf.assert_proper_iterable(x for x in range(2))
    for bad in (a, np.zeros(2), "abc", b"abc", 3):
        with pytest.raises(TypeError, match="iterable"):
            tf.assert_proper_iterable(bad)


def test_is_numeric_tensor_and_is_tensor():
    assert tf.is_numeric_tensor(tf.constant(1.0)) and tf.is_numeric_tensor(tf.constant([1], tf.int64))
    assert not tf.is_numeric_tensor(tf.constant(True)) and not tf.is_numeric_tensor(tf.constant("s"))
    assert not tf.is_numeric_tensor(np.zeros(2))
    v = tf.Variable(1.0)
    assert tf.is_tensor(tf.constant(1)) and tf.is_tensor(v)
    assert tf.is_tensor(tf.SparseTensor([[0]], [1.0], [2]))
    assert not tf.is_tensor(np.zeros(2)) and not tf.is_tensor(3)


# -- CheckNumerics --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("values,what", [([1.0, np.nan], "NaN"), ([np.inf, 1.0], "Inf"),
                                         ([np.nan, -np.inf], "Inf and NaN")])
def test_check_numerics_reports_what_it_found(values, what):
    p = tf.placeholder(tf.float32)
    c = tf.check_numerics(p, "my tensor")
    with pytest.raises(tf.errors.InvalidArgumentError) as e:
        _run(c, {p: values})
    assert e.value.message == f"my tensor : Tensor had {what} values"
    assert e.value.op is c.op


def test_check_numerics_passes_values_and_gradient_checks_too():
    p = tf.placeholder(tf.float64, [3])
    c = tf.check_numerics(p, "fwd")
    y = tf.reduce_sum(tf.log(c))
    g = tf.gradients(y, p)[0]
    assert g.op.type == "CheckNumerics"
    assert g.op.get_attr("message") == "Not a number (NaN) or infinity (Inf) values detected in gradient. fwd"
    np.testing.assert_allclose(_run(g, {p: [1.0, 2.0, 4.0]}), [1.0, 0.5, 0.25])
    with pytest.raises(tf.errors.InvalidArgumentError, match="detected in gradient. fwd : Tensor had Inf values"):
        _run(g, {p: [0.0, 1.0, 1.0]})  # d log(x)/dx at 0 is inf; log(0) = -inf fails only if fetched


def test_check_numerics_rejects_non_float():
    with pytest.raises(TypeError, match="check_numerics needs a float tensor"):
        tf.check_numerics(tf.constant([1, 2]), "m")


def test_check_numerics_is_not_folded_or_merged():
    a = tf.check_numerics(tf.constant(1.0), "a")
    b = tf.check_numerics(tf.constant(1.0), "a")
    assert a.op is not b.op and tf.get_static_value(a) is None


def test_verify_tensor_all_finite():
    p = tf.placeholder(tf.float32)
    v = tf.verify_tensor_all_finite(p * 2, "bad input")
    assert _run(v, {p: 1.5}) == 3.0
    with pytest.raises(tf.errors.InvalidArgumentError, match="bad input : Tensor had NaN values"):
        _run(v, {p: np.nan})


def test_add_check_numerics_ops_names_the_first_bad_tensor():
    x = tf.placeholder(tf.float32, name="x")
    w = tf.Variable(2.0, name="w")
    y = tf.log(x * w, name="logx")
    z = tf.identity(y * 3.0, name="z")
    check = tf.add_check_numerics_ops()
    assert check.type == "NoOp"
    types = [o.type for o in tf.get_default_graph().get_operations()]
    assert types.count("CheckNumerics") >= 4
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(sess.run([z, check], {x: 1.0})[0], 3 * np.log(2.0), rtol=1e-6)
        with pytest.raises(tf.errors.InvalidArgumentError, match="logx:0 : Tensor had NaN values"):
            sess.run([z, check], {x: -1.0})


def test_debugging_namespace():
    for name in ("assert_equal", "assert_rank", "assert_near", "check_numerics", "is_numeric_tensor", "Assert",
                 "assert_type", "assert_scalar", "assert_proper_iterable"):
        assert getattr(tf.debugging, name) is getattr(tf, name)
    assert tf.debugging.assert_all_finite is tf.verify_tensor_all_finite
    for name in ("is_finite", "is_inf", "is_nan", "is_non_decreasing", "is_strictly_increasing"):
        assert callable(getattr(tf.debugging, name))
