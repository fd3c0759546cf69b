"""cosine_decay_restarts, linear_cosine_decay, noisy_linear_cosine_decay, piecewise_constant_decay against
NumPy references (the restarts simulated period by period, not through TF's closed form)."""

import math

import numpy as np
import pytest

import labflow as tf


def _eval(fn, steps):
    tf.reset_default_graph()
    step = tf.placeholder(tf.int64, [])
    lr = fn(step)
    with tf.Session() as sess:
        return lr, [sess.run(lr, {step: s}) for s in steps]


def _sgdr(lr, step, first, t_mul, m_mul, alpha):
    start, period, scale = 0.0, float(first), 1.0
    while step >= start + period:
        start += period
        period *= t_mul
        scale *= m_mul
    frac = (step - start) / period
    return lr * ((1 - alpha) * scale * 0.5 * (1 + math.cos(math.pi * frac)) + alpha)


@pytest.mark.parametrize("t_mul,m_mul,alpha", [(2.0, 1.0, 0.0), (1.0, 0.5, 0.1), (1.5, 0.8, 0.05)])
def test_cosine_decay_restarts(t_mul, m_mul, alpha):
    steps = [0, 3, 9, 10, 11, 25, 29, 30, 47, 70, 100]
    lr, got = _eval(lambda s: tf.train.cosine_decay_restarts(0.1, s, 10, t_mul=t_mul, m_mul=m_mul, alpha=alpha),
                    steps)
    assert lr.op.name == "SGDRDecay" and lr.dtype == tf.float32
    want = [_sgdr(0.1, s, 10, t_mul, m_mul, alpha) for s in steps]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-7)


def _linear_cosine(lr, step, decay_steps, num_periods, alpha, beta, noise=0.0):
    step = min(step, decay_steps)
    linear = (decay_steps - step) / decay_steps + noise
    cosine = 0.5 * (1 + math.cos(math.pi * 2 * num_periods * step / decay_steps))
    return lr * ((alpha + linear) * cosine + beta)


@pytest.mark.parametrize("num_periods,alpha,beta", [(0.5, 0.0, 0.001), (2.0, 0.1, 0.01)])
def test_linear_cosine_decay(num_periods, alpha, beta):
    steps = [0, 1, 7, 50, 99, 100, 150]
    lr, got = _eval(lambda s: tf.train.linear_cosine_decay(0.5, s, 100, num_periods=num_periods, alpha=alpha,
                                                           beta=beta), steps)
    assert lr.op.name == "LinearCosineDecay"
    np.testing.assert_allclose(got, [_linear_cosine(0.5, s, 100, num_periods, alpha, beta) for s in steps],
                               rtol=1e-5, atol=1e-8)


def test_noisy_linear_cosine_decay_noise_statistics():
    tf.reset_default_graph()
    tf.set_random_seed(3)
    step = tf.placeholder(tf.int64, [])
    lr = tf.train.noisy_linear_cosine_decay(1.0, step, 100, initial_variance=1.0, variance_decay=0.55)
    assert lr.op.name == "NoisyLinearCosineDecay"
    with tf.Session() as sess:
        draws = np.array([sess.run(lr, {step: 30}) for _ in range(2000)])
        noiseless = tf.train.noisy_linear_cosine_decay(1.0, step, 100, initial_variance=0.0)
        assert sess.run(noiseless, {step: 30}) == pytest.approx(_linear_cosine(1.0, 30, 100, 0.5, 0.0, 0.001),
                                                               rel=1e-5)
    cosine = 0.5 * (1 + math.cos(math.pi * 30 / 100))
    mean = _linear_cosine(1.0, 30, 100, 0.5, 0.0, 0.001)
    std = math.sqrt(1.0 / (1 + 30) ** 0.55) * cosine  # the noise is scaled by the cosine factor
    assert abs(draws.mean() - mean) < 5 * std / math.sqrt(len(draws))
    assert draws.std() == pytest.approx(std, rel=0.1)


def test_piecewise_constant_decay_is_piecewise_constant():
    assert tf.train.piecewise_constant_decay is tf.train.piecewise_constant
    _, got = _eval(lambda s: tf.train.piecewise_constant_decay(s, [10, 20], [1.0, 0.5, 0.1]), [5, 10, 11, 25])
    np.testing.assert_allclose(got, [1.0, 1.0, 0.5, 0.1])


@pytest.mark.parametrize("fn", [
    lambda: tf.train.cosine_decay_restarts(0.1, None, 10),
    lambda: tf.train.linear_cosine_decay(0.1, None, 10),
    lambda: tf.train.noisy_linear_cosine_decay(0.1, None, 10),
])
def test_global_step_is_required(fn):
    with pytest.raises(ValueError, match="global_step is required"):
        fn()


def test_float64_learning_rate_keeps_its_dtype():
    tf.reset_default_graph()
    gs = tf.constant(5, tf.int64)
    lr = tf.train.cosine_decay_restarts(tf.constant(0.1, tf.float64), gs, 10)
    assert lr.dtype == tf.float64
    with tf.Session() as sess:
        assert sess.run(lr) == pytest.approx(_sgdr(0.1, 5, 10, 2.0, 1.0, 0.0), rel=1e-12)
