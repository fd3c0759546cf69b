"""tf.nn names of TF 1.x that pick an existing op by rank or alias one: max_pool_v2, avg_pool_v2,
conv_transpose, with_space_to_batch and depthwise_conv2d_backprop_input / _filter."""

from __future__ import annotations

from collections.abc import Callable, Sized
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.tensor import Tensor
from labflow.ops.common import constant_value, convert_to_tensor, dims

__all__ = ["max_pool_v2", "avg_pool_v2", "conv_transpose", "with_space_to_batch", "depthwise_conv2d_backprop_input",
           "depthwise_conv2d_backprop_filter"]


def _spatial_rank(input: Any, data_format: str | None) -> int:  # noqa: A002 - TF's argument name
    d = dims(input)
    if d is not None:
        n = len(d) - 2
    elif data_format is not None:
        n = len(data_format) - 2
    else:
        raise ValueError("The input must have a rank or a data format must be given.")
    if not 1 <= n <= 3:
        raise ValueError(f"Input tensor must be of rank 3, 4 or 5 but was {n + 2}.")
    return n


def _pool_v2(kind: str, input: Any, ksize: Any, strides: Any, padding: str, data_format: str | None,  # noqa: A002
             name: str | None) -> Tensor:
    import labflow.nn as nn
    x = convert_to_tensor(input, name="input")
    n = _spatial_rank(x, data_format)
    fn = getattr(nn, f"{kind}_pool{n}d")
    kw = {} if data_format is None else {"data_format": data_format}
    return fn(x, ksize, strides, padding, name=name, **kw)


def max_pool_v2(input: Any, ksize: Any, strides: Any, padding: str, data_format: str | None = None,  # noqa: A002
                name: str | None = None) -> Tensor:
    """N-d max pooling (TF 1.x `tf.nn.max_pool_v2`): max_pool1d, 2d or 3d by the input's rank (3, 4 or 5).

    `ksize` and `strides` are an int, or lists of length 1, N or N + 2; data_format None: channels last.
    """
    return _pool_v2("max", input, ksize, strides, padding, data_format, name)


def avg_pool_v2(input: Any, ksize: Any, strides: Any, padding: str, data_format: str | None = None,  # noqa: A002
                name: str | None = None) -> Tensor:
    """N-d average pooling (TF 1.x `tf.nn.avg_pool_v2`): avg_pool1d, 2d or 3d by the input's rank (3, 4 or 5)."""
    return _pool_v2("avg", input, ksize, strides, padding, data_format, name)


def conv_transpose(input: Any, filters: Any, output_shape: Any, strides: Any, padding: str = "SAME",  # noqa: A002
                   data_format: str | None = None, dilations: Any = None, name: str | None = None) -> Tensor:
    """N-d transposed convolution (TF 1.x `tf.nn.conv_transpose`): conv1d/2d/3d_transpose by len(output_shape).

    Raises:
        ValueError: output_shape is not of length 3, 4 or 5 (or not a sized collection / 1-D tensor).
    """
    import labflow.nn as nn
    if isinstance(output_shape, Tensor):
        d = dims(output_shape)
        if d is None or len(d) != 1 or d[0] is None:
            raise ValueError("output_shape must be a 1-D tensor of static length (3, 4 or 5).")
        n = d[0] - 2
    elif isinstance(output_shape, Sized):
        n = len(output_shape) - 2
    else:
        raise ValueError("output_shape must be a tensor or sized collection.")
    if not 1 <= n <= 3:
        raise ValueError(f"output_shape must be of length 3, 4 or 5 but was {n + 2}.")
    kw = {} if data_format is None else {"data_format": data_format}
    if n == 1:
        return nn.conv1d_transpose(input, filters, output_shape, strides, padding=padding, dilations=dilations,
                                   name=name, **kw)
    fn = nn.conv2d_transpose if n == 2 else nn.conv3d_transpose
    return fn(input=input, filters=filters, output_shape=output_shape, strides=strides, padding=padding,
              dilations=dilations, name=name or "conv_transpose", **kw)


def depthwise_conv2d_backprop_input(input_sizes: Any, filter: Any, out_backprop: Any, strides: Any,  # noqa: A002
                                    padding: Any, data_format: str = "NHWC", dilations: Any = (1, 1, 1, 1),
                                    name: str | None = None) -> Tensor:
    """The gradient of depthwise_conv2d for its input (`tf.nn.depthwise_conv2d_native_backprop_input`)."""
    from labflow.ops.depthwise_conv import depthwise_conv2d_native_backprop_input
    return depthwise_conv2d_native_backprop_input(input_sizes, filter, out_backprop, strides, padding,
                                                  data_format=data_format, dilations=list(dilations), name=name)


def depthwise_conv2d_backprop_filter(input: Any, filter_sizes: Any, out_backprop: Any, strides: Any,  # noqa: A002
                                     padding: Any, data_format: str = "NHWC", dilations: Any = (1, 1, 1, 1),
                                     name: str | None = None) -> Tensor:
    """The gradient of depthwise_conv2d for its filter (`tf.nn.depthwise_conv2d_native_backprop_filter`)."""
    from labflow.ops.depthwise_conv import depthwise_conv2d_native_backprop_filter
    return depthwise_conv2d_native_backprop_filter(input, filter_sizes, out_backprop, strides, padding,
                                                   data_format=data_format, dilations=list(dilations), name=name)


