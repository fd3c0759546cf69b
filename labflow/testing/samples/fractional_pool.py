"""Sweep samples for FractionalMaxPool / FractionalAvgPool and their gradient ops.

The pooling cells come from labflow's own draws, so the references take the cell boundaries from
`pooling_sequence` with the op's seeds (deterministic=True) and pool naively over them; integer ratios
(whose cells are forced, as in TF) are covered too.
"""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow.ops.fractional_pool_ops import fractional_avg_pool, fractional_max_pool, pooling_sequence
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(29)
SEEDS = (7, 11)
# (input [n, h, w, c], pooling_ratio, pseudo_random, overlapping)
_SETUPS = [((2, 6, 8, 3), [1.0, 2.0, 2.0, 1.0], False, False), ((1, 7, 9, 2), [1.0, 1.6, 2.2, 1.0], False, True),
           ((1, 7, 9, 2), [1.0, 1.44, 1.73, 1.0], True, False), ((2, 5, 6, 1), [1.0, 1.5, 1.5, 1.0], True, True)]


def _sequences(shape, ratio, pseudo):
    rng = np.random.RandomState(list(SEEDS))
    h, w = shape[1], shape[2]
    rs = pooling_sequence(h, int(h // ratio[1]), pseudo, rng)
    return rs, pooling_sequence(w, int(w // ratio[2]), pseudo, rng)


def _cells(seq, size, overlapping):
    return [(int(seq[i]), min(int(seq[i + 1]) + (1 if overlapping else 0), size)) for i in range(len(seq) - 1)]


def np_fractional_pool(x, ratio, pseudo, overlapping, reduce):
    rs, cs = _sequences(x.shape, ratio, pseudo)
    out = np.array([[[reduce(x[:, r0:r1, c0:c1, :], axis=(1, 2)) for c0, c1 in _cells(cs, x.shape[2], overlapping)]
                     for r0, r1 in _cells(rs, x.shape[1], overlapping)]])[0].transpose(2, 0, 1, 3)
    return out.astype(x.dtype), rs, cs


def np_fractional_max_pool_grad(x, g, ratio, pseudo, overlapping):
    rs, cs = _sequences(x.shape, ratio, pseudo)
    out = np.zeros_like(x)
    for i, (r0, r1) in enumerate(_cells(rs, x.shape[1], overlapping)):
        for j, (c0, c1) in enumerate(_cells(cs, x.shape[2], overlapping)):
            for b in range(x.shape[0]):
                for c in range(x.shape[3]):
                    cell = x[b, r0:r1, c0:c1, c]
                    k = int(np.argmax(cell))  # the first maximum in row-major order
                    out[b, r0 + k // cell.shape[1], c0 + k % cell.shape[1], c] += g[b, i, j, c]
    return out


def np_fractional_avg_pool_grad(x, g, ratio, pseudo, overlapping):
    rs, cs = _sequences(x.shape, ratio, pseudo)
    out = np.zeros_like(x)
    for i, (r0, r1) in enumerate(_cells(rs, x.shape[1], overlapping)):
        for j, (c0, c1) in enumerate(_cells(cs, x.shape[2], overlapping)):
            out[:, r0:r1, c0:c1, :] += g[:, i:i + 1, j:j + 1, :] / ((r1 - r0) * (c1 - c0))
    return out


def _pool(fn, ratio, pseudo, overlapping, which=None):
    def build(x):
        outs = fn(x, ratio, pseudo_random=pseudo, overlapping=overlapping, deterministic=True, seed=SEEDS[0],
                  seed2=SEEDS[1])
        return list(outs) if which is None else outs[which]
    return build


def _distinct(shape):
    """Values with no ties (a max pool's gradient is only defined away from them)."""
    return (R.permutation(int(np.prod(shape))).reshape(shape) / np.prod(shape) + R.rand(*shape) * 1e-3)


@samples("FractionalMaxPool")
def _max_pool():
    cases = []
    for shape, ratio, pseudo, ov in _SETUPS:
        ref = (lambda x, r=ratio, p=pseudo, o=ov: list(np_fractional_pool(x, r, p, o, np.max)))
        tag = f"{'pseudo' if pseudo else 'random'}{'_overlap' if ov else ''}_{ratio[1]}x{ratio[2]}"
        cases.append(Case(_pool(fractional_max_pool, ratio, pseudo, ov), [_distinct(shape)], ref, grad=False,
                          name=tag))
        cases.append(Case(_pool(fractional_max_pool, ratio, pseudo, ov, 0), [_distinct(shape)],
                          lambda x, ref=ref: ref(x)[0], name=tag + "_grad"))
    cases.append(Case(_pool(fractional_max_pool, [1.0, 2.0, 2.0, 1.0], False, False, 0),
                      [R.randint(-50, 50, (1, 4, 6, 2)).astype(np.int64)],
                      lambda x: np_fractional_pool(x, [1.0, 2.0, 2.0, 1.0], False, False, np.max)[0], grad=False,
                      name="int64"))
    return cases


@samples("FractionalAvgPool")
def _avg_pool():
    cases = []
    for shape, ratio, pseudo, ov in _SETUPS:
        ref = (lambda x, r=ratio, p=pseudo, o=ov: list(np_fractional_pool(x, r, p, o, np.mean)))
        tag = f"{'pseudo' if pseudo else 'random'}{'_overlap' if ov else ''}_{ratio[1]}x{ratio[2]}"
        cases.append(Case(_pool(fractional_avg_pool, ratio, pseudo, ov), [R.rand(*shape)], ref, grad=False, name=tag))
        cases.append(Case(_pool(fractional_avg_pool, ratio, pseudo, ov, 0), [R.rand(*shape)],
                          lambda x, ref=ref: ref(x)[0], name=tag + "_grad"))
    return cases


def _via_gradients(fn, ratio, pseudo, ov):
    def build(x, g):
        y = _pool(fn, ratio, pseudo, ov, 0)(x)
        return tf.gradients(y, x, grad_ys=g)[0]
    return build


def _grads(fn, ref):
    cases = []
    for shape, ratio, pseudo, ov in _SETUPS:
        x = _distinct(shape)
        g = R.randn(*np_fractional_pool(x, ratio, pseudo, ov, np.max)[0].shape)
        cases.append(Case(_via_gradients(fn, ratio, pseudo, ov), [x, g],
                          lambda x, g, r=ratio, p=pseudo, o=ov: ref(x, g, r, p, o), grad=False,
                          name=f"{ratio[1]}x{ratio[2]}_{'overlap' if ov else 'disjoint'}"))
    return cases


@samples("FractionalMaxPoolGrad")
def _max_grad():
    return _grads(fractional_max_pool, np_fractional_max_pool_grad)


@samples("FractionalAvgPoolGrad")
def _avg_grad():
    return _grads(fractional_avg_pool, np_fractional_avg_pool_grad)
