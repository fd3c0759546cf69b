"""Sweep samples for the nn ops: Relu, Softmax, LogSoftmax, the cross-entropies, BiasAdd, L2Loss."""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow import dtypes as _dt
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(7)
F16 = (_dt.float16, _dt.float32, _dt.float64)


def _away_from_zero(shape, margin=0.1):
    """Random values with |x| > margin, so finite differences never straddle a kink at 0."""
    x = R.randn(*shape)
    return np.where(x >= 0, x + margin, x - margin)


def _np_log_softmax(x, axis=-1):
    x = x.astype(np.float64)
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def _np_softmax(x, axis=-1):
    return np.exp(_np_log_softmax(x, axis))


def _dist(shape, axis=-1):
    return _np_softmax(R.randn(*shape), axis)


def _second_order(loss_fn):
    """Builds d(loss)/d(logits): its own gradient check then tests the op's second derivative."""
    def build(*phs):
        logits = phs[-1]
        return tf.gradients(loss_fn(*phs), logits)[0]
    return build


# -- Relu -------------------------------------------------------------------------------------------
@samples("Relu")
def _relu():
    x = _away_from_zero((3, 4))
    return [
        Case(tf.nn.relu, [x], lambda x: np.maximum(x, 0), dtypes=F16 + (_dt.bfloat16,), name="2d"),
        Case(tf.nn.relu, [np.array([-3, 0, 2, 7], np.int32)], lambda x: np.maximum(x, 0), name="int32",
             grad=False),
        Case(tf.nn.relu, [np.array([[-3, 1], [4, -8]], np.int64)], lambda x: np.maximum(x, 0), name="int64",
             grad=False),
    ]


@samples("ReluGrad")
def _relu_grad():
    def build(g, x):
        return tf.gradients(tf.nn.relu(x), x, grad_ys=g)[0]
    return [Case(build, [R.randn(2, 5), _away_from_zero((2, 5))],
                 lambda g, x: np.where(x > 0, g, 0).astype(g.dtype), dtypes=F16, name="via_gradients")]


# -- Softmax / LogSoftmax ---------------------------------------------------------------------------
@samples("Softmax")
def _softmax():
    big = R.randn(2, 6) * 50  # large logits: only a shifted (stable) softmax stays finite
    return [
        Case(tf.nn.softmax, [R.randn(3, 5)], lambda x: _np_softmax(x).astype(x.dtype), dtypes=F16,
             name="last"),
        Case(tf.nn.softmax, [big], lambda x: _np_softmax(x).astype(x.dtype), name="large_logits", grad=False),
        Case(lambda x: tf.nn.softmax(x, axis=1), [R.randn(2, 3, 4)],
             lambda x: _np_softmax(x, 1).astype(x.dtype), name="axis1", unknown_shapes=False),
        Case(lambda x: tf.nn.softmax(x, dim=0), [R.randn(4, 3)],
             lambda x: _np_softmax(x, 0).astype(x.dtype), name="dim0", unknown_shapes=False),
        Case(tf.nn.softmax, [R.randn(5)], lambda x: _np_softmax(x).astype(x.dtype), name="1d"),
    ]


@samples("LogSoftmax")
def _log_softmax():
    return [
        Case(tf.nn.log_softmax, [R.randn(3, 5)], lambda x: _np_log_softmax(x).astype(x.dtype), dtypes=F16,
             name="last"),
        Case(tf.nn.log_softmax, [R.randn(2, 4) * 100], lambda x: _np_log_softmax(x).astype(x.dtype),
             name="large_logits", grad=False),
        Case(lambda x: tf.nn.log_softmax(x, axis=0), [R.randn(3, 2, 2)],
             lambda x: _np_log_softmax(x, 0).astype(x.dtype), name="axis0", unknown_shapes=False),
    ]


# -- SoftmaxCrossEntropyWithLogits ------------------------------------------------------------------
def _np_xent(labels, logits, axis=-1):
    return -(labels.astype(np.float64) * _np_log_softmax(logits, axis)).sum(axis=axis)


def _xent_v2(labels, logits):
    return tf.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits)


