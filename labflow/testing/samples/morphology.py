"""Sweep samples for grayscale morphology: Dilation2D and its backprop ops (erosion2d is composed from them)."""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow.ops.morphology_ops import dilation2d, erosion2d
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(23)
_GEOMETRIES = [([1, 1, 1, 1], [1, 1, 1, 1], "SAME"), ([1, 2, 1, 1], [1, 1, 2, 1], "VALID"),
               ([1, 2, 2, 1], [1, 2, 1, 1], "SAME")]


def _windows(x, f, strides, rates, padding):
    """{(b, y, x, c): [(value, input position, filter tap)]} of every output cell (the naive definition)."""
    _, h, w, _ = x.shape
    kh, kw, _ = f.shape
    eh, ew = (kh - 1) * rates[1] + 1, (kw - 1) * rates[2] + 1
    if padding == "SAME":
        oh, ow = -(-h // strides[1]), -(-w // strides[2])
        top = max((oh - 1) * strides[1] + eh - h, 0) // 2
        left = max((ow - 1) * strides[2] + ew - w, 0) // 2
    else:
        oh, ow, top, left = (h - eh) // strides[1] + 1, (w - ew) // strides[2] + 1, 0, 0
    cells = {}
    for y in range(oh):
        for q in range(ow):
            taps = []
            for dy in range(kh):
                for dx in range(kw):
                    iy, ix = y * strides[1] + dy * rates[1] - top, q * strides[2] + dx * rates[2] - left
                    if 0 <= iy < h and 0 <= ix < w:
                        taps.append((iy, ix, dy, dx))
            cells[y, q] = taps
    return oh, ow, cells


def np_dilation2d(x, f, strides, rates, padding):
    oh, ow, cells = _windows(x, f, strides, rates, padding)
    out = np.empty((x.shape[0], oh, ow, x.shape[3]), dtype=x.dtype)
    for (y, q), taps in cells.items():
        out[:, y, q, :] = np.max([x[:, iy, ix, :] + f[dy, dx] for iy, ix, dy, dx in taps], axis=0)
    return out


def np_dilation2d_backprop(x, f, g, strides, rates, padding):
    """(d input, d filter): each output's gradient goes to its first maximising tap."""
    _, _, cells = _windows(x, f, strides, rates, padding)
    gx, gf = np.zeros_like(x), np.zeros_like(f)
    for (y, q), taps in cells.items():
        vals = np.stack([x[:, iy, ix, :] + f[dy, dx] for iy, ix, dy, dx in taps])  # [taps, n, c]
        best = np.argmax(vals, axis=0)
        for t, (iy, ix, dy, dx) in enumerate(taps):
            routed = np.where(best == t, g[:, y, q, :], 0)
            gx[:, iy, ix, :] += routed
            gf[dy, dx] += routed.sum(axis=0)
    return gx, gf


@samples("Dilation2D")
def _dilation():
    return [Case(lambda x, f, st=st, rt=rt, p=p: dilation2d(x, f, st, rt, p), [R.rand(2, 5, 6, 3), R.rand(2, 3, 3)],
                 lambda x, f, st=st, rt=rt, p=p: np_dilation2d(x, f, st, rt, p),
                 name=f"{p}_{st[1]}{st[2]}_{rt[1]}{rt[2]}")
            for st, rt, p in _GEOMETRIES] + [
        Case(lambda x, f: dilation2d(x, f, [1, 1, 1, 1], [1, 1, 1, 1], "VALID"),
             [R.randint(-9, 9, (1, 4, 4, 2)).astype(np.int32), R.randint(-3, 3, (2, 2, 2)).astype(np.int32)],
             lambda x, f: np_dilation2d(x, f, [1, 1, 1, 1], [1, 1, 1, 1], "VALID"), grad=False, name="int32"),
        Case(lambda x, f: erosion2d(x, f, [1, 1, 1, 1], [1, 2, 2, 1], "SAME"), [R.rand(1, 6, 5, 2), R.rand(3, 2, 2)],
             lambda x, f: -np_dilation2d(-x, f[::-1, ::-1], [1, 1, 1, 1], [1, 2, 2, 1], "SAME"), name="erosion"),
    ]


def _backprop(which):
    def build(x, f, g, st, rt, p):
        y = dilation2d(x, f, st, rt, p)
        return tf.gradients(y, [x, f], grad_ys=g)[which]
    return build


@samples("Dilation2DBackpropInput", "Dilation2DBackpropFilter")
def _dilation_backprop():
    cases = []
    for st, rt, p in _GEOMETRIES:
        x, f = R.rand(2, 5, 6, 3), R.rand(2, 3, 3)
        g = R.randn(*np_dilation2d(x, f, st, rt, p).shape)
        for which in (0, 1):
            cases.append(Case(lambda x, f, g, which=which, st=st, rt=rt, p=p: _backprop(which)(x, f, g, st, rt, p),
                              [x, f, g], lambda x, f, g, which=which, st=st, rt=rt, p=p: np_dilation2d_backprop(
                                  x, f, g, st, rt, p)[which], grad=False, name=f"{'input filter'.split()[which]}_{p}"))
    return cases
