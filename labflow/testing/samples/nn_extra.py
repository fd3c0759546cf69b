"""Sweep samples for the extra nn ops (Relu6, Elu, LeakyRelu, Softplus and their *Grad ops, TopKV2,
InTopKV2) and the embedding primitives (DynamicPartition, DynamicStitch)."""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow import dtypes as _dt
from labflow.ops import embedding_ops, nn_extra_ops
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(11)
F16 = (_dt.float16, _dt.float32, _dt.float64)


def _away(shape, kinks=(0.0,), margin=0.1, scale=3.0):
    """Random values at least `margin` away from each kink (finite differences must not straddle one)."""
    x = R.uniform(-scale, scale, size=shape)
    for k in kinks:
        near = np.abs(x - k) < margin
        x = np.where(near, k + np.sign(x - k + 1e-12) * margin * 2, x)
    return x


def _via_gradients(fn):
    """Builds d<g, fn(x)>/dx: creates fn's *Grad op; its own gradient check tests second derivatives."""
    def build(g, x):
        return tf.gradients(fn(x), x, grad_ys=g)[0]
    return build


def _np_elu(x):
    return np.where(x < 0, np.expm1(np.minimum(x, 0)), x).astype(x.dtype)


def _np_softplus(x):
    return np.logaddexp(0, x.astype(np.float64)).astype(x.dtype)


def _np_sigmoid(x):
    return 0.5 * (np.tanh(0.5 * x.astype(np.float64)) + 1)


# -- Relu6 ------------------------------------------------------------------------------------------
@samples("Relu6")
def _relu6():
    return [
        Case(nn_extra_ops.relu6, [_away((3, 4), (0.0, 6.0), scale=8)], lambda x: np.clip(x, 0, 6), dtypes=F16,
             name="2d"),
        Case(nn_extra_ops.relu6, [np.array([-3, 0, 5, 9], np.int32)], lambda x: np.clip(x, 0, 6), grad=False,
             name="int32"),
    ]


@samples("Relu6Grad")
def _relu6_grad():
    return [Case(_via_gradients(nn_extra_ops.relu6), [R.randn(2, 5), _away((2, 5), (0.0, 6.0), scale=8)],
                 lambda g, x: np.where((x > 0) & (x < 6), g, 0).astype(g.dtype), dtypes=F16,
                 name="via_gradients")]


# -- Elu --------------------------------------------------------------------------------------------
@samples("Elu")
def _elu():
    return [
        Case(nn_extra_ops.elu, [_away((3, 4))], _np_elu, dtypes=F16, name="2d"),
        Case(nn_extra_ops.elu, [np.array([-800.0, 800.0, -1.0])], _np_elu, grad=False, name="extremes"),
    ]


@samples("EluGrad")
def _elu_grad():
    def ref(g, x):
        return np.where(x < 0, g * np.exp(x), g).astype(g.dtype)
    return [Case(_via_gradients(nn_extra_ops.elu), [R.randn(3, 4), _away((3, 4))], ref, dtypes=F16,
                 name="via_gradients", rtol=1e-4)]


# -- LeakyRelu --------------------------------------------------------------------------------------
@samples("LeakyRelu")
def _leaky_relu():
    return [
        Case(nn_extra_ops.leaky_relu, [_away((3, 4))], lambda x: np.where(x > 0, x, 0.2 * x).astype(x.dtype),
             dtypes=F16, name="default_alpha"),
        Case(lambda x: nn_extra_ops.leaky_relu(x, alpha=0.01), [_away((2, 3))],
             lambda x: np.where(x > 0, x, x * x.dtype.type(0.01)), name="alpha_0.01"),
    ]


@samples("LeakyReluGrad")
def _leaky_relu_grad():
    return [Case(_via_gradients(lambda x: nn_extra_ops.leaky_relu(x, alpha=0.3)), [R.randn(2, 4), _away((2, 4))],
                 lambda g, x: np.where(x > 0, g, g * g.dtype.type(0.3)), dtypes=F16, name="via_gradients")]


# -- Softplus ---------------------------------------------------------------------------------------
@samples("Softplus")
def _softplus():
    return [
        Case(nn_extra_ops.softplus, [R.randn(3, 4) * 3], _np_softplus, dtypes=F16, name="2d"),
        Case(nn_extra_ops.softplus, [np.array([-500.0, 0.0, 500.0])], _np_softplus, grad=False, name="extremes"),
    ]


@samples("SoftplusGrad")
def _softplus_grad():
    return [Case(_via_gradients(nn_extra_ops.softplus), [R.randn(3, 4), R.randn(3, 4) * 2],
                 lambda g, x: (g * _np_sigmoid(x)).astype(g.dtype), dtypes=F16, name="via_gradients")]


# -- TopKV2 -----------------------------------------------------------------------------------------
def _np_top_k(x, k):
    n = x.shape[-1]
    order = np.argsort(x[..., ::-1], axis=-1, kind="stable")[..., ::-1][..., :k]
    idx = (n - 1) - order
    return [np.take_along_axis(x, idx, axis=-1), idx.astype(np.int32)]


