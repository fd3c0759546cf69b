"""tf.signal's windows: hann and hamming (TF's rules for `periodic`), kaiser, Kaiser-Bessel-derived and vorbis."""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.tensor import Tensor
from labflow.ops.common import convert_to_tensor
from labflow.ops.math_helpers import op_scope
from labflow.ops.signal_framing import static_int


def _raised_cosine(name: str | None, default: str, window_length: Any, periodic: Any, dtype: Any, a: float,
                   b: float) -> Tensor:
    from labflow.ops import array_ops, math_ops
    dtype = _dt.as_dtype(dtype).base_dtype
    if not dtype.is_floating:
        raise ValueError(f"{default}: dtype must be a floating point type, got {dtype.name}")
    with op_scope(name, default, [window_length, periodic]):
        n = static_int(window_length, "window_length", default, positive=False)
        p = None if isinstance(periodic, Tensor) else bool(periodic)
        if n is not None and p is not None:
            # TF's denominator: length - 1, or length for a periodic window of even length (an odd periodic
            # window equals the symmetric one); a window of one sample is [1].
            if n == 1:
                return array_ops.ones([1], dtype=dtype)
            denom = n - 1 + (1 if p and n % 2 == 0 else 0)
            w = a - b * np.cos(2 * np.pi * np.arange(n, dtype=np.float64) / max(denom, 1))
            return convert_to_tensor(w.astype(dtype.as_numpy_dtype), dtype=dtype)
        n_t = convert_to_tensor(window_length, dtype=_dt.int32, name="window_length")
        p_t = math_ops.cast(convert_to_tensor(periodic, dtype=_dt.bool, name="periodic"), _dt.int32)
        even = math_ops.subtract(1, math_ops.floormod(n_t, 2))
        denom = math_ops.cast(math_ops.maximum(math_ops.subtract(math_ops.add(n_t, math_ops.multiply(p_t, even)), 1),
                                               1), dtype)
        count = math_ops.cast(array_ops.range(n_t), dtype)
        cosine = math_ops.cos(math_ops.divide(math_ops.multiply(count, 2 * np.pi), denom))
        w = math_ops.subtract(convert_to_tensor(a, dtype=dtype),
                              math_ops.multiply(convert_to_tensor(b, dtype=dtype), cosine))
        single = math_ops.equal(n_t, 1)
        return array_ops.where(array_ops.fill(array_ops.reshape(n_t, [1]), single), array_ops.ones_like(w), w)


def hann_window(window_length: Any, periodic: Any = True, dtype: Any = _dt.float32, name: str | None = None) -> Tensor:
    """The Hann window 0.5 - 0.5 cos(2 pi n / N), n = 0 .. window_length - 1.

    Args:
        window_length: the number of samples (non-negative int32 scalar).
        periodic: a window for spectral analysis (N = window_length for even lengths) rather than a
            symmetric filter window (N = window_length - 1).
        dtype: the floating-point dtype of the result.
        name: a name for the operation.

    Returns:
        A `[window_length]` tensor of `dtype`.

    Raises:
        ValueError: dtype is not floating point, or window_length is negative or not a scalar.
    """
    return _raised_cosine(name, "hann_window", window_length, periodic, dtype, 0.5, 0.5)


def hamming_window(window_length: Any, periodic: Any = True, dtype: Any = _dt.float32,
                   name: str | None = None) -> Tensor:
    """The Hamming window 0.54 - 0.46 cos(2 pi n / N); arguments as for `hann_window`."""
    return _raised_cosine(name, "hamming_window", window_length, periodic, dtype, 0.54, 0.46)


def _float_dtype(dtype: Any, fn: str) -> _dt.DType:
    dtype = _dt.as_dtype(dtype).base_dtype
    if not dtype.is_floating:
        raise ValueError(f"{fn}: dtype must be a floating point type, got {dtype.name}")
    return dtype


