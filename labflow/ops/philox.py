"""TensorFlow's counter-based generator, Philox4x32-10, and its conversions of random bits to floats.

The stateless random ops use it exactly as TF's kernels do, so a seed gives the numbers TensorFlow
gives: the seed pair is scrambled into a key and a counter (TF's GenerateKey), output group i (4
floats, or 2 doubles) comes from one Philox block at counter + i, and the bit-to-float conversions are
TF's (a random mantissa under exponent 0, minus 1). Vectorised over blocks with uint64 products, so it
runs unchanged on NumPy and CuPy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_M_A, _M_B = 0xD2511F53, 0xCD9E8D57
_W_A, _W_B = 0x9E3779B9, 0xBB67AE85
_MASK32 = 0xFFFFFFFF
_SCRAMBLE_KEY = (0x3EC8F720, 0x02461E29)


def _round(xp: Any, c: list, k0: Any, k1: Any) -> list:
    p0 = c[0].astype(xp.uint64) * xp.uint64(_M_A)
    p1 = c[2].astype(xp.uint64) * xp.uint64(_M_B)
    hi0, lo0 = (p0 >> xp.uint64(32)).astype(xp.uint32), p0.astype(xp.uint32)
    hi1, lo1 = (p1 >> xp.uint64(32)).astype(xp.uint32), p1.astype(xp.uint32)
    return [hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0]


def philox(xp: Any, counter: list, key: tuple[int, int]) -> list:
    """Ten Philox rounds over counters given as four uint32 arrays; returns four uint32 arrays."""
    c = [xp.asarray(x, dtype=xp.uint32) for x in counter]
    k0, k1 = int(key[0]), int(key[1])
    for r in range(10):
        c = _round(xp, c, xp.uint32((k0 + r * _W_A) & _MASK32), xp.uint32((k1 + r * _W_B) & _MASK32))
    return c


def key_counter(seed0: int, seed1: int) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
    """TF's GenerateKey: the (key, counter) a [2] seed tensor selects (int32 seeds sign-extended)."""
    s0, s1 = int(seed0) & 0xFFFFFFFFFFFFFFFF, int(seed1) & 0xFFFFFFFFFFFFFFFF
    ctr = [np.array([v], np.uint32) for v in (s0 & _MASK32, s0 >> 32, s1 & _MASK32, s1 >> 32)]
    mix = [int(m[0]) for m in philox(np, ctr, _SCRAMBLE_KEY)]
    return (mix[0], mix[1]), (0, 0, mix[2], mix[3])


def blocks(xp: Any, key: tuple[int, int], counter: tuple, start: int, n: int, stride: int = 1) -> Any:
    """Philox output for counters counter + start + i * stride, i < n: a [n, 4] uint32 array."""
    off = xp.arange(n, dtype=xp.uint64) * xp.uint64(stride) + xp.uint64(start)
    lo = off & xp.uint64(_MASK32)
    hi = off >> xp.uint64(32)
    # 128-bit addition of the offsets to the counter, carrying from word to word
    s0 = lo + xp.uint64(counter[0])
    s1 = hi + xp.uint64(counter[1]) + (s0 >> xp.uint64(32))
    s2 = xp.uint64(counter[2]) + (s1 >> xp.uint64(32))
    s3 = xp.uint64(counter[3]) + (s2 >> xp.uint64(32))
    words = [w.astype(xp.uint32) for w in (s0, s1, s2, s3)]
    return xp.stack(philox(xp, words, key), axis=1)


def uint32_to_float(xp: Any, x: Any) -> Any:
    """TF's Uint32ToFloat: 23 random mantissa bits under exponent 0, minus 1: [0, 1)."""
    bits = (x & xp.uint32(0x7FFFFF)) | xp.uint32(0x3F800000)
    return bits.view(xp.float32) - xp.float32(1.0)


def uint64_to_double(xp: Any, x0: Any, x1: Any) -> Any:
    """TF's Uint64ToDouble: the low 20 bits of x0 and all of x1 as the mantissa, minus 1: [0, 1)."""
    man = ((x0 & xp.uint32(0xFFFFF)).astype(xp.uint64) << xp.uint64(32)) | x1.astype(xp.uint64)
    return (man | xp.uint64(1023 << 52)).view(xp.float64) - 1.0


def uint32_to_half(xp: Any, x: Any) -> Any:
    """TF's Uint16ToHalf on the low bits: 10 random mantissa bits under exponent 0, minus 1."""
    bits = ((x & xp.uint32(0x3FF)) | xp.uint32(15 << 10)).astype(xp.uint16)
    return bits.view(xp.float16) - xp.float16(1.0)


def box_muller_float(xp: Any, x0: Any, x1: Any) -> tuple[Any, Any]:
    """TF's BoxMullerFloat: two float32 normals from two uint32 draws."""
    u1 = xp.maximum(uint32_to_float(xp, x0), xp.float32(1.0e-7))
    # TF's `2.0f * M_PI * u` is a double product rounded to float
    v1 = (2.0 * np.pi * uint32_to_float(xp, x1).astype(xp.float64)).astype(xp.float32).astype(xp.float64)
    # log, sin and cos in float64 rounded once to float32 are the correctly rounded results glibc's
    # logf/sincosf give TF; NumPy's float32 SIMD versions can be an ulp off
    u2 = xp.sqrt(xp.float32(-2.0) * xp.log(u1.astype(xp.float64)).astype(xp.float32))
    return xp.sin(v1).astype(xp.float32) * u2, xp.cos(v1).astype(xp.float32) * u2


def box_muller_double(xp: Any, x0: Any, x1: Any, x2: Any, x3: Any) -> tuple[Any, Any]:
    """TF's BoxMullerDouble: two float64 normals from four uint32 draws."""
    u1 = xp.maximum(uint64_to_double(xp, x0, x1), 1.0e-7)
    v1 = 2.0 * np.pi * uint64_to_double(xp, x2, x3)
    u2 = xp.sqrt(-2.0 * xp.log(u1))
    return xp.sin(v1) * u2, xp.cos(v1) * u2
