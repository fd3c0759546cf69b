"""Sweep samples for CTCLoss, CTCGreedyDecoder and CTCBeamSearchDecoder.

The references are independent NumPy code: the CTC loss by enumerating every alignment of a short
sequence (the probability of a labelling is the sum over the paths that collapse to it), the greedy
decoder by argmax + collapse, and the beam search by exhaustive path enumeration (with a beam wider than
the number of prefixes, the beam search is exact).
"""

from __future__ import annotations

import itertools

import numpy as np

import labflow as tf
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(21)
T, B, C = 4, 2, 3  # blank = 2
LOGITS = R.randn(T, B, C)
LABELS = [[0, 1], [1]]
SEQ = np.array([4, 3], np.int32)


def _sparse(labels):
    idx = [(b, i) for b, lab in enumerate(labels) for i in range(len(lab))]
    vals = [v for lab in labels for v in lab]
    return np.array(idx, np.int64), np.array(vals, np.int32), np.array([len(labels), max(map(len, labels))], np.int64)


def ref_collapse(path, blank, merge=True):
    """The labelling of a path: with merge, repeats collapse; without it every non-blank step is a label."""
    out, prev = [], None
    for k in path:
        if k != blank and not (merge and k == prev):
            out.append(k)
        prev = k
    return out


def ref_log_softmax(x):
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def _label_probs(x, n):
    """{labelling: probability} over every path of the first n steps of x [time, classes]."""
    ly = ref_log_softmax(x[:n].astype(np.float64))
    out: dict = {}
    for path in itertools.product(range(x.shape[1]), repeat=n):
        lab = tuple(ref_collapse(path, x.shape[1] - 1))
        out[lab] = out.get(lab, 0.0) + float(np.exp(sum(ly[t, k] for t, k in enumerate(path))))
    return out


def _ctc_ref(x):
    return np.array([-np.log(_label_probs(x[:, b], SEQ[b])[tuple(LABELS[b])]) for b in range(B)], x.dtype)


@samples("CTCLoss")
def _loss():
    idx, vals, shape = _sparse(LABELS)

    def build(x):
        return tf.nn.ctc_loss(tf.SparseTensor(idx, vals, shape), x, SEQ)

    def build_batch_major(x):
        return tf.nn.ctc_loss(tf.SparseTensor(idx, vals, shape), tf.transpose(x, [1, 0, 2]), SEQ, time_major=False)

    return [Case(build, [LOGITS], _ctc_ref, rtol=1e-4, atol=1e-5),
            Case(build_batch_major, [LOGITS], _ctc_ref, rtol=1e-4, atol=1e-5, name="batch_major")]


def _greedy_ref(x):
    paths, lp = [], []
    for b in range(B):
        best = x[:SEQ[b], b].argmax(-1)
        paths.append(ref_collapse(best.tolist(), C - 1))
        lp.append(-x[:SEQ[b], b].max(-1).sum())
    return [*_sparse_out(paths), np.array(lp, x.dtype).reshape(B, 1)]


def _sparse_out(paths):
    idx = np.array([(b, i) for b, p in enumerate(paths) for i in range(len(p))], np.int64).reshape(-1, 2)
    vals = np.array([v for p in paths for v in p], np.int64)
    return idx, vals, np.array([len(paths), max(len(p) for p in paths)], np.int64)


@samples("CTCGreedyDecoder")
def _greedy():
    def build(x):
        (d,), lp = tf.nn.ctc_greedy_decoder(x, SEQ)
        return [d.indices, d.values, d.dense_shape, lp]
    return [Case(build, [LOGITS], _greedy_ref, grad=False)]


def _beam_ref(x, top):
    """The `top` most probable labellings of each row, exactly (all paths enumerated)."""
    per_rank = [[] for _ in range(top)]
    lps = np.zeros((B, top), x.dtype)
    for b in range(B):
        probs = sorted(_label_probs(x[:, b], SEQ[b]).items(), key=lambda kv: -kv[1])
        for i in range(top):
            per_rank[i].append(list(probs[i][0]))
            lps[b, i] = np.log(probs[i][1])
    outs = [_sparse_out(p) for p in per_rank]
    return [o[0] for o in outs] + [o[1] for o in outs] + [o[2] for o in outs] + [lps]


@samples("CTCBeamSearchDecoder")
def _beam():
    # merge_repeated=False: the paths are the labellings themselves (TF 1.x's True also merges "a - a").
    def build(x):
        decoded, lp = tf.nn.ctc_beam_search_decoder(x, SEQ, beam_width=64, top_paths=2, merge_repeated=False)
        return ([d.indices for d in decoded] + [d.values for d in decoded] + [d.dense_shape for d in decoded]
                + [lp])
    return [Case(build, [LOGITS], lambda x: _beam_ref(x, 2), grad=False, rtol=1e-4, atol=1e-5)]
