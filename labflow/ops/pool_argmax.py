"""MaxPoolWithArgmax and its gradient ops (MaxPoolGradWithArgmax, MaxPoolGradGradWithArgmax);
`tf.nn.max_pool_with_argmax`.

The argmax of a window is the flattened index of its FIRST max in row-major order (TF's CPU rule, the same
tie rule as MaxPoolGrad): `(y * width + x) * channels + c`, plus `b * height * width * channels` with
`include_batch_in_index`. Padding never wins. The gradient scatters through those indices.
"""

from __future__ import annotations

from typing import Any

from labflow import dtypes as _dt
from labflow.framework.graph import name_scope
from labflow.framework.registry import REQUIRED, op
from labflow.framework.tensor import Tensor
from labflow.ops import array_ops
from labflow.ops import pool_kernels as PK
from labflow.ops.array_ops import _scatter_add
from labflow.ops.common import INDEX_TYPES, REAL_TYPES, base, convert_to_tensor, dims, make_op, make_tensor
from labflow.ops.conv_kernels import pad_hw
from labflow.ops.conv_ops import get_sequence, memo_geometry, out_dim, rank4, runtime_geometry
from labflow.ops.pool3d import _mask_value

__all__ = ["max_pool_with_argmax"]

_ATTRS = {"ksize": REQUIRED, "strides": REQUIRED, "Targmax": _dt.int64, "padding": REQUIRED,
          "include_batch_in_index": False}


def _window(op_type: str, attrs: dict) -> tuple:
    out = []
    for name in ("ksize", "strides"):
        vals = [int(v) for v in attrs[name]]
        if len(vals) != 4:
            raise ValueError(f"{op_type}: the {name} attribute must contain 4 values, got {len(vals)}")
        if vals[0] != 1 or vals[3] != 1:
            raise ValueError(f"{op_type}: pooling over the batch or depth dimension is not supported ({name} "
                             f"{vals})")
        if min(vals[1:3]) < 1:
            raise ValueError(f"{op_type}: {name} must be >= 1, got {vals}")
        out.append((vals[1], vals[2]))
    if attrs["padding"] not in ("SAME", "VALID"):
        raise ValueError(f"{op_type}: padding must be 'SAME' or 'VALID', got {attrs['padding']!r}")
    if attrs["Targmax"] not in INDEX_TYPES:
        raise TypeError(f"{op_type}: Targmax must be int32 or int64, got {attrs['Targmax']}")
    return tuple(out)


def _pooled(op_type: str, xd: tuple, attrs: dict) -> tuple:
    (kh, kw), (sh, sw) = _window(op_type, attrs)
    p = attrs["padding"]
    return xd[0], out_dim(xd[1], kh, sh, 1, p, (0, 0)), out_dim(xd[2], kw, sw, 1, p, (0, 0)), xd[3]


def _params(op_type: str, hw: tuple, attrs: dict) -> tuple:
    key = ("pool_argmax", tuple(hw), tuple(attrs["ksize"]), tuple(attrs["strides"]), attrs["padding"])

    def compute():
        k, s = _window(op_type, attrs)
        (oh, ow), pads = runtime_geometry(hw, k, s, (1, 1), attrs["padding"], ((0, 0), (0, 0)))
        return k, s, pads, oh, ow
    return memo_geometry(key, compute)


def _flat_positions(xp: Any, shape: tuple, oh: int, ow: int, a: int, b: int, s: tuple, pads: tuple) -> tuple:
    """([1, OH, OW, C] flat (y * W + x) * C + c index that window offset (a, b) reads, [1, OH, OW, 1] whether
    that position is inside the input (not padding))."""
    _, h, w, c = shape
    rows = xp.arange(oh, dtype=xp.int64) * s[0] - pads[0][0] + a
    cols = xp.arange(ow, dtype=xp.int64) * s[1] - pads[1][0] + b
    inside = ((rows >= 0) & (rows < h))[:, None] & ((cols >= 0) & (cols < w))[None, :]
    flat = (rows[:, None] * w + cols[None, :])[None, :, :, None] * c + xp.arange(c, dtype=xp.int64)
    return flat, inside[None, :, :, None]


