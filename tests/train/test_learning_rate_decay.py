"""Learning-rate schedules: values vs the TF 1.x formulas as the global step advances."""

from __future__ import annotations

import math

import numpy as np
import pytest

import labflow as tf
from labflow.train.learning_rate_decay import (
    cosine_decay,
    exponential_decay,
    inverse_time_decay,
    natural_exp_decay,
    piecewise_constant,
    polynomial_decay,
)

STEPS = [0, 1, 5, 9, 10, 11, 25, 40]


def _values(make, dtype=tf.int64):
    step = tf.placeholder(dtype, [])
    out = make(step)
    with tf.Session() as s:
        return [float(s.run(out, {step: n})) for n in STEPS], out


def test_exponential_decay():
    got, t = _values(lambda gs: exponential_decay(0.1, gs, 10, 0.5))
    np.testing.assert_allclose(got, [0.1 * 0.5 ** (n / 10) for n in STEPS], rtol=1e-6)
    assert t.op.name == "ExponentialDecay" and t.dtype == tf.float32
    got, _ = _values(lambda gs: exponential_decay(0.1, gs, 10, 0.5, staircase=True))
    np.testing.assert_allclose(got, [0.1 * 0.5 ** (n // 10) for n in STEPS], rtol=1e-6)


def test_exponential_decay_float64_and_tensor_args():
    lr = tf.constant(0.2, tf.float64)
    got, t = _values(lambda gs: exponential_decay(lr, gs, tf.constant(4), tf.constant(0.9, tf.float64),
                                                  name="lr"))
    assert t.dtype == tf.float64 and t.op.name == "lr"
    np.testing.assert_allclose(got, [0.2 * 0.9 ** (n / 4) for n in STEPS], rtol=1e-12)


def test_global_step_required():
    for fn in (exponential_decay, inverse_time_decay, natural_exp_decay):
        with pytest.raises(ValueError, match="global_step is required"):
            fn(0.1, None, 10, 0.5)
    with pytest.raises(ValueError, match="global_step is required"):
        polynomial_decay(0.1, None, 10)


def test_inverse_time_and_natural_exp_decay():
    got, _ = _values(lambda gs: inverse_time_decay(0.1, gs, 5, 0.5))
    np.testing.assert_allclose(got, [0.1 / (1 + 0.5 * n / 5) for n in STEPS], rtol=1e-6)
    got, _ = _values(lambda gs: inverse_time_decay(0.1, gs, 5, 0.5, staircase=True))
    np.testing.assert_allclose(got, [0.1 / (1 + 0.5 * (n // 5)) for n in STEPS], rtol=1e-6)
    got, _ = _values(lambda gs: natural_exp_decay(0.1, gs, 5, 0.5))
    np.testing.assert_allclose(got, [0.1 * math.exp(-0.5 * n / 5) for n in STEPS], rtol=1e-6)


def test_polynomial_decay():
    got, _ = _values(lambda gs: polynomial_decay(0.1, gs, 10, end_learning_rate=0.01, power=2.0))
    want = [(0.1 - 0.01) * (1 - min(n, 10) / 10) ** 2 + 0.01 for n in STEPS]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    got, _ = _values(lambda gs: polynomial_decay(0.1, gs, 10, end_learning_rate=0.01, cycle=True))
    want = []
    for n in STEPS:
        steps = 10 * (1 if n == 0 else math.ceil(n / 10))
        want.append((0.1 - 0.01) * (1 - n / steps) + 0.01)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_cosine_decay():
    got, _ = _values(lambda gs: cosine_decay(0.1, gs, 20, alpha=0.1))
    want = [0.1 * (0.9 * 0.5 * (1 + math.cos(math.pi * min(n, 20) / 20)) + 0.1) for n in STEPS]
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_piecewise_constant():
    got, t = _values(lambda gs: piecewise_constant(gs, [5, 10], [1.0, 0.5, 0.1]))
    want = [1.0 if n <= 5 else 0.5 if n <= 10 else 0.1 for n in STEPS]
    np.testing.assert_allclose(got, want, rtol=1e-7)
    assert t.op.name == "PiecewiseConstant"
    got, _ = _values(lambda gs: piecewise_constant(gs, [9], [3, 7]), dtype=tf.int32)
    assert got == [3 if n <= 9 else 7 for n in STEPS]


def test_piecewise_constant_errors():
    gs = tf.placeholder(tf.int64, [])
    with pytest.raises(ValueError, match="1 less than"):
        piecewise_constant(gs, [1, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="Boundaries .* same dtype as x"):
        piecewise_constant(tf.placeholder(tf.float32, []), [1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="Values must have elements all with the same dtype"):
        piecewise_constant(gs, [1], [0.1, 2])


def test_decayed_rate_drives_an_optimizer():
    gs = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
    w = tf.Variable(1.0)
    lr = exponential_decay(1.0, gs, 1, 0.5, staircase=True)
    train = tf.train.GradientDescentOptimizer(lr).minimize(w * 1.0, global_step=gs)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        for _ in range(3):
            s.run(train)
        assert s.run(gs) == 3
        assert s.run(w) == pytest.approx(1.0 - (1.0 + 0.5 + 0.25))
