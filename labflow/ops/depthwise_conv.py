"""Depthwise convolution: DepthwiseConv2dNative and its two backprop ops, `tf.nn.depthwise_conv2d(_native)`
and `tf.nn.separable_conv2d`.

Attrs, geometry (strides, dilations, SAME/VALID/EXPLICIT padding, NHWC/NCHW) and their checks are the
Conv2D ones from conv_ops.py. Each input channel has its own small filter bank, so there is no GEMM to
lower to: the kernels run KH*KW whole-array multiply-adds, one per filter offset (each a strided view of
the padded input), never a loop over pixels or batch items.
"""

from __future__ import annotations

from typing import Any

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import name_scope
from labflow.framework.registry import REQUIRED, op
from labflow.framework.tensor import Tensor
from labflow.ops import array_ops
from labflow.ops.common import (
    FLOAT_TYPES,
    base,
    convert_same_dtype,
    convert_to_tensor,
    dims,
    make_tensor,
)
from labflow.ops.conv_kernels import pad_hw, upcast, window_extent
from labflow.ops.conv_ops import (
    _conv_common,
    _conv_params,
    _sizes,
    check_format,
    conv2d,
    convert_padding,
    from_nhwc,
    get_sequence,
    kernel_in,
    kernel_out,
    out_dim,
    rank4,
    to_nhwc,
)

__all__ = ["depthwise_conv2d", "depthwise_conv2d_native", "depthwise_conv2d_native_backprop_input",
           "depthwise_conv2d_native_backprop_filter", "separable_conv2d"]

_ATTRS = {"strides": REQUIRED, "padding": REQUIRED, "explicit_paddings": [], "data_format": "NHWC",
          "dilations": [1, 1, 1, 1]}


def _attrs_of(op: Any) -> dict:
    return {k: op.get_attr(k) for k in _ATTRS}


def _out_nhwc(op_type: str, xd: tuple, wd: tuple, attrs: dict) -> tuple:
    fmt, s, d, pads = _conv_common(attrs)
    n, h, w, c = xd
    kh, kw, kc, m = wd
    if c is not None and kc is not None and c != kc:
        raise ValueError(f"{op_type}: the input depth ({c}) must equal the filter's in_channels ({kc}) "
                         "(dimension 2 of the [height, width, in_channels, channel_multiplier] filter)")
    p = attrs["padding"]
    depth = c if c is not None else kc
    out_c = None if depth is None or m is None else depth * m
    return n, out_dim(h, kh, s[0], d[0], p, pads[0]), out_dim(w, kw, s[1], d[1], p, pads[1]), out_c


def _params(x: Any, k_hw: tuple, attrs: dict) -> tuple:
    return _conv_params(x.shape[1:3], k_hw, attrs["strides"], attrs["padding"], attrs["explicit_paddings"],
                        attrs["data_format"], attrs["dilations"])


def _offsets(kh: int, kw: int, s: tuple, d: tuple, oh: int, ow: int):
    """Yields (a, b, row slice, col slice): the input positions that filter offset (a, b) reads."""
    for a in range(kh):
        for b in range(kw):
            yield a, b, (slice(a * d[0], a * d[0] + (oh - 1) * s[0] + 1, s[0]),
                         slice(b * d[1], b * d[1] + (ow - 1) * s[1] + 1, s[1]))


def _padded_input(xp: Any, x: Any, pads: tuple, oh: int, ow: int, kh: int, kw: int, s: tuple, d: tuple) -> Any:
    (pt, _), (pl, _) = pads
    hp = window_extent(x.shape[1], pads[0], oh, kh, s[0], d[0])
    wp = window_extent(x.shape[2], pads[1], ow, kw, s[1], d[1])
    return pad_hw(xp, x, ((pt, hp - x.shape[1] - pt), (pl, wp - x.shape[2] - pl)))


def depthwise_forward(xp: Any, x: Any, w: Any, s: tuple, d: tuple, pads: tuple, oh: int, ow: int) -> Any:
    """[N,OH,OW,C*M] from NHWC x and w [KH,KW,C,M]."""
    dtype = x.dtype
    x, w = upcast(xp, x, w)
    n, _, _, c = x.shape
    kh, kw, _, m = w.shape
    out = xp.zeros((n, oh, ow, c, m), dtype=x.dtype)
    if out.size == 0 or kh * kw == 0:
        return out.reshape(n, oh, ow, c * m).astype(dtype, copy=False)
    xpad = _padded_input(xp, x, pads, oh, ow, kh, kw, s, d)
    tmp = xp.empty_like(out)
    for a, b, (rs, cs) in _offsets(kh, kw, s, d, oh, ow):
        xp.multiply(xpad[:, rs, cs, :, None], w[a, b], out=tmp)
        out += tmp
    return out.reshape(n, oh, ow, c * m).astype(dtype, copy=False)


