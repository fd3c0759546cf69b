"""tf.signal.frame and tf.signal.overlap_and_add, composed of Gather and UnsortedSegmentSum (so both have
gradients, and each is the other's adjoint)."""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.constant_value import constant_value
from labflow.framework.tensor import Tensor
from labflow.ops.common import convert_to_tensor, dims
from labflow.ops.math_helpers import op_scope


def static_int(v: Any, what: str, fn: str, positive: bool = True) -> int | None:
    """The value of an int32 scalar argument if known at graph time (None for a computed tensor).

    Raises:
        ValueError: it is not a scalar, or not positive (non-negative when `positive` is False).
    """
    t = v if isinstance(v, Tensor) else convert_to_tensor(v, dtype=_dt.int32, name=what)
    d = dims(t)
    if d is not None and len(d) != 0:
        raise ValueError(f"{fn}: {what} must be a scalar, got shape {list(d)}")
    c = constant_value(t)
    if c is None:
        return None
    n = int(c)
    if n < (1 if positive else 0):
        raise ValueError(f"{fn}: {what} must be {'positive' if positive else 'non-negative'}, got {n}")
    return n


def _int(v: Any, name: str) -> Tensor:
    return v if isinstance(v, Tensor) else convert_to_tensor(v, dtype=_dt.int32, name=name)


def frame(signal: Any, frame_length: Any, frame_step: Any, pad_end: bool = False, pad_value: Any = 0,
          axis: int = -1, name: str | None = None) -> Tensor:
    """Slides a window of `frame_length` samples, `frame_step` apart, along `axis` of `signal`.

    Args:
        signal: a tensor of rank >= 1 (any dtype).
        frame_length: the number of samples per frame (positive int32 scalar).
        frame_step: the hop between frame starts (positive int32 scalar).
        pad_end: pad the end with `pad_value` so that ceil(length / frame_step) frames fit; otherwise only
            whole frames are taken, 1 + (length - frame_length) // frame_step of them.
        pad_value: the padding value when `pad_end` is True.
        axis: the axis to frame (a Python int).
        name: a name for the operation.

    Returns:
        A tensor of shape `signal.shape[:axis] + [frames, frame_length] + signal.shape[axis + 1:]`.

    Raises:
        ValueError: bad lengths, a scalar signal or an axis out of range.
    """
    from labflow.ops import array_ops, math_ops
    with op_scope(name, "frame", [signal, frame_length, frame_step, pad_value]):
        x = convert_to_tensor(signal, name="signal")
        d = dims(x)
        if d is not None and len(d) < 1:
            raise ValueError("frame: signal must have rank at least 1, got a scalar")
        axis = int(axis)
        if d is not None:
            if not -len(d) <= axis < len(d):
                raise ValueError(f"frame: axis {axis} is out of range for a signal of rank {len(d)}")
            axis %= len(d)
        elif axis < 0:
            raise ValueError("frame: a negative axis needs a signal of known rank")
        fl, fs = static_int(frame_length, "frame_length", "frame"), static_int(frame_step, "frame_step", "frame")
        length = None if d is None else d[axis]
        if fl is not None and fs is not None and length is not None:
            frames = -(-length // fs) if pad_end else max(0, 1 + (length - fl) // fs)
            need = (frames - 1) * fs + fl if frames else 0
            if pad_end and need > length:
                pads = [[0, 0]] * len(d)
                pads[axis] = [0, need - length]
                x = array_ops.pad(x, pads, constant_values=pad_value)
            idx = np.arange(frames, dtype=np.int32)[:, None] * fs + np.arange(fl, dtype=np.int32)[None, :]
            return array_ops.gather(x, idx, axis=axis)
        fl_t, fs_t = _int(frame_length, "frame_length"), _int(frame_step, "frame_step")
        n = array_ops.shape(x)[axis]
        if pad_end:
            frames = math_ops.floordiv(math_ops.add(n, math_ops.subtract(fs_t, 1)), fs_t)
            need = math_ops.add(math_ops.multiply(math_ops.subtract(frames, 1), fs_t), fl_t)
            extra = math_ops.maximum(math_ops.subtract(need, n), 0)
            rank = array_ops.rank(x)
            onehot = math_ops.cast(math_ops.equal(array_ops.range(rank), axis), _dt.int32)
            pads = array_ops.stack([array_ops.zeros_like(onehot), math_ops.multiply(onehot, extra)], axis=1)
            x = array_ops.pad(x, pads, constant_values=pad_value)
        else:
            frames = math_ops.maximum(
                math_ops.add(math_ops.floordiv(math_ops.subtract(n, fl_t), fs_t), 1), 0)
        starts = math_ops.multiply(array_ops.range(frames), fs_t)
        idx = math_ops.add(array_ops.expand_dims(starts, 1), array_ops.expand_dims(array_ops.range(fl_t), 0))
        out = array_ops.gather(x, idx, axis=axis)
        if d is not None:  # a dynamic Pad forgets the other dims
            out.set_shape(list(d[:axis]) + [None, fl] + list(d[axis + 1:]))
        return out


def overlap_and_add(signal: Any, frame_step: Any, name: str | None = None) -> Tensor:
    """Sums overlapping frames `frame_step` apart: the adjoint of `frame`.

    Args:
        signal: a `[..., frames, frame_length]` tensor of known rank (>= 2).
        frame_step: the hop between frames (positive int32 scalar, at most frame_length).
        name: a name for the operation.

    Returns:
        A `[..., (frames - 1) * frame_step + frame_length]` tensor.

    Raises:
        ValueError: rank < 2 or unknown, or a bad frame_step.
    """
    from labflow.ops import array_ops, math_ops
    with op_scope(name, "overlap_and_add", [signal, frame_step]):
        x = convert_to_tensor(signal, name="signal")
        d = dims(x)
        if d is None or len(d) < 2:
            raise ValueError("overlap_and_add: signal must have a known rank of at least 2 ([..., frames, "
                             f"frame_length]), got {'unknown rank' if d is None else f'rank {len(d)}'}")
        fs = static_int(frame_step, "frame_step", "overlap_and_add")
        frames, fl = d[-2], d[-1]
        if fs is not None and fl is not None and fs > fl:
            raise ValueError(f"overlap_and_add: frame_step ({fs}) must be at most frame_length ({fl})")
        r = len(d)
        moved = array_ops.transpose(x, [r - 2, r - 1] + list(range(r - 2)))
        if fs is not None and frames is not None and fl is not None:
            ids = np.arange(frames, dtype=np.int32)[:, None] * fs + np.arange(fl, dtype=np.int32)[None, :]
            out_len: Any = max((frames - 1) * fs + fl, 0)
        else:
            fs_t = _int(frame_step, "frame_step")
            s = array_ops.shape(x)
            starts = math_ops.multiply(array_ops.range(s[-2]), fs_t)
            ids = math_ops.add(array_ops.expand_dims(starts, 1), array_ops.expand_dims(array_ops.range(s[-1]), 0))
            out_len = math_ops.maximum(math_ops.add(math_ops.multiply(math_ops.subtract(s[-2], 1), fs_t), s[-1]), 0)
        summed = array_ops.unsorted_segment_sum(moved, ids, out_len)
        return array_ops.transpose(summed, list(range(1, r - 1)) + [0])
