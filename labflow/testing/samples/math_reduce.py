"""Sweep samples for reductions, argmax/argmin, cumsum/cumprod, matmul and the broadcasting helpers."""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow import dtypes as _dt
from labflow.ops.common import make_op, make_tensor
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(12)
F16 = (_dt.float16, _dt.float32, _dt.float64)


def _distinct(*shape):
    """Values with no ties (max/min/argmax are not differentiable at ties)."""
    n = int(np.prod(shape))
    return (R.permutation(n) * 0.37 - n * 0.15).reshape(shape)


# -- Sum / Mean -------------------------------------------------------------------------------------
@samples("Sum")
def _sum():
    x = R.randn(2, 3, 4)
    return [
        Case(tf.reduce_sum, [x], np.sum, dtypes=F16, name="all"),
        Case(lambda a: tf.reduce_sum(a, axis=1), [x], lambda a: a.sum(1), dtypes=F16, name="axis1"),
        Case(lambda a: tf.reduce_sum(a, [0, -1], keepdims=True), [x], lambda a: a.sum((0, 2), keepdims=True),
             name="neg_axis_keepdims"),
        Case(lambda a: tf.reduce_sum(a, reduction_indices=[2], keep_dims=True), [x],
             lambda a: a.sum(2, keepdims=True), name="tf1_spellings"),
        Case(lambda a: tf.reduce_sum(a, []), [x], lambda a: a, name="no_axes"),
        Case(lambda a: tf.reduce_sum(a, 0), [np.array([[1, -2], [3, 4]], np.int32)], lambda a: a.sum(0),
             grad=False, name="int32"),
        Case(lambda a: tf.reduce_sum(a, 1), [np.array([[100, 100], [-100, 27]], np.int8)],
             lambda a: a.sum(1, dtype=np.int8), grad=False, name="int8_wraps"),
    ]


@samples("Mean")
def _mean():
    x = R.randn(2, 3, 4)
    return [
        Case(tf.reduce_mean, [x], np.mean, dtypes=F16, name="all"),
        Case(lambda a: tf.reduce_mean(a, -1), [x], lambda a: a.mean(-1), dtypes=F16, name="last_axis"),
        Case(lambda a: tf.reduce_mean(a, [0, 2], keep_dims=True), [x],
             lambda a: a.mean((0, 2), keepdims=True),
             name="keep_dims"),
        Case(lambda a: tf.reduce_mean(a, 1), [np.array([[1, 2], [-3, -4], [7, 0]], np.int32)],
             lambda a: np.array([1, -3, 3], np.int32), grad=False, name="int32_truncates_toward_zero"),
    ]


# -- Max / Min / Prod / Any / All -------------------------------------------------------------------
@samples("Max")
def _max():
    x = _distinct(3, 4)
    return [
        Case(lambda a: tf.reduce_max(a, 1), [x], lambda a: a.max(1), dtypes=F16, name="axis1"),
        Case(tf.reduce_max, [x], np.max, name="all"),
        Case(lambda a: tf.reduce_max(a, 0, keepdims=True), [x], lambda a: a.max(0, keepdims=True),
             name="keepdims"),
        Case(lambda a: tf.reduce_max(a, 1), [np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.5]])],
             lambda a: a.max(1), grad=False, name="ties_forward"),
        Case(lambda a: tf.reduce_max(a, -1), [np.array([[1, 9, -3]], np.int32)], lambda a: a.max(-1),
             grad=False, name="int32"),
        Case(lambda a: tf.reduce_logsumexp(a, 1), [R.randn(3, 4)],
             lambda a: np.log(np.exp(a.astype(np.float64)).sum(1)), dtypes=F16, name="logsumexp"),
        Case(lambda a: tf.reduce_logsumexp(a, keepdims=True), [R.randn(2, 3) * 50],
             lambda a: np.log(np.exp(a - a.max()).sum()) + a.max() + np.zeros((1, 1)), rtol=1e-5,
             name="logsumexp_large_all"),
    ]