def depthwise_backprop_input(xp: Any, dy: Any, w: Any, xshape: tuple, s: tuple, d: tuple, pads: tuple) -> Any:
    """d(loss)/d(input) [N,H,W,C] from dy [N,OH,OW,C*M] and w [KH,KW,C,M]."""
    dtype = dy.dtype
    dy, w = upcast(xp, dy, w)
    n, h, wd, c = xshape
    kh, kw, _, m = w.shape
    _, oh, ow, _ = dy.shape
    (pt, _), (pl, _) = pads
    if n * h * wd * c == 0 or oh * ow == 0 or kh * kw == 0 or m == 0:
        return xp.zeros(xshape, dtype=dtype)
    hp = window_extent(h, pads[0], oh, kh, s[0], d[0])
    wp = window_extent(wd, pads[1], ow, kw, s[1], d[1])
    dxp = xp.zeros((n, hp, wp, c), dtype=dy.dtype)
    dy5 = dy.reshape(n, oh, ow, c, m)
    for a, b, (rs, cs) in _offsets(kh, kw, s, d, oh, ow):
        if m == 1:
            dxp[:, rs, cs] += dy5[..., 0] * w[a, b, :, 0]
        else:
            dxp[:, rs, cs] += xp.sum(dy5 * w[a, b], axis=-1)
    return xp.ascontiguousarray(dxp[:, pt:pt + h, pl:pl + wd]).astype(dtype, copy=False)


def depthwise_backprop_filter(xp: Any, x: Any, dy: Any, fshape: tuple, s: tuple, d: tuple, pads: tuple) -> Any:
    """d(loss)/d(filter) [KH,KW,C,M] from NHWC x and dy [N,OH,OW,C*M]."""
    dtype = x.dtype
    x, dy = upcast(xp, x, dy)
    n, _, _, c = x.shape
    kh, kw, _, m = fshape
    _, oh, ow, _ = dy.shape
    dw = xp.zeros(fshape, dtype=x.dtype)
    if n * oh * ow == 0 or dw.size == 0:
        return dw.astype(dtype, copy=False)
    xpad = _padded_input(xp, x, pads, oh, ow, kh, kw, s, d)
    dy5 = dy.reshape(n * oh * ow, c, m)
    for a, b, (rs, cs) in _offsets(kh, kw, s, d, oh, ow):
        v = xp.ascontiguousarray(xpad[:, rs, cs]).reshape(n * oh * ow, c)
        dw[a, b] = xp.sum(v[:, :, None] * dy5, axis=0)
    return dw.astype(dtype, copy=False)


# -- DepthwiseConv2dNative --------------------------------------------------------------------------
def _forward_shape(ins, attrs):
    x, w = ins
    fmt = check_format(attrs["data_format"])
    out = _out_nhwc("DepthwiseConv2dNative", to_nhwc(rank4(x, "input"), fmt), rank4(w, "filter"), attrs)
    return base(x), from_nhwc(out, fmt)


def _check_depth(op_type: str, c: int, w_shape: tuple) -> None:
    if c != w_shape[2]:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: input and filter must have the same depth: {c} "
                                          f"vs {w_shape[2]}")


@op("DepthwiseConv2dNative", inputs=("input", "filter"), attrs=_ATTRS, types=FLOAT_TYPES, shape=_forward_shape)
def depthwise_conv2d_native_kernel(xp, input, filter, *, strides, padding, explicit_paddings, data_format,
                                   dilations):
    x = kernel_in(xp, input, data_format)
    _check_depth("DepthwiseConv2dNative", x.shape[3], filter.shape)
    a = dict(strides=strides, padding=padding, explicit_paddings=explicit_paddings, data_format=data_format,
             dilations=dilations)
    s, d, pads, oh, ow = _params(x, filter.shape[:2], a)
    return kernel_out(xp, depthwise_forward(xp, x, filter, s, d, pads, oh, ow), data_format)


