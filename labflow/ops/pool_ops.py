"""Pooling ops (`tf.nn.max_pool`, `tf.nn.avg_pool` and their gradients), with TF's attrs and errors.

Re-exported by conv_ops.py (one family for `tf.nn`). Geometry and attr checks are shared with the
convolutions (conv_ops.py); the array work is in pool_kernels.py.
"""

from __future__ import annotations

from typing import Any

from labflow import dtypes as _dt
from labflow.framework.graph import name_scope
from labflow.framework.registry import REQUIRED, op
from labflow.framework.shapes import TensorShape
from labflow.ops import array_ops
from labflow.ops import pool_kernels as K
from labflow.ops.common import (
    FLOAT_TYPES,
    REAL_TYPES,
    base,
    convert_same_dtype,
    convert_to_tensor,
    dims,
    make_tensor,
)
from labflow.ops.conv_ops import (
    _sizes,
    check_format,
    from_nhwc,
    get_sequence,
    hw_index,
    kernel_in,
    kernel_out,
    memo_geometry,
    out_dim,
    rank4,
    runtime_geometry,
    to_nhwc,
)

__all__ = ["max_pool", "max_pool2d", "avg_pool", "avg_pool2d"]

_POOL_ATTRS = {"ksize": REQUIRED, "strides": REQUIRED, "padding": REQUIRED, "data_format": "NHWC"}


def _window(op_type: str, attrs: dict) -> tuple:
    """((kh, kw), (sh, sw)) of a pooling op's attrs, checked with TF's messages."""
    fmt = check_format(attrs["data_format"])
    out = []
    for name in ("ksize", "strides"):
        vals = [int(v) for v in attrs[name]]
        if len(vals) != 4:
            what = "stride" if name == "strides" else name
            raise ValueError(f"{op_type} requires the {what} attribute to contain 4 values, but got: "
                             f"{len(vals)}")
        if vals[0] != 1:
            raise ValueError("Pooling is not yet supported on the batch dimension.")
        if vals[3 if fmt == "NHWC" else 1] != 1:
            raise ValueError(f"{op_type}: pooling across depth is not supported by labflow ({name} {vals})")
        h, w = hw_index(fmt)
        if vals[h] < 1 or vals[w] < 1:
            raise ValueError(f"{op_type}: {name} must be >= 1 in every dimension, got {vals}")
        out.append((vals[h], vals[w]))
    if attrs["padding"] not in ("SAME", "VALID"):
        raise ValueError(f"{op_type}: padding must be 'SAME' or 'VALID', got {attrs['padding']!r}")
    return tuple(out)


def _pooled_dims(op_type: str, xd: tuple, attrs: dict) -> tuple:
    """NHWC output dims of pooling NHWC input dims `xd`."""
    (kh, kw), (sh, sw) = _window(op_type, attrs)
    n, h, w, c = xd
    p = attrs["padding"]
    return n, out_dim(h, kh, sh, 1, p, (0, 0)), out_dim(w, kw, sw, 1, p, (0, 0)), c


def _pool_shape(op_type: str):
    def fn(ins, attrs):
        fmt = check_format(attrs["data_format"])
        out = _pooled_dims(op_type, to_nhwc(rank4(ins[0], "input"), fmt), attrs)
        return base(ins[0]), from_nhwc(out, fmt)
    return fn


def _params(x: Any, ksize: Any, strides: Any, padding: str, fmt: str) -> tuple:
    key = ("pool", x.shape[1:3], tuple(ksize), tuple(strides), padding, fmt)
    return memo_geometry(key, lambda: _params_of(x, ksize, strides, padding, fmt))


def _params_of(x: Any, ksize: Any, strides: Any, padding: str, fmt: str) -> tuple:
    h, w = hw_index(fmt)
    k, s = (int(ksize[h]), int(ksize[w])), (int(strides[h]), int(strides[w]))
    (oh, ow), pads = runtime_geometry(x.shape[1:3], k, s, (1, 1), padding, ((0, 0), (0, 0)))
    return k, s, pads, oh, ow


