"""`tf.layers` 2-D convolution: Conv2D and `conv2d`, plus the argument normalizers the layers share."""

from __future__ import annotations

from typing import Any

from labflow.framework.shapes import TensorShape
from labflow.framework.tensor import Tensor
from labflow.layers.base import Layer, input_dtype
from labflow.ops import array_ops, math_ops
from labflow.ops.conv_ops import conv2d as _nn_conv2d
from labflow.ops.init_ops import zeros_initializer
from labflow.ops.nn_ops import bias_add

__all__ = ["Conv2D", "Convolution2D", "conv2d", "convolution2d"]


def normalize_tuple(value: Any, n: int, name: str) -> tuple:
    """An int or an iterable of `n` ints as a tuple of `n` ints (TF's conv_utils.normalize_tuple)."""
    if isinstance(value, int):
        return (value,) * n
    try:
        t = tuple(value)
    except TypeError:
        raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. Received: {value}") from None
    if len(t) != n:
        raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. Received: {value}")
    out = []
    for v in t:
        try:
            out.append(int(v))
        except (ValueError, TypeError):
            raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. Received: {value} "
                             f"including element {v} of type {type(v)}") from None
    return tuple(out)


def normalize_padding(value: Any) -> str:
    padding = str(value).lower()
    if padding not in ("valid", "same"):
        raise ValueError(f'The `padding` argument must be one of "valid", "same". Received: {value}')
    return padding


def normalize_data_format(value: Any) -> str:
    if value is None:
        value = "channels_last"
    data_format = str(value).lower()
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError('The `data_format` argument must be one of "channels_first", "channels_last". '
                         f"Received: {value}")
    return data_format


def nn_format(data_format: str) -> str:
    return "NCHW" if data_format == "channels_first" else "NHWC"


def conv_output_length(n: Any, k: int, padding: str, stride: int, dilation: int = 1) -> Any:
    if n is None:
        return None
    dk = k + (k - 1) * (dilation - 1)
    size = n - dk + 1 if padding == "valid" else n
    return (size + stride - 1) // stride


_FORMATS = {1: ("NWC", "NCW"), 2: ("NHWC", "NCHW"), 3: ("NDHWC", "NCDHW")}


def _filters(filters: Any, cls: str) -> int:
    if isinstance(filters, bool) or int(filters) != filters or int(filters) < 1:
        raise ValueError(f"{cls}: filters must be a positive integer, got {filters!r}")
    return int(filters)


