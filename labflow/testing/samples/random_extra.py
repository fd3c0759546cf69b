"""Sweep samples for RandomGamma (+ RandomGammaGrad), RandomPoissonV2 and the stateless random ops.

The stateless ops have exact references: a plain-Python Philox4x32-10 (one block at a time, Python
ints), written independently of the vectorised labflow/ops/philox.py, with TF's bits-to-float rules.
Stateful samplers are checked through deterministic facts (same seed -> same numbers, shapes, ranges,
moments); tests/ops/test_random_extra_ops.py has the statistical tests and TensorFlow's own values.
"""

from __future__ import annotations

import struct

import numpy as np

import labflow as tf
from labflow import dtypes as _dt
from labflow.ops import random_extra_ops as rx
from labflow.ops.common import make_tensor
from labflow.testing.op_sweep import Case, samples

_M32 = 0xFFFFFFFF


def _philox_block(ctr: list, key: list) -> list:
    c, k = list(ctr), list(key)
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [((p1 >> 32) ^ c[1] ^ k[0]) & _M32, p1 & _M32, ((p0 >> 32) ^ c[3] ^ k[1]) & _M32, p0 & _M32]
        k = [(k[0] + 0x9E3779B9) & _M32, (k[1] + 0xBB67AE85) & _M32]
    return c


def ref_key_counter(seed) -> tuple[list, list]:
    s0, s1 = (int(v) & 0xFFFFFFFFFFFFFFFF for v in np.asarray(seed).reshape(-1))
    mix = _philox_block([s0 & _M32, s0 >> 32, s1 & _M32, s1 >> 32], [0x3EC8F720, 0x02461E29])
    return mix[:2], [0, 0, mix[2], mix[3]]


def ref_bits(seed, n_blocks: int, start: int = 0, stride: int = 1) -> list:
    """The uint32 words of Philox blocks counter + start + i * stride (128-bit counter arithmetic)."""
    key, ctr = ref_key_counter(seed)
    base = sum(w << (32 * i) for i, w in enumerate(ctr))
    out = []
    for i in range(n_blocks):
        c = (base + start + i * stride) % (1 << 128)
        out.extend(_philox_block([(c >> (32 * j)) & _M32 for j in range(4)], key))
    return out


def _f32(x: int) -> float:
    return struct.unpack("<f", struct.pack("<I", (x & 0x7FFFFF) | 0x3F800000))[0] - 1.0


