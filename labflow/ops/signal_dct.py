"""Discrete cosine transforms (tf.signal.dct / idct, types I-IV, optionally orthonormal), computed through
RFFT / IRFFT of length 2N like TF, so they are differentiable."""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow.framework.tensor import Tensor
from labflow.ops.common import convert_to_tensor, dims
from labflow.ops.math_helpers import op_scope


def _check(x: Tensor, type: int, n: Any, axis: int, norm: Any) -> None:
    if type not in (1, 2, 3, 4):
        raise ValueError(f"Types I, II, III and IV (I)DCT are supported, got type {type!r}")
    if axis != -1:
        raise NotImplementedError(f"axis must be -1. Got: {axis} (transpose the axis to the end first)")
    if norm not in (None, "ortho"):
        raise ValueError(f"Unknown normalization. Expected None or 'ortho', got: {norm!r}")
    if n is not None and (not isinstance(n, (int, np.integer)) or n < 1):
        raise ValueError(f"dct: n must be a positive int or None, got {n!r}")
    if type == 1 and norm == "ortho":
        raise ValueError("Normalization is not supported for the Type-I DCT.")
    d = dims(x)
    if d is None or d[-1] is None:
        raise ValueError("dct: the innermost dimension of the input must be known at graph time")
    if type == 1 and (n or d[-1]) < 2:
        raise ValueError("Type-I DCT requires the dimension to be greater than one.")
    if not x.dtype.is_floating:
        raise TypeError(f"dct: the input must be float32 or float64, got {x.dtype.name}")


def dct(input: Any, type: int = 2, n: int | None = None, axis: int = -1,  # noqa: A002 - TF's names
        norm: str | None = None, name: str | None = None) -> Tensor:
    """The discrete cosine transform of the innermost axis, as scipy.fft.dct defines it.

    Args:
        input: a float32/float64 tensor whose last dimension is known.
        type: 1, 2, 3 or 4.
        n: the transform length: the input is cropped or zero-padded to it (default: its length).
        axis: must be -1.
        norm: None, or "ortho" for the orthonormal transform (types 2, 3 and 4).
        name: a name for the operation.

    Returns:
        A tensor like `input` with last dimension n.

    Raises:
        ValueError / NotImplementedError: an unsupported type, axis, norm or n.
    """
    from labflow.ops import array_ops, math_ops
    from labflow.ops.complex_ops import complex as _complex
    from labflow.ops.complex_ops import real
    from labflow.ops.spectral_ops import irfft, rfft
    with op_scope(name, "dct", [input]):
        x = convert_to_tensor(input, name="input")
        _check(x, type, n, axis, norm)
        size = dims(x)[-1]
        if n is not None and n != size:
            r = len(dims(x))
            x = x[..., :n] if n < size else array_ops.pad(x, [[0, 0]] * (r - 1) + [[0, n - size]])
            size = n
        npdt = x.dtype.as_numpy_dtype
        k = np.arange(size, dtype=np.float64)
        if type == 1:
            ext = array_ops.concat([x, array_ops.reverse(x[..., 1:-1], [-1])], -1)
            return real(rfft(ext))
        if type == 4:
            # TF's route: the odd outputs of a type-II DCT of the input zero-padded to 2N
            out = dct(x, type=2, n=2 * size)[..., 1::2]
            if norm == "ortho":
                out = math_ops.multiply(out, np.asarray(np.sqrt(0.5 / size), npdt))
            return out
        if type == 2:
            spec = rfft(x, [2 * size])[..., :size]
            scale = (2.0 * np.exp(-0.5j * np.pi * k / size)).astype(np.result_type(npdt, np.complex64))
            out = real(math_ops.multiply(spec, scale))
            if norm == "ortho":
                w = np.full(size, np.sqrt(0.5 / size)) if size else np.zeros(0)
                w[:1] = 0.5 / np.sqrt(size)
                out = math_ops.multiply(out, w.astype(npdt))
            return out
        # type 3: the inverse of (unnormalized) type 2, up to 2N
        w = np.full(size, np.sqrt(size * 0.5)) if norm == "ortho" else np.full(size, float(size))
        if norm == "ortho":
            w[:1] = np.sqrt(size)
        xw = math_ops.multiply(x, w.astype(npdt))
        scale = (2.0 * np.exp(0.5j * np.pi * k / size)).astype(np.result_type(npdt, np.complex64))
        z = math_ops.multiply(_complex(xw, array_ops.zeros_like(xw)), scale)
        return irfft(z, [2 * size])[..., :size]


def idct(input: Any, type: int = 2, n: int | None = None, axis: int = -1,  # noqa: A002 - TF's names
         norm: str | None = None, name: str | None = None) -> Tensor:
    """The inverse DCT: `dct` of the inverse type (I <-> I, II <-> III, IV <-> IV), like TF.

    With norm="ortho" it inverts `dct` exactly; without, idct(dct(x)) is 2N x (2(N - 1) x for type I):
    TF does not divide that out (scipy.fft.idct does). Arguments as for `dct`.
    """
    inverse_type = {1: 1, 2: 3, 3: 2, 4: 4}.get(type)
    if inverse_type is None:
        raise ValueError(f"Types I, II, III and IV (I)DCT are supported, got type {type!r}")
    return dct(input, type=inverse_type, n=n, axis=axis, norm=norm, name=name or "idct")
