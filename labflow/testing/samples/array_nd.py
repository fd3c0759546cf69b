"""Sweep samples for N-d indexing: GatherNd, ScatterNd, TensorScatter{Update,Add,Sub,Min,Max},
ScatterNdNonAliasingAdd, batch_gather and the variable updates ScatterNd{Update,Add,Sub} and
Scatter{Mul,Div,Min,Max}."""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow import dtypes as _dt
from labflow.testing.op_sweep import Case, samples
from labflow.testing.samples.state import _np_scatter, _stateful

R = np.random.RandomState(29)
F16 = (_dt.float16, _dt.float32, _dt.float64)


def r(*shape):
    return R.standard_normal(shape)


def i32(v):
    return np.asarray(v, np.int32)


def _rows(idx, shape):
    """NumPy reference: the index tuple of each row of idx (shape [..., k]) as advanced-index arrays."""
    k = idx.shape[-1]
    flat = idx.reshape(-1, k)
    return tuple(flat[:, j] for j in range(k))


def _np_gather_nd(p, idx):
    k = idx.shape[-1]
    return p[_rows(idx, p.shape)].reshape(idx.shape[:-1] + p.shape[k:])


def _np_scatter_nd(idx, u, shape, op=np.add.at, base=None):
    k = idx.shape[-1]
    out = np.zeros(shape, u.dtype) if base is None else base.copy()
    op(out, _rows(idx, shape), u.reshape((-1,) + tuple(shape[k:])))
    return out


@samples("GatherNd")
def _gather_nd():
    p = r(3, 4, 2)
    return [Case(tf.gather_nd, [p, i32([[0, 1], [2, 3], [0, 1]])], _np_gather_nd, dtypes=F16),
            Case(tf.gather_nd, [p, np.array([[[2]], [[0]]], np.int64)], _np_gather_nd, name="rows_int64"),
            Case(tf.gather_nd, [p, i32([[1, 2, 0], [2, 0, 1]])], _np_gather_nd, name="full_index"),
            Case(tf.gather_nd, [p, i32([[1], [1]])], _np_gather_nd, name="sparse_grad"),
            Case(tf.gather_nd, [np.arange(6, dtype=np.int32).reshape(2, 3), i32([[1, 0]])], _np_gather_nd,
                 grad=False, name="int32"),
            Case(lambda p, i: tf.gather_nd(p, i, batch_dims=1),
                 [p, i32([[[1, 1], [0, 0]], [[2, 1], [3, 1]], [[0, 0], [1, 1]]])],
                 lambda p, i: np.stack([_np_gather_nd(p[b], i[b]) for b in range(3)]), unknown_shapes=False,
                 name="batch_dims")]


@samples("GatherV2")
def _batch_gather():
    return [Case(lambda p, i: tf.batch_gather(p, i), [r(2, 3, 2), i32([[2, 0], [1, 1]])],
                 lambda p, i: np.stack([p[b][i[b]] for b in range(2)]), unknown_shapes=False, name="batch_gather")]


@samples("ScatterNd")
def _scatter_nd():
    return [Case(lambda i, u: tf.scatter_nd(i, u, [5, 2]), [i32([[3], [0], [3]]), r(3, 2)],
                 lambda i, u: _np_scatter_nd(i, u, (5, 2)), dtypes=F16),
            Case(lambda i, u: tf.scatter_nd(i, u, [2, 3]), [i32([[1, 2], [0, 0]]), r(2)],
                 lambda i, u: _np_scatter_nd(i, u, (2, 3)), name="elements"),
            Case(lambda i, u, s: tf.scatter_nd(i, u, s), [np.array([[1]], np.int64), r(1, 3), np.array([2, 3])],
                 lambda i, u, s: _np_scatter_nd(i, u, (2, 3)), wrt=[1], name="shape_tensor_int64"),
            Case(lambda lab, pred: tf.confusion_matrix(lab, pred, num_classes=3),
                 [i32([0, 2, 2, 1]), i32([0, 1, 2, 2])],
                 lambda lab, pred: np.histogram2d(lab, pred, bins=3, range=[[0, 3], [0, 3]])[0].astype(np.int32),
                 grad=False, name="confusion_matrix"),
            Case(lambda lab, pred, w: tf.confusion_matrix(lab, pred, dtype=tf.float64, weights=w),
                 [i32([0, 1, 1]), i32([1, 1, 0]), np.array([0.5, 2.0, 1.0])],
                 lambda lab, pred, w: np.array([[0, 0.5], [1.0, 2.0]]), grad=False, name="confusion_weights")]


def _tensor_scatter_cases(fn, np_at, dtypes=F16, grad=True, dup=True):
    t = r(4, 3)
    idx = i32([[2], [0], [2]]) if dup else i32([[2], [0]])
    u = r(idx.shape[0], 3)
    return [Case(fn, [t, idx, u], lambda t, i, u: _np_scatter_nd(i, u, t.shape, np_at, t), dtypes=dtypes, grad=grad,
                 name="duplicate_rows" if dup else ""),
            Case(fn, [t, i32([[1, 2], [3, 0]]), r(2)],
                 lambda t, i, u: _np_scatter_nd(i, u, t.shape, np_at, t), grad=grad, name="elements"),
            Case(fn, [np.arange(6, dtype=np.int64).reshape(3, 2), np.array([[1]], np.int64),
                      np.array([[7, 9]], np.int64)],
                 lambda t, i, u: _np_scatter_nd(i, u, t.shape, np_at, t), grad=False, name="int64")]


