"""Sweep samples for the segment reductions: Segment*, UnsortedSegment{Max,Min,Prod}, SparseSegment* (with and
without num_segments) and the SparseSegment*Grad ops. References are plain NumPy loops."""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow import dtypes as _dt
from labflow.ops.common import make_tensor
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(31)
F16 = (_dt.float16, _dt.float32, _dt.float64)
_REDUCE = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "prod": np.prod,
           "sqrt_n": lambda v, axis: np.sum(v, axis=axis) / np.sqrt(len(v))}


def i32(v):
    return np.array(v, np.int32)


def _np_segment(kind, data, ids, n=None, empty=0.0):
    rows = data.reshape((ids.size,) + data.shape[ids.ndim:])
    ids = ids.reshape(-1)
    n = int(ids.max()) + 1 if n is None else n
    out = np.full((n,) + rows.shape[1:], empty, np.float64)
    for k in range(n):
        sel = rows[ids == k].astype(np.float64)
        if len(sel):
            out[k] = _REDUCE[kind](sel, axis=0)
    return out.astype(data.dtype)


def _distinct(*shape):
    """Values with no ties inside a segment (max/min gradients are then unambiguous)."""
    return R.permutation(np.prod(shape)).reshape(shape) * 0.37 - 2.0


def _away_from_zero(*shape):
    x = R.uniform(0.5, 1.5, size=shape)
    return x * np.where(R.uniform(size=shape) < 0.5, -1, 1)


# -- sorted -----------------------------------------------------------------------------------------
def _sorted_cases(fn, kind, dtypes=F16, data=None, grad=True):
    empty = 1.0 if kind == "prod" else 0.0
    ids = i32([0, 0, 1, 3, 3, 3])
    data = _distinct(6, 3) if data is None else data
    return [Case(fn, [data, ids], lambda d, i: _np_segment(kind, d, i, empty=empty), dtypes=dtypes, grad=grad,
                 name="2d"),
            Case(fn, [data[:, 0], ids], lambda d, i: _np_segment(kind, d, i, empty=empty), name="1d", grad=grad),
            Case(fn, [np.array([[1, 2], [3, 4], [5, 6]], np.int32), i32([0, 1, 1])],
                 lambda d, i: _np_segment(kind, d, i, empty=empty), grad=False, name="int32")]


@samples("SegmentSum")
def _segment_sum():
    return _sorted_cases(tf.segment_sum, "sum")


@samples("SegmentMean")
def _segment_mean():
    return _sorted_cases(tf.segment_mean, "mean")[:2] + [
        Case(tf.segment_mean, [np.array([1, 2, 4], np.int32), i32([0, 0, 1])], lambda d, i: i32([1, 4]),
             grad=False, name="int32_truncates")]


@samples("SegmentMax")
def _segment_max():
    return _sorted_cases(tf.segment_max, "max")


@samples("SegmentMin")
def _segment_min():
    return _sorted_cases(tf.segment_min, "min")


@samples("SegmentProd")
def _segment_prod():
    d = _away_from_zero(6, 3)
    with_zeros = d.copy()
    with_zeros[0, 0] = 0.0  # one zero in segment 0
    with_zeros[3, 1] = with_zeros[4, 1] = 0.0  # two zeros in segment 3
    return _sorted_cases(tf.segment_prod, "prod", data=d) + [
        Case(tf.segment_prod, [with_zeros, i32([0, 0, 1, 3, 3, 3])], lambda d, i: _np_segment("prod", d, i, empty=1.0),
             name="zeros", dtypes=(_dt.float64,))]


# -- unsorted ---------------------------------------------------------------------------------------
def _unsorted_cases(fn, kind, empty, data=None):
    # every segment is hit in the differentiated cases: an empty max/min segment holds the dtype's
    # lowest/highest value, whose size swamps a numerical gradient
    ids = i32([2, 0, -1, 2, 1, 3])
    data = _distinct(6, 3) if data is None else data
    ids2 = i32([[0, 3], [1, 2], [-1, 3]])
    return [Case(lambda d, i: fn(d, i, 4), [data, ids], lambda d, i: _np_segment(kind, d, i, 4, empty(d.dtype)),
                 dtypes=F16, name="2d"),
            Case(lambda d, i: fn(d, i, 4), [data.reshape(3, 2, 3), ids2],
                 lambda d, i: _np_segment(kind, d, i, 4, empty(d.dtype)), name="2d_ids"),
            Case(lambda d, i: fn(d, i, 5), [data, i32([2, 0, -1, 2, 0, 2])],
                 lambda d, i: _np_segment(kind, d, i, 5, empty(d.dtype)), grad=False, name="empty_segments"),
            Case(lambda d, i: fn(d, i, 3), [i32([5, -2, 7, 1]), i32([1, 1, 0, 1])],
                 lambda d, i: _np_segment(kind, d, i, 3, empty(d.dtype)), grad=False, name="int32")]


