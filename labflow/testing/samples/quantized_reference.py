"""Element-by-element references for the quantized ops: TF 1.x's C++ formulas transcribed scalar by scalar
(quantization_utils.h, quantize_op.cc, dequantize_op.cc, requantize, quantized bias add, fake quant).

Independent of labflow/ops/quantized_kernels.py (no shared code, loops instead of array expressions),
so the sweep and tests/tools/test_quantize.py can compare the vectorized kernels with them exactly.
`F(...)` marks the steps TF computes in float32; everything else is double, as in the C++.
"""

from __future__ import annotations

import math

import numpy as np

F = np.float32


def rnd(v: float) -> float:
    """std::round (halves away from zero)."""
    return math.copysign(math.floor(abs(v) + 0.5), v)


def lim(dt) -> tuple[int, int, int]:
    i = np.iinfo(dt)
    return int(i.min), int(i.max), int(i.bits)


def _map(fn, a, dtype):
    a = np.asarray(a)
    return np.array([fn(v) for v in a.reshape(-1).tolist()], dtype=dtype).reshape(a.shape)


# -- quantization_utils.h ----------------------------------------------------------------------------------
def f2q_unclamped(x: float, mn: float, mx: float, dt) -> int:
    lowest, _, bits = lim(dt)
    if mn == mx:
        return lowest
    steps = 2 ** bits
    scale = steps / (float(F(F(mx) - F(mn))) * (steps / (steps - 1.0)))
    return int(rnd(float(F(x)) * scale) - rnd(float(F(mn)) * scale)) + lowest


def f2q(x: float, mn: float, mx: float, dt) -> int:
    lowest, highest, _ = lim(dt)
    return min(max(f2q_unclamped(x, mn, mx, dt), lowest), highest)


def q2f(q: int, mn: float, mx: float, dt) -> float:
    lowest, _, bits = lim(dt)
    if mn == mx:
        return float(F(mn))
    steps = 2 ** bits
    scale = float(F(F(mx) - F(mn))) * (steps / (steps - 1.0)) / steps
    s = F(scale)
    min_rounded = float(F(F(rnd(float(F(F(mn) / s)))) * s))
    return float(F(min_rounded + (q - lowest) * scale))


def quantize_eigen(x, mn: float, mx: float, dt) -> np.ndarray:
    """QUANTIZE_WITH_EIGEN / FloatToQuantizedStruct."""
    lowest, highest, bits = lim(dt)
    scale = F(0) if mn == mx else F((2 ** bits - 1.0) / float(F(F(mx) - F(mn))))
    c = F(F(rnd(float(F(F(mn) * scale)))) - F(lowest))
    lo, hi = (F(-2.147483648e9), F(2.14748352e9)) if bits == 32 else (lowest, highest)

    def one(v):
        d = F(F(rnd(float(F(F(v) * scale)))) - c)
        return int(min(max(d, lo), hi))
    return _map(one, x, dt)


def dequantize_eigen(q, mn: float, mx: float) -> np.ndarray:
    """DEQUANTIZE_WITH_EIGEN / QuantizedToFloatStruct."""
    q = np.asarray(q)
    lowest, _, bits = lim(q.dtype)
    scale = F(float(F(F(mx) - F(mn))) / (2 ** bits - 1.0))
    min_rounded = F(mn) if mn == mx else F(F(rnd(float(F(F(mn) / scale)))) * scale)
    c = F(min_rounded - F(F(lowest) * scale))
    return _map(lambda v: F(c + F(F(v) * scale)), q, np.float32)


# -- QuantizeV2 / Dequantize (TF 1.x) ---------------------------------------------------------------------
def adjusted(lo: float, hi: float) -> tuple[float, float]:
    mn = min(F(0), F(lo))
    eps = F(max(F(1), max(abs(F(lo)), abs(F(hi)))) / F(100))
    return float(mn), float(max(F(0), max(F(hi), F(mn + eps))))


def quantize_v2(x, lo: float, hi: float, dt, mode: str, round_mode: str = "HALF_AWAY_FROM_ZERO"):
    mn, mx = adjusted(lo, hi)
    lowest, highest, bits = lim(dt)
    if mode == "MIN_FIRST":
        return quantize_eigen(x, mn, mx, dt), F(mn), F(mx)
    if mode == "MIN_COMBINED":
        factor = F((float(highest) - float(lowest)) / float(F(F(mx) - F(mn))))
        half = F((float(highest) - float(lowest) + 1) / 2.0)

        def one(v):
            c = F(F(min(max(F(v), F(mn)), F(mx)) - F(mn)) * factor)
            r = rnd(float(F(c - half))) if lowest < 0 else math.trunc(float(F(c + F(0.5))))
            return min(max(int(r), lowest), highest)
        return _map(one, x, dt), F(mn), F(mx)
    m = max(abs(F(mn)), abs(F(mx)))
    lo_r, target = (-m, F(2 ** (bits - 1) - 1)) if lowest < 0 else (F(0), F(2 ** bits - 1))
    factor = F(target / m)

    def scaled(v):
        c = float(F(min(max(F(v), lo_r), m) * factor))
        r = float(np.rint(c)) if round_mode == "HALF_TO_EVEN" else rnd(c)
        return min(max(int(r), lowest), highest)
    return _map(scaled, x, dt), F(lo_r), F(m)


