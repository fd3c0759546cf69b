"""`tf.layers` core layers: Dense, Dropout, Flatten, and their functional forms."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.shapes import TensorShape
from labflow.framework.tensor import Tensor
from labflow.layers.base import Layer, input_dtype
from labflow.ops import array_ops, math_ops
from labflow.ops.common import constant_value, convert_to_tensor
from labflow.ops.init_ops import zeros_initializer
from labflow.ops.nn_ops import bias_add
from labflow.ops.nn_ops import dropout as _nn_dropout

__all__ = ["Dense", "Dropout", "Flatten", "dense", "dropout", "flatten"]


def _rank_error(layer: Layer, want: str, got: int) -> ValueError:
    return ValueError(f"Input 0 of layer {layer.name} is incompatible with the layer: expected {want}, found "
                      f"ndim={got}.")


class Dense(Layer):
    """A densely-connected layer: `activation(inputs @ kernel + bias)`.

    Inputs of rank > 2 are multiplied along their last dimension (like `tensordot`). The kernel is the
    variable "<scope>/kernel" of shape [input_dim, units]; the bias "<scope>/bias" of shape [units].
    """

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True, kernel_initializer: Any = None,
                 bias_initializer: Any = zeros_initializer(), kernel_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, trainable: bool = True, name: str | None = None, **kwargs: Any):
        super().__init__(trainable=trainable, name=name, activity_regularizer=activity_regularizer, **kwargs)
        if isinstance(units, bool) or not isinstance(units, (numbers.Integral, np.integer)) or int(units) < 1:
            raise ValueError(f"Dense: units must be a positive integer, got {units!r}")
        self.units = int(units)
        self._init_kernel_and_bias(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                                   bias_regularizer, kernel_constraint, bias_constraint)

    def build(self, input_shape: Any) -> None:
        shape = TensorShape(input_shape)
        if shape.ndims is not None and shape.ndims < 2:
            raise _rank_error(self, "min_ndim=2", shape.ndims)
        if shape.ndims is None or shape.as_list()[-1] is None:
            raise ValueError("The last dimension of the inputs to `Dense` should be defined. Found `None`.")
        last = shape.as_list()[-1]
        self.kernel = self.add_weight("kernel", shape=[last, self.units], initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
                                      dtype=self.dtype, trainable=True)
        if self.use_bias:
            self.bias = self.add_weight("bias", shape=[self.units], initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                                        dtype=self.dtype, trainable=True)
        self.built = True

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.dtype.base_dtype != self.dtype:
            inputs = math_ops.cast(inputs, self.dtype)
        shape = inputs.get_shape()
        rank = shape.ndims
        if rank is not None and rank < 2:
            raise _rank_error(self, "min_ndim=2", rank)
        if rank is not None and rank > 2:
            # tensordot over the last axis: flatten the leading axes, multiply, restore them.
            d = shape.as_list()
            flat = array_ops.reshape(inputs, [-1, d[-1]])
            out = math_ops.matmul(flat, self.kernel)
            lead = array_ops.shape(inputs)[:-1]
            outputs = array_ops.reshape(out, array_ops.concat([lead, [self.units]], 0))
            outputs.set_shape(d[:-1] + [self.units])
        else:
            outputs = math_ops.matmul(inputs, self.kernel)
        if self.use_bias:
            outputs = bias_add(outputs, self.bias)
        if self.activation is not None:
            return self.activation(outputs)
        return outputs

    def compute_output_shape(self, input_shape: Any) -> TensorShape:
        s = TensorShape(input_shape)
        return TensorShape(s.as_list()[:-1] + [self.units])


def dense(inputs: Any, units: int, activation: Any = None, use_bias: bool = True, kernel_initializer: Any = None,
          bias_initializer: Any = zeros_initializer(), kernel_regularizer: Any = None,
          bias_regularizer: Any = None, activity_regularizer: Any = None, kernel_constraint: Any = None,
          bias_constraint: Any = None, trainable: bool = True, name: str | None = None,
          reuse: Any = None) -> Tensor:
    """Functional interface of `Dense`: `activation(inputs @ kernel + bias)`.

    Args:
        inputs: a Tensor of rank >= 2 whose last dimension is known.
        units: the output size.
        activation: a function applied to the output (None: linear).
        use_bias: whether to add a bias.
        kernel_initializer: the kernel's initializer (None: the scope's, else glorot_uniform).
        bias_initializer: the bias's initializer (zeros).
        kernel_regularizer, bias_regularizer: functions of a weight returning a loss added to
            GraphKeys.REGULARIZATION_LOSSES.
        activity_regularizer: a function of the output returning a regularization loss.
        kernel_constraint, bias_constraint: projections applied after optimizer updates.
        trainable: whether the weights are trainable.
        name: the layer's name (its variable scope); None: "dense", "dense_1", ...
        reuse: reuse the weights of a previous layer with the same name.

    Returns:
        The output Tensor, shape `inputs.shape[:-1] + [units]`.
    """
    layer = Dense(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                  bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                  bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                  kernel_constraint=kernel_constraint, bias_constraint=bias_constraint, trainable=trainable,
                  name=name, dtype=input_dtype(inputs), _scope=name, _reuse=reuse)
    return layer.apply(inputs)


class Dropout(Layer):
    """Applies dropout to its inputs when called with `training=True` (identity otherwise).

    Kept elements are scaled by `1 / (1 - rate)`. `training` may be a Python bool or a bool Tensor
    (e.g. a placeholder): then the choice is made at run time.
    """

    def __init__(self, rate: float = 0.5, noise_shape: Any = None, seed: int | None = None,
                 name: str | None = None, **kwargs: Any):
        super().__init__(name=name, **kwargs)
        self.rate = rate
        self.noise_shape = noise_shape
        self.seed = seed

    def call(self, inputs: Tensor, training: Any = False) -> Tensor:
        if isinstance(training, (Tensor,)) or hasattr(training, "_as_graph_element"):
            t = convert_to_tensor(training, dtype=_dt.bool)
            cv = constant_value(t)
            if cv is not None:
                training = bool(cv)
            else:
                dropped = _nn_dropout(inputs, noise_shape=self.noise_shape, seed=self.seed, rate=self.rate)
                # A scalar Select picks the dropped or the untouched inputs at run time (TF's smart_cond).
                return array_ops.where(t, dropped, array_ops.identity(inputs))
        if training:
            return _nn_dropout(inputs, noise_shape=self.noise_shape, seed=self.seed, rate=self.rate)
        return array_ops.identity(inputs)

    def compute_output_shape(self, input_shape: Any) -> TensorShape:
        return TensorShape(input_shape)


def dropout(inputs: Any, rate: float = 0.5, noise_shape: Any = None, seed: int | None = None,
            training: Any = False, name: str | None = None) -> Tensor:
    """Functional interface of `Dropout`.

    Args:
        inputs: a float Tensor.
        rate: the fraction of the inputs to drop (in [0, 1)).
        noise_shape: the shape of the keep/drop mask (broadcast against the inputs).
        seed: the op seed.
        training: a Python bool or a bool Tensor: dropout only when true (default False: identity).
        name: the layer's name.

    Returns:
        A Tensor with the shape and dtype of `inputs`.
    """
    layer = Dropout(rate, noise_shape=noise_shape, seed=seed, name=name)
    return layer.apply(inputs, training=training)


class Flatten(Layer):
    """Flattens every dimension but the first (the batch): [batch, d1, d2, ...] -> [batch, d1*d2*...]."""

    def __init__(self, data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        from labflow.layers.convolutional import normalize_data_format
        self.data_format = normalize_data_format(data_format)

    def call(self, inputs: Tensor) -> Tensor:
        shape = inputs.get_shape()
        r = shape.ndims
        if r is not None and r < 1:
            raise _rank_error(self, "min_ndim=1", r)
        if self.data_format == "channels_first" and r is not None and r > 1:
            inputs = array_ops.transpose(inputs, [0] + list(range(2, r)) + [1])
            shape = inputs.get_shape()
        d = shape.as_list() if r is not None else None
        if d is not None and all(v is not None for v in d[1:]):
            n = int(np.prod(d[1:], dtype=np.int64))
            out = array_ops.reshape(inputs, [-1 if d[0] is None else d[0], n])
            if d[0] is None:
                out.set_shape([None, n])
            return out
        first = array_ops.shape(inputs)[:1]
        out = array_ops.reshape(inputs, array_ops.concat([first, [-1]], 0))
        out.set_shape(self.compute_output_shape(shape))
        return out

    def compute_output_shape(self, input_shape: Any) -> TensorShape:
        s = TensorShape(input_shape)
        if s.ndims is None:
            return TensorShape([None, None])
        d = s.as_list()
        rest = d[1:]
        n = int(np.prod(rest, dtype=np.int64)) if all(v is not None for v in rest) else None
        return TensorShape([d[0] if d else None, n])


def flatten(inputs: Any, name: str | None = None, data_format: str = "channels_last") -> Tensor:
    """Flattens `inputs` to [batch, -1], keeping the batch dimension.

    Args:
        inputs: a Tensor of rank >= 1.
        name: the layer's name.
        data_format: "channels_last" (default) or "channels_first" (channels are moved last first, so
            the order matches a channels_last model's).

    Returns:
        A 2-D Tensor.
    """
    return Flatten(name=name, data_format=data_format).apply(inputs)
