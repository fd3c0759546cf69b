"""Array kernels for TF's 8-bit quantized ops (quantized_ops.py): TF's formulas, bit for bit.

Everything takes `xp` (numpy or cupy). Ranges arrive as host scalars (the ops declare them host
inputs). The conversions reproduce TF's `quantization_utils.h` (FloatToQuantizedStruct,
QuantizedToFloatStruct, the fixed-point qint32 -> quint8 requantization) and the QuantizeV2 /
Dequantize kernels of TF 1.x, including which steps run in float32 and which in double: a quantized
value one step off is a different model, so the float32 roundings are kept on purpose (`F32(...)`).

Integer products (QuantizedMatMul, QuantizedConv2D) run as float GEMMs on BLAS: NumPy's integer
matmul has no BLAS (measured [500,3136] @ [3136,1024]: int32 10.2 s, float32 97 ms, float64 120 ms).
They are exact: the zero-point-centred operands are small integers and every partial sum any BLAS
summation order forms is bounded by the sum of the absolute products, which is checked first. The
reduction is split into runs whose bound stays under 2^24 (exact in float32), summed in int32; only
16-bit operands, whose single products can pass 2^24, fall back to float64 (exact under 2^53). The
centred float form of a constant operand (a weight) is made once, not every run.

Elementwise chains run block by block in cache (`blockwise`), and functions of 8-bit codes as a lookup
in a 256-entry table (`by_code`): same values, fewer passes over memory.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import numpy as np

from labflow import errors
from labflow.backend import gpu_blas, threads
from labflow.ops import conv_kernels

F32 = np.float32
# Elements per block of an elementwise pipeline on the CPU: its float64/int64 temporaries (1 MB) stay in
# cache, so a chain of ufuncs reads memory once instead of once per ufunc (the requantization is 5 of
# them). Measured on [1000,28,28,32] int32 (the inference_cnn conv1 accumulator, 2 cores): 2^17-2^18
# ran the requantization 2-5x faster than unblocked (134 ms), 2^15 and smaller lose to per-call overhead.
_BLOCK = 1 << 17
# FloatToQuantizedStruct's float bounds: qint32's limits as floats would not convert back to int32.
_I32_LOW, _I32_HIGH = F32(-2.147483648e09), F32(2.147483520e09)
_F32_EXACT = float(1 << 24)  # integers up to this are exact in float32, and so is every sum below it


def blockwise(xp: Any, x: Any, dtype: Any, fn: Any, row: int = 1) -> Any:
    """fn(x) for an elementwise fn of the flattened x, block by block over labflow's intra-op threads on
    the CPU (see _BLOCK); in one piece on a GPU. Blocks hold whole rows of `row` elements (fn may then
    treat its block as [-1, row])."""
    if xp is not np or x.size <= 2 * _BLOCK:
        return fn(x.reshape(-1)).reshape(x.shape)
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty(flat.shape, dtype)
    block = max(1, _BLOCK // row) * row

    def part(lo: int, hi: int) -> None:
        lo, hi = lo * block, min(hi * block, flat.size)
        for b in range(lo, hi, block):
            out[b:min(b + block, hi)] = fn(flat[b:min(b + block, hi)])
    threads.parallel_for(-(-flat.size // block), part, 2)
    return out.reshape(x.shape)


def by_code(xp: Any, q: Any, fn: Any) -> Any:
    """fn(q) for an elementwise fn of 8-bit codes, as a lookup in fn's table of all 256 codes: one gather
    instead of fn's whole chain, and the same values (fn computes each code exactly as it would in place)."""
    if q.dtype.itemsize != 1 or q.size < 4096:
        return fn(q)
    table = fn(xp.arange(256, dtype=xp.uint8).view(q.dtype))
    return xp.take(table, q.view(xp.uint8))


# -- scalars ---------------------------------------------------------------------------------------------
def scalar(v: Any, op: str, what: str) -> float:
    """The first element of a range input as a Python float (TF reads `flat<float>()(0)`)."""
    a = np.asarray(v)
    if a.size == 0:
        raise errors.InvalidArgumentError(None, None, f"{op}: {what} must not be empty.")
    return float(a.reshape(-1)[0])


