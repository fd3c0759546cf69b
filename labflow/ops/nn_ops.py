"""Neural-net ops (`tf.nn`): activations, softmax, bias_add, l2_loss, dropout.

The cross-entropy ops live in nn_xent_ops.py and are re-exported here, so `tf.nn` (which star-imports
this module) sees one family.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from labflow import errors
from labflow.framework.graph import name_scope
from labflow.framework.registry import op
from labflow.framework.shapes import TensorShape
from labflow.ops import array_ops, math_ops
from labflow.ops.common import (
    FLOAT_TYPES,
    NUMERIC_TYPES,
    REAL_TYPES,
    base,
    constant_value,
    convert_same_dtype,
    convert_to_tensor,
    dims,
    downcast,
    make_tensor,
    same_shape,  # noqa: F401 - also used by nn_extra_ops
    sum_leading,
)
from labflow.ops.fused_elementwise_ops import evaluate, fused, per_backend

__all__ = ["relu", "softmax", "log_softmax", "bias_add", "l2_loss", "dropout"]


def at_least_rank(r: int):
    """Shape function factory: same dtype and shape as the first input, which must have rank >= r."""
    def fn(ins: list, attrs: dict) -> tuple:
        d = dims(ins[0])
        if d is not None and len(d) < r:
            raise ValueError(f"Shape must be at least rank {r} but is rank {len(d)}")
        return base(ins[0]), d
    return fn


def upcast(xp: Any, x: Any) -> Any:
    """16-bit floats are computed in float32 (exp/sum lose too much precision in half)."""
    return x.astype(xp.float32) if x.dtype.itemsize < 4 else x


def log_softmax_last(xp: Any, x: Any) -> Any:
    """Numerically stable log-softmax over the last axis (shift by the row max: log-sum-exp)."""
    if x.shape[-1] == 0:  # max() of an empty axis raises; the result is empty anyway
        return x.copy()
    shifted = x - xp.max(x, axis=-1, keepdims=True)
    shifted -= xp.log(xp.sum(xp.exp(shifted), axis=-1, keepdims=True))
    return shifted


def is_zero(t: Any) -> bool:
    """TF's IsZero: a gradient that is statically known to be all zeros (skip its contribution)."""
    if t is None:
        return True
    if t.op.type in ("ZerosLike", "Zeros"):
        return True
    v = constant_value(t)
    return v is not None and not v.any()


def softmax_grad(grad: Any, s: Any) -> Any:
    """The vector-Jacobian product of softmax `s` along the last axis: (g - sum(g * s)) * s."""
    dot = math_ops.reduce_sum(math_ops.multiply(grad, s), -1, keepdims=True)
    return math_ops.multiply(math_ops.subtract(grad, dot), s)


# -- Relu -------------------------------------------------------------------------------------------
@op("Relu", inputs=("features",), types=REAL_TYPES, shape=lambda ins, attrs: (base(ins[0]), dims(ins[0])))
def relu_kernel(xp, features):
    return xp.maximum(features, features.dtype.type(0))


@relu_kernel.grad
def _relu_grad(op, grad):
    # The output is > 0 exactly where the input is, so ReluGrad can read the (smaller-lived) output.
    return [make_tensor("ReluGrad", [grad, op.outputs[0]])]


@op("ReluGrad", inputs=("gradients", "features"), types=REAL_TYPES, shape=same_shape)
def relu_grad_kernel(xp, gradients, features):
    # gradients * (features > 0), as TF computes it; a multiply by the mask is ~10x faster than where().
    if xp is not np and gradients.dtype.kind == "f" and gradients.dtype == features.dtype:
        return evaluate(xp, ["ReluGrad 0 1"], [2], gradients, features)  # one kernel, not two
    return xp.multiply(gradients, features > 0, dtype=gradients.dtype)


@relu_grad_kernel.grad
def _relu_grad_grad(op, grad):
    x = op.inputs[1]
    return [make_tensor("ReluGrad", [grad, x]), array_ops.zeros_like(x)]


def relu(features: Any, name: str | None = None) -> Any:
    """Rectified linear: `max(features, 0)`.

    Args:
        features: a real-valued Tensor.
        name: a name for the op (default "Relu").

    Returns:
        A Tensor of the same type and shape.
    """
    x = convert_to_tensor(features, name="features")
    return make_tensor("Relu", [x], None, name or "Relu")


# -- Softmax / LogSoftmax ---------------------------------------------------------------------------
@op("Softmax", inputs=("logits",), types=FLOAT_TYPES, shape=at_least_rank(1))
def softmax_kernel(xp, logits):
    e = xp.exp(log_softmax_last(xp, upcast(xp, logits)))
    return e.astype(logits.dtype, copy=False)


