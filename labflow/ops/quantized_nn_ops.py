"""Quantized convolution, activation and pooling ops (TF 1.x's QuantizedConv2D, QuantizedRelu,
QuantizedRelu6, QuantizedReluX, QuantizedMaxPool, QuantizedAvgPool), registered with the quantized
family (quantized_ops.py re-exports this module). NHWC only, as in TF. The geometry (SAME/VALID output
sizes and padding) is the float ops' (conv_ops.py / pool_ops.py).
"""

from __future__ import annotations

from typing import Any

from labflow import dtypes as _dt
from labflow.framework.registry import REQUIRED, op
from labflow.ops import pool_kernels
from labflow.ops import quantized_kernels as Q
from labflow.ops.common import base, convert_to_tensor, dims, make_op
from labflow.ops.conv_ops import get_sequence, memo_geometry, out_dim, rank4, runtime_geometry, window_attr
from labflow.ops.pool_ops import _pooled_dims
from labflow.ops.quantized_ops import (
    QUANTIZED_TYPES,
    SCALAR,
    check_attr_matches,
    check_dtype,
    check_scalars,
    range_out,
    range_tensor,
    ranges,
    results,
)

__all__ = ["quantized_conv2d", "quantized_relu", "quantized_relu6", "quantized_relu_x", "quantized_max_pool",
           "quantized_avg_pool"]

_RANGES = ("min_input", "max_input")


def _padding(op_type: str, padding: Any) -> str:
    if padding not in ("SAME", "VALID"):
        raise ValueError(f"{op_type}: padding must be 'SAME' or 'VALID', got {padding!r}")
    return padding


# -- QuantizedConv2D -------------------------------------------------------------------------------------
def _quantized_conv_shape(ins, attrs):
    x, w = ins[:2]
    check_dtype("QuantizedConv2D", "input", x, QUANTIZED_TYPES)
    check_dtype("QuantizedConv2D", "filter", w, QUANTIZED_TYPES)
    check_attr_matches("QuantizedConv2D", "Tinput", attrs["Tinput"], x, "input")
    check_attr_matches("QuantizedConv2D", "Tfilter", attrs["Tfilter"], w, "filter")
    check_scalars("QuantizedConv2D", ins[2:], ("min_input", "max_input", "min_filter", "max_filter"))
    if _dt.as_dtype(attrs["out_type"]) != _dt.qint32:
        raise TypeError(f"QuantizedConv2D: out_type must be qint32 (TF's only kernel), got "
                        f"{_dt.as_dtype(attrs['out_type']).name}")
    sh, sw = window_attr("strides", attrs["strides"], "NHWC", "strides")
    if window_attr("dilations", attrs["dilations"], "NHWC") != (1, 1):
        raise ValueError("QuantizedConv2D: dilations other than 1 are not supported (as in TF)")
    padding = _padding("QuantizedConv2D", attrs["padding"])
    n, h, wd, c = rank4(x, "input")
    kh, kw, kc, f = rank4(w, "filter")
    if c is not None and kc is not None and c != kc:
        raise ValueError(f"Depth of input ({c}) is not equal to the input depth of filter ({kc})")
    out = (n, out_dim(h, kh, sh, 1, padding, (0, 0)), out_dim(wd, kw, sw, 1, padding, (0, 0)), f)
    return [(_dt.qint32, out), SCALAR, SCALAR]


@op("QuantizedConv2D", inputs=("input", "filter", "min_input", "max_input", "min_filter", "max_filter"),
    attrs={"Tinput": REQUIRED, "Tfilter": REQUIRED, "out_type": _dt.qint32, "strides": REQUIRED,
           "padding": REQUIRED, "dilations": [1, 1, 1, 1]},
    shape=_quantized_conv_shape, outputs=3, output_names=("output", "min_output", "max_output"),
    host_inputs=(2, 3, 4, 5), not_differentiable=True, blas=True)
