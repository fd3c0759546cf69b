"""3-D convolution: Conv3D, Conv3DBackpropInputV2 and Conv3DBackpropFilterV2, `tf.nn.conv3d(_transpose)`.

A 3-D convolution is a sum over the KD depth offsets of 2-D convolutions: offset `a` reads the depth slices
`a * dilation_d + od * stride_d`, which (folded into the batch) are one NHWC batch for conv_kernels.conv2d and
its backprops. So the im2col + GEMM path (and its GPU im2col/col2im kernels) is reused, not copied.
"""

from __future__ import annotations

from typing import Any

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import name_scope
from labflow.framework.registry import REQUIRED, op
from labflow.framework.tensor import Tensor
from labflow.ops import array_ops
from labflow.ops import conv_kernels as K
from labflow.ops.common import (
    FLOAT_TYPES,
    base,
    constant_shape,
    convert_same_dtype,
    convert_to_tensor,
    dims,
    make_tensor,
)
from labflow.ops.conv_ops import _pick, _sizes, out_dim

__all__ = ["conv3d", "conv3d_transpose", "conv3d_backprop_filter_v2", "conv3d_backprop_filter"]

_ATTRS = {"strides": REQUIRED, "padding": REQUIRED, "data_format": "NDHWC", "dilations": [1, 1, 1, 1, 1]}


# -- attrs and geometry (shared with pool3d.py) -----------------------------------------------------
def check_format_3d(fmt: str) -> str:
    if fmt not in ("NDHWC", "NCDHW"):
        raise ValueError(f"Invalid data format string: {fmt!r} (3-D ops take 'NDHWC' or 'NCDHW')")
    return fmt


def spatial_3d(name: str, vals: Any, fmt: str, op_type: str) -> tuple:
    """The (D, H, W) entries of a 5-long attr, checked like TF's (batch and channel entries must be 1)."""
    vals = [int(v) for v in vals]
    if len(vals) != 5:
        raise ValueError(f"{op_type}: the {name} attribute must contain 5 values, got {len(vals)}")
    nc = (vals[0], vals[1]) if fmt == "NCDHW" else (vals[0], vals[4])
    if nc != (1, 1):
        raise ValueError(f"{op_type}: {name} in the batch and depth dimensions must be 1 (got {vals})")
    sp = tuple(vals[2:]) if fmt == "NCDHW" else tuple(vals[1:4])
    if min(sp) < 1:
        raise ValueError(f"{op_type}: {name} must be >= 1 in every dimension, got {vals}")
    return sp


def check_padding(op_type: str, padding: str) -> None:
    if padding not in ("SAME", "VALID"):
        raise ValueError(f"{op_type}: padding must be 'SAME' or 'VALID', got {padding!r}")


def rank5(t: Any, what: str) -> tuple:
    d = dims(t)
    if d is None:
        return (None,) * 5
    if len(d) != 5:
        raise ValueError(f"Shape must be rank 5 but is rank {len(d)} ({what})")
    return d


def to_ndhwc(d: tuple, fmt: str) -> tuple:
    return (d[0], d[2], d[3], d[4], d[1]) if fmt == "NCDHW" else tuple(d)


def from_ndhwc(d: tuple, fmt: str) -> tuple:
    return (d[0], d[4], d[1], d[2], d[3]) if fmt == "NCDHW" else tuple(d)


def kernel_in_3d(x: Any, fmt: str) -> Any:
    return x.transpose(0, 2, 3, 4, 1) if fmt == "NCDHW" else x


def kernel_out_3d(xp: Any, y: Any, fmt: str) -> Any:
    return xp.ascontiguousarray(y.transpose(0, 4, 1, 2, 3)) if fmt == "NCDHW" else y


def geometry_3d(op_type: str, sizes: tuple, k: tuple, s: tuple, d: tuple, padding: str) -> tuple:
    """Output sizes and (before, after) pads per spatial dim, with TF's runtime error for negative sizes."""
    outs, pads = [], []
    for size, kk, st, dl in zip(sizes, k, s, d):
        o, before, after = K.window_geometry(size, kk, st, dl, padding)
        if o < 0 or (padding == "VALID" and size < (kk - 1) * dl + 1):
            raise errors.InvalidArgumentError(None, None, f"{op_type}: computed output size would be negative: "
                                              f"{o} [input_size: {size}, effective_filter_size: "
                                              f"{(kk - 1) * dl + 1}, stride: {st}]")
        outs.append(o)
        pads.append((before, after))
    return tuple(outs), tuple(pads)