def _np_put(out, idx, u):
    out[idx] = u


@samples("TensorScatterUpdate")
def _tensor_scatter_update():
    return _tensor_scatter_cases(tf.tensor_scatter_update, _np_put, dup=False)


@samples("TensorScatterAdd")
def _tensor_scatter_add():
    return _tensor_scatter_cases(tf.tensor_scatter_nd_add, np.add.at)


@samples("ScatterNdNonAliasingAdd")
def _scatter_nd_non_aliasing_add():
    return _tensor_scatter_cases(tf.scatter_nd_non_aliasing_add, np.add.at) + [
        Case(tf.scatter_nd_non_aliasing_add, [np.array([True, False, False]), i32([[1], [1]]), np.array([True, False])],
             lambda x, i, u: np.array([True, True, False]), grad=False, name="bool")]


@samples("TensorScatterSub")
def _tensor_scatter_sub():
    return _tensor_scatter_cases(tf.tensor_scatter_sub, np.subtract.at)


@samples("TensorScatterMin")
def _tensor_scatter_min():
    return _tensor_scatter_cases(tf.tensor_scatter_nd_min, np.minimum.at)


@samples("TensorScatterMax")
def _tensor_scatter_max():
    return _tensor_scatter_cases(tf.tensor_scatter_nd_max, np.maximum.at)


# -- variable updates ---------------------------------------------------------------------------------------
FLOATS = (_dt.float32, _dt.float64)


def _np_nd(at):
    def ref(x, idx, u):
        return _np_scatter_nd(idx, u, x.shape, at, x)
    return ref


@samples("ScatterNdUpdate")
def _scatter_nd_update():
    return [Case(_stateful(1, tf.scatter_nd_update), [r(4, 2), i32([[3], [1]]), r(2, 2)], _np_nd(_np_put),
                 dtypes=FLOATS, grad=False),
            Case(_stateful(1, tf.scatter_nd_update), [np.arange(6, dtype=np.int32).reshape(2, 3),
                                                      np.array([[1, 2], [0, 0]], np.int64), i32([-1, -2])],
                 _np_nd(_np_put), grad=False, name="int32_elements")]


@samples("ScatterNdAdd")
def _scatter_nd_add():
    return [Case(_stateful(1, tf.scatter_nd_add), [r(4, 2), i32([[3], [1], [3]]), r(3, 2)], _np_nd(np.add.at),
                 dtypes=FLOATS, grad=False),
            Case(_stateful(1, tf.scatter_nd_add), [r(2, 3), i32([[1, 2], [1, 2]]), r(2)], _np_nd(np.add.at),
                 dtypes=FLOATS, grad=False, name="elements")]


@samples("ScatterNdSub")
def _scatter_nd_sub():
    return [Case(_stateful(1, tf.scatter_nd_sub), [r(4, 2), i32([[0], [0]]), r(2, 2)], _np_nd(np.subtract.at),
                 dtypes=FLOATS, grad=False)]


_DUP = i32([3, 0, 3])


@samples("ScatterMul")
def _scatter_mul():
    return [Case(_stateful(1, tf.scatter_mul), [r(5, 2), _DUP, r(3, 2)], _np_scatter(np.multiply.at),
                 dtypes=FLOATS, grad=False),
            Case(_stateful(1, tf.scatter_mul), [np.arange(4, dtype=np.int32), i32([[1, 2]]), i32([[3, -2]])],
                 _np_scatter(np.multiply.at), grad=False, name="int32_2d_indices")]


@samples("ScatterDiv")
def _scatter_div():
    def trunc_div(x, i, u):
        out = x.copy()
        for k, v in zip(i, u):
            out[k] = int(out[k] / v)  # C++ integer division rounds toward zero
        return out
    return [Case(_stateful(1, tf.scatter_div), [r(5, 2), _DUP, R.rand(3, 2) + 0.5], _np_scatter(np.divide.at),
                 dtypes=FLOATS, grad=False),
            Case(_stateful(1, tf.scatter_div), [i32([-7, 7, -6, 9]), i32([0, 1, 2, 3, 3]), i32([2, -2, 3, 2, 2])],
                 trunc_div, grad=False, name="int32_truncates")]


@samples("ScatterMin")
def _scatter_min():
    return [Case(_stateful(1, tf.scatter_min), [r(5, 2), _DUP, r(3, 2)], _np_scatter(np.minimum.at),
                 dtypes=FLOATS, grad=False),
            Case(_stateful(1, tf.scatter_min), [np.arange(4, dtype=np.int64), i32([0, 3]), np.array(1, np.int64)],
                 lambda x, i, u: np.where(np.isin(np.arange(4), i), np.minimum(x, u), x), grad=False,
                 name="scalar_update")]


@samples("ScatterMax")
def _scatter_max():
    return [Case(_stateful(1, tf.scatter_max), [r(5, 2), _DUP, r(3, 2)], _np_scatter(np.maximum.at),
                 dtypes=FLOATS, grad=False)]