def check_range(op: str, lo: float, hi: float, lo_name: str, hi_name: str, strict: bool = False) -> None:
    """Raises InvalidArgumentError when the range is reversed (or empty, with `strict`)."""
    if hi < lo or (strict and hi == lo) or math.isnan(lo) or math.isnan(hi):
        rel = "larger than" if strict else "at least"
        raise errors.InvalidArgumentError(None, None, f"{op}: {hi_name} must be {rel} {lo_name}, got "
                                          f"{lo_name}={lo!r} and {hi_name}={hi!r}.")


def limits(dtype: Any) -> tuple[int, int, int]:
    """(lowest, highest, bits) of a quantized type's NumPy storage type."""
    info = np.iinfo(dtype)
    return int(info.min), int(info.max), int(info.bits)


def round_away(v: float) -> float:
    """std::round: halves go away from zero (Python's round() goes to even)."""
    return math.copysign(math.floor(abs(v) + 0.5), v)


def round_away_array(xp: Any, v: Any) -> Any:
    """std::round over an array, as float64 (exact: float32 inputs plus 0.5 are exact in float64)."""
    w = v.astype(xp.float64)
    w += xp.copysign(0.5, w)
    return xp.trunc(w, out=w)


def adjust_range(lo: float, hi: float) -> tuple[float, float]:
    """QuantizeV2's range: it always holds 0, and a range narrower than 1% of its magnitude (at least
    0.01) is widened so that the quantized values do not all map to one float."""
    lo32, hi32 = F32(lo), F32(hi)
    min_range = min(F32(0), lo32)
    eps = F32(max(F32(1), max(abs(lo32), abs(hi32))) / F32(100))
    max_range = max(hi32, F32(min_range + eps))
    return float(min_range), float(max(F32(0), max_range))


# -- TF's conversion structs -------------------------------------------------------------------------------
def f2q_struct(rmin: float, rmax: float, bits: int) -> tuple[Any, Any]:
    """FloatToQuantizedStruct: (range_scale, range_min_scaled), both float32 as TF keeps them."""
    diff = F32(F32(rmax) - F32(rmin))
    scale = F32(0.0 if rmax == rmin else ((1 << bits) - 1.0) / float(diff))
    return scale, F32(round_away(float(F32(F32(rmin) * scale))))


def quantize_eigen(xp: Any, x: Any, rmin: float, rmax: float, dtype: Any) -> Any:
    """QUANTIZE_WITH_EIGEN (MIN_FIRST): round(x * scale) - (round(min * scale) - lowest), clamped."""
    lowest, highest, bits = limits(dtype)
    scale, min_scaled = f2q_struct(rmin, rmax, bits)
    shift = float(F32(min_scaled - F32(lowest)))

    def fn(x: Any) -> Any:
        v = round_away_array(xp, xp.multiply(x, scale, dtype=xp.float32))
        v -= shift  # exact here; TF's float32 difference is this, rounded...
        if bits == 32:  # ... which only matters past 2^24: round to float32 as TF does, clamp there
            v = v.astype(xp.float32)
            xp.clip(v, _I32_LOW, _I32_HIGH, out=v)
        else:
            xp.clip(v, lowest, highest, out=v)
        return v.astype(dtype)
    return blockwise(xp, x, dtype, fn)


def q2f_struct(rmin: float, rmax: float, bits: int) -> tuple[Any, Any]:
    """QuantizedToFloatStruct: (range_scale, range_min_rounded) as float32."""
    scale = F32(float(F32(F32(rmax) - F32(rmin))) / ((1 << bits) - 1.0))
    if rmax == rmin:
        return scale, F32(rmin)
    return scale, F32(F32(round_away(float(F32(F32(rmin) / scale)))) * scale)


def dequantize_eigen(xp: Any, q: Any, rmin: float, rmax: float) -> Any:
    """DEQUANTIZE_WITH_EIGEN (MIN_FIRST): (min_rounded - lowest * scale) + q * scale, in float32."""
    lowest, _, bits = limits(q.dtype)
    scale, min_rounded = q2f_struct(rmin, rmax, bits)
    shift = F32(min_rounded - F32(F32(lowest) * scale))

    def fn(q: Any) -> Any:
        out = xp.multiply(q, scale, dtype=xp.float32)
        out += shift
        return out
    return by_code(xp, q, fn)


