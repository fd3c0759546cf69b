"""3-D pooling: MaxPool3D, AvgPool3D and their gradient ops; `tf.nn.max_pool3d` / `tf.nn.avg_pool3d`.

Windows are reduced separably: over the KD depth slices first, then the folded [N*OD, H, W, C] result goes
through pool_kernels' 2-D max/avg pooling (and its GPU kernels). MaxPool3DGrad follows TF's CPU kernel: the
gradient of a window goes to EVERY element equal to its max (the 2-D MaxPoolGrad takes only the first).
"""

from __future__ import annotations

from typing import Any

from labflow import dtypes as _dt
from labflow.framework.registry import REQUIRED, op
from labflow.framework.tensor import Tensor
from labflow.ops import array_ops
from labflow.ops import pool_kernels as PK
from labflow.ops.common import (
    FLOAT_TYPES,
    base,
    convert_same_dtype,
    convert_to_tensor,
    dims,
    make_tensor,
)
from labflow.ops.conv3d_conv import (
    check_format_3d,
    check_padding,
    depth_padded,
    depth_slices,
    from_ndhwc,
    geometry_3d,
    kernel_in_3d,
    kernel_out_3d,
    rank5,
    sequence_3d,
    spatial_3d,
    to_ndhwc,
)
from labflow.ops.conv_kernels import upcast, window_extent
from labflow.ops.conv_ops import _sizes, out_dim
from labflow.ops.pool_ops import _merge, _pool_attrs_of

__all__ = ["max_pool3d", "avg_pool3d"]

_ATTRS = {"ksize": REQUIRED, "strides": REQUIRED, "padding": REQUIRED, "data_format": "NDHWC"}


def _window(op_type: str, attrs: dict) -> tuple:
    fmt = check_format_3d(attrs["data_format"])
    check_padding(op_type, attrs["padding"])
    return spatial_3d("ksize", attrs["ksize"], fmt, op_type), spatial_3d("strides", attrs["strides"], fmt, op_type)


def _pooled(op_type: str, xd: tuple, attrs: dict) -> tuple:
    k, s = _window(op_type, attrs)
    return (xd[0],) + tuple(out_dim(xd[i + 1], k[i], s[i], 1, attrs["padding"], (0, 0)) for i in range(3)) + (xd[4],)


def _pool_shape(op_type: str):
    def fn(ins, attrs):
        fmt = check_format_3d(attrs["data_format"])
        return base(ins[0]), from_ndhwc(_pooled(op_type, to_ndhwc(rank5(ins[0], "input"), fmt), attrs), fmt)
    return fn


def _geometry(op_type: str, xs: tuple, attrs: dict) -> tuple:
    k, s = _window(op_type, attrs)
    outs, pads = geometry_3d(op_type, xs[1:4], k, s, (1, 1, 1), attrs["padding"])
    return k, s, outs, pads


# -- MaxPool3D --------------------------------------------------------------------------------------
def _max_pool3d(xp: Any, x: Any, k: tuple, s: tuple, outs: tuple, pads: tuple) -> Any:
    n, c = x.shape[0], x.shape[4]
    od, oh, ow = outs
    if n * od * oh * ow * c == 0:
        return xp.zeros((n, od, oh, ow, c), dtype=x.dtype)
    extent = window_extent(x.shape[1], pads[0], od, k[0], s[0])
    xpad = depth_padded(xp, x, pads[0][0], extent, PK._lowest(xp, x.dtype))
    t = None
    for _, sl in depth_slices(k[0], s[0], 1, od):
        t = xpad[:, sl].copy() if t is None else xp.maximum(t, xpad[:, sl], out=t)
    t2 = t.reshape((n * od,) + t.shape[2:])
    return PK.max_pool(xp, t2, k[1:], s[1:], pads[1:], oh, ow).reshape(n, od, oh, ow, c)


def _padded_3d(xp: Any, a: Any, pads: tuple, extents: tuple, value: Any) -> Any:
    n, c = a.shape[0], a.shape[4]
    out = xp.full((n,) + tuple(extents) + (c,), value, dtype=a.dtype)
    (d0, _), (h0, _), (w0, _) = pads
    out[:, d0:d0 + a.shape[1], h0:h0 + a.shape[2], w0:w0 + a.shape[3]] = a
    return out


def _window_offsets(k: tuple, s: tuple, outs: tuple):
    for _, ds in depth_slices(k[0], s[0], 1, outs[0]):
        for _, hs in depth_slices(k[1], s[1], 1, outs[1]):
            for _, ws in depth_slices(k[2], s[2], 1, outs[2]):
                yield ds, hs, ws


