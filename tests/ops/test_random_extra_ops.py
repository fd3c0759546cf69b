"""random_gamma, random_poisson, the stateless random ops and tf.random.get_seed.

The TF_* constants are what TensorFlow returns for the same calls (recorded from TF 2.x's
tf.random.stateless_* and RandomGammaGrad); labflow's Philox must reproduce them.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import labflow as tf

# TensorFlow's values for seed [1, 2] (uniform float32 and float64, normal float64) and [3, 4].
TF_UNIFORM_F32 = [0.8440604209899902, 0.19204533100128174, 0.9962232112884521, 0.16038739681243896,
                  0.27199018001556396, 0.6493459939956665]
TF_UNIFORM_F64 = [0.7524837538451801, 0.9697857725627486, 0.17592233912897481, 0.8555556648693279,
                  0.514811871731222]
TF_INT32_3_4 = [77, 81, 42, 17, 29]  # stateless_uniform([5], [3, 4], minval=2, maxval=100, dtype=int32)
TF_INT64_3_4 = [590774480535, 891941980969, 823061968663]  # minval=-5, maxval=2**40
TF_TRUNC_F64_3_4 = [-0.33108455971554474, 0.027812399664981575, -0.3426617871510759, 0.7552056484940203,
                    -0.5822817890198345, -0.43863140118077787, -0.781986318355857]
TF_TRUNC_F32_3_4 = [-0.17393383383750916, 1.6723546981811523, 0.3481701612472534, -1.7038906812667847,
                    0.6385190486907959, -1.309924602508545, -0.010434313677251339]
TF_HALF_3_4 = [0.01074, 0.884, 0.658, 0.2021, 0.4443, 0.9365]
TF_BF16_3_4 = [0.0859375, 0.0703125, 0.265625, 0.617188, 0.554688, 0.492188]


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


# -- stateless: TensorFlow's numbers ------------------------------------------------------------------
def test_stateless_uniform_matches_tensorflow():
    f32, f64 = _run([tf.random.stateless_uniform([6], seed=[1, 2]),
                     tf.random.stateless_uniform([5], seed=[1, 2], dtype=tf.float64)])
    np.testing.assert_array_equal(f32, np.array(TF_UNIFORM_F32, np.float32))
    np.testing.assert_array_equal(f64, np.array(TF_UNIFORM_F64))
    half, bf16 = _run([tf.random.stateless_uniform([6], seed=[3, 4], dtype=tf.float16),
                       tf.random.stateless_uniform([6], seed=[3, 4], dtype=tf.bfloat16)])
    np.testing.assert_array_equal(half, np.array(TF_HALF_3_4, np.float16))
    np.testing.assert_allclose(bf16.astype(np.float64), TF_BF16_3_4, rtol=1e-5)


def test_split_fold_in_and_full_range_ints_match_tensorflow():
    s64, s32, f = _run([tf.random.split(tf.constant([1, 2], tf.int64), 3), tf.random.split([1, 2], 2),
                        tf.random.fold_in([1, 2], 7)])
    assert s64.dtype == np.int64 and s64.tolist() == [[7464880146280614444, 1591045637757961278],
                                                      [-1057468755545501549, 2524363516007002203],
                                                      [6884554327646026923, -2336856294065325742]]
    assert s32.dtype == np.int32 and s32.tolist() == [[1105988140, 1738052849], [-335576002, 370444179]]
    assert f.tolist() == [1105988140, 7]
    full = tf.random.stateless_uniform([4], [1, 2], minval=None, maxval=None, dtype=tf.uint32)
    assert full.op.type == "StatelessRandomUniformFullInt"
    assert _run(full).tolist() == [1105988140, 1738052849, 3959391294, 370444179]
    with pytest.raises(ValueError, match="full integer range"):
        tf.random.stateless_uniform([4], [1, 2], minval=None, maxval=None, dtype=tf.int8)


def test_stateless_uniform_int_matches_tensorflow():
    i32, i64 = _run([tf.random.stateless_uniform([5], seed=[3, 4], minval=2, maxval=100, dtype=tf.int32),
                     tf.random.stateless_uniform([3], seed=[3, 4], minval=-5, maxval=2**40, dtype=tf.int64)])
    assert i32.dtype == np.int32 and i32.tolist() == TF_INT32_3_4
    assert i64.dtype == np.int64 and i64.tolist() == TF_INT64_3_4


def test_stateless_truncated_normal_matches_tensorflow():
    f64, f32 = _run([tf.random.stateless_truncated_normal([7], seed=[3, 4], dtype=tf.float64),
                     tf.random.stateless_truncated_normal([7], seed=[3, 4])])
    np.testing.assert_array_equal(f64, TF_TRUNC_F64_3_4)
    np.testing.assert_allclose(f32, TF_TRUNC_F32_3_4, rtol=3e-7)  # float32: TF's libm, to an ulp


def test_stateless_normal_is_scaled_and_deterministic_across_sessions_and_processes():
    t = tf.random.stateless_normal([4, 3], seed=[5, 6], mean=2.0, stddev=3.0, dtype=tf.float64)
    base = tf.random.stateless_normal([4, 3], seed=[5, 6], dtype=tf.float64)
    a = _run([t, base])
    b = _run(t)
    np.testing.assert_array_equal(a[0], b)
    np.testing.assert_allclose(a[0], a[1] * 3 + 2, rtol=1e-15)
    code = ("import labflow as tf\nwith tf.Session() as s: print(repr(s.run(tf.random.stateless_normal([4, 3], "
            "seed=[5, 6], mean=2.0, stddev=3.0, dtype=tf.float64)).tolist()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert eval(out) == b.tolist()  # noqa: S307 - our own subprocess printed a list of floats


def test_stateless_different_seeds_differ_and_seed_tensors_work():
    seed = tf.placeholder(tf.int64, [2])
    t = tf.random.stateless_uniform([100], seed=seed)
    with tf.Session() as sess:
        a = sess.run(t, {seed: [1, 2]})
        b = sess.run(t, {seed: [1, 3]})
        c = sess.run(t, {seed: [2, 2]})
        again = sess.run(t, {seed: [1, 2]})
    assert not np.array_equal(a, b) and not np.array_equal(a, c)
    np.testing.assert_array_equal(a, again)
    # an int32 seed means the same numbers as the int64 one (TF sign-extends it)
    i32 = _run(tf.random.stateless_uniform([6], seed=tf.constant([1, 2], tf.int32)))
    np.testing.assert_array_equal(i32, np.array(TF_UNIFORM_F32, np.float32))


def test_stateless_statistics():
    u, n, tn = _run([tf.random.stateless_uniform([100_000], seed=[9, 9], minval=-1.0, maxval=3.0),
                     tf.random.stateless_normal([100_000], seed=[9, 9]),
                     tf.random.stateless_truncated_normal([100_000], seed=[9, 9], stddev=2.0)])
    assert u.min() >= -1 and u.max() < 3 and abs(u.mean() - 1.0) < 0.02
    assert abs(n.mean()) < 0.02 and abs(n.std() - 1) < 0.02
    assert np.abs(tn).max() <= 4.0 and abs(tn.std() - 2 * 0.8796) < 0.02  # std of N(0,1) cut at 2: 0.8796


def test_stateless_categorical():
    logits = np.log(np.array([[0.2, 0.3, 0.5], [0.9, 0.05, 0.05]], np.float32))
    s = tf.random.stateless_categorical(logits, 20000, seed=[4, 2])
    assert s.dtype == tf.int64 and s.get_shape().as_list() == [2, 20000] and s.op.type == "StatelessMultinomial"
    m = tf.random.stateless_multinomial(logits, 20000, seed=[4, 2], output_dtype=tf.int32)
    a, b, again = _run([s, m, s])
    np.testing.assert_array_equal(a, again)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.bincount(a[0], minlength=3) / 20000, [0.2, 0.3, 0.5], atol=0.02)
    np.testing.assert_allclose(np.bincount(a[1], minlength=3) / 20000, [0.9, 0.05, 0.05], atol=0.02)


def test_stateless_errors():
    with pytest.raises(ValueError, match=r"shape \[2\]"):
        tf.random.stateless_uniform([3], seed=[1, 2, 3])
    with pytest.raises(TypeError, match="int32 or int64"):
        tf.random.stateless_normal([3], seed=tf.constant([1.0, 2.0]))
    with pytest.raises(ValueError, match="maxval"):
        tf.random.stateless_uniform([3], seed=[1, 2], dtype=tf.int32)
    with pytest.raises(ValueError, match="invalid dtype"):
        tf.random.stateless_uniform([3], seed=[1, 2], dtype=tf.string)
    with pytest.raises(tf.errors.InvalidArgumentError, match="minval < maxval"):
        _run(tf.random.stateless_uniform([3], seed=[1, 2], minval=5, maxval=5, dtype=tf.int32))
    seed = tf.placeholder(tf.int64, [None])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"shape \[2\]"):
        _run(tf.random.stateless_uniform([3], seed=seed), {seed: [1, 2, 3]})


def test_stateless_op_types_and_not_differentiable():
    x = tf.random.stateless_uniform([2], seed=[1, 2])
    ops = {o.type for o in tf.get_default_graph().get_operations()}
    assert {"StatelessRandomUniform"} <= ops
    assert tf.random.stateless_truncated_normal([2], seed=[1, 2]).op.inputs[0].op.inputs[0].op.type == \
        "StatelessTruncatedNormal"
    assert x.get_shape().as_list() == [2]
    from labflow.framework import registry
    for t in ("StatelessRandomUniform", "StatelessRandomNormal", "StatelessTruncatedNormal",
              "StatelessRandomUniformInt", "StatelessMultinomial", "RandomPoissonV2"):
        assert not registry.get(t).differentiable, t
    assert registry.get("RandomGamma").differentiable


# -- random_gamma -----------------------------------------------------------------------------------
def test_random_gamma_shape_moments_and_beta():
    alpha = tf.constant([0.5, 2.0, 7.0])
    s = tf.random_gamma([20000], alpha, seed=3)
    r = tf.random.gamma([20000, 2], [[1.0], [4.0]], beta=[2.0, 0.5], seed=3)
    assert s.get_shape().as_list() == [20000, 3] and r.get_shape().as_list() == [20000, 2, 2, 2]
    sv, rv = _run([s, r])
    np.testing.assert_allclose(sv.mean(0), [0.5, 2.0, 7.0], rtol=0.05)
    np.testing.assert_allclose(sv.var(0), [0.5, 2.0, 7.0], rtol=0.1)
    np.testing.assert_allclose(rv.mean((0, 1)), [[0.5, 2.0], [2.0, 8.0]], rtol=0.05)
    assert sv.min() > 0


def test_random_gamma_seed_rules():
    tf.set_random_seed(7)
    a = tf.random_gamma([5], 2.0)
    b = tf.random_gamma([5], 2.0, seed=1)
    av, bv = _run([a, b])
    av2, bv2 = _run([a, b])
    np.testing.assert_array_equal(av, av2)
    np.testing.assert_array_equal(bv, bv2)
    assert not np.array_equal(av, bv)


def test_random_gamma_gradient_is_implicit_reparameterisation():
    alpha = tf.constant([0.5, 2.0, 7.0, 3.0], tf.float64)
    s = tf.random_gamma([50000], alpha, dtype=tf.float64, seed=5)
    g = tf.gradients(tf.reduce_mean(s, 0), alpha)[0]
    gv = _run(g)
    np.testing.assert_allclose(gv, 1.0, atol=0.03)  # d E[x] / d alpha = 1 for beta = 1
    beta = tf.constant(2.0, tf.float64)
    gb = tf.gradients(tf.reduce_mean(tf.random_gamma([50000], 3.0, beta=beta, dtype=tf.float64, seed=5)), beta)[0]
    assert abs(_run(gb) + 3.0 / 4.0) < 0.03  # E[x] = alpha / beta


def test_random_gamma_grad_matches_tensorflow():
    from labflow.ops.common import make_tensor
    a = tf.constant([0.5, 2.0, 7.0, 3.0])
    x = tf.constant([0.3, 1.5, 9.0, 0.01])
    got = _run(make_tensor("RandomGammaGrad", [a, x], {"T": tf.float32}))
    np.testing.assert_allclose(got, [1.0098021, 0.93663883, 1.1581846, 0.01958866], rtol=2e-6)
    # float64, including the far upper tail where P(alpha, x) is 1 to double precision
    a64 = tf.constant([0.5, 2.0, 7.0, 3.0, 0.5, 2.0], tf.float64)
    x64 = tf.constant([0.3, 1.5, 9.0, 0.01, 30.0, 60.0], tf.float64)
    got = _run(make_tensor("RandomGammaGrad", [a64, x64], {"T": tf.float64}))
    np.testing.assert_allclose(got, [1.00980195, 0.93663907, 1.15818492, 0.01958866, 5.31073216, 3.74969286],
                               rtol=1e-7)


def test_random_gamma_errors():
    with pytest.raises(ValueError, match="floating point"):
        tf.random_gamma([2], 1.0, dtype=tf.int32)
    out = _run(tf.random_gamma([3], [-1.0, 1.0], seed=1))
    assert np.isnan(out[:, 0]).all() and (out[:, 1] > 0).all()


# -- random_poisson ---------------------------------------------------------------------------------
def test_random_poisson():
    p = tf.random_poisson([1.0, 20.0], [20000], seed=2)
    assert p.op.type == "RandomPoissonV2" and p.dtype == tf.float32 and p.get_shape().as_list() == [20000, 2]
    q = tf.random.poisson([[3.0]], [10], dtype=tf.int32, seed=2)
    pv, qv = _run([p, q])
    np.testing.assert_allclose(pv.mean(0), [1.0, 20.0], rtol=0.05)
    assert qv.dtype == np.int32 and qv.shape == (10, 1, 1)
    np.testing.assert_array_equal(pv, np.round(pv))
    lam = tf.constant([2.0])
    assert tf.gradients(tf.random_poisson(lam, [3]), lam)[0] is None


def test_random_poisson_errors():
    with pytest.raises(TypeError, match="dtype"):
        tf.random_poisson([1.0], [2], dtype=tf.string)
    assert np.isnan(_run(tf.random_poisson([-1.0], [2], seed=1))).all()


# -- get_seed -------------------------------------------------------------------------------------
def test_get_seed_rules():
    assert tf.random.get_seed(None) == (None, None)
    assert tf.random.get_seed(5) == (87654321, 5)
    tf.set_random_seed(3)
    g, o = tf.random.get_seed(None)
    assert g == 3 and isinstance(o, int)
    assert tf.get_seed(0) == (3, 0)
    tf.set_random_seed(0)
    assert tf.get_seed(0) == (0, 2**31 - 1)
