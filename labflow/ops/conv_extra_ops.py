"""Convolution family beyond conv2d for `tf.nn`: conv1d, the generic convolution/pool, atrous (dilated),
depthwise and separable convolutions, conv3d, 1-D/3-D pooling, and the selu/swish/crelu/softsign activations.

The ops live in small modules by kind (activation_extra, depthwise_conv, conv3d_conv, pool3d); this module
holds the composite public wrappers (TF builds these in Python too) and gathers the family's `__all__`.
Dilation is passed to the ops' `dilations` attr rather than built with space_to_batch as TF 1.x did: the
results are the same, and the graph is one op instead of three.
"""

from __future__ import annotations

import itertools
import numbers
from typing import Any

from labflow import dtypes as _dt
from labflow.framework.graph import name_scope
from labflow.framework.tensor import Tensor
from labflow.ops import activation_extra, array_ops, conv3d_conv, depthwise_conv, math_ops, pool3d, pool_argmax
from labflow.ops.activation_extra import *  # noqa: F401,F403
from labflow.ops.common import constant_value, convert_same_dtype, convert_to_tensor, dims
from labflow.ops.conv3d_conv import *  # noqa: F401,F403
from labflow.ops.conv3d_conv import conv3d
from labflow.ops.conv_ops import _pick, conv2d, conv2d_backprop_input
from labflow.ops.depthwise_conv import *  # noqa: F401,F403
from labflow.ops.pool3d import *  # noqa: F401,F403
from labflow.ops.pool3d import avg_pool3d, max_pool3d
from labflow.ops.pool_argmax import *  # noqa: F401,F403
from labflow.ops.pool_ops import avg_pool, max_pool

__all__: list[str] = [
    "conv1d", "conv1d_transpose", "convolution", "atrous_conv2d", "atrous_conv2d_transpose", "pool", "max_pool1d",
    "avg_pool1d",
    *activation_extra.__all__, *depthwise_conv.__all__, *conv3d_conv.__all__, *pool3d.__all__, *pool_argmax.__all__,
]


def _seq1(value: Any, channel_first: bool, name: str) -> list[int]:
    """TF's `_get_sequence(value, 1, channel_index, name)`: an int or 1-list as a 3-list; 3-lists as they are."""
    if value is None:
        return [1, 1, 1]
    vals = [int(value)] if isinstance(value, numbers.Integral) else [int(v) for v in value]
    if len(vals) == 3:
        return vals
    if len(vals) != 1:
        raise ValueError(f"{name} should be of length 1 or 3 but was {len(vals)}")
    return [1, 1, vals[0]] if channel_first else [1, vals[0], 1]


def _format_1d(data_format: str | None) -> tuple[str, int]:
    """(the 2-D format, the axis where the dummy height dim goes) of a 1-D data format."""
    if data_format in (None, "NWC", "NHWC"):
        return "NHWC", 1
    if data_format in ("NCW", "NCHW"):
        return "NCHW", 2
    raise ValueError(f'data_format must be "NWC" or "NCW", got {data_format!r}')


# -- 1-D convolution --------------------------------------------------------------------------------
def conv1d(value: Any = None, filters: Any = None, stride: Any = None, padding: Any = None,
           use_cudnn_on_gpu: Any = None, data_format: str | None = None, name: str | None = None,
           input: Any = None, dilations: Any = None) -> Tensor:
    """1-D convolution, built as TF builds it: expand_dims -> Conv2D -> squeeze.

    Args:
        value: a 3-D Tensor [batch, in_width, in_channels] (NWC) or [batch, in_channels, in_width] (NCW);
            alias `input`.
        filters: a 3-D Tensor [filter_width, in_channels, out_channels].
        stride: an int or a list of 1 or 3 ints: the step along the width.
        padding: "SAME" or "VALID".
        use_cudnn_on_gpu: recorded on the Conv2D op.
        data_format: "NWC" (default) or "NCW".
        name: a name scope (default "conv1d").
        input: TF2 spelling of `value`.
        dilations: an int or a list of 1 or 3 ints: the dilation along the width.

    Returns:
        A 3-D Tensor in the input's format.
    """
    value = _pick(input, value, "input", "value")
    fmt, axis = _format_1d(data_format)
    with name_scope(name, "conv1d", [value, filters]) as scope:
        strides = [1] + _seq1(stride, fmt == "NCHW", "stride")
        dil = [1] + _seq1(dilations, fmt == "NCHW", "dilations")
        x, w = convert_same_dtype([convert_to_tensor(value), convert_to_tensor(filters)])
        x = array_ops.expand_dims(x, axis)
        w = array_ops.expand_dims(w, 0)
        y = conv2d(x, w, strides, padding, use_cudnn_on_gpu=True if use_cudnn_on_gpu is None else use_cudnn_on_gpu,
                   data_format=fmt, dilations=dil, name=scope)
        return array_ops.squeeze(y, [axis])


