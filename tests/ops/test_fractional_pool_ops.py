"""tf.nn.fractional_max_pool / fractional_avg_pool: cells, determinism, seeds, gradients and errors."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.ops.fractional_pool_ops import pooling_sequence

R = np.random.RandomState(9)


def _cells(seq, size, overlapping):
    return [(int(seq[i]), min(int(seq[i + 1]) + int(overlapping), size)) for i in range(len(seq) - 1)]


@pytest.mark.parametrize("pseudo", [False, True])
@pytest.mark.parametrize("overlapping", [False, True])
def test_pooling_over_the_returned_cells(pseudo, overlapping):
    x = R.rand(2, 10, 13, 3)
    out, rows, cols = tf.nn.fractional_max_pool(x, [1.0, 1.44, 1.73, 1.0], pseudo, overlapping)
    avg, arows, acols = tf.nn.fractional_avg_pool(x, [1.0, 1.44, 1.73, 1.0], pseudo, overlapping)
    assert out.get_shape().as_list() == [2, 6, 7, 3] and rows.get_shape().as_list() == [7]
    assert cols.dtype == tf.int64 and out.op.type == "FractionalMaxPool"
    with tf.Session() as s:
        o, r, c, a, ar, ac = s.run([out, rows, cols, avg, arows, acols])
    for seq, size, n in ((r, 10, 6), (c, 13, 7), (ar, 10, 6), (ac, 13, 7)):
        steps = np.diff(seq)
        assert seq[0] == 0 and seq[-1] == size and len(seq) == n + 1
        assert set(steps) <= {size // n, size // n + 1}  # floor or ceil of the ratio, never anything else
    want = [[x[:, r0:r1, c0:c1].max(axis=(1, 2)) for c0, c1 in _cells(c, 13, overlapping)]
            for r0, r1 in _cells(r, 10, overlapping)]
    np.testing.assert_allclose(o, np.array(want).transpose(2, 0, 1, 3))
    want = [[x[:, r0:r1, c0:c1].mean(axis=(1, 2)) for c0, c1 in _cells(ac, 13, overlapping)]
            for r0, r1 in _cells(ar, 10, overlapping)]
    np.testing.assert_allclose(a, np.array(want).transpose(2, 0, 1, 3))


def test_determinism_and_seeds():
    x = R.rand(1, 20, 20, 1)
    fixed = tf.nn.fractional_max_pool(x, [1, 1.5, 1.5, 1], deterministic=True, seed=1, seed2=2)[1]
    same_seeds = tf.nn.fractional_max_pool(x, [1, 1.5, 1.5, 1], deterministic=True, seed=1, seed2=2)[1]
    unseeded = tf.nn.fractional_max_pool(x, [1, 1.5, 1.5, 1], deterministic=True)[1]
    seeded_stream = tf.nn.fractional_max_pool(x, [1, 1.5, 1.5, 1], seed=3, seed2=4)[1]
    seeded_stream_again = tf.nn.fractional_max_pool(x, [1, 1.5, 1.5, 1], seed=3, seed2=4)[1]
    with tf.Session() as s:
        runs = [s.run([fixed, same_seeds, unseeded, seeded_stream, seeded_stream_again]) for _ in range(6)]
    assert all((r[0] == runs[0][0]).all() and (r[1] == r[0]).all() for r in runs)
    assert all((r[2] == runs[0][2]).all() for r in runs)  # deterministic without seeds: fixed per node
    streams = [tuple(r[3]) for r in runs]
    assert len(set(streams)) > 1  # not deterministic: new cells each run ...
    assert streams == [tuple(r[4]) for r in runs]  # ... but the same stream for the same seeds


def test_integer_ratio_cells_are_forced_and_gradients_route():
    x = R.permutation(48).reshape(1, 4, 6, 2).astype(np.float64)
    out, r, c = tf.nn.fractional_max_pool(x, [1, 2, 2, 1], pseudo_random=True)
    avg = tf.nn.fractional_avg_pool(tf.constant(x), [1, 2, 2, 1])[0]
    xt = out.op.inputs[0]
    gmax = tf.gradients(tf.reduce_sum(out), xt)[0]
    gavg = tf.gradients(tf.reduce_sum(avg), avg.op.inputs[0])[0]
    assert gmax.op.type == "FractionalMaxPoolGrad" and gavg.op.type == "FractionalAvgPoolGrad"
    with tf.Session() as s:
        o, rv, cv, gm, ga = s.run([out, r, c, gmax, gavg])
    assert rv.tolist() == [0, 2, 4] and cv.tolist() == [0, 2, 4, 6]
    np.testing.assert_array_equal(o, x.reshape(1, 2, 2, 3, 2, 2).max(axis=(2, 4)))
    assert gm.sum() == o.size and set(np.unique(gm)) == {0.0, 1.0}
    np.testing.assert_array_equal(gm > 0, x == np.repeat(np.repeat(o, 2, axis=1), 2, axis=2))
    np.testing.assert_allclose(ga, np.full(x.shape, 0.25))


def test_pooling_sequence_generators():
    rng = np.random.RandomState(0)
    for size, out in ((10, 6), (13, 7), (7, 7), (9, 2)):
        for pseudo in (False, True):
            seq = pooling_sequence(size, out, pseudo, rng)
            assert seq[0] == 0 and seq[-1] == size and len(seq) == out + 1
            assert set(np.diff(seq)) <= {size // out, -(-size // out)}


def test_errors():
    x = tf.zeros([1, 4, 4, 1])
    with pytest.raises(ValueError, match="batch and depth"):
        tf.nn.fractional_max_pool(x, [2.0, 1.5, 1.5, 1.0])
    with pytest.raises(ValueError, match="cannot be smaller than 1"):
        tf.nn.fractional_avg_pool(x, [1.0, 0.5, 1.5, 1.0])
    with pytest.raises(ValueError, match="empty output"):
        tf.nn.fractional_max_pool(x, [1.0, 5.0, 1.5, 1.0])
    with pytest.raises(ValueError, match="4-D"):
        tf.nn.fractional_max_pool(tf.zeros([4, 4, 1]), [1.0, 1.5, 1.5, 1.0])
    out = tf.nn.fractional_max_pool(x, [1.0, 1.5, 1.5, 1.0])[0]
    g = tf.gradients(tf.reduce_sum(out), out.op.inputs[0])[0]
    with pytest.raises(LookupError, match="No gradient defined"):
        tf.gradients(tf.reduce_sum(g), out.op.inputs[0])
