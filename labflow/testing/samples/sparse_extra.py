"""Sweep samples for the sparse ops beyond the core (sparse_math_ops, sparse_shape_ops, sparse_serialize_ops).

A case's float input is the SparseTensor's values; its indices and dense shape are constants, so the gradient
check differentiates through the values (and the dense operand where there is one). References are NumPy over
the dense form or over plain Python lists of index rows.
"""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow.ops.sparse_math_ops import sparse_dense_cwise_add, sparse_dense_cwise_div, sparse_dense_cwise_mul
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(23)
I64 = np.int64
A_IDX = np.array([[0, 1], [1, 0], [1, 2], [2, 1]], I64)
B_IDX = np.array([[0, 1], [1, 1], [2, 0]], I64)
SHAPE = [3, 3]


def _dense(idx, vals, shape):
    out = np.zeros(shape, np.asarray(vals).dtype)
    np.add.at(out, tuple(np.asarray(idx).T), vals)
    return out


def _from_dense(d):
    """(indices, values) of a dense array's non-zeros in row-major order."""
    idx = np.argwhere(d != 0).astype(I64)
    return idx, d[tuple(idx.T)]


def _st(idx, v, shape=SHAPE):
    return tf.SparseTensor(idx, v, shape)


def _triple(sp):
    return [sp.indices, sp.values, sp.dense_shape]


# -- SparseAdd / SparseTensorDenseAdd ----------------------------------------------------------------------
@samples("SparseAdd")
def _sparse_add():
    def ref(a, b):
        d = _dense(A_IDX, a, SHAPE) + _dense(B_IDX, b, SHAPE)
        rows = sorted({tuple(r) for r in A_IDX.tolist()} | {tuple(r) for r in B_IDX.tolist()})
        idx = np.array(rows, I64)
        return [idx, d[tuple(idx.T)], np.array(SHAPE, I64)]
    return [Case(lambda a, b: _triple(tf.sparse_add(_st(A_IDX, a), _st(B_IDX, b))), [R.rand(4), R.rand(3)], ref)]


@samples("SparseAddGrad")
def _sparse_add_grad():
    def build(g, a, b):
        s = tf.sparse_add(_st(A_IDX, a), _st(B_IDX, b))
        return tf.gradients(s.values, [a, b], grad_ys=g)

    def ref(g, a, b):
        pos = {r: k for k, r in enumerate(sorted({tuple(r) for r in A_IDX.tolist() + B_IDX.tolist()}))}
        return [np.array([g[pos[tuple(r)]] for r in A_IDX.tolist()]), np.array([g[pos[tuple(r)]] for r in
                                                                                B_IDX.tolist()])]
    return [Case(build, [R.rand(6), R.rand(4), R.rand(3)], ref, grad=False)]


@samples("SparseTensorDenseAdd")
def _sparse_dense_add():
    return [Case(lambda a, b: tf.sparse_add(_st(A_IDX, a), b), [R.rand(4), R.rand(3, 3)],
                 lambda a, b: _dense(A_IDX, a, SHAPE) + b)]


# -- SparseDenseCwise* -------------------------------------------------------------------------------------
def _cwise(fn, ufunc, grad=True):
    def ref(v, d):
        return ufunc(v, np.broadcast_to(d, SHAPE)[tuple(A_IDX.T)]).astype(v.dtype)
    return [Case(lambda v, d: fn(_st(A_IDX, v), d).values, [R.rand(4) + 0.5, R.rand(3, 3) + 0.5], ref, grad=grad,
                 name="same_shape"),
            Case(lambda v, d: fn(_st(A_IDX, v), d).values, [R.rand(4) + 0.5, R.rand(3) + 0.5], ref, grad=grad,
                 name="broadcast_row")]


@samples("SparseDenseCwiseMul")
def _cwise_mul():
    return _cwise(sparse_dense_cwise_mul, np.multiply)


@samples("SparseDenseCwiseDiv")
def _cwise_div():
    return _cwise(sparse_dense_cwise_div, np.divide)


@samples("SparseDenseCwiseAdd")
def _cwise_add():
    return _cwise(sparse_dense_cwise_add, np.add, grad=False)


# -- SparseSoftmax -----------------------------------------------------------------------------------------
@samples("SparseSoftmax")
def _softmax():
    def ref(v):
        out = np.empty_like(v)
        for r in np.unique(A_IDX[:, 0]):
            at = A_IDX[:, 0] == r
            e = np.exp(v[at] - v[at].max())
            out[at] = e / e.sum()
        return out
    return [Case(lambda v: tf.sparse_softmax(_st(A_IDX, v)).values, [R.randn(4)], ref)]


