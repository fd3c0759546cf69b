"""Sweep samples for the bitwise ops: and/or/xor with broadcasting, invert, TF's clamped shifts, popcount."""

from __future__ import annotations

import numpy as np

from labflow.ops import bitwise_ops as bw
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(5)
_INTS = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)


def _rand(dtype, shape):
    info = np.iinfo(dtype)
    return R.randint(info.min, info.max, size=shape, dtype=np.int64 if info.max < 2**63 - 1 else dtype).astype(dtype)


def _binary_cases(fn, ref):
    return [Case(fn, [_rand(d, (3, 4)), _rand(d, (4,))], ref, grad=False, name=np.dtype(d).name) for d in _INTS]


@samples("BitwiseAnd")
def _and():
    return _binary_cases(bw.bitwise_and, np.bitwise_and)


@samples("BitwiseOr")
def _or():
    return _binary_cases(bw.bitwise_or, np.bitwise_or)


@samples("BitwiseXor")
def _xor():
    return _binary_cases(bw.bitwise_xor, np.bitwise_xor)


@samples("Invert")
def _invert():
    return [Case(bw.invert, [_rand(d, (2, 5))], np.invert, grad=False, name=np.dtype(d).name) for d in _INTS]


def _ref_shift(x, y, left):
    """Element by element in Python ints: clamp the shift to [0, bits - 1], wrap to the dtype's width."""
    bits = 8 * x.dtype.itemsize
    signed = x.dtype.kind == "i"
    x, y = np.broadcast_arrays(x, y)
    out = []
    for a, s in zip(x.reshape(-1).tolist(), y.reshape(-1).tolist()):
        s = min(max(s, 0), bits - 1)
        v = (a << s) if left else (a >> s)  # Python's >> on a negative int is arithmetic
        v &= (1 << bits) - 1
        if signed and v >= 1 << (bits - 1):
            v -= 1 << bits
        out.append(v)
    return np.array(out, dtype=x.dtype).reshape(x.shape)


def _shift_cases(fn, left):
    cases = []
    for d in _INTS:
        bits = 8 * np.dtype(d).itemsize
        lo = -3 if np.dtype(d).kind == "i" else 0
        y = np.array([lo, 0, 1, bits - 1, bits, bits + 5], d)
        cases.append(Case(fn, [_rand(d, (2, 6)), y], lambda x, s: _ref_shift(x, s, left), grad=False,
                          name=np.dtype(d).name))
    return cases


@samples("LeftShift")
def _left_shift():
    return _shift_cases(bw.left_shift, True)


@samples("RightShift")
def _right_shift():
    return _shift_cases(bw.right_shift, False)


@samples("PopulationCount")
def _popcount():
    def ref(x):
        u = x.view(f"u{x.dtype.itemsize}")
        return np.array([bin(int(v)).count("1") for v in u.reshape(-1)], np.uint8).reshape(x.shape)
    return [Case(bw.population_count, [_rand(d, (3, 5))], ref, grad=False, name=np.dtype(d).name) for d in _INTS]
