"""Math ops: TF1 signatures and names, dtype rules, operators, errors, gradients the sweep can't see."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf


def _run(fetches, feed=None):
    with tf.Session() as s:
        return s.run(fetches, feed)


# -- construction errors ----------------------------------------------------------------------------
def test_matmul_dimension_mismatch_message_is_tfs():
    x = tf.placeholder(tf.float32, [None, 784])
    w = tf.placeholder(tf.float32, [100, 10])
    with pytest.raises(ValueError) as e:
        tf.matmul(x, w)
    assert str(e.value) == ("Dimensions must be equal, but are 784 and 100 for 'MatMul' (op: 'MatMul') with "
                            "input shapes: [?,784], [100,10].")


def test_matmul_rank_and_flag_errors():
    with pytest.raises(ValueError, match="Shape must be rank 2 but is rank 1 for 'MatMul'"):
        tf.matmul(tf.ones([3]), tf.ones([3, 2]))
    with pytest.raises(ValueError, match="Only one of transpose_a and adjoint_a"):
        tf.matmul(tf.ones([2, 2]), tf.ones([2, 2]), transpose_a=True, adjoint_a=True)
    with pytest.raises(ValueError, match=r"Dimensions must be equal, but are 4 and 5 .*BatchMatMulV2"):
        tf.matmul(tf.ones([2, 3, 4]), tf.ones([2, 5, 6]))


def test_mixed_dtypes_raise_type_error_naming_the_op():
    a = tf.placeholder(tf.float32, [2])
    b = tf.placeholder(tf.float64, [2])
    i = tf.placeholder(tf.int32, [2])
    with pytest.raises(TypeError, match="'Add'"):
        tf.add(a, i)
    with pytest.raises(TypeError, match="MatMul"):
        tf.matmul(tf.ones([2, 2]), tf.ones([2, 2], dtype=tf.float64))
    with pytest.raises(TypeError, match="'Mul'"):
        tf.multiply(a, b)
    with pytest.raises(TypeError, match="same dtype"):
        tf.truediv(a, b)


def test_incompatible_broadcast_shapes():
    with pytest.raises(ValueError, match="Dimensions must be equal, but are 3 and 4 for 'Add'"):
        tf.add(tf.ones([2, 3]), tf.ones([4]))


def test_unsupported_dtypes_name_the_op():
    with pytest.raises(TypeError, match="Sqrt"):
        tf.sqrt(tf.constant([1, 2]))
    with pytest.raises(TypeError, match="LogicalAnd"):
        tf.constant([1, 2]) & tf.constant([3, 4])
    with pytest.raises(TypeError, match="Cast string to float32"):
        tf.cast(tf.constant(["a"]), tf.float32)


def test_reduction_argument_errors():
    x = tf.ones([2, 3])
    with pytest.raises(ValueError, match="Cannot specify both 'axis' and 'reduction_indices'"):
        tf.reduce_sum(x, axis=0, reduction_indices=0)
    with pytest.raises(ValueError, match="Cannot specify both 'keepdims' and 'keep_dims'"):
        tf.reduce_mean(x, keepdims=True, keep_dims=True)
    with pytest.raises(ValueError, match="Invalid reduction dimension 2 for input with 2 dimensions"):
        tf.reduce_max(x, 2)
    with pytest.raises(ValueError, match="Cannot specify both 'axis' and 'dimension'"):
        tf.argmax(x, axis=0, dimension=0)
    with pytest.raises(ValueError, match=r"Expected dimension in the range \[-2, 2\), but got 3"):
        tf.argmax(x, 3)


# -- names ------------------------------------------------------------------------------------------
def test_default_names_follow_tf():
    x = tf.placeholder(tf.float32, [2, 2], name="x")
    # Operators name their ops (and constant operands) in lower case...
    assert (x + x).op.name == "add"
    assert (x * 2).op.inputs[1].op.name == "mul/y"
    assert (2 - x).op.inputs[0].op.name == "sub/x"
    assert (x @ x).op.name == "matmul"
    assert (x / x).op.name == "truediv"
    with tf.name_scope("layer"):
        assert (x + 1).op.name == "layer/add"
    # ...and names are unique regardless of case, as in TF.
    assert tf.add(x, x).op.name == "Add_1"
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [2, 2], name="x")
        assert tf.add(x, x).op.name == "Add"
        assert tf.multiply(x, 2.0).op.inputs[1].op.name == "Mul/y"
        assert tf.matmul(x, x).op.name == "MatMul"
        assert tf.reduce_sum(x).op.name == "Sum"
        assert tf.reduce_mean(x, 1).op.inputs[1].op.name == "Mean/reduction_indices"
        assert tf.argmax(x, 1).op.name == "ArgMax"
        assert tf.to_float(tf.constant(1)).op.name == "ToFloat"
        assert tf.sigmoid(x, name="act").op.name == "act"


def test_cast_to_same_dtype_returns_input_and_names():
    x = tf.placeholder(tf.float32)
    assert tf.cast(x, tf.float32) is x
    c = tf.cast(x, tf.int32)
    assert c.op.type == "Cast" and c.op.name == "Cast"
    assert c.op.get_attr("SrcT") == tf.float32 and c.op.get_attr("DstT") == tf.int32


def test_add_n_single_input_and_errors():
    x = tf.placeholder(tf.float32, [2])
    assert tf.add_n([x]) is x
    named = tf.add_n([x], name="total")
    assert named.op.name == "total" and named.op.type == "Identity"
    with pytest.raises(ValueError, match="non-empty list"):
        tf.add_n([])


# -- operators and dtype rules ----------------------------------------------------------------------
def test_python_float_with_int_tensor_is_a_type_error():
    i = tf.constant([1, 2])
    with pytest.raises(TypeError, match="int32"):
        i + 1.5
    with pytest.raises(TypeError, match="int32"):
        1.0 * i
    with pytest.raises(TypeError):
        tf.less(i, 0.5)
    assert (i + 1).dtype == tf.int32


def test_integer_division_rules():
    a = tf.constant([7, -7], dtype=tf.int32)
    b = tf.constant([2, 2], dtype=tf.int32)
    t = a / b
    assert t.dtype == tf.float64 and t.op.type == "RealDiv"
    assert (tf.constant([7], tf.int16) / tf.constant([2], tf.int16)).dtype == tf.float32
    fd, md, dv = a // b, a % b, tf.div(a, b)
    assert fd.op.type == dv.op.type == "FloorDiv"
    r = _run([t, fd, md, dv, tf.divide(a, 2), tf.floormod(tf.constant(-7.5), 2.0)])
    np.testing.assert_array_equal(r[0], [3.5, -3.5])
    np.testing.assert_array_equal(r[1], [3, -4])
    np.testing.assert_array_equal(r[2], [1, 1])
    np.testing.assert_array_equal(r[3], [3, -4])
    np.testing.assert_array_equal(r[4], [3.5, -3.5])
    assert r[5] == 0.5
    with pytest.raises(TypeError, match="truediv"):
        tf.constant([True]) / tf.constant([False])


def test_divide_converts_python_numbers():
    t = tf.divide(1, 2)
    assert isinstance(t, tf.Tensor) and t.dtype == tf.float64
    assert _run(t) == 0.5


def test_equality_operators_stay_identity():
    x = tf.constant(1.0)
    y = tf.constant(1.0)
    assert (x == x) is True and (x == y) is False and (x != y) is True
    assert len({x, y}) == 2
    assert _run(tf.equal(x, y))


def test_comparison_and_logical_operators():
    x = tf.constant([1.0, 2.0, 3.0])
    t, f = tf.constant([True, False]), tf.constant([True, True])
    r = _run([x < 2, x <= 2, x > 2, x >= 2, 2 < x, t & f, t | f, t ^ f, ~t])
    expect = [[1, 0, 0], [1, 1, 0], [0, 0, 1], [0, 1, 1], [0, 0, 1], [1, 0], [1, 1], [0, 1], [0, 1]]
    for got, want in zip(r, expect):
        np.testing.assert_array_equal(got, np.array(want, bool))


def test_reflected_and_unary_operators():
    x = tf.constant([1.0, -2.0])
    r = _run([1 + x, 1 - x, 2 * x, 1 / x, 2 ** x, -x, abs(x), 7.0 // x, 7.0 % x])
    xv = np.array([1.0, -2.0], np.float32)
    for got, want in zip(r, [1 + xv, 1 - xv, 2 * xv, 1 / xv, 2 ** xv, -xv, abs(xv), 7 // xv, 7 % xv]):
        np.testing.assert_allclose(got, want)


def test_numpy_operands_defer_to_the_tensor():
    x = tf.constant([1.0, 2.0])
    for t in (np.array([1.0, 1.0]) + x, np.float32(3.0) * x, x - np.array([1.0, 1.0])):
        assert isinstance(t, tf.Tensor) and t.dtype == tf.float32


def test_matmul_operator_and_batches():
    a = np.random.RandomState(0).randn(2, 3, 4).astype(np.float32)
    b = np.random.RandomState(1).randn(4, 5).astype(np.float32)
    t = tf.constant(a) @ tf.constant(b)
    assert t.op.type == "BatchMatMulV2" and t.get_shape().as_list() == [2, 3, 5]
    np.testing.assert_allclose(_run(t), a @ b, rtol=1e-5)


# -- semantics --------------------------------------------------------------------------------------
def test_static_shapes_of_reductions():
    x = tf.placeholder(tf.float32, [None, 3, 4])
    assert tf.reduce_sum(x, 1).get_shape().as_list() == [None, 4]
    assert tf.reduce_sum(x, [-1], keepdims=True).get_shape().as_list() == [None, 3, 1]
    assert tf.reduce_mean(x).get_shape().as_list() == []
    assert tf.reduce_max(tf.placeholder(tf.float32)).get_shape().as_list() == []
    assert tf.argmax(x, 2).get_shape().as_list() == [None, 3]
    assert tf.reduce_sum(x, tf.placeholder(tf.int32), keepdims=True).get_shape().as_list() == [None] * 3


def test_reductions_of_unknown_rank():
    x = tf.placeholder(tf.float32)
    v = np.arange(6, dtype=np.float32).reshape(2, 3)
    r = _run([tf.reduce_sum(x), tf.reduce_mean(x, keepdims=True), tf.reduce_max(x, 1)], {x: v})
    assert r[0] == 15 and r[1].shape == (1, 1) and r[1][0, 0] == 2.5
    np.testing.assert_array_equal(r[2], [2, 5])


def test_integer_mean_truncates_and_float16_sum_accumulates_in_float32():
    r = _run([tf.reduce_mean(tf.constant([-3, -4])), tf.reduce_mean(tf.constant([[1, 2], [7, 0]]), 1),
              tf.reduce_sum(tf.constant(np.full(10000, 0.1, np.float16)))])
    assert r[0] == -3
    np.testing.assert_array_equal(r[1], [1, 3])
    assert r[2].dtype == np.float16 and abs(float(r[2]) - 999.76) < 1


def test_argmax_defaults_and_output_type():
    x = tf.constant([[1.0, 5.0], [7.0, 2.0]])
    a0, a1, ai = tf.argmax(x), tf.argmin(x, dimension=1), tf.argmax(x, 1, output_type=tf.int32)
    assert a0.dtype == tf.int64 and ai.dtype == tf.int32
    r = _run([a0, a1, ai])
    np.testing.assert_array_equal(r[0], [1, 0])
    np.testing.assert_array_equal(r[1], [0, 1])
    np.testing.assert_array_equal(r[2], [1, 0])


def test_round_is_half_to_even_and_passes_integers_through():
    i = tf.constant([1, 2])
    assert tf.round(i) is i
    np.testing.assert_array_equal(_run(tf.round(tf.constant([0.5, 1.5, 2.5, -0.5, -1.5]))), [0, 2, 2, 0, -2])


def test_cast_semantics():
    r = _run([tf.cast(tf.constant([1.9, -1.9]), tf.int32), tf.to_int64(tf.constant([True, False])),
              tf.cast(tf.constant([1 + 2j]), tf.float64),
              tf.saturate_cast(tf.constant([-1.0, 300.0]), tf.uint8)])
    np.testing.assert_array_equal(r[0], [1, -1])
    np.testing.assert_array_equal(r[1], [1, 0])
    np.testing.assert_array_equal(r[2], [1.0])
    np.testing.assert_array_equal(r[3], [0, 255])
    slices = tf.IndexedSlices(tf.constant([[1.0, 2.0]]), tf.constant([0]), tf.constant([3, 2]))
    cs = tf.cast(slices, tf.float64)
    assert isinstance(cs, tf.IndexedSlices) and cs.dtype == tf.float64


def test_cast_gradient_is_none_through_integers():
    x = tf.placeholder(tf.float32, [2])
    y = tf.cast(tf.cast(x, tf.int32), tf.float32)
    assert tf.gradients(tf.reduce_sum(y), x) == [None]
    g = tf.gradients(tf.reduce_sum(tf.cast(x, tf.float64)), x)[0]
    assert g.dtype == tf.float32


def test_logsumexp_is_stable():
    x = tf.constant([[-np.inf, -np.inf], [1000.0, 1000.0], [np.inf, 1.0], [0.0, np.log(3.0)]])
    r = _run(tf.reduce_logsumexp(x, 1))
    assert r[0] == -np.inf and r[2] == np.inf
    np.testing.assert_allclose(r[1], 1000 + np.log(2), rtol=1e-6)
    np.testing.assert_allclose(r[3], np.log(4.0), rtol=1e-6)


def test_sigmoid_saturates_without_nans():
    r = _run(tf.sigmoid(tf.constant([-1e4, 0.0, 1e4])))
    np.testing.assert_array_equal(r, [0.0, 0.5, 1.0])


def test_count_nonzero_and_cumsum():
    r = _run([tf.count_nonzero(tf.constant([[0, 1], [2, 0]]), 1, keepdims=True),
              tf.cumsum(tf.constant([1, 2, 3]), exclusive=True, reverse=True),
              tf.cumprod(tf.constant([2.0, 3.0, 4.0]), exclusive=True)])
    assert r[0].dtype == np.int64
    np.testing.assert_array_equal(r[0], [[1], [1]])
    np.testing.assert_array_equal(r[1], [5, 3, 0])
    np.testing.assert_array_equal(r[2], [1, 2, 6])


def test_string_add_and_equal_on_cpu():
    a, b = tf.constant(["ab", "c"]), tf.constant(["x", "c"])
    r = _run([tf.add(a, b), a + "!", tf.equal(a, b), tf.not_equal(a, "c")])
    np.testing.assert_array_equal(r[0], [b"abx", b"cc"])
    np.testing.assert_array_equal(r[1], [b"ab!", b"c!"])
    np.testing.assert_array_equal(r[2], [False, True])
    np.testing.assert_array_equal(r[3], [True, False])


def test_scalar_mul():
    x = tf.constant([1.0, 2.0])
    np.testing.assert_array_equal(_run(tf.scalar_mul(3, x)), [3, 6])
    with pytest.raises(ValueError, match="Only scalar multiply works"):
        tf.scalar_mul([1.0, 2.0], x)
    s = tf.scalar_mul(2.0, tf.IndexedSlices(x, tf.constant([0, 1]), tf.constant([2])))
    assert isinstance(s, tf.IndexedSlices)


# -- gradients --------------------------------------------------------------------------------------
def test_max_gradient_splits_ties_and_maximum_prefers_x():
    x = tf.placeholder(tf.float32, [3])
    y = tf.placeholder(tf.float32, [3])
    gr = tf.gradients(tf.reduce_max(x), x)[0]
    gx, gy = tf.gradients(tf.reduce_sum(tf.maximum(x, y)), [x, y])
    r = _run([gr, gx, gy], {x: [1.0, 3.0, 3.0], y: [1.0, 0.0, 5.0]})
    np.testing.assert_array_equal(r[0], [0, 0.5, 0.5])
    np.testing.assert_array_equal(r[1], [1, 1, 0])
    np.testing.assert_array_equal(r[2], [0, 0, 1])


def test_pow_gradient_wrt_exponent_is_zero_for_non_positive_base():
    x = tf.placeholder(tf.float32, [3])
    e = tf.placeholder(tf.float32, [3])
    grads = tf.gradients(tf.reduce_sum(tf.pow(x, e)), [x, e])
    gx, ge = _run(grads, {x: [-2.0, 0.0, 4.0], e: [2.0, 2.0, 0.5]})
    np.testing.assert_allclose(gx, [-4.0, 0.0, 0.25])
    np.testing.assert_allclose(ge, [0.0, 0.0, 2 * np.log(4.0)], rtol=1e-6)


def test_second_derivatives():
    x = tf.placeholder(tf.float64, [3])
    for build, d2 in [(lambda t: t ** 3, lambda v: 6 * v),
                      (tf.tanh, lambda v: -2 * np.tanh(v) / np.cosh(v) ** 2),
                      (tf.sigmoid, lambda v: (s := 1 / (1 + np.exp(-v))) * (1 - s) * (1 - 2 * s)),
                      (tf.reduce_prod, lambda v: v.sum() - v)]:  # d/dx_i sum_j prod_{k != j} x_k
        (g,) = tf.gradients(tf.reduce_sum(build(x)), x)
        (h,) = tf.gradients(tf.reduce_sum(g), x)
        v = np.array([0.3, -1.2, 2.0])
        np.testing.assert_allclose(_run(h, {x: v}), d2(v), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("reduce", [tf.reduce_sum, tf.reduce_mean, tf.reduce_max, tf.reduce_min,
                                    tf.reduce_prod])
def test_reduction_gradients_with_unknown_shapes(reduce):
    v = np.array([[1.5, 2.0, -3.0], [4.0, 0.5, 6.0]])
    xs = tf.placeholder(tf.float64, [2, 3])
    xu = tf.placeholder(tf.float64)
    for axis in (None, 1, [-1], [0, 1]):
        want = _run(tf.gradients(reduce(xs, axis), xs)[0], {xs: v})
        got = _run(tf.gradients(reduce(xu, axis), xu)[0], {xu: v})
        np.testing.assert_allclose(got, want)
    gm = tf.gradients(tf.reduce_mean(xu, 0), xu)[0]
    np.testing.assert_allclose(_run(gm, {xu: v}), np.full((2, 3), 0.5))


def test_broadcast_and_batch_matmul_gradients_with_unknown_shapes():
    a = tf.placeholder(tf.float64)
    b = tf.placeholder(tf.float64)
    ga, gb = tf.gradients(tf.reduce_sum(a * b + a / b - b), [a, b])
    av, bv = np.random.RandomState(0).randn(3, 1), np.random.RandomState(1).rand(4) + 0.5
    r = _run([ga, gb], {a: av, b: bv})
    np.testing.assert_allclose(r[0], np.sum(bv + 1 / bv) * np.ones((3, 1)))
    np.testing.assert_allclose(r[1], (av.sum() - av.sum() / bv ** 2 - 3) * np.ones(4))
    x, y = tf.placeholder(tf.float64), tf.placeholder(tf.float64)
    gx, gy = tf.gradients(tf.reduce_sum(tf.matmul(x, y, adjoint_b=True)), [x, y])
    xv, yv = np.random.RandomState(2).randn(2, 1, 3, 4), np.random.RandomState(3).randn(5, 2, 4)
    r = _run([gx, gy], {x: xv, y: yv})
    assert r[0].shape == xv.shape and r[1].shape == yv.shape
    # d/dx sum(x @ y^T) = ones @ y summed over the broadcast batch dim of y.
    want = np.broadcast_to(yv.sum(1)[:, None, :], (5, 3, 4)).sum(0) * np.ones((2, 1, 3, 4))
    np.testing.assert_allclose(r[0], want)


def test_floor_like_ops_have_no_gradient():
    x = tf.placeholder(tf.float32, [2])
    for f in (tf.floor, tf.ceil, tf.round, tf.rint, lambda t: t // 2.0):
        assert tf.gradients(tf.reduce_sum(f(x)), x) == [None]
    g = tf.gradients(tf.reduce_sum(tf.sign(x)), x)[0]
    np.testing.assert_array_equal(_run(g, {x: [1.0, -2.0]}), [0, 0])


def test_sum_over_no_axes_returns_the_input_and_a_fetch_never_aliases_a_variable():
    v = tf.Variable([1.0, 2.0, 3.0])
    s = tf.reduce_sum(v, axis=tf.constant([], tf.int32))
    with tf.Session() as sess:
        sess.run(v.initializer)
        out = sess.run(s)
        out[0] = 100.0  # the user's copy, not the variable's storage
        np.testing.assert_array_equal(sess.run(v), [1.0, 2.0, 3.0])
        np.testing.assert_array_equal(sess.run(s), [1.0, 2.0, 3.0])
