"""`tf.layers` batch normalization: BatchNormalization and `batch_normalization`.

In training the layer normalizes by the batch's statistics and adds two update ops to
GraphKeys.UPDATE_OPS (and `layer.updates`) that move `moving_mean` / `moving_variance` towards them;
run them with the train op (`tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS))`), as
in TF. In inference it normalizes by the moving statistics. `training` may be a bool Tensor.
With `fused` (the default for 4-D inputs normalized over axis 1 or 3) and a Python bool `training`, the layer
is one FusedBatchNormV3 op, as TF's is.
"""

from __future__ import annotations

from typing import Any

from labflow import dtypes as _dt
from labflow.framework.graph import name_scope
from labflow.framework.shapes import TensorShape
from labflow.framework.tensor import Tensor
from labflow.layers.base import Layer, input_dtype
from labflow.nn.impl import batch_normalization as _nn_batch_norm
from labflow.nn.impl import moments
from labflow.ops import array_ops, math_ops, state_ops
from labflow.ops.common import constant_value, convert_to_tensor
from labflow.ops.init_ops import ones_initializer, zeros_initializer
from labflow.ops.norm_ops import fused_batch_norm

__all__ = ["BatchNormalization", "batch_normalization"]


class BatchNormalization(Layer):
    """Batch normalization (Ioffe & Szegedy, 2015) over every axis but `axis`.

    Weights: "gamma" (if `scale`) and "beta" (if `center`), trainable; "moving_mean" and
    "moving_variance", not trainable. As TF's default fused kernel does for 4-D inputs, the moving
    variance of a 4-D input is updated with the unbiased batch variance (n / (n - 1)).
    """

    def __init__(self, axis: Any = -1, momentum: float = 0.99, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer: Any = zeros_initializer(),
                 gamma_initializer: Any = ones_initializer(), moving_mean_initializer: Any = zeros_initializer(),
                 moving_variance_initializer: Any = ones_initializer(), beta_regularizer: Any = None,
                 gamma_regularizer: Any = None, beta_constraint: Any = None, gamma_constraint: Any = None,
                 renorm: bool = False, renorm_clipping: Any = None, renorm_momentum: float = 0.99,
                 fused: Any = None, trainable: bool = True, virtual_batch_size: Any = None,
                 adjustment: Any = None, name: str | None = None, **kwargs: Any):
        super().__init__(trainable=trainable, name=name, **kwargs)
        if renorm or virtual_batch_size is not None or adjustment is not None:
            raise NotImplementedError("BatchNormalization: renorm, virtual_batch_size and adjustment are not "
                                      "supported by labflow")
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else axis
        self.momentum = momentum
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self.beta_initializer = beta_initializer
        self.gamma_initializer = gamma_initializer
        self.moving_mean_initializer = moving_mean_initializer
        self.moving_variance_initializer = moving_variance_initializer
        self.beta_regularizer = beta_regularizer
        self.gamma_regularizer = gamma_regularizer
        self.beta_constraint = beta_constraint
        self.gamma_constraint = gamma_constraint
        self.fused = fused
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def build(self, input_shape: Any) -> None:
        shape = TensorShape(input_shape)
        if shape.ndims is None:
            raise ValueError(f"Input has undefined rank: {shape}")
        r = shape.ndims
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        norm = []
        for a in axes:
            if not -r <= int(a) < r:
                raise ValueError(f"Invalid axis: {a}")
            norm.append(int(a) % r)
        if len(set(norm)) != len(norm):
            raise ValueError(f"Duplicate axis: {self.axis}")
        self._axes = sorted(norm)
        dims = shape.as_list()
        for a in self._axes:
            if dims[a] is None:
                raise ValueError(f"Input has undefined `axis` dimension. Input shape: {shape}")
        self._rank = r
        if self.fused is None:
            self.fused = r == 4 and self._axes in ([1], [3])
        param_shape = [dims[a] for a in self._axes]
        if len(self._axes) == 1:
            param_shape = param_shape[:1]
        # Parameters are float32 for half inputs (TF does the same).
        pdt = _dt.float32 if self.dtype in (_dt.float16, _dt.bfloat16) else self.dtype
        if self.scale:
            self.gamma = self.add_weight("gamma", shape=param_shape, dtype=pdt, initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer, constraint=self.gamma_constraint,
                                         trainable=True)
        if self.center:
            self.beta = self.add_weight("beta", shape=param_shape, dtype=pdt, initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer, constraint=self.beta_constraint,
                                        trainable=True)
        self.moving_mean = self.add_weight("moving_mean", shape=param_shape, dtype=pdt,
                                           initializer=self.moving_mean_initializer, trainable=False)
        self.moving_variance = self.add_weight("moving_variance", shape=param_shape, dtype=pdt,
                                               initializer=self.moving_variance_initializer, trainable=False)
        self.built = True

    def _broadcast(self, v: Any) -> Any:
        """A parameter vector reshaped to broadcast against the input (needed unless the axis is last)."""
        if v is None or self._axes == [self._rank - 1]:
            return v
        shape = [1] * self._rank
        for a in self._axes:
            shape[a] = -1
        if len(self._axes) > 1:
            dims = [int(d) for d in v.get_shape().as_list()]
            it = iter(dims)
            shape = [next(it) if s == -1 else 1 for s in shape]
        return array_ops.reshape(v, shape)

    def _moving_update(self, var: Any, value: Tensor, training: Any) -> Any:
        with name_scope(None, "AssignMovingAvg") as scope:
            decay = convert_to_tensor(1.0 - self.momentum, dtype=var.dtype.base_dtype, name="decay")
            delta = math_ops.multiply(math_ops.subtract(var, math_ops.cast(value, var.dtype.base_dtype)), decay)
            if isinstance(training, Tensor):
                delta = array_ops.where(training, delta, array_ops.zeros_like(delta))
            return state_ops.assign_sub(var, delta, name=scope)

    def call(self, inputs: Tensor, training: Any = False) -> Tensor:
        if isinstance(training, Tensor) or hasattr(training, "_as_graph_element"):
            t = convert_to_tensor(training, dtype=_dt.bool)
            cv = constant_value(t)
            training = bool(cv) if cv is not None else t
        if self.fused and isinstance(training, bool) and self.epsilon >= 1.001e-5 and self._axes in ([1], [3]) \
                and self._rank == 4:
            return self._fused_call(inputs, training)
        reduction = [i for i in range(self._rank) if i not in self._axes]
        x = inputs
        pdt = self.moving_mean.dtype.base_dtype
        if x.dtype.base_dtype != pdt:
            x = math_ops.cast(x, pdt)
        gamma, beta = self._broadcast(self.gamma), self._broadcast(self.beta)
        if training is False:
            mean, variance = self._broadcast(self.moving_mean), self._broadcast(self.moving_variance)
        else:
            batch_mean, batch_var = moments(x, reduction, keep_dims=False)
            update_var = batch_var
            if self.fused:
                n = _count(x, reduction)
                update_var = math_ops.multiply(batch_var, math_ops.divide(n, math_ops.maximum(
                    math_ops.subtract(n, convert_to_tensor(1.0, dtype=pdt)), convert_to_tensor(1.0, dtype=pdt))))
            if training is True:
                mean, variance = batch_mean, batch_var
            else:
                mean = array_ops.where(training, batch_mean, self.moving_mean.value())
                variance = array_ops.where(training, batch_var, self.moving_variance.value())
            mean, variance = self._broadcast(mean), self._broadcast(variance)
            self.add_update([self._moving_update(self.moving_mean, batch_mean, training),
                             self._moving_update(self.moving_variance, update_var, training)])
        out = _nn_batch_norm(x, mean, variance, beta, gamma, self.epsilon)
        if out.dtype.base_dtype != inputs.dtype.base_dtype:
            out = math_ops.cast(out, inputs.dtype.base_dtype)
        out.set_shape(inputs.get_shape())
        return out

    def _fused_call(self, inputs: Tensor, training: bool) -> Tensor:
        pdt = self.moving_mean.dtype.base_dtype
        c = self.moving_mean.get_shape().as_list()
        # FusedBatchNorm wants its parameters in float32 (or x's dtype): a float16 graph's stay float32
        gamma = self.gamma if self.gamma is not None else array_ops.ones(c, dtype=pdt)
        beta = self.beta if self.beta is not None else array_ops.zeros(c, dtype=pdt)
        fmt = "NCHW" if self._axes == [1] else "NHWC"
        if training:
            out, mean, variance = fused_batch_norm(inputs, gamma, beta, epsilon=self.epsilon, data_format=fmt,
                                                   is_training=True)
            # the fused op's variance is the unbiased one: what TF's fused layer moves the average towards
            self.add_update([self._moving_update(self.moving_mean, mean, True),
                             self._moving_update(self.moving_variance, variance, True)])
        else:
            out, _, _ = fused_batch_norm(inputs, gamma, beta, self.moving_mean, self.moving_variance,
                                         epsilon=self.epsilon, data_format=fmt, is_training=False)
        out.set_shape(inputs.get_shape())
        return out

    def compute_output_shape(self, input_shape: Any) -> TensorShape:
        return TensorShape(input_shape)


