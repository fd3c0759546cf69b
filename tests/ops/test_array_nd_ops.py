"""gather_nd / scatter_nd / tensor_scatter_* / batch_gather and the scatter_nd_* / scatter_{mul,div,min,max}
variable updates: TF1 names, op types, static shapes, gradients and errors."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


def test_public_names_and_op_types():
    p = tf.constant(np.arange(6.0).reshape(2, 3))
    assert tf.gather_nd(p, [[0, 1]]).op.type == "GatherNd"
    assert tf.scatter_nd([[0]], [1.0], [2]).op.type == "ScatterNd"
    assert tf.tensor_scatter_update(p, [[0]], [[1.0, 2.0, 3.0]]).op.type == "TensorScatterUpdate"
    assert tf.tensor_scatter_nd_update is tf.tensor_scatter_update
    assert tf.tensor_scatter_nd_add(p, [[0, 0]], [1.0]).op.type == "TensorScatterAdd"
    assert tf.tensor_scatter_nd_sub(p, [[0, 0]], [1.0]).op.type == "TensorScatterSub"
    assert tf.tensor_scatter_nd_min(p, [[0, 0]], [1.0]).op.type == "TensorScatterMin"
    assert tf.tensor_scatter_nd_max(p, [[0, 0]], [1.0]).op.type == "TensorScatterMax"
    g = tf.gather_nd(p, [[1]], name="pick")
    assert g.op.name == "pick"
    assert g.op.get_attr("Tindices") == tf.int32 and g.op.get_attr("Tparams") == tf.float64


def test_gather_nd_values_and_static_shape():
    params = np.arange(24.0).reshape(2, 3, 4)
    idx = np.array([[[1, 2], [0, 0]], [[1, 0], [0, 2]]], np.int64)
    ph = tf.placeholder(tf.float64, [None, 3, 4])
    out = tf.gather_nd(ph, idx)
    assert out.get_shape().as_list() == [2, 2, 4]
    got = _run(out, {ph: params})
    np.testing.assert_array_equal(got, params[idx[..., 0], idx[..., 1]])
    whole = tf.gather_nd(ph, np.zeros([3, 0], np.int32))  # an empty index tuple picks all of params
    assert whole.get_shape().as_list() == [3, None, 3, 4]
    assert _run(whole, {ph: params}).shape == (3, 2, 3, 4)


def test_gather_nd_rejects_too_long_index_and_out_of_range():
    with pytest.raises(ValueError, match="indices.shape\\[-1\\] must be <= params.rank"):
        tf.gather_nd(tf.zeros([2, 3]), [[0, 0, 0]])
    with pytest.raises(ValueError, match="batch_dims=2"):
        tf.gather_nd(tf.zeros([2, 3]), [[0]], batch_dims=2)
    bad = tf.gather_nd(tf.zeros([2, 3]), [[1, 1], [1, 3]])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[1\] = \[1, 3\] does not index into param "
                                                             r"shape \[2, 3\]"):
        _run(bad)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[0\] = \[-1\]"):
        _run(tf.gather_nd(tf.zeros([2, 3]), [[-1]]))


def test_gather_nd_batch_dims():
    p = np.arange(24.0).reshape(2, 3, 4)
    out = tf.gather_nd(tf.constant(p), [[[2], [0]], [[1], [1]]], batch_dims=1)
    assert out.get_shape().as_list() == [2, 2, 4]
    np.testing.assert_array_equal(_run(out), [p[0][[2, 0]], p[1][[1, 1]]])
    idx = np.array([[[0], [3], [1]], [[2], [2], [0]]])
    elems = tf.gather_nd(tf.constant(p), idx, batch_dims=2)
    assert elems.get_shape().as_list() == [2, 3]
    want = p[np.repeat([0, 1], 3), np.tile([0, 1, 2], 2), idx.reshape(-1)].reshape(2, 3)
    np.testing.assert_array_equal(_run(elems), want)


def test_gather_nd_gradient_is_scatter_nd_or_indexed_slices():
    p = tf.constant(np.arange(6.0).reshape(3, 2))
    y = tf.gather_nd(p, [[0, 1], [0, 1], [2, 0]])
    (g,) = tf.gradients(y, [p])
    assert g.op.type == "ScatterNd"
    np.testing.assert_array_equal(_run(g), [[0, 2], [0, 0], [1, 0]])
    rows = tf.gather_nd(p, [[2], [0]])
    (gs,) = tf.gradients(rows, [p])
    assert isinstance(gs, tf.IndexedSlices)
    np.testing.assert_array_equal(_run(tf.convert_to_tensor(gs)), [[1, 1], [0, 0], [1, 1]])


def test_scatter_nd_accumulates_duplicates_and_checks_shapes():
    out = tf.scatter_nd([[4], [3], [1], [7], [4]], [9, 10, 11, 12, 1], [8])
    assert out.get_shape().as_list() == [8]
    np.testing.assert_array_equal(_run(out), [0, 11, 0, 10, 10, 0, 0, 12])
    shape = tf.placeholder(tf.int32, [2])
    dyn = tf.scatter_nd([[1]], [[1.0, 2.0]], shape)
    assert dyn.get_shape().as_list() == [None, None]
    np.testing.assert_array_equal(_run(dyn, {shape: [2, 2]}), [[0, 0], [1, 2]])
    with pytest.raises(ValueError, match="Dimensions of updates must be"):
        tf.scatter_nd([[0], [1]], [1.0, 2.0, 3.0], [4])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[1\] = \[8\] does not index into shape \[8\]"):
        _run(tf.scatter_nd([[0], [8]], [1, 2], [8]))
    updates = tf.placeholder(tf.float32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="must be indices.shape"):
        _run(tf.scatter_nd([[0]], updates, shape), {shape: [3, 3], updates: [1.0, 2.0]})


def test_tensor_scatter_ops():
    t = tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    np.testing.assert_array_equal(_run(tf.tensor_scatter_update(t, [[2], [0]], [[0.0, 0.0], [9.0, 9.0]])),
                                  [[9, 9], [3, 4], [0, 0]])
    np.testing.assert_array_equal(_run(tf.tensor_scatter_add(t, [[0, 0], [0, 0]], [1.0, 2.0])),
                                  [[4, 2], [3, 4], [5, 6]])
    np.testing.assert_array_equal(_run(tf.tensor_scatter_sub(t, [[1, 1]], [4.0])), [[1, 2], [3, 0], [5, 6]])
    np.testing.assert_array_equal(_run(tf.tensor_scatter_nd_min(t, [[1], [1]], [[0.0, 9.0], [7.0, 3.5]])),
                                  [[1, 2], [0, 3.5], [5, 6]])
    np.testing.assert_array_equal(_run(tf.tensor_scatter_nd_max(t, [[2, 1]], [10.0])), [[1, 2], [3, 4], [5, 10]])
    na = tf.scatter_nd_non_aliasing_add(t, [[1], [1]], [[1.0, 1.0], [2.0, 2.0]])
    assert na.op.type == "ScatterNdNonAliasingAdd"
    np.testing.assert_array_equal(_run(na), [[1, 2], [6, 7], [5, 6]])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[0\] = \[3\]"):
        _run(tf.tensor_scatter_update(t, [[3]], [[1.0, 1.0]]))
    with pytest.raises(ValueError, match="Dimensions of updates"):
        tf.tensor_scatter_add(t, [[0]], [1.0, 2.0, 3.0])


def test_tensor_scatter_update_gradient_masks_replaced_slices():
    t = tf.constant(np.ones((3, 2)))
    u = tf.constant(np.full((1, 2), 5.0))
    y = tf.tensor_scatter_update(t, [[1]], u)
    gt, gu = tf.gradients(tf.reduce_sum(y * tf.constant(np.arange(6.0).reshape(3, 2))), [t, u])
    got_t, got_u = _run([gt, gu])
    np.testing.assert_array_equal(got_t, [[0, 1], [0, 0], [4, 5]])
    np.testing.assert_array_equal(got_u, [[2, 3]])


def test_batch_gather():
    p = np.arange(24.0).reshape(2, 3, 4)
    idx = np.array([[2, 0], [1, 1]], np.int32)
    out = tf.batch_gather(tf.constant(p), idx)
    assert out.get_shape().as_list() == [2, 2, 4]
    np.testing.assert_array_equal(_run(out), np.stack([p[0][[2, 0]], p[1][[1, 1]]]))
    np.testing.assert_array_equal(_run(tf.batch_gather([5, 6, 7], [2, 0])), [7, 5])
    with pytest.raises(ValueError, match="unknown shape"):
        tf.batch_gather(tf.constant(p), tf.placeholder(tf.int32))


# -- variable updates --------------------------------------------------------------------------------------
def _var_run(init, update):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(update)
        return sess.run(tf.identity(init))


def test_scatter_nd_update_add_sub_on_variables():
    v = tf.Variable(np.zeros((3, 2), np.float32))
    up = tf.scatter_nd_update(v, [[0], [2]], [[1.0, 2.0], [3.0, 4.0]])
    assert up.op.type == "ScatterNdUpdate" and up.op.get_attr("use_locking") is True
    np.testing.assert_array_equal(_var_run(v, up), [[1, 2], [0, 0], [3, 4]])
    w = tf.Variable(np.ones((2, 2), np.int32))
    add = tf.scatter_nd_add(w, [[1, 1], [1, 1], [0, 1]], [5, 5, 2])
    assert add.op.get_attr("use_locking") is False
    np.testing.assert_array_equal(_var_run(w, add), [[1, 3], [1, 11]])
    s = tf.Variable(np.ones(4))
    np.testing.assert_array_equal(_var_run(s, tf.scatter_nd_sub(s, [[3]], [0.5])), [1, 1, 1, 0.5])


def test_scatter_nd_update_errors():
    v = tf.Variable(np.zeros((3, 2), np.float32))
    with pytest.raises(TypeError, match="tf.Variable"):
        tf.scatter_nd_update(tf.constant([1.0]), [[0]], [1.0])
    with pytest.raises(ValueError, match="Dimensions of updates"):
        tf.scatter_nd_add(v, [[0]], [1.0, 2.0, 3.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[1\] = \[3\] does not index into the variable"):
        _var_run(v, tf.scatter_nd_update(v, [[0], [3]], [[1.0, 1.0], [2.0, 2.0]]))


def test_scatter_mul_div_min_max():
    v = tf.Variable([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(_var_run(v, tf.scatter_mul(v, [1, 1, 3], [3.0, 2.0, 0.5])), [1, 12, 3, 2])
    d = tf.Variable([[8.0, 6.0], [1.0, 1.0]])
    np.testing.assert_array_equal(_var_run(d, tf.scatter_div(d, [0, 0], [[2.0, 3.0], [2.0, 1.0]])),
                                  [[2, 2], [1, 1]])
    m = tf.Variable([5, 5, 5])
    np.testing.assert_array_equal(_var_run(m, tf.scatter_min(m, [0, 2, 0], [7, 1, 3])), [3, 5, 1])
    x = tf.Variable([5, 5, 5])
    np.testing.assert_array_equal(_var_run(x, tf.scatter_max(x, [1], 9)), [5, 9, 5])
    op = tf.scatter_mul(v, [0], [1.0], name="mul")
    assert op.op.type == "ScatterMul" and op.op.name == "mul"


def test_scatter_rows_errors():
    v = tf.Variable([1.0, 2.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[1\] = 2 is not in \[0, 2\)"):
        _var_run(v, tf.scatter_max(v, [0, 2], [1.0, 1.0]))
    with pytest.raises(ValueError, match="Must have updates.shape"):
        tf.scatter_mul(v, [0, 1], [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="int32, int64"):
        tf.scatter_min(v, [0.5], [1.0])


def test_batch_scatter_update():
    v = tf.Variable(np.zeros((2, 4)))
    up = tf.batch_scatter_update(v, [[1, 3], [0, 0]], [[1.0, 2.0], [3.0, 3.0]])
    assert up.op.type == "ScatterNdUpdate"
    np.testing.assert_array_equal(_var_run(v, up), [[0, 1, 0, 2], [3, 0, 0, 0]])
    w = tf.Variable(np.zeros(3))
    np.testing.assert_array_equal(_var_run(w, tf.batch_scatter_update(w, [2], [5.0])), [0, 0, 5])
    with pytest.raises(ValueError, match="known rank"):
        tf.batch_scatter_update(v, tf.placeholder(tf.int32), [1.0])