def depth_padded(xp: Any, x: Any, before: int, extent: int, value: float = 0) -> Any:
    """x [N,D,...] padded along D to `extent` slices, `before` of them in front (x itself when none)."""
    after = extent - x.shape[1] - before
    if before == 0 and after <= 0:
        return x
    out = xp.full((x.shape[0], extent) + x.shape[2:], value, dtype=x.dtype)
    out[:, before:before + x.shape[1]] = x
    return out


def depth_slices(k: int, s: int, d: int, o: int):
    """The depth slice that filter (or window) offset `a` reads for all `o` outputs."""
    for a in range(k):
        yield a, slice(a * d, a * d + (o - 1) * s + 1, s)


def _fold(a: Any) -> Any:
    """[N, OD, H, W, C] (a strided view) as a contiguous [N*OD, H, W, C] batch."""
    n, od = a.shape[:2]
    return a.reshape((n * od,) + a.shape[2:]) if a.flags.c_contiguous else \
        a.copy().reshape((n * od,) + a.shape[2:])


# -- kernels ----------------------------------------------------------------------------------------
def _conv_geometry(op_type: str, xs: tuple, ks: tuple, attrs: dict) -> tuple:
    fmt = attrs["data_format"]
    s = spatial_3d("strides", attrs["strides"], fmt, op_type)
    d = spatial_3d("dilations", attrs["dilations"], fmt, op_type)
    outs, pads = geometry_3d(op_type, xs[1:4], ks[:3], s, d, attrs["padding"])
    return s, d, outs, pads


def forward_3d(xp: Any, x: Any, w: Any, s: tuple, d: tuple, outs: tuple, pads: tuple) -> Any:
    dtype = x.dtype
    x, w = K.upcast(xp, x, w)
    n, f = x.shape[0], w.shape[4]
    od, oh, ow = outs
    out = xp.zeros((n, od, oh, ow, f), dtype=x.dtype)
    if out.size == 0:
        return out.astype(dtype, copy=False)
    extent = K.window_extent(x.shape[1], pads[0], od, w.shape[0], s[0], d[0])
    xpad = depth_padded(xp, x, pads[0][0], extent)
    for a, sl in depth_slices(w.shape[0], s[0], d[0], od):
        part = K.conv2d(xp, _fold(xpad[:, sl]), w[a], s[1:], d[1:], pads[1:])
        out += part.reshape(out.shape)
    return out.astype(dtype, copy=False)


def backprop_input_3d(xp: Any, dy: Any, w: Any, xshape: tuple, s: tuple, d: tuple, pads: tuple) -> Any:
    dtype = dy.dtype
    dy, w = K.upcast(xp, dy, w)
    n, dd, h, wd, c = xshape
    od, oh, ow, f = dy.shape[1:]
    extent = K.window_extent(dd, pads[0], od, w.shape[0], s[0], d[0])
    dxp = xp.zeros((n, extent, h, wd, c), dtype=dy.dtype)
    if dy.size == 0 or dxp.size == 0:
        return xp.zeros(xshape, dtype=dtype)
    dy2 = dy.reshape(n * od, oh, ow, f)
    for a, sl in depth_slices(w.shape[0], s[0], d[0], od):
        part = K.conv2d_backprop_input(xp, dy2, w[a], (n * od, h, wd, c), s[1:], d[1:], pads[1:])
        dxp[:, sl] += part.reshape(n, od, h, wd, c)
    before = pads[0][0]
    return xp.ascontiguousarray(dxp[:, before:before + dd]).astype(dtype, copy=False)