def _mask_value(xp: Any, dtype: Any) -> Any:
    # Padding must never equal a window's max: NaN equals nothing (the integer minimum for integers).
    return PK._lowest(xp, dtype) if xp.issubdtype(dtype, xp.integer) else xp.nan


def _max_pool3d_grad(xp: Any, x: Any, y: Any, g: Any, k: tuple, s: tuple, pads: tuple) -> Any:
    outs = y.shape[1:4]
    ext = tuple(window_extent(x.shape[i + 1], pads[i], outs[i], k[i], s[i]) for i in range(3))
    xpad = _padded_3d(xp, x, pads, ext, _mask_value(xp, x.dtype))
    dxp = xp.zeros((x.shape[0],) + ext + (x.shape[4],), dtype=g.dtype)
    zero = xp.zeros((), dtype=g.dtype)
    for ds, hs, ws in _window_offsets(k, s, outs):
        dxp[:, ds, hs, ws] += xp.where(xpad[:, ds, hs, ws] == y, g, zero)
    (d0, _), (h0, _), (w0, _) = pads
    return xp.ascontiguousarray(dxp[:, d0:d0 + x.shape[1], h0:h0 + x.shape[2], w0:w0 + x.shape[3]])


def _max_pool3d_grad_grad(xp: Any, x: Any, y: Any, gg: Any, k: tuple, s: tuple, pads: tuple) -> Any:
    outs = y.shape[1:4]
    ext = tuple(window_extent(x.shape[i + 1], pads[i], outs[i], k[i], s[i]) for i in range(3))
    xpad = _padded_3d(xp, x, pads, ext, _mask_value(xp, x.dtype))
    ggpad = _padded_3d(xp, gg, pads, ext, 0)
    out = xp.zeros(y.shape, dtype=gg.dtype)
    zero = xp.zeros((), dtype=gg.dtype)
    for ds, hs, ws in _window_offsets(k, s, outs):
        out += xp.where(xpad[:, ds, hs, ws] == y, ggpad[:, ds, hs, ws], zero)
    return out


@op("MaxPool3D", inputs=("input",), attrs=_ATTRS, types=FLOAT_TYPES, shape=_pool_shape("MaxPool3D"))
def max_pool3d_kernel(xp, input, *, ksize, strides, padding, data_format):
    x = kernel_in_3d(input, data_format)
    k, s, outs, pads = _geometry("MaxPool3D", x.shape, dict(ksize=ksize, strides=strides, padding=padding,
                                                             data_format=data_format))
    return kernel_out_3d(xp, _max_pool3d(xp, x, k, s, outs, pads), data_format)


@max_pool3d_kernel.grad
def _max_pool3d_grad_fn(op, grad):
    return [make_tensor("MaxPool3DGrad", [op.inputs[0], op.outputs[0], grad], _pool_attrs_of(op))]


def _grad_shape(op_type: str, grad_like_output: bool):
    def fn(ins, attrs):
        x, y, g = ins
        fmt = check_format_3d(attrs["data_format"])
        xd = to_ndhwc(rank5(x, "orig_input"), fmt)
        yd = _pooled(op_type, xd, attrs)
        _merge(op_type, "orig_output", yd, to_ndhwc(rank5(y, "orig_output"), fmt))
        _merge(op_type, "grad", yd if grad_like_output else xd, to_ndhwc(rank5(g, "grad"), fmt))
        return base(g), dims(x) if grad_like_output else from_ndhwc(yd, fmt)
    return fn


def _grad_kernel(fn: Any, op_type: str):
    def kernel(xp, orig_input, orig_output, grad, *, ksize, strides, padding, data_format):
        x = kernel_in_3d(orig_input, data_format)
        k, s, _, pads = _geometry(op_type, x.shape, dict(ksize=ksize, strides=strides, padding=padding,
                                                          data_format=data_format))
        out = fn(xp, x, kernel_in_3d(orig_output, data_format), kernel_in_3d(grad, data_format), k, s, pads)
        return kernel_out_3d(xp, out, data_format)
    return kernel


max_pool3d_grad_kernel = op("MaxPool3DGrad", inputs=("orig_input", "orig_output", "grad"), attrs=_ATTRS,
                            types=FLOAT_TYPES, shape=_grad_shape("MaxPool3DGrad", True))(
    _grad_kernel(_max_pool3d_grad, "MaxPool3DGrad"))