def _length(window_length: Any, fn: str) -> Tensor:
    static_int(window_length, "window_length", fn, positive=False)
    return convert_to_tensor(window_length, dtype=_dt.int32, name="window_length")


def kaiser_window(window_length: Any, beta: Any = 12.0, dtype: Any = _dt.float32, name: str | None = None) -> Tensor:
    """The Kaiser window I0(beta sqrt(1 - (2n / (N - 1) - 1)^2)) / I0(beta), like numpy.kaiser.

    Args:
        window_length: the number of samples (non-negative int32 scalar).
        beta: the shape parameter (larger: lower side lobes, a wider main lobe).
        dtype: the floating-point dtype of the result.
        name: a name for the operation.
    """
    from labflow.ops import array_ops, math_ops, special_math_ops
    dtype = _float_dtype(dtype, "kaiser_window")
    with op_scope(name, "kaiser_window", [window_length, beta]):
        n = _length(window_length, "kaiser_window")
        if static_int(n, "window_length", "kaiser_window", positive=False) == 1:
            return array_ops.ones([1], dtype=dtype)
        half = math_ops.divide(math_ops.subtract(math_ops.cast(n, dtype), 1.0), 2.0)
        arg = math_ops.subtract(math_ops.cast(array_ops.range(n), dtype), half)
        b = math_ops.cast(beta, dtype)
        num = math_ops.multiply(b, math_ops.sqrt(math_ops.maximum(
            math_ops.subtract(1.0, math_ops.square(math_ops.divide(arg, half))), 0.0)))
        # exp(num - beta) * i0e(num) / i0e(beta) = I0(num) / I0(beta) without overflow for large beta
        return math_ops.multiply(math_ops.exp(math_ops.subtract(num, b)),
                                 math_ops.divide(special_math_ops.bessel_i0e(num), special_math_ops.bessel_i0e(b)))


def kaiser_bessel_derived_window(window_length: Any, beta: Any = 12.0, dtype: Any = _dt.float32,
                                 name: str | None = None) -> Tensor:
    """The Kaiser-Bessel-derived window (for MDCTs): sqrt of the normalized cumulative Kaiser window, mirrored.

    Args:
        window_length: the number of samples (an even, non-negative int32 scalar).
        beta: the Kaiser window's shape parameter.
        dtype: the floating-point dtype of the result.
        name: a name for the operation.
    """
    from labflow.ops import array_ops, math_ops
    dtype = _float_dtype(dtype, "kaiser_bessel_derived_window")
    with op_scope(name, "kaiser_bessel_derived_window", [window_length, beta]):
        n = _length(window_length, "kaiser_bessel_derived_window")
        k = kaiser_window(math_ops.add(math_ops.floordiv(n, 2), 1), beta, dtype=dtype)
        csum = math_ops.cumsum(k)
        half = math_ops.sqrt(math_ops.divide(csum[:-1], csum[-1]))
        return array_ops.concat([half, array_ops.reverse(half, [0])], 0)


def vorbis_window(window_length: Any, dtype: Any = _dt.float32, name: str | None = None) -> Tensor:
    """The Vorbis power-complementary window sin(pi/2 sin^2(pi (n + 0.5) / N)) (for MDCTs).

    Args:
        window_length: the number of samples (non-negative int32 scalar).
        dtype: the floating-point dtype of the result.
        name: a name for the operation.
    """
    from labflow.ops import array_ops, math_ops
    dtype = _float_dtype(dtype, "vorbis_window")
    with op_scope(name, "vorbis_window", [window_length]):
        n = _length(window_length, "vorbis_window")
        arg = math_ops.add(math_ops.cast(array_ops.range(n), dtype), 0.5)
        inner = math_ops.sin(math_ops.multiply(arg, math_ops.divide(np.pi, math_ops.cast(n, dtype))))
        return math_ops.sin(math_ops.multiply(math_ops.square(inner), np.pi / 2.0))
