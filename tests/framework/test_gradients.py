"""tf.gradients: connectivity, aggregation, sparse gradients, second derivatives, stop_gradients."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.testing.gradient_check import gradient_check


def test_unconnected_xs_get_none():
    x = tf.placeholder(tf.float32, [3])
    z = tf.placeholder(tf.float32, [3])
    y = tf.reduce_sum(tf.add(x, x))
    gx, gz = tf.gradients(y, [x, z])
    assert gz is None
    with tf.Session() as s:
        np.testing.assert_array_equal(s.run(gx, {x: [1, 2, 3]}), [2, 2, 2])


def test_multiple_paths_aggregate_with_add_n():
    x = tf.placeholder(tf.float32, [2])
    a = tf.identity(x)
    b = tf.identity(x)
    y = tf.reduce_sum(tf.add_n([a, b, a]))
    (g,) = tf.gradients(y, x)
    assert any(op.type == "AddN" for op in tf.get_default_graph().get_operations() if "gradients" in op.name)
    with tf.Session() as s:
        np.testing.assert_array_equal(s.run(g, {x: [1, 2]}), [3, 3])


def test_several_ys_sum_and_grad_ys():
    x = tf.placeholder(tf.float32, [2])
    y1 = tf.reduce_sum(x)
    y2 = tf.add(x, x)
    g = tf.gradients([y1, y2], x, grad_ys=[tf.constant(2.0), tf.constant([1.0, 10.0])])[0]
    with tf.Session() as s:
        np.testing.assert_array_equal(s.run(g, {x: [0, 0]}), [4, 22])
    with pytest.raises(ValueError, match="grad_ys"):
        tf.gradients([y1, y2], x, grad_ys=[tf.constant(1.0)])


def test_broadcast_gradients_are_reduced_to_input_shapes():
    a = tf.placeholder(tf.float32, [3, 1])
    b = tf.placeholder(tf.float32, [4])
    y = tf.reduce_sum(tf.add(a, b))
    ga, gb = tf.gradients(y, [a, b])
    assert ga.get_shape().as_list() == [3, 1] and gb.get_shape().as_list() == [4]
    with tf.Session() as s:
        va, vb = s.run([ga, gb], {a: np.zeros((3, 1)), b: np.zeros(4)})
    np.testing.assert_array_equal(va, np.full((3, 1), 4))
    np.testing.assert_array_equal(vb, np.full(4, 3))


def test_broadcast_gradients_with_unknown_shapes():
    a = tf.placeholder(tf.float32)
    b = tf.placeholder(tf.float32)
    ga, gb = tf.gradients(tf.reduce_sum(tf.add(a, b)), [a, b])
    with tf.Session() as s:
        va, vb = s.run([ga, gb], {a: np.zeros((2, 1, 3)), b: np.zeros((5, 1))})
    assert va.shape == (2, 1, 3) and vb.shape == (5, 1)
    np.testing.assert_array_equal(va, np.full((2, 1, 3), 5))
    np.testing.assert_array_equal(vb, np.full((5, 1), 6))


def _broadcast_case(xs, ys, x_val, y_val):
    """d sum(w * (x * y)) / d x, d y against NumPy; returns the types of the product's gradient ops."""
    g = tf.Graph()
    with g.as_default():
        x, y = tf.placeholder(tf.float64, xs), tf.placeholder(tf.float64, ys)
        z = x * y
        w = tf.placeholder(tf.float64)
        gx, gy = tf.gradients(tf.reduce_sum(z * w), [x, y])
        wv = np.random.RandomState(0).rand(*np.broadcast(x_val, y_val).shape)
        with tf.Session() as s:
            vx, vy = s.run([gx, gy], {x: x_val, y: y_val, w: wv})
    assert vx.shape == x_val.shape and vy.shape == y_val.shape
    # multiply: d/dx = w * y summed over x's broadcast axes (and the same for y)
    full_x = wv * np.broadcast_to(y_val, wv.shape)
    full_y = wv * np.broadcast_to(x_val, wv.shape)
    for got, full, val in ((vx, full_x, x_val), (vy, full_y, y_val)):
        lead = full.ndim - val.ndim
        want = full.sum(axis=tuple(range(lead)))
        want = want.sum(axis=tuple(i for i, d in enumerate(val.shape) if d == 1), keepdims=True)
        np.testing.assert_allclose(got, want, rtol=1e-12)
    return {o.type for o in g.get_operations() if o._forward_op is z.op}