max_pool3d_grad_grad_kernel = op("MaxPool3DGradGrad", inputs=("orig_input", "orig_output", "grad"), attrs=_ATTRS,
                                 types=FLOAT_TYPES, shape=_grad_shape("MaxPool3DGradGrad", False))(
    _grad_kernel(_max_pool3d_grad_grad, "MaxPool3DGradGrad"))


@max_pool3d_grad_kernel.grad
def _max_pool3d_grad_grad_fn(op, grad):
    x, y, _ = op.inputs
    return [array_ops.zeros_like(x), array_ops.zeros_like(y),
            make_tensor("MaxPool3DGradGrad", [x, y, grad], _pool_attrs_of(op))]


@max_pool3d_grad_grad_kernel.grad
def _max_pool3d_grad_grad_grad_fn(op, grad):
    x, y, _ = op.inputs
    return [array_ops.zeros_like(x), array_ops.zeros_like(y),
            make_tensor("MaxPool3DGrad", [x, y, grad], _pool_attrs_of(op))]


# -- AvgPool3D --------------------------------------------------------------------------------------
def _depth_counts(xp: Any, size: int, k: int, s: int, before: int, o: int, dtype: Any) -> Any:
    start = xp.arange(o) * s - before
    return (xp.minimum(start + k, size) - xp.maximum(start, 0)).astype(dtype).reshape(1, o, 1, 1, 1)


@op("AvgPool3D", inputs=("input",), attrs=_ATTRS, types=FLOAT_TYPES, shape=_pool_shape("AvgPool3D"))
def avg_pool3d_kernel(xp, input, *, ksize, strides, padding, data_format):
    x = kernel_in_3d(input, data_format)
    k, s, outs, pads = _geometry("AvgPool3D", x.shape, dict(ksize=ksize, strides=strides, padding=padding,
                                                             data_format=data_format))
    dtype = input.dtype
    (x,) = upcast(xp, x)
    n, c = x.shape[0], x.shape[4]
    od, oh, ow = outs
    if n * od * oh * ow * c == 0:
        return kernel_out_3d(xp, xp.zeros((n, od, oh, ow, c), dtype=dtype), data_format)
    xpad = depth_padded(xp, x, pads[0][0], window_extent(x.shape[1], pads[0], od, k[0], s[0]))
    t = None
    for _, sl in depth_slices(k[0], s[0], 1, od):
        t = xpad[:, sl].copy() if t is None else xp.add(t, xpad[:, sl], out=t)
    t /= _depth_counts(xp, x.shape[1], k[0], s[0], pads[0][0], od, x.dtype)
    y = PK.avg_pool(xp, t.reshape((n * od,) + t.shape[2:]), k[1:], s[1:], pads[1:], oh, ow)
    return kernel_out_3d(xp, y.reshape(n, od, oh, ow, c).astype(dtype, copy=False), data_format)


@avg_pool3d_kernel.grad
def _avg_pool3d_grad_fn(op, grad):
    return [make_tensor("AvgPool3DGrad", [array_ops.shape(op.inputs[0]), grad], _pool_attrs_of(op))]


def _avg_grad_shape(ins, attrs):
    sizes, g = ins
    fmt = check_format_3d(attrs["data_format"])
    xd = _sizes(sizes, "orig_input_shape", 5)
    _merge("AvgPool3DGrad", "grad", _pooled("AvgPool3DGrad", to_ndhwc(xd, fmt), attrs), to_ndhwc(rank5(g, "grad"), fmt))
    return base(g), xd


@op("AvgPool3DGrad", inputs=("orig_input_shape", "grad"), attrs=_ATTRS, types=FLOAT_TYPES, type_inputs=("grad",),
    shape=_avg_grad_shape, host_inputs=(0,))
def avg_pool3d_grad_kernel(xp, orig_input_shape, grad, *, ksize, strides, padding, data_format):
    xs = to_ndhwc(tuple(int(v) for v in orig_input_shape), data_format)
    k, s, outs, pads = _geometry("AvgPool3DGrad", xs, dict(ksize=ksize, strides=strides, padding=padding,
                                                            data_format=data_format))
    dtype = grad.dtype
    (g,) = upcast(xp, kernel_in_3d(grad, data_format))
    n, dd, h, w, c = xs
    od = outs[0]
    if g.size == 0:
        return kernel_out_3d(xp, xp.zeros(xs, dtype=dtype), data_format)
    g = g / _depth_counts(xp, dd, k[0], s[0], pads[0][0], od, g.dtype)
    t = PK.avg_pool_grad(xp, (n * od, h, w, c), xp.ascontiguousarray(g).reshape((n * od,) + g.shape[2:]), k[1:],
                         s[1:], pads[1:]).reshape(n, od, h, w, c)
    dxp = xp.zeros((n, window_extent(dd, pads[0], od, k[0], s[0]), h, w, c), dtype=g.dtype)
    for _, sl in depth_slices(k[0], s[0], 1, od):
        dxp[:, sl] += t
    d0 = pads[0][0]
    return kernel_out_3d(xp, xp.ascontiguousarray(dxp[:, d0:d0 + dd]).astype(dtype, copy=False), data_format)


