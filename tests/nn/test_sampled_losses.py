"""tf.nn.nce_loss, tf.nn.sampled_softmax_loss (against a NumPy re-computation for fixed sampled candidates,
gradients, partitioned weights, a word2vec-style training run) and tf.nn.log_poisson_loss."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.testing.gradient_check import gradient_check

R = np.random.RandomState(3)
C, D, B, S = 12, 4, 5, 6
W = R.randn(C, D)
BIAS = R.randn(C)
X = R.randn(B, D)
LABELS2 = np.array([[1, 4], [0, 7], [3, 3], [11, 2], [5, 9]], np.int64)
SAMPLED = np.array([4, 0, 8, 10, 2, 6], np.int64)
TRUE_EC = R.rand(B, 2) * 0.5 + 0.1
SAMP_EC = R.rand(S) * 0.5 + 0.1


def sampled_logits_ref(labels, sampled, true_ec, samp_ec, remove_hits, subtract_log_q=True):
    """TF's _compute_sampled_logits in NumPy."""
    num_true = labels.shape[1]
    true_logits = np.einsum("bd,btd->bt", X, W[labels]) + BIAS[labels]
    samp_logits = X @ W[sampled].T + BIAS[sampled]
    if remove_hits:
        for i in range(labels.shape[0]):
            for j, s in enumerate(sampled):
                if s in labels[i]:
                    samp_logits[i, j] += -np.finfo(np.float32).max
    if subtract_log_q:
        true_logits = true_logits - np.log(true_ec)
        samp_logits = samp_logits - np.log(samp_ec)
    logits = np.concatenate([true_logits, samp_logits], 1)
    targets = np.concatenate([np.full(true_logits.shape, 1.0 / num_true), np.zeros(samp_logits.shape)], 1)
    return logits, targets


def nce_ref(remove_hits):
    z, y = sampled_logits_ref(LABELS2, SAMPLED, TRUE_EC, SAMP_EC, remove_hits)
    return (np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))).sum(1)


def softmax_ref(remove_hits):
    z, y = sampled_logits_ref(LABELS2, SAMPLED, TRUE_EC, SAMP_EC, remove_hits)
    m = z.max(1, keepdims=True)
    logsm = z - m - np.log(np.exp(z - m).sum(1, keepdims=True))
    return -(y * logsm).sum(1)


def _values():
    return (tf.constant(SAMPLED), tf.constant(TRUE_EC), tf.constant(SAMP_EC))


@pytest.mark.parametrize("remove_hits", [False, True])
def test_nce_loss_matches_numpy(remove_hits):
    loss = tf.nn.nce_loss(tf.constant(W), tf.constant(BIAS), LABELS2, tf.constant(X), S, C, num_true=2,
                          sampled_values=_values(), remove_accidental_hits=remove_hits)
    assert loss.get_shape().as_list() == [B]
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(loss), nce_ref(remove_hits), rtol=1e-10)


@pytest.mark.parametrize("remove_hits", [False, True])
def test_sampled_softmax_loss_matches_numpy(remove_hits):
    loss = tf.nn.sampled_softmax_loss(tf.constant(W), tf.constant(BIAS), LABELS2, tf.constant(X), S, C, num_true=2,
                                      sampled_values=_values(), remove_accidental_hits=remove_hits)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(loss), softmax_ref(remove_hits), rtol=1e-10)


@pytest.mark.parametrize("strategy", ["mod", "div"])
def test_partitioned_weights_give_the_same_loss(strategy):
    if strategy == "mod":
        parts = [W[i::3] for i in range(3)]
        bparts = [BIAS[i::3] for i in range(3)]
    else:
        parts = np.split(W, [4, 8])
        bparts = np.split(BIAS, [4, 8])
    loss = tf.nn.nce_loss([tf.constant(p) for p in parts], [tf.constant(p) for p in bparts], LABELS2,
                          tf.constant(X), S, C, num_true=2, sampled_values=_values(), partition_strategy=strategy)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(loss), nce_ref(False), rtol=1e-10)


def test_gradients_reach_weights_biases_and_inputs_as_indexed_slices():
    w, b = tf.Variable(W), tf.Variable(BIAS)
    x = tf.constant(X)
    loss = tf.reduce_sum(tf.nn.sampled_softmax_loss(w, b, LABELS2, x, S, C, num_true=2, sampled_values=_values()))
    gw, gb, gx = tf.gradients(loss, [w, b, x])
    assert isinstance(gw, tf.IndexedSlices) and isinstance(gb, tf.IndexedSlices)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        gwv, ids = sess.run([gw.values, gw.indices])
        dense = np.zeros_like(W)
        np.add.at(dense, ids, gwv)
    # only the rows of the true and sampled classes get a gradient
    touched = set(LABELS2.ravel().tolist()) | set(SAMPLED.tolist())
    assert set(np.flatnonzero(np.abs(dense).sum(1)).tolist()) <= touched


