"""`tf.layers` convolutions beyond Conv2D: Conv1D, Conv3D, SeparableConv2D, Conv2DTranspose and their functional
forms. Weights are named as TF names them ("kernel", "bias", "depthwise_kernel", "pointwise_kernel")."""

from __future__ import annotations

from typing import Any

from labflow.framework.shapes import TensorShape
from labflow.framework.tensor import Tensor
from labflow.layers.base import input_dtype
from labflow.layers.convolutional import _Conv, nn_format
from labflow.ops import array_ops, math_ops
from labflow.ops.conv_extra_ops import conv1d as _nn_conv1d
from labflow.ops.conv_extra_ops import conv3d as _nn_conv3d
from labflow.ops.conv_extra_ops import conv3d_transpose as _nn_conv3d_transpose
from labflow.ops.conv_extra_ops import separable_conv2d as _nn_separable_conv2d
from labflow.ops.conv_ops import conv2d_transpose as _nn_conv2d_transpose
from labflow.ops.init_ops import zeros_initializer

__all__ = ["Conv1D", "Convolution1D", "conv1d", "Conv3D", "Convolution3D", "conv3d", "SeparableConv1D",
           "SeparableConvolution1D", "separable_conv1d", "SeparableConv2D", "SeparableConvolution2D",
           "separable_conv2d", "Conv2DTranspose", "Convolution2DTranspose", "Deconvolution2D", "conv2d_transpose",
           "Conv3DTranspose", "Convolution3DTranspose", "Deconvolution3D", "conv3d_transpose"]


class Conv1D(_Conv):
    """1-D convolution over [batch, width, channels] (or channels first): kernel [width, in, filters]."""

    rank = 1

    def _conv(self, inputs: Tensor) -> Tensor:
        return _nn_conv1d(inputs, self.kernel, stride=list(self.strides), padding=self.padding.upper(),
                          data_format=self._nn_format(), dilations=list(self.dilation_rate))


class Conv3D(_Conv):
    """3-D convolution over [batch, depth, height, width, channels]: kernel [d, h, w, in, filters]."""

    rank = 3

    def __init__(self, filters: int, kernel_size: Any, strides: Any = (1, 1, 1), padding: str = "valid",
                 data_format: str = "channels_last", dilation_rate: Any = (1, 1, 1), **kwargs: Any):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
                         dilation_rate=dilation_rate, **kwargs)

    def _conv(self, inputs: Tensor) -> Tensor:
        fmt = self._nn_format()
        full = (lambda v: [1, 1, *v]) if fmt.startswith("NC") else (lambda v: [1, *v, 1])
        return _nn_conv3d(inputs, self.kernel, full(self.strides), self.padding.upper(), data_format=fmt,
                          dilations=full(self.dilation_rate))


class SeparableConv2D(_Conv):
    """Depthwise 2-D convolution (`depth_multiplier` filters per input channel), then a 1x1 convolution to
    `filters` channels; weights "depthwise_kernel" [kh, kw, in, depth_multiplier] and "pointwise_kernel"
    [1, 1, in * depth_multiplier, filters]."""

    rank = 2

    def __init__(self, filters: int, kernel_size: Any, strides: Any = (1, 1), padding: str = "valid",
                 data_format: str = "channels_last", dilation_rate: Any = (1, 1), depth_multiplier: int = 1,
                 activation: Any = None, use_bias: bool = True, depthwise_initializer: Any = None,
                 pointwise_initializer: Any = None, bias_initializer: Any = zeros_initializer(),
                 depthwise_regularizer: Any = None, pointwise_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, depthwise_constraint: Any = None, pointwise_constraint: Any = None,
                 bias_constraint: Any = None, trainable: bool = True, name: str | None = None, **kwargs: Any):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
                         dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                         bias_initializer=bias_initializer, bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer, bias_constraint=bias_constraint,
                         trainable=trainable, name=name, **kwargs)
        if int(depth_multiplier) < 1:
            raise ValueError(f"SeparableConv2D: depth_multiplier must be >= 1, got {depth_multiplier}")
        self.depth_multiplier = int(depth_multiplier)
        self.depthwise_initializer, self.pointwise_initializer = depthwise_initializer, pointwise_initializer
        self.depthwise_regularizer, self.pointwise_regularizer = depthwise_regularizer, pointwise_regularizer
        self.depthwise_constraint, self.pointwise_constraint = depthwise_constraint, pointwise_constraint
        self.depthwise_kernel = self.pointwise_kernel = None

    def _nn_format(self) -> str:  # SeparableConv1D too runs this 2-D op (on a dummy height dim)
        return nn_format(self.data_format)

    def build(self, input_shape: Any) -> None:
        cin = self._input_channels(input_shape)
        self.depthwise_kernel = self.add_weight(
            "depthwise_kernel", shape=list(self.kernel_size) + [cin, self.depth_multiplier],
            initializer=self.depthwise_initializer, regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint, dtype=self.dtype, trainable=True)
        self.pointwise_kernel = self.add_weight(
            "pointwise_kernel", shape=[1, 1, cin * self.depth_multiplier, self.filters],
            initializer=self.pointwise_initializer, regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint, dtype=self.dtype, trainable=True)
        self._add_bias()
        self.built = True

    def _conv(self, inputs: Tensor) -> Tensor:
        fmt = self._nn_format()
        strides = [1, 1, *self.strides] if fmt == "NCHW" else [1, *self.strides, 1]
        return _nn_separable_conv2d(inputs, self.depthwise_kernel, self.pointwise_kernel, strides,
                                    self.padding.upper(), rate=list(self.dilation_rate), data_format=fmt)


