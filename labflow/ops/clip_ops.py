"""Clipping: clip_by_value, clip_by_norm, global_norm, clip_by_global_norm, clip_by_average_norm.

All are composites of math/array ops, built exactly as TF 1.x builds them (names included), so their
gradients come from the primitives. IndexedSlices (sparse gradients) are clipped on their values and
stay sparse; None entries of a list pass through.
"""

from __future__ import annotations

import collections.abc
from typing import Any

from labflow import dtypes as _dt
from labflow.framework.graph import colocate_with, name_scope
from labflow.framework.tensor import IndexedSlices
from labflow.ops import array_ops, math_ops
from labflow.ops.common import base, convert_to_tensor

__all__ = ["clip_by_value", "clip_by_norm", "global_norm", "clip_by_global_norm", "clip_by_average_norm"]


def _values(t: Any, name: str = "t") -> Any:
    return convert_to_tensor(t.values if isinstance(t, IndexedSlices) else t, name=name)


def _like(t: Any, values: Any) -> Any:
    return IndexedSlices(values, t.indices, t.dense_shape) if isinstance(t, IndexedSlices) else values


def _check_no_broadcast(values: Any, result: Any, fn: str) -> None:
    """TF's guard against a clip bound silently broadcasting `t` to a bigger shape."""
    try:
        values.get_shape().merge_with(result.get_shape())
    except ValueError:
        raise ValueError(f"{fn}: the clip bounds would broadcast t of shape {values.get_shape()} to "
                         f"{result.get_shape()}; bounds must be scalars or broadcast to t's shape") from None
    if values.get_shape().ndims is not None and result.get_shape().ndims is not None and \
            values.get_shape().ndims != result.get_shape().ndims:
        raise ValueError(f"{fn}: the clip bounds would broadcast t of shape {values.get_shape()} to "
                         f"{result.get_shape()}; bounds must be scalars or broadcast to t's shape")


def clip_by_value(t: Any, clip_value_min: Any, clip_value_max: Any, name: str | None = None) -> Any:
    """Clips tensor values to [clip_value_min, clip_value_max]: `maximum(minimum(t, max), min)`.

    Args:
        t: a Tensor or IndexedSlices.
        clip_value_min: the minimum value (a scalar, or broadcastable to t's shape).
        clip_value_max: the maximum value (a scalar, or broadcastable to t's shape).
        name: a name for the operation (default scope "clip_by_value").

    Returns:
        A clipped Tensor or IndexedSlices.

    Raises:
        ValueError: the bounds would broadcast `t` to a bigger shape.
    """
    with name_scope(name, "clip_by_value") as scope:
        values = _values(t)
        lo = convert_to_tensor(clip_value_min, dtype=base(values), name="clip_value_min")
        hi = convert_to_tensor(clip_value_max, dtype=base(values), name="clip_value_max")
        t_min = math_ops.minimum(values, hi)
        _check_no_broadcast(values, t_min, "clip_by_value")
        t_max = math_ops.maximum(t_min, lo, name=scope)
        _check_no_broadcast(values, t_max, "clip_by_value")
    return _like(t, t_max)


def clip_by_norm(t: Any, clip_norm: Any, axes: Any = None, name: str | None = None) -> Any:
    """Rescales `t` so that its L2 norm (over `axes`) is at most `clip_norm`.

    `t * clip_norm / maximum(l2norm(t), clip_norm)`; a zero tensor stays zero, and the gradient at zero
    is finite (TF's double-`where` trick).

    Args:
        t: a Tensor or IndexedSlices.
        clip_norm: a positive scalar.
        axes: the dimensions to compute the norm over (default: all).
        name: a name for the operation (default scope "clip_by_norm").

    Returns:
        A clipped Tensor or IndexedSlices.
    """
    with name_scope(name, "clip_by_norm") as scope:
        values = _values(t)
        cn = convert_to_tensor(clip_norm, dtype=base(values), name="clip_norm")
        l2sum = math_ops.reduce_sum(math_ops.multiply(values, values), axes, keepdims=True)
        pred = math_ops.greater(l2sum, convert_to_tensor(0, dtype=base(l2sum)))
        l2sum_safe = array_ops.where(pred, l2sum, array_ops.ones_like(l2sum))
        l2norm = array_ops.where(pred, math_ops.sqrt(l2sum_safe), l2sum)
        intermediate = math_ops.multiply(values, cn)
        _check_no_broadcast(values, intermediate, "clip_by_norm")
        clipped = array_ops.identity(math_ops.truediv(intermediate, math_ops.maximum(l2norm, cn)), name=scope)
    return _like(t, clipped)


