"""Grayscale morphology (tf.nn.dilation2d, tf.nn.erosion2d): Dilation2D and its two backprop ops.

The kernel loops over the (small) filter taps, each a strided view of the -inf padded image over the whole
batch; the max over taps and its first argmax (TF breaks ties by the first tap in row-major order) give the
output. The gradient goes to the argmax only, like a max-pool's.
"""

from __future__ import annotations

from typing import Any

from labflow import dtypes as _dt
from labflow.framework.registry import op
from labflow.framework.shapes import shape_str
from labflow.framework.tensor import Tensor
from labflow.ops.common import base, convert_to_tensor, dims, make_tensor
from labflow.ops.conv_kernels import window_geometry

__all__ = ["dilation2d", "erosion2d"]

_ATTRS = {"strides": None, "rates": None, "padding": None}
_TYPES = (_dt.float16, _dt.float32, _dt.float64, _dt.int32, _dt.int64)


def _four(v: Any, what: str, op_type: str) -> list[int]:
    vals = [int(x) for x in (v or [])]
    if len(vals) != 4 or vals[0] != 1 or vals[3] != 1 or min(vals) < 1:
        raise ValueError(f"{op_type}: {what} must be [1, rows, cols, 1] with positive entries (the batch and depth "
                         f"entries 1), got {vals}")
    return vals


def _geometry(ins: list, attrs: dict, op_type: str) -> tuple:
    """(batch, out_rows, out_cols, depth) of the Dilation2D output, checking ranks, depth and window fit."""
    st, rt = _four(attrs["strides"], "strides", op_type), _four(attrs["rates"], "rates", op_type)
    if attrs["padding"] not in ("SAME", "VALID"):
        raise ValueError(f"{op_type}: padding must be 'SAME' or 'VALID', got {attrs['padding']!r}")
    x, f = dims(ins[0]), dims(ins[1])
    if x is not None and len(x) != 4:
        raise ValueError(f"{op_type}: input must be 4-D [batch, rows, cols, depth], got {shape_str(x)}")
    if f is not None and len(f) != 3:
        raise ValueError(f"{op_type}: filter must be 3-D [rows, cols, depth], got {shape_str(f)}")
    if base(ins[0]) != base(ins[1]):
        raise TypeError(f"{op_type}: input and filter must have the same dtype, got {base(ins[0]).name} and "
                        f"{base(ins[1]).name}")
    x = x or (None,) * 4
    f = f or (None,) * 3
    if x[3] is not None and f[2] is not None and x[3] != f[2]:
        raise ValueError(f"{op_type}: input depth {x[3]} must equal filter depth {f[2]}")
    out = []
    for size, k, s, r in ((x[1], f[0], st[1], rt[1]), (x[2], f[1], st[2], rt[2])):
        if size is None or k is None:
            out.append(None)
            continue
        o = window_geometry(size, k, s, r, attrs["padding"])[0]
        if o <= 0:
            raise ValueError(f"{op_type}: the dilated filter ({(k - 1) * r + 1}) is larger than the input ({size}) "
                             "with VALID padding: the output would be empty")
        out.append(o)
    return x[0], out[0], out[1], x[3] if x[3] is not None else f[2]


def _dilation_shape(ins, attrs):
    return base(ins[0]), _geometry(ins, attrs, "Dilation2D")


def _taps(xp: Any, x: Any, f: Any, strides: list, rates: list, padding: str) -> tuple:
    """(padded image, [(tap index, row offset, col offset)], out_rows, out_cols, pad_top, pad_left)."""
    _, h, w, _ = x.shape
    kh, kw, _ = f.shape
    oh, top, bottom = window_geometry(h, kh, strides[1], rates[1], padding)
    ow, left, right = window_geometry(w, kw, strides[2], rates[2], padding)
    low = xp.finfo(x.dtype).min if x.dtype.kind == "f" else xp.iinfo(x.dtype).min
    xpad = xp.pad(x, [(0, 0), (top, bottom), (left, right), (0, 0)], constant_values=low)
    taps = [(i * kw + j, i * rates[1], j * rates[2]) for i in range(kh) for j in range(kw)]
    return xpad, taps, oh, ow, top, left


def _window(xpad: Any, dy: int, dx: int, oh: int, ow: int, strides: list) -> Any:
    return xpad[:, dy:dy + (oh - 1) * strides[1] + 1:strides[1], dx:dx + (ow - 1) * strides[2] + 1:strides[2], :]