class SeparableConv1D(SeparableConv2D):
    """Depthwise 1-D convolution then a pointwise one: "depthwise_kernel" [k, in, depth_multiplier] and
    "pointwise_kernel" [1, in * depth_multiplier, filters]; run as separable_conv2d on a dummy height dim."""

    rank = 1

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 data_format: str = "channels_last", dilation_rate: Any = 1, **kwargs: Any):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
                         dilation_rate=dilation_rate, **kwargs)

    def build(self, input_shape: Any) -> None:
        cin = self._input_channels(input_shape)
        self.depthwise_kernel = self.add_weight(
            "depthwise_kernel", shape=[self.kernel_size[0], cin, self.depth_multiplier],
            initializer=self.depthwise_initializer, regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint, dtype=self.dtype, trainable=True)
        self.pointwise_kernel = self.add_weight(
            "pointwise_kernel", shape=[1, cin * self.depth_multiplier, self.filters],
            initializer=self.pointwise_initializer, regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint, dtype=self.dtype, trainable=True)
        self._add_bias()
        self.built = True

    def _conv(self, inputs: Tensor) -> Tensor:
        first = self.data_format == "channels_first"
        axis = 2 if first else 1
        x = array_ops.expand_dims(inputs, axis)
        strides = [1, 1, 1, self.strides[0]] if first else [1, 1, self.strides[0], 1]
        y = _nn_separable_conv2d(x, array_ops.expand_dims(self.depthwise_kernel, 0),
                                 array_ops.expand_dims(self.pointwise_kernel, 0), strides, self.padding.upper(),
                                 rate=[1, self.dilation_rate[0]], data_format="NCHW" if first else "NHWC")
        return array_ops.squeeze(y, [axis])


def _deconv_length(n: Any, k: int, padding: str, stride: int) -> Any:
    if n is None:
        return None
    return n * stride if padding == "same" else n * stride + max(k - stride, 0)


class Conv2DTranspose(_Conv):
    """Transposed 2-D convolution ("deconvolution"); kernel [kh, kw, filters, in_channels]."""

    rank = 2

    def __init__(self, filters: int, kernel_size: Any, strides: Any = (1, 1), padding: str = "valid",
                 data_format: str = "channels_last", **kwargs: Any):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, data_format=data_format, **kwargs)

    def build(self, input_shape: Any) -> None:
        cin = self._input_channels(input_shape)
        self.kernel = self.add_weight("kernel", shape=list(self.kernel_size) + [self.filters, cin],
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint, dtype=self.dtype, trainable=True)
        self._add_bias()
        self.built = True

    def _conv(self, inputs: Tensor) -> Tensor:
        first = self.data_format == "channels_first"
        shape = array_ops.shape(inputs)
        axes = range(2, 2 + self.rank) if first else range(1, 1 + self.rank)
        static = inputs.get_shape().as_list()
        dims = []
        for axis, k, s in zip(axes, self.kernel_size, self.strides):
            n = static[axis]
            if n is not None:
                dims.append(_deconv_length(n, k, self.padding, s))
            else:
                grown = math_ops.multiply(shape[axis], s)
                dims.append(grown if self.padding == "same" else math_ops.add(grown, max(k - s, 0)))
        batch = static[0] if static[0] is not None else shape[0]
        out = [batch, self.filters, *dims] if first else [batch, *dims, self.filters]
        if any(isinstance(v, Tensor) for v in out):
            out = array_ops.stack(out)
        strides = [1, 1, *self.strides] if first else [1, *self.strides, 1]
        fn = _nn_conv2d_transpose if self.rank == 2 else _nn_conv3d_transpose
        return fn(inputs, self.kernel, out, strides, padding=self.padding.upper(), data_format=self._nn_format())

    def compute_output_shape(self, input_shape: Any) -> TensorShape:
        s = TensorShape(input_shape).as_list()
        first = self.data_format == "channels_first"
        sp = s[2:] if first else s[1:-1]
        out = [_deconv_length(n, k, self.padding, st) for n, k, st in zip(sp, self.kernel_size, self.strides)]
        return TensorShape([s[0], self.filters, *out] if first else [s[0], *out, self.filters])


