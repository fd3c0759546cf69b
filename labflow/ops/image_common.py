"""Helpers shared by the tf.image composites: rank checks, static-or-dynamic dimensions, TF's `_assert`."""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow.framework.graph import control_dependencies
from labflow.framework.tensor import Tensor
from labflow.ops import array_ops, compare_ops, logging_ops
from labflow.ops.common import constant_value, convert_to_tensor


def is_tensor(x: Any) -> bool:
    return isinstance(x, Tensor)


def static_value(x: Any) -> Any:
    """A Python value for `x` when it is one or a constant tensor, else None."""
    if is_tensor(x):
        v = constant_value(x)
        return None if v is None else np.asarray(v).item() if np.ndim(v) == 0 else v
    return x


def image_dims(image: Tensor, rank: int) -> list:
    """TF's `_ImageDimensions`: each dim as a Python int where static, else a scalar int32 tensor."""
    d = image.get_shape().with_rank(rank).as_list()
    if all(v is not None for v in d):
        return d
    dyn = array_ops.shape(image)
    return [v if v is not None else dyn[i] for i, v in enumerate(d)]


def check_at_least_3d(image: Tensor, fn: str) -> list:
    """Static checks of an image's inner three dims, plus run-time asserts for the unknown ones."""
    shape = image.get_shape()
    if shape.ndims is not None and shape.ndims < 3:
        raise ValueError(f"{fn}: 'image' (shape {shape}) must be at least three-dimensional.")
    dims = shape.as_list()[-3:] if shape.ndims is not None else [None] * 3
    if any(v == 0 for v in dims):
        raise ValueError(f"{fn}: inner 3 dims of 'image.shape' must be > 0: {shape}")
    if all(v is not None for v in dims):
        return []
    inner = array_ops.shape(image)[-3:]
    from labflow.ops import reduction_ops
    ok = reduction_ops.reduce_all(compare_ops.greater(inner, 0))
    return [logging_ops.Assert(ok, [f"{fn}: inner 3 dims of 'image.shape' must be > 0.", inner])]


def assert_that(cond: Any, msg: str) -> list:
    """TF's `_assert`: a static False raises ValueError now; a tensor condition becomes an Assert op."""
    if is_tensor(cond):
        v = constant_value(cond)
        if v is None:
            return [logging_ops.Assert(cond, [msg])]
        cond = bool(v)
    if not cond:
        raise ValueError(msg)
    return []


def with_dependencies(deps: list, x: Tensor) -> Tensor:
    """`x` passed through an Identity that runs after `deps` (or `x` itself with no deps)."""
    if not deps:
        return x
    with control_dependencies(deps):
        return array_ops.identity(x)


def as_image(image: Any, name: str = "image") -> Tensor:
    return convert_to_tensor(image, name=name)


def batched(image: Tensor, fn: str) -> tuple:
    """(4-D image, whether it was a batch): a 3-D or unknown-rank image gets a leading batch dim."""
    from labflow.ops import array_reshape_ops
    nd = image.get_shape().ndims
    if nd == 4:
        return image, True
    if nd == 3 or nd is None:
        x = array_reshape_ops.expand_dims(image, 0)
        if nd is None:
            x.set_shape([None] * 4)
        return x, False
    raise ValueError(f"{fn}: 'image' (shape {image.get_shape()}) must have either 3 or 4 dimensions.")


def unbatched(image: Tensor, is_batch: bool) -> Tensor:
    from labflow.ops import array_reshape_ops
    return image if is_batch else array_reshape_ops.squeeze(image, axis=[0])