@depthwise_conv2d_native_kernel.grad
def _forward_grad(op, grad):
    x, w = op.inputs
    a = _attrs_of(op)
    return [make_tensor("DepthwiseConv2dNativeBackpropInput", [array_ops.shape(x), w, grad], a),
            make_tensor("DepthwiseConv2dNativeBackpropFilter", [x, array_ops.shape(w), grad], a)]


def _check_out_backprop(op_type: str, xd: tuple, wd: tuple, dyd: tuple, attrs: dict) -> None:
    want = _out_nhwc(op_type, xd, wd, attrs)
    for i, what in ((0, "batch size"), (1, "height"), (2, "width"), (3, "depth")):
        if want[i] is not None and dyd[i] is not None and want[i] != dyd[i]:
            raise ValueError(f"{op_type}: out_backprop's {what} ({dyd[i]}) does not match the computed output "
                             f"{what} ({want[i]}) for input {list(xd)} and filter {list(wd)}")


def _backprop_input_shape(ins, attrs):
    sizes, w, dy = ins
    fmt = check_format(attrs["data_format"])
    xd = to_nhwc(_sizes(sizes, "input_sizes"), fmt)
    _check_out_backprop("DepthwiseConv2dNativeBackpropInput", xd, rank4(w, "filter"),
                        to_nhwc(rank4(dy, "out_backprop"), fmt), attrs)
    return base(w), from_nhwc(xd, fmt)


@op("DepthwiseConv2dNativeBackpropInput", inputs=("input_sizes", "filter", "out_backprop"), attrs=_ATTRS,
    types=FLOAT_TYPES, type_inputs=("filter", "out_backprop"), shape=_backprop_input_shape, host_inputs=(0,))
def depthwise_backprop_input_kernel(xp, input_sizes, filter, out_backprop, *, strides, padding, explicit_paddings,
                                    data_format, dilations):
    xs = to_nhwc(tuple(int(v) for v in input_sizes), data_format)
    _check_depth("DepthwiseConv2dNativeBackpropInput", xs[3], filter.shape)
    s, d, pads, _, _ = _conv_params(xs[1:3], filter.shape[:2], strides, padding, explicit_paddings, data_format,
                                    dilations)
    dy = kernel_in(xp, out_backprop, data_format)
    return kernel_out(xp, depthwise_backprop_input(xp, dy, filter, xs, s, d, pads), data_format)


@depthwise_backprop_input_kernel.grad
def _backprop_input_grad(op, grad):
    _, w, dy = op.inputs
    a = _attrs_of(op)
    return [None, make_tensor("DepthwiseConv2dNativeBackpropFilter", [grad, array_ops.shape(w), dy], a),
            make_tensor("DepthwiseConv2dNative", [grad, w], a)]


def _backprop_filter_shape(ins, attrs):
    x, sizes, dy = ins
    fmt = check_format(attrs["data_format"])
    wd = _sizes(sizes, "filter_sizes")
    _check_out_backprop("DepthwiseConv2dNativeBackpropFilter", to_nhwc(rank4(x, "input"), fmt), wd,
                        to_nhwc(rank4(dy, "out_backprop"), fmt), attrs)
    return base(x), wd


@op("DepthwiseConv2dNativeBackpropFilter", inputs=("input", "filter_sizes", "out_backprop"), attrs=_ATTRS,
    types=FLOAT_TYPES, type_inputs=("input", "out_backprop"), shape=_backprop_filter_shape, host_inputs=(1,))
def depthwise_backprop_filter_kernel(xp, input, filter_sizes, out_backprop, *, strides, padding,
                                     explicit_paddings, data_format, dilations):
    fs = tuple(int(v) for v in filter_sizes)
    x = kernel_in(xp, input, data_format)
    _check_depth("DepthwiseConv2dNativeBackpropFilter", x.shape[3], fs)
    s, d, pads, _, _ = _conv_params(x.shape[1:3], fs[:2], strides, padding, explicit_paddings, data_format,
                                    dilations)
    return depthwise_backprop_filter(xp, x, kernel_in(xp, out_backprop, data_format), fs, s, d, pads)


@depthwise_backprop_filter_kernel.grad
def _backprop_filter_grad(op, grad):
    x, _, dy = op.inputs
    a = _attrs_of(op)
    return [make_tensor("DepthwiseConv2dNativeBackpropInput", [array_ops.shape(x), grad, dy], a), None,
            make_tensor("DepthwiseConv2dNative", [x, grad], a)]