# -- SparseSparseMaximum / Minimum -------------------------------------------------------------------------
def _minmax(fn, ufunc):
    def ref(a, b):
        rows = sorted({tuple(r) for r in A_IDX.tolist()} | {tuple(r) for r in B_IDX.tolist()})
        idx = np.array(rows, I64)
        return [idx, ufunc(_dense(A_IDX, a, SHAPE), _dense(B_IDX, b, SHAPE))[tuple(idx.T)]]
    return [Case(lambda a, b: [fn(_st(A_IDX, a), _st(B_IDX, b)).indices, fn(_st(A_IDX, a), _st(B_IDX, b)).values],
                 [R.randn(4), R.randn(3)], ref, grad=False)]


@samples("SparseSparseMaximum")
def _maximum():
    return _minmax(tf.sparse_maximum, np.maximum)


@samples("SparseSparseMinimum")
def _minimum():
    return _minmax(tf.sparse_minimum, np.minimum)


# -- reductions --------------------------------------------------------------------------------------------
def _np_sparse_max(v, axis):
    """Max over the entries only (implicit zeros take no part); 0 where a group has no entries."""
    d = np.full(SHAPE, -np.inf)
    d[tuple(A_IDX.T)] = v
    m = d.max(axis=axis)
    return np.where(np.isinf(m), 0, m).astype(v.dtype)


@samples("SparseReduceMax")
def _reduce_max():
    return [Case(lambda v: tf.sparse_reduce_max(_st(A_IDX, v), axis=1), [R.randn(4)], lambda v: _np_sparse_max(v, 1),
                 grad=False, name="axis1"),
            Case(lambda v: tf.sparse_reduce_max(_st(A_IDX, v), axis=0, keepdims=True), [R.randn(4)],
                 lambda v: _np_sparse_max(v, 0)[None], grad=False, name="keepdims"),
            Case(lambda v: tf.sparse_reduce_max(_st(A_IDX, v)), [R.randn(4)], lambda v: np.asarray(v.max()),
                 grad=False, name="all")]


@samples("SparseReduceMaxSparse")
def _reduce_max_sparse():
    def ref(v):
        rows = np.unique(A_IDX[:, 0])
        return [rows[:, None], np.array([v[A_IDX[:, 0] == r].max() for r in rows]), np.array([3], I64)]
    return [Case(lambda v: _triple(tf.sparse_reduce_max_sparse(_st(A_IDX, v), axis=1)), [R.randn(4)], ref,
                 grad=False)]


@samples("SparseReduceSumSparse")
def _reduce_sum_sparse():
    def ref(v):
        cols = np.unique(A_IDX[:, 1])
        idx = np.stack([np.zeros_like(cols), cols], 1)
        return [idx, np.array([v[A_IDX[:, 1] == c].sum() for c in cols]), np.array([1, 3], I64)]
    return [Case(lambda v: _triple(tf.sparse_reduce_sum_sparse(_st(A_IDX, v), axis=0, keepdims=True)), [R.randn(4)],
                 ref, grad=False)]


# -- SparseConcat / SparseReshape / SparseSlice / SparseReorder / SparseFillEmptyRows / SparseSplit ---------
@samples("SparseConcat")
def _concat():
    def ref(a, b):
        d = np.concatenate([_dense(A_IDX, a, SHAPE), _dense(B_IDX, b, SHAPE)], axis=1)
        idx, vals = _from_dense(d)
        return [idx, vals, np.array([3, 6], I64)]
    return [Case(lambda a, b: _triple(tf.sparse_concat(1, [_st(A_IDX, a), _st(B_IDX, b)])),
                 [R.rand(4) + 0.1, R.rand(3) + 0.1], ref, grad=False)]


@samples("SparseReshape")
def _reshape():
    def ref(v):
        flat = np.ravel_multi_index(tuple(A_IDX.T), SHAPE)
        return [np.stack(np.unravel_index(flat, (9, 1)), 1), v, np.array([9, 1], I64)]
    return [Case(lambda v: _triple(tf.sparse_reshape(_st(A_IDX, v), [-1, 1])), [R.rand(4)], ref, grad=False)]


@samples("SparseSlice")
def _slice():
    def ref(v):
        keep = (A_IDX >= [1, 1]).all(1)
        return [A_IDX[keep] - 1, v[keep], np.array([2, 2], I64)]
    return [Case(lambda v: _triple(tf.sparse_slice(_st(A_IDX, v), [1, 1], [4, 4])), [R.rand(4)], ref)]