def _max_and_argmax(xp: Any, x: Any, f: Any, strides: list, rates: list, padding: str) -> tuple:
    xpad, taps, oh, ow, top, left = _taps(xp, x, f, strides, rates, padding)
    kw = f.shape[1]
    best = arg = None
    for k, dy, dx in taps:
        v = _window(xpad, dy, dx, oh, ow, strides) + f[k // kw, k % kw]
        if best is None:
            best, arg = v, xp.zeros(v.shape, dtype=xp.int32)
        else:
            better = v > best  # strict: ties keep the earlier tap, as TF's loop does
            best = xp.where(better, v, best)
            arg = xp.where(better, xp.int32(k), arg)
    return best, arg, xpad.shape, taps, oh, ow, top, left


@op("Dilation2D", inputs=("input", "filter"), attrs=_ATTRS, types=_TYPES, shape=_dilation_shape)
def dilation2d_kernel(xp, input, filter, *, strides, rates, padding):  # noqa: A002 - TF's input names
    return _max_and_argmax(xp, input, filter, strides, rates, padding)[0]


@dilation2d_kernel.grad
def _dilation2d_grad(op, grad):
    attrs = {a: op.get_attr(a) for a in ("strides", "rates", "padding")}
    x, f = op.inputs
    return [make_tensor("Dilation2DBackpropInput", [x, f, grad], attrs),
            make_tensor("Dilation2DBackpropFilter", [x, f, grad], attrs)]


def _backprop_check(ins, attrs, op_type):
    out = _geometry(ins, attrs, op_type)
    g = dims(ins[2])
    if g is not None and (len(g) != 4 or any(a is not None and b is not None and a != b for a, b in zip(g, out))):
        raise ValueError(f"{op_type}: out_backprop must have the forward output's shape {shape_str(out)}, got "
                         f"{shape_str(g)}")


def _backprop_input_shape(ins, attrs):
    _backprop_check(ins, attrs, "Dilation2DBackpropInput")
    return base(ins[0]), dims(ins[0])


def _backprop_filter_shape(ins, attrs):
    _backprop_check(ins, attrs, "Dilation2DBackpropFilter")
    return base(ins[1]), dims(ins[1])


def _routed(xp: Any, arg: Any, k: int, g: Any) -> Any:
    """The out_backprop of the cells whose maximum came from tap k (zero elsewhere)."""
    return xp.where(arg == k, g, xp.zeros((), dtype=g.dtype))


@op("Dilation2DBackpropInput", inputs=("input", "filter", "out_backprop"), attrs=_ATTRS, types=_TYPES,
    shape=_backprop_input_shape)
def dilation2d_backprop_input_kernel(xp, input, filter, out_backprop, *, strides, rates, padding):  # noqa: A002
    _, h, w, _ = input.shape
    _, arg, pshape, taps, oh, ow, top, left = _max_and_argmax(xp, input, filter, strides, rates, padding)
    gpad = xp.zeros(pshape, dtype=out_backprop.dtype)
    for k, dy, dx in taps:
        # one tap's windows never overlap each other, so a strided += adds each gradient once
        _window(gpad, dy, dx, oh, ow, strides)[...] += _routed(xp, arg, k, out_backprop)
    return gpad[:, top:top + h, left:left + w, :]


@op("Dilation2DBackpropFilter", inputs=("input", "filter", "out_backprop"), attrs=_ATTRS, types=_TYPES,
    shape=_backprop_filter_shape)
def dilation2d_backprop_filter_kernel(xp, input, filter, out_backprop, *, strides, rates, padding):  # noqa: A002
    kw = filter.shape[1]
    _, arg, _, taps, _, _, _, _ = _max_and_argmax(xp, input, filter, strides, rates, padding)
    out = xp.zeros(filter.shape, dtype=out_backprop.dtype)
    for k, _, _ in taps:
        out[k // kw, k % kw] = _routed(xp, arg, k, out_backprop).sum(axis=(0, 1, 2))
    return out


def _no_gradient(op_type: str) -> Any:
    def grad(op, g):
        raise LookupError(f"No gradient defined for operation '{op.name}' (op type: {op_type}), as in TF: "
                          "dilation2d is differentiable once")
    return grad


dilation2d_backprop_input_kernel.grad(_no_gradient("Dilation2DBackpropInput"))
dilation2d_backprop_filter_kernel.grad(_no_gradient("Dilation2DBackpropFilter"))


def dilation2d(input: Any, filter: Any = None, strides: Any = None, rates: Any = None,  # noqa: A002
               padding: str | None = None, name: str | None = None, filters: Any = None,
               dilations: Any = None) -> Tensor:
    """Grayscale dilation of a 4-D NHWC batch with a 3-D structuring function (TF 1.x `tf.nn.dilation2d`).

    output[b, y, x, c] = max over (dy, dx) of input[b, y*s_r + dy*r_r - pad, x*s_c + dx*r_c - pad, c] +
    filter[dy, dx, c]; positions in the padding do not take part.

    Args:
        input: [batch, rows, cols, depth].
        filter: [filter_rows, filter_cols, depth] (`filters` is TF 2's spelling).
        strides: [1, stride_rows, stride_cols, 1].
        rates: [1, rate_rows, rate_cols, 1], the input stride of the taps (`dilations` in TF 2).
        padding: "SAME" or "VALID".
        name: the op name.

    Returns:
        [batch, out_rows, out_cols, depth], the dtype of `input`.
    """
    f = filter if filter is not None else filters
    r = rates if rates is not None else dilations
    if f is None or strides is None or r is None or padding is None:
        raise TypeError("dilation2d() needs filter, strides, rates and padding")
    x = convert_to_tensor(input, name="input")
    f = convert_to_tensor(f, dtype=x.dtype.base_dtype, name="filter")
    return make_tensor("Dilation2D", [x, f], {"strides": [int(v) for v in strides], "rates": [int(v) for v in r],
                                              "padding": padding}, name=name or "dilation2d")


def erosion2d(value: Any, kernel: Any, strides: Any, rates: Any, padding: str, name: str | None = None) -> Tensor:
    """Grayscale erosion (TF 1.x `tf.nn.erosion2d`): -dilation2d(-value, kernel reversed in rows and cols).

    output[b, y, x, c] = min over (dy, dx) of value[b, y*s_r - dy*r_r + pad, ...] - kernel[dy, dx, c].
    """
    from labflow.framework.graph import name_scope
    from labflow.ops.array_ops import reverse_v2
    from labflow.ops.math_ops import negative
    with name_scope(name, "erosion2d", [value, kernel]) as scope:
        v = convert_to_tensor(value, name="value")
        k = convert_to_tensor(kernel, dtype=v.dtype.base_dtype, name="kernel")
        return negative(dilation2d(negative(v), reverse_v2(k, [0, 1]), strides, rates, padding), name=scope)