def _lowest(dtype):
    return np.finfo(dtype).min if np.dtype(dtype).kind == "f" else np.iinfo(dtype).min


def _highest(dtype):
    return np.finfo(dtype).max if np.dtype(dtype).kind == "f" else np.iinfo(dtype).max


@samples("UnsortedSegmentMax")
def _unsorted_segment_max():
    return _unsorted_cases(tf.unsorted_segment_max, "max", _lowest)


@samples("UnsortedSegmentMin")
def _unsorted_segment_min():
    return _unsorted_cases(tf.unsorted_segment_min, "min", _highest)


@samples("UnsortedSegmentProd")
def _unsorted_segment_prod():
    d = _away_from_zero(6, 3)
    with_zeros = d.copy()
    with_zeros[1, 0] = 0.0
    return _unsorted_cases(tf.unsorted_segment_prod, "prod", lambda dt: 1, data=d) + [
        Case(lambda d, i: tf.unsorted_segment_prod(d, i, 4), [with_zeros, i32([2, 0, -1, 2, 0, 2])],
             lambda d, i: _np_segment("prod", d, i, 4, 1), dtypes=(_dt.float64,), name="zeros")]


# -- sparse -----------------------------------------------------------------------------------------
_IDX, _SEG = i32([3, 0, 0, 2, 4]), i32([0, 0, 1, 3, 3])


def _np_sparse(kind, d, idx, seg, n=None):
    return _np_segment(kind, d[idx], seg, n)


def _sparse_cases(fn, kind, dtypes):
    d = R.randn(5, 3)
    return [Case(fn, [d, _IDX, _SEG], lambda d, i, s: _np_sparse(kind, d, i, s), dtypes=dtypes, name="2d"),
            Case(fn, [d[:, 0], _IDX, _SEG], lambda d, i, s: _np_sparse(kind, d, i, s), name="1d")]


def _sparse_n_cases(fn, kind):
    d = R.randn(5, 3)
    return [Case(lambda d, i, s: fn(d, i, s, num_segments=6), [d, _IDX, _SEG],
                 lambda d, i, s: _np_sparse(kind, d, i, s, 6), name="num_segments")]


@samples("SparseSegmentSum")
def _sparse_segment_sum():
    return _sparse_cases(tf.sparse_segment_sum, "sum", F16) + [
        Case(tf.sparse_segment_sum, [i32([[1, 2], [3, 4]]), i32([1, 0, 1]), i32([0, 1, 1])],
             lambda d, i, s: i32([[3, 4], [4, 6]]), grad=False, name="int32")]


@samples("SparseSegmentMean")
def _sparse_segment_mean():
    return _sparse_cases(tf.sparse_segment_mean, "mean", F16)


@samples("SparseSegmentSqrtN")
def _sparse_segment_sqrt_n():
    return _sparse_cases(tf.sparse_segment_sqrt_n, "sqrt_n", F16)


@samples("SparseSegmentSumWithNumSegments")
def _sparse_segment_sum_n():
    return _sparse_n_cases(tf.sparse_segment_sum, "sum")


@samples("SparseSegmentMeanWithNumSegments")
def _sparse_segment_mean_n():
    return _sparse_n_cases(tf.sparse_segment_mean, "mean")


@samples("SparseSegmentSqrtNWithNumSegments")
def _sparse_segment_sqrt_n_n():
    return _sparse_n_cases(tf.sparse_segment_sqrt_n, "sqrt_n")


def _np_sparse_grad(scale, g, idx, seg, n0):
    counts = np.bincount(seg, minlength=g.shape[0]).astype(np.float64)
    w = {"sum": np.ones_like(counts), "mean": 1 / np.maximum(counts, 1),
         "sqrt_n": 1 / np.sqrt(np.maximum(counts, 1))}[scale]
    out = np.zeros((n0,) + g.shape[1:])
    for i, s in zip(idx, seg):
        out[i] += g[s] * w[s]
    return out.astype(g.dtype)


def _grad_case(op_type, scale):
    g = R.randn(4, 3)
    return [Case(lambda g, i, s: make_tensor(op_type, [g, i, s, tf.constant(5)]), [g, _IDX, _SEG],
                 lambda g, i, s: _np_sparse_grad(scale, g, i, s, 5), dtypes=F16, grad=False)]


@samples("SparseSegmentSumGrad")
def _sparse_segment_sum_grad():
    return _grad_case("SparseSegmentSumGrad", "sum")


@samples("SparseSegmentMeanGrad")
def _sparse_segment_mean_grad():
    return _grad_case("SparseSegmentMeanGrad", "mean")


@samples("SparseSegmentSqrtNGrad")
def _sparse_segment_sqrt_n_grad():
    return _grad_case("SparseSegmentSqrtNGrad", "sqrt_n")