def conv1d_transpose(input: Any, filters: Any, output_shape: Any, strides: Any, padding: str = "SAME",
                     data_format: str = "NWC", dilations: Any = None, name: str | None = None) -> Tensor:
    """The transpose of `conv1d`: Conv2DBackpropInput on a dummy height dimension.

    Args:
        input: a 3-D Tensor [batch, in_width, in_channels] (NWC) or NCW.
        filters: [filter_width, output_channels, in_channels].
        output_shape: a 1-D Tensor (or list) of 3: the output's shape.
        strides: an int or a list of 1 or 3 ints.
        padding: "SAME" or "VALID".
        data_format: "NWC" (default) or "NCW".
        dilations: an int or a list of 1 or 3 ints.
        name: a name scope (default "conv1d_transpose").

    Returns:
        A Tensor of shape `output_shape`.
    """
    fmt, axis = _format_1d(data_format)
    with name_scope(name, "conv1d_transpose", [input, filters, output_shape]) as scope:
        st = [1] + _seq1(strides, fmt == "NCHW", "strides")
        dil = [1] + _seq1(dilations, fmt == "NCHW", "dilations")
        x, w = convert_same_dtype([convert_to_tensor(input), convert_to_tensor(filters)])
        x = array_ops.expand_dims(x, axis)
        w = array_ops.expand_dims(w, 0)
        shp = convert_to_tensor(output_shape, dtype_hint=_dt.int32)
        cv = constant_value(shp)
        if cv is not None:
            cv = [int(v) for v in cv]
            if len(cv) != 3:
                raise ValueError(f"conv1d_transpose: output_shape must have 3 elements, got {len(cv)}")
            sizes = cv[:axis] + [1] + cv[axis:]
        else:
            sizes = array_ops.concat([shp[:axis], [1], shp[axis:]], 0)
        y = conv2d_backprop_input(sizes, w, x, st, padding, data_format=fmt, dilations=dil, name=scope)
        return array_ops.squeeze(y, [axis])


# -- convolution / atrous ---------------------------------------------------------------------------
_FORMATS = {1: ("NWC", "NCW"), 2: ("NHWC", "NCHW"), 3: ("NDHWC", "NCDHW")}


def _spatial(value: Any, n: int, name: str) -> list[int]:
    if value is None:
        return [1] * n
    vals = [int(value)] * n if isinstance(value, numbers.Integral) else [int(v) for v in value]
    if len(vals) == 1:
        vals = vals * n
    if len(vals) != n:
        raise ValueError(f"{name} must have {n} elements (one per spatial dimension), got {vals}")
    if min(vals) < 1:
        raise ValueError(f"all values of {name} must be positive, got {vals}")
    return vals


def _full(vals: list[int], channel_first: bool) -> list[int]:
    return [1, 1] + vals if channel_first else [1] + vals + [1]


def _num_spatial(x: Tensor, w: Tensor) -> int:
    wd, xd = dims(w), dims(x)
    if wd is not None:
        n = len(wd) - 2
    elif xd is not None:
        n = len(xd) - 2
    else:
        raise ValueError("convolution: the rank of the input or the filter must be known")
    if n not in (1, 2, 3):
        raise ValueError(f"convolution: input and filter must be 3-D, 4-D or 5-D (1 to 3 spatial dims), got a "
                         f"filter of rank {n + 2}")
    if xd is not None and len(xd) != n + 2:
        raise ValueError(f"convolution: input rank ({len(xd)}) must be the filter's rank ({n + 2})")
    return n