def float_to_quantized_unclamped(x: float, rmin: float, rmax: float, dtype: Any) -> int:
    """FloatToQuantizedUnclamped<T>: TF's double-precision scalar conversion (the zero points)."""
    lowest, _, bits = limits(dtype)
    if rmin == rmax:
        return lowest
    steps = 1 << bits
    rng = float(F32(F32(rmax) - F32(rmin))) * (steps / (steps - 1.0))
    scale = steps / rng
    return int(round_away(float(F32(x)) * scale) - round_away(float(F32(rmin)) * scale)) + lowest


def float_to_quantized(x: float, rmin: float, rmax: float, dtype: Any) -> int:
    """FloatToQuantized<T>: the unclamped value saturated to the type's range."""
    lowest, highest, _ = limits(dtype)
    return min(max(float_to_quantized_unclamped(x, rmin, rmax, dtype), lowest), highest)


def quantized_to_float(q: int, rmin: float, rmax: float, dtype: Any) -> float:
    """QuantizedToFloat<T>: TF's double-precision scalar conversion, returned as a float32 value."""
    lowest, _, bits = limits(dtype)
    if rmin == rmax:
        return float(F32(rmin))
    steps = 1 << bits
    rng = float(F32(F32(rmax) - F32(rmin))) * (steps / (steps - 1.0))
    scale = rng / steps
    s32 = F32(scale)  # TF rounds the minimum in float32, on a float32 scale
    min_rounded = float(F32(F32(round_away(float(F32(F32(rmin) / s32)))) * s32))
    return float(F32(min_rounded + (q - lowest) * scale))


def range_for_multiplication(min_a: float, max_a: float, a_dtype: Any, min_b: float, max_b: float, b_dtype: Any,
                             c_dtype: Any) -> tuple[float, float]:
    """QuantizationRangeForMultiplication: the float range of the product type that keeps one level of
    the product equal to (one level of a) * (one level of b)."""
    def level(lo: float, hi: float, dt: Any) -> Any:
        lowest, highest, _ = limits(dt)
        return F32(F32(F32(hi) - F32(lo)) / F32(highest - lowest))
    c = F32(level(min_a, max_a, a_dtype) * level(min_b, max_b, b_dtype))
    c_low, c_high, _ = limits(c_dtype)
    return float(F32(c * F32(c_low))), float(F32(c * F32(c_high)))


# -- QuantizeV2 / Dequantize --------------------------------------------------------------------------------
def quantize(xp: Any, x: Any, lo: float, hi: float, dtype: Any, mode: str, round_mode: str) -> tuple:
    """QuantizeV2 (TF 1.x): (quantized, output_min, output_max) from float32 x and the input range."""
    min_range, max_range = adjust_range(lo, hi)
    lowest, highest, bits = limits(dtype)
    x = x.astype(xp.float32, copy=False)
    mn, mx = F32(min_range), F32(max_range)
    if mode == "MIN_FIRST":
        return quantize_eigen(xp, x, min_range, max_range, dtype), min_range, max_range
    if mode == "MIN_COMBINED":
        factor = F32((float(highest) - float(lowest)) / float(F32(mx - mn)))
        half = F32((float(highest) - float(lowest) + 1) / 2.0)

        def combined(x: Any) -> Any:
            v = xp.clip(x, mn, mx)
            v -= mn
            v *= factor
            if lowest < 0:  # signed: shift down by half the type's range, then std::round
                v -= half
                v = round_away_array(xp, v)
            else:  # TF's unsigned fast path: + 0.5 in float32, then truncate
                v += F32(0.5)
            return _saturate(xp, v, lowest, highest, dtype)
        return blockwise(xp, x, dtype, combined), min_range, max_range
    # SCALED (TF 1.x): symmetric around 0 for signed types ([-127, 127] for qint8), [0, m] unsigned
    max_abs = max(abs(mn), abs(mx))
    if lowest < 0:
        mn, mx, target = -max_abs, max_abs, F32((1 << (bits - 1)) - 1)
    else:
        mn, mx, target = F32(0), max_abs, F32((1 << bits) - 1)
    factor = F32(target / max_abs)

    def scaled(x: Any) -> Any:
        v = xp.clip(x, mn, mx)
        v *= factor
        v = xp.rint(v) if round_mode == "HALF_TO_EVEN" else round_away_array(xp, v)
        return _saturate(xp, v, lowest, highest, dtype)
    return blockwise(xp, x, dtype, scaled), float(mn), float(mx)