@samples("TopKV2")
def _top_k():
    ties = np.array([[1.0, 3.0, 3.0, 0.0, 3.0], [2.0, 2.0, 2.0, 2.0, 1.0]])
    return [
        Case(lambda x: list(nn_extra_ops.top_k(x, 3)), [R.randn(4, 6)], lambda x: _np_top_k(x, 3), dtypes=F16,
             name="2d"),
        Case(lambda x: list(nn_extra_ops.top_k(x, 2)), [R.randn(2, 3, 5)], lambda x: _np_top_k(x, 2),
             name="rank3"),
        Case(lambda x: list(nn_extra_ops.top_k(x)), [R.randn(7)], lambda x: _np_top_k(x, 1), name="1d_default_k"),
        Case(lambda x: list(nn_extra_ops.top_k(x, 4)), [ties], lambda x: _np_top_k(x, 4), grad=False,
             name="ties_keep_index_order"),
        Case(lambda x: list(nn_extra_ops.top_k(x, 2)), [np.array([[5, 250, 7], [0, 1, 255]], np.uint8)],
             lambda x: _np_top_k(x, 2), grad=False, name="uint8"),
        Case(lambda x: list(nn_extra_ops.top_k(x, 2)), [np.array([[-5, 2, 7], [4, 4, -1]], np.int32)],
             lambda x: _np_top_k(x, 2), grad=False, name="int32"),
    ]


# -- InTopKV2 ---------------------------------------------------------------------------------------
def _np_in_top_k(p, t, k):
    n = p.shape[1]
    out = np.zeros(t.shape, bool)
    for i, ti in enumerate(t):
        if 0 <= ti < n and np.all(np.isfinite(p[i])):
            out[i] = np.sum(p[i] > p[i, ti]) < k
    return out


@samples("InTopKV2")
def _in_top_k():
    p = np.array([[0.1, 0.5, 0.5, 0.2], [0.3, 0.1, 0.2, 0.4], [0.0, np.nan, 1.0, 0.5], [0.2, 0.1, 0.4, 0.3]])
    f32 = (_dt.float32,)
    return [
        Case(lambda p, t: nn_extra_ops.in_top_k(p, t, 1), [p, np.array([2, 3, 2, 7], np.int32)],
             lambda p, t: _np_in_top_k(p, t, 1), dtypes=f32, grad=False, name="k1_ties_nan_out_of_range"),
        Case(lambda p, t: nn_extra_ops.in_top_k(p, t, 2), [R.randn(5, 6), np.array([0, 1, 2, 3, 4], np.int64)],
             lambda p, t: _np_in_top_k(p, t, 2), dtypes=f32, grad=False, name="k2_int64"),
        Case(lambda p, t, k: nn_extra_ops.in_top_k(p, t, k), [R.randn(3, 4), np.array([1, 2, 3], np.int32),
                                                              np.int32(3)],
             lambda p, t, k: _np_in_top_k(p, t, int(k)), dtypes=f32, grad=False, name="k_tensor"),
    ]


# -- DynamicPartition / DynamicStitch ---------------------------------------------------------------
def _np_partition(data, parts, n):
    flat = parts.reshape(-1)
    d = data.reshape(flat.shape + data.shape[parts.ndim:])
    return [d[flat == i] for i in range(n)]


@samples("DynamicPartition")
def _dynamic_partition():
    return [
        Case(lambda d, p: embedding_ops.dynamic_partition(d, p, 3), [R.randn(5, 2), np.array([2, 0, 2, 1, 0],
                                                                                              np.int32)],
             lambda d, p: _np_partition(d, p, 3), dtypes=F16, name="rows"),
        Case(lambda d, p: embedding_ops.dynamic_partition(d, p, 2), [R.randn(2, 3), np.array([[1, 0, 1], [0, 0, 1]],
                                                                                             np.int32)],
             lambda d, p: _np_partition(d, p, 2), name="2d_partitions"),
        Case(lambda d, p: embedding_ops.dynamic_partition(d, p, 1), [R.randn(3), np.array([0, 0, 0], np.int32)],
             lambda d, p: _np_partition(d, p, 1), name="one_partition"),
        Case(lambda d, p: embedding_ops.dynamic_partition(d, p, 2), [np.array([4, 5, 6], np.int32),
                                                                     np.array([1, 1, 0], np.int32)],
             lambda d, p: _np_partition(d, p, 2), grad=False, name="int32_data"),
    ]


def _np_stitch(indices, data):
    inner = data[0].shape[indices[0].ndim:]
    n = max(int(i.max()) + 1 for i in indices if i.size)
    out = np.zeros((n,) + inner, data[0].dtype)
    for i, d in zip(indices, data):
        out[i.reshape(-1)] = d.reshape((-1,) + inner)
    return out


@samples("DynamicStitch")
def _dynamic_stitch():
    def two(i0, i1, d0, d1):
        return embedding_ops.dynamic_stitch([i0, i1], [d0, d1])
    return [
        Case(two, [np.array([0, 4], np.int32), np.array([[1, 3], [2, 5]], np.int32), R.randn(2, 3),
                   R.randn(2, 2, 3)], lambda i0, i1, d0, d1: _np_stitch([i0, i1], [d0, d1]), dtypes=F16,
             name="rows"),
        Case(two, [np.array([2, 1], np.int32), np.array([0], np.int32), R.randn(2), R.randn(1)],
             lambda i0, i1, d0, d1: _np_stitch([i0, i1], [d0, d1]), name="scalars"),
        Case(two, [np.array([0, 1], np.int32), np.array([1], np.int32), np.array([7, 8], np.int64),
                   np.array([9], np.int64)], lambda i0, i1, d0, d1: _np_stitch([i0, i1], [d0, d1]), grad=False,
             name="duplicate_later_wins_int64"),
    ]