def convolution(input: Any, filter: Any = None, padding: str | None = None, strides: Any = None,
                dilation_rate: Any = None, name: str | None = None, data_format: str | None = None,
                filters: Any = None, dilations: Any = None) -> Tensor:
    """N-D convolution (N = 1, 2 or 3), with strides or dilation ("atrous"), as `tf.nn.convolution`.

    Args:
        input: an (N+2)-D Tensor, channels last (default) or first (`data_format` "NCW"/"NCHW"/"NCDHW").
        filter: [spatial filter shape..., in_channels, out_channels] (alias `filters`).
        padding: "SAME" or "VALID".
        strides: N ints (or one): the output stride; all 1 when any dilation rate is > 1.
        dilation_rate: N ints (or one): the filter's dilation (alias `dilations`).
        name: a name scope (default "convolution").
        data_format: None (channels last), or one of NWC/NCW, NHWC/NCHW, NDHWC/NCDHW matching N.
        filters: TF2 spelling of `filter`.
        dilations: TF2 spelling of `dilation_rate`.

    Returns:
        An (N+2)-D Tensor.

    Raises:
        ValueError: bad ranks, strides > 1 together with dilation_rate > 1, or a bad data_format.
    """
    f = _pick(filters, filter, "filters", "filter")
    rate = _pick(dilations, dilation_rate, "dilations", "dilation_rate")
    if not isinstance(padding, str) or padding.upper() not in ("SAME", "VALID"):
        raise ValueError(f"convolution: padding must be 'SAME' or 'VALID', got {padding!r}")
    with name_scope(name, "convolution", [input, f]) as scope:
        x, w = convert_same_dtype([convert_to_tensor(input, name="input"), convert_to_tensor(f, name="filter")])
        n = _num_spatial(x, w)
        if data_format is not None and data_format not in _FORMATS[n]:
            raise ValueError(f"convolution: data_format for {n} spatial dims must be one of {_FORMATS[n]}, got "
                             f"{data_format!r}")
        first = data_format is not None and data_format.startswith("NC")
        st, dl = _spatial(strides, n, "strides"), _spatial(rate, n, "dilation_rate")
        if max(st) > 1 and max(dl) > 1:
            raise ValueError("strides > 1 not supported in conjunction with dilation_rate > 1")
        if n == 1:
            return conv1d(x, w, st, padding.upper(), data_format="NCW" if first else "NWC", dilations=dl, name=scope)
        if n == 2:
            return conv2d(x, w, _full(st, first), padding.upper(), data_format="NCHW" if first else "NHWC",
                          dilations=_full(dl, first), name=scope)
        return conv3d(x, w, _full(st, first), padding.upper(), data_format="NCDHW" if first else "NDHWC",
                      dilations=_full(dl, first), name=scope)


def _rate(rate: Any) -> int:
    r = int(rate)
    if r < 1:
        raise ValueError(f"rate {r} cannot be less than one")
    return r


def atrous_conv2d(value: Any, filters: Any, rate: int, padding: str, name: str | None = None) -> Tensor:
    """Atrous (dilated) 2-D convolution of NHWC `value`: `convolution` with `dilation_rate=[rate, rate]`.

    Args:
        value: a 4-D float Tensor (NHWC).
        filters: [filter_height, filter_width, in_channels, out_channels].
        rate: a positive int: the sampling step of the input (1 is a plain conv2d).
        padding: "SAME" or "VALID".
        name: a name scope (default "convolution").

    Returns:
        A 4-D Tensor (NHWC).
    """
    r = _rate(rate)
    return convolution(value, filters, padding, dilation_rate=[r, r], name=name)