def quantized_conv2d_kernel(xp, input, filter, min_input, max_input, min_filter, max_filter, *, strides, padding):
    lo_x, hi_x, lo_w, hi_w = ranges("QuantizedConv2D", (min_input, max_input, min_filter, max_filter),
                                    ("min_input", "max_input", "min_filter", "max_filter"))
    if input.shape[3] != filter.shape[2]:
        from labflow import errors
        raise errors.InvalidArgumentError(None, None, f"QuantizedConv2D: input and filter must have the same "
                                          f"depth: {input.shape[3]} vs {filter.shape[2]}")
    s = (int(strides[1]), int(strides[2]))
    key = ("qconv", input.shape[1:3], filter.shape[:2], s, padding)
    (_, pads) = memo_geometry(key, lambda: runtime_geometry(input.shape[1:3], filter.shape[:2], s, (1, 1), padding,
                                                            ((0, 0), (0, 0))))
    off_x = Q.float_to_quantized_unclamped(0.0, lo_x, hi_x, input.dtype)
    off_w = Q.float_to_quantized_unclamped(0.0, lo_w, hi_w, filter.dtype)
    out = Q.int_conv2d(xp, input, filter, off_x, off_w, s, pads)
    mn, mx = Q.range_for_multiplication(lo_x, hi_x, input.dtype, lo_w, hi_w, filter.dtype, out.dtype)
    return out, range_out(xp, mn), range_out(xp, mx)


QuantizedConv2D = results("QuantizedConv2D", ("output", "min_output", "max_output"))


def quantized_conv2d(input: Any, filter: Any, min_input: Any, max_input: Any, min_filter: Any,  # noqa: A002
                     max_filter: Any, strides: Any, padding: str, out_type: Any = _dt.qint32,
                     dilations: Any = (1, 1, 1, 1), name: str | None = None) -> QuantizedConv2D:
    """2-D convolution of quantized NHWC `input` with a quantized HWIO `filter`, accumulated exactly in
    qint32 (TF 1.x `tf.nn.quantized_conv2d`). Each product is (x - zx) * (w - zw), zx and zw being the
    codes of 0.0; padding counts as 0.0.

    Args:
        input: a 4-D quint8 (or other quantized) Tensor [batch, height, width, channels].
        filter: a 4-D quantized Tensor [height, width, in_channels, out_channels].
        min_input, max_input, min_filter, max_filter: float32 scalars: the two ranges.
        strides: an int or a list of 1, 2 or 4 ints (batch and depth strides must be 1).
        padding: "SAME" or "VALID".
        out_type: qint32.
        dilations: must be 1 (TF's kernel has no dilation either).
        name: a name for the op (default "QuantizedConv2D").

    Returns:
        A namedtuple `(output, min_output, max_output)`: the qint32 result and its range.
    """
    x, w = convert_to_tensor(input, name="input"), convert_to_tensor(filter, name="filter")
    ins = [x, w] + [range_tensor(v, n) for v, n in zip((min_input, max_input, min_filter, max_filter),
                                                         ("min_input", "max_input", "min_filter", "max_filter"))]
    attrs = {"Tinput": base(x), "Tfilter": base(w), "out_type": _dt.as_dtype(out_type),
             "strides": get_sequence(strides, "NHWC", "strides"), "padding": padding,
             "dilations": get_sequence(list(dilations), "NHWC", "dilations")}
    return QuantizedConv2D(*make_op("QuantizedConv2D", ins, attrs, name or "QuantizedConv2D").outputs)


# -- QuantizedRelu, QuantizedRelu6, QuantizedReluX --------------------------------------------------------
def _relu_shape(op_type: str, n_ranges: int):
    names = ("max_value", "min_features", "max_features")[-n_ranges:]

    def fn(ins, attrs):
        x = ins[0]
        check_dtype(op_type, "features", x, QUANTIZED_TYPES)
        check_attr_matches(op_type, "Tinput", attrs["Tinput"], x, "features")
        check_scalars(op_type, ins[1:], names)
        if _dt.as_dtype(attrs["out_type"]) != base(x):
            # TF's kernels map quint8 -> quint8 and qint32 -> qint32 only; the range passes through
            raise TypeError(f"{op_type}: out_type ({_dt.as_dtype(attrs['out_type']).name}) must equal the input's "
                            f"type ({base(x).name})")
        return [(base(x), dims(x)), SCALAR, SCALAR]
    return fn


_RELU_ATTRS = {"Tinput": REQUIRED, "out_type": _dt.quint8}
_RELU_OUTS = ("activations", "min_activations", "max_activations")