@samples("SoftmaxCrossEntropyWithLogits")
def _softmax_xent():
    def ref(lab, lg):
        return _np_xent(lab, lg).astype(lg.dtype)

    def ref_both(lab, lg):
        return [_np_xent(lab, lg).astype(lg.dtype), (_np_softmax(lg) - lab).astype(lg.dtype)]

    def raw(lab, lg):
        op = tf.get_default_graph().create_op("SoftmaxCrossEntropyWithLogits", [lg, lab])
        return list(op.outputs)

    one_hot = np.eye(4)[[0, 3, 1]]
    return [
        Case(_xent_v2, [_dist((3, 4)), R.randn(3, 4)], ref, dtypes=F16, name="v2"),
        Case(raw, [_dist((3, 4)), R.randn(3, 4)], ref_both, name="both_outputs"),
        Case(_xent_v2, [one_hot, R.randn(3, 4) * 30], ref, name="one_hot_large_logits", grad=False),
        Case(_xent_v2, [_dist((2, 3, 5)), R.randn(2, 3, 5)], ref, name="rank3"),
        Case(lambda lab, lg: tf.nn.softmax_cross_entropy_with_logits_v2(labels=lab, logits=lg, axis=0),
             [_dist((4, 3), 0), R.randn(4, 3)], lambda lab, lg: _np_xent(lab, lg, 0).astype(lg.dtype),
             name="axis0", unknown_shapes=False),
        Case(lambda lab, lg: tf.nn.softmax_cross_entropy_with_logits(labels=lab, logits=lg),
             [_dist((3, 4)), R.randn(3, 4)], ref, name="v1_labels_stopped", wrt=[1]),
        Case(_second_order(_xent_v2), [_dist((3, 4)), R.randn(3, 4)],
             lambda lab, lg: (_np_softmax(lg) - lab).astype(lg.dtype), name="second_order"),
    ]


# -- SparseSoftmaxCrossEntropyWithLogits ------------------------------------------------------------
def _np_sparse_xent(labels, logits):
    lp = _np_log_softmax(logits)
    return -np.take_along_axis(lp, labels[..., None].astype(np.int64), axis=-1)[..., 0]


def _sparse(labels, logits):
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


@samples("SparseSoftmaxCrossEntropyWithLogits")
def _sparse_xent():
    def ref(lab, lg):
        return _np_sparse_xent(lab, lg).astype(lg.dtype)

    def raw(lab, lg):
        op = tf.get_default_graph().create_op("SparseSoftmaxCrossEntropyWithLogits", [lg, lab],
                                              attrs={"Tlabels": lab.dtype.base_dtype})
        return list(op.outputs)

    def ref_both(lab, lg):
        return [ref(lab, lg), (_np_softmax(lg) - np.eye(lg.shape[-1])[lab]).astype(lg.dtype)]

    return [
        Case(_sparse, [np.array([0, 3, 2], np.int32), R.randn(3, 4)], ref, dtypes=F16, name="int32"),
        Case(_sparse, [np.array([4, 0], np.int64), R.randn(2, 5)], ref, name="int64"),
        Case(raw, [np.array([1, 0, 1], np.int64), R.randn(3, 2)], ref_both, name="both_outputs"),
        Case(_sparse, [np.array([[1, 2], [0, 0], [2, 1]], np.int32), R.randn(3, 2, 3)], ref, name="rank3"),
        Case(_sparse, [np.array([2, 0], np.int32), R.randn(2, 3) * 40], ref, name="large_logits", grad=False),
        Case(_second_order(_sparse), [np.array([1, 2, 0], np.int32), R.randn(3, 3)],
             lambda lab, lg: (_np_softmax(lg) - np.eye(3)[lab]).astype(lg.dtype), name="second_order"),
    ]


# -- BiasAdd / BiasAddGrad --------------------------------------------------------------------------
@samples("BiasAdd")
def _bias_add():
    return [
        Case(tf.nn.bias_add, [R.randn(2, 3, 4), R.randn(4)], lambda v, b: v + b, dtypes=F16, name="nhwc"),
        Case(lambda v, b: tf.nn.bias_add(v, b, data_format="NCHW"), [R.randn(2, 3, 4, 5), R.randn(3)],
             lambda v, b: v + b[:, None, None], name="nchw"),
        Case(tf.nn.bias_add, [np.array([[1, 2], [3, 4]], np.int32), np.array([10, 20], np.int32)],
             lambda v, b: v + b, name="int32", grad=False),
    ]


@samples("BiasAddGrad")
def _bias_add_grad():
    def build(g, v, b):
        return tf.gradients(tf.nn.bias_add(v, b), b, grad_ys=g)[0]

    def build_nchw(g, v, b):
        return tf.gradients(tf.nn.bias_add(v, b, data_format="NCHW"), b, grad_ys=g)[0]

    return [
        Case(build, [R.randn(2, 3, 4), R.randn(2, 3, 4), R.randn(4)], lambda g, v, b: g.sum(axis=(0, 1)),
             dtypes=F16, name="nhwc", wrt=[0]),
        Case(build_nchw, [R.randn(2, 3, 2, 2), R.randn(2, 3, 2, 2), R.randn(3)],
             lambda g, v, b: g.sum(axis=(0, 2, 3)), name="nchw", wrt=[0]),
    ]


def _half_sq(x):
    return (np.sum(x.astype(np.float64) ** 2) / 2).astype(x.dtype)


# -- L2Loss -----------------------------------------------------------------------------------------
@samples("L2Loss")
def _l2_loss():
    return [
        Case(tf.nn.l2_loss, [R.randn(3, 4)], lambda x: _half_sq(x), dtypes=F16, name="2d"),
        Case(tf.nn.l2_loss, [R.randn()], lambda x: _half_sq(x), name="scalar"),
    ]