def _count(x: Tensor, axes: list) -> Tensor:
    d = x.get_shape().as_list()
    if all(d[a] is not None for a in axes):
        n = 1
        for a in axes:
            n *= d[a]
        return convert_to_tensor(float(n), dtype=x.dtype.base_dtype)
    shp = array_ops.shape(x)
    return math_ops.cast(math_ops.reduce_prod(array_ops.gather(shp, axes)), x.dtype.base_dtype)


BatchNorm = BatchNormalization


def batch_normalization(inputs: Any, axis: Any = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                        center: bool = True, scale: bool = True, beta_initializer: Any = zeros_initializer(),
                        gamma_initializer: Any = ones_initializer(),
                        moving_mean_initializer: Any = zeros_initializer(),
                        moving_variance_initializer: Any = ones_initializer(), beta_regularizer: Any = None,
                        gamma_regularizer: Any = None, beta_constraint: Any = None, gamma_constraint: Any = None,
                        training: Any = False, trainable: bool = True, name: str | None = None, reuse: Any = None,
                        renorm: bool = False, renorm_clipping: Any = None, renorm_momentum: float = 0.99,
                        fused: Any = None, virtual_batch_size: Any = None, adjustment: Any = None) -> Tensor:
    """Functional interface of `BatchNormalization`.

    Args:
        inputs: a Tensor whose `axis` dimension(s) are known.
        axis: the feature axis (or axes) that keeps its own statistics (default -1: channels last).
        momentum: the moving averages' momentum.
        epsilon: added to the variance before its square root.
        center, scale: learn `beta` / `gamma`.
        *_initializer, *_regularizer, *_constraint: for the weights.
        training: a Python bool or a bool Tensor: batch statistics (and moving-average updates in
            GraphKeys.UPDATE_OPS) when true, the moving statistics when false.
        trainable: whether gamma and beta are trainable.
        name: the layer's name.
        reuse: reuse the weights of a previous layer with the same name.
        renorm, renorm_clipping, renorm_momentum, virtual_batch_size, adjustment: not supported.
        fused: use the unbiased variance for the moving average (default: for 4-D inputs).

    Returns:
        The normalized Tensor, shaped and typed like `inputs`.
    """
    layer = BatchNormalization(axis=axis, momentum=momentum, epsilon=epsilon, center=center, scale=scale,
                               beta_initializer=beta_initializer, gamma_initializer=gamma_initializer,
                               moving_mean_initializer=moving_mean_initializer,
                               moving_variance_initializer=moving_variance_initializer,
                               beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                               beta_constraint=beta_constraint, gamma_constraint=gamma_constraint,
                               renorm=renorm, renorm_clipping=renorm_clipping, renorm_momentum=renorm_momentum,
                               fused=fused, trainable=trainable, virtual_batch_size=virtual_batch_size,
                               adjustment=adjustment, name=name, dtype=input_dtype(inputs), _scope=name,
                               _reuse=reuse)
    return layer.apply(inputs, training=training)