@samples("SparseSliceGrad")
def _slice_grad():
    def build(g, v):
        return tf.gradients(tf.sparse_slice(_st(A_IDX, v), [1, 0], [2, 2]).values, v, grad_ys=g)[0]

    def ref(g, v):
        keep = (A_IDX >= [1, 0]).all(1) & (A_IDX < [3, 2]).all(1)
        out = np.zeros_like(v)
        out[keep] = g
        return out
    return [Case(build, [R.rand(2), R.rand(4)], ref, grad=False)]


UNSORTED = np.array([[2, 1], [0, 1], [1, 2], [1, 0]], I64)


@samples("SparseReorder")
def _reorder():
    order = np.lexsort(UNSORTED.T[::-1])
    return [Case(lambda v: _triple(tf.sparse_reorder(_st(UNSORTED, v)))[:2], [R.rand(4)],
                 lambda v: [UNSORTED[order], v[order]])]


@samples("SparseFillEmptyRows")
def _fill_empty_rows():
    idx = np.array([[1, 0], [3, 2], [1, 1]], I64)

    def build(v, d):
        sp, empty = tf.sparse_fill_empty_rows(tf.SparseTensor(idx, v, [5, 3]), d)
        return [sp.indices, sp.values, empty]

    def ref(v, d):
        return [np.array([[0, 0], [1, 0], [1, 1], [2, 0], [3, 2], [4, 0]], I64),
                np.array([d, v[0], v[2], d, v[1], d], v.dtype), np.array([True, False, True, False, True])]
    return [Case(build, [R.rand(3), np.asarray(R.rand())], ref, unknown_shapes=False)]


@samples("SparseFillEmptyRowsGrad")
def _fill_empty_rows_grad():
    idx = np.array([[1, 0], [3, 2]], I64)

    def build(g, v, d):
        sp, _ = tf.sparse_fill_empty_rows(tf.SparseTensor(idx, v, [4, 3]), d)
        return tf.gradients(sp.values, [v, d], grad_ys=g)

    return [Case(build, [R.rand(4), R.rand(2), np.asarray(R.rand())],
                 lambda g, v, d: [g[[1, 3]], np.asarray(g[0] + g[2])], grad=False, unknown_shapes=False)]


@samples("SparseSplit")
def _split():
    def ref(v):
        out = []
        for lo, hi in ((0, 2), (2, 3)):
            keep = (A_IDX[:, 1] >= lo) & (A_IDX[:, 1] < hi)
            out.append((A_IDX[keep] - [0, lo], v[keep], np.array([3, hi - lo], I64)))
        return [p[0] for p in out] + [p[1] for p in out] + [p[2] for p in out]

    def build(v):
        parts = tf.sparse_split(sp_input=_st(A_IDX, v), num_split=2, axis=1)
        return [p.indices for p in parts] + [p.values for p in parts] + [p.dense_shape for p in parts]
    return [Case(build, [R.rand(4)], ref, grad=False)]


# -- serialization and edit distance -----------------------------------------------------------------------
@samples("SerializeSparse", "DeserializeManySparse")
def _serialize_roundtrip():
    def build(v):
        sp = _st(A_IDX, v)
        batch = tf.deserialize_many_sparse(tf.stack([tf.serialize_sparse(sp), tf.serialize_sparse(sp)]), v.dtype)
        return _triple(batch)

    def ref(v):
        idx = np.concatenate([np.column_stack([np.full(4, b), A_IDX]) for b in (0, 1)]).astype(I64)
        return [idx, np.concatenate([v, v]), np.array([2, 3, 3], I64)]
    return [Case(build, [R.rand(4)], ref, grad=False)]


@samples("SerializeManySparse")
def _serialize_many():
    def build(v):
        return _triple(tf.deserialize_many_sparse(tf.serialize_many_sparse(_st(A_IDX, v)), v.dtype))
    return [Case(build, [R.rand(4)], lambda v: [A_IDX, v, np.array(SHAPE, I64)], grad=False)]


@samples("EditDistance")
def _edit_distance():
    h_idx = np.array([[0, 0], [0, 1], [1, 0]], I64)
    t_idx = np.array([[0, 0], [0, 1], [0, 2], [1, 0]], I64)
    truth = np.array([1, 2, 3, 4], I64)

    def build(v, normalize=True):
        h = tf.SparseTensor(h_idx, v, [2, 2])
        return tf.edit_distance(h, tf.SparseTensor(t_idx, truth.astype(v.dtype.as_numpy_dtype), [2, 3]),
                                normalize=normalize)

    # row 0: [1, 5] vs [1, 2, 3] is one substitution and one insertion; row 1: [4] vs [4] matches
    return [Case(build, [np.array([1.0, 5.0, 4.0])], lambda v: np.array([2 / 3, 0.0], np.float32), grad=False),
            Case(lambda v: build(v, False), [np.array([1.0, 5.0, 4.0])], lambda v: np.array([2.0, 0.0], np.float32),
                 grad=False, name="unnormalized")]