@softmax_kernel.grad
def _softmax_grad(op, grad):
    return [softmax_grad(grad, op.outputs[0])]


@op("LogSoftmax", inputs=("logits",), types=FLOAT_TYPES, shape=at_least_rank(1))
def log_softmax_kernel(xp, logits):
    return log_softmax_last(xp, upcast(xp, logits)).astype(logits.dtype, copy=False)


@log_softmax_kernel.grad
def _log_softmax_grad(op, grad):
    s = math_ops.exp(op.outputs[0])
    return [math_ops.subtract(grad, math_ops.multiply(math_ops.reduce_sum(grad, -1, keepdims=True), s))]


def pick_axis(axis: Any, dim: Any, default: Any = -1) -> Any:
    """TF's deprecated_argument_lookup for `axis` (new) and `dim` (TF1 spelling)."""
    if axis is not None and dim is not None:
        raise ValueError("Cannot specify both 'axis' and 'dim'")
    v = axis if axis is not None else dim
    return default if v is None else v


def swap_to_last(x: Any, axis: int, what: str, rank: int | None = None) -> tuple[Any, list | None]:
    """Transposes `axis` of `x` to the end; returns (x', perm) with perm None when nothing moved.

    `rank` overrides x's static rank (labels take the rank of their logits).
    """
    r = x.get_shape().ndims if rank is None else rank
    if isinstance(axis, numbers.Integral) and axis == -1:
        return x, None
    a = constant_value(axis) if not isinstance(axis, numbers.Integral) else axis
    if a is None:
        raise ValueError(f"{what}: `axis` must be a Python int or a constant tensor, got {axis!r}")
    a = int(a)
    if r is None:
        raise ValueError(f"{what}: with axis={a} (not -1) the rank of the input must be known statically; "
                         "give the placeholder a shape, or transpose the axis to the end yourself")
    if not -r <= a < r:
        raise errors.InvalidArgumentError(
            None, None, f"Dimension ({a}) must be in the range [{-r}, {r}) where {r} is the number of "
            "dimensions in the input.")
    a %= r
    if a == r - 1:
        return x, None
    perm = list(range(r))
    perm[a], perm[-1] = perm[-1], perm[a]
    return array_ops.transpose(x, perm), perm


def _softmax(logits: Any, op_type: str, axis: Any, name: str | None) -> Any:
    x = convert_to_tensor(logits, name="logits")
    shape = x.get_shape()
    if shape.ndims == 0:
        raise ValueError(f"{op_type}: logits must have rank >= 1, got a scalar")
    xt, perm = swap_to_last(x, axis, f"tf.nn.{op_type.lower()}")
    if perm is None:
        return make_tensor(op_type, [xt], None, name or op_type)
    out = make_tensor(op_type, [xt], None, op_type)
    out = array_ops.transpose(out, perm, name=name) if name else array_ops.transpose(out, perm)
    out.set_shape(shape)
    return out


def softmax(logits: Any, axis: Any = None, name: str | None = None, dim: Any = None) -> Any:
    """Softmax activations: `exp(logits) / reduce_sum(exp(logits), axis)`, computed stably.

    Args:
        logits: a non-empty float Tensor (half, bfloat16, float32, float64).
        axis: the dimension softmax is performed on (default -1, the last).
        name: a name for the op.
        dim: the TF1 name of `axis` (deprecated there).

    Returns:
        A Tensor with the type and shape of `logits`.

    Raises:
        InvalidArgumentError: `axis` is out of range (at graph construction, like TF).
    """
    return _softmax(logits, "Softmax", pick_axis(axis, dim), name)


def log_softmax(logits: Any, axis: Any = None, name: str | None = None, dim: Any = None) -> Any:
    """Log-softmax activations: `logits - log(reduce_sum(exp(logits), axis))`, computed stably.

    Args:
        logits: a non-empty float Tensor.
        axis: the dimension log-softmax is performed on (default -1, the last).
        name: a name for the op.
        dim: the TF1 name of `axis` (deprecated there).

    Returns:
        A Tensor with the type and shape of `logits`.
    """
    return _softmax(logits, "LogSoftmax", pick_axis(axis, dim), name)


# -- BiasAdd ----------------------------------------------------------------------------------------
def _channel_axis(rank: int, data_format: str) -> int:
    return 1 if data_format.startswith("NC") else rank - 1


def _bias_add_shape(ins, attrs):
    v, b = dims(ins[0]), dims(ins[1])
    if b is not None and len(b) != 1:
        raise ValueError(f"Shape must be rank 1 but is rank {len(b)}")
    if v is None:
        return base(ins[0]), None
    if len(v) < 2:
        raise ValueError(f"Shape must be at least rank 2 but is rank {len(v)}")
    c = _channel_axis(len(v), attrs["data_format"])
    if b is not None and v[c] is not None and b[0] is not None and v[c] != b[0]:
        raise ValueError(f"Dimensions must be equal, but are {v[c]} and {b[0]}")
    out = list(v)
    if out[c] is None and b is not None:
        out[c] = b[0]
    return base(ins[0]), tuple(out)