def _saturate(xp: Any, v: Any, lowest: int, highest: int, dtype: Any) -> Any:
    # C++'s float->int cast of an out-of-range value is undefined; NumPy's wraps: saturate instead
    if lowest < -(1 << 24):
        v = v.astype(xp.float64, copy=False)
    return xp.clip(v, lowest, highest).astype(dtype)


def dequantize(xp: Any, q: Any, lo: float, hi: float, mode: str) -> Any:
    """Dequantize (TF 1.x) to float32."""
    lowest, highest, bits = limits(q.dtype)
    mn, mx = F32(lo), F32(hi)
    if mode == "MIN_FIRST":
        return dequantize_eigen(xp, q, lo, hi)
    if mode == "MIN_COMBINED":
        half = F32(0) if lowest == 0 else F32((float(F32(highest)) - lowest + 1) / 2.0)
        factor = F32(F32(mx - mn) / F32(F32(highest) - lowest))

        def combined(q: Any) -> Any:
            out = q.astype(xp.float32)
            out += half
            out *= factor
            out += mn
            return out
        return by_code(xp, q, combined)
    target = F32((1 << (bits - 1)) - 1) if lowest < 0 else F32((1 << bits) - 1)
    factor = F32(max(abs(mn), abs(mx)) / target)
    return by_code(xp, q, lambda q: xp.multiply(q, factor, dtype=xp.float32))


# -- integer products ----------------------------------------------------------------------------------------
def _centered(xp: Any, q: Any, offset: int) -> Any:
    out = q.astype(xp.float32)
    out -= F32(offset)
    return out


def _absmax(q: Any, offset: int) -> float:
    # max |q - offset| from the extremes of the narrow array (one cheap pass over 1-byte values)
    return float(max(int(q.max()) - offset, offset - int(q.min()))) if q.size else 0.0


class _Operand:
    """A quantized GEMM operand as the float products read it: the centred float32 values, their largest
    magnitude, and (made on first use, per orientation) cumulative sums of |values| along the reduction."""

    __slots__ = ("f32", "absmax", "sums")

    def __init__(self, xp: Any, q: Any, offset: int):
        self.f32, self.absmax, self.sums = _centered(xp, q, offset), _absmax(q, offset), {}

    def cumsums(self, xp: Any, key: Any, row_abs: Any) -> tuple[Any, float]:
        """([rows + 1, n] running sums of row_abs(f32), its largest entry), where row_abs gives a [rows, n]
        array of |values| per reduction row."""
        got = self.sums.get(key)
        if got is None:
            cols = row_abs(self.f32)
            got = self.sums[key] = (xp.concatenate([xp.zeros((1, cols.shape[1]), xp.float64),
                                                    xp.cumsum(cols, axis=0, dtype=xp.float64)]), float(cols.max()))
        return got


# Constant operands (weights), by id: a read-only NumPy array never changes, and a session hands its
# Const kernels the same array every run, so its float form and sums are made once (~10 ms per run for
# the inference_cnn's 3136x1024 weights). Entries hold a weak reference and die with the array.
_OPERANDS: dict[int, tuple] = {}


def _operand(xp: Any, q: Any, offset: int) -> _Operand:
    if xp is not np or q.flags.writeable or q.size < 4096:
        return _Operand(xp, q, offset)
    hit = _OPERANDS.get(id(q))
    if hit is not None and hit[0]() is q and hit[1] == offset:
        return hit[2]
    if len(_OPERANDS) >= 64:
        _OPERANDS.clear()
    op = _Operand(xp, q, offset)
    _OPERANDS[id(q)] = (weakref.ref(q), offset, op)
    return op


