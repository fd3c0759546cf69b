"""Sweep samples for the array ops that index: Slice, StridedSlice (and `Tensor.__getitem__`),
StridedSliceGrad, GatherV2, UnsortedSegmentSum, OneHot, Select and Where."""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow import dtypes as _dt
from labflow.ops.common import make_tensor
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(13)
F16 = (_dt.float16, _dt.float32, _dt.float64)


def r(*shape):
    return R.standard_normal(shape)


def i32(v):
    return np.asarray(v, np.int32)


@samples("Slice")
def _slice():
    x = r(3, 4)
    return [Case(lambda x: tf.slice(x, [1, 0], [2, -1]), [x], lambda x: x[1:3, 0:], dtypes=F16),
            Case(tf.slice, [x, i32([0, 1]), i32([3, 2])], lambda x, b, s: x[0:3, 1:3],
                 name="begin_size_tensors"),
            Case(lambda x: tf.slice(x, [1, 1, 0], [-1, 1, 2]), [r(2, 3, 2)], lambda x: x[1:, 1:2, 0:2],
                 name="3d"),
            Case(lambda x: tf.slice(x, [1], [2]), [i32([5, 6, 7, 8])], lambda x: x[1:3], grad=False,
                 name="int32")]


# (expression, NumPy equivalent) pairs covering ints, negative ints, steps, Ellipsis and newaxis.
_GETITEM = [
    (lambda t: t[1], lambda a: a[1]),
    (lambda t: t[-1, 2:], lambda a: a[-1, 2:]),
    (lambda t: t[:, ::-1], lambda a: a[:, ::-1]),
    (lambda t: t[..., 1], lambda a: a[..., 1]),
    (lambda t: t[None, 1:, tf.newaxis, -2:], lambda a: a[None, 1:, None, -2:]),
    (lambda t: t[::2, -3:0:-2], lambda a: a[::2, -3:0:-2]),
    (lambda t: t[1:100, -100:2], lambda a: a[1:100, -100:2]),
]


@samples("StridedSlice")
def _strided_slice():
    x = r(3, 5)
    cases = [Case(build, [x], ref, dtypes=F16 if k == 0 else (_dt.float32, _dt.float64), name=f"getitem{k}")
             for k, (build, ref) in enumerate(_GETITEM)]
    cases += [
        Case(lambda x: tf.strided_slice(x, [0, 1], [2, 4], [1, 2], begin_mask=1), [x], lambda x: x[:2, 1:4:2],
             name="masks"),
        Case(lambda x: tf.strided_slice(x, [0, 0, 1], [0, 0, 2], [1, 1, 1], ellipsis_mask=1, new_axis_mask=2,
                                        shrink_axis_mask=4), [r(2, 3, 4)], lambda x: x[..., None, 1],
             name="ellipsis_newaxis_shrink"),
        Case(lambda x, i: x[i, 1:], [x, i32(2)], lambda x, i: x[2, 1:], name="tensor_index"),
        Case(lambda x, i: x[:, i], [x, np.int64(-1)], lambda x, i: x[:, -1], name="int64_tensor_index"),
        Case(lambda x: x[1:, 0], [i32([[1, 2], [3, 4], [5, 6]])], lambda x: x[1:, 0], grad=False,
             name="int32"),
    ]
    return cases


@samples("StridedSliceGrad")
def _strided_slice_grad():
    def build(dy):
        consts = [tf.constant(v) for v in ([4, 5], [1, 4], [3, 0], [1, -2])]
        return make_tensor("StridedSliceGrad", consts + [dy], {})

    def ref(dy):
        out = np.zeros((4, 5), dy.dtype)
        out[1:3, 4:0:-2] = dy
        return out

    def build_shrink(dy):
        consts = [tf.constant(v) for v in ([3, 2], [-1, 0], [0, 0], [1, 1])]
        return make_tensor("StridedSliceGrad", consts + [dy], {"shrink_axis_mask": 1, "end_mask": 2})

    def ref_shrink(dy):
        out = np.zeros((3, 2), dy.dtype)
        out[-1] = dy
        return out
    return [Case(build, [r(2, 2)], ref, dtypes=F16),
            Case(build_shrink, [r(2)], ref_shrink, name="shrink")]


