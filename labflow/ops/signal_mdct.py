"""The modified discrete cosine transform: tf.signal.mdct and inverse_mdct (half-overlapping frames, a
power-complementary window and a type-IV DCT, composed like TF's so they are differentiable)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from labflow.framework.tensor import Tensor
from labflow.ops.common import convert_to_tensor, dims
from labflow.ops.math_helpers import op_scope
from labflow.ops.signal_dct import dct
from labflow.ops.signal_framing import frame, overlap_and_add, static_int
from labflow.ops.signal_windows import vorbis_window


def mdct(signals: Any, frame_length: Any, window_fn: Callable | None = vorbis_window, pad_end: bool = False,
         norm: str | None = None, name: str | None = None) -> Tensor:
    """The MDCT of real signals along their last axis, frames `frame_length` long and half overlapping.

    Args:
        signals: a `[..., samples]` float32/float64 tensor.
        frame_length: samples per frame, a multiple of 4 known at graph time.
        window_fn: `fn(frame_length, dtype=...)`, a power-complementary window (None: a flat 1/sqrt(2)).
        pad_end: pad the end with zeros so that the last samples start a frame.
        norm: None, or "ortho" for an orthonormal transform.
        name: a name for the operation.

    Returns:
        A `[..., frames, frame_length // 2]` tensor.

    Raises:
        ValueError: frame_length is unknown or not a multiple of 4.
    """
    from labflow.ops import array_ops, math_ops
    with op_scope(name, "mdct", [signals, frame_length]):
        x = convert_to_tensor(signals, name="signals")
        if dims(x) is not None and len(dims(x)) < 1:
            raise ValueError("mdct: signals must have rank at least 1, got a scalar")
        fl = static_int(frame_length, "frame_length", "mdct")
        if fl is None or fl % 4:
            raise ValueError(f"The frame length must be a multiple of 4 (and known at graph time), got {fl}")
        framed = frame(x, fl, fl // 2, pad_end=pad_end)
        if window_fn is not None:
            framed = math_ops.multiply(framed, window_fn(fl, dtype=framed.dtype))
        else:
            framed = math_ops.multiply(framed, np.asarray(1.0 / np.sqrt(2), framed.dtype.as_numpy_dtype))
        q = fl // 4
        a, b, c, d = (framed[..., i * q:(i + 1) * q] for i in range(4))
        first = math_ops.subtract(math_ops.negative(array_ops.reverse(c, [-1])), d)
        second = math_ops.subtract(a, array_ops.reverse(b, [-1]))
        return dct(array_ops.concat([first, second], -1), type=4, norm=norm)


def inverse_mdct(mdcts: Any, window_fn: Callable | None = vorbis_window, norm: str | None = None,
                 name: str | None = None) -> Tensor:
    """The inverse of `mdct`: type-IV DCT, unfold, window and overlap-add (the window must satisfy the
    Princen-Bradley condition, as vorbis and Kaiser-Bessel-derived windows do, for perfect reconstruction).

    Args:
        mdcts: a `[..., frames, frame_length // 2]` float32/float64 tensor (last dimension known).
        window_fn: as given to `mdct`.
        norm: as given to `mdct`.
        name: a name for the operation.

    Returns:
        A `[..., samples]` tensor, samples = (frames + 1) * frame_length // 2.
    """
    from labflow.ops import array_ops, math_ops
    with op_scope(name, "inverse_mdct", [mdcts]):
        m = convert_to_tensor(mdcts, name="mdcts")
        d = dims(m)
        if d is None or len(d) < 2 or d[-1] is None:
            raise ValueError(f"inverse_mdct: mdcts must have rank >= 2 and a known last dimension, got {d}")
        if norm not in (None, "ortho"):
            raise ValueError(f"Unknown normalization. Expected None or 'ortho', got: {norm!r}")
        half = d[-1]
        npdt = m.dtype.as_numpy_dtype
        if norm is None:
            y = math_ops.multiply(dct(m, type=4), np.asarray(0.5 / half, npdt))
        else:
            y = dct(m, type=4, norm="ortho")
        h = half // 2
        lo, hi = y[..., :h], y[..., h:]
        frames = array_ops.concat([hi, math_ops.negative(array_ops.reverse(hi, [-1])),
                                   math_ops.negative(array_ops.reverse(lo, [-1])), math_ops.negative(lo)], -1)
        if window_fn is not None:
            frames = math_ops.multiply(frames, window_fn(2 * half, dtype=m.dtype))
        else:
            frames = math_ops.multiply(frames, np.asarray(1.0 / np.sqrt(2), npdt))
        return overlap_and_add(frames, half)