def _k_runs(amax: float, b: _Operand, k: int, rows: int, cumsums: Any) -> list[tuple[int, int]] | None:
    """Runs of the `rows` reduction rows of b (each row one or more of the k reduction terms) whose float32
    products are exact: in each run, every column's sum of |b| times max|a| stays below 2^24, which bounds
    every partial sum any summation order forms. `cumsums()` gives b's running sums of |b| per row (and
    the largest row).
    None when one row alone is too large (16-bit operands: then float64, exact to 2^53)."""
    if k * amax * b.absmax < _F32_EXACT:
        return [(0, rows)]
    cs, row_max = cumsums()
    if row_max * amax >= _F32_EXACT:
        return None
    parts = max(1, int(float(cs[-1].max()) * amax // _F32_EXACT) + 1)
    while True:
        edges = [rows * i // parts for i in range(parts + 1)]
        sums = cs[edges[1:]] - cs[edges[:-1]]
        if float(sums.max()) * amax < _F32_EXACT:
            return [(lo, hi) for lo, hi in zip(edges[:-1], edges[1:]) if hi > lo]
        parts = min(2 * parts, rows)


def _accumulate(xp: Any, parts: list, product: Any) -> Any:
    """The int32 sum of product(lo, hi) over the runs (each one exact, so each converts exactly)."""
    out = None
    for lo, hi in parts:
        p = product(lo, hi)
        if p.dtype == xp.float64:  # 16-bit operands: the sum may pass 2^31; wrap like an int32 accumulator
            p = p.astype(xp.int64)
        if out is None:
            out = p.astype(xp.int32)
        else:
            out += p.astype(xp.int32)
    return out


def int_matmul(xp: Any, a: Any, b: Any, offset_a: int, offset_b: int, transpose_a: bool,
               transpose_b: bool) -> Any:
    """sum_k (a - offset_a)[i,k] * (b - offset_b)[k,j] as int32 (QuantizedMatMul's accumulation)."""
    oa, ob = _operand(xp, a, offset_a), _operand(xp, b, offset_b)
    af, bf = (oa.f32.T if transpose_a else oa.f32), (ob.f32.T if transpose_b else ob.f32)
    k = af.shape[1]
    runs = _k_runs(oa.absmax, ob, k, k, lambda: ob.cumsums(xp, transpose_b,
                                                            lambda f: xp.abs(f.T if transpose_b else f)))
    if runs is None:
        af, bf, runs = af.astype(xp.float64), bf.astype(xp.float64), [(0, k)]

    def product(lo: int, hi: int) -> Any:
        x, y = af[:, lo:hi], bf[lo:hi]
        if xp is not np:
            return gpu_blas.gemm(xp, x, y)
        if x.shape[0] * (hi - lo) * y.shape[1] >= threads.GEMM_SPLIT_MACS:
            return threads.gemm(x, y)
        return xp.dot(x, y)
    return _accumulate(xp, runs, product)


def int_conv2d(xp: Any, x: Any, w: Any, offset_x: int, offset_w: int, strides: tuple, pads: tuple) -> Any:
    """The cross-correlation of (x - offset_x) with (w - offset_w), NHWC / HWIO, as int32. Padding is
    a real zero (TF pads with the input's zero point), which the centred input makes 0.0. Input channels
    are split into runs whose products are exact in float32 (see _k_runs), each its own convolution."""
    kh, kw, c, f = w.shape
    ox, ow = _operand(xp, x, offset_x), _operand(xp, w, offset_w)
    xf, wf = ox.f32, ow.f32
    runs = _k_runs(ox.absmax, ow, kh * kw * c, c,  # rows: input channels, each [kh * kw] terms
                   lambda: ow.cumsums(xp, "conv", lambda f: xp.abs(f).sum(axis=(0, 1))))
    if runs is None:
        xf, wf, runs = xf.astype(xp.float64), wf.astype(xp.float64), [(0, c)]
    whole = runs == [(0, c)]
    return _accumulate(xp, runs, lambda lo, hi: conv_kernels.conv2d(
        xp, xf if whole else xf[..., lo:hi], wf if whole else wf[:, :, lo:hi], strides, (1, 1), pads))


# -- requantization ----------------------------------------------------------------------------------------------
def requantize(xp: Any, q: Any, in_min: float, in_max: float, out_min: float, out_max: float, dtype: Any) -> Any:
    """Requantize: q (its range [in_min, in_max]) re-expressed in [out_min, out_max] as `dtype`."""
    if q.size == 0:
        return xp.empty(q.shape, dtype=dtype)
    if q.dtype != np.int32 or np.dtype(dtype) != np.uint8:
        return quantize_eigen(xp, dequantize_eigen(xp, q, in_min, in_max), out_min, out_max, dtype)
    # TF's fixed-point qint32 -> quint8 path (RequantizeManyInNewRangeUsingEigen<qint32, quint8>)
    in_range = float(F32(F32(in_max) - F32(in_min)))
    out_range = float(F32(F32(out_max) - F32(out_min)))
    recip = F32(0.0 if out_range == 0.0 else 255.0 / out_range)
    rezero = F32(float(F32(F32(in_min) + F32(in_max))) / 2.0)
    scale_fp = 0 if out_range == 0.0 else int(255.0 * 65536 * in_range / out_range)
    in_offset_fp = int(F32(F32(rezero * recip) * F32(65536)))
    out_offset_fp = 0 if out_range == 0.0 else int(65536 * (float(F32(out_min)) * 255.0) / out_range)
    # TF's ((q * scale) >> 32) + offset) >> 16 is one shift: floor((floor(y / 2^32) + c) / 2^16) equals
    # floor((y + c * 2^32) / 2^48) for integer c
    offset = (in_offset_fp - out_offset_fp + (1 << 15)) << 32

    def fixed_point(q: Any) -> Any:
        v = q.astype(xp.int64)
        v *= scale_fp
        v += offset
        v >>= 48
        xp.clip(v, 0, 255, out=v)
        return v.astype(xp.uint8)
    return blockwise(xp, q, np.uint8, fixed_point)


def requantization_range(xp: Any, q: Any, in_min: float, in_max: float) -> tuple[float, float]:
    """RequantizationRange: the float range q actually uses (its min no larger than 0)."""
    lowest, highest, _ = limits(q.dtype)
    used_min = int(q.min()) if q.size else highest  # Eigen's reducers start from the extremes
    used_max = int(q.max()) if q.size else lowest
    lo = min(0.0, quantized_to_float(used_min, in_min, in_max, q.dtype))
    return lo, quantized_to_float(used_max, in_min, in_max, q.dtype)


def bias_add(xp: Any, x: Any, b: Any, min_x: float, max_x: float, min_b: float, max_b: float,
             out_dtype: Any) -> tuple[Any, float, float]:
    """QuantizedBiasAdd (QuantizedAddUsingEigen): both operands re-expressed in one symmetric range
    of the output type, wide enough for the larger operand with 17 bits of headroom, then added."""
    out_max = float(F32(F32(max(F32(max_x), -F32(min_x), F32(max_b), -F32(min_b))) * F32(1 << 17)))
    out_min = -out_max
    zero = float_to_quantized(0.0, out_min, out_max, out_dtype)
    total = lambda q, lo, hi: quantize_eigen(xp, dequantize_eigen(xp, q, lo, hi), out_min, out_max,  # noqa: E731
                                             out_dtype)
    bias_total = total(b, min_b, max_b)
    bias_total += bias_total.dtype.type(zero)
    if x.dtype.itemsize != 1 or x.size < 4096:
        out = total(x, min_x, max_x)
        out += bias_total
        return out, out_min, out_max
    # 8-bit input: a lookup of each code's value in the total range, then the bias, one block at a time
    table = total(xp.arange(256, dtype=xp.uint8).view(x.dtype), min_x, max_x)
    c = bias_total.size

    def add(block: Any) -> Any:
        v = xp.take(table, block.view(xp.uint8))
        v.reshape(-1, c)[...] += bias_total
        return v
    return blockwise(xp, x, table.dtype, add, row=c), out_min, out_max


def avg_pool(xp: Any, x: Any, ksize: tuple, strides: tuple, pads: tuple, oh: int, ow: int) -> Any:
    """QuantizedAvgPool: each window's integer sum over its real elements divided by their count,
    truncated (TF pools the values as int32). The float64 mean truncates to exactly that quotient: a
    true quotient is never within 2^-40 of the next integer above it."""
    from labflow.ops import pool_kernels
    mean = pool_kernels.avg_pool(xp, x.astype(xp.float64), ksize, strides, pads, oh, ow)
    return xp.trunc(mean, out=mean).astype(x.dtype)
