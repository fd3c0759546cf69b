"""`tf.layers` 2-D pooling: MaxPooling2D, AveragePooling2D, and their functional forms."""

from __future__ import annotations

from typing import Any

from labflow.framework.shapes import TensorShape
from labflow.framework.tensor import Tensor
from labflow.layers.base import Layer
from labflow.layers.convolutional import (
    conv_output_length,
    nn_format,
    normalize_data_format,
    normalize_padding,
    normalize_tuple,
)
from labflow.ops.pool_ops import avg_pool, max_pool

__all__ = ["MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D", "max_pooling2d", "average_pooling2d"]


class _Pooling2D(Layer):
    """Shared by the 2-D pooling layers: window and stride normalization, shape inference."""

    _pool_fn: Any = None

    def __init__(self, pool_size: Any, strides: Any, padding: str = "valid", data_format: str = "channels_last",
                 name: str | None = None, **kwargs: Any):
        super().__init__(name=name, **kwargs)
        self.pool_size = normalize_tuple(pool_size, 2, "pool_size")
        self.strides = normalize_tuple(strides, 2, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format)

    def call(self, inputs: Tensor) -> Tensor:
        r = inputs.get_shape().ndims
        if r is not None and r != 4:
            raise ValueError(f"Input 0 of layer {self.name} is incompatible with the layer: expected ndim=4, "
                             f"found ndim={r}. Full shape received: {inputs.get_shape().as_list()}")
        fmt = nn_format(self.data_format)
        if fmt == "NHWC":
            ksize, strides = [1, *self.pool_size, 1], [1, *self.strides, 1]
        else:
            ksize, strides = [1, 1, *self.pool_size], [1, 1, *self.strides]
        return type(self)._pool_fn(inputs, ksize=ksize, strides=strides, padding=self.padding.upper(),
                                   data_format=fmt)

    def compute_output_shape(self, input_shape: Any) -> TensorShape:
        s = TensorShape(input_shape).as_list()
        hw = s[1:3] if self.data_format == "channels_last" else s[2:4]
        out = [conv_output_length(n, k, self.padding, st) for n, k, st in zip(hw, self.pool_size, self.strides)]
        if self.data_format == "channels_last":
            return TensorShape([s[0], *out, s[3]])
        return TensorShape([s[0], s[1], *out])


class MaxPooling2D(_Pooling2D):
    """Max pooling over 2-D windows of size `pool_size`, moved by `strides`."""

    _pool_fn = staticmethod(max_pool)


class AveragePooling2D(_Pooling2D):
    """Average pooling over 2-D windows of size `pool_size`, moved by `strides`."""

    _pool_fn = staticmethod(avg_pool)


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D


def max_pooling2d(inputs: Any, pool_size: Any, strides: Any, padding: str = "valid",
                  data_format: str = "channels_last", name: str | None = None) -> Tensor:
    """Max pooling for 2-D inputs (images).

    Args:
        inputs: a 4-D Tensor (NHWC for "channels_last", NCHW for "channels_first").
        pool_size: an int or a pair (height, width): the window size.
        strides: an int or a pair: the window step.
        padding: "valid" or "same" (case-insensitive).
        data_format: "channels_last" (default) or "channels_first".
        name: the layer's name.

    Returns:
        The pooled Tensor.
    """
    return MaxPooling2D(pool_size, strides, padding=padding, data_format=data_format, name=name).apply(inputs)


def average_pooling2d(inputs: Any, pool_size: Any, strides: Any, padding: str = "valid",
                      data_format: str = "channels_last", name: str | None = None) -> Tensor:
    """Average pooling for 2-D inputs (images); arguments as in `max_pooling2d`."""
    return AveragePooling2D(pool_size, strides, padding=padding, data_format=data_format,
                            name=name).apply(inputs)