def _merge(op_type: str, what: str, want: tuple, got: tuple) -> None:
    if not TensorShape(want).is_compatible_with(TensorShape(got)):
        raise ValueError(f"{op_type}: expected {what} shape to be {TensorShape(want)}, but got "
                         f"{TensorShape(got)}")


def _pool_attrs_of(op: Any) -> dict:
    return {k: op.get_attr(k) for k in _POOL_ATTRS}


# -- MaxPool and its gradients ----------------------------------------------------------------------
@op("MaxPool", inputs=("input",), attrs=_POOL_ATTRS, types=REAL_TYPES, shape=_pool_shape("MaxPool"))
def max_pool_kernel(xp, input, *, ksize, strides, padding, data_format):
    x = kernel_in(xp, input, data_format)
    k, s, pads, oh, ow = _params(x, ksize, strides, padding, data_format)
    return kernel_out(xp, K.max_pool(xp, x, k, s, pads, oh, ow), data_format)


@max_pool_kernel.grad
def _max_pool_grad(op, grad):
    return [make_tensor("MaxPoolGrad", [op.inputs[0], op.outputs[0], grad], _pool_attrs_of(op))]


def _max_pool_grad_shape(op_type: str, grad_like_output: bool):
    def fn(ins, attrs):
        x, y, g = ins
        fmt = check_format(attrs["data_format"])
        xd = to_nhwc(rank4(x, "orig_input"), fmt)
        yd = _pooled_dims(op_type, xd, attrs)
        _merge(op_type, "orig_output", yd, to_nhwc(rank4(y, "orig_output"), fmt))
        _merge(op_type, "grad", yd if grad_like_output else xd, to_nhwc(rank4(g, "grad"), fmt))
        return base(x), dims(x) if grad_like_output else from_nhwc(yd, fmt)
    return fn


@op("MaxPoolGrad", inputs=("orig_input", "orig_output", "grad"), attrs=_POOL_ATTRS, types=REAL_TYPES,
    shape=_max_pool_grad_shape("MaxPoolGrad", True))
def max_pool_grad_kernel(xp, orig_input, orig_output, grad, *, ksize, strides, padding, data_format):
    x = kernel_in(xp, orig_input, data_format)
    k, s, pads, _, _ = _params(x, ksize, strides, padding, data_format)
    g = K.max_pool_grad(xp, x, kernel_in(xp, orig_output, data_format), kernel_in(xp, grad, data_format),
                        k, s, pads)
    return kernel_out(xp, g, data_format)


def _fused_max_pool_grad_shape(ins, attrs):
    if list(attrs["fused_ops"]) != ["ReluGrad"]:
        raise ValueError(f"_FusedMaxPoolGrad fuses ['ReluGrad'], got {list(attrs['fused_ops'])}")
    return _max_pool_grad_shape("MaxPoolGrad", True)(ins, attrs)


@op("_FusedMaxPoolGrad", inputs=("orig_input", "orig_output", "grad"), attrs=dict(_POOL_ATTRS, fused_ops=REQUIRED),
    types=REAL_TYPES, shape=_fused_max_pool_grad_shape, not_differentiable=True)
def fused_max_pool_grad_kernel(xp, orig_input, orig_output, grad, *, ksize, strides, padding, data_format,
                               fused_ops):
    """MaxPoolGrad, then ReluGrad against the pooled input: the gradient of relu -> max_pool, which
    runtime/fusion.py makes of the two nodes (one kernel on a GPU instead of two)."""
    x = kernel_in(xp, orig_input, data_format)
    k, s, pads, _, _ = _params(x, ksize, strides, padding, data_format)
    g = K.max_pool_grad(xp, x, kernel_in(xp, orig_output, data_format), kernel_in(xp, grad, data_format),
                        k, s, pads, relu=True)
    return kernel_out(xp, g, data_format)


@max_pool_grad_kernel.grad
def _max_pool_grad_grad(op, grad):
    x, y, _ = op.inputs
    return [array_ops.zeros_like(x), array_ops.zeros_like(y),
            make_tensor("MaxPoolGradGrad", [x, y, grad], _pool_attrs_of(op))]


@op("MaxPoolGradGrad", inputs=("orig_input", "orig_output", "grad"), attrs=_POOL_ATTRS, types=REAL_TYPES,
    shape=_max_pool_grad_shape("MaxPoolGradGrad", False))