def backprop_filter_3d(xp: Any, x: Any, dy: Any, fshape: tuple, s: tuple, d: tuple, pads: tuple) -> Any:
    dtype = x.dtype
    x, dy = K.upcast(xp, x, dy)
    n = x.shape[0]
    od, oh, ow, f = dy.shape[1:]
    dw = xp.zeros(fshape, dtype=x.dtype)
    if dy.size == 0 or dw.size == 0:
        return dw.astype(dtype, copy=False)
    extent = K.window_extent(x.shape[1], pads[0], od, fshape[0], s[0], d[0])
    xpad = depth_padded(xp, x, pads[0][0], extent)
    dy2 = dy.reshape(n * od, oh, ow, f)
    for a, sl in depth_slices(fshape[0], s[0], d[0], od):
        dw[a] = K.conv2d_backprop_filter(xp, _fold(xpad[:, sl]), dy2, fshape[1:], s[1:], d[1:], pads[1:])
    return dw.astype(dtype, copy=False)


# -- shape functions --------------------------------------------------------------------------------
def _out_ndhwc(op_type: str, xd: tuple, wd: tuple, attrs: dict) -> tuple:
    fmt = check_format_3d(attrs["data_format"])
    check_padding(op_type, attrs["padding"])
    s = spatial_3d("strides", attrs["strides"], fmt, op_type)
    d = spatial_3d("dilations", attrs["dilations"], fmt, op_type)
    if xd[4] is not None and wd[3] is not None and xd[4] != wd[3]:
        raise ValueError(f"{op_type}: the input depth ({xd[4]}) must equal the filter's in_channels ({wd[3]})")
    sp = tuple(out_dim(xd[i + 1], wd[i], s[i], d[i], attrs["padding"], (0, 0)) for i in range(3))
    return (xd[0],) + sp + (wd[4],)


def _conv3d_shape(ins, attrs):
    x, w = ins
    fmt = check_format_3d(attrs["data_format"])
    out = _out_ndhwc("Conv3D", to_ndhwc(rank5(x, "input"), fmt), rank5(w, "filter"), attrs)
    return base(x), from_ndhwc(out, fmt)


def _check_dy(op_type: str, xd: tuple, wd: tuple, dyd: tuple, attrs: dict) -> None:
    want = _out_ndhwc(op_type, xd, wd, attrs)
    for i in range(5):
        if want[i] is not None and dyd[i] is not None and want[i] != dyd[i]:
            raise ValueError(f"{op_type}: out_backprop dimension {i} ({dyd[i]}) does not match the computed "
                             f"output ({want[i]}) for input {list(xd)} and filter {list(wd)}")


def _attrs_of(op: Any) -> dict:
    return {k: op.get_attr(k) for k in _ATTRS}


@op("Conv3D", inputs=("input", "filter"), attrs=_ATTRS, types=FLOAT_TYPES, shape=_conv3d_shape, blas=True)
def conv3d_kernel(xp, input, filter, *, strides, padding, data_format, dilations):
    x = kernel_in_3d(input, data_format)
    if x.shape[4] != filter.shape[3]:
        raise errors.InvalidArgumentError(None, None, f"Conv3D: input depth must equal the filter's in_channels: "
                                          f"{x.shape[4]} vs {filter.shape[3]}")
    a = dict(strides=strides, padding=padding, data_format=data_format, dilations=dilations)
    s, d, outs, pads = _conv_geometry("Conv3D", x.shape, filter.shape, a)
    return kernel_out_3d(xp, forward_3d(xp, x, filter, s, d, outs, pads), data_format)


@conv3d_kernel.grad
def _conv3d_grad(op, grad):
    x, w = op.inputs
    a = _attrs_of(op)
    return [make_tensor("Conv3DBackpropInputV2", [array_ops.shape(x), w, grad], a),
            make_tensor("Conv3DBackpropFilterV2", [x, array_ops.shape(w), grad], a)]


def _backprop_input_shape(ins, attrs):
    sizes, w, dy = ins
    fmt = check_format_3d(attrs["data_format"])
    xd = to_ndhwc(_sizes(sizes, "input_sizes", 5), fmt)
    _check_dy("Conv3DBackpropInputV2", xd, rank5(w, "filter"), to_ndhwc(rank5(dy, "out_backprop"), fmt), attrs)
    return base(w), from_ndhwc(xd, fmt)


