"""Sweep samples for the clip composites (clip_ops registers no op of its own).

Each case is filed under a primitive the composite builds, so the sweep runs the composite's forward
and gradient too. Inputs stay away from the clip thresholds, where the gradient has a kink.
"""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(3)


def _spread(shape):
    """Values in +-[0.3, 3] with none within 0.05 of the clip bounds -1 and 2 used below."""
    x = R.uniform(0.3, 3.0, size=shape) * R.choice([-1, 1], size=shape)
    return np.where(np.abs(x - 2.0) < 0.05, 2.5, np.where(np.abs(x + 1.0) < 0.05, -1.5, x))


def _np_clip_norm(t, c, axes=None):
    n = np.sqrt(np.sum(t.astype(np.float64) ** 2, axis=axes, keepdims=True))
    return t * c / np.maximum(n, c)


@samples("Maximum")
def _clip_by_value():
    return [
        Case(lambda t: tf.clip_by_value(t, -1.0, 2.0), [_spread((4, 5))], lambda t: np.clip(t, -1.0, 2.0),
             name="clip_by_value"),
        Case(lambda t, lo, hi: tf.clip_by_value(t, lo, hi),
             [_spread((3, 2)), np.array(-1.0), np.array([2.0, 1.0])],
             lambda t, lo, hi: np.clip(t, lo, hi), name="clip_by_value_tensor_bounds", wrt=[0]),
    ]


@samples("Sqrt")
def _clip_by_norm():
    t = R.randn(3, 4) * 3
    return [
        Case(lambda t: tf.clip_by_norm(t, 1.5), [t], lambda t: _np_clip_norm(t, 1.5).astype(t.dtype),
             name="clip_by_norm"),
        Case(lambda t: tf.clip_by_norm(t, 100.0), [t], lambda t: t, name="clip_by_norm_unclipped"),
        Case(lambda t: tf.clip_by_norm(t, 1.0, axes=[1]), [t],
             lambda t: _np_clip_norm(t, 1.0, axes=1).astype(t.dtype), name="clip_by_norm_axes"),
    ]


@samples("L2Loss")
def _global_norm():
    a, b = R.randn(3, 2) * 2, R.randn(4) * 2

    def ref_norm(a, b):
        return np.sqrt(np.sum(a.astype(np.float64) ** 2) + np.sum(b.astype(np.float64) ** 2)).astype(a.dtype)

    def build_clip(a, b):
        clipped, norm = tf.clip_by_global_norm([a, None, b], 1.0)
        return [clipped[0], clipped[2], norm]

    def ref_clip(a, b):
        n = ref_norm(a, b).astype(np.float64)
        s = 1.0 / max(n, 1.0)
        return [(a * s).astype(a.dtype), (b * s).astype(b.dtype), n.astype(a.dtype)]

    return [
        Case(lambda a, b: tf.global_norm([a, b]), [a, b], ref_norm, name="global_norm"),
        Case(build_clip, [a, b], ref_clip, name="clip_by_global_norm"),
    ]