def max_pool_grad_grad_kernel(xp, orig_input, orig_output, grad, *, ksize, strides, padding, data_format):
    x = kernel_in(xp, orig_input, data_format)
    k, s, pads, _, _ = _params(x, ksize, strides, padding, data_format)
    gg = K.max_pool_grad_grad(xp, x, kernel_in(xp, orig_output, data_format),
                              kernel_in(xp, grad, data_format), k, s, pads)
    return kernel_out(xp, gg, data_format)


@max_pool_grad_grad_kernel.grad
def _max_pool_grad_grad_grad(op, grad):
    x, y, _ = op.inputs
    return [array_ops.zeros_like(x), array_ops.zeros_like(y),
            make_tensor("MaxPoolGrad", [x, y, grad], _pool_attrs_of(op))]


# -- AvgPool and its gradient -----------------------------------------------------------------------
@op("AvgPool", inputs=("value",), attrs=_POOL_ATTRS, types=FLOAT_TYPES, shape=_pool_shape("AvgPool"))
def avg_pool_kernel(xp, value, *, ksize, strides, padding, data_format):
    x = kernel_in(xp, value, data_format)
    k, s, pads, oh, ow = _params(x, ksize, strides, padding, data_format)
    return kernel_out(xp, K.avg_pool(xp, x, k, s, pads, oh, ow), data_format)


@avg_pool_kernel.grad
def _avg_pool_grad(op, grad):
    return [make_tensor("AvgPoolGrad", [array_ops.shape(op.inputs[0]), grad], _pool_attrs_of(op))]


def _avg_pool_grad_shape(ins, attrs):
    sizes, g = ins
    fmt = check_format(attrs["data_format"])
    xd = _sizes(sizes, "orig_input_shape")
    _merge("AvgPoolGrad", "grad", _pooled_dims("AvgPoolGrad", to_nhwc(xd, fmt), attrs),
           to_nhwc(rank4(g, "grad"), fmt))
    return base(g), xd


@op("AvgPoolGrad", inputs=("orig_input_shape", "grad"), attrs=_POOL_ATTRS, types=FLOAT_TYPES,
    type_inputs=("grad",), shape=_avg_pool_grad_shape, host_inputs=(0,))
def avg_pool_grad_kernel(xp, orig_input_shape, grad, *, ksize, strides, padding, data_format):
    xs = to_nhwc(tuple(int(v) for v in orig_input_shape), data_format)
    h, w = hw_index(data_format)
    k, s = (int(ksize[h]), int(ksize[w])), (int(strides[h]), int(strides[w]))
    _, pads = runtime_geometry(xs[1:3], k, s, (1, 1), padding, ((0, 0), (0, 0)))
    return kernel_out(xp, K.avg_pool_grad(xp, xs, kernel_in(xp, grad, data_format), k, s, pads), data_format)


@avg_pool_grad_kernel.grad
def _avg_pool_grad_grad(op, grad):
    return [None, make_tensor("AvgPool", [grad], _pool_attrs_of(op))]


# -- public wrappers --------------------------------------------------------------------------------
def _pool(op_type: str, default_name: str, value: Any, ksize: Any, strides: Any, padding: Any,
          data_format: str, name: str | None) -> Any:
    fmt = check_format(data_format or "NHWC")
    if not isinstance(padding, str) or padding.upper() not in ("SAME", "VALID"):
        raise ValueError(f"{op_type}: padding must be 'SAME' or 'VALID', got {padding!r}")
    attrs = {"ksize": get_sequence(ksize, fmt, "ksize"), "strides": get_sequence(strides, fmt, "strides"),
             "padding": padding.upper(), "data_format": fmt}
    with name_scope(name, default_name, [value]) as scope:
        x = convert_to_tensor(value, name="input")
        return make_tensor(op_type, [x], attrs, scope)


def _pick(new: Any, old: Any) -> Any:
    if new is not None and old is not None:
        raise ValueError("Cannot specify both 'input' and 'value'")
    return new if new is not None else old


