"""tf.SparseTensor: feeding and fetching, to dense, sparse x dense products (with gradients), sums, errors."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.testing.gradient_check import gradient_check

IDX = [[0, 1], [2, 3]]


def test_sparse_placeholders_feed_and_fetch_values():
    sp = tf.sparse_placeholder(tf.float32, [3, 4])
    dense = tf.sparse_tensor_to_dense(sp, default_value=-1.0)
    assert dense.get_shape().as_list() == [None, None] and dense.dtype == tf.float32
    value = tf.SparseTensorValue(IDX, [5.0, 7.0], [3, 4])
    with tf.Session() as s:
        d = s.run(dense, {sp: value})
        back = s.run(sp, {sp: value})
        d2 = s.run(dense, {sp: (np.array(IDX), np.array([1.0, 2.0]), np.array([3, 4]))})  # a plain triple
    want = -np.ones((3, 4))
    want[0, 1], want[2, 3] = 5, 7
    np.testing.assert_array_equal(d, want)
    assert isinstance(back, tf.SparseTensorValue) and back.values.tolist() == [5.0, 7.0]
    assert d2[2, 3] == 2.0
    with tf.Session() as s, pytest.raises(TypeError, match="SparseTensorValue"):
        s.run(dense, {sp: [1, 2]})


def test_constant_sparse_tensors_and_static_shapes():
    sp = tf.SparseTensor(IDX, [1, 2], [3, 4])
    assert sp.get_shape().as_list() == [3, 4] and sp.dtype == tf.int32
    dense = tf.sparse.to_dense(sp)
    assert dense.get_shape().as_list() == [3, 4]
    total = tf.sparse_reduce_sum(sp, axis=1, keepdims=True)
    assert total.get_shape().as_list() == [3, 1]
    with tf.Session() as s:
        assert s.run(total).ravel().tolist() == [1, 0, 2] and s.run(tf.sparse.reduce_sum(sp)) == 3
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[1\] = \[2, 7\] is out of bounds"):
            s.run(tf.sparse_tensor_to_dense(tf.SparseTensor([[0, 0], [2, 7]], [1, 2], [3, 4])))


@pytest.mark.parametrize("adjoint_a, adjoint_b", [(False, False), (True, False), (False, True), (True, True)])
def test_sparse_dense_matmul_and_its_gradients(adjoint_a, adjoint_b):
    r = np.random.RandomState(0)
    idx = np.array([[0, 1], [1, 0], [2, 2], [0, 2]], np.int64)
    b_shape = (2, 3) if adjoint_b else (3, 2)

    def build(v, b):
        sp = tf.SparseTensor(idx, v, [3, 3])
        return tf.sparse_tensor_dense_matmul(sp, b, adjoint_a=adjoint_a, adjoint_b=adjoint_b)

    v, b = r.randn(4), r.randn(*b_shape)
    a = np.zeros((3, 3))
    a[tuple(idx.T)] = v
    with tf.Session() as s:
        got = s.run(build(tf.constant(v), tf.constant(b)))
    np.testing.assert_allclose(got, (a.T if adjoint_a else a) @ (b.T if adjoint_b else b), rtol=1e-12)
    gradient_check(build, [v, b])
