"""Normalization ops: local response normalization (LRN / LRNGrad) and fused batch norm (FusedBatchNorm,
V2, V3 and their grad ops), with TF's attrs, outputs and errors; `tf.nn.lrn` and `tf.nn.fused_batch_norm`.
"""

from __future__ import annotations

from typing import Any

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import name_scope
from labflow.framework.registry import op
from labflow.framework.tensor import Tensor
from labflow.ops.common import FLOAT_TYPES, base, convert_to_tensor, dims, make_op, make_tensor, merge_dims
from labflow.ops.conv_ops import rank4
from labflow.ops.nn_ops import upcast

__all__ = ["lrn", "local_response_normalization", "fused_batch_norm"]

_LRN_ATTRS = {"depth_radius": 5, "bias": 1.0, "alpha": 1.0, "beta": 0.5}


# -- LRN --------------------------------------------------------------------------------------------
def _lrn_shape(ins, attrs):
    if int(attrs["depth_radius"]) < 0:
        raise ValueError(f"LRN: depth_radius must be >= 0, got {attrs['depth_radius']}")
    return base(ins[0]), rank4(ins[0], "input", "LRN")


def _window_sum(xp: Any, sq: Any, r: int) -> Any:
    """sum(sq[..., d - r : d + r + 1]) along the last axis, clipped at the ends: 2r+1 slice adds (never a
    cumsum difference, which loses the small sums of a float32 window next to large ones)."""
    c = sq.shape[-1]
    out = sq.copy()
    for k in range(1, min(r, c - 1) + 1):
        out[..., k:] += sq[..., :c - k]
        out[..., :c - k] += sq[..., k:]
    return out


@op("LRN", inputs=("input",), attrs=_LRN_ATTRS, types=FLOAT_TYPES, shape=_lrn_shape)
def lrn_kernel(xp, input, *, depth_radius, bias, alpha, beta):
    x = upcast(xp, input)
    norm = _window_sum(xp, x * x, int(depth_radius)) * x.dtype.type(alpha) + x.dtype.type(bias)
    return (x * norm ** x.dtype.type(-beta)).astype(input.dtype, copy=False)


@lrn_kernel.grad
def _lrn_grad(op, grad):
    a = {k: op.get_attr(k) for k in _LRN_ATTRS}
    return [make_tensor("LRNGrad", [grad, op.inputs[0], op.outputs[0]], a)]


def _lrn_grad_shape(ins, attrs):
    d = None
    for t, what in zip(ins, ("input_grads", "input_image", "output_image")):
        d = merge_dims(d, rank4(t, what, "LRNGrad"))
    return base(ins[0]), d


@op("LRNGrad", inputs=("input_grads", "input_image", "output_image"), attrs=_LRN_ATTRS, types=FLOAT_TYPES,
    shape=_lrn_grad_shape, not_differentiable=True)
def lrn_grad_kernel(xp, input_grads, input_image, output_image, *, depth_radius, bias, alpha, beta):
    # TF's LRNGradOp: dx_k = g_k * norm_k^-beta - 2*alpha*beta * x_k * sum_{j: k in window(j)} g_j * y_j / norm_j,
    # with norm recomputed from the input and y the forward output (windows are symmetric, so the sum
    # over the j whose window holds k is the same window sum).
    g, x, y = upcast(xp, input_grads), upcast(xp, input_image), upcast(xp, output_image)
    r = int(depth_radius)
    norm = _window_sum(xp, x * x, r) * x.dtype.type(alpha) + x.dtype.type(bias)
    s = _window_sum(xp, g * y / norm, r)
    dx = g * norm ** x.dtype.type(-beta) - x.dtype.type(2 * alpha * beta) * x * s
    return dx.astype(input_grads.dtype, copy=False)