@samples("SparseReduceSum")
def _reduce_sum_grad():
    """The gradient of SparseReduceSum (the sparse.py samples check its forward pass)."""
    def ref(v, axis):
        return _dense(A_IDX, v, SHAPE).sum(axis=axis)
    return [Case(lambda v: tf.sparse_reduce_sum(_st(A_IDX, v), axis=1), [R.rand(4)], lambda v: ref(v, 1),
                 name="grad_axis1"),
            Case(lambda v: tf.sparse_reduce_sum(_st(A_IDX, v), axis=[0], keepdims=True), [R.rand(4)],
                 lambda v: ref(v, 0)[None], name="grad_keepdims"),
            Case(lambda v: tf.sparse_reduce_sum(_st(A_IDX, v)), [R.rand(4)], lambda v: np.asarray(v.sum()),
                 name="grad_all")]


# -- SparseCross -------------------------------------------------------------------------------------------
@samples("SparseCross")
def _cross():
    from labflow.ops.sparse_cross_ops import fingerprint_cat64
    from labflow.ops.string_hashing import fingerprint64
    rows = [[[b"a", b"b"], [1]], [[b"c"], [2, 3]]]

    def build(ids, hashed=False):
        words = tf.SparseTensor([[0, 0], [0, 1], [1, 0]], np.array([b"a", b"b", b"c"], object), [2, 2])
        sp = tf.SparseTensor([[0, 0], [1, 0], [1, 1]], ids, [2, 2])
        return _triple(tf.sparse.cross_hashed([words, sp], num_buckets=10) if hashed else tf.sparse.cross([words, sp]))

    def ref(ids, hashed=False):
        out = []
        for ws, ns in rows:
            for w in ws:
                for n in ns:
                    if hashed:
                        h = fingerprint_cat64(fingerprint_cat64(0xDECAFCAFFE, fingerprint64(w)), n)
                        out.append(h % 10)
                    else:
                        out.append(w + b"_X_" + str(n).encode())
        vals = np.asarray(out, I64) if hashed else np.array(out, object)
        return [np.array([[0, 0], [0, 1], [1, 0], [1, 1]], I64), vals, np.array([2, 2], I64)]
    ids = np.array([1, 2, 3], I64)
    return [Case(build, [ids], ref, grad=False),
            Case(lambda i: build(i, True), [ids], lambda i: ref(i, True), grad=False, name="hashed")]


# -- SparseMatMul ------------------------------------------------------------------------------------------
@samples("SparseMatMul")
def _sparse_matmul():
    def sparse_rows(shape):
        x = R.randn(*shape)
        x[R.rand(*shape) < 0.5] = 0
        return x

    def case(ta, tb, name):
        a = sparse_rows((3, 4) if not ta else (4, 3))
        b = R.randn(4, 2) if not tb else R.randn(2, 4)
        return Case(lambda x, y: tf.sparse_matmul(x, y, transpose_a=ta, transpose_b=tb, a_is_sparse=True), [a, b],
                    lambda x, y: ((x.T if ta else x).astype(np.float64) @ (y.T if tb else y)).astype(np.float32),
                    dtypes=(tf.float32,), name=name, grad=False)

    def grads(ta, tb, name):
        """The gradient against NumPy's (the op takes no float64, so the numerical check cannot run in it)."""
        a = sparse_rows((3, 4) if not ta else (4, 3))
        b = R.randn(4, 2) if not tb else R.randn(2, 4)

        def build(g, x, y):
            return tf.gradients(tf.sparse_matmul(x, y, transpose_a=ta, transpose_b=tb, b_is_sparse=True), [x, y],
                                grad_ys=g)

        def ref(g, x, y):
            x64, y64, g64 = (v.astype(np.float64) for v in (x, y, g))
            ga = g64 @ (y64.T if tb else y64).T
            gb = (x64.T if ta else x64).T @ g64
            return [(ga.T if ta else ga).astype(np.float32), (gb.T if tb else gb).astype(np.float32)]
        return Case(build, [R.randn(3, 2), a, b], ref, dtypes=(tf.float32,), name=name, grad=False)
    return [case(False, False, "plain"), case(True, False, "transpose_a"), case(False, True, "transpose_b"),
            case(True, True, "both"), grads(False, False, "grad_plain"), grads(True, True, "grad_both"),
            grads(True, False, "grad_transpose_a"), grads(False, True, "grad_transpose_b")]