@samples("Min")
def _min():
    x = _distinct(2, 3, 2)
    return [
        Case(lambda a: tf.reduce_min(a, [0, 2]), [x], lambda a: a.min((0, 2)), dtypes=F16, name="two_axes"),
        Case(lambda a: tf.reduce_min(a, 1, keep_dims=True), [x], lambda a: a.min(1, keepdims=True),
             name="keep_dims"),
        Case(tf.reduce_min, [np.array([4, -2, 7], np.int64)], np.min, grad=False, name="int64"),
    ]


@samples("Prod")
def _prod():
    x = R.uniform(0.5, 1.5, (2, 3, 4)) * np.sign(R.randn(2, 3, 4))
    with_zero = np.array([[1.5, 0.0, -2.0], [0.5, 3.0, 1.2]])
    return [
        Case(lambda a: tf.reduce_prod(a, 1), [x], lambda a: a.prod(1), dtypes=F16, name="axis1"),
        Case(lambda a: tf.reduce_prod(a, [0, -1], keepdims=True), [x],
             lambda a: a.prod((0, 2), keepdims=True),
             name="two_axes_keepdims"),
        Case(tf.reduce_prod, [x], np.prod, name="all"),
        # A product is a polynomial: its gradient is exact at zeros too (no division by x).
        Case(lambda a: tf.reduce_prod(a, 1), [with_zero], lambda a: a.prod(1), name="with_a_zero"),
        Case(lambda a: tf.reduce_prod(a, 0), [np.array([[2, -3], [4, 5]], np.int32)], lambda a: a.prod(0),
             grad=False, name="int32"),
    ]


_BOOLS = np.array([[True, False, True], [True, True, True]])


@samples("Any")
def _any():
    return [Case(lambda a: tf.reduce_any(a, 1), [_BOOLS], lambda a: a.any(1), grad=False, name="axis1"),
            Case(tf.reduce_any, [~_BOOLS], np.any, grad=False, name="all")]


@samples("All")
def _all():
    return [Case(lambda a: tf.reduce_all(a, 1, keepdims=True), [_BOOLS], lambda a: a.all(1, keepdims=True),
                 grad=False, name="axis1"),
            Case(tf.reduce_all, [_BOOLS], np.all, grad=False, name="all")]


# -- ArgMax / ArgMin --------------------------------------------------------------------------------
@samples("ArgMax")
def _argmax():
    x = _distinct(3, 4)
    return [
        Case(lambda a: tf.argmax(a, 1), [x], lambda a: a.argmax(1), dtypes=F16, grad=False, name="axis1"),
        Case(tf.argmax, [x], lambda a: a.argmax(0), grad=False, name="default_axis0"),
        Case(lambda a: tf.argmax(a, dimension=-1, output_type=tf.int32), [np.array([[1, 9, -3]], np.int32)],
             lambda a: a.argmax(-1).astype(np.int32), grad=False, name="int32_dimension"),
    ]


@samples("ArgMin")
def _argmin():
    x = _distinct(2, 5)
    return [Case(lambda a: tf.argmin(a, axis=1), [x], lambda a: a.argmin(1), dtypes=F16, grad=False),
            Case(lambda a: tf.argmin(a, 0), [np.array([[3, -1], [-2, 8]], np.int64)], lambda a: a.argmin(0),
                 grad=False, name="int64")]


# -- Cumsum / Cumprod -------------------------------------------------------------------------------
def _np_scan(fn, identity):
    def ref(a, axis=0, exclusive=False, reverse=False):
        a = np.flip(a, axis) if reverse else a
        out = fn(a, axis=axis, dtype=a.dtype)
        if exclusive:
            out = np.concatenate([np.full_like(np.take(out, [0], axis), identity),
                                  np.delete(out, -1, axis)], axis)
        return np.flip(out, axis) if reverse else out
    return ref