@op("BiasAdd", inputs=("value", "bias"), attrs={"data_format": "NHWC"}, types=NUMERIC_TYPES,
    shape=_bias_add_shape)
def bias_add_kernel(xp, value, bias, *, data_format):
    if data_format.startswith("NC") and value.ndim > 2:
        bias = bias.reshape((-1,) + (1,) * (value.ndim - 2))
    return xp.add(value, bias)


@bias_add_kernel.grad
def _bias_add_grad(op, grad):
    fmt = op.get_attr("data_format")
    return [grad, make_tensor("BiasAddGrad", [grad], {"data_format": fmt})]


def _bias_add_grad_shape(ins, attrs):
    d = dims(ins[0])
    if d is None:
        return base(ins[0]), (None,)
    if len(d) < 2:
        raise ValueError(f"Shape must be at least rank 2 but is rank {len(d)}")
    return base(ins[0]), (d[_channel_axis(len(d), attrs["data_format"])],)


@op("BiasAddGrad", inputs=("out_backprop",), attrs={"data_format": "NHWC"}, types=NUMERIC_TYPES,
    shape=_bias_add_grad_shape)
def bias_add_grad_kernel(xp, out_backprop, *, data_format):
    c = _channel_axis(out_backprop.ndim, data_format)
    axes = tuple(i for i in range(out_backprop.ndim) if i != c)
    return sum_leading(xp, out_backprop, axes)


@bias_add_grad_kernel.grad
def _bias_add_grad_grad(op, grad):
    # Broadcast the per-channel gradient back over the other axes.
    x = op.inputs[0]
    r = x.get_shape().ndims
    fmt = op.get_attr("data_format")
    if r is None:
        raise ValueError(f"The gradient of '{op.name}' (BiasAddGrad) needs the input's rank statically")
    shp = [1] * r
    shp[_channel_axis(r, fmt)] = -1
    g = array_ops.reshape(grad, shp)
    return [make_tensor("BroadcastTo", [g, array_ops.shape(x)])]


def bias_add(value: Any, bias: Any, data_format: str | None = None, name: str | None = None) -> Any:
    """Adds a 1-D `bias` along the channel dimension of `value` (last for NHWC, second for NC*).

    Args:
        value: a Tensor of rank >= 2.
        bias: a 1-D Tensor whose size matches the channel dimension of `value`, same dtype.
        data_format: "NHWC" (default; any "N...C") or "NCHW" (any "NC...").
        name: a name for the op (default "BiasAdd").

    Returns:
        A Tensor with the type and shape of `value`.

    Raises:
        ValueError: bad data_format, ranks, or mismatched channel sizes.
    """
    fmt = data_format or "NHWC"
    if not (fmt.startswith("NC") or (fmt.startswith("N") and fmt.endswith("C"))):
        raise ValueError(f"bias_add: data_format must be 'NHWC' or 'NCHW' (or N...C / NC...), got {fmt!r}")
    fmt = "NCHW" if fmt.startswith("NC") and fmt != "NC" else "NHWC"
    with name_scope(name, "BiasAdd") as scope:
        v, b = convert_same_dtype([value, bias])
        return make_tensor("BiasAdd", [v, b], {"data_format": fmt}, scope)


# -- L2Loss -----------------------------------------------------------------------------------------
@op("L2Loss", inputs=("t",), types=FLOAT_TYPES, shape=lambda ins, attrs: (base(ins[0]), ()))
def l2_loss_kernel(xp, t):
    u = upcast(xp, t)
    if xp is np and u.dtype.kind == "f" and u.flags.c_contiguous:
        # BLAS dot: one pass, no squared temporary of the whole tensor.
        flat = u.reshape(-1)
        return (np.dot(flat, flat) / 2).astype(t.dtype)
    if xp is not np:
        # One kernel (square, sum, halve) instead of four launches: weight decay calls this per weight.
        return downcast(per_backend(xp, _gpu_half_sum_of_squares)(u), t.dtype)
    return (xp.sum(u * u) / 2).astype(t.dtype)


def _gpu_half_sum_of_squares(xp: Any) -> Any:
    def half_sum_of_squares(x: Any) -> Any:
        return xp.sum(x * x) / 2
    return fused(xp, half_sum_of_squares)


@l2_loss_kernel.grad
def _l2_loss_grad(op, grad):
    return [math_ops.multiply(op.inputs[0], grad)]