class _Conv(Layer):
    """An N-D convolution layer: argument checks, kernel and bias weights, bias + activation, output shapes.
    Subclasses set `rank` and run the convolution itself in `_conv`."""

    rank = 0

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 data_format: str = "channels_last", dilation_rate: Any = 1, activation: Any = None,
                 use_bias: bool = True, kernel_initializer: Any = None, bias_initializer: Any = zeros_initializer(),
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None, trainable: bool = True,
                 name: str | None = None, **kwargs: Any):
        super().__init__(trainable=trainable, name=name, activity_regularizer=activity_regularizer, **kwargs)
        n = self.rank
        self.filters = _filters(filters, type(self).__name__)
        self.kernel_size = normalize_tuple(kernel_size, n, "kernel_size")
        self.strides = normalize_tuple(strides, n, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format)
        self.dilation_rate = normalize_tuple(dilation_rate, n, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError("strides > 1 not supported in conjunction with dilation_rate > 1")
        self._init_kernel_and_bias(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                                   bias_regularizer, kernel_constraint, bias_constraint)

    def _channel_axis(self) -> int:
        return 1 if self.data_format == "channels_first" else -1

    def _nn_format(self) -> str:
        return _FORMATS[self.rank][1 if self.data_format == "channels_first" else 0]

    def _input_channels(self, input_shape: Any) -> int:
        shape = TensorShape(input_shape)
        want = self.rank + 2
        if shape.ndims is not None and shape.ndims != want:
            raise ValueError(f"Input 0 of layer {self.name} is incompatible with the layer: expected ndim={want}, "
                             f"found ndim={shape.ndims}. Full shape received: {shape.as_list()}")
        if shape.ndims is None or shape.as_list()[self._channel_axis()] is None:
            raise ValueError("The channel dimension of the inputs should be defined. Found `None`.")
        return shape.as_list()[self._channel_axis()]

    def _add_bias(self) -> None:
        if self.use_bias:
            self.bias = self.add_weight("bias", shape=[self.filters], initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                                        dtype=self.dtype, trainable=True)

    def build(self, input_shape: Any) -> None:
        cin = self._input_channels(input_shape)
        self.kernel = self.add_weight("kernel", shape=list(self.kernel_size) + [cin, self.filters],
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint, dtype=self.dtype, trainable=True)
        self._add_bias()
        self.built = True

    def _conv(self, inputs: Tensor) -> Tensor:
        raise NotImplementedError

    def _finish(self, outputs: Tensor) -> Tensor:
        if self.use_bias:
            if self.rank == 2 or self.data_format == "channels_last":
                outputs = bias_add(outputs, self.bias, data_format="NCHW" if self.data_format == "channels_first"
                                   else "NHWC")
            else:  # bias_add's NCHW form wants rank 4: add a [C, 1, ...] bias instead
                outputs = math_ops.add(outputs, array_ops.reshape(self.bias, [self.filters] + [1] * self.rank))
        return self.activation(outputs) if self.activation is not None else outputs

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.dtype.base_dtype != self.dtype:
            inputs = math_ops.cast(inputs, self.dtype)
        return self._finish(self._conv(inputs))

    def compute_output_shape(self, input_shape: Any) -> TensorShape:
        s = TensorShape(input_shape).as_list()
        first = self.data_format == "channels_first"
        sp = s[2:] if first else s[1:-1]
        out = [conv_output_length(n, k, self.padding, st, d)
               for n, k, st, d in zip(sp, self.kernel_size, self.strides, self.dilation_rate)]
        return TensorShape([s[0], self.filters, *out] if first else [s[0], *out, self.filters])


class Conv2D(_Conv):
    """2-D convolution: `activation(conv2d(inputs, kernel) + bias)`.

    The kernel is "<scope>/kernel" of shape `kernel_size + (in_channels, filters)` (HWIO); the bias
    "<scope>/bias" of shape [filters].
    """

    rank = 2

    def _conv(self, inputs: Tensor) -> Tensor:
        fmt = self._nn_format()
        full = (lambda v: [1, *v, 1]) if fmt == "NHWC" else (lambda v: [1, 1, *v])
        return _nn_conv2d(inputs, self.kernel, strides=full(self.strides), padding=self.padding.upper(),
                          data_format=fmt, dilations=full(self.dilation_rate))


Convolution2D = Conv2D


def conv2d(inputs: Any, filters: int, kernel_size: Any, strides: Any = (1, 1), padding: str = "valid",
           data_format: str = "channels_last", dilation_rate: Any = (1, 1), activation: Any = None,
           use_bias: bool = True, kernel_initializer: Any = None, bias_initializer: Any = zeros_initializer(),
           kernel_regularizer: Any = None, bias_regularizer: Any = None, activity_regularizer: Any = None,
           kernel_constraint: Any = None, bias_constraint: Any = None, trainable: bool = True,
           name: str | None = None, reuse: Any = None) -> Tensor:
    """Functional interface of `Conv2D`.

    Args:
        inputs: a 4-D Tensor (NHWC for "channels_last", NCHW for "channels_first").
        filters: the number of output channels.
        kernel_size: an int or a pair (height, width).
        strides: an int or a pair.
        padding: "valid" or "same" (case-insensitive).
        data_format: "channels_last" (default) or "channels_first".
        dilation_rate: an int or a pair (not with strides > 1).
        activation: a function applied to the output (None: linear).
        use_bias: whether to add a bias.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
        activity_regularizer, kernel_constraint, bias_constraint, trainable: as in `tf.layers.dense`.
        name: the layer's name (its variable scope); None: "conv2d", "conv2d_1", ...
        reuse: reuse the weights of a previous layer with the same name.

    Returns:
        The output Tensor.
    """
    layer = Conv2D(filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
                   dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                   kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                   kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                   activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                   bias_constraint=bias_constraint, trainable=trainable, name=name,
                   dtype=input_dtype(inputs), _scope=name, _reuse=reuse)
    return layer.apply(inputs)


convolution2d = conv2d
