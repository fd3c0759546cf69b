"""Sweep samples for the candidate samplers and ComputeAccidentalHits.

Draws have no exact reference, so each sampler case outputs deterministic facts computed from the op's
outputs: with unique=False the expected counts are exactly `P(class) * num_sampled` (checked for the true
classes against NumPy, and for the drawn ones as a zero difference against the same formula built from
ops); with unique=True over the whole range the draw is every class once; two ops with one
seed draw the same. The statistics of the draws are in tests/ops/test_candidate_sampling_ops.py.
"""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow.testing.op_sweep import Case, samples

TRUE = np.array([[0, 3], [7, 1], [2, 2]], np.int64)
RANGE, N = 10, 6
UNIGRAMS = [5.0, 1.0, 3.0, 0.5, 2.0, 8.0, 1.0, 4.0]


def _log_uniform_p(k):
    return np.log((k + 2.0) / (k + 1.0)) / np.log(RANGE + 1.0)


def _facts(sampler, p_np, p_tf, **kw):
    """Cases for one sampler: expected counts (with replacement), a full unique draw, same-seed equality."""
    def build(tc):
        s, t, c = sampler(tc, 2, N, False, seed=4, **kw)
        s2, t2, c2 = sampler(tc, 2, N, False, seed=4, **kw)
        return [t, c - tf.cast(p_tf(s), tf.float32) * N, s - s2, tf.reduce_min(s) >= 0, tf.reduce_max(s) < RANGE]

    def ref(tc):
        return [(p_np(tc) * N).astype(np.float32), np.zeros(N, np.float32), np.zeros(N, np.int64), True, True]

    def build_unique(tc):
        s, t, c = sampler(tc, 2, RANGE, True, seed=7, **kw)
        return [tf.reduce_sum(tf.one_hot(s, RANGE), 0), tf.shape(t), tf.shape(c),
                tf.reduce_all(c > 0), tf.reduce_all(c <= 1.0 + 1e-6)]

    def ref_unique(tc):
        return [np.ones(RANGE, np.float32), np.array([3, 2], np.int32), np.array([RANGE], np.int32), True, True]

    return [Case(build, [TRUE], ref, grad=False, name="with_replacement"),
            Case(build_unique, [TRUE], ref_unique, grad=False, name="unique_full_range")]


def _over_range(sampler):
    """`sampler` over [0, RANGE), with the arguments _facts passes."""
    return lambda tc, nt, n, unique, seed: sampler(tc, nt, n, unique, RANGE, seed=seed)


def _uniform_facts(sampler):
    return _facts(_over_range(sampler), lambda k: np.full(k.shape, 1.0 / RANGE),
                  lambda s: tf.fill(tf.shape(s), 1.0 / RANGE))


@samples("UniformCandidateSampler")
def _uniform():
    return _uniform_facts(tf.nn.uniform_candidate_sampler)


@samples("LogUniformCandidateSampler")
def _log_uniform():
    def p_tf(s):
        k = tf.cast(s, tf.float64)
        return tf.log((k + 2.0) / (k + 1.0)) / np.log(RANGE + 1.0)
    return _facts(_over_range(tf.nn.log_uniform_candidate_sampler), _log_uniform_p, p_tf)


@samples("LearnedUnigramCandidateSampler")
def _learned():
    # Before any update every class has weight 1: the first run's distribution is uniform.
    return _uniform_facts(tf.nn.learned_unigram_candidate_sampler)


@samples("FixedUnigramCandidateSampler")
def _fixed():
    w = np.array([0.0, 0.0] + UNIGRAMS) ** 0.75
    p = w / w.sum()

    def sampler(tc, nt, n, unique, seed):
        return tf.nn.fixed_unigram_candidate_sampler(tc, nt, n, unique, RANGE, distortion=0.75, num_reserved_ids=2,
                                                     unigrams=UNIGRAMS, seed=seed)

    def build(tc):
        s, t, c = sampler(tc, 2, N, False, seed=4)
        return [t, c - tf.gather(tf.constant(p, tf.float32), s) * N, tf.reduce_min(s) >= 2]

    def build_unique(tc):
        # 8 classes have weight > 0: a unique draw of 8 is exactly them.
        s, _, _ = sampler(tc, 2, 8, True, seed=9)
        return [tf.reduce_sum(tf.one_hot(s, RANGE), 0)]

    support = (np.arange(RANGE) >= 2).astype(np.float32)
    return [Case(build, [TRUE], lambda tc: [(p[tc] * N).astype(np.float32), np.zeros(N, np.float32), True],
                 grad=False, name="with_replacement"),
            Case(build_unique, [TRUE], lambda tc: [support], grad=False,
                 name="unique_support")]


@samples("AllCandidateSampler")
def _all():
    def build(tc):
        return list(tf.nn.all_candidate_sampler(tc, 2, 8, True))
    return [Case(build, [TRUE], lambda tc: [np.arange(8, dtype=np.int64), np.ones((3, 2), np.float32),
                                            np.ones(8, np.float32)], grad=False)]


def _hits_ref(tc, sc):
    pos = {int(v): i for i, v in enumerate(sc)}  # a repeated candidate maps to its last position
    rows, ids = [], []
    for i, row in enumerate(tc):
        for v in row:
            if int(v) in pos:
                rows.append(i)
                ids.append(pos[int(v)])
    return [np.array(rows, np.int32), np.array(ids, np.int64), np.full(len(rows), -np.finfo(np.float32).max,
                                                                         np.float32)]


@samples("ComputeAccidentalHits")
def _hits():
    sc = np.array([3, 9, 2, 0, 3], np.int64)
    return [Case(lambda tc, s: list(tf.nn.compute_accidental_hits(tc, s, 2)), [TRUE, sc], _hits_ref, grad=False),
            Case(lambda tc, s: list(tf.nn.compute_accidental_hits(tc, s, 2)), [TRUE, np.array([5, 8], np.int64)],
                 _hits_ref, grad=False, name="no_hits")]