@op("Conv3DBackpropInputV2", inputs=("input_sizes", "filter", "out_backprop"), attrs=_ATTRS, types=FLOAT_TYPES,
    type_inputs=("filter", "out_backprop"), shape=_backprop_input_shape, host_inputs=(0,), blas=True)
def conv3d_backprop_input_kernel(xp, input_sizes, filter, out_backprop, *, strides, padding, data_format,
                                 dilations):
    xs = to_ndhwc(tuple(int(v) for v in input_sizes), data_format)
    a = dict(strides=strides, padding=padding, data_format=data_format, dilations=dilations)
    s, d, _, pads = _conv_geometry("Conv3DBackpropInputV2", xs, filter.shape, a)
    dy = kernel_in_3d(out_backprop, data_format)
    return kernel_out_3d(xp, backprop_input_3d(xp, dy, filter, xs, s, d, pads), data_format)


@conv3d_backprop_input_kernel.grad
def _backprop_input_grad(op, grad):
    _, w, dy = op.inputs
    a = _attrs_of(op)
    return [None, make_tensor("Conv3DBackpropFilterV2", [grad, array_ops.shape(w), dy], a),
            make_tensor("Conv3D", [grad, w], a)]


def _backprop_filter_shape(ins, attrs):
    x, sizes, dy = ins
    fmt = check_format_3d(attrs["data_format"])
    wd = _sizes(sizes, "filter_sizes", 5)
    _check_dy("Conv3DBackpropFilterV2", to_ndhwc(rank5(x, "input"), fmt), wd, to_ndhwc(rank5(dy, "out_backprop"), fmt),
              attrs)
    return base(x), wd


@op("Conv3DBackpropFilterV2", inputs=("input", "filter_sizes", "out_backprop"), attrs=_ATTRS, types=FLOAT_TYPES,
    type_inputs=("input", "out_backprop"), shape=_backprop_filter_shape, host_inputs=(1,), blas=True)
def conv3d_backprop_filter_kernel(xp, input, filter_sizes, out_backprop, *, strides, padding, data_format,
                                  dilations):
    fs = tuple(int(v) for v in filter_sizes)
    x = kernel_in_3d(input, data_format)
    a = dict(strides=strides, padding=padding, data_format=data_format, dilations=dilations)
    s, d, _, pads = _conv_geometry("Conv3DBackpropFilterV2", x.shape, fs, a)
    return backprop_filter_3d(xp, x, kernel_in_3d(out_backprop, data_format), fs, s, d, pads)


@conv3d_backprop_filter_kernel.grad
def _backprop_filter_grad(op, grad):
    x, _, dy = op.inputs
    a = _attrs_of(op)
    return [make_tensor("Conv3DBackpropInputV2", [array_ops.shape(x), grad, dy], a), None,
            make_tensor("Conv3D", [x, grad], a)]


# -- public wrappers --------------------------------------------------------------------------------
def sequence_3d(value: Any, fmt: str, name: str) -> list[int]:
    """An int or a list of 1, 3 or 5 ints as a 5-list in `fmt` order (TF's _get_sequence for N=3)."""
    vals = [int(value)] if isinstance(value, int) else [int(v) for v in value]
    if len(vals) == 5:
        return vals
    if len(vals) == 1:
        vals = vals * 3
    if len(vals) != 3:
        raise ValueError(f"{name} should be of length 1, 3 or 5 but was {len(vals)}")
    return [1, 1] + vals if fmt == "NCDHW" else [1] + vals + [1]


def _attrs(strides: Any, padding: str, data_format: str, dilations: Any) -> dict:
    fmt = check_format_3d(data_format or "NDHWC")
    if not isinstance(padding, str) or padding.upper() not in ("SAME", "VALID"):
        raise ValueError(f"conv3d: padding must be 'SAME' or 'VALID', got {padding!r}")
    if strides is None:
        raise ValueError("conv3d: strides must be given (a list of 5 ints)")
    return {"strides": sequence_3d(strides, fmt, "strides"), "padding": padding.upper(), "data_format": fmt,
            "dilations": sequence_3d([1] * 5 if dilations is None else dilations, fmt, "dilations")}