def _clamp(xp: Any, x: Any, lo_f: float, hi_f: float | None, lo: float, hi: float) -> Any:
    """x clamped to the codes of lo_f (and hi_f) in the range [lo, hi]: TF's quantized ReLUs."""
    out = xp.maximum(x, x.dtype.type(Q.float_to_quantized(lo_f, lo, hi, x.dtype)))
    if hi_f is not None:
        xp.minimum(out, x.dtype.type(Q.float_to_quantized(hi_f, lo, hi, x.dtype)), out=out)
    return out


@op("QuantizedRelu", inputs=("features", "min_features", "max_features"), attrs=_RELU_ATTRS,
    shape=_relu_shape("QuantizedRelu", 2), outputs=3, output_names=_RELU_OUTS, host_inputs=(1, 2),
    not_differentiable=True)
def quantized_relu_kernel(xp, features, min_features, max_features):
    lo, hi = ranges("QuantizedRelu", (min_features, max_features), ("min_features", "max_features"))
    return _clamp(xp, features, 0.0, None, lo, hi), range_out(xp, lo), range_out(xp, hi)


@op("QuantizedRelu6", inputs=("features", "min_features", "max_features"), attrs=_RELU_ATTRS,
    shape=_relu_shape("QuantizedRelu6", 2), outputs=3, output_names=_RELU_OUTS, host_inputs=(1, 2),
    not_differentiable=True)
def quantized_relu6_kernel(xp, features, min_features, max_features):
    lo, hi = ranges("QuantizedRelu6", (min_features, max_features), ("min_features", "max_features"))
    return _clamp(xp, features, 0.0, 6.0, lo, hi), range_out(xp, lo), range_out(xp, hi)


@op("QuantizedReluX", inputs=("features", "max_value", "min_features", "max_features"), attrs=_RELU_ATTRS,
    shape=_relu_shape("QuantizedReluX", 3), outputs=3, output_names=_RELU_OUTS, host_inputs=(1, 2, 3),
    not_differentiable=True)
def quantized_relu_x_kernel(xp, features, max_value, min_features, max_features):
    lo, hi = ranges("QuantizedReluX", (min_features, max_features), ("min_features", "max_features"))
    cap = Q.scalar(max_value, "QuantizedReluX", "max_value")
    return _clamp(xp, features, 0.0, cap, lo, hi), range_out(xp, lo), range_out(xp, hi)


QuantizedRelu = results("QuantizedRelu", _RELU_OUTS)


def _relu(op_type: str, features: Any, extra: list, min_features: Any, max_features: Any, out_type: Any,
          name: str | None) -> QuantizedRelu:
    x = convert_to_tensor(features, name="features")
    ins = [x, *extra, range_tensor(min_features, "min_features"), range_tensor(max_features, "max_features")]
    o = make_op(op_type, ins, {"Tinput": base(x), "out_type": _dt.as_dtype(out_type)}, name or op_type)
    return QuantizedRelu(*o.outputs)


def quantized_relu(features: Any, min_features: Any, max_features: Any, out_type: Any = _dt.quint8,
                   name: str | None = None) -> QuantizedRelu:
    """max(features, code of 0.0), the range unchanged (TF's raw op QuantizedRelu).

    Returns:
        A namedtuple `(activations, min_activations, max_activations)`.
    """
    return _relu("QuantizedRelu", features, [], min_features, max_features, out_type, name)


def quantized_relu6(features: Any, min_features: Any, max_features: Any, out_type: Any = _dt.quint8,
                    name: str | None = None) -> QuantizedRelu:
    """features clamped to the codes of [0.0, 6.0], the range unchanged (TF's raw op QuantizedRelu6)."""
    return _relu("QuantizedRelu6", features, [], min_features, max_features, out_type, name)


def quantized_relu_x(features: Any, max_value: Any, min_features: Any, max_features: Any,
                     out_type: Any = _dt.quint8, name: str | None = None) -> QuantizedRelu:
    """features clamped to the codes of [0.0, max_value] (TF 1.x `tf.nn.quantized_relu_x`)."""
    return _relu("QuantizedReluX", features, [range_tensor(max_value, "max_value")], min_features, max_features,
                 out_type, name)


# -- QuantizedMaxPool, QuantizedAvgPool -------------------------------------------------------------------
_POOL_ATTRS = {"ksize": REQUIRED, "strides": REQUIRED, "padding": REQUIRED}
_POOL_OUTS = ("output", "min_output", "max_output")