@avg_pool3d_grad_kernel.grad
def _avg_pool3d_grad_grad_fn(op, grad):
    return [None, make_tensor("AvgPool3D", [grad], _pool_attrs_of(op))]


# -- public wrappers --------------------------------------------------------------------------------
def _attrs(ksize: Any, strides: Any, padding: str, data_format: str) -> dict:
    fmt = check_format_3d(data_format)
    return {"ksize": sequence_3d(ksize, fmt, "ksize"), "strides": sequence_3d(strides, fmt, "strides"),
            "padding": padding, "data_format": fmt}


def _max_raw(op_type: str, ins: list, ksize: Any, strides: Any, padding: str, data_format: str,
             name: str | None) -> Tensor:
    attrs = _attrs(ksize, strides, padding, data_format)
    return make_tensor(op_type, convert_same_dtype(ins), attrs, name or op_type)


def _pool(op_type: str, input: Any, ksize: Any, strides: Any, padding: str, data_format: str,
          name: str | None) -> Tensor:
    fmt = check_format_3d(data_format or "NDHWC")
    if not isinstance(padding, str) or padding.upper() not in ("SAME", "VALID"):
        raise ValueError(f"{op_type}: padding must be 'SAME' or 'VALID', got {padding!r}")
    attrs = _attrs(ksize, strides, padding.upper(), fmt)
    return make_tensor(op_type, [convert_to_tensor(input, name="input")], attrs, name or op_type)


def max_pool3d(input: Any, ksize: Any, strides: Any, padding: str, data_format: str = "NDHWC",
               name: str | None = None) -> Tensor:
    """Max pooling over 3-D windows of a 5-D input.

    Args:
        input: a 5-D float Tensor, NDHWC (default) or NCDHW.
        ksize: an int or a list of 1, 3 or 5 ints: the window size.
        strides: an int or a list of 1, 3 or 5 ints: the window step.
        padding: "SAME" or "VALID".
        data_format: "NDHWC" or "NCDHW".
        name: a name for the op (default "MaxPool3D").

    Returns:
        The max of each window. Its gradient goes to every element equal to the window's max (TF's CPU rule).
    """
    return _pool("MaxPool3D", input, ksize, strides, padding, data_format, name)


def avg_pool3d(input: Any, ksize: Any, strides: Any, padding: str, data_format: str = "NDHWC",
               name: str | None = None) -> Tensor:
    """Average pooling over 3-D windows of a 5-D input (SAME padding is not counted); arguments as in
    `max_pool3d` (default op name "AvgPool3D")."""
    return _pool("AvgPool3D", input, ksize, strides, padding, data_format, name)


def max_pool3d_grad(orig_input: Any, orig_output: Any, grad: Any, ksize: Any, strides: Any, padding: str,
                    data_format: str = "NDHWC", name: str | None = None) -> Tensor:
    """The raw MaxPool3DGrad op (TF's gen_nn_ops.max_pool3d_grad)."""
    return _max_raw("MaxPool3DGrad", [orig_input, orig_output, grad], ksize, strides, padding, data_format, name)


def max_pool3d_grad_grad(orig_input: Any, orig_output: Any, grad: Any, ksize: Any, strides: Any, padding: str,
                         data_format: str = "NDHWC", name: str | None = None) -> Tensor:
    """The raw MaxPool3DGradGrad op (TF's gen_nn_ops.max_pool3d_grad_grad)."""
    return _max_raw("MaxPool3DGradGrad", [orig_input, orig_output, grad], ksize, strides, padding, data_format, name)


def avg_pool3d_grad(orig_input_shape: Any, grad: Any, ksize: Any, strides: Any, padding: str,
                    data_format: str = "NDHWC", name: str | None = None) -> Tensor:
    """The raw AvgPool3DGrad op (TF's gen_nn_ops.avg_pool3d_grad)."""
    attrs = _attrs(ksize, strides, padding, data_format)
    sizes = convert_to_tensor(orig_input_shape, dtype_hint=_dt.int32)
    return make_tensor("AvgPool3DGrad", [sizes, convert_to_tensor(grad)], attrs, name or "AvgPool3DGrad")