@samples("Cumsum")
def _cumsum():
    ref = _np_scan(np.cumsum, 0)
    x = R.randn(3, 4)
    return [
        Case(tf.cumsum, [x], ref, dtypes=F16, name="axis0"),
        Case(lambda a: tf.cumsum(a, 1, exclusive=True), [x], lambda a: ref(a, 1, True), name="exclusive"),
        Case(lambda a: tf.cumsum(a, -1, reverse=True), [x], lambda a: ref(a, 1, False, True), name="reverse"),
        Case(lambda a: tf.cumsum(a, 0, exclusive=True, reverse=True), [x], lambda a: ref(a, 0, True, True),
             name="exclusive_reverse"),
        Case(lambda a: tf.cumsum(a, 0), [np.array([1, -2, 5], np.int32)], ref, grad=False, name="int32"),
    ]


@samples("Cumprod")
def _cumprod():
    ref = _np_scan(np.cumprod, 1)
    x = R.uniform(0.5, 1.5, (3, 4)) * np.sign(R.randn(3, 4))
    return [
        Case(tf.cumprod, [x], ref, dtypes=F16, name="axis0"),
        Case(lambda a: tf.cumprod(a, 1, exclusive=True), [x], lambda a: ref(a, 1, True), name="exclusive"),
        Case(lambda a: tf.cumprod(a, 1, exclusive=True, reverse=True), [x], lambda a: ref(a, 1, True, True),
             name="exclusive_reverse"),
        Case(lambda a: tf.cumprod(a, 0), [np.array([2, -2, 3], np.int64)], ref, grad=False, name="int64"),
    ]


# -- MatMul / BatchMatMulV2 -------------------------------------------------------------------------
def _t(a):
    return np.swapaxes(a, -1, -2)


@samples("MatMul")
def _matmul():
    a, b = R.randn(3, 4), R.randn(4, 5)
    # Inputs of unknown rank go to BatchMatMulV2 (like TF), so these cases need static shapes.
    cases = [
        Case(tf.matmul, [a, b], np.matmul, dtypes=F16, name="plain"),
        Case(lambda x, y: tf.matmul(x, y, transpose_a=True), [a.T.copy(), b], lambda x, y: x.T @ y,
             name="transpose_a"),
        Case(lambda x, y: tf.matmul(x, y, transpose_b=True), [a, b.T.copy()], lambda x, y: x @ y.T,
             name="transpose_b"),
        Case(lambda x, y: tf.matmul(x, y, True, True), [a.T.copy(), b.T.copy()], lambda x, y: x.T @ y.T,
             name="transpose_both"),
        Case(lambda x, y: tf.matmul(x, y, adjoint_b=True), [a, b.T.copy()], lambda x, y: x @ y.T,
             name="adjoint_b_real"),
        Case(lambda x, y: x @ y, [a, b], np.matmul, name="operator"),
        Case(tf.matmul, [np.array([[1, 2], [3, 4]], np.int32), np.array([[5], [-6]], np.int32)], np.matmul,
             grad=False, name="int32"),
        Case(lambda x, y: tf.matmul(x, y, adjoint_a=True),
             [(R.randn(3, 2) + 1j * R.randn(3, 2)), (R.randn(3, 2) + 1j * R.randn(3, 2))],
             lambda x, y: x.conj().T @ y, grad=False, name="adjoint_a_complex"),
    ]
    for c in cases:
        c.unknown_shapes = False
    return cases


@samples("_FusedMatMul")
def _fused_matmul():
    # What runtime/fusion.py makes of `matmul(a, b) + bias` (and a Relu after it).
    cases = []
    for ta, tb in ((False, False), (True, False), (False, True)):
        a = R.randn(*((4, 3) if ta else (3, 4)))
        b = R.randn(*((5, 4) if tb else (4, 5)))
        for ops in (["BiasAdd"], ["BiasAdd", "Relu"]):
            def ref(x, y, bias, ta=ta, tb=tb, ops=ops):
                z = (x.T if ta else x) @ (y.T if tb else y) + bias
                return np.maximum(z, 0) if "Relu" in ops else z
            cases.append(Case(lambda x, y, bias, ta=ta, tb=tb, ops=ops: make_tensor(
                "_FusedMatMul", [x, y, bias], {"transpose_a": ta, "transpose_b": tb, "fused_ops": ops}),
                [a, b, R.randn(5)], ref, dtypes=F16, grad=False, name=f"ta{int(ta)}_tb{int(tb)}_{'_'.join(ops)}"))
    for c in cases:
        c.unknown_shapes = False
    return cases