def dequantize(q, lo: float, hi: float, mode: str) -> np.ndarray:
    q = np.asarray(q)
    lowest, highest, bits = lim(q.dtype)
    if mode == "MIN_FIRST":
        return dequantize_eigen(q, lo, hi)
    if mode == "MIN_COMBINED":
        half = F(0) if lowest == 0 else F((float(F(highest)) - lowest + 1) / 2.0)
        factor = F(F(F(hi) - F(lo)) / F(F(highest) - lowest))
        return _map(lambda v: F(F(F(F(v) + half) * factor) + F(lo)), q, np.float32)
    target = F(2 ** (bits - 1) - 1) if lowest < 0 else F(2 ** bits - 1)
    factor = F(max(abs(F(lo)), abs(F(hi))) / target)
    return _map(lambda v: F(F(v) * factor), q, np.float32)


# -- products, bias add, requantization --------------------------------------------------------------------
def mult_range(lo_a, hi_a, dt_a, lo_b, hi_b, dt_b) -> tuple:
    la, ha, _ = lim(dt_a)
    lb, hb, _ = lim(dt_b)
    c = F(F(F(F(hi_a) - F(lo_a)) / F(ha - la)) * F(F(F(hi_b) - F(lo_b)) / F(hb - lb)))
    return F(c * F(-2 ** 31)), F(c * F(2 ** 31 - 1))


def quantized_matmul(a, b, lo_a, hi_a, lo_b, hi_b, ta=False, tb=False):
    oa, ob = f2q_unclamped(0.0, lo_a, hi_a, a.dtype), f2q_unclamped(0.0, lo_b, hi_b, b.dtype)
    ac, bc = a.astype(np.int64) - oa, b.astype(np.int64) - ob
    out = (ac.T if ta else ac) @ (bc.T if tb else bc)
    return (out.astype(np.int32), *mult_range(lo_a, hi_a, a.dtype, lo_b, hi_b, b.dtype))


def bias_add(x, b, lo_x, hi_x, lo_b, hi_b):
    mx = F(F(max(F(hi_x), -F(lo_x), F(hi_b), -F(lo_b))) * F(2 ** 17))
    zero = f2q(0.0, -float(mx), float(mx), np.int32)
    xt = quantize_eigen(dequantize_eigen(x, lo_x, hi_x), -float(mx), float(mx), np.int32)
    bt = quantize_eigen(dequantize_eigen(b, lo_b, hi_b), -float(mx), float(mx), np.int32)
    return (xt.astype(np.int64) + bt + zero).astype(np.int32), -mx, mx


def requantization_range(q, lo, hi):
    q = np.asarray(q)
    used_lo = q2f(int(q.min()), lo, hi, q.dtype)
    return F(min(0.0, used_lo)), F(q2f(int(q.max()), lo, hi, q.dtype))


def requantize(q, lo, hi, out_lo, out_hi, dt):
    q = np.asarray(q)
    if q.dtype != np.int32 or np.dtype(dt) != np.uint8:
        return quantize_eigen(dequantize_eigen(q, lo, hi), out_lo, out_hi, dt)
    # RequantizeManyInNewRangeReference, one element at a time
    in_range, out_range = float(F(F(hi) - F(lo))), float(F(F(out_hi) - F(out_lo)))
    recip = F(0.0 if out_range == 0.0 else 255.0 / out_range)
    rezero = F(float(F(F(lo) + F(hi))) / 2.0)
    scale_fp = 0 if out_range == 0.0 else int(255.0 * (1 << 16) * in_range / out_range)
    in_off = int(F(F(rezero * recip) * F(1 << 16)))
    out_off = 0 if out_range == 0.0 else int((1 << 16) * (float(F(out_lo)) * 255.0) / out_range)

    def one(v):
        fp = ((v * scale_fp) >> 32) + in_off
        return min(max((fp - out_off + (1 << 15)) >> 16, 0), 255)
    return _map(one, q, np.uint8)


def relu(x, lo, hi, lo_f=0.0, hi_f=None):
    x = np.asarray(x)
    out = np.maximum(x, f2q(lo_f, lo, hi, x.dtype))
    if hi_f is not None:
        out = np.minimum(out, f2q(hi_f, lo, hi, x.dtype))
    return out.astype(x.dtype)


# -- fake quantization ---------------------------------------------------------------------------------------
def nudge(mn: float, mx: float, num_bits: int, narrow: bool) -> tuple:
    qmin, qmax = F(1 if narrow else 0), F(2 ** num_bits - 1)
    scale = F(F(F(mx) - F(mn)) / F(qmax - qmin))
    zp_from_min = F(qmin - F(F(mn) / scale))
    zp = qmin if zp_from_min < qmin else qmax if zp_from_min > qmax else F(rnd(float(zp_from_min)))
    return F(F(qmin - zp) * scale), F(F(qmax - zp) * scale), scale


def fake_quant(x, mn, mx, num_bits=8, narrow=False, reciprocal=True):
    nmin, nmax, scale = nudge(mn, mx, num_bits, narrow)
    inv = F(F(1) / scale)

    def one(v):
        c = F(min(max(F(v), nmin), nmax) - nmin)
        c = F(c * inv) if reciprocal else F(c / scale)
        return F(F(F(math.floor(F(c + F(0.5)))) * scale) + nmin)
    return _map(one, x, np.float32)


def fake_quant_grad(g, x, mn, mx, num_bits=8, narrow=False):
    nmin, nmax, _ = nudge(mn, mx, num_bits, narrow)
    x, g = np.asarray(x), np.asarray(g)
    inside = (x >= nmin) & (x <= nmax)
    return (np.where(inside, g, 0).astype(np.float32), np.float32(g[x < nmin].sum()),
            np.float32(g[x > nmax].sum()))