def l2_loss(t: Any, name: str | None = None) -> Any:
    """Half the squared L2 norm of `t`, without the square root: `sum(t ** 2) / 2`.

    Args:
        t: a float Tensor.
        name: a name for the op (default "L2Loss").

    Returns:
        A scalar Tensor of the same dtype.
    """
    x = convert_to_tensor(t, name="t")
    return make_tensor("L2Loss", [x], None, name or "L2Loss")


# -- dropout ----------------------------------------------------------------------------------------
def _noise_shape(x: Any, noise_shape: Any) -> Any:
    if noise_shape is None:
        d = dims(x)
        if d is not None and all(v is not None for v in d):
            return list(d)
        return array_ops.shape(x)
    if isinstance(noise_shape, (list, tuple)) and any(v is None for v in noise_shape):
        d = dims(x)
        if d is None or len(d) != len(noise_shape):
            raise ValueError(f"dropout: noise_shape {list(noise_shape)} has unknown entries and does not "
                             f"match the rank of x ({TensorShape(d)})")
        out = [xd if v is None else v for v, xd in zip(noise_shape, d)]
        if any(v is None for v in out):
            raise ValueError(f"dropout: cannot fill noise_shape {list(noise_shape)} from x's shape "
                             f"{TensorShape(d)}: those dimensions are unknown")
        return out
    return noise_shape


def dropout(x: Any, keep_prob: Any = None, noise_shape: Any = None, seed: int | None = None,
            name: str | None = None, rate: Any = None) -> Any:
    """Randomly zeroes elements of `x` with probability `rate` and scales the rest by `1 / (1 - rate)`.

    Args:
        x: a float Tensor.
        keep_prob: TF1's probability of keeping each element (a float or scalar Tensor, e.g. a
            placeholder fed 1.0 at test time); give either this or `rate`.
        noise_shape: the shape of the random keep/drop mask, broadcast against `x` (e.g. [n, 1] to
            drop whole rows). None entries take x's static dimension.
        seed: the op seed (see `tf.set_random_seed`).
        name: a name scope for the ops (default "dropout").
        rate: the probability of dropping each element, `1 - keep_prob`.

    Returns:
        A Tensor with the shape and dtype of `x`.

    Raises:
        ValueError: neither or both of keep_prob/rate given, a rate outside [0, 1), a non-float x.
    """
    from labflow.ops import random_ops
    if keep_prob is not None and rate is not None:
        raise ValueError("Cannot specify both 'rate' and 'keep_prob'")
    if keep_prob is None and rate is None:
        raise ValueError("You must provide a rate to dropout.")
    with name_scope(name, "dropout") as scope:
        x = convert_to_tensor(x, name="x")
        if not x.dtype.is_floating:
            raise ValueError("x has to be a floating point tensor since it's going to be scaled. Got a "
                             f"{x.dtype.name} tensor instead.")
        if keep_prob is not None:
            if isinstance(keep_prob, numbers.Real):
                if not 0 < keep_prob <= 1:
                    raise ValueError(f"keep_prob must be a scalar tensor or a float in the range (0, 1], got "
                                     f"{keep_prob:g}")
                rate = 1.0 - float(keep_prob)
            else:
                kp = convert_to_tensor(keep_prob, dtype=base(x), name="keep_prob")
                rate = math_ops.subtract(convert_to_tensor(1.0, dtype=base(x)), kp)
        elif isinstance(rate, numbers.Real) and not 0 <= rate < 1:
            raise ValueError(f"rate must be a scalar tensor or a float in the range [0, 1), got {rate:g}")
        if isinstance(rate, numbers.Real) and rate == 0:
            return x
        rate = convert_to_tensor(rate, dtype=base(x), name="rate")
        if not rate.get_shape().is_compatible_with(()):
            raise ValueError(f"dropout: rate must be a scalar, got shape {rate.get_shape()}")
        cv = constant_value(rate)
        if cv is not None and cv == 0:
            return x
        noise = random_ops.random_uniform(_noise_shape(x, noise_shape), seed=seed, dtype=base(x))
        one = convert_to_tensor(1.0, dtype=base(x))
        scale = math_ops.divide(one, math_ops.subtract(one, rate))
        # `>=`: a draw exactly equal to rate is kept (TF's convention).
        keep = math_ops.cast(math_ops.greater_equal(noise, rate), base(x))
        ret = math_ops.multiply(math_ops.multiply(x, scale), keep, name=scope or None)
        ret.set_shape(x.get_shape())
        return ret


# The cross-entropy half of the family (registered on import; re-exported for tf.nn).
from labflow.ops.nn_xent_ops import *  # noqa: F401,F403,E402
from labflow.ops.nn_xent_ops import __all__ as _xent_all  # noqa: E402

__all__ += _xent_all
