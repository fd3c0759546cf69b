"""Convolution ops (`tf.nn.conv2d` and its two backprop ops), with TF's attrs, shape rules and errors.

The pooling ops live in pool_ops.py and are re-exported here, so `tf.nn` (which star-imports this
module) sees one family. The array work is in conv_kernels.py: im2col by strided views + chunked GEMM.
"""

from __future__ import annotations

import numbers
from typing import Any

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import name_scope
from labflow.framework.registry import REQUIRED, op
from labflow.ops import array_ops
from labflow.ops import conv_kernels as K
from labflow.ops.common import (
    FLOAT_TYPES,
    base,
    bias_activation_kernel,
    bias_epilogue,
    check_fused_ops,
    constant_shape,
    convert_same_dtype,
    convert_to_tensor,
    dims,
    make_tensor,
)

__all__ = ["conv2d", "conv2d_backprop_input", "conv2d_backprop_filter", "conv2d_transpose"]

_CONV_ATTRS = {"strides": [1, 1, 1, 1], "use_cudnn_on_gpu": True, "padding": "SAME", "explicit_paddings": [],
               "data_format": "NHWC", "dilations": [1, 1, 1, 1]}
_OP_ATTRS = dict(_CONV_ATTRS, strides=REQUIRED, padding=REQUIRED)


# -- attrs and geometry shared with pool_ops ---------------------------------------------------------
def hw_index(fmt: str) -> tuple[int, int]:
    """Positions of H and W in a 4-list ordered like `fmt`."""
    return (2, 3) if fmt == "NCHW" else (1, 2)


def check_format(fmt: str) -> str:
    if fmt not in ("NHWC", "NCHW"):
        raise ValueError(f"Invalid data format string: {fmt!r} (labflow supports 'NHWC' and 'NCHW')")
    return fmt


def window_attr(name: str, vals: Any, fmt: str, what: str = "dilations") -> tuple[int, int]:
    """The (H, W) entries of a 4-long strides/dilations/ksize attr, checked like TF's shape functions."""
    vals = [int(v) for v in vals]
    if len(vals) != 4:
        raise ValueError(f"Sliding window {name} field must specify 4 dimensions")
    n, c = (vals[0], vals[1]) if fmt == "NCHW" else (vals[0], vals[3])
    if n != 1 or c != 1:
        raise ValueError(f"Current implementation does not yet support {what} in the batch and depth "
                         "dimensions.")
    h, w = hw_index(fmt)
    if vals[h] < 1 or vals[w] < 1:
        raise ValueError(f"Sliding window {name} must be >= 1 in every dimension, got {vals}")
    return vals[h], vals[w]


def explicit_pads(padding: str, explicit: Any, fmt: str) -> tuple:
    """((top, bottom), (left, right)) of EXPLICIT padding, checked like TF; zeros otherwise."""
    if padding not in ("SAME", "VALID", "EXPLICIT"):
        raise ValueError(f"padding must be 'SAME', 'VALID' or explicit, got {padding!r}")
    explicit = [int(p) for p in explicit or []]
    if padding != "EXPLICIT":
        if explicit:
            raise ValueError("explicit_paddings attribute must be empty if the padding attribute is not "
                             "EXPLICIT")
        return (0, 0), (0, 0)
    if len(explicit) != 8:
        raise ValueError(f"explicit_paddings attribute must contain 8 values, but got: {len(explicit)}")
    if any(p < 0 for p in explicit):
        raise ValueError(f"All elements of explicit_paddings must be nonnegative, got {explicit}")
    h, w = hw_index(fmt)
    other = [i for i in range(4) if i not in (h, w)]
    if any(explicit[2 * i] or explicit[2 * i + 1] for i in other):
        raise ValueError("Nonzero explicit padding in the batch or depth dimensions is not supported")
    return (explicit[2 * h], explicit[2 * h + 1]), (explicit[2 * w], explicit[2 * w + 1])