class Conv3DTranspose(Conv2DTranspose):
    """Transposed 3-D convolution; kernel [kd, kh, kw, filters, in_channels]."""

    rank = 3

    def __init__(self, filters: int, kernel_size: Any, strides: Any = (1, 1, 1), padding: str = "valid",
                 data_format: str = "channels_last", **kwargs: Any):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, data_format=data_format, **kwargs)


Convolution1D = Conv1D
SeparableConvolution1D = SeparableConv1D
Convolution3DTranspose = Deconvolution3D = Conv3DTranspose
Convolution3D = Conv3D
SeparableConvolution2D = SeparableConv2D
Convolution2DTranspose = Deconvolution2D = Conv2DTranspose


def _apply(cls: type, inputs: Any, name: str | None, reuse: Any, *args: Any, **kwargs: Any) -> Tensor:
    layer = cls(*args, name=name, dtype=input_dtype(inputs), _scope=name, _reuse=reuse, **kwargs)
    return layer.apply(inputs)


def conv1d(inputs: Any, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
           data_format: str = "channels_last", dilation_rate: Any = 1, activation: Any = None, use_bias: bool = True,
           kernel_initializer: Any = None, bias_initializer: Any = zeros_initializer(), kernel_regularizer: Any = None,
           bias_regularizer: Any = None, activity_regularizer: Any = None, kernel_constraint: Any = None,
           bias_constraint: Any = None, trainable: bool = True, name: str | None = None, reuse: Any = None) -> Tensor:
    """Functional interface of `Conv1D` (arguments as in `tf.layers.conv2d`, with ints or 1-tuples)."""
    return _apply(Conv1D, inputs, name, reuse, filters, kernel_size, strides=strides, padding=padding,
                  data_format=data_format, dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                  kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                  kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                  activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                  bias_constraint=bias_constraint, trainable=trainable)


def conv3d(inputs: Any, filters: int, kernel_size: Any, strides: Any = (1, 1, 1), padding: str = "valid",
           data_format: str = "channels_last", dilation_rate: Any = (1, 1, 1), activation: Any = None,
           use_bias: bool = True, kernel_initializer: Any = None, bias_initializer: Any = zeros_initializer(),
           kernel_regularizer: Any = None, bias_regularizer: Any = None, activity_regularizer: Any = None,
           kernel_constraint: Any = None, bias_constraint: Any = None, trainable: bool = True,
           name: str | None = None, reuse: Any = None) -> Tensor:
    """Functional interface of `Conv3D` (arguments as in `tf.layers.conv2d`, with ints or 3-tuples)."""
    return _apply(Conv3D, inputs, name, reuse, filters, kernel_size, strides=strides, padding=padding,
                  data_format=data_format, dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                  kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                  kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                  activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                  bias_constraint=bias_constraint, trainable=trainable)


