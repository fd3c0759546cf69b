"""Sweep samples for the set ops (DenseToDense/DenseToSparse/SparseToSparseSetOperation, SetSize).

The reference works row by row with Python sets; results are compared as (indices, values, dense shape).
"""

from __future__ import annotations

import itertools

import numpy as np

import labflow as tf
from labflow.ops import set_ops
from labflow.testing.op_sweep import Case, samples

_OPS = {"intersection": set.intersection, "union": set.union, "a-b": set.difference,
        "b-a": lambda a, b: b - a}


def _rows_dense(x):
    return {idx: set(x[idx].tolist()) for idx in itertools.product(*map(range, x.shape[:-1]))}


def _rows_sparse(indices, values, shape):
    rows = {idx: set() for idx in itertools.product(*map(range, shape[:-1]))}
    for i, v in zip(indices.tolist(), values.tolist()):
        rows[tuple(i[:-1])].add(v)
    return rows


def _ref(rows_a, rows_b, operation, dtype):
    res = {k: sorted(_OPS[operation](rows_a[k], rows_b[k])) for k in rows_a}
    width = max([len(v) for v in res.values()] + [0])
    idx, vals = [], []
    for k in sorted(res):
        for j, v in enumerate(res[k]):
            idx.append(list(k) + [j])
            vals.append(v)
    rank = len(next(iter(rows_a))) + 1
    group = [max(k[d] for k in rows_a) + 1 for d in range(rank - 1)]
    return [np.array(idx, np.int64).reshape(-1, rank), np.array(vals, dtype).reshape(-1),
            np.array(group + [width], np.int64)]


def _out(st):
    return [st.indices, st.values, st.dense_shape]


A = np.array([[1, 2, 2, 3], [4, 5, 6, 6], [0, 0, 0, 0]], np.int32)
B = np.array([[2, 3, 9], [7, 7, 7], [0, 1, 0]], np.int32)
SA_I = np.array([[0, 0], [0, 1], [1, 0], [2, 3]], np.int64)
SA_V = np.array([5, 1, 4, 4], np.int32)
SA_S = np.array([3, 5], np.int64)
SB_I = np.array([[0, 0], [1, 0], [1, 1]], np.int64)
SB_V = np.array([1, 4, 9], np.int32)
SB_S = np.array([3, 2], np.int64)
_WRAPPERS = {"intersection": set_ops.set_intersection, "union": set_ops.set_union,
             "a-b": set_ops.set_difference, "b-a": lambda a, b: set_ops.set_difference(a, b, aminusb=False)}


@samples("DenseToDenseSetOperation")
def _dense_dense():
    cases = [Case(lambda a, b, fn=fn: _out(fn(a, b)), [A, B],
                  lambda a, b, o=o: _ref(_rows_dense(a), _rows_dense(b), o, a.dtype), grad=False, name=o)
             for o, fn in _WRAPPERS.items()]
    strings = np.array([[b"a", b"b"], [b"c", b"c"]], dtype=object)
    cases.append(Case(lambda a, b: _out(set_ops.set_union(a, b)), [strings, strings[::-1].copy()],
                      lambda a, b: _ref(_rows_dense(a), _rows_dense(b), "union", object), grad=False,
                      name="strings"))
    a3 = np.arange(12, dtype=np.int64).reshape(2, 3, 2) % 5
    cases.append(Case(lambda a, b: _out(set_ops.set_intersection(a, b)), [a3, a3[:, ::-1].copy()],
                      lambda a, b: _ref(_rows_dense(a), _rows_dense(b), "intersection", a.dtype), grad=False,
                      name="rank3_int64"))
    return cases


@samples("DenseToSparseSetOperation")
def _dense_sparse():
    d = np.array([[1, 5], [2, 2], [4, 0]], np.int32)

    def build(fn):
        return lambda a, i, v, s: _out(fn(a, tf.SparseTensor(i, v, s)))

    def ref(o):
        return lambda a, i, v, s: _ref(_rows_dense(a), _rows_sparse(i, v, s), o, a.dtype)
    cases = [Case(build(fn), [d, SA_I, SA_V, SA_S], ref(o), grad=False, name=o) for o, fn in _WRAPPERS.items()]
    # a sparse first operand with a dense second is flipped to DenseToSparse (and a-b becomes b-a)
    cases.append(Case(lambda a, i, v, s: _out(set_ops.set_difference(tf.SparseTensor(i, v, s), a)),
                      [d, SA_I, SA_V, SA_S], lambda a, i, v, s: _ref(_rows_dense(a), _rows_sparse(i, v, s), "b-a",
                                                                    a.dtype), grad=False, name="flipped"))
    return cases


@samples("SparseToSparseSetOperation")
def _sparse_sparse():
    def build(fn):
        return lambda ia, va, sa, ib, vb, sb: _out(fn(tf.SparseTensor(ia, va, sa), tf.SparseTensor(ib, vb, sb)))

    def ref(o):
        return lambda ia, va, sa, ib, vb, sb: _ref(_rows_sparse(ia, va, sa), _rows_sparse(ib, vb, sb), o, va.dtype)
    return [Case(build(fn), [SA_I, SA_V, SA_S, SB_I, SB_V, np.array([3, 2], np.int64)], ref(o), grad=False, name=o)
            for o, fn in _WRAPPERS.items()]


@samples("SetSize")
def _set_size():
    def ref(i, v, s):
        rows = _rows_sparse(i, v, s)
        return np.array([len(rows[k]) for k in sorted(rows)], np.int32).reshape(tuple(s[:-1]))
    i3 = np.array([[0, 0, 0], [0, 0, 1], [0, 1, 0], [1, 1, 2]], np.int64)
    return [Case(lambda i, v, s: set_ops.set_size(tf.SparseTensor(i, v, s)), [SA_I, np.array([5, 5, 4, 4], np.int32),
                                                                              SA_S], ref, grad=False, name="2d"),
            Case(lambda i, v, s: set_ops.set_size(tf.SparseTensor(i, v, s)),
                 [i3, np.array([b"x", b"x", b"y", b"z"], dtype=object), np.array([2, 2, 3], np.int64)], ref,
                 grad=False, name="3d_strings")]