def atrous_conv2d_transpose(value: Any, filters: Any, output_shape: Any, rate: int, padding: str,
                            name: str | None = None) -> Tensor:
    """The transpose of `atrous_conv2d` (Conv2DBackpropInput with dilations [1, rate, rate, 1]).

    Args:
        value: a 4-D float Tensor [batch, height, width, in_channels] (NHWC).
        filters: [filter_height, filter_width, out_channels, in_channels].
        output_shape: a 1-D Tensor (or list) of 4: the output's shape.
        rate: a positive int.
        padding: "SAME" or "VALID".
        name: a name scope (default "atrous_conv2d_transpose").

    Returns:
        A Tensor of shape `output_shape`.

    Raises:
        ValueError: rate < 1, bad padding, or channels of value/filters/output_shape that disagree.
    """
    r = _rate(rate)
    if not isinstance(padding, str) or padding.upper() not in ("SAME", "VALID"):
        raise ValueError(f"padding must be either VALID or SAME: {padding}")
    with name_scope(name, "atrous_conv2d_transpose", [value, filters, output_shape]) as scope:
        v, w = convert_same_dtype([convert_to_tensor(value, name="value"), convert_to_tensor(filters, name="filters")])
        vd, wd = dims(v), dims(w)
        if vd is not None and wd is not None and None not in (vd[3], wd[3]) and vd[3] != wd[3]:
            raise ValueError(f"value's input channels does not match filters' input channels, {vd[3]} != {wd[3]}")
        shp = convert_to_tensor(output_shape, dtype_hint=_dt.int32)
        cv = constant_value(shp)
        if cv is not None and wd is not None and wd[2] is not None and len(cv) == 4 and int(cv[3]) != wd[2]:
            raise ValueError(f"output_shape does not match filter's output channels, {int(cv[3])} != {wd[2]}")
        return conv2d_backprop_input(shp, w, v, [1, 1, 1, 1], padding.upper(), dilations=[1, r, r, 1], name=scope)


# -- pooling ----------------------------------------------------------------------------------------
def _pool1d(fn: Any, default: str, input: Any, ksize: Any, strides: Any, padding: str, data_format: str,
            name: str | None) -> Tensor:
    fmt, axis = _format_1d(data_format)
    with name_scope(name, default, [input]) as scope:
        x = array_ops.expand_dims(convert_to_tensor(input, name="input"), axis)
        k = [1] + _seq1(ksize, fmt == "NCHW", "ksize")
        s = [1] + _seq1(strides, fmt == "NCHW", "strides")
        return array_ops.squeeze(fn(x, k, s, padding, data_format=fmt, name=scope), [axis])


def max_pool1d(input: Any, ksize: Any, strides: Any, padding: str, data_format: str = "NWC",
               name: str | None = None) -> Tensor:
    """Max pooling of a 3-D input (NWC or NCW) along its width: expand_dims -> MaxPool -> squeeze.

    Args:
        input: a 3-D Tensor.
        ksize: an int or a list of 1 or 3 ints: the window size.
        strides: an int or a list of 1 or 3 ints: the window step.
        padding: "SAME" or "VALID".
        data_format: "NWC" (default) or "NCW".
        name: a name scope (default "MaxPool1d").

    Returns:
        A 3-D Tensor in the input's format.
    """
    return _pool1d(max_pool, "MaxPool1d", input, ksize, strides, padding, data_format, name)


def avg_pool1d(input: Any, ksize: Any, strides: Any, padding: str, data_format: str = "NWC",
               name: str | None = None) -> Tensor:
    """Average pooling of a 3-D input along its width; arguments as in `max_pool1d` (scope "AvgPool1D")."""
    return _pool1d(avg_pool, "AvgPool1D", input, ksize, strides, padding, data_format, name)


