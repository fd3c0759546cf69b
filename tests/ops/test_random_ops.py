"""Random ops: shapes/dtypes, distributions on 100k samples, TF1 seed rules, determinism."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import labflow as tf
from labflow.ops import random_ops

N = 100_000


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


# -- shapes and dtypes ------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [tf.random_normal, tf.truncated_normal, tf.random_uniform])
@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16, tf.float32, tf.float64])
def test_float_shapes_and_dtypes(fn, dtype):
    t = fn([2, 3], dtype=dtype)
    assert t.dtype == dtype and t.get_shape().as_list() == [2, 3]
    v = _run(t)
    assert v.shape == (2, 3) and v.dtype == dtype.as_numpy_dtype


def test_shape_arguments():
    assert tf.random_normal(tf.TensorShape([4, 1])).get_shape().as_list() == [4, 1]
    assert tf.random_uniform([]).get_shape().as_list() == []
    assert tf.random_uniform((0, 3)).get_shape().as_list() == [0, 3]
    s = tf.placeholder(tf.int32, [2])
    t = tf.random_normal(s)
    assert t.get_shape().as_list() == [None, None]
    assert _run(t, {s: [3, 5]}).shape == (3, 5)
    assert _run(tf.random_uniform(tf.constant([2, 2], tf.int64))).shape == (2, 2)
    with pytest.raises(ValueError, match="rank 1"):
        tf.random_normal(tf.constant([[1, 2]]))
    with pytest.raises(ValueError, match="floating point"):
        tf.random_normal([2], dtype=tf.int32)
    with pytest.raises(ValueError, match="non-negative"):
        tf.random_uniform([-1, 2])


def test_default_names_like_tf():
    assert tf.random_normal([2]).op.name == "random_normal"
    g = tf.get_default_graph()
    assert g.get_operation_by_name("random_normal/RandomStandardNormal").type == "RandomStandardNormal"
    assert tf.truncated_normal([2]).op.name == "truncated_normal"
    assert tf.random_uniform([2]).op.name == "random_uniform"
    assert g.get_operation_by_name("random_uniform/RandomUniform").type == "RandomUniform"
    ri = tf.random_uniform([2], maxval=4, dtype=tf.int64)
    assert ri.op.type == "RandomUniformInt" and ri.op.name == "random_uniform_1"
    assert ri.op.get_attr("Tout") == tf.int64
    assert tf.random_shuffle([1, 2]).op.name == "RandomShuffle"


def test_integer_uniform():
    t = tf.random_uniform([N], minval=-5, maxval=5, dtype=tf.int32, seed=1)
    assert t.dtype == tf.int32
    v = _run(t)
    assert v.dtype == np.int32 and v.min() == -5 and v.max() == 4
    counts = np.bincount(v + 5, minlength=10)
    assert np.all(np.abs(counts / N - 0.1) < 0.005)
    with pytest.raises(ValueError, match="Must specify maxval for integer dtype int32"):
        tf.random_uniform([2], dtype=tf.int32)
    with pytest.raises(ValueError, match="Invalid dtype"):
        tf.random_uniform([2], maxval=3, dtype=tf.int8)
    bad = tf.random_uniform([2], minval=3, maxval=3, dtype=tf.int64)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Need minval < maxval: 3 >= 3"):
        _run(bad)


# -- distributions ----------------------------------------------------------------------------------
def test_normal_moments():
    v = _run(tf.random_normal([N], mean=2.0, stddev=3.0, dtype=tf.float64, seed=1))
    assert abs(v.mean() - 2.0) < 0.03 and abs(v.std() - 3.0) < 0.03
    assert abs(((v - 2.0) / 3.0 > 2).mean() - 0.02275) < 0.003  # tails are not truncated


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64, tf.float16])
def test_truncated_normal_bound_and_moments(dtype):
    v = _run(tf.truncated_normal([N], mean=1.0, stddev=2.0, dtype=dtype, seed=2)).astype(np.float64)
    z = (v - 1.0) / 2.0
    assert np.abs(z).max() <= 2.0 + 1e-3
    assert np.abs(z).max() > 1.99
    assert abs(z.mean()) < 0.01
    assert abs(z.std() - 0.87962) < 0.01  # std of N(0, 1) truncated to [-2, 2]


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16, tf.float32, tf.float64])
def test_uniform_range_and_moments(dtype):
    v = _run(tf.random_uniform([N], dtype=dtype, seed=3)).astype(np.float64)
    assert v.min() >= 0.0 and v.max() < 1.0
    assert abs(v.mean() - 0.5) < 0.01 and abs(v.var() - 1 / 12) < 0.005
    w = _run(tf.random_uniform([N], minval=-3.0, maxval=-1.0, dtype=dtype, seed=3)).astype(np.float64)
    assert w.min() >= -3.0 and w.max() <= -1.0 and abs(w.mean() + 2.0) < 0.02


def test_random_shuffle_permutes_rows():
    x = np.arange(1000).reshape(500, 2)
    v = _run(tf.random_shuffle(x, seed=4))
    assert v.shape == x.shape and (v[:, 1] - v[:, 0] == 1).all()
    assert sorted(v[:, 0].tolist()) == x[:, 0].tolist() and not (v == x).all()
    assert _run(tf.random_shuffle(7)) == 7


def test_multinomial_frequencies():
    p = np.array([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]])
    with np.errstate(divide="ignore"):
        logits = np.log(p)
    s = tf.multinomial(logits, N // 2, seed=5)
    assert s.dtype == tf.int64 and s.get_shape().as_list() == [2, N // 2]
    v = _run(s)
    for row, want in zip(v, p):
        np.testing.assert_allclose(np.bincount(row, minlength=3) / row.size, want, atol=0.01)
    assert (v[1] != 2).all()  # probability 0 is never drawn
    assert _run(tf.multinomial(logits, 0)).shape == (2, 0)


# -- seeds ------------------------------------------------------------------------------------------
def test_get_seed_rules():
    g = tf.get_default_graph()
    assert random_ops.get_seed(None) == (None, None)
    assert random_ops.get_seed(5) == (random_ops.DEFAULT_GRAPH_SEED, 5)
    tf.set_random_seed(7)
    assert g.seed == 7
    tf.constant(1.0)
    assert random_ops.get_seed(None) == (7, g._next_id)
    assert random_ops.get_seed(3) == (7, 3)
    tf.set_random_seed(0)
    assert random_ops.get_seed(0) == (0, 2**31 - 1)  # (0, 0) would mean "nondeterministic"
    tf.set_random_seed(2**31 + 4)
    assert random_ops.get_seed(2**32) == (5, 2)  # truncated to int32 range like TF


def test_graph_seed_derives_op_seed_from_op_count():
    tf.set_random_seed(42)
    t = tf.random_normal([3])
    op = tf.get_default_graph().get_operation_by_name("random_normal/RandomStandardNormal")
    assert op.get_attr("seed") == 42
    # TF's graph._last_id: the id of the op created just before (the stddev constant).
    assert op.get_attr("seed2") == tf.get_default_graph().get_operation_by_name("random_normal/stddev")._id
    tf.random_normal([3])
    unseeded = tf.get_default_graph().get_operation_by_name("random_normal_1/RandomStandardNormal")
    assert unseeded.get_attr("seed2") != op.get_attr("seed2")
    assert tf.random_uniform([1], seed=9).op.inputs[0].op.inputs[0].op.get_attr("seed2") == 9
    assert t is not None


def _program(extra_ops: int = 0) -> list:
    g = tf.Graph()
    with g.as_default():
        tf.set_random_seed(1234)
        for _ in range(extra_ops):
            tf.constant(0)
        ts = [tf.random_normal([4]), tf.truncated_normal([4]), tf.random_uniform([4]),
              tf.random_uniform([4], maxval=100, dtype=tf.int32), tf.random_shuffle(np.arange(8)),
              tf.multinomial(np.zeros((1, 5)), 6)]
    with tf.Session(graph=g) as sess:
        return [sess.run(ts), sess.run(ts)]


def test_same_program_same_numbers_in_every_session():
    a, b = _program(), _program()
    for x, y in zip(a[0] + a[1], b[0] + b[1]):
        np.testing.assert_array_equal(x, y)
    # Successive runs in one session continue the sequence.
    for x, y in zip(a[0][:4], a[1][:4]):
        assert not np.array_equal(x, y)
    # One more op before the random ops shifts every derived op seed.
    c = _program(extra_ops=1)
    assert not np.array_equal(a[0][0], c[0][0])


def test_same_numbers_in_a_new_session_on_one_graph():
    t = tf.random_uniform([5], seed=8)
    with tf.Session() as s1:
        a1, a2 = s1.run(t), s1.run(t)
    with tf.Session() as s2:
        b1 = s2.run(t)
    np.testing.assert_array_equal(a1, b1)
    assert not np.array_equal(a1, a2)


def test_same_op_seed_same_numbers_and_unseeded_differs():
    a, b = tf.random_normal([6], seed=3), tf.random_normal([6], seed=3)
    va, vb = _run([a, b])
    np.testing.assert_array_equal(va, vb)
    u = tf.random_normal([6])
    assert not np.array_equal(_run(u), _run(u))  # no seeds anywhere: fresh entropy per session


_CHILD = """
import labflow as tf, numpy as np
tf.set_random_seed(99)
ts = [tf.random_normal([3]), tf.random_uniform([3], seed=4), tf.truncated_normal([3], seed=5)]
with tf.Session() as s:
    print(repr(np.concatenate([np.ravel(v) for v in s.run(ts)]).tolist()))
"""


def test_same_numbers_in_a_separate_process():
    env = dict(os.environ, PYTHONHASHSEED="123")
    outs = []
    for _ in range(2):
        p = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, env=env,
                           timeout=120)
        assert p.returncode == 0, p.stderr
        outs.append(p.stdout.strip())
    assert outs[0] == outs[1] and len(eval(outs[0])) == 9
    env["PYTHONHASHSEED"] = "7"
    p = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, env=env, timeout=120)
    assert p.stdout.strip() == outs[0]


def test_random_ops_are_stateful_and_not_differentiable():
    x = tf.placeholder(tf.float32, [2])
    from labflow.framework import registry
    for t in ("RandomStandardNormal", "TruncatedNormal", "RandomUniform", "RandomUniformInt", "RandomShuffle",
              "Multinomial"):
        d = registry.get(t)
        assert d.stateful and not d.differentiable, t
    y = tf.random_shuffle(x)
    assert tf.gradients(y, x) == [None]
