"""tf.sets: intersection / union / difference of dense and sparse sets, set_size, validation, errors."""

from __future__ import annotations

import pytest

import labflow as tf


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


A = [[1, 2, 2, 3], [4, 5, 6, 6]]
B = [[2, 3, 9], [7, 7, 7]]


def _check(st, indices, values, shape):
    v = _run(st)
    assert v.indices.tolist() == indices
    assert v.values.tolist() == values
    assert v.dense_shape.tolist() == shape


def test_dense_dense_matches_tensorflow():
    a, b = tf.constant(A), tf.constant(B)
    inter = tf.sets.set_intersection(a, b)
    assert isinstance(inter, tf.SparseTensor) and inter.indices.op.type == "DenseToDenseSetOperation"
    assert inter.indices.get_shape().as_list() == [None, 2]
    _check(inter, [[0, 0], [0, 1]], [2, 3], [2, 2])
    _check(tf.sets.set_union(a, b), [[0, 0], [0, 1], [0, 2], [0, 3], [1, 0], [1, 1], [1, 2], [1, 3]],
           [1, 2, 3, 9, 4, 5, 6, 7], [2, 4])
    _check(tf.sets.set_difference(a, b), [[0, 0], [1, 0], [1, 1], [1, 2]], [1, 4, 5, 6], [2, 3])
    _check(tf.sets.difference(a, b, aminusb=False), [[0, 0], [1, 0]], [9, 7], [2, 1])
    _check(tf.sets.intersection(tf.constant([[1, 2], [3, 4]]), tf.constant([[5, 6], [7, 8]])), [], [], [2, 0])


def test_sparse_inputs_and_flip():
    sa = tf.SparseTensor([[0, 0], [0, 1], [1, 0], [2, 3]], [5, 1, 4, 4], [3, 5])
    sb = tf.SparseTensor([[0, 0], [1, 0], [1, 1]], [1, 4, 9], [3, 2])
    _check(tf.sets.set_union(sa, sb), [[0, 0], [0, 1], [1, 0], [1, 1], [2, 0]], [1, 5, 4, 9, 4], [3, 2])
    d = tf.constant([[1, 5], [2, 2], [4, 0]])
    # sparse first, dense second: TF flips the operands (and the difference's direction)
    inter = tf.sets.set_intersection(sa, d)
    assert inter.indices.op.type == "DenseToSparseSetOperation"
    _check(inter, [[0, 0], [0, 1], [2, 0]], [1, 5, 4], [3, 2])
    _check(tf.sets.set_difference(sa, d), [[1, 0]], [4], [3, 1])
    assert _run(tf.sets.set_size(sa)).tolist() == [2, 1, 1]
    assert tf.sets.size(sa).op.type == "SetSize" and tf.sets.set_size(sa).get_shape().as_list() == [3]


def test_strings_and_rank3():
    _check(tf.sets.set_union(tf.constant([["a", "b"]]), tf.constant([["c", "a"]])), [[0, 0], [0, 1], [0, 2]],
           [b"a", b"b", b"c"], [1, 3])
    _check(tf.sets.set_intersection(tf.constant([[[1, 2], [3, 4]]]), tf.constant([[[2, 2], [5, 5]]])),
           [[0, 0, 0]], [2], [1, 2, 1])


def test_sparse_values_fed():
    i = tf.placeholder(tf.int64, [None, 2])
    v = tf.placeholder(tf.int32, [None])
    s = tf.placeholder(tf.int64, [2])
    size = tf.sets.set_size(tf.SparseTensor(i, v, s))
    got = _run(size, {i: [[0, 0], [0, 2], [1, 1]], v: [3, 3, 8], s: [2, 4]})
    assert got.tolist() == [1, 1]
    assert _run(tf.sets.set_size(tf.SparseTensorValue([[0, 0], [0, 1]], [1, 2], [1, 3]))).tolist() == [2]


def test_validate_indices():
    unsorted = tf.SparseTensor([[1, 0], [0, 1]], [1, 2], [2, 2])
    with pytest.raises(tf.errors.InvalidArgumentError, match="out of order.*sparse_reorder"):
        _run(tf.sets.set_size(unsorted))
    assert _run(tf.sets.set_size(unsorted, validate_indices=False)).tolist() == [1, 1]
    with pytest.raises(tf.errors.InvalidArgumentError, match="out of order or repeated"):
        _run(tf.sets.set_size(tf.SparseTensor([[0, 0], [0, 0]], [1, 2], [2, 2])))
    with pytest.raises(tf.errors.InvalidArgumentError, match="out of bounds"):
        _run(tf.sets.set_size(tf.SparseTensor([[0, 5]], [1], [2, 2])))


def test_errors():
    with pytest.raises(ValueError, match="Dimension 0 in both shapes must be equal"):
        tf.sets.set_union(tf.constant([[1, 2]]), tf.constant([[1], [2]]))
    with pytest.raises(ValueError, match="at least rank 2"):
        tf.sets.set_union(tf.constant([1, 2]), tf.constant([1]))
    with pytest.raises(TypeError, match="types differ"):
        tf.sets.set_union(tf.constant([[1]]), tf.constant([[1]], tf.int64))
    with pytest.raises(TypeError, match="int8, int16"):
        tf.sets.set_union(tf.constant([[1.0]]), tf.constant([[1.0]]))
    with pytest.raises(TypeError, match="SparseTensor"):
        tf.sets.set_size(tf.constant([[1, 2]]))
    sa = tf.SparseTensor([[0, 0]], [1], [3, 5])
    sb = tf.SparseTensor([[0, 0]], [1], [2, 2])
    with pytest.raises(tf.errors.InvalidArgumentError, match="mismatched group shapes"):
        _run(tf.sets.set_union(sa, sb))
    a = tf.placeholder(tf.int32, None)
    with pytest.raises(tf.errors.InvalidArgumentError, match="rank >= 2"):
        _run(tf.sets.set_union(a, a), {a: [1, 2]})