def max_pool(value: Any, ksize: Any, strides: Any, padding: str, data_format: str = "NHWC",
             name: str | None = None, input: Any = None) -> Any:
    """Max pooling over spatial windows.

    Args:
        value: a 4-D Tensor, NHWC or NCHW (alias `input`), of a real dtype.
        ksize: an int or a list of 1, 2 or 4 ints: the window size per dimension.
        strides: an int or a list of 1, 2 or 4 ints: the window step per dimension.
        padding: "SAME" or "VALID".
        data_format: "NHWC" (default) or "NCHW".
        name: a name for the op (default "MaxPool").
        input: TF2 spelling of `value`.

    Returns:
        The max of each window. Its gradient goes to the first maximum of each window (row-major),
        as in TF.
    """
    return _pool("MaxPool", "MaxPool", _pick(input, value), ksize, strides, padding, data_format, name)


def max_pool2d(input: Any, ksize: Any, strides: Any, padding: str, data_format: str = "NHWC",
               name: str | None = None) -> Any:
    """`max_pool` for 4-D inputs (TF2 name; default op name "MaxPool2d")."""
    return _pool("MaxPool", "MaxPool2d", input, ksize, strides, padding, data_format, name)


def avg_pool(value: Any, ksize: Any, strides: Any, padding: str, data_format: str = "NHWC",
             name: str | None = None, input: Any = None) -> Any:
    """Average pooling: the mean of each window's elements (SAME padding is not counted).

    Args:
        value: a 4-D float Tensor, NHWC or NCHW (alias `input`).
        ksize, strides, padding, data_format: as in `max_pool`.
        name: a name for the op (default "AvgPool").
        input: TF2 spelling of `value`.

    Returns:
        A Tensor of `value`'s dtype.
    """
    return _pool("AvgPool", "AvgPool", _pick(input, value), ksize, strides, padding, data_format, name)


def avg_pool2d(input: Any, ksize: Any, strides: Any, padding: str, data_format: str = "NHWC",
               name: str | None = None) -> Any:
    """`avg_pool` for 4-D inputs (TF2 name; default op name "AvgPool2D")."""
    return _pool("AvgPool", "AvgPool2D", input, ksize, strides, padding, data_format, name)


def max_pool_grad(orig_input: Any, orig_output: Any, grad: Any, ksize: Any, strides: Any, padding: str,
                  data_format: str = "NHWC", name: str | None = None) -> Any:
    """The raw MaxPoolGrad op (TF's gen_nn_ops.max_pool_grad), for tests and custom gradients."""
    return _raw("MaxPoolGrad", [orig_input, orig_output, grad], ksize, strides, padding, data_format, name)


def max_pool_grad_grad(orig_input: Any, orig_output: Any, grad: Any, ksize: Any, strides: Any, padding: str,
                       data_format: str = "NHWC", name: str | None = None) -> Any:
    """The raw MaxPoolGradGrad op (TF's gen_nn_ops.max_pool_grad_grad)."""
    return _raw("MaxPoolGradGrad", [orig_input, orig_output, grad], ksize, strides, padding, data_format,
                name)


def avg_pool_grad(orig_input_shape: Any, grad: Any, ksize: Any, strides: Any, padding: str,
                  data_format: str = "NHWC", name: str | None = None) -> Any:
    """The raw AvgPoolGrad op (TF's gen_nn_ops.avg_pool_grad)."""
    s = convert_to_tensor(orig_input_shape, dtype_hint=_dt.int32)
    fmt = check_format(data_format)
    attrs = {"ksize": get_sequence(ksize, fmt, "ksize"), "strides": get_sequence(strides, fmt, "strides"),
             "padding": padding, "data_format": fmt}
    return make_tensor("AvgPoolGrad", [s, convert_to_tensor(grad)], attrs, name or "AvgPoolGrad")


def _raw(op_type: str, ins: list, ksize: Any, strides: Any, padding: str, fmt: str, name: str | None) -> Any:
    fmt = check_format(fmt)
    attrs = {"ksize": get_sequence(ksize, fmt, "ksize"), "strides": get_sequence(strides, fmt, "strides"),
             "padding": padding, "data_format": fmt}
    return make_tensor(op_type, convert_same_dtype(list(ins)), attrs, name or op_type)
