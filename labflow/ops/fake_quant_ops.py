"""Fake quantization for quantization-aware training (TF 1.x's FakeQuantWithMinMaxArgs / Vars /
VarsPerChannel and their gradient ops), registered with the quantized family (quantized_ops.py).

The forward pass rounds float32 values to the grid of `2^num_bits` levels a real 8-bit kernel would
use, with TF's "nudged" range (moved so that 0.0 is exactly on the grid); the gradient passes straight
through inside that range and is 0 outside, and for the Vars ops the range itself learns from the
clipped part (d/dmin = sum of the gradient below the range, d/dmax above it). Float32 only, as in TF.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.registry import op
from labflow.ops.common import convert_to_tensor, dims, make_op, make_tensor, merge_dims
from labflow.ops.quantized_ops import check_dtype, check_scalars, results

__all__ = ["fake_quant_with_min_max_args", "fake_quant_with_min_max_args_gradient", "fake_quant_with_min_max_vars",
           "fake_quant_with_min_max_vars_gradient", "fake_quant_with_min_max_vars_per_channel",
           "fake_quant_with_min_max_vars_per_channel_gradient"]

F32 = np.float32
_BITS = {"num_bits": 8, "narrow_range": False}
_ARGS_ATTRS = {"min": -6.0, "max": 6.0, **_BITS}


# -- the arithmetic (TF's fake_quant_ops_functor.h) ---------------------------------------------------------
def _nudge(mn: Any, mx: Any, num_bits: int, narrow_range: bool) -> tuple:
    """(nudged_min, nudged_max, scale) as float32 host arrays: [min, max] shifted so that 0.0 is a level."""
    qmin, qmax = F32(1 if narrow_range else 0), F32((1 << num_bits) - 1)
    mn, mx = np.asarray(mn, F32), np.asarray(mx, F32)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = (mx - mn) / (qmax - qmin)
        zp_from_min = qmin - mn / scale
    rounded = np.trunc(zp_from_min.astype(np.float64) + np.copysign(0.5, zp_from_min))  # std::round
    zp = np.where(zp_from_min < qmin, qmin, np.where(zp_from_min > qmax, qmax, rounded)).astype(F32)
    return (qmin - zp) * scale, (qmax - zp) * scale, scale


def _check_vars(op_type: str, mn: Any, mx: Any) -> None:
    bad = ~((mn < mx) | ((mn == 0) & (mx == 0)))
    if np.any(bad):
        raise errors.InvalidArgumentError(None, None, f"{op_type}: min must be smaller than max (or both 0), got "
                                          f"min={np.asarray(mn).tolist()} and max={np.asarray(mx).tolist()}")


def _fake_quant(xp: Any, x: Any, mn: Any, mx: Any, num_bits: int, narrow_range: bool, reciprocal: bool) -> Any:
    # TF's Args kernel multiplies by 1/scale, its Vars kernels divide by scale: kept, results differ in the last bit
    nmin, nmax, scale = _nudge(mn, mx, num_bits, narrow_range)
    zero = scale == 0  # min == max == 0: the output is 0 (later TF's rule; TF 1.x divided by zero)
    if np.any(zero):
        nmin, nmax = np.where(zero, 0, nmin).astype(F32), np.where(zero, 0, nmax).astype(F32)
        scale = np.where(zero, 1, scale).astype(F32)
    nmin, nmax, scale = (xp.asarray(v) for v in (nmin, nmax, scale))
    v = xp.minimum(x, nmax)
    xp.maximum(v, nmin, out=v)
    v -= nmin
    if reciprocal:
        v *= F32(1) / scale
    else:
        v /= scale
    v += F32(0.5)
    xp.floor(v, out=v)
    v *= scale
    v += nmin
    return v


def _masks(xp: Any, x: Any, mn: Any, mx: Any, num_bits: int, narrow_range: bool) -> tuple:
    nmin, nmax, _ = _nudge(mn, mx, num_bits, narrow_range)
    nmin, nmax = xp.asarray(nmin), xp.asarray(nmax)
    return x < nmin, x > nmax


def _host(v: Any, what: str, op_type: str) -> Any:
    a = np.asarray(v, dtype=F32)
    if a.size == 0:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: {what} must not be empty.")
    return a


# -- shape functions -----------------------------------------------------------------------------------------
def _check_bits(op_type: str, attrs: dict) -> None:
    nb = int(attrs["num_bits"])
    if not 2 <= nb <= 16:
        raise ValueError(f"{op_type}: num_bits must be between 2 and 16, inclusive, got {nb}")


def _args_shape(op_type: str, n_data: int):
    def fn(ins, attrs):
        _check_bits(op_type, attrs)
        if not float(attrs["min"]) < float(attrs["max"]):
            raise ValueError(f"{op_type}: min has to be smaller than max, was: {attrs['min']} >= {attrs['max']}")
        d = None
        for t, what in zip(ins, ("gradients", "inputs")[-n_data:]):
            check_dtype(op_type, what, t, (_dt.float32,))
            d = merge_dims(d, dims(t))
        return _dt.float32, d
    return fn


def _vars_shape(op_type: str, n_data: int, per_channel: bool):
    def fn(ins, attrs):
        _check_bits(op_type, attrs)
        d = None
        for t, what in zip(ins[:n_data], ("gradients", "inputs")[-n_data:]):
            check_dtype(op_type, what, t, (_dt.float32,))
            d = merge_dims(d, dims(t))
        mm = ins[n_data:]
        if not per_channel:
            check_scalars(op_type, mm, ("min", "max"))
            rng = ()
        else:
            for t, what in zip(mm, ("min", "max")):
                check_dtype(op_type, what, t, (_dt.float32,))
                md = dims(t)
                if md is not None and len(md) != 1:
                    raise ValueError(f"Shape must be rank 1 but is rank {len(md)} ({op_type} input '{what}')")
                if d is not None and len(d) == 0:
                    raise ValueError(f"{op_type}: inputs must be at least rank 1 (channels last)")
                last = None if d is None else d[-1]
                if md is not None and md[0] is not None and last is not None and md[0] != last:
                    raise ValueError(f"Dimensions must be equal, but are {md[0]} and {last} ({op_type}: '{what}' "
                                     "needs one value per channel of the inputs' last dimension)")
            rng = (None if d is None else d[-1],)
        if n_data == 1:
            return _dt.float32, d
        return [(_dt.float32, d), (_dt.float32, rng), (_dt.float32, rng)]
    return fn


# -- FakeQuantWithMinMaxArgs ---------------------------------------------------------------------------------
@op("FakeQuantWithMinMaxArgs", inputs=("inputs",), attrs=_ARGS_ATTRS,
    shape=_args_shape("FakeQuantWithMinMaxArgs", 1))
def fake_quant_args_kernel(xp, inputs, *, min, max, num_bits, narrow_range):  # noqa: A002
    return _fake_quant(xp, inputs, min, max, num_bits, narrow_range, reciprocal=True)


@op("FakeQuantWithMinMaxArgsGradient", inputs=("gradients", "inputs"), attrs=_ARGS_ATTRS,
    shape=_args_shape("FakeQuantWithMinMaxArgsGradient", 2), not_differentiable=True)
def fake_quant_args_grad_kernel(xp, gradients, inputs, *, min, max, num_bits, narrow_range):  # noqa: A002
    below, above = _masks(xp, inputs, min, max, num_bits, narrow_range)
    return xp.where(below | above, F32(0), gradients)


def _attrs_of(op: Any, names: Any) -> dict:
    return {k: op.get_attr(k) for k in names}


@fake_quant_args_kernel.grad
def _fake_quant_args_grad(op, grad):
    return [make_tensor("FakeQuantWithMinMaxArgsGradient", [grad, op.inputs[0]], _attrs_of(op, _ARGS_ATTRS))]


# -- FakeQuantWithMinMaxVars(PerChannel) ---------------------------------------------------------------------
def _vars_forward(op_type: str):
    def kernel(xp, inputs, min, max, *, num_bits, narrow_range):  # noqa: A002
        mn, mx = _host(min, "min", op_type), _host(max, "max", op_type)
        _check_vars(op_type, mn, mx)
        return _fake_quant(xp, inputs, mn, mx, num_bits, narrow_range, reciprocal=False)
    return kernel


def _vars_backward(op_type: str):
    def kernel(xp, gradients, inputs, min, max, *, num_bits, narrow_range):  # noqa: A002
        mn, mx = _host(min, "min", op_type), _host(max, "max", op_type)
        _check_vars(op_type, mn, mx)
        below, above = _masks(xp, inputs, mn, mx, num_bits, narrow_range)
        axes = None if mn.ndim == 0 else tuple(range(inputs.ndim - 1))  # per channel: sum all but the last
        d_min = xp.where(below, gradients, F32(0)).sum(axis=axes, dtype=xp.float32)
        d_max = xp.where(above, gradients, F32(0)).sum(axis=axes, dtype=xp.float32)
        return xp.where(below | above, F32(0), gradients), xp.asarray(d_min), xp.asarray(d_max)
    return kernel


_GRAD_OUTS = ("backprops_wrt_input", "backprop_wrt_min", "backprop_wrt_max")
_VARS = "FakeQuantWithMinMaxVars"
_PC = "FakeQuantWithMinMaxVarsPerChannel"

fake_quant_vars_kernel = op(_VARS, inputs=("inputs", "min", "max"), attrs=dict(_BITS), host_inputs=(1, 2),
                            shape=_vars_shape(_VARS, 1, False))(_vars_forward(_VARS))
op(_VARS + "Gradient", inputs=("gradients", "inputs", "min", "max"), attrs=dict(_BITS), host_inputs=(2, 3),
   shape=_vars_shape(_VARS + "Gradient", 2, False), outputs=3, output_names=_GRAD_OUTS,
   not_differentiable=True)(_vars_backward(_VARS + "Gradient"))
fake_quant_per_channel_kernel = op(_PC, inputs=("inputs", "min", "max"), attrs=dict(_BITS), host_inputs=(1, 2),
                                   shape=_vars_shape(_PC, 1, True))(_vars_forward(_PC))
op(_PC + "Gradient", inputs=("gradients", "inputs", "min", "max"), attrs=dict(_BITS), host_inputs=(2, 3),
   shape=_vars_shape(_PC + "Gradient", 2, True), outputs=3, output_names=_GRAD_OUTS,
   not_differentiable=True)(_vars_backward(_PC + "Gradient"))


def _vars_grad(grad_type: str):
    def grad_fn(op, grad):
        o = make_op(grad_type, [grad, *op.inputs], _attrs_of(op, _BITS))
        return list(o.outputs)
    return grad_fn


fake_quant_vars_kernel.grad(_vars_grad(_VARS + "Gradient"))
fake_quant_per_channel_kernel.grad(_vars_grad(_PC + "Gradient"))


# -- public wrappers -------------------------------------------------------------------------------------------
def _f32(t: Any, name: str) -> Any:
    return convert_to_tensor(t, dtype_hint=_dt.float32, name=name)


def _bits(num_bits: int, narrow_range: bool) -> dict:
    return {"num_bits": int(num_bits), "narrow_range": bool(narrow_range)}


def fake_quant_with_min_max_args(inputs: Any, min: float = -6.0, max: float = 6.0, num_bits: int = 8,  # noqa: A002
                                 narrow_range: bool = False, name: str | None = None) -> Any:
    """Rounds float32 `inputs` to the 8-bit (or `num_bits`) grid of a fixed range (TF 1.x
    `tf.quantization.fake_quant_with_min_max_args`).

    The range is nudged so that 0.0 is exactly representable, values are clamped to it and rounded to the
    nearest of its 2^num_bits levels (2^num_bits - 1 with `narrow_range`, which drops the lowest code).
    Its gradient passes through where the input lies inside the nudged range and is 0 outside.

    Args:
        inputs: a float32 Tensor.
        min, max: the range (min < max; TF expects min <= 0 <= max).
        num_bits: 2 to 16.
        narrow_range: quantize into [1, 2^num_bits - 1] instead of [0, 2^num_bits - 1].
        name: a name for the op (default "FakeQuantWithMinMaxArgs").

    Returns:
        A float32 Tensor of `inputs`' shape.
    """
    attrs = {"min": float(min), "max": float(max), **_bits(num_bits, narrow_range)}
    return make_tensor("FakeQuantWithMinMaxArgs", [_f32(inputs, "inputs")], attrs, name or "FakeQuantWithMinMaxArgs")


def fake_quant_with_min_max_args_gradient(gradients: Any, inputs: Any, min: float = -6.0,  # noqa: A002
                                          max: float = 6.0, num_bits: int = 8,  # noqa: A002
                                          narrow_range: bool = False, name: str | None = None) -> Any:
    """The gradient of `fake_quant_with_min_max_args`: `gradients` where `inputs` is inside the nudged range,
    else 0."""
    attrs = {"min": float(min), "max": float(max), **_bits(num_bits, narrow_range)}
    return make_tensor("FakeQuantWithMinMaxArgsGradient", [_f32(gradients, "gradients"), _f32(inputs, "inputs")],
                       attrs, name or "FakeQuantWithMinMaxArgsGradient")


def fake_quant_with_min_max_vars(inputs: Any, min: Any, max: Any, num_bits: int = 8,  # noqa: A002
                                 narrow_range: bool = False, name: str | None = None) -> Any:
    """Like `fake_quant_with_min_max_args`, with the range given by float32 scalar tensors, typically
    variables trained with the model (TF 1.x `tf.quantization.fake_quant_with_min_max_vars`): their
    gradients are the sums of the incoming gradient below (min) and above (max) the range.

    Raises:
        errors.InvalidArgumentError: min > max, or min == max != 0 (when the op runs).
    """
    ins = [_f32(inputs, "inputs"), _f32(min, "min"), _f32(max, "max")]
    return make_tensor(_VARS, ins, _bits(num_bits, narrow_range), name or _VARS)


FakeQuantGradient = results("FakeQuantWithMinMaxVarsGradient", _GRAD_OUTS)


def fake_quant_with_min_max_vars_gradient(gradients: Any, inputs: Any, min: Any, max: Any,  # noqa: A002
                                          num_bits: int = 8, narrow_range: bool = False,
                                          name: str | None = None) -> FakeQuantGradient:
    """The gradient op of `fake_quant_with_min_max_vars`.

    Returns:
        A namedtuple `(backprops_wrt_input, backprop_wrt_min, backprop_wrt_max)`.
    """
    ins = [_f32(gradients, "gradients"), _f32(inputs, "inputs"), _f32(min, "min"), _f32(max, "max")]
    return FakeQuantGradient(*make_op(_VARS + "Gradient", ins, _bits(num_bits, narrow_range),
                                      name or _VARS + "Gradient").outputs)


def fake_quant_with_min_max_vars_per_channel(inputs: Any, min: Any, max: Any, num_bits: int = 8,  # noqa: A002
                                             narrow_range: bool = False, name: str | None = None) -> Any:
    """`fake_quant_with_min_max_vars` with one range per channel: `min` and `max` are 1-D, as long as the
    last dimension of `inputs` (TF 1.x `tf.quantization.fake_quant_with_min_max_vars_per_channel`)."""
    ins = [_f32(inputs, "inputs"), _f32(min, "min"), _f32(max, "max")]
    return make_tensor(_PC, ins, _bits(num_bits, narrow_range), name or _PC)


def fake_quant_with_min_max_vars_per_channel_gradient(gradients: Any, inputs: Any, min: Any,  # noqa: A002
                                                      max: Any, num_bits: int = 8,  # noqa: A002
                                                      narrow_range: bool = False,
                                                      name: str | None = None) -> FakeQuantGradient:
    """The gradient op of `fake_quant_with_min_max_vars_per_channel` (per-channel min/max gradients)."""
    ins = [_f32(gradients, "gradients"), _f32(inputs, "inputs"), _f32(min, "min"), _f32(max, "max")]
    return FakeQuantGradient(*make_op(_PC + "Gradient", ins, _bits(num_bits, narrow_range),
                                      name or _PC + "Gradient").outputs)