# -- public wrappers --------------------------------------------------------------------------------
def _native_attrs(strides: Any, padding: Any, data_format: str | None, dilations: Any) -> dict:
    fmt = check_format(data_format or "NHWC")
    pad, explicit = convert_padding(padding)
    return {"strides": get_sequence(strides, fmt, "strides"), "padding": pad, "explicit_paddings": explicit,
            "data_format": fmt,
            "dilations": get_sequence([1, 1, 1, 1] if dilations is None else dilations, fmt, "dilations")}


def depthwise_conv2d_native(input: Any, filter: Any, strides: Any, padding: Any, data_format: str = "NHWC",
                            dilations: Any = [1, 1, 1, 1],  # noqa: B006 - TF's signature (never mutated)
                            name: str | None = None) -> Tensor:
    """The raw depthwise convolution op: each input channel convolved with its own `channel_multiplier` filters.

    `output[b, i, j, k * M + q] = sum_{di, dj} input[b, s*i + d*di, s*j + d*dj, k] * filter[di, dj, k, q]`.

    Args:
        input: a 4-D float Tensor, NHWC or NCHW.
        filter: [filter_height, filter_width, in_channels, channel_multiplier], same dtype.
        strides: an int or a list of 1, 2 or 4 ints.
        padding: "SAME", "VALID", or a list of 4 [before, after] pairs.
        data_format: "NHWC" (default) or "NCHW".
        dilations: an int or a list of 1, 2 or 4 ints.
        name: a name for the op (default "DepthwiseConv2dNative").

    Returns:
        A Tensor with in_channels * channel_multiplier channels.
    """
    a = _native_attrs(strides, padding, data_format, dilations)
    x, w = convert_same_dtype([input, filter])
    return make_tensor("DepthwiseConv2dNative", [x, w], a, name or "DepthwiseConv2dNative")


def depthwise_conv2d_native_backprop_input(input_sizes: Any, filter: Any, out_backprop: Any, strides: Any,
                                           padding: Any, data_format: str = "NHWC",
                                           dilations: Any = [1, 1, 1, 1],  # noqa: B006
                                           name: str | None = None) -> Tensor:
    """The gradient of `depthwise_conv2d_native` with respect to its input (a Tensor of shape `input_sizes`)."""
    a = _native_attrs(strides, padding, data_format, dilations)
    w, dy = convert_same_dtype([filter, out_backprop])
    sizes = convert_to_tensor(input_sizes, dtype_hint=_dt.int32)
    return make_tensor("DepthwiseConv2dNativeBackpropInput", [sizes, w, dy], a,
                       name or "DepthwiseConv2dNativeBackpropInput")


def depthwise_conv2d_native_backprop_filter(input: Any, filter_sizes: Any, out_backprop: Any, strides: Any,
                                            padding: Any, data_format: str = "NHWC",
                                            dilations: Any = [1, 1, 1, 1],  # noqa: B006
                                            name: str | None = None) -> Tensor:
    """The gradient of `depthwise_conv2d_native` with respect to its filter (shape `filter_sizes`)."""
    a = _native_attrs(strides, padding, data_format, dilations)
    x, dy = convert_same_dtype([input, out_backprop])
    sizes = convert_to_tensor(filter_sizes, dtype_hint=_dt.int32)
    return make_tensor("DepthwiseConv2dNativeBackpropFilter", [x, sizes, dy], a,
                       name or "DepthwiseConv2dNativeBackpropFilter")


def rate_to_dilations(rate: Any, dilations: Any, strides: Any) -> list[int]:
    """TF's depthwise/separable `rate` (or `dilations`) as two ints, checked against the strides."""
    if rate is not None and dilations is not None:
        raise ValueError("Cannot specify both 'rate' and 'dilations'")
    r = dilations if dilations is not None else rate
    r = [1, 1] if r is None else ([int(r)] * 2 if isinstance(r, int) else [int(v) for v in r])
    if len(r) != 2:
        raise ValueError(f"rate (dilation rate) must be an int or a list of 2 ints, got {r}")
    if any(v < 1 for v in r):
        raise ValueError(f"rate (dilation rate) must be >= 1, got {r}")
    st = [int(v) for v in strides]
    if max(r) > 1 and any(v != 1 for v in st):
        raise ValueError("strides > 1 not supported in conjunction with dilation_rate > 1")
    return r