def _as_list(t_list: Any) -> list:
    if not isinstance(t_list, collections.abc.Sequence) or isinstance(t_list, (str, bytes)):
        raise TypeError("t_list should be a sequence")
    return list(t_list)


def global_norm(t_list: Any, name: str | None = None) -> Any:
    """The global L2 norm of several tensors: `sqrt(sum([l2norm(t) ** 2 for t in t_list]))`.

    Args:
        t_list: a list of Tensors, IndexedSlices, or None (ignored).
        name: a name for the operation (default scope "global_norm").

    Returns:
        A scalar Tensor.

    Raises:
        TypeError: t_list is not a sequence.
    """
    t_list = _as_list(t_list)
    with name_scope(name, "global_norm"):
        values = [None if t is None else _values(t, f"t_{i}") for i, t in enumerate(t_list)]
        half_squared = []
        for v in values:
            if v is not None:
                with colocate_with(v.op):
                    half_squared.append(_l2_loss(v))
        if not half_squared:
            raise ValueError("global_norm: t_list holds no tensors (every entry is None)")
        if len({base(h) for h in half_squared}) > 1:
            raise TypeError("global_norm: all tensors must have the same dtype, got "
                            f"{sorted({base(h).name for h in half_squared})}")
        total = math_ops.reduce_sum(array_ops.stack(half_squared))
        two = convert_to_tensor(2.0, dtype=base(total))
        return math_ops.sqrt(math_ops.multiply(total, two), name="global_norm")


def _l2_loss(v: Any) -> Any:
    from labflow.ops.nn_ops import l2_loss
    return l2_loss(v)


def clip_by_global_norm(t_list: Any, clip_norm: Any, use_norm: Any = None, name: str | None = None) -> tuple:
    """Scales every tensor by `clip_norm / maximum(global_norm, clip_norm)` (the usual gradient clipping).

    If the global norm is infinite or NaN, every entry becomes NaN (as in TF), so a bad step is visible.

    Args:
        t_list: a list of Tensors, IndexedSlices, or None (passed through as None).
        clip_norm: a positive scalar.
        use_norm: a precomputed global norm (default: computed with `global_norm`).
        name: a name for the operation (default scope "clip_by_global_norm").

    Returns:
        (list_clipped, global_norm): the clipped list (same structure) and the norm used.

    Raises:
        TypeError: t_list is not a sequence.
    """
    t_list = _as_list(t_list)
    if use_norm is None:
        use_norm = global_norm(t_list, name)
    with name_scope(name, "clip_by_global_norm") as scope:
        use_norm = convert_to_tensor(use_norm)
        cn = convert_to_tensor(clip_norm, dtype=base(use_norm), name="clip_norm")
        one = convert_to_tensor(1.0, dtype=base(use_norm))
        scale_for_finite = math_ops.multiply(cn, math_ops.minimum(math_ops.truediv(one, use_norm),
                                                                   math_ops.truediv(one, cn)))
        # Adding (norm - norm) turns the scale into NaN when the norm is inf or NaN.
        scale = math_ops.add(scale_for_finite, math_ops.subtract(use_norm, use_norm))
        values = [None if t is None else _values(t, f"t_{i}") for i, t in enumerate(t_list)]
        clipped = []
        for i, v in enumerate(values):
            if v is None:
                clipped.append(None)
                continue
            with colocate_with(v.op):
                s = scale if base(v) == base(scale) else math_ops.cast(scale, base(v))
                clipped.append(array_ops.identity(math_ops.multiply(v, s), name=f"{scope}_{i}"))
        out = [None if c is None else _like(t, c) for c, t in zip(clipped, t_list)]
    return out, use_norm


def clip_by_average_norm(t: Any, clip_norm: Any, name: str | None = None) -> Any:
    """Rescales `t` so that its average L2 norm (L2 norm / number of elements) is at most `clip_norm`.

    Args:
        t: a Tensor.
        clip_norm: a positive scalar.
        name: a name for the operation (default scope "clip_by_average_norm").

    Returns:
        A clipped Tensor.
    """
    with name_scope(name, "clip_by_average_norm") as scope:
        t = convert_to_tensor(t, name="t")
        cn = convert_to_tensor(clip_norm, dtype=base(t), name="clip_norm")
        n_element = math_ops.cast(array_ops.size(t), base(t))
        l2norm_inv = math_ops.rsqrt(math_ops.reduce_sum(math_ops.multiply(t, t)))
        one = convert_to_tensor(1.0, dtype=base(t))
        factor = math_ops.minimum(math_ops.multiply(l2norm_inv, n_element), math_ops.truediv(one, cn))
        return array_ops.identity(math_ops.multiply(math_ops.multiply(t, cn), factor), name=scope)


del _dt