def _argmax(xp: Any, x: Any, y: Any, k: tuple, s: tuple, pads: tuple, include_batch: bool, dtype: Any) -> Any:
    n, h, w, c = x.shape
    oh, ow = y.shape[1:3]
    # Padding never wins: NaN equals nothing, and (for integers, whose fill can tie) `inside` masks it.
    xpad = pad_hw(xp, x, pads, _mask_value(xp, x.dtype))
    arg = xp.full(y.shape, -1, dtype=xp.int64)
    for a, rs in enumerate(PK._steps(k[0], s[0], oh)):
        for b, cs in enumerate(PK._steps(k[1], s[1], ow)):
            flat, inside = _flat_positions(xp, x.shape, oh, ow, a, b, s, pads)
            hit = (xpad[:, rs, cs] == y) & (arg < 0) & inside
            arg = xp.where(hit, flat, arg)
    if include_batch:
        arg = arg + (xp.arange(n, dtype=xp.int64) * (h * w * c))[:, None, None, None]
    return arg.astype(dtype, copy=False)


def _forward_shape(ins, attrs):
    xd = _pooled("MaxPoolWithArgmax", rank4(ins[0], "input"), attrs)
    return [(base(ins[0]), xd), (attrs["Targmax"], xd)]


@op("MaxPoolWithArgmax", inputs=("input",), attrs=_ATTRS, types=REAL_TYPES, shape=_forward_shape, outputs=2,
    output_names=("output", "argmax"))
def max_pool_with_argmax_kernel(xp, input, *, ksize, strides, Targmax, padding, include_batch_in_index):
    attrs = dict(ksize=ksize, strides=strides, Targmax=Targmax, padding=padding)
    k, s, pads, oh, ow = _params("MaxPoolWithArgmax", input.shape[1:3], attrs)
    y = PK.max_pool(xp, input, k, s, pads, oh, ow)
    return y, _argmax(xp, input, y, k, s, pads, bool(include_batch_in_index), Targmax.as_numpy_dtype)


def _attrs_of(op: Any) -> dict:
    return {k: op.get_attr(k) for k in _ATTRS}


@max_pool_with_argmax_kernel.grad
def _forward_grad(op, grad, unused_argmax_grad):
    return [make_tensor("MaxPoolGradWithArgmax", [op.inputs[0], grad, op.outputs[1]], _attrs_of(op))]


def _global_index(xp: Any, argmax: Any, per_item: int, include_batch: bool) -> Any:
    idx = argmax.astype(xp.int64, copy=False)
    if not include_batch:
        idx = idx + (xp.arange(idx.shape[0], dtype=xp.int64) * per_item).reshape((-1,) + (1,) * (idx.ndim - 1))
    return idx


def _grad_shape(ins, attrs):
    x, g, arg = ins
    xd = rank4(x, "input")
    yd = _pooled("MaxPoolGradWithArgmax", xd, attrs)
    for t, what in ((g, "grad"), (arg, "argmax")):
        d = rank4(t, what)
        for i in range(4):
            if None not in (d[i], yd[i]) and d[i] != yd[i]:
                raise ValueError(f"MaxPoolGradWithArgmax: {what} must have the pooled shape {list(yd)}, got "
                                 f"{list(d)}")
    if base(arg) not in INDEX_TYPES:
        raise TypeError(f"MaxPoolGradWithArgmax: argmax must be int32 or int64, got {base(arg).name}")
    return base(g), xd


@op("MaxPoolGradWithArgmax", inputs=("input", "grad", "argmax"), attrs=_ATTRS, types=REAL_TYPES,
    type_inputs=("input", "grad"), shape=_grad_shape)
def max_pool_grad_with_argmax_kernel(xp, input, grad, argmax, *, include_batch_in_index):
    per_item = int(input[0].size) if input.shape[0] else 0
    dx = xp.zeros(input.size, dtype=grad.dtype)
    if grad.size:
        _scatter_add(xp, dx, _global_index(xp, argmax, per_item, bool(include_batch_in_index)).ravel(),
                     grad.ravel())
    return dx.reshape(input.shape)