def out_dim(size: Any, k: Any, stride: int, dilation: int, padding: str, pads: tuple) -> Any:
    """A static output size (None when unknown), with TF1's error for VALID windows that do not fit."""
    if size is None or k is None:
        if padding == "SAME" and size is not None:
            return -(-size // stride)
        return None
    eff = (k - 1) * dilation + 1
    if padding == "VALID" and size < eff:
        raise ValueError(f"Negative dimension size caused by subtracting {eff} from {size}")
    if padding == "EXPLICIT" and size + pads[0] + pads[1] < eff:
        raise ValueError(f"Negative dimension size caused by subtracting {eff} from "
                         f"{size + pads[0] + pads[1]}")
    return K.window_geometry(size, k, stride, dilation, padding, pads)[0]


def rank4(t: Any, what: str, op_type: str | None = None) -> tuple:
    d = dims(t)
    if d is None:
        return (None,) * 4
    if len(d) != 4:
        where = f" for '{op_type}'" if op_type else ""
        raise ValueError(f"Shape must be rank 4 but is rank {len(d)}{where} ({what})")
    return d


def to_nhwc(d: tuple, fmt: str) -> tuple:
    return (d[0], d[2], d[3], d[1]) if fmt == "NCHW" else tuple(d)


def from_nhwc(d: tuple, fmt: str) -> tuple:
    return (d[0], d[3], d[1], d[2]) if fmt == "NCHW" else tuple(d)


def runtime_geometry(in_hw: tuple, k_hw: tuple, s: tuple, d: tuple, padding: str, pads: tuple) -> tuple:
    """Output (OH, OW) and the ((top, bottom), (left, right)) padding, for the actual input sizes."""
    outs, res = [], []
    for size, k, st, dl, p in zip(in_hw, k_hw, s, d, pads):
        o, before, after = K.window_geometry(size, k, st, dl, padding, p)
        if o < 0 or (padding == "VALID" and size < (k - 1) * dl + 1):
            raise errors.InvalidArgumentError(
                None, None, f"Computed output size would be negative: {o} [input_size: {size}, "
                f"effective_filter_size: {(k - 1) * dl + 1}, stride: {st}]")
        outs.append(o)
        res.append((before, after))
    return tuple(outs), tuple(res)


def kernel_in(xp: Any, x: Any, fmt: str) -> Any:
    """An NCHW array as an NHWC view (the kernels read it through strides: no copy here)."""
    return x.transpose(0, 2, 3, 1) if fmt == "NCHW" else x


def kernel_out(xp: Any, y: Any, fmt: str) -> Any:
    return xp.ascontiguousarray(y.transpose(0, 3, 1, 2)) if fmt == "NCHW" else y


_geometry_memo: dict[tuple, tuple] = {}


def memo_geometry(key: tuple, compute: Any) -> Any:
    """`compute()` once per key (attrs and input sizes): a conv or pool kernel's geometry is pure Python
    worth ~20 us a call, paid every step on a GPU, where the step waits on host time. Errors are not
    kept (they raise again next time)."""
    got = _geometry_memo.get(key)
    if got is None:
        if len(_geometry_memo) > 4096:  # input sizes that change every step must not grow it for good
            _geometry_memo.clear()
        got = _geometry_memo[key] = compute()
    return got


def _conv_params(x_hw: tuple, k_hw: tuple, strides: Any, padding: str, explicit_paddings: Any,
                 data_format: str, dilations: Any) -> tuple:
    key = ("conv", tuple(x_hw), tuple(k_hw), tuple(strides), padding, tuple(explicit_paddings or ()), data_format,
           tuple(dilations))
    return memo_geometry(key, lambda: _conv_params_of(x_hw, k_hw, strides, padding, explicit_paddings,
                                                      data_format, dilations))


def _conv_params_of(x_hw: tuple, k_hw: tuple, strides: Any, padding: str, explicit_paddings: Any,
                    data_format: str, dilations: Any) -> tuple:
    hi, wi = hw_index(data_format)
    s = (int(strides[hi]), int(strides[wi]))
    d = (int(dilations[hi]), int(dilations[wi]))
    pads = explicit_pads(padding, explicit_paddings, data_format)
    (oh, ow), pads = runtime_geometry(x_hw, k_hw, s, d, padding, pads)
    return s, d, pads, oh, ow


# -- Conv2D -----------------------------------------------------------------------------------------
def _conv_common(attrs: dict) -> tuple:
    fmt = check_format(attrs["data_format"])
    s = window_attr("strides", attrs["strides"], fmt, "strides")
    d = window_attr("dilations", attrs["dilations"], fmt)
    return fmt, s, d, explicit_pads(attrs["padding"], attrs["explicit_paddings"], fmt)


def _check_depth(c: Any, kc: Any) -> None:
    if c is None or kc is None or c == kc:
        return
    if kc == 0 or c % kc:
        raise ValueError(f"Depth of input ({c}) is not a multiple of input depth of filter ({kc})")
    raise ValueError(f"Depth of input ({c}) is not equal to the input depth of filter ({kc}): grouped "
                     "convolutions are not supported")


def _conv_out(xd: tuple, wd: tuple, attrs: dict) -> tuple:
    """NHWC output dims of a Conv2D with NHWC input dims `xd` and HWIO filter dims `wd`."""
    fmt, s, d, pads = _conv_common(attrs)
    n, h, w, c = xd
    kh, kw, kc, f = wd
    _check_depth(c, kc)
    p = attrs["padding"]
    return n, out_dim(h, kh, s[0], d[0], p, pads[0]), out_dim(w, kw, s[1], d[1], p, pads[1]), f


def _conv2d_shape(ins, attrs):
    x, w = ins
    fmt = check_format(attrs["data_format"])
    out = _conv_out(to_nhwc(rank4(x, "input"), fmt), rank4(w, "filter"), attrs)
    return base(x), from_nhwc(out, fmt)


@op("Conv2D", inputs=("input", "filter"), attrs=_OP_ATTRS, types=FLOAT_TYPES,
    shape=_conv2d_shape, blas=True)
def conv2d_kernel(xp, input, filter, *, strides, padding, explicit_paddings, data_format, dilations):
    x = kernel_in(xp, input, data_format)
    if x.shape[3] != filter.shape[2]:
        raise errors.InvalidArgumentError(None, None, f"input and filter must have the same depth: "
                                          f"{x.shape[3]} vs {filter.shape[2]}")
    s, d, pads, _, _ = _conv_params(x.shape[1:3], filter.shape[:2], strides, padding, explicit_paddings,
                                    data_format, dilations)
    return kernel_out(xp, K.conv2d(xp, x, filter, s, d, pads), data_format)


# -- _FusedConv2D: Conv2D + bias add (+ Relu) in one pass, made only by the runtime's fusion rewrite ------
def _fused_conv2d_shape(ins, attrs):
    check_fused_ops("_FusedConv2D", attrs["fused_ops"])
    return _conv2d_shape(ins[:2], attrs)


@op("_FusedConv2D", inputs=("input", "filter", "bias"), attrs=dict(_OP_ATTRS, fused_ops=REQUIRED),
    types=FLOAT_TYPES, shape=_fused_conv2d_shape, not_differentiable=True, blas=True)
def fused_conv2d_kernel(xp, input, filter, bias, *, strides, padding, explicit_paddings, data_format, dilations,
                        fused_ops):
    # TF's grappler remapper makes the same node; labflow's runtime/fusion.py does (after gradients exist,
    # so it never needs one). The bias add and activation run on each output block while it is in cache.
    x = kernel_in(xp, input, data_format)
    s, d, pads, _, _ = _conv_params(x.shape[1:3], filter.shape[:2], strides, padding, explicit_paddings,
                                    data_format, dilations)
    fused = bias_activation_kernel(xp, fused_ops)
    if fused is not None:
        return kernel_out(xp, fused(K.conv2d(xp, x, filter, s, d, pads), bias), data_format)
    return kernel_out(xp, K.conv2d(xp, x, filter, s, d, pads, bias_epilogue(xp, bias, fused_ops)), data_format)


def _attrs_of(op: Any) -> dict:
    return {k: op.get_attr(k) for k in _CONV_ATTRS}


@conv2d_kernel.grad
def _conv2d_grad(op, grad):
    x, w = op.inputs
    a = _attrs_of(op)
    return [make_tensor("Conv2DBackpropInput", [array_ops.shape(x), w, grad], a),
            make_tensor("Conv2DBackpropFilter", [x, array_ops.shape(w), grad], a)]


# -- Conv2DBackpropInput / Conv2DBackpropFilter -----------------------------------------------------
def _sizes(t: Any, what: str, rank: int = 4) -> tuple:
    """The static value of a 1-D shape input (input_sizes, filter_sizes, orig_input_shape) of `rank` entries."""
    d = dims(t)
    if d is not None and len(d) != 1:
        raise ValueError(f"Shape must be rank 1 but is rank {len(d)} ({what})")
    s = constant_shape(t)
    if s is None:
        return (None,) * rank
    if len(s) != rank:
        raise ValueError(f"{what} must be {rank}-dimensional, got: {len(s)}")
    return s


def _check_backprop(opname: str, xd: tuple, wd: tuple, dyd: tuple, attrs: dict) -> None:
    """TF's consistency checks between the input, filter and out_backprop shapes (NHWC / HWIO dims)."""
    if xd[3] is not None and wd[2] is not None and xd[3] != wd[2]:
        raise ValueError(f"{opname}: input and filter must have the same depth: {xd[3]} vs {wd[2]}")
    if wd[3] is not None and dyd[3] is not None and wd[3] != dyd[3]:
        raise ValueError(f"{opname}: filter and out_backprop must have the same out_depth: {wd[3]} vs "
                         f"{dyd[3]}")
    if xd[0] is not None and dyd[0] is not None and xd[0] != dyd[0]:
        raise ValueError(f"{opname}: input and out_backprop must have the same batch size: {xd[0]} vs "
                         f"{dyd[0]}")
    fmt, s, d, _ = _conv_common(attrs)
    want = _conv_out(xd, wd, attrs)
    for i in (1, 2):
        if want[i] is not None and dyd[i] is not None and want[i] != dyd[i]:
            raise ValueError(f"{opname}: Size of out_backprop doesn't match computed: actual = {dyd[i]}, "
                             f"computed = {want[i]} spatial_dim: {i} input: {xd[i]} filter: {wd[i - 1]} "
                             f"output: {dyd[i]} stride: {s[i - 1]} dilation: {d[i - 1]}")


def _backprop_input_shape(ins, attrs):
    sizes, w, dy = ins
    fmt = check_format(attrs["data_format"])
    xd = to_nhwc(_sizes(sizes, "input_sizes"), fmt)
    _check_backprop("Conv2DBackpropInput", xd, rank4(w, "filter"), to_nhwc(rank4(dy, "out_backprop"), fmt),
                    attrs)
    return base(w), from_nhwc(xd, fmt)


@op("Conv2DBackpropInput", inputs=("input_sizes", "filter", "out_backprop"), attrs=_OP_ATTRS,
    types=FLOAT_TYPES, type_inputs=("filter", "out_backprop"), shape=_backprop_input_shape, host_inputs=(0,), blas=True)
def conv2d_backprop_input_kernel(xp, input_sizes, filter, out_backprop, *, strides, padding,
                                 explicit_paddings, data_format, dilations):
    xs = to_nhwc(tuple(int(v) for v in input_sizes), data_format)
    s, d, pads, _, _ = _conv_params(xs[1:3], filter.shape[:2], strides, padding, explicit_paddings,
                                    data_format, dilations)
    dy = kernel_in(xp, out_backprop, data_format)
    return kernel_out(xp, K.conv2d_backprop_input(xp, dy, filter, xs, s, d, pads), data_format)


@conv2d_backprop_input_kernel.grad
def _backprop_input_grad(op, grad):
    _, w, dy = op.inputs
    a = _attrs_of(op)
    return [None, make_tensor("Conv2DBackpropFilter", [grad, array_ops.shape(w), dy], a),
            make_tensor("Conv2D", [grad, w], a)]


def _backprop_filter_shape(ins, attrs):
    x, sizes, dy = ins
    fmt = check_format(attrs["data_format"])
    wd = _sizes(sizes, "filter_sizes")
    _check_backprop("Conv2DBackpropFilter", to_nhwc(rank4(x, "input"), fmt), wd,
                    to_nhwc(rank4(dy, "out_backprop"), fmt), attrs)
    return base(x), wd


@op("Conv2DBackpropFilter", inputs=("input", "filter_sizes", "out_backprop"), attrs=_OP_ATTRS,
    types=FLOAT_TYPES, type_inputs=("input", "out_backprop"), shape=_backprop_filter_shape, host_inputs=(1,), blas=True)
def conv2d_backprop_filter_kernel(xp, input, filter_sizes, out_backprop, *, strides, padding,
                                  explicit_paddings, data_format, dilations):
    fs = tuple(int(v) for v in filter_sizes)
    x = kernel_in(xp, input, data_format)
    s, d, pads, _, _ = _conv_params(x.shape[1:3], fs[:2], strides, padding, explicit_paddings,
                                    data_format, dilations)
    return K.conv2d_backprop_filter(xp, x, kernel_in(xp, out_backprop, data_format), fs, s, d, pads)


@conv2d_backprop_filter_kernel.grad
def _backprop_filter_grad(op, grad):
    x, _, dy = op.inputs
    a = _attrs_of(op)
    return [make_tensor("Conv2DBackpropInput", [array_ops.shape(x), grad, dy], a), None,
            make_tensor("Conv2D", [x, grad], a)]


# -- public wrappers --------------------------------------------------------------------------------
def get_sequence(value: Any, fmt: str, name: str) -> list[int]:
    """TF's `_get_sequence`: an int or a list of 1, 2 or 4 ints as a 4-list in `fmt` order."""
    if value is None:
        raise ValueError(f"{name} must be given (an int or a list of 1, 2 or 4 ints)")
    if isinstance(value, numbers.Integral):
        vals = [int(value)]
    else:
        vals = [int(v) for v in value]
    if len(vals) == 4:
        return vals
    if len(vals) == 1:
        vals = vals * 2
    if len(vals) != 2:
        raise ValueError(f"{name} should be of length 1, 2 or 4 but was {len(vals)}")
    return [1, 1] + vals if fmt == "NCHW" else [1] + vals + [1]


def convert_padding(padding: Any) -> tuple[str, list[int]]:
    """TF's `_convert_padding`: "SAME"/"VALID", or a list of 4 [before, after] pairs (EXPLICIT)."""
    if isinstance(padding, str):
        if padding == "EXPLICIT":
            raise ValueError('"EXPLICIT" is not a valid value for `padding`. To use explicit padding, '
                             "`padding` must be a list.")
        if padding.upper() not in ("SAME", "VALID"):
            raise ValueError(f"`padding` must be 'SAME', 'VALID' or a list of pairs, got {padding!r}")
        return padding.upper(), []
    if not isinstance(padding, (list, tuple)):
        raise ValueError(f"`padding` must be 'SAME', 'VALID' or a list of pairs, got {padding!r}")
    flat = []
    for p in padding:
        if not isinstance(p, (list, tuple)) or len(p) != 2:
            raise ValueError("When `padding` is a list, each element of `padding` must be a list/tuple of "
                             f"size 2. Received: padding={padding}")
        flat.extend(int(v) for v in p)
    if len(padding) != 4:
        raise ValueError(f"When `padding` is a list, it must be of size 4. Received: padding={padding}")
    return "EXPLICIT", flat


def _pick(new: Any, old: Any, new_name: str, old_name: str) -> Any:
    if new is not None and old is not None:
        raise ValueError(f"Cannot specify both '{new_name}' and '{old_name}'")
    return new if new is not None else old


def _attrs(strides: Any, padding: Any, use_cudnn_on_gpu: bool, data_format: str, dilations: Any) -> dict:
    fmt = check_format(data_format or "NHWC")
    pad, explicit = convert_padding(padding)
    return {"strides": get_sequence(strides, fmt, "strides"), "use_cudnn_on_gpu": bool(use_cudnn_on_gpu),
            "padding": pad, "explicit_paddings": explicit, "data_format": fmt,
            "dilations": get_sequence([1, 1, 1, 1] if dilations is None else dilations, fmt, "dilations")}


def conv2d(input: Any, filter: Any = None, strides: Any = None, padding: Any = None,
           use_cudnn_on_gpu: bool = True, data_format: str = "NHWC",
           dilations: Any = [1, 1, 1, 1],  # noqa: B006 - TF's signature (never mutated)
           name: str | None = None, filters: Any = None) -> Any:
    """2-D convolution (cross-correlation, as in TF) of a 4-D `input` with a 4-D `filter`.

    Args:
        input: [batch, height, width, channels] (NHWC) or [batch, channels, height, width] (NCHW), float.
        filter: [filter_height, filter_width, in_channels, out_channels], same dtype (alias `filters`).
        strides: an int or a list of 1, 2 or 4 ints: the window step per dimension.
        padding: "SAME", "VALID", or a list of 4 [before, after] pairs (explicit padding).
        use_cudnn_on_gpu: recorded as an attr (labflow picks its GPU kernel itself).
        data_format: "NHWC" (default) or "NCHW".
        dilations: an int or a list of 1, 2 or 4 ints: the filter's dilation rate per dimension.
        name: a name for the op (default "Conv2D").
        filters: TF2 spelling of `filter`.

    Returns:
        A Tensor of the input's dtype; SAME gives ceil(in / stride) per spatial dimension, with the
        odd padding element at the bottom/right; VALID gives ceil((in - (k - 1) * dilation) / stride).

    Raises:
        ValueError: bad strides/dilations/padding, or input and filter shapes that do not fit.
    """
    f = _pick(filters, filter, "filters", "filter")
    a = _attrs(strides, padding, use_cudnn_on_gpu, data_format, dilations)
    x, w = convert_same_dtype([input, f])
    return make_tensor("Conv2D", [x, w], a, name or "Conv2D")


def _sizes_tensor(sizes: Any) -> Any:
    return convert_to_tensor(sizes, dtype_hint=_dt.int32)


def conv2d_backprop_input(input_sizes: Any, filter: Any = None, out_backprop: Any = None, strides: Any = None,
                          padding: Any = None, use_cudnn_on_gpu: bool = True, data_format: str = "NHWC",
                          dilations: Any = [1, 1, 1, 1], name: str | None = None,  # noqa: B006
                          filters: Any = None) -> Any:
    """The gradient of `conv2d` with respect to its input.

    Args:
        input_sizes: a 1-D int32 Tensor (or list) of 4: the shape of the convolution's input.
        filter: the convolution's filter [KH, KW, in_channels, out_channels] (alias `filters`).
        out_backprop: the gradient of the convolution's output.
        strides, padding, use_cudnn_on_gpu, data_format, dilations: as in `conv2d`.
        name: a name for the op (default "Conv2DBackpropInput").
        filters: TF2 spelling of `filter`.

    Returns:
        A Tensor of shape `input_sizes`.
    """
    f = _pick(filters, filter, "filters", "filter")
    a = _attrs(strides, padding, use_cudnn_on_gpu, data_format, dilations)
    w, dy = convert_same_dtype([f, out_backprop])
    return make_tensor("Conv2DBackpropInput", [_sizes_tensor(input_sizes), w, dy], a,
                       name or "Conv2DBackpropInput")


def conv2d_backprop_filter(input: Any, filter_sizes: Any, out_backprop: Any, strides: Any, padding: Any,
                           use_cudnn_on_gpu: bool = True, data_format: str = "NHWC",
                           dilations: Any = [1, 1, 1, 1], name: str | None = None) -> Any:  # noqa: B006
    """The gradient of `conv2d` with respect to its filter.

    Args:
        input: the convolution's input.
        filter_sizes: a 1-D int32 Tensor (or list) of 4: the filter's shape.
        out_backprop: the gradient of the convolution's output.
        strides, padding, use_cudnn_on_gpu, data_format, dilations: as in `conv2d`.
        name: a name for the op (default "Conv2DBackpropFilter").

    Returns:
        A Tensor of shape `filter_sizes`.
    """
    a = _attrs(strides, padding, use_cudnn_on_gpu, data_format, dilations)
    x, dy = convert_same_dtype([input, out_backprop])
    return make_tensor("Conv2DBackpropFilter", [x, _sizes_tensor(filter_sizes), dy], a,
                       name or "Conv2DBackpropFilter")


def conv2d_transpose(value: Any = None, filter: Any = None, output_shape: Any = None, strides: Any = None,
                     padding: str = "SAME", data_format: str = "NHWC", name: str | None = None,
                     input: Any = None, filters: Any = None, dilations: Any = None) -> Any:
    """The transpose of `conv2d` ("deconvolution"): Conv2DBackpropInput of `value`.

    Args:
        value: a 4-D Tensor [batch, height, width, in_channels] (alias `input`).
        filter: [height, width, output_channels, in_channels] (alias `filters`); note the channel order.
        output_shape: a 1-D Tensor (or list) of 4: the output's shape.
        strides, padding, data_format, dilations: as in `conv2d`.
        name: a name scope for the op (default "conv2d_transpose").

    Returns:
        A Tensor of shape `output_shape`.

    Raises:
        ValueError: when the channels of `value`, `filter` and `output_shape` do not agree.
    """
    value = _pick(input, value, "input", "value")
    f = _pick(filters, filter, "filters", "filter")
    with name_scope(name, "conv2d_transpose") as scope:
        v, w = convert_same_dtype([value, f])
        fmt = check_format(data_format or "NHWC")
        c = 3 if fmt == "NHWC" else 1
        vd, wd = dims(v), dims(w)
        if vd is not None and wd is not None and vd[c] is not None and wd[3] is not None and vd[c] != wd[3]:
            raise ValueError(f"input channels does not match filter's input channels, {vd[c]} != {wd[3]}")
        sizes = _sizes_tensor(output_shape)
        osz = constant_shape(sizes)
        if osz is not None and len(osz) == 4 and wd is not None and osz[c] is not None and wd[2] is not None \
                and osz[c] != wd[2]:
            raise ValueError(f"output_shape does not match filter's output channels, {osz[c]} != {wd[2]}")
        a = _attrs(strides, padding, True, fmt, dilations)
        return make_tensor("Conv2DBackpropInput", [sizes, w, v], a, scope)


from labflow.ops import pool_ops  # noqa: E402 - registers the pooling ops with this family
from labflow.ops.pool_ops import *  # noqa: E402,F401,F403

__all__ += pool_ops.__all__