def _f64(x0: int, x1: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", ((x0 & 0xFFFFF) << 32) | x1 | (1023 << 52)))[0] - 1.0


def ref_uniform(seed, n: int, dtype) -> np.ndarray:
    if dtype == np.float64:
        w = ref_bits(seed, -(-n // 2))
        return np.array([_f64(w[2 * i], w[2 * i + 1]) for i in range(n)])
    w = ref_bits(seed, -(-n // 4))[:n]
    if dtype == np.float16:
        return np.array([np.frombuffer(struct.pack("<H", (x & 0x3FF) | (15 << 10)), np.float16)[0] - 1 for x in w],
                        np.float16)
    if dtype == _dt.bfloat16.as_numpy_dtype:
        return np.array([_f32(((x & 0x7F) << 16) | 0x3F800000) for x in w]).astype(dtype)
    return np.array([_f32(x) for x in w], np.float32)


def ref_normal64(seed, n: int) -> np.ndarray:
    w = ref_bits(seed, -(-n // 2))
    out = []
    for i in range(0, len(w), 4):
        u1 = max(_f64(w[i], w[i + 1]), 1e-7)
        v1 = 2 * np.pi * _f64(w[i + 2], w[i + 3])
        r = np.sqrt(-2 * np.log(u1))
        out += [np.sin(v1) * r, np.cos(v1) * r]
    return np.array(out[:n])


SEED = np.array([7, -3], np.int64)


# -- stateless ops ----------------------------------------------------------------------------------
@samples("StatelessRandomUniform")
def _stateless_uniform():
    def build(s, z):
        return rx.stateless_random_uniform([3, 5], s, dtype=z.dtype) + z

    def build_range(s, z):
        return rx.stateless_random_uniform([7], s, minval=-2.0, maxval=3.0, dtype=z.dtype) + z

    f16 = (_dt.float16, _dt.bfloat16, _dt.float32, _dt.float64)
    return [Case(build, [SEED, np.zeros(())], lambda s, z: ref_uniform(s, 15, z.dtype).reshape(3, 5).astype(z.dtype),
                 dtypes=f16, grad=False, rtol=0, atol=0, name="unit"),
            Case(build_range, [np.array([1, 2], np.int32), np.zeros(())],
                 lambda s, z: (ref_uniform(s, 7, z.dtype).astype(np.float64) * 5 - 2).astype(z.dtype),
                 dtypes=(_dt.float32, _dt.float64), grad=False, name="range_int32_seed")]


@samples("StatelessRandomUniformInt")
def _stateless_uniform_int():
    def ref32(s):
        return (np.array(ref_bits(s, 3)[:10], np.uint64) % 1010).astype(np.int64) - 10

    def ref64(s):
        w = ref_bits(s, 3)
        bits = [w[2 * i] | (w[2 * i + 1] << 32) for i in range(5)]
        return np.array([b % (2**62 + 2**40) - 2**40 for b in bits], np.int64)
    return [Case(lambda s: rx.stateless_random_uniform([10], s, minval=-10, maxval=1000, dtype=tf.int32), [SEED],
                 lambda s: ref32(s).astype(np.int32), grad=False, name="int32"),
            Case(lambda s: rx.stateless_random_uniform([5], s, minval=-2**40, maxval=2**62, dtype=tf.int64), [SEED],
                 ref64, grad=False, name="int64")]


@samples("StatelessRandomUniformFullInt")
def _stateless_full_int():
    def ref(s, dtype):
        if np.dtype(dtype).itemsize == 4:
            return np.array(ref_bits(s, 2)[:6], np.uint32).view(dtype)
        w = ref_bits(s, 3)
        return np.array([w[2 * i] | (w[2 * i + 1] << 32) for i in range(6)], np.uint64).view(dtype)

    def build(dt):
        return lambda s: rx.stateless_random_uniform([2, 3], s, minval=None, maxval=None, dtype=dt)
    return [Case(build(dt), [SEED], lambda s, dt=dt: ref(s, dt.as_numpy_dtype).reshape(2, 3), grad=False,
                 name=dt.name) for dt in (tf.int32, tf.int64, tf.uint32, tf.uint64)]


@samples("StatelessRandomNormal")
def _stateless_normal():
    def build(s, z):
        return rx.stateless_random_normal([2, 5], s, dtype=z.dtype) + z

    def build_stats(s, z):
        x = tf.cast(rx.stateless_random_normal([20000], s, mean=3.0, stddev=2.0, dtype=z.dtype), tf.float32)
        m = tf.reduce_mean(x)
        return [tf.less(tf.abs(m - 3.0), 0.1), tf.less(tf.abs(tf.sqrt(tf.reduce_mean(tf.square(x - m))) - 2.0), 0.1)]
    # float64 is exact; float32 agrees to an ulp with a correctly rounded Box-Muller (TF's libm may differ)
    return [Case(build, [SEED, np.zeros(())], lambda s, z: ref_normal64(s, 10).reshape(2, 5),
                 dtypes=(_dt.float64,), grad=False, rtol=0, atol=0, name="exact_f64"),
            Case(build, [SEED, np.zeros(())], lambda s, z: _ref_normal32(s).reshape(2, 5),
                 dtypes=(_dt.float32,), grad=False, rtol=1e-6, atol=1e-6,
                 name="f32"),
            Case(build_stats, [SEED, np.zeros(())], lambda s, z: [np.array(True)] * 2,
                 dtypes=(_dt.float16, _dt.bfloat16, _dt.float32), grad=False, name="moments")]


def _ref_normal32(seed) -> np.ndarray:
    w = ref_bits(seed, 3)
    out = []
    for i in range(0, len(w), 2):
        u1 = max(_f32(w[i]), np.float32(1e-7))
        v1 = float(np.float32(2 * np.pi * _f32(w[i + 1])))
        r = np.sqrt(-2 * np.log(u1))
        out += [np.sin(v1) * r, np.cos(v1) * r]
    return np.array(out[:10], np.float32)


@samples("StatelessTruncatedNormal")
def _stateless_truncated():
    def ref(s, z):
        # TF: group i (2 doubles) reads its own stream at counter + 128 * i and keeps draws with |x| < 2
        out = []
        for g in range(4):
            vals, j = [], 0
            while len(vals) < 2:
                w = ref_bits(s, 1, start=128 * g + j)
                u1 = max(_f64(w[0], w[1]), 1e-7)
                v1 = 2 * np.pi * _f64(w[2], w[3])
                r = np.sqrt(-2 * np.log(u1))
                vals += [v for v in (np.sin(v1) * r, np.cos(v1) * r) if abs(v) < 2]
                j += 1
            out += vals[:2]
        return np.array(out[:7]) * 0.5 + 1.0

    def build(s, z):
        return rx.stateless_truncated_normal([7], s, mean=1.0, stddev=0.5, dtype=z.dtype) + z

    def build_range(s, z):
        x = rx.stateless_truncated_normal([4000], s, dtype=z.dtype)
        return [tf.less(tf.reduce_max(tf.abs(tf.cast(x, tf.float32))), 2.0 + 1e-2), tf.shape(x)]
    return [Case(build, [SEED, np.zeros(())], ref, dtypes=(_dt.float64,), grad=False, rtol=1e-15, atol=1e-15,
                 name="exact_f64"),
            Case(build_range, [SEED, np.zeros(())], lambda s, z: [np.array(True), np.array([4000], np.int32)],
                 dtypes=(_dt.float16, _dt.bfloat16, _dt.float32), grad=False, name="within_2_stddev")]


@samples("StatelessMultinomial")
def _stateless_multinomial():
    logits = np.full((3, 4), -50.0)
    logits[[0, 1, 2], [3, 0, 1]] = 0.0

    def build(lg, s):
        return [rx.stateless_multinomial(lg, 6, s), rx.stateless_categorical(lg, 6, s, dtype=tf.int32)]

    def build_same(lg, s):
        a = rx.stateless_multinomial(lg, 50, s)
        b = rx.stateless_multinomial(lg, 50, s)
        return [tf.reduce_all(tf.equal(a, b)), tf.reduce_min(a), tf.reduce_max(a)]
    want = np.repeat(np.array([[3], [0], [1]]), 6, axis=1)
    return [Case(build, [logits, SEED], lambda lg, s: [want, want.astype(np.int32)], grad=False, name="peaked"),
            Case(build_same, [np.zeros((2, 3)), SEED],
                 lambda lg, s: [np.array(True), np.array(0, np.int64), np.array(2, np.int64)], grad=False,
                 name="deterministic_covers_all")]


# -- RandomGamma / RandomGammaGrad ------------------------------------------------------------------
@samples("RandomGamma")
def _gamma():
    def build(alpha):
        a = tf.random_gamma([3000], alpha, dtype=alpha.dtype, seed=4)
        b = tf.random_gamma([3000], alpha, dtype=alpha.dtype, seed=4)
        return [a - b, tf.shape(a), tf.less(tf.reduce_max(tf.abs(tf.reduce_mean(a, 0) / alpha - 1.0)), 0.1)]

    def ref(alpha):
        return [np.zeros((3000,) + alpha.shape, alpha.dtype), np.array((3000,) + alpha.shape, np.int32),
                np.array(True)]

    def build_grad(alpha):
        # d E[sample] / d alpha = 1 (beta = 1): the implicit gradient averaged over many draws
        s = tf.random_gamma([4000], alpha, dtype=alpha.dtype, seed=9)
        return tf.less(tf.reduce_max(tf.abs(tf.gradients(tf.reduce_mean(s, 0), alpha)[0] - 1.0)), 0.1)
    return [Case(build, [np.array([0.5, 2.0, 7.0])], ref, dtypes=(_dt.float16, _dt.float32, _dt.float64), grad=False,
                 name="moments"),
            Case(build_grad, [np.array([[0.7, 3.0]])], lambda a: np.array(True), dtypes=(_dt.float32, _dt.float64),
                 grad=False, name="mean_gradient")]


@samples("RandomGammaGrad")
def _gamma_grad():
    from scipy import special

    def ref(alpha, x):
        # d x / d alpha at fixed CDF: -(dP/dalpha) / pdf, dP/dalpha by a wide central difference
        dt = alpha.dtype
        alpha, x = alpha.astype(np.float64), x.astype(np.float64)
        h = 1e-5 * alpha
        dp = (special.gammainc(alpha + h, x) - special.gammainc(alpha - h, x)) / (2 * h)
        pdf = np.exp((alpha - 1) * np.log(x) - x - special.gammaln(alpha))
        return (-dp / pdf).astype(dt)
    return [Case(lambda a, x: make_tensor("RandomGammaGrad", [a, x], {"T": a.dtype.base_dtype}),
                 [np.array([0.5, 2.0, 7.0, 3.0]), np.array([0.3, 1.5, 9.0, 0.01])], ref, grad=False, rtol=1e-4,
                 atol=1e-6, name="values")]


# -- RandomPoissonV2 --------------------------------------------------------------------------------
@samples("RandomPoissonV2")
def _poisson():
    def build(lam):
        a = tf.random_poisson(lam, [4000], dtype=lam.dtype, seed=2)
        b = tf.random_poisson(lam, [4000], dtype=lam.dtype, seed=2)
        m = tf.reduce_mean(a, 0)
        return [a - b, tf.shape(a), tf.less(tf.reduce_max(tf.abs(m - lam) / lam), 0.1)]

    def ref(lam):
        return [np.zeros((4000, 2), lam.dtype), np.array([4000, 2], np.int32), np.array(True)]

    def build_int(lam):
        a = tf.random_poisson(lam, [5], dtype=tf.int64, seed=3)
        return [tf.reduce_min(a), tf.shape(a)]
    return [Case(build, [np.array([1.5, 30.0])], ref, dtypes=(_dt.float16, _dt.float32, _dt.float64), grad=False,
                 name="moments"),
            Case(build_int, [np.zeros(3)], lambda lam: [np.array(0, np.int64), np.array([5, 3], np.int32)],
                 grad=False, name="zero_rate_int64")]
