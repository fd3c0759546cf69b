"""Sweep samples for the random ops.

Random values have no exact reference, so every case outputs deterministic facts computed by ops:
two ops with the same seeds in one graph draw the same numbers (their difference is exactly 0, which
also checks dtype and static shape), the dynamic shape, and range/moment checks as booleans. The
statistical tests on 100k samples, determinism across sessions and processes, and the seed rules
are in tests/ops/test_random_ops.py.
"""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow import dtypes as _dt
from labflow.testing.op_sweep import Case, samples

FLOATS = (_dt.float16, _dt.bfloat16, _dt.float32, _dt.float64)
SHAPE = [64, 50]


def _pair(fn, z, **kw):
    """Two ops with the same explicit seed (so the same numbers), plus the scalar input z (0)."""
    a = fn(SHAPE, dtype=z.dtype, seed=11, **kw)
    b = fn(SHAPE, dtype=z.dtype, seed=11, **kw)
    return a + z, b


def _f32(t):
    return tf.cast(t, tf.float32)


def _facts(want):
    return lambda z: [np.zeros(SHAPE, z.dtype), np.array(SHAPE, np.int32)] + [np.array(True)] * want


@samples("RandomStandardNormal")
def _normal():
    def build(z):
        a, b = _pair(tf.random_normal, z)
        m = tf.reduce_mean(_f32(a))
        sd = tf.sqrt(tf.reduce_mean(tf.square(_f32(a) - m)))
        return [a - b, tf.shape(a), tf.less(tf.abs(m), 0.1), tf.less(tf.abs(sd - 1.0), 0.1)]

    def build_scaled(z):
        a, b = _pair(tf.random_normal, z, mean=5.0, stddev=0.5)
        m = tf.reduce_mean(_f32(a))
        return [a - b, tf.shape(a), tf.less(tf.abs(m - 5.0), 0.1)]

    return [Case(build, [np.zeros(())], _facts(2), dtypes=FLOATS, grad=False, name="standard"),
            Case(build_scaled, [np.zeros(())], _facts(1), dtypes=FLOATS, grad=False, name="mean_stddev")]


@samples("TruncatedNormal")
def _truncated():
    def build(z):
        a, b = _pair(tf.truncated_normal, z, mean=1.0, stddev=3.0)
        dev = tf.reduce_max(tf.abs(_f32(a) - 1.0))
        return [a - b, tf.shape(a), tf.less_equal(dev, 6.0 + 1e-2), tf.greater(dev, 4.0),
                tf.less(tf.abs(tf.reduce_mean(_f32(a)) - 1.0), 0.3)]

    return [Case(build, [np.zeros(())], _facts(3), dtypes=FLOATS, grad=False, name="mean_stddev")]


@samples("RandomUniform")
def _uniform():
    def build(z):
        a, b = _pair(tf.random_uniform, z)
        return [a - b, tf.shape(a), tf.greater_equal(tf.reduce_min(a), tf.zeros((), z.dtype)),
                tf.less(tf.reduce_max(a), tf.ones((), z.dtype)),
                tf.less(tf.abs(tf.reduce_mean(_f32(a)) - 0.5), 0.05)]

    def build_range(z):
        a, b = _pair(tf.random_uniform, z, minval=-2.0, maxval=3.0)
        return [a - b, tf.shape(a), tf.greater_equal(_f32(tf.reduce_min(a)), -2.0),
                tf.less_equal(_f32(tf.reduce_max(a)), 3.0)]

    return [Case(build, [np.zeros(())], _facts(3), dtypes=FLOATS, grad=False, name="unit"),
            Case(build_range, [np.zeros(())], _facts(2), dtypes=FLOATS, grad=False, name="range")]


@samples("RandomUniformInt")
def _uniform_int():
    def build(lo, hi):
        a = tf.random_uniform(SHAPE, minval=lo, maxval=hi, dtype=lo.dtype, seed=5)
        b = tf.random_uniform(SHAPE, minval=lo, maxval=hi, dtype=lo.dtype, seed=5)
        return [a - b, tf.shape(a), tf.equal(tf.reduce_min(a), lo), tf.equal(tf.reduce_max(a), hi - 1)]

    def ref(lo, hi):
        return [np.zeros(SHAPE, lo.dtype), np.array(SHAPE, np.int32), np.array(True), np.array(True)]

    # 3200 draws from 10 values: every value (min and max included) appears.
    return [Case(build, [np.array(-3, np.int32), np.array(7, np.int32)], ref, grad=False, name="int32"),
            Case(build, [np.array(-3, np.int64), np.array(7, np.int64)], ref, grad=False, name="int64")]


@samples("RandomShuffle")
def _shuffle():
    x = np.random.RandomState(0).permutation(40).astype(np.float64).reshape(20, 2)

    def build(v):
        a = tf.random_shuffle(v, seed=3)
        b = tf.random_shuffle(v, seed=3)
        # Rows move as a whole: column sums and per-row differences survive the shuffle.
        diff = tf.reduce_sum(a * tf.constant([1, -1], dtype=v.dtype), 1)
        return [a - b, tf.reduce_sum(a, 0), tf.reduce_sum(tf.abs(diff))]

    def ref(v):
        return [np.zeros_like(v), v.sum(0), np.abs(v[:, 1] - v[:, 0]).sum()]

    def build_int(v):
        return [tf.reduce_sum(tf.random_shuffle(v, seed=1))]

    return [Case(build, [x], ref, dtypes=FLOATS, grad=False, name="rows"),
            Case(build_int, [np.arange(10, dtype=np.int32)], lambda v: [np.array(45, np.int32)], grad=False,
                 name="int32")]


@samples("Multinomial")
def _multinomial():
    # Each row puts (almost) all mass on one class, so every draw is that class.
    logits = np.full((3, 5), -60.0)
    logits[[0, 1, 2], [4, 0, 2]] = 0.0

    def build(lg):
        a = tf.multinomial(lg, 7, seed=2)
        b = tf.multinomial(lg, 7, seed=2, output_dtype=tf.int32)
        return [a, b]

    def ref(lg):
        want = np.repeat(np.array([[4], [0], [2]]), 7, axis=1)
        return [want.astype(np.int64), want.astype(np.int32)]

    def build_uniform(lg):
        s = tf.multinomial(lg, 2000, seed=9)
        return [tf.reduce_min(s), tf.reduce_max(s)]

    return [Case(build, [logits], ref, dtypes=(_dt.float16, _dt.float32, _dt.float64), grad=False,
                 name="peaked"),
            Case(build_uniform, [np.zeros((2, 3))], lambda lg: [np.array(0, np.int64), np.array(2, np.int64)],
                 grad=False, name="uniform_covers_all")]