def pool(input: Any, window_shape: Any, pooling_type: str, padding: str, dilation_rate: Any = None,
         strides: Any = None, name: str | None = None, data_format: str | None = None,
         dilations: Any = None) -> Tensor:
    """N-D max or average pooling (N = 1, 2 or 3), as `tf.nn.pool`.

    Args:
        input: an (N+2)-D Tensor, channels last (default) or first.
        window_shape: N ints: the window size.
        pooling_type: "MAX" or "AVG".
        padding: "SAME" or "VALID".
        dilation_rate: N ints; > 1 needs "VALID" padding and strides of 1 (as in TF).
        strides: N ints (default 1).
        name: a name scope (default "max_pool" / "avg_pool").
        data_format: None (channels last), or one of NWC/NCW, NHWC/NCHW, NDHWC/NCDHW matching N.
        dilations: TF2 spelling of `dilation_rate`.

    Returns:
        An (N+2)-D Tensor.

    Raises:
        ValueError: bad pooling_type, padding, window or data_format; dilation_rate > 1 with strides > 1 or
            "SAME" padding (TF implements neither).
    """
    n = len(window_shape) if not isinstance(window_shape, numbers.Integral) else 1
    if n not in (1, 2, 3):
        raise ValueError(f"pool: window_shape must have 1 to 3 entries (spatial dims), got {window_shape}")
    kind = str(pooling_type).upper()
    if kind not in ("MAX", "AVG"):
        raise ValueError(f"pool: pooling_type must be 'MAX' or 'AVG', got {pooling_type!r}")
    if not isinstance(padding, str) or padding.upper() not in ("SAME", "VALID"):
        raise ValueError(f"pool: padding must be 'SAME' or 'VALID', got {padding!r}")
    rate = _spatial(_pick(dilations, dilation_rate, "dilations", "dilation_rate"), n, "dilation_rate")
    st = _spatial(strides, n, "strides")
    k = _spatial(window_shape, n, "window_shape")
    if max(rate) > 1:
        if max(st) > 1:
            raise ValueError("strides > 1 not supported in conjunction with dilation_rate > 1")
        if padding.upper() == "SAME":
            raise ValueError(f"pooling with 'SAME' padding is not implemented for `dilation_rate` > 1. Received: "
                             f"padding={padding} and dilation_rate={rate}")
    if data_format is not None and data_format not in _FORMATS[n]:
        raise ValueError(f"pool: data_format for {n} spatial dims must be one of {_FORMATS[n]}, got {data_format!r}")
    first = data_format is not None and data_format.startswith("NC")
    with name_scope(name, f"{kind.lower()}_pool", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        if max(rate) > 1:
            return _dilated_pool(x, kind, k, rate, first)
        if n == 1:
            fn = max_pool1d if kind == "MAX" else avg_pool1d
            return fn(x, k, st, padding.upper(), data_format="NCW" if first else "NWC", name=scope)
        if n == 2:
            fn = max_pool if kind == "MAX" else avg_pool
            return fn(x, _full(k, first), _full(st, first), padding.upper(), data_format="NCHW" if first else "NHWC",
                      name=scope)
        fn = max_pool3d if kind == "MAX" else avg_pool3d
        return fn(x, _full(k, first), _full(st, first), padding.upper(), data_format="NCDHW" if first else "NDHWC",
                  name=scope)


def _dilated_pool(x: Tensor, kind: str, k: list, rate: list, first: bool) -> Tensor:
    """VALID, stride-1 pooling with dilated windows: the max (or mean) of the k slices, one per window
    offset, each shifted by offset * rate. TF gets the same values from space_to_batch + pool; the chain of
    Maximum ops sends a tied max's gradient to the first offset in row-major order, as MaxPoolGrad does.
    """
    xd = dims(x)
    if xd is not None and len(xd) != len(k) + 2:
        raise ValueError(f"pool: input must have rank {len(k) + 2} for a {len(k)}-D window, got rank {len(xd)}")
    start = 2 if first else 1
    out = None
    for offs in itertools.product(*[range(v) for v in k]):
        index = [slice(None)] * (len(k) + 2)
        for i, (a, kk, r) in enumerate(zip(offs, k, rate)):
            tail = (kk - 1 - a) * r
            index[start + i] = slice(a * r, -tail if tail else None)
        part = x[tuple(index)]
        if out is None:
            out = part
        else:
            out = math_ops.maximum(out, part) if kind == "MAX" else math_ops.add(out, part)
    if kind == "AVG":
        count = 1
        for v in k:
            count *= v
        out = math_ops.divide(out, convert_to_tensor(count, dtype=x.dtype.base_dtype))
    return out