def separable_conv2d(inputs: Any, filters: int, kernel_size: Any, strides: Any = (1, 1), padding: str = "valid",
                     data_format: str = "channels_last", dilation_rate: Any = (1, 1), depth_multiplier: int = 1,
                     activation: Any = None, use_bias: bool = True, depthwise_initializer: Any = None,
                     pointwise_initializer: Any = None, bias_initializer: Any = zeros_initializer(),
                     depthwise_regularizer: Any = None, pointwise_regularizer: Any = None,
                     bias_regularizer: Any = None, activity_regularizer: Any = None, depthwise_constraint: Any = None,
                     pointwise_constraint: Any = None, bias_constraint: Any = None, trainable: bool = True,
                     name: str | None = None, reuse: Any = None) -> Tensor:
    """Functional interface of `SeparableConv2D`."""
    return _apply(SeparableConv2D, inputs, name, reuse, filters, kernel_size, strides=strides, padding=padding,
                  data_format=data_format, dilation_rate=dilation_rate, depth_multiplier=depth_multiplier,
                  activation=activation, use_bias=use_bias, depthwise_initializer=depthwise_initializer,
                  pointwise_initializer=pointwise_initializer, bias_initializer=bias_initializer,
                  depthwise_regularizer=depthwise_regularizer, pointwise_regularizer=pointwise_regularizer,
                  bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                  depthwise_constraint=depthwise_constraint, pointwise_constraint=pointwise_constraint,
                  bias_constraint=bias_constraint, trainable=trainable)


def conv2d_transpose(inputs: Any, filters: int, kernel_size: Any, strides: Any = (1, 1), padding: str = "valid",
                     data_format: str = "channels_last", activation: Any = None, use_bias: bool = True,
                     kernel_initializer: Any = None, bias_initializer: Any = zeros_initializer(),
                     kernel_regularizer: Any = None, bias_regularizer: Any = None, activity_regularizer: Any = None,
                     kernel_constraint: Any = None, bias_constraint: Any = None, trainable: bool = True,
                     name: str | None = None, reuse: Any = None) -> Tensor:
    """Functional interface of `Conv2DTranspose`: output size in * stride ("same") or
    in * stride + max(kernel - stride, 0) ("valid")."""
    return _apply(Conv2DTranspose, inputs, name, reuse, filters, kernel_size, strides=strides, padding=padding,
                  data_format=data_format, activation=activation, use_bias=use_bias,
                  kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                  kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                  activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                  bias_constraint=bias_constraint, trainable=trainable)


def separable_conv1d(inputs: Any, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                     data_format: str = "channels_last", dilation_rate: Any = 1, depth_multiplier: int = 1,
                     activation: Any = None, use_bias: bool = True, depthwise_initializer: Any = None,
                     pointwise_initializer: Any = None, bias_initializer: Any = zeros_initializer(),
                     depthwise_regularizer: Any = None, pointwise_regularizer: Any = None,
                     bias_regularizer: Any = None, activity_regularizer: Any = None, depthwise_constraint: Any = None,
                     pointwise_constraint: Any = None, bias_constraint: Any = None, trainable: bool = True,
                     name: str | None = None, reuse: Any = None) -> Tensor:
    """Functional interface of `SeparableConv1D`."""
    return _apply(SeparableConv1D, inputs, name, reuse, filters, kernel_size, strides=strides, padding=padding,
                  data_format=data_format, dilation_rate=dilation_rate, depth_multiplier=depth_multiplier,
                  activation=activation, use_bias=use_bias, depthwise_initializer=depthwise_initializer,
                  pointwise_initializer=pointwise_initializer, bias_initializer=bias_initializer,
                  depthwise_regularizer=depthwise_regularizer, pointwise_regularizer=pointwise_regularizer,
                  bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                  depthwise_constraint=depthwise_constraint, pointwise_constraint=pointwise_constraint,
                  bias_constraint=bias_constraint, trainable=trainable)


def conv3d_transpose(inputs: Any, filters: int, kernel_size: Any, strides: Any = (1, 1, 1), padding: str = "valid",
                     data_format: str = "channels_last", activation: Any = None, use_bias: bool = True,
                     kernel_initializer: Any = None, bias_initializer: Any = zeros_initializer(),
                     kernel_regularizer: Any = None, bias_regularizer: Any = None, activity_regularizer: Any = None,
                     kernel_constraint: Any = None, bias_constraint: Any = None, trainable: bool = True,
                     name: str | None = None, reuse: Any = None) -> Tensor:
    """Functional interface of `Conv3DTranspose` (output sizes as in `conv2d_transpose`, per dimension)."""
    return _apply(Conv3DTranspose, inputs, name, reuse, filters, kernel_size, strides=strides, padding=padding,
                  data_format=data_format, activation=activation, use_bias=use_bias,
                  kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                  kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                  activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                  bias_constraint=bias_constraint, trainable=trainable)
