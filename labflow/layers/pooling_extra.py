"""`tf.layers` 1-D and 3-D pooling: MaxPooling1D/3D, AveragePooling1D/3D and their functional forms."""

from __future__ import annotations

from typing import Any

from labflow.framework.shapes import TensorShape
from labflow.framework.tensor import Tensor
from labflow.layers.base import Layer
from labflow.layers.convolutional import (
    conv_output_length,
    normalize_data_format,
    normalize_padding,
    normalize_tuple,
)
from labflow.ops.conv_extra_ops import avg_pool1d, avg_pool3d, max_pool1d, max_pool3d

__all__ = ["MaxPooling1D", "MaxPool1D", "AveragePooling1D", "AvgPool1D", "max_pooling1d", "average_pooling1d",
           "MaxPooling3D", "MaxPool3D", "AveragePooling3D", "AvgPool3D", "max_pooling3d", "average_pooling3d"]


class _Pooling(Layer):
    """Shared by the 1-D and 3-D pooling layers: window and stride normalization, shape inference."""

    rank = 0
    _pool_fn: Any = None

    def __init__(self, pool_size: Any, strides: Any, padding: str = "valid", data_format: str = "channels_last",
                 name: str | None = None, **kwargs: Any):
        super().__init__(name=name, **kwargs)
        self.pool_size = normalize_tuple(pool_size, self.rank, "pool_size")
        self.strides = normalize_tuple(strides, self.rank, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format)

    def call(self, inputs: Tensor) -> Tensor:
        r = inputs.get_shape().ndims
        if r is not None and r != self.rank + 2:
            raise ValueError(f"Input 0 of layer {self.name} is incompatible with the layer: expected "
                             f"ndim={self.rank + 2}, found ndim={r}. Full shape received: "
                             f"{inputs.get_shape().as_list()}")
        first = self.data_format == "channels_first"
        if self.rank == 1:
            return type(self)._pool_fn(inputs, list(self.pool_size), list(self.strides), self.padding.upper(),
                                       data_format="NCW" if first else "NWC")
        full = (lambda v: [1, 1, *v]) if first else (lambda v: [1, *v, 1])
        return type(self)._pool_fn(inputs, full(self.pool_size), full(self.strides), self.padding.upper(),
                                   data_format="NCDHW" if first else "NDHWC")

    def compute_output_shape(self, input_shape: Any) -> TensorShape:
        s = TensorShape(input_shape).as_list()
        first = self.data_format == "channels_first"
        sp = s[2:] if first else s[1:-1]
        out = [conv_output_length(n, k, self.padding, st) for n, k, st in zip(sp, self.pool_size, self.strides)]
        return TensorShape([s[0], s[1], *out] if first else [s[0], *out, s[-1]])


class MaxPooling1D(_Pooling):
    """Max pooling over 1-D windows of [batch, width, channels] (or channels first)."""

    rank = 1
    _pool_fn = staticmethod(max_pool1d)


class AveragePooling1D(_Pooling):
    """Average pooling over 1-D windows."""

    rank = 1
    _pool_fn = staticmethod(avg_pool1d)


class MaxPooling3D(_Pooling):
    """Max pooling over 3-D windows of [batch, depth, height, width, channels] (or channels first)."""

    rank = 3
    _pool_fn = staticmethod(max_pool3d)


class AveragePooling3D(_Pooling):
    """Average pooling over 3-D windows."""

    rank = 3
    _pool_fn = staticmethod(avg_pool3d)


MaxPool1D, AvgPool1D, MaxPool3D, AvgPool3D = MaxPooling1D, AveragePooling1D, MaxPooling3D, AveragePooling3D


def max_pooling1d(inputs: Any, pool_size: Any, strides: Any, padding: str = "valid",
                  data_format: str = "channels_last", name: str | None = None) -> Tensor:
    """Max pooling for 1-D inputs: pool_size and strides are ints (or 1-tuples); padding "valid"/"same"."""
    return MaxPooling1D(pool_size, strides, padding=padding, data_format=data_format, name=name).apply(inputs)


def average_pooling1d(inputs: Any, pool_size: Any, strides: Any, padding: str = "valid",
                      data_format: str = "channels_last", name: str | None = None) -> Tensor:
    """Average pooling for 1-D inputs; arguments as in `max_pooling1d`."""
    return AveragePooling1D(pool_size, strides, padding=padding, data_format=data_format, name=name).apply(inputs)


def max_pooling3d(inputs: Any, pool_size: Any, strides: Any, padding: str = "valid",
                  data_format: str = "channels_last", name: str | None = None) -> Tensor:
    """Max pooling for 3-D inputs (volumes): pool_size and strides are ints or 3-tuples."""
    return MaxPooling3D(pool_size, strides, padding=padding, data_format=data_format, name=name).apply(inputs)


def average_pooling3d(inputs: Any, pool_size: Any, strides: Any, padding: str = "valid",
                      data_format: str = "channels_last", name: str | None = None) -> Tensor:
    """Average pooling for 3-D inputs; arguments as in `max_pooling3d`."""
    return AveragePooling3D(pool_size, strides, padding=padding, data_format=data_format, name=name).apply(inputs)
