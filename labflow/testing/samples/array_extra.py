"""Sweep samples for the extra array ops: Unique, UniqueWithCounts, ListDiff, LowerBound/UpperBound, Bincount,
HistogramFixedWidth, UnravelIndex, SelectV2, ReverseSequence, Roll, LinSpace, IdentityN, EnsureShape,
BroadcastArgs, ParallelConcat, the matrix diagonal/band ops, Diag, DiagPart, Einsum and the space/depth/batch
rearrangements; plus the composites built on other ops (sort, sequence_mask, eye, tensordot, meshgrid, repeat)."""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow import dtypes as _dt
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(31)
F16 = (_dt.float16, _dt.float32, _dt.float64)


def r(*shape):
    return R.standard_normal(shape)


def i32(v):
    return np.asarray(v, np.int32)


def _np_unique(x):
    _, first, inv, counts = np.unique(x, return_index=True, return_inverse=True, return_counts=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return x[np.sort(first)], rank[inv.reshape(-1)].astype(np.int32), counts[order].astype(np.int32)


# -- sorting, searching, counting ----------------------------------------------------------------------
@samples("Unique")
def _unique():
    return [Case(lambda x: list(tf.unique(x)), [i32([4, 1, 4, 7, 1, 0])], lambda x: list(_np_unique(x)[:2]),
                 grad=False),
            Case(lambda x: list(tf.unique(x, out_idx=tf.int64)), [np.array([2.5, -1.0, 2.5])],
                 lambda x: [np.array([2.5, -1.0]), np.array([0, 1, 0], np.int64)], grad=False, name="float_int64"),
            Case(lambda x: list(tf.unique(x)), [i32([])], lambda x: [i32([]), i32([])], grad=False, name="empty")]


@samples("UniqueWithCounts")
def _unique_with_counts():
    return [Case(lambda x: list(tf.unique_with_counts(x)), [np.array([5, 5, 2, 9, 2, 5], np.int64)],
                 lambda x: list(_np_unique(x)), grad=False)]


@samples("ListDiff")
def _list_diff():
    return [Case(lambda x, y: list(tf.setdiff1d(x, y)), [i32([1, 2, 3, 4, 5, 2]), i32([2, 4, 9])],
                 lambda x, y: [i32([1, 3, 5]), i32([0, 2, 4])], grad=False),
            Case(lambda x, y: list(tf.setdiff1d(x, y, index_dtype=tf.int64)), [np.array([1.5, 0.5]), np.zeros([0])],
                 lambda x, y: [x, np.array([0, 1], np.int64)], grad=False, name="empty_y")]


@samples("TopKV2")
def _sort_composites():
    x = r(3, 4)
    return [Case(tf.sort, [x], lambda x: np.sort(x, axis=-1), name="sort"),
            Case(lambda x: tf.sort(x, axis=0, direction="DESCENDING"), [x], lambda x: -np.sort(-x, axis=0),
                 unknown_shapes=False, name="sort_descending_axis0"),
            Case(tf.argsort, [x], lambda x: np.argsort(x, axis=-1, kind="stable").astype(np.int32), grad=False,
                 name="argsort"),
            Case(lambda x: tf.argsort(x, direction="DESCENDING", stable=True), [i32([3, 1, 3, 0])],
                 lambda x: i32([0, 2, 1, 3]), grad=False, name="argsort_stable_ties"),
            Case(tf.sort, [np.array([200, 3, 255], np.uint8)], lambda x: np.sort(x), grad=False, name="sort_uint8")]


def _np_search(side):
    def ref(s, v):
        if s.ndim == 1:
            return np.searchsorted(s, v, side=side).astype(np.int32)
        return np.stack([np.searchsorted(a, b, side=side) for a, b in zip(s, v)]).astype(np.int32)
    return ref


@samples("LowerBound")
def _lower_bound():
    return [Case(tf.searchsorted, [np.array([1.0, 2.0, 2.0, 5.0]), np.array([2.0, 0.0, 6.0])], _np_search("left"),
                 grad=False),
            Case(tf.searchsorted, [np.sort(r(2, 5), axis=-1), r(2, 3)], _np_search("left"), grad=False, name="batched")]


@samples("UpperBound")
def _upper_bound():
    return [Case(lambda s, v: tf.searchsorted(s, v, side="right"), [i32([1, 2, 2, 5]), i32([[2, 0, 6]])[0]],
                 _np_search("right"), grad=False),
            Case(lambda s, v: tf.searchsorted(s, v, side="right", out_type=tf.int64), [np.sort(r(2, 4), axis=-1),
                                                                                       r(2, 2)],
                 lambda s, v: _np_search("right")(s, v).astype(np.int64), grad=False, name="batched_int64"),
            Case(lambda x, rep: tf.repeat(x, rep, axis=0), [r(3, 2), i32([2, 0, 3])],
                 lambda x, rep: np.repeat(x, rep, axis=0), unknown_shapes=False, name="repeat"),
            Case(lambda x: tf.repeat(x, 2), [r(2, 2)], lambda x: np.repeat(x, 2), name="repeat_flat_scalar")]


@samples("Bincount")
def _bincount():
    return [Case(tf.bincount, [i32([1, 1, 4, 0, 1])], lambda a: np.bincount(a).astype(np.int32), grad=False),
            Case(lambda a, w: tf.bincount(a, weights=w, minlength=7), [i32([[1, 2], [2, 5]]), r(2, 2)],
                 lambda a, w: np.bincount(a.reshape(-1), w.reshape(-1), minlength=7), grad=False, name="weights"),
            Case(lambda a: tf.bincount(a, maxlength=2), [i32([0, 3, 1, 1])], lambda a: i32([1, 2]), grad=False,
                 name="maxlength"),
            Case(tf.bincount, [i32([])], lambda a: i32([]), grad=False, name="empty")]


@samples("HistogramFixedWidth")
def _histogram_fixed_width():
    def ref(v, rng, nbins=5):
        idx = np.clip(np.floor((v - rng[0]) / (rng[1] - rng[0]) * nbins), 0, nbins - 1).astype(np.int64)
        return np.bincount(idx.reshape(-1), minlength=nbins).astype(np.int32)
    return [Case(lambda v, rng: tf.histogram_fixed_width(v, rng, nbins=5), [np.array([-1.0, 0.0, 1.5, 2.0, 5.0, 15.0]),
                                                                            np.array([0.0, 5.0])], ref, grad=False),
            Case(lambda v, rng: tf.histogram_fixed_width(v, rng, nbins=4, dtype=tf.int64),
                 [r(3, 4), np.array([-1.0, 1.0])],
                 lambda v, rng: ref(v, rng, 4).astype(np.int64), grad=False, name="2d_int64")]


@samples("UnravelIndex")
def _unravel_index():
    return [Case(lambda i: tf.unravel_index(i, [3, 4]), [i32([0, 5, 11])],
                 lambda i: np.stack(np.unravel_index(i, (3, 4))).astype(np.int32), grad=False),
            Case(lambda i, d: tf.unravel_index(i, d), [np.int64(7), np.array([2, 2, 2], np.int64)],
                 lambda i, d: np.array(np.unravel_index(7, (2, 2, 2)), np.int64), grad=False,
                 name="scalar_int64")]


# -- sequences and shapes --------------------------------------------------------------------------------------
@samples("SelectV2")
def _select_v2():
    return [Case(tf.where_v2, [np.array([True, False, True]), r(2, 3), r(2, 1)], np.where, dtypes=F16),
            Case(tf.where_v2, [np.array([[True], [False]]), r(3), np.float64(0.5)], np.where, name="scalar_y"),
            Case(tf.where_v2, [np.array(True), i32([1, 2]), i32([3, 4])], np.where, grad=False, name="int32")]


@samples("Less")
def _sequence_mask():
    return [Case(lambda n: tf.sequence_mask(n, 4), [i32([1, 3, 0])], lambda n: np.arange(4) < n[:, None],
                 grad=False, name="sequence_mask"),
            Case(lambda n: tf.sequence_mask(n, dtype=tf.float32), [np.array([[2], [1]], np.int64)],
                 lambda n: (np.arange(2) < n[..., None]).astype(np.float32), grad=False,
                 name="sequence_mask_default_maxlen")]


def _np_reverse_sequence(x, lens, seq, batch):
    out = x.copy()
    for b, n in enumerate(lens):
        src = [slice(None)] * x.ndim
        src[batch], src[seq] = b, slice(0, n)
        out[tuple(src)] = np.flip(x[tuple(src)], axis=seq - (batch < seq))
    return out


@samples("ReverseSequence")
def _reverse_sequence():
    return [Case(lambda x, n: tf.reverse_sequence(x, n, seq_axis=1, batch_axis=0), [r(3, 4, 2), i32([2, 4, 0])],
                 lambda x, n: _np_reverse_sequence(x, n, 1, 0), dtypes=F16),
            Case(lambda x, n: tf.reverse_sequence(x, n, seq_dim=0, batch_dim=2), [r(4, 2, 3), np.array([1, 3, 4])],
                 lambda x, n: _np_reverse_sequence(x, n, 0, 2), name="seq_before_batch_int64")]


@samples("Roll")
def _roll():
    return [Case(lambda x: tf.roll(x, 2, 0), [r(5)], lambda x: np.roll(x, 2, 0), dtypes=F16),
            Case(lambda x: tf.roll(x, [-1, 3], [0, -1]), [r(3, 4)], lambda x: np.roll(x, (-1, 3), (0, 1)),
                 name="two_axes"),
            Case(lambda x, s, a: tf.roll(x, s, a), [i32([[1, 2], [3, 4]]), np.int64(1), np.int64(1)],
                 lambda x, s, a: np.roll(x, 1, 1), grad=False, name="tensors_int64")]


@samples("LinSpace")
def _lin_space():
    return [Case(lambda a, b: tf.lin_space(a, b, 5), [np.float64(-1.0), np.float64(2.0)],
                 lambda a, b: np.linspace(a, b, 5).astype(a.dtype), grad=False),
            Case(lambda a, b, n: tf.linspace(a, b, n), [np.float64(3.0), np.float64(3.0), np.int64(1)],
                 lambda a, b, n: np.array([3.0], a.dtype), grad=False, name="one")]


@samples("IdentityN")
def _identity_n():
    return [Case(lambda x, y: tf.identity_n([x, y]), [r(2, 3), i32([1, 2])], lambda x, y: [x, y])]


@samples("EnsureShape")
def _ensure_shape():
    return [Case(lambda x: tf.ensure_shape(x, [None, 3]), [r(2, 3)], lambda x: x, dtypes=F16)]


@samples("BroadcastArgs")
def _broadcast_args():
    return [Case(tf.broadcast_dynamic_shape, [i32([2, 1, 3]), i32([4, 1])], lambda a, b: i32([2, 4, 3]), grad=False),
            Case(tf.broadcast_dynamic_shape, [np.array([5], np.int64), np.array([], np.int64)],
                 lambda a, b: np.array([5], np.int64), grad=False, name="int64_scalar_shape")]


@samples("ParallelConcat")
def _parallel_concat():
    return [Case(lambda x, y: tf.parallel_stack([x, y]), [r(2, 3), r(2, 3)], lambda x, y: np.stack([x, y]), grad=False,
                 unknown_shapes=False)]


@samples("Mul")
def _meshgrid():
    return [Case(lambda x, y: tf.meshgrid(x, y), [r(3), r(2)], lambda x, y: list(np.meshgrid(x, y)), name="meshgrid"),
            Case(lambda x, y, z: tf.meshgrid(x, y, z, indexing="ij"), [r(2), r(3), r(1)],
                 lambda x, y, z: list(np.meshgrid(x, y, z, indexing="ij")), name="meshgrid_ij")]