@samples("GatherV2")
def _gather():
    p = r(4, 3)
    return [Case(tf.gather, [p, i32([2, 0, 2])], lambda p, i: p[i], dtypes=F16),
            Case(lambda p, i: tf.gather(p, i, axis=1), [p, i32([[0, 2], [1, 1]])], lambda p, i: p[:, i],
                 name="axis1_2d_indices"),
            Case(lambda p, i: tf.gather(p, i, axis=-1), [r(2, 3, 4), np.array([3, 0], np.int64)],
                 lambda p, i: p[..., i], name="neg_axis_int64"),
            Case(tf.gather, [p, i32([[1, 3], [3, 3]])], lambda p, i: p[i], name="2d_indices"),
            Case(lambda p, i: tf.boolean_mask(p, i > 0), [p, i32([1, 0, 1, 1])], lambda p, i: p[i > 0],
                 unknown_shapes=False, name="boolean_mask"),
            Case(lambda p, m: tf.boolean_mask(p, m, axis=1), [r(2, 2, 3), np.array([[True, False, True],
                                                                                 [False, False, True]])],
                 lambda p, m: p[:, m], unknown_shapes=False, name="boolean_mask_2d"),
            Case(tf.gather, [i32([5, 6, 7]), i32([2, 2])], lambda p, i: i32([7, 7]), grad=False,
                 name="int32")]


def _np_segment_sum(data, ids, n):
    out = np.zeros((n,) + data.shape[ids.ndim:], np.float64)
    flat = data.reshape((-1,) + data.shape[ids.ndim:]).astype(np.float64)
    for k, s in enumerate(ids.reshape(-1)):
        if s >= 0:
            out[s] += flat[k]
    return out.astype(data.dtype)


@samples("UnsortedSegmentSum")
def _unsorted_segment_sum():
    return [Case(lambda d, i: tf.unsorted_segment_sum(d, i, 4), [r(5, 3), i32([0, 2, 0, -1, 1])],
                 lambda d, i: _np_segment_sum(d, i, 4), dtypes=F16),
            Case(lambda d, i: tf.unsorted_segment_sum(d, i, 3), [r(2, 3, 2), i32([[0, 1, 2], [2, 2, 0]])],
                 lambda d, i: _np_segment_sum(d, i, 3), name="2d_ids"),
            Case(lambda d, i, n: tf.unsorted_segment_sum(d, i, n), [i32([1, 2, 3]), i32([1, 1, 0]), i32(2)],
                 lambda d, i, n: i32([3, 3]), grad=False, name="int32_num_tensor")]


@samples("OneHot")
def _one_hot():
    idx = i32([[0, 2], [1, 5]])

    def ref(i, on, off, axis=-1):
        hot = np.expand_dims(i, axis) == np.arange(4).reshape([4 if a == (axis % 3) else 1 for a in range(3)])
        return np.where(hot, on, off).astype(np.asarray(on).dtype)
    return [Case(lambda i, on, off: tf.one_hot(i, 4, on, off), [idx, np.float64(2.0), np.float64(-1.0)],
                 ref, grad=False, dtypes=F16),
            Case(lambda i, on, off: tf.one_hot(i, 4, on, off, axis=0),
                 [idx, np.float64(1.0), np.float64(0.0)],
                 lambda i, on, off: ref(i, on, off, 0), grad=False, name="axis0"),
            Case(lambda i: tf.one_hot(i, 3), [np.array([2, 0], np.int64)],
                 lambda i: np.eye(3, dtype=np.float32)[i], grad=False, name="defaults"),
            Case(lambda i: tf.one_hot(i, 3, dtype=tf.int32), [np.array([1, 1], np.uint8)],
                 lambda i: np.eye(3, dtype=np.int32)[i], grad=False, name="int32_uint8")]


@samples("Select")
def _select():
    c = np.array([[True, False, True], [False, False, True]])
    return [Case(lambda c, x, y: tf.where(c, x, y), [c, r(2, 3), r(2, 3)], np.where, dtypes=F16),
            Case(lambda c, x, y: tf.where(c, x, y), [np.array([False, True]), r(2, 3), r(2, 3)],
                 lambda c, x, y: np.where(c[:, None], x, y), name="vector_condition"),
            Case(lambda c, x, y: tf.where(c, x, y), [c, i32(np.ones((2, 3))), i32(np.zeros((2, 3)))],
                 np.where, grad=False, name="int32")]


@samples("Where")
def _where():
    return [Case(tf.where, [np.array([[True, False], [True, True]])], np.argwhere, grad=False),
            Case(tf.where, [np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]])], np.argwhere, grad=False,
                 dtypes=F16, name="float"),
            Case(tf.where, [np.array([False, False])], lambda c: np.zeros((0, 1), np.int64), grad=False,
                 name="none_true")]