@pytest.mark.parametrize("loss_fn", [tf.nn.nce_loss, tf.nn.sampled_softmax_loss])
def test_numerical_gradient_for_fixed_candidates(loss_fn):
    def build(w, b, x):
        return loss_fn(w, b, LABELS2, x, S, C, num_true=2, sampled_values=_values(), remove_accidental_hits=True)
    gradient_check(build, [W, BIAS, X], rtol=1e-5, atol=1e-7)


def test_default_sampler_and_int32_labels():
    labels = tf.constant([[1], [2], [3]], tf.int32)
    loss = tf.nn.sampled_softmax_loss(tf.constant(W), tf.constant(BIAS), labels, tf.constant(X[:3]), 4, C, seed=1)
    types = {op.type for op in tf.get_default_graph().get_operations()}
    assert {"LogUniformCandidateSampler", "ComputeAccidentalHits"} <= types
    with tf.Session() as sess:
        v = sess.run(loss)
    assert v.shape == (3,) and np.all(np.isfinite(v)) and np.all(v > 0)


def _skipgram_pairs(corpus, window=1):
    pairs = []
    for i, w in enumerate(corpus):
        for j in range(max(0, i - window), min(len(corpus), i + window + 1)):
            if j != i:
                pairs.append((w, corpus[j]))
    return np.array(pairs, np.int64)


@pytest.mark.parametrize("loss_name", ["nce_loss", "sampled_softmax_loss"])
def test_word2vec_style_training_lowers_the_loss(loss_name):
    vocab, dim = 30, 8
    rng = np.random.RandomState(0)
    # a corpus with strong structure: each word is followed by (word + 1) mod vocab
    corpus = [int(v) for v in (np.arange(400) % vocab)]
    pairs = _skipgram_pairs(corpus)
    tf.set_random_seed(1)
    inputs = tf.placeholder(tf.int64, [None])
    labels = tf.placeholder(tf.int64, [None, 1])
    emb = tf.Variable(tf.random_uniform([vocab, dim], -1.0, 1.0))
    nce_w = tf.Variable(tf.truncated_normal([vocab, dim], stddev=1.0 / np.sqrt(dim)))
    nce_b = tf.Variable(tf.zeros([vocab]))
    embed = tf.nn.embedding_lookup(emb, inputs)
    loss = tf.reduce_mean(getattr(tf.nn, loss_name)(nce_w, nce_b, labels, embed, 5, vocab))
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    full_logits = tf.matmul(embed, nce_w, transpose_b=True) + nce_b
    full_xent = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels[:, 0],
                                                                               logits=full_logits))
    feed = {inputs: pairs[:, 0], labels: pairs[:, 1:]}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        before = np.mean([sess.run(loss, feed) for _ in range(5)])
        xent_before = sess.run(full_xent, feed)
        for _ in range(150):
            idx = rng.randint(0, len(pairs), 64)
            sess.run(train, {inputs: pairs[idx, 0], labels: pairs[idx, 1:]})
        after = np.mean([sess.run(loss, feed) for _ in range(5)])
        xent_after = sess.run(full_xent, feed)
    assert after < 0.6 * before
    assert xent_after < xent_before - 0.5  # the full softmax over the vocabulary improves too


def test_log_poisson_loss():
    t = np.array([0.0, 1.0, 2.0, 5.0])
    li = np.array([0.3, -1.0, 0.5, 1.5])
    plain = np.exp(li) - li * t
    stirling = t * np.log(np.where(t > 0, t, 1)) - t + 0.5 * np.log(2 * np.pi * np.where(t > 0, t, 1))
    full = plain + np.where(t <= 1, 0.0, stirling)
    with tf.Session() as sess:
        a, b = sess.run([tf.nn.log_poisson_loss(t, li), tf.nn.log_poisson_loss(t, li, compute_full_loss=True)])
    np.testing.assert_allclose(a, plain, rtol=1e-12)
    np.testing.assert_allclose(b, full, rtol=1e-12)
    gradient_check(lambda x: tf.nn.log_poisson_loss(t, x, compute_full_loss=True), [li])
    with pytest.raises(ValueError, match="must have the same shape"):
        tf.nn.log_poisson_loss(np.zeros(3), np.zeros(4))