@samples("BatchMatMulV2")
def _batch_matmul():
    return [
        Case(tf.matmul, [R.randn(2, 3, 4), R.randn(2, 4, 5)], np.matmul, dtypes=F16, name="rank3"),
        Case(tf.matmul, [R.randn(2, 1, 3, 4), R.randn(5, 4, 2)], np.matmul, name="broadcast_batch"),
        Case(lambda x, y: tf.matmul(x, y, transpose_a=True), [R.randn(2, 4, 3), R.randn(4, 5)],
             lambda x, y: _t(x) @ y, name="transpose_a_rank3_rank2"),
        Case(lambda x, y: tf.matmul(x, y, adjoint_a=True, transpose_b=True),
             [R.randn(3, 4, 2), R.randn(3, 5, 4)],
             lambda x, y: _t(x) @ _t(y), name="adj_both"),
        Case(lambda x, y: tf.matmul(x, y, transpose_b=True), [R.randn(3, 2), R.randn(2, 4, 2)],
             lambda x, y: x @ _t(y), name="rank2_rank3"),
        Case(lambda x, y: x @ y, [np.arange(12, dtype=np.int64).reshape(2, 2, 3),
                                  np.arange(6, dtype=np.int64).reshape(3, 2)], np.matmul,
                                      grad=False, name="int64"),
    ]


# -- broadcasting helpers ---------------------------------------------------------------------------
def _np_bga(s0, s1):
    n = max(len(s0), len(s1))
    a = [1] * (n - len(s0)) + list(s0)
    b = [1] * (n - len(s1)) + list(s1)
    r0 = [i for i in range(n) if i < n - len(s0) or (a[i] == 1 and b[i] != 1)]
    r1 = [i for i in range(n) if i < n - len(s1) or (b[i] == 1 and a[i] != 1)]
    return np.array(r0, s0.dtype), np.array(r1, s0.dtype)


@samples("BroadcastGradientArgs")
def _bga():
    def build(s0, s1):
        return make_op("BroadcastGradientArgs", [s0, s1]).outputs
    return [
        Case(build, [np.array([2, 3, 1], np.int32), np.array([3, 5], np.int32)], _np_bga, grad=False,
             name="int32"),
        Case(build, [np.array([4, 1], np.int64), np.array([7, 1, 1], np.int64)], _np_bga, grad=False,
             name="int64"),
        Case(build, [np.array([2, 2], np.int32), np.array([2, 2], np.int32)], _np_bga,
             grad=False, name="equal"),
    ]


@samples("BroadcastTo")
def _broadcast_to():
    def build(x):
        return make_tensor("BroadcastTo", [x, tf.constant([2, 3, 4])])
    return [Case(build, [R.randn(3, 1)], lambda a: np.broadcast_to(a, (2, 3, 4)), dtypes=F16, name="3x1"),
            Case(build, [np.array([1, 2, 3, 4], np.int32)], lambda a: np.broadcast_to(a, (2, 3, 4)),
                 grad=False, name="int32")]


@samples("ReducedShape")
def _reduced_shape():
    def build(s, a):
        return make_tensor("ReducedShape", [s, a])
    return [Case(build, [np.array([2, 3, 4], np.int32), np.array([1, -1], np.int32)],
                 lambda s, a: np.array([2, 1, 1], np.int32), grad=False, name="int32"),
            Case(build, [np.array([5, 6], np.int32), np.array(0, np.int32)],
                 lambda s, a: np.array([1, 6], np.int32), grad=False, name="scalar_axis")]