@pytest.mark.parametrize("batch", [1, 3])
def test_static_broadcast_axes_with_an_unknown_batch_need_no_shape_ops(batch):
    # h [?, 4] * b [4] and h [?, 1, 3] * y [4, 1]: the other operand decides every axis statically,
    # even at run-time batch 1; no Shape/BroadcastGradientArgs ops (TF1 builds them for the h side).
    r = np.random.RandomState(batch)
    types = _broadcast_case([None, 4], [4], r.rand(batch, 4), r.rand(4))
    assert not types & {"Shape", "BroadcastGradientArgs"}
    types = _broadcast_case([None, 1, 3], [4, 1], r.rand(batch, 1, 3), r.rand(4, 1))
    assert not types & {"Shape", "BroadcastGradientArgs"}


@pytest.mark.parametrize("xs, ys, x_shape, y_shape", [
    ([None, 4], [None, 4], (1, 4), (3, 4)),  # either side may be the broadcast one at run time
    ([None, 1], [None, 5], (3, 1), (3, 5)),
    ([None, 1, None], [5, 1], (2, 1, 3), (5, 1)),  # a summed size-1 axis and two unknown dimensions
    ([None], [None, 3], (3,), (2, 3)),
])
def test_broadcast_axes_known_only_at_run_time_use_dynamic_shapes(xs, ys, x_shape, y_shape):
    r = np.random.RandomState(0)
    types = _broadcast_case(xs, ys, r.rand(*x_shape), r.rand(*y_shape))
    assert "BroadcastGradientArgs" in types


def test_stop_gradient_and_stop_gradients_argument():
    x = tf.placeholder(tf.float32, [2])
    h = tf.add(x, x)
    y = tf.reduce_sum(tf.add(h, tf.stop_gradient(h)))
    with tf.Session() as s:
        np.testing.assert_array_equal(s.run(tf.gradients(y, x)[0], {x: [1, 1]}), [2, 2])
        # Treat h as a constant: d y / d x through h is cut, d y / d h stays.
        gx, gh = tf.gradients(y, [x, h], stop_gradients=[h])
        assert gx is None
        np.testing.assert_array_equal(s.run(gh, {x: [1, 1]}), [1, 1])


def test_gradient_of_integer_tensor_is_an_error():
    i = tf.placeholder(tf.int32, [2])
    with pytest.raises(TypeError, match="integer"):
        tf.gradients(tf.reduce_sum(i), i)


def test_gradient_ops_live_under_gradients_scope_and_point_at_forward_op():
    x = tf.placeholder(tf.float32, name="x")  # unknown shape: the Add gradient needs real ops
    y = tf.reduce_sum(tf.add(x, tf.square(x), name="double"), name="total")
    tf.gradients(y, x)
    grad_ops = [op for op in tf.get_default_graph().get_operations() if op.name.startswith("gradients/")]
    assert grad_ops
    fwd = {op._forward_op.name for op in grad_ops if op._forward_op is not None}
    assert {"double", "total"} <= fwd
    some = next(op for op in grad_ops if op._forward_op is not None and op._forward_op.name == "double")
    assert "which was originally created as op 'double'" in some.creation_site_text


def test_second_derivative():
    x = tf.placeholder(tf.float32, [3])
    y = tf.reduce_sum(x * x * x)
    (g,) = tf.gradients(y, x)
    (h,) = tf.gradients(tf.reduce_sum(g), x)
    with tf.Session() as s:
        np.testing.assert_allclose(s.run(h, {x: [1.0, 2.0, 3.0]}), [6.0, 12.0, 18.0])


def test_gather_gradient_is_indexed_slices_and_densifies():
    params = tf.placeholder(tf.float32, [5, 2])
    idx = tf.constant([0, 3, 0])
    y = tf.reduce_sum(tf.gather(params, idx))
    (g,) = tf.gradients(y, params)
    assert isinstance(g, tf.IndexedSlices)
    dense = tf.convert_to_tensor(g)
    with tf.Session() as s:
        v = s.run(dense, {params: np.zeros((5, 2))})
    np.testing.assert_array_equal(v, [[2, 2], [0, 0], [0, 0], [1, 1], [0, 0]])


def test_gradient_check_catches_a_wrong_gradient(monkeypatch):
    from labflow.framework import registry
    x = np.array([1.0, 2.0, 3.0])
    gradient_check(lambda p: p * p, [x])  # the real Mul gradient passes
    mul = registry.get("Mul")
    monkeypatch.setattr(mul, "grad_fn", lambda op, grad: [grad * op.inputs[1], grad * op.inputs[0] * 0.5])
    with pytest.raises(AssertionError, match="gradient mismatch"):
        gradient_check(lambda p: p * p, [x])
