"""Short-time Fourier transforms: tf.signal.stft, inverse_stft and inverse_stft_window_fn (frames, a window
and an RFFT, composed from frame / overlap_and_add / rfft / irfft, so gradients come from those)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.tensor import Tensor
from labflow.ops.common import convert_to_tensor, dims
from labflow.ops.math_helpers import op_scope
from labflow.ops.signal_framing import frame, overlap_and_add, static_int
from labflow.ops.signal_windows import hann_window
from labflow.ops.spectral_ops import irfft, rfft


def _enclosing_power_of_two(n: Any) -> Any:
    """The smallest power of two >= n: TF's default fft_length for a frame_length."""
    v = static_int(n, "frame_length", "stft")
    if v is not None:
        return int(2 ** int(np.ceil(np.log2(v))))
    from labflow.ops import math_ops
    x = math_ops.cast(n, _dt.float64)
    return math_ops.cast(math_ops.pow(2.0, math_ops.ceil(math_ops.divide(math_ops.log(x), np.log(2.0)))), _dt.int32)


def stft(signals: Any, frame_length: Any, frame_step: Any, fft_length: Any = None,
         window_fn: Callable | None = hann_window, pad_end: bool = False, name: str | None = None) -> Tensor:
    """The short-time Fourier transform of real signals along their last axis.

    Args:
        signals: a `[..., samples]` float32/float64 tensor.
        frame_length: samples per frame (int32 scalar).
        frame_step: hop between frames (int32 scalar).
        fft_length: FFT size; default: the smallest power of two >= frame_length.
        window_fn: `fn(frame_length, dtype=...)` giving the window to apply to each frame (None: none).
        pad_end: pad the signal's end with zeros so that the last samples start a frame.
        name: a name for the operation.

    Returns:
        A `[..., frames, fft_length // 2 + 1]` complex64/complex128 tensor.
    """
    with op_scope(name, "stft", [signals, frame_length, frame_step]):
        x = convert_to_tensor(signals, name="signals")
        d = dims(x)
        if d is not None and len(d) < 1:
            raise ValueError("stft: signals must have rank at least 1, got a scalar")
        if fft_length is None:
            fft_length = _enclosing_power_of_two(frame_length)
        framed = frame(x, frame_length, frame_step, pad_end=pad_end)
        if window_fn is not None:
            from labflow.ops import math_ops
            framed = math_ops.multiply(framed, window_fn(frame_length, dtype=framed.dtype))
        from labflow.ops import array_ops
        return rfft(framed, array_ops.reshape(convert_to_tensor(fft_length, dtype=_dt.int32), [1]))


def inverse_stft_window_fn(frame_step: Any, forward_window_fn: Callable = hann_window,
                           name: str | None = None) -> Callable:
    """A window function for `inverse_stft` that undoes `forward_window_fn`'s overlapping windows.

    Returns:
        `fn(frame_length, dtype)`: the forward window divided by the sum of the squared windows that overlap
        each sample (so stft followed by inverse_stft reconstructs the signal away from its ends).
    """
    def inverse_fn(frame_length: Any, dtype: Any) -> Tensor:
        from labflow.ops import array_ops, math_ops
        with op_scope(name, "inverse_stft_window_fn", [frame_length]):
            fl = static_int(frame_length, "frame_length", "inverse_stft_window_fn")
            fs = static_int(frame_step, "frame_step", "inverse_stft_window_fn")
            if fl is None or fs is None:
                raise ValueError("inverse_stft_window_fn needs frame_length and frame_step known at graph time")
            forward = forward_window_fn(fl, dtype=dtype)
            overlaps = -(-fl // fs)
            denom = array_ops.pad(math_ops.square(forward), [[0, overlaps * fs - fl]])
            denom = math_ops.reduce_sum(array_ops.reshape(denom, [overlaps, fs]), 0, keepdims=True)
            denom = array_ops.reshape(array_ops.tile(denom, [overlaps, 1]), [overlaps * fs])
            return math_ops.divide(forward, denom[:fl])
    return inverse_fn


def inverse_stft(stfts: Any, frame_length: Any, frame_step: Any, fft_length: Any = None,
                 window_fn: Callable | None = hann_window, name: str | None = None) -> Tensor:
    """The inverse of `stft`: IRFFT each frame, window it and overlap-add.

    For perfect reconstruction pass `window_fn=tf.signal.inverse_stft_window_fn(frame_step)` (with the
    forward window_fn used for the STFT).

    Args:
        stfts: a `[..., frames, fft_length // 2 + 1]` complex64/complex128 tensor.
        frame_length, frame_step, fft_length: as given to `stft`.
        window_fn: `fn(frame_length, dtype=...)` applied to each frame after the IRFFT (None: none).
        name: a name for the operation.

    Returns:
        A `[..., samples]` float32/float64 tensor, samples = (frames - 1) * frame_step + frame_length.
    """
    from labflow.ops import array_ops, math_ops
    with op_scope(name, "inverse_stft", [stfts]):
        s = convert_to_tensor(stfts, name="stfts")
        d = dims(s)
        if d is not None and len(d) < 2:
            raise ValueError(f"inverse_stft: stfts must have rank at least 2, got rank {len(d)}")
        fl = static_int(frame_length, "frame_length", "inverse_stft")
        if fl is None:
            raise ValueError("inverse_stft needs frame_length known at graph time")
        if fft_length is None:
            fft_length = _enclosing_power_of_two(fl)
        frames = irfft(s, array_ops.reshape(convert_to_tensor(fft_length, dtype=_dt.int32), [1]))
        # the FFT may be longer than a frame (crop) or shorter (zero-pad)
        n = dims(frames)[-1] if dims(frames) is not None else None
        if n is None or n > fl:
            frames = frames[..., :fl]
        if n is not None and n < fl:
            frames = array_ops.pad(frames, [[0, 0]] * (len(dims(frames)) - 1) + [[0, fl - n]])
        elif n is None:
            extra = math_ops.maximum(math_ops.subtract(fl, array_ops.shape(frames)[-1]), 0)
            r = array_ops.rank(frames)
            last = math_ops.cast(math_ops.equal(array_ops.range(r), math_ops.subtract(r, 1)), _dt.int32)
            frames = array_ops.pad(frames, array_ops.stack([array_ops.zeros_like(last),
                                                            math_ops.multiply(last, extra)], axis=1))
        if dims(frames) is not None:
            frames.set_shape(list(dims(frames)[:-1]) + [fl])
        if window_fn is not None:
            frames = math_ops.multiply(frames, window_fn(fl, dtype=s.dtype.real_dtype))
        return overlap_and_add(frames, frame_step)