def lrn(input: Any, depth_radius: int = 5, bias: float = 1.0, alpha: float = 1.0, beta: float = 0.5,
        name: str | None = None) -> Tensor:
    """Local response normalization (Krizhevsky et al., 2012) across the last (depth) dimension.

    `sqr_sum[a, b, c, d] = sum(input[a, b, c, d - depth_radius : d + depth_radius + 1] ** 2)` and
    `output = input / (bias + alpha * sqr_sum) ** beta`.

    Args:
        input: a 4-D float Tensor (NHWC: depth last).
        depth_radius: half-width of the 1-D normalization window (>= 0).
        bias: an offset (usually positive, to avoid dividing by 0).
        alpha: a scale factor (usually positive).
        beta: an exponent.
        name: a name for the op (default "LRN").

    Returns:
        A Tensor of `input`'s dtype and shape.

    Raises:
        ValueError: `input` is not 4-D, or depth_radius < 0.
    """
    with name_scope(name, "LRN", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        attrs = {"depth_radius": int(depth_radius), "bias": float(bias), "alpha": float(alpha), "beta": float(beta)}
        return make_tensor("LRN", [x], attrs, scope)


local_response_normalization = lrn


# -- FusedBatchNorm (V1, V2, V3) --------------------------------------------------------------------
_BN_FORMATS = ("NHWC", "NCHW", "NDHWC", "NCDHW")
_BN_ATTRS = {"epsilon": 0.0001, "data_format": "NHWC", "is_training": True}
_V3_ATTRS = dict(_BN_ATTRS, exponential_avg_factor=1.0)
# V2 and V3 (and their grads) carry TF's "U" attr, the dtype of scale/offset/mean/variance.
_U_ATTR = {"U": _dt.float32}
_U_TYPES = (_dt.float32,)


def _format(op_type: str, fmt: str, versions_3d: bool) -> str:
    allowed = _BN_FORMATS if versions_3d else _BN_FORMATS[:2]
    if fmt not in allowed:
        raise ValueError(f"{op_type}: Invalid data format {fmt!r} (allowed: {', '.join(allowed)})")
    return fmt


def _channel_axis(fmt: str) -> int:
    return 1 if fmt.startswith("NC") else len(fmt) - 1


def _check_u(op_type: str, t_dtype: Any, tensors: list, names: tuple, attrs: dict) -> None:
    # TF's U is float32; labflow also takes U == T (a float64 graph, and the sweep's float64 gradient check).
    want = attrs.get("U")
    for t, nm in zip(tensors, names):
        u = base(t)
        if u not in _U_TYPES and u != t_dtype:
            raise TypeError(f"{op_type}: {nm} must be float32 or the dtype of x ({t_dtype.name}), got {u.name}")
        if want is not None and u != want:
            raise TypeError(f"{op_type}: {nm} has dtype {u.name}, but the op's U attr is {_dt.as_dtype(want).name}")


def _bn_shape(op_type: str, v3: bool):
    def fn(ins, attrs):
        x, scale, offset, mean, var = ins
        fmt = _format(op_type, attrs["data_format"], v3)
        xd = dims(x)
        if xd is not None and len(xd) != len(fmt):
            raise ValueError(f"Shape must be rank {len(fmt)} but is rank {len(xd)} for '{op_type}' (x)")
        _check_u(op_type, base(x), [scale, offset, mean, var], ("scale", "offset", "mean", "variance"), attrs)
        c = None if xd is None else xd[_channel_axis(fmt)]
        vecs = [(scale, "scale"), (offset, "offset")]
        if not attrs["is_training"]:
            vecs += [(mean, "mean"), (var, "variance")]
        for t, nm in vecs:
            d = dims(t)
            if d is not None and len(d) != 1:
                raise ValueError(f"Shape must be rank 1 but is rank {len(d)} for '{op_type}' ({nm})")
            if d is not None and d[0] is not None:
                if c is not None and d[0] != c:
                    raise ValueError(f"{op_type}: {nm} must have the channel count of x ({c}), got {d[0]}")
                c = d[0]
        u = base(scale)
        outs = [(base(x), xd), (u, (c,)), (u, (c,)), (u, (c,)), (u, (c,))]
        return outs + [(u, None)] if v3 else outs
    return fn


def _moved(xp: Any, a: Any, fmt: str) -> Any:
    """`a` viewed with channels last (NCHW / NCDHW data is read through strides)."""
    if _channel_axis(fmt) == 1:
        return xp.moveaxis(a, 1, -1)
    return a


def _unmoved(xp: Any, a: Any, fmt: str) -> Any:
    return xp.ascontiguousarray(xp.moveaxis(a, -1, 1)) if _channel_axis(fmt) == 1 else a


def _bn_forward(xp, x, scale, offset, mean, variance, epsilon, data_format, is_training, factor, v3):
    xc = upcast(xp, _moved(xp, x, data_format))
    u = scale.dtype
    c = xc.shape[-1]
    axes = tuple(range(xc.ndim - 1))
    wide = xc.dtype
    if is_training:
        bm = xp.mean(xc, axis=axes)
        bv = xp.mean(xp.square(xc - bm), axis=axes)
        count = xc.size // max(c, 1)
        unbiased = bv * wide.type(count / max(count - 1, 1))
        if factor != 1.0 and mean.size == c and variance.size == c:
            f = wide.type(factor)
            run_mean = (wide.type(1) - f) * mean.astype(wide) + f * bm
            run_var = (wide.type(1) - f) * variance.astype(wide) + f * unbiased
        else:
            run_mean, run_var = bm, unbiased
        use_mean, use_var = bm, bv
        saved = (bm.astype(u), bv.astype(u))
    else:
        if mean.size != c or variance.size != c:
            raise errors.InvalidArgumentError(
                None, None, f"FusedBatchNorm: mean and variance must each have {c} values (the channels of x) "
                f"when is_training is False, got {mean.size} and {variance.size}: pass the population "
                "statistics, or set is_training=True")
        use_mean, use_var = mean.astype(wide), variance.astype(wide)
        run_mean, run_var = use_mean, use_var
        saved = (mean.astype(u, copy=True), variance.astype(u, copy=True))
    k = scale.astype(wide) / xp.sqrt(use_var + wide.type(epsilon))
    y = (xc - use_mean) * k + offset.astype(wide)
    outs = (_unmoved(xp, y.astype(x.dtype, copy=False), data_format), run_mean.astype(u), run_var.astype(u)) + saved
    return outs + (xp.zeros((), dtype=u),) if v3 else outs


def _bn_grad_attrs(op: Any, with_u: bool) -> dict:
    return {k: op.get_attr(k) for k in (dict(_BN_ATTRS, **_U_ATTR) if with_u else _BN_ATTRS)}


def _register_bn(op_type: str, grad_type: str, v3: bool, v1: bool) -> None:
    attrs = dict(_V3_ATTRS if v3 else _BN_ATTRS, **({} if v1 else _U_ATTR))
    names = ("y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2")
    # V1 is float32-only in TF; float64 is labflow's addition (float64 graphs, the float64 gradient check).
    types = (_dt.float32, _dt.float64) if v1 else FLOAT_TYPES

    def kernel(xp, x, scale, offset, mean, variance, *, epsilon, data_format, is_training,
               exponential_avg_factor=1.0):
        return _bn_forward(xp, x, scale, offset, mean, variance, float(epsilon), data_format, bool(is_training),
                           float(exponential_avg_factor), v3)

    d = op(op_type, inputs=("x", "scale", "offset", "mean", "variance"), attrs=attrs, types=types,
           type_inputs=("x",), shape=_bn_shape(op_type, v3), outputs=6 if v3 else 5,
           output_names=names + (("reserve_space_3",) if v3 else ()))(kernel)

    @d.grad
    def _grad(op, dy, *unused):
        a = _bn_grad_attrs(op, not v1)
        x, scale = op.inputs[0], op.inputs[1]
        if op.get_attr("is_training"):
            r1, r2 = op.outputs[3], op.outputs[4]
        else:
            r1, r2 = op.inputs[3], op.inputs[4]  # TF's gradient reads the population statistics
        ins = [dy, x, scale, r1, r2] + ([op.outputs[5]] if v3 else [])
        o = make_op(grad_type, ins, a)
        return [o.outputs[0], o.outputs[1], o.outputs[2], None, None]

    _register_bn_grad(grad_type, v3, types, not v1)


def _bn_grad_shape(op_type: str, v3: bool):
    def fn(ins, attrs):
        dy, x, scale, r1, r2 = ins[:5]
        fmt = _format(op_type, attrs["data_format"], v3)
        xd = merge_dims(dims(dy), dims(x))
        if xd is not None and len(xd) != len(fmt):
            raise ValueError(f"Shape must be rank {len(fmt)} but is rank {len(xd)} for '{op_type}' (x)")
        _check_u(op_type, base(x), [scale, r1, r2], ("scale", "reserve_space_1", "reserve_space_2"), attrs)
        c = None if xd is None else xd[_channel_axis(fmt)]
        for t, nm in ((scale, "scale"), (r1, "reserve_space_1"), (r2, "reserve_space_2")):
            d = dims(t)
            if d is not None and len(d) != 1:
                raise ValueError(f"Shape must be rank 1 but is rank {len(d)} for '{op_type}' ({nm})")
            c = merge_dims((c,), d)[0] if d is not None else c
        u = base(scale)
        return [(base(x), xd), (u, (c,)), (u, (c,)), (u, (0,)), (u, (0,))]
    return fn


def _bn_backward(xp, y_backprop, x, scale, r1, r2, epsilon, data_format, is_training):
    g = upcast(xp, _moved(xp, y_backprop, data_format))
    xc = upcast(xp, _moved(xp, x, data_format))
    wide, u = xc.dtype, scale.dtype
    axes = tuple(range(xc.ndim - 1))
    rstd = wide.type(1) / xp.sqrt(r2.astype(wide) + wide.type(epsilon))
    xhat = (xc - r1.astype(wide)) * rstd
    dsum = xp.sum(g, axis=axes)
    dscale = xp.sum(g * xhat, axis=axes)
    k = scale.astype(wide) * rstd
    if is_training:
        count = wide.type(max(xc.size // max(xc.shape[-1], 1), 1))
        dx = k * (g - dsum / count - xhat * (dscale / count))
    else:
        dx = g * k
    empty = xp.zeros((0,), dtype=u)
    return (_unmoved(xp, dx.astype(x.dtype, copy=False), data_format), dscale.astype(u), dsum.astype(u), empty,
            empty.copy())


def _register_bn_grad(op_type: str, v3: bool, types: tuple, with_u: bool) -> None:
    ins = ("y_backprop", "x", "scale", "reserve_space_1", "reserve_space_2") + (("reserve_space_3",) if v3 else ())

    def kernel(xp, y_backprop, x, scale, reserve_space_1, reserve_space_2, reserve_space_3=None, *, epsilon,
               data_format, is_training):
        return _bn_backward(xp, y_backprop, x, scale, reserve_space_1, reserve_space_2, float(epsilon), data_format,
                            bool(is_training))

    attrs = dict(_BN_ATTRS, **(_U_ATTR if with_u else {}))
    d = op(op_type, inputs=ins, attrs=attrs, types=types, type_inputs=("y_backprop", "x"),
           shape=_bn_grad_shape(op_type, v3), outputs=5,
           output_names=("x_backprop", "scale_backprop", "offset_backprop", "reserve_space_3", "reserve_space_4"))(
        kernel)
    d.grad(_bn_grad_grad)


def _composite_bn_grad(dy: Any, x: Any, scale: Any, mean: Any, var: Any, epsilon: float, fmt: str,
                       is_training: bool) -> list:
    """TF's _BatchNormGrad: the batch-norm gradient as differentiable graph ops (for second derivatives)."""
    from labflow.ops import array_ops, math_ops
    x_dtype = base(x)
    if x_dtype in (_dt.float16, _dt.bfloat16):
        dy, x = math_ops.cast(dy, _dt.float32), math_ops.cast(x, _dt.float32)
    rank = len(fmt)
    ch = _channel_axis(fmt)
    axes = [i for i in range(rank) if i != ch]
    keep = ch != rank - 1
    bshape = [1] * rank
    bshape[ch] = -1

    def vec(v: Any) -> Any:
        return array_ops.reshape(v, bshape) if keep else v
    eps = convert_to_tensor(epsilon, dtype=base(x))
    if is_training:
        mean_dy = math_ops.reduce_mean(dy, axes, keepdims=keep)
        mean_x = math_ops.reduce_mean(x, axes, keepdims=keep)
        var_x = math_ops.reduce_mean(math_ops.squared_difference(x, array_ops.stop_gradient(mean_x)), axes,
                                     keepdims=keep)
        x_off = math_ops.subtract(x, mean_x)
        m = math_ops.reduce_mean(math_ops.multiply(dy, x_off), axes, keepdims=True)
        rs = math_ops.rsqrt(math_ops.add(var_x, eps))
        inner = math_ops.subtract(math_ops.subtract(dy, mean_dy), math_ops.multiply(
            math_ops.multiply(math_ops.reciprocal(math_ops.add(var_x, eps)), m), x_off))
        dx = math_ops.multiply(math_ops.multiply(vec(scale), rs), inner)
        dscale = math_ops.multiply(rs, math_ops.reduce_sum(math_ops.multiply(dy, x_off), axes, keepdims=keep))
        if keep:
            dscale = array_ops.reshape(dscale, [-1])
    else:
        rs = math_ops.rsqrt(math_ops.add(vec(var), eps))
        xhat = math_ops.multiply(math_ops.subtract(x, vec(mean)), rs)
        dscale = math_ops.reduce_sum(math_ops.multiply(dy, xhat), axes)
        dx = math_ops.multiply(dy, math_ops.multiply(vec(scale), rs))
    doffset = math_ops.reduce_sum(dy, axes)
    return [math_ops.cast(dx, x_dtype), dscale, doffset]


def _bn_grad_grad(op: Any, ddx: Any, ddscale: Any, ddoffset: Any, *unused: Any) -> list:
    # TF's _BatchNormGradGrad: differentiate the composite form of the gradient, weighted by the incoming grads.
    from labflow.framework.gradients import gradients
    from labflow.ops import array_ops
    dy, x, scale, r1, r2 = op.inputs[:5]
    outs = _composite_bn_grad(dy, x, scale, r1, r2, op.get_attr("epsilon"), op.get_attr("data_format"),
                              op.get_attr("is_training"))
    pairs = [(o, g) for o, g in zip(outs, (ddx, ddscale, ddoffset)) if g is not None]
    if not pairs:
        return [None] * len(op.inputs)
    got = gradients([o for o, _ in pairs], [dy, x, scale], grad_ys=[g for _, g in pairs])
    got = [array_ops.zeros_like(t) if g is None else g for g, t in zip(got, (dy, x, scale))]
    return got + [None] * (len(op.inputs) - 3)


_register_bn("FusedBatchNorm", "FusedBatchNormGrad", v3=False, v1=True)
_register_bn("FusedBatchNormV2", "FusedBatchNormGradV2", v3=False, v1=False)
_register_bn("FusedBatchNormV3", "FusedBatchNormGradV3", v3=True, v1=False)


def fused_batch_norm(x: Any, scale: Any, offset: Any, mean: Any = None, variance: Any = None,
                     epsilon: float = 0.001, data_format: str = "NHWC", is_training: bool = True,
                     name: str | None = None, exponential_avg_factor: float = 1.0) -> tuple:
    """Batch normalization in one op (FusedBatchNormV3), for 4-D (or 5-D with NDHWC/NCDHW) inputs.

    Training normalizes with the batch's mean and (biased) variance over every axis but the channels; the
    returned variance is the unbiased one (Bessel's correction), as TF returns it for moving averages.

    Args:
        x: a 4-D (or 5-D) float Tensor.
        scale: a 1-D Tensor [channels] (gamma).
        offset: a 1-D Tensor [channels] (beta).
        mean: a 1-D Tensor of population means for inference; with training, None (or, with
            `exponential_avg_factor` < 1, the running mean to update).
        variance: likewise, the population variance.
        epsilon: a small float added to the variance; values below 1.001e-5 are raised to it (cuDNN's
            minimum, as TF does).
        data_format: "NHWC" (default), "NCHW", "NDHWC" or "NCDHW".
        is_training: normalize with the batch statistics (True) or with `mean` and `variance` (False).
        name: a name for the op (default "FusedBatchNormV3").
        exponential_avg_factor: with training, the returned mean/variance are
            `(1 - factor) * mean + factor * batch_statistic`.

    Returns:
        A tuple `(y, batch_mean, batch_var)`.

    Raises:
        ValueError: mismatched ranks or channel counts; mean/variance missing when not training.
    """
    with name_scope(name, "FusedBatchNormV3", [x, scale, offset, mean, variance]) as scope:
        x = convert_to_tensor(x, name="input")
        scale = convert_to_tensor(scale, name="scale")
        offset = convert_to_tensor(offset, name="offset", dtype=base(scale))
        if not is_training and (mean is None or variance is None):
            raise ValueError("fused_batch_norm: both 'mean' and 'variance' must be given (1-D tensors) when "
                             "is_training is False")
        mean = convert_to_tensor([] if mean is None else mean, name="mean", dtype=base(scale))
        variance = convert_to_tensor([] if variance is None else variance, name="variance", dtype=base(scale))
        eps = max(float(epsilon), 1.001e-5)
        attrs = {"epsilon": eps, "data_format": data_format, "is_training": bool(is_training),
                 "exponential_avg_factor": float(exponential_avg_factor), "U": base(scale)}
        o = make_op("FusedBatchNormV3", [x, scale, offset, mean, variance], attrs, scope)
        return o.outputs[0], o.outputs[1], o.outputs[2]
