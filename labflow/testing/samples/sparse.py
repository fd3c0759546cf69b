"""Sweep samples for the sparse ops (SparseToDense, SparseTensorDenseMatMul, SparseReduceSum)."""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow.testing.op_sweep import Case, exempt, samples

R = np.random.RandomState(14)
IDX = np.array([[0, 1], [1, 0], [2, 2]], np.int64)

exempt("_GatherCoords", "made only by SparseToDense's gradient, which the SparseToDense samples check numerically")


def _dense(v, shape=(3, 3)):
    out = np.zeros(shape, v.dtype)
    out[tuple(IDX.T)] = v
    return out


@samples("SparseToDense")
def _to_dense():
    return [Case(lambda v: tf.sparse_tensor_to_dense(tf.SparseTensor(IDX, v, [3, 3])), [R.rand(3)], _dense,
                 unknown_shapes=False)]


@samples("SparseTensorDenseMatMul")
def _spmm():
    def build(v, b, adj_a=False, adj_b=False):
        return tf.sparse_tensor_dense_matmul(tf.SparseTensor(IDX, v, [3, 3]), b, adjoint_a=adj_a, adjoint_b=adj_b)

    return [Case(build, [R.rand(3), R.rand(3, 2)], lambda v, b: _dense(v) @ b, unknown_shapes=False),
            Case(lambda v, b: build(v, b, True, True), [R.rand(3), R.rand(2, 3)],
                 lambda v, b: _dense(v).T @ b.T, unknown_shapes=False, name="adjoints")]


@samples("SparseReduceSum")
def _reduce_sum():
    return [Case(lambda v: tf.sparse_reduce_sum(tf.SparseTensor(IDX, v, [3, 3]), axis=1), [R.rand(3)],
                 lambda v: _dense(v).sum(1), grad=False, unknown_shapes=False),
            Case(lambda v: tf.sparse_reduce_sum(tf.SparseTensor(IDX, v, [3, 3])), [R.rand(3)],
                 lambda v: np.asarray(v.sum(), v.dtype), grad=False, unknown_shapes=False, name="all")]