@max_pool_grad_with_argmax_kernel.grad
def _grad_grad(op, grad):
    x, _, arg = op.inputs
    return [array_ops.zeros_like(x), make_tensor("MaxPoolGradGradWithArgmax", [x, grad, arg], _attrs_of(op)), None]


def _grad_grad_shape(ins, attrs):
    x, g, arg = ins
    xd = rank4(x, "input")
    gd = rank4(g, "grad")
    for i in range(4):
        if None not in (xd[i], gd[i]) and xd[i] != gd[i]:
            raise ValueError(f"MaxPoolGradGradWithArgmax: grad must have the input's shape {list(xd)}, got {list(gd)}")
    return base(g), _pooled("MaxPoolGradGradWithArgmax", xd, attrs)


@op("MaxPoolGradGradWithArgmax", inputs=("input", "grad", "argmax"), attrs=_ATTRS, types=REAL_TYPES,
    type_inputs=("input", "grad"), shape=_grad_grad_shape)
def max_pool_grad_grad_with_argmax_kernel(xp, input, grad, argmax, *, include_batch_in_index):
    per_item = int(input[0].size) if input.shape[0] else 0
    idx = _global_index(xp, argmax, per_item, bool(include_batch_in_index))
    return grad.reshape(-1)[idx] if grad.size else xp.zeros(argmax.shape, dtype=grad.dtype)


@max_pool_grad_grad_with_argmax_kernel.grad
def _grad_grad_grad(op, grad):
    x, _, arg = op.inputs
    return [array_ops.zeros_like(x), make_tensor("MaxPoolGradWithArgmax", [x, grad, arg], _attrs_of(op)), None]


def max_pool_with_argmax(input: Any, ksize: Any, strides: Any, padding: str, data_format: str = "NHWC",
                         Targmax: Any = None, name: str | None = None, output_dtype: Any = None,
                         include_batch_in_index: bool = False) -> tuple:
    """Max pooling that also returns the flattened index of each window's max.

    Args:
        input: a 4-D real Tensor (NHWC).
        ksize: an int or a list of 1, 2 or 4 ints: the window size.
        strides: an int or a list of 1, 2 or 4 ints: the window step.
        padding: "SAME" or "VALID".
        data_format: must be "NHWC" (as in TF).
        Targmax: the index dtype, int64 (default) or int32 (alias `output_dtype`).
        name: a name for the op (default "MaxPoolWithArgmax").
        output_dtype: TF2 spelling of `Targmax`.
        include_batch_in_index: count the batch in the flat index (`((b * H + y) * W + x) * C + c`).

    Returns:
        A pair `(output, argmax)` (also as `.output` / `.argmax`).

    Raises:
        ValueError: a data_format other than NHWC, bad windows or padding.
    """
    if data_format != "NHWC":
        raise ValueError(f"max_pool_with_argmax supports only the NHWC data format, got {data_format!r}")
    if Targmax is not None and output_dtype is not None:
        raise ValueError("Cannot specify both 'Targmax' and 'output_dtype'")
    t = _dt.as_dtype(Targmax or output_dtype or _dt.int64)
    if not isinstance(padding, str) or padding.upper() not in ("SAME", "VALID"):
        raise ValueError(f"MaxPoolWithArgmax: padding must be 'SAME' or 'VALID', got {padding!r}")
    attrs = {"ksize": get_sequence(ksize, "NHWC", "ksize"), "strides": get_sequence(strides, "NHWC", "strides"),
             "Targmax": t, "padding": padding.upper(), "include_batch_in_index": bool(include_batch_in_index)}
    with name_scope(name, "MaxPoolWithArgmax", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        d = dims(x)
        if d is not None and len(d) != 4:
            raise ValueError(f"Shape must be rank 4 but is rank {len(d)} (input of max_pool_with_argmax)")
        o = make_op("MaxPoolWithArgmax", [x], attrs, scope)
        return _ArgmaxResult(o.outputs[0], o.outputs[1])


class _ArgmaxResult(tuple):
    """`(output, argmax)` that also has `.output` and `.argmax` (TF's namedtuple)."""

    def __new__(cls, output: Tensor, argmax: Tensor) -> _ArgmaxResult:
        return super().__new__(cls, (output, argmax))

    output = property(lambda self: self[0])
    argmax = property(lambda self: self[1])