def conv3d(input: Any, filter: Any = None, strides: Any = None, padding: str | None = None,
           data_format: str = "NDHWC",
           dilations: Any = [1, 1, 1, 1, 1],  # noqa: B006 - TF's signature (never mutated)
           name: str | None = None, filters: Any = None) -> Tensor:
    """3-D convolution (cross-correlation) of a 5-D `input` with a 5-D `filter`.

    Args:
        input: [batch, depth, height, width, channels] (NDHWC) or NCDHW, float.
        filter: [filter_depth, filter_height, filter_width, in_channels, out_channels] (alias `filters`).
        strides: a list of 5 ints (batch and channel entries 1).
        padding: "SAME" or "VALID".
        data_format: "NDHWC" (default) or "NCDHW".
        dilations: a list of 5 ints.
        name: a name for the op (default "Conv3D").
        filters: TF2 spelling of `filter`.

    Returns:
        A 5-D Tensor of the input's dtype.
    """
    f = _pick(filters, filter, "filters", "filter")
    a = _attrs(strides, padding, data_format, dilations)
    x, w = convert_same_dtype([input, f])
    return make_tensor("Conv3D", [x, w], a, name or "Conv3D")


def conv3d_backprop_filter_v2(input: Any, filter_sizes: Any, out_backprop: Any, strides: Any, padding: str,
                              data_format: str = "NDHWC",
                              dilations: Any = [1, 1, 1, 1, 1],  # noqa: B006
                              name: str | None = None) -> Tensor:
    """The gradient of `conv3d` with respect to its filter (a Tensor of shape `filter_sizes`)."""
    a = _attrs(strides, padding, data_format, dilations)
    x, dy = convert_same_dtype([input, out_backprop])
    sizes = convert_to_tensor(filter_sizes, dtype_hint=_dt.int32)
    return make_tensor("Conv3DBackpropFilterV2", [x, sizes, dy], a, name or "Conv3DBackpropFilterV2")


conv3d_backprop_filter = conv3d_backprop_filter_v2


def conv3d_transpose(value: Any = None, filter: Any = None, output_shape: Any = None, strides: Any = None,
                     padding: str = "SAME", data_format: str = "NDHWC", name: str | None = None, input: Any = None,
                     filters: Any = None, dilations: Any = None) -> Tensor:
    """The transpose of `conv3d`: Conv3DBackpropInputV2 of `value`.

    Args:
        value: a 5-D Tensor [batch, depth, height, width, in_channels] (alias `input`).
        filter: [depth, height, width, output_channels, in_channels] (alias `filters`).
        output_shape: a 1-D Tensor (or list) of 5: the output's shape.
        strides, padding, data_format, dilations: as in `conv3d`.
        name: a name scope (default "conv3d_transpose").

    Returns:
        A Tensor of shape `output_shape`.

    Raises:
        ValueError: the channels of `value`, `filter` and `output_shape` disagree.
    """
    value = _pick(input, value, "input", "value")
    f = _pick(filters, filter, "filters", "filter")
    with name_scope(name, "conv3d_transpose", [value, f]) as scope:
        v, w = convert_same_dtype([value, f])
        fmt = check_format_3d(data_format or "NDHWC")
        c = 4 if fmt == "NDHWC" else 1
        vd, wd = dims(v), dims(w)
        if vd is not None and wd is not None and vd[c] is not None and wd[4] is not None and vd[c] != wd[4]:
            raise ValueError(f"input channels does not match filter's input channels, {vd[c]} != {wd[4]}")
        sizes = convert_to_tensor(output_shape, dtype_hint=_dt.int32)
        osz = constant_shape(sizes)
        if osz is not None and len(osz) == 5 and wd is not None and None not in (osz[c], wd[3]) and osz[c] != wd[3]:
            raise ValueError(f"output_shape does not match filter's output channels, {osz[c]} != {wd[3]}")
        a = _attrs(strides, padding, fmt, dilations)
        return make_tensor("Conv3DBackpropInputV2", [sizes, w, v], a, scope)