def _check_4d(t: Tensor, what: str) -> None:
    d = dims(t)
    if d is not None and len(d) != 4:
        raise ValueError(f"Shape must be rank 4 but is rank {len(d)} ({what})")


def depthwise_conv2d(input: Any, filter: Any, strides: Any, padding: str, rate: Any = None,
                     name: str | None = None, data_format: str | None = None, dilations: Any = None) -> Tensor:
    """Depthwise 2-D convolution (the first stage of a separable convolution).

    Args:
        input: a 4-D Tensor, NHWC (default) or NCHW.
        filter: [filter_height, filter_width, in_channels, channel_multiplier].
        strides: a list of 4 ints: the window step per input dimension.
        padding: "SAME" or "VALID".
        rate: a list of 2 ints (or an int): the dilation rate (atrous convolution); rate > 1 needs
            strides of 1 (alias `dilations`).
        name: a name scope (default "depthwise").
        data_format: "NHWC" (default) or "NCHW".
        dilations: TF2 spelling of `rate`.

    Returns:
        A 4-D Tensor with in_channels * channel_multiplier channels.

    Raises:
        ValueError: bad ranks, channel counts, or rate > 1 with strides > 1.
    """
    fmt = check_format(data_format or "NHWC")
    with name_scope(name, "depthwise", [input, filter]) as scope:
        x, w = convert_same_dtype([convert_to_tensor(input, name="tensor_in"),
                                   convert_to_tensor(filter, name="filter_in")])
        _check_4d(x, "input")
        _check_4d(w, "filter")
        st = get_sequence(strides, fmt, "strides")
        r = rate_to_dilations(rate, dilations, st)
        a = _native_attrs(st, padding, fmt, r)
        return make_tensor("DepthwiseConv2dNative", [x, w], a, scope)


def separable_conv2d(input: Any, depthwise_filter: Any, pointwise_filter: Any, strides: Any, padding: str,
                     rate: Any = None, name: str | None = None, data_format: str | None = None,
                     dilations: Any = None) -> Tensor:
    """A depthwise convolution followed by a 1x1 (pointwise) convolution that mixes its channels.

    Args:
        input: a 4-D Tensor, NHWC (default) or NCHW.
        depthwise_filter: [filter_height, filter_width, in_channels, channel_multiplier].
        pointwise_filter: [1, 1, channel_multiplier * in_channels, out_channels].
        strides: a list of 4 ints: the depthwise stage's window step.
        padding: "SAME" or "VALID" (of the depthwise stage).
        rate: the depthwise stage's dilation rate (see `depthwise_conv2d`; alias `dilations`).
        name: a name scope (default "separable_conv2d").
        data_format: "NHWC" (default) or "NCHW".
        dilations: TF2 spelling of `rate`.

    Returns:
        A 4-D Tensor with out_channels channels.

    Raises:
        ValueError: the pointwise filter is not [1, 1, in_channels * channel_multiplier, out_channels].
    """
    fmt = check_format(data_format or "NHWC")
    with name_scope(name, "separable_conv2d", [input, depthwise_filter, pointwise_filter]) as scope:
        x, dw, pw = convert_same_dtype([convert_to_tensor(input, name="tensor_in"),
                                        convert_to_tensor(depthwise_filter, name="depthwise_filter"),
                                        convert_to_tensor(pointwise_filter, name="pointwise_filter")])
        _check_4d(dw, "depthwise_filter")
        _check_4d(pw, "pointwise_filter")
        dwd, pwd = dims(dw), dims(pw)
        if pwd is not None and (pwd[0] not in (None, 1) or pwd[1] not in (None, 1)):
            raise ValueError(f"separable_conv2d: the pointwise filter must be [1, 1, in, out], got {list(pwd)}")
        if dwd is not None and pwd is not None and None not in (dwd[2], dwd[3], pwd[2]) \
                and dwd[2] * dwd[3] != pwd[2]:
            raise ValueError(f"separable_conv2d: the pointwise filter's in_channels ({pwd[2]}) must be "
                             f"in_channels * channel_multiplier of the depthwise filter ({dwd[2] * dwd[3]})")
        depthwise = depthwise_conv2d(x, dw, strides, padding, rate=rate, name="depthwise", data_format=fmt,
                                     dilations=dilations)
        return conv2d(depthwise, pw, [1, 1, 1, 1], padding="VALID", data_format=fmt, name=scope)