def _pool_shape(op_type: str):
    def fn(ins, attrs):
        check_scalars(op_type, ins[1:], _RANGES)
        _padding(op_type, attrs["padding"])
        out = _pooled_dims(op_type, rank4(ins[0], "input"), dict(attrs, data_format="NHWC"))
        return [(base(ins[0]), out), SCALAR, SCALAR]
    return fn


def _pool_geometry(x: Any, ksize: Any, strides: Any, padding: str) -> tuple:
    k, s = (int(ksize[1]), int(ksize[2])), (int(strides[1]), int(strides[2]))
    (oh, ow), pads = memo_geometry(("qpool", x.shape[1:3], k, s, padding),
                                   lambda: runtime_geometry(x.shape[1:3], k, s, (1, 1), padding, ((0, 0), (0, 0))))
    return k, s, pads, oh, ow


@op("QuantizedMaxPool", inputs=("input", "min_input", "max_input"), attrs=_POOL_ATTRS, types=QUANTIZED_TYPES,
    type_inputs=("input",), shape=_pool_shape("QuantizedMaxPool"), outputs=3, output_names=_POOL_OUTS,
    host_inputs=(1, 2), not_differentiable=True)
def quantized_max_pool_kernel(xp, input, min_input, max_input, *, ksize, strides, padding):
    lo, hi = ranges("QuantizedMaxPool", (min_input, max_input), _RANGES)
    # max commutes with the (monotonic) code -> float map: pool the codes as they are
    out = pool_kernels.max_pool(xp, input, *_pool_geometry(input, ksize, strides, padding))
    return out, range_out(xp, lo), range_out(xp, hi)


@op("QuantizedAvgPool", inputs=("input", "min_input", "max_input"), attrs=_POOL_ATTRS, types=QUANTIZED_TYPES,
    type_inputs=("input",), shape=_pool_shape("QuantizedAvgPool"), outputs=3, output_names=_POOL_OUTS,
    host_inputs=(1, 2), not_differentiable=True)
def quantized_avg_pool_kernel(xp, input, min_input, max_input, *, ksize, strides, padding):
    lo, hi = ranges("QuantizedAvgPool", (min_input, max_input), _RANGES)
    out = Q.avg_pool(xp, input, *_pool_geometry(input, ksize, strides, padding))
    return out, range_out(xp, lo), range_out(xp, hi)


QuantizedPool = results("QuantizedPool", _POOL_OUTS)


def _pool(op_type: str, input: Any, min_input: Any, max_input: Any, ksize: Any, strides: Any,  # noqa: A002
          padding: str, name: str | None) -> QuantizedPool:
    x = convert_to_tensor(input, name="input")
    attrs = {"ksize": get_sequence(ksize, "NHWC", "ksize"), "strides": get_sequence(strides, "NHWC", "strides"),
             "padding": padding}
    o = make_op(op_type, [x, range_tensor(min_input, "min_input"), range_tensor(max_input, "max_input")], attrs,
                name or op_type)
    return QuantizedPool(*o.outputs)


def quantized_max_pool(input: Any, min_input: Any, max_input: Any, ksize: Any, strides: Any,  # noqa: A002
                       padding: str, name: str | None = None) -> QuantizedPool:
    """Max pooling of a quantized NHWC tensor (TF 1.x `tf.nn.quantized_max_pool`); the range passes through.

    Args:
        input: a 4-D quantized Tensor.
        min_input, max_input: float32 scalars: its range.
        ksize, strides: an int or a list of 1, 2 or 4 ints (batch and depth entries must be 1).
        padding: "SAME" or "VALID" (padding never wins a max).
        name: a name for the op (default "QuantizedMaxPool").

    Returns:
        A namedtuple `(output, min_output, max_output)`.
    """
    return _pool("QuantizedMaxPool", input, min_input, max_input, ksize, strides, padding, name)


def quantized_avg_pool(input: Any, min_input: Any, max_input: Any, ksize: Any, strides: Any,  # noqa: A002
                       padding: str, name: str | None = None) -> QuantizedPool:
    """Average pooling of a quantized NHWC tensor (TF 1.x `tf.nn.quantized_avg_pool`): each window's
    integer mean over its real (unpadded) elements, truncated, as TF computes it; the range passes through.

    Returns:
        A namedtuple `(output, min_output, max_output)`.
    """
    return _pool("QuantizedAvgPool", input, min_input, max_input, ksize, strides, padding, name)
