"""The candidate samplers (tf.nn.*_candidate_sampler) and compute_accidental_hits: distributions, TF's
expected-count formulas, unique draws, seeds, the learned and fixed unigram samplers, and errors."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf

TRUE = np.array([[0], [4], [9]], np.int64)


def _run(fetches):
    with tf.Session() as sess:
        return sess.run(fetches)


def _log_uniform_p(k, n):
    return np.log((k + 2.0) / (k + 1.0)) / np.log(n + 1.0)


def test_log_uniform_draws_follow_the_zipf_distribution():
    s, t, c = tf.nn.log_uniform_candidate_sampler(TRUE, 1, 40000, False, 20, seed=1)
    sv, tv, cv = _run([s, t, c])
    assert sv.dtype == np.int64 and sv.shape == (40000,) and sv.min() >= 0 and sv.max() < 20
    freq = np.bincount(sv, minlength=20) / sv.size
    np.testing.assert_allclose(freq, _log_uniform_p(np.arange(20), 20), atol=0.01)
    np.testing.assert_allclose(tv, _log_uniform_p(TRUE, 20) * 40000, rtol=1e-6)
    np.testing.assert_allclose(cv, _log_uniform_p(sv, 20) * 40000, rtol=1e-6)
    assert tv.dtype == np.float32 and cv.dtype == np.float32


def test_uniform_draws_are_uniform():
    s, t, _ = tf.nn.uniform_candidate_sampler(TRUE % 6, 1, 30000, False, 6, seed=2)
    sv, tv = _run([s, t])
    np.testing.assert_allclose(np.bincount(sv, minlength=6) / sv.size, np.full(6, 1 / 6), atol=0.01)
    np.testing.assert_allclose(tv, np.full((3, 1), 5000.0))


@pytest.mark.parametrize("sampler", ["uniform", "log_uniform", "learned_unigram"])
def test_unique_draws_are_distinct_and_use_the_number_of_tries(sampler):
    fn = getattr(tf.nn, f"{sampler}_candidate_sampler")
    s, t, c = fn(TRUE, 1, 8, True, 12, seed=3)
    sv, tv, cv = _run([s, t, c])
    assert len(set(sv.tolist())) == 8
    p_true = _log_uniform_p(TRUE.astype(float), 12) if sampler == "log_uniform" else np.full(TRUE.shape, 1 / 12)
    p_samp = _log_uniform_p(sv.astype(float), 12) if sampler == "log_uniform" else np.full(8, 1 / 12)
    # Every count is 1 - (1 - p)^tries with one number of tries >= 8 (TF's ExpectedCountHelper).
    tries = np.log1p(-cv[0]) / np.log1p(-p_samp[0])
    assert tries >= 8 - 1e-3
    tries = round(float(tries))
    np.testing.assert_allclose(cv, -np.expm1(tries * np.log1p(-p_samp)), rtol=1e-5)
    np.testing.assert_allclose(tv, -np.expm1(tries * np.log1p(-p_true)), rtol=1e-5)


def test_unique_full_range_returns_every_class():
    s, _, _ = tf.nn.log_uniform_candidate_sampler(TRUE, 1, 10, True, 10, seed=4)
    assert sorted(_run(s).tolist()) == list(range(10))


def test_same_seed_same_draw_in_new_sessions_and_runs_continue_the_sequence():
    s, _, _ = tf.nn.uniform_candidate_sampler(TRUE, 1, 16, False, 1000, seed=5)
    with tf.Session() as sess:
        a, b = sess.run(s), sess.run(s)
    with tf.Session() as sess:
        a2 = sess.run(s)
    np.testing.assert_array_equal(a, a2)
    assert not np.array_equal(a, b)


def test_graph_seed_makes_programs_repeatable():
    def draw():
        g = tf.Graph()
        with g.as_default():
            tf.set_random_seed(42)
            s, _, _ = tf.nn.log_uniform_candidate_sampler(TRUE, 1, 20, True, 100)
            with tf.Session(graph=g) as sess:
                return sess.run(s)
    np.testing.assert_array_equal(draw(), draw())


def test_learned_unigram_learns_the_true_classes():
    tc = tf.placeholder(tf.int64, [None, 1])
    _, t, _ = tf.nn.learned_unigram_candidate_sampler(tc, 1, 4, False, 5, seed=6)
    with tf.Session() as sess:
        first = sess.run(t, {tc: [[3]]})  # counts start at 1 each: p = 1/5; class 3 then gets weight 2
        second = sess.run(t, {tc: [[3], [3], [1]]})  # weights now [1, 1, 1, 2, 1]
        third = sess.run(t, {tc: [[3], [0]]})  # weights [1, 2, 1, 4, 1]
    np.testing.assert_allclose(first, [[4 / 5]])
    np.testing.assert_allclose(second, [[4 * 2 / 6], [4 * 2 / 6], [4 / 6]], rtol=1e-6)
    np.testing.assert_allclose(third, [[4 * 4 / 9], [4 / 9]], rtol=1e-6)


def test_fixed_unigram_from_unigrams_with_distortion_and_reserved_ids():
    uni = [4.0, 1.0, 9.0]
    s, t, c = tf.nn.fixed_unigram_candidate_sampler(np.array([[1], [4]], np.int64), 1, 20000, False, 5,
                                                    distortion=0.5, num_reserved_ids=2, unigrams=uni, seed=7)
    sv, tv, cv = _run([s, t, c])
    w = np.array([0, 0, 2.0, 1.0, 3.0])
    p = w / w.sum()
    np.testing.assert_allclose(tv, [[0.0], [p[4] * 20000]], rtol=1e-6)
    np.testing.assert_allclose(np.bincount(sv, minlength=5) / sv.size, p, atol=0.015)
    np.testing.assert_allclose(cv, p[sv] * 20000, rtol=1e-6)


def test_fixed_unigram_from_a_vocab_file_and_shards(tmp_path):
    vocab = tmp_path / "vocab.csv"
    vocab.write_text("the,10\nof,6\nand,4\ncat,2\n")
    _, t, _ = tf.nn.fixed_unigram_candidate_sampler(np.array([[0], [3]], np.int64), 1, 3, False, 4,
                                                    vocab_file=str(vocab), seed=1)
    np.testing.assert_allclose(_run(t), [[10 / 22 * 3], [2 / 22 * 3]], rtol=1e-6)
    # shard 1 of 2 keeps the words with odd ids ("of", "cat"): range_max is their number.
    s, t, _ = tf.nn.fixed_unigram_candidate_sampler(np.array([[0], [1]], np.int64), 1, 50, False, 2,
                                                    vocab_file=str(vocab), num_shards=2, shard=1, seed=1)
    sv, tv = _run([s, t])
    np.testing.assert_allclose(tv, [[6 / 8 * 50], [2 / 8 * 50]], rtol=1e-6)
    assert set(sv.tolist()) <= {0, 1}


@pytest.mark.parametrize("kwargs,match", [
    ({}, "Must provide either vocab_file or unigrams"),
    ({"unigrams": [1.0, 2.0], "vocab_file": "x.csv"}, "Must only provide one of vocab_file and unigrams"),
    ({"unigrams": [1.0, 2.0]}, "range is 3 must be equal to weights size 2"),
    ({"vocab_file": "/nonexistent/vocab.csv"}, "not found"),
])
def test_fixed_unigram_errors(kwargs, match):
    _, t, _ = tf.nn.fixed_unigram_candidate_sampler(np.array([[0]], np.int64), 1, 2, False, 3, **kwargs)
    with pytest.raises((tf.errors.InvalidArgumentError, tf.errors.NotFoundError), match=match):
        _run(t)


def test_fixed_unigram_bad_vocab_line(tmp_path):
    vocab = tmp_path / "v.csv"
    vocab.write_text("a,1\nb,many\n")
    _, t, _ = tf.nn.fixed_unigram_candidate_sampler(np.array([[0]], np.int64), 1, 2, False, 2,
                                                    vocab_file=str(vocab))
    with pytest.raises(tf.errors.InvalidArgumentError, match="Wrong vocabulary format at line: b,many"):
        _run(t)


def test_all_candidate_sampler():
    s, t, c = tf.nn.all_candidate_sampler(np.array([[1, 2]], np.int64), 2, 4, True)
    sv, tv, cv = _run([s, t, c])
    np.testing.assert_array_equal(sv, np.arange(4))
    np.testing.assert_array_equal(tv, np.ones((1, 2)))
    np.testing.assert_array_equal(cv, np.ones(4))


def test_static_shapes_and_op_types():
    tc = tf.placeholder(tf.int64, [None, 2])
    s, t, c = tf.nn.log_uniform_candidate_sampler(tc, 2, 7, True, 50)
    assert s.get_shape().as_list() == [7] and t.get_shape().as_list() == [None, 2] and c.get_shape().as_list() == [7]
    assert s.op.type == "LogUniformCandidateSampler"
    from labflow.framework import registry
    for name in ("UniformCandidateSampler", "LogUniformCandidateSampler", "LearnedUnigramCandidateSampler",
                 "FixedUnigramCandidateSampler", "AllCandidateSampler", "ComputeAccidentalHits"):
        assert not registry.get(name).differentiable


def test_compute_accidental_hits():
    tc = np.array([[1, 4], [5, 2], [3, 3]], np.int64)
    sc = np.array([4, 0, 3, 7, 3], np.int64)
    idx, ids, w = _run(list(tf.nn.compute_accidental_hits(tc, sc, 2)))
    np.testing.assert_array_equal(idx, [0, 2, 2])
    np.testing.assert_array_equal(ids, [0, 4, 4])  # a repeated candidate: its last position, as TF
    assert idx.dtype == np.int32 and ids.dtype == np.int64 and w.dtype == np.float32
    np.testing.assert_array_equal(w, np.full(3, -np.finfo(np.float32).max))


def test_errors():
    with pytest.raises(TypeError, match="int64"):
        tf.nn.uniform_candidate_sampler(tf.constant([[1]], tf.int32), 1, 2, False, 5)
    with pytest.raises(ValueError, match="num_true=2 columns"):
        tf.nn.uniform_candidate_sampler(tf.constant([[1]], tf.int64), 2, 2, False, 5)
    with pytest.raises(ValueError, match="rank 2"):
        tf.nn.uniform_candidate_sampler(tf.constant([1], tf.int64), 1, 2, False, 5)
    s, _, _ = tf.nn.uniform_candidate_sampler(tf.constant([[1]], tf.int64), 1, 6, True, 5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="range is too small"):
        _run(s)
    s, _, _ = tf.nn.log_uniform_candidate_sampler(tf.constant([[5]], tf.int64), 1, 2, False, 5)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"out of range \[0, 5\), received 5"):
        _run(s)
    with pytest.raises(ValueError, match="shard"):
        tf.nn.fixed_unigram_candidate_sampler(tf.constant([[1]], tf.int64), 1, 2, False, 5, unigrams=[1.0] * 5,
                                              num_shards=2, shard=2)


def test_unique_draw_larger_than_the_support_is_an_error_not_a_hang():
    s, _, _ = tf.nn.fixed_unigram_candidate_sampler(np.array([[2]], np.int64), 1, 4, True, 5, num_reserved_ids=2,
                                                    unigrams=[1.0, 2.0, 3.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="only 3 ids have a nonzero weight"):
        _run(s)
    s, _, _ = tf.nn.fixed_unigram_candidate_sampler(np.array([[0]], np.int64), 1, 1, False, 2, unigrams=[0.0, 0.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="positive sum"):
        _run(s)