def _adjust(orig: np.ndarray, fill: int, spatial_dims: list[int]) -> np.ndarray:
    """`orig` (one row per spatial dim) with fill rows for the dims between non-contiguous spatial dims, starting
    at dimension 1 (TF's _with_space_to_batch_adjust)."""
    rows, prev = [], 0
    for k, d in enumerate(spatial_dims):
        rows.extend([np.full(orig.shape[1:], fill, dtype=orig.dtype)] * (d - 1 - prev))
        rows.append(orig[k])
        prev = d
    return np.stack(rows)


def with_space_to_batch(input: Any, dilation_rate: Any, padding: str, op: Callable,  # noqa: A002
                        filter_shape: Any = None, spatial_dims: Any = None, data_format: str | None = None) -> Any:
    """Runs `op(converted_input, num_spatial_dims, padding)` on a space-to-batch rearranged input so a
    dilated ("atrous") operation becomes a plain one (TF 1.x `tf.nn.with_space_to_batch`).

    With every rate 1, `op(input, num_spatial_dims, padding)` runs directly. Otherwise the input is padded
    (SAME: by the dilated filter's extent, so `filter_shape` is needed) and split by space_to_batch_nd with
    the rates as block shape, `op` runs with "VALID", and batch_to_space_nd puts the result back.

    labflow needs `dilation_rate` and `filter_shape` as constants (TF also takes run-time tensors).

    Raises:
        ValueError: rates not a 1-D constant of positive ints, bad spatial_dims, SAME without filter_shape,
            or an unknown padding.
    """
    import labflow as tf
    x = convert_to_tensor(input, name="input")
    rate = constant_value(convert_to_tensor(dilation_rate, dtype=_dt.int32, name="dilation_rate"))
    if rate is None:
        raise ValueError("with_space_to_batch: labflow needs dilation_rate as a constant")
    rate = np.asarray(rate, dtype=np.int64)
    if rate.ndim != 1:
        raise ValueError("rate must be rank 1")
    if np.any(rate < 1):
        raise ValueError(f"dilation_rate must be positive, got {rate.tolist()}")
    n = int(rate.shape[0])
    start = 2 if data_format is not None and data_format.startswith("NC") else 1
    spatial = list(range(start, n + start)) if spatial_dims is None else sorted(set(int(s) for s in spatial_dims))
    if spatial_dims is not None and (len(spatial) != len(list(spatial_dims)) or list(spatial_dims) != spatial):
        raise ValueError("spatial_dims must be a monotonically increasing sequence of positive integers")
    if len(spatial) != n or spatial[0] < 1:
        raise ValueError(f"spatial_dims must hold {n} dimensions >= 1 (one per dilation rate), got {spatial}")
    if np.all(rate == 1):
        return op(x, n, padding)
    if padding == "SAME":
        if filter_shape is None:
            raise ValueError("filter_shape must be specified for SAME padding")
        fs = constant_value(convert_to_tensor(filter_shape, dtype=_dt.int32, name="filter_shape"))
        if fs is None:
            raise ValueError("with_space_to_batch: labflow needs filter_shape as a constant")
        extra = (np.asarray(fs, dtype=np.int64)[:n] - 1) * rate
        base = np.stack([extra // 2, extra - extra // 2], axis=1)
    elif padding == "VALID":
        base = np.zeros((n, 2), dtype=np.int64)
    else:
        raise ValueError(f"Invalid padding method {padding!r}")
    d = dims(x)
    static = None if d is None else [d[s] if s < len(d) else None for s in spatial]
    if static is not None and all(v is not None for v in static):
        full = np.asarray(static, dtype=np.int64) + base.sum(axis=1)
        pad_extra = (rate - full % rate) % rate
        paddings = np.stack([base[:, 0], base[:, 1] + pad_extra], axis=1)
        crops = np.stack([np.zeros(n, dtype=np.int64), pad_extra], axis=1)
        paddings, crops = (_adjust(paddings, 0, spatial), _adjust(crops, 0, spatial))
    else:
        shape = tf.gather(tf.shape(x, out_type=_dt.int64), [s for s in spatial])
        full = shape + base.sum(axis=1)
        pad_extra = tf.mod(rate - tf.mod(full, rate), rate)
        paddings = tf.stack([tf.constant(base[:, 0]), base[:, 1] + pad_extra], axis=1)
        crops = tf.stack([tf.zeros([n], _dt.int64), pad_extra], axis=1)
        if spatial != list(range(1, n + 1)):
            raise ValueError("with_space_to_batch: labflow needs the input's spatial sizes statically known when "
                             "spatial_dims do not start at dimension 1 contiguously")
    block = _adjust(rate[:, None], 1, spatial)[:, 0]
    converted = tf.space_to_batch_nd(x, block, paddings)
    result = op(converted, n, "VALID")
    return tf.batch_to_space_nd(result, block, crops)
