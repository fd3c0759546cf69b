"""Samples for the extra conv-family ops: Selu/Softsign (+ grads), the depthwise convolution ops, Conv3D (+
backprops) and 3-D pooling (+ grads), MaxPoolWithArgmax.

Depthwise references apply samples/conv.py's loop references to one channel at a time (a depthwise conv is
a per-channel Conv2D); 3-D references loop over every output position and window element.
"""

from __future__ import annotations

import itertools

import numpy as np

import labflow as tf
from labflow import dtypes as _dt
from labflow.ops import activation_extra, conv3d_conv, depthwise_conv, pool3d, pool_argmax
from labflow.ops.common import make_tensor
from labflow.testing.op_sweep import Case, samples
from labflow.testing.samples.conv import (
    _back,
    _distinct,
    _explicit,
    _first_max,
    _geom,
    _nhwc,
    _out_hw,
    _pool_loop,
    _xshape,
    ref_conv2d,
    ref_conv2d_backprop_filter,
    ref_conv2d_backprop_input,
    ref_max_pool,
)

R = np.random.RandomState(17)
HALF = (_dt.float16, _dt.float32, _dt.float64)


def _away(shape, margin=0.1, scale=3.0):
    x = R.uniform(-scale, scale, size=shape)
    return np.where(np.abs(x) < margin, np.sign(x + 1e-12) * margin * 2, x)


def _via_gradients(fn):
    def build(g, x):
        return tf.gradients(fn(x), x, grad_ys=g)[0]
    return build


# -- Selu / Softsign --------------------------------------------------------------------------------
_A, _S = activation_extra.SELU_ALPHA, activation_extra.SELU_SCALE


def _np_selu(x):
    x64 = x.astype(np.float64)
    return np.where(x64 > 0, _S * x64, _S * _A * np.expm1(np.minimum(x64, 0))).astype(x.dtype)


@samples("Selu")
def _selu():
    return [Case(activation_extra.selu, [_away((3, 4))], _np_selu, dtypes=HALF, name="2d"),
            Case(activation_extra.selu, [np.array([-900.0, 900.0, -1.0, 0.5])], _np_selu, grad=False,
                 name="extremes")]


@samples("SeluGrad")
def _selu_grad():
    def ref(g, x):
        x64 = x.astype(np.float64)
        return np.where(x64 > 0, g * _S, g * _S * _A * np.exp(x64)).astype(g.dtype)
    return [Case(_via_gradients(activation_extra.selu), [R.randn(3, 4), _away((3, 4))], ref, dtypes=HALF,
                 name="via_gradients", rtol=1e-4)]


@samples("Softsign")
def _softsign():
    return [Case(activation_extra.softsign, [_away((2, 5))], lambda x: (x / (1 + np.abs(x))).astype(x.dtype),
                 dtypes=HALF, name="2d")]


@samples("SoftsignGrad")
def _softsign_grad():
    return [Case(_via_gradients(activation_extra.softsign), [R.randn(3, 4), _away((3, 4))],
                 lambda g, x: (g / (1 + np.abs(x)) ** 2).astype(g.dtype), dtypes=HALF, name="via_gradients")]


# -- depthwise --------------------------------------------------------------------------------------
def _per_channel(fn, channels):
    """fn(c) -> [N, OH, OW, M] (NHWC) for every channel, concatenated as channel * M + q (TF's order)."""
    return np.concatenate([fn(c) for c in range(channels)], axis=-1)


def ref_depthwise(x, w, s=(1, 1), padding="SAME", d=(1, 1), explicit=((0, 0), (0, 0)), fmt="NHWC"):
    xn = _nhwc(x, fmt)
    out = _per_channel(lambda c: ref_conv2d(xn[..., c:c + 1], w[:, :, c:c + 1], s, padding, d, explicit), xn.shape[3])
    return _back(out, fmt).astype(x.dtype)


def ref_depthwise_backprop_input(xshape, w, dy, s=(1, 1), padding="SAME", d=(1, 1), explicit=((0, 0), (0, 0)),
                                 fmt="NHWC"):
    dyn = _nhwc(dy, fmt)
    n, h, wd, c = _nhwc(np.empty(xshape), fmt).shape
    m = w.shape[3]
    parts = [ref_conv2d_backprop_input((n, h, wd, 1), w[:, :, k:k + 1], dyn[..., k * m:(k + 1) * m], s, padding, d,
                                       explicit) for k in range(c)]
    return _back(np.concatenate(parts, axis=-1), fmt).astype(dy.dtype)


def ref_depthwise_backprop_filter(x, fshape, dy, s=(1, 1), padding="SAME", d=(1, 1), explicit=((0, 0), (0, 0)),
                                  fmt="NHWC"):
    xn, dyn = _nhwc(x, fmt), _nhwc(dy, fmt)
    kh, kw, c, m = fshape
    parts = [ref_conv2d_backprop_filter(xn[..., k:k + 1], (kh, kw, 1, m), dyn[..., k * m:(k + 1) * m], s, padding, d,
                                        explicit) for k in range(c)]
    return np.concatenate(parts, axis=2).astype(x.dtype)


# (name, x shape NHWC, filter shape [KH,KW,C,M], strides, padding, dilations, data_format)
_DEPTHWISE = [
    ("same_m1", (2, 6, 7, 3), (3, 3, 3, 1), (1, 1), "SAME", (1, 1), "NHWC"),
    ("same_s2_m2", (2, 7, 6, 2), (3, 2, 2, 2), (2, 2), "SAME", (1, 1), "NHWC"),
    ("valid_s12_leftover", (1, 8, 9, 2), (2, 3, 2, 3), (1, 2), "VALID", (1, 1), "NHWC"),
    ("dilated_same", (1, 8, 7, 2), (3, 3, 2, 1), (1, 1), "SAME", (2, 2), "NHWC"),
    ("explicit", (1, 5, 6, 2), (3, 3, 2, 2), (2, 1), [[0, 0], [1, 2], [0, 1], [0, 0]], (1, 1), "NHWC"),
    ("nchw", (2, 5, 6, 3), (3, 3, 3, 2), (1, 2), "SAME", (1, 1), "NCHW"),
]


def _dw_args(spec):
    name, xs, ws, s, padding, d, fmt = spec
    mode, ex = _explicit(padding)
    oh, ow = _out_hw(xs[1:3], ws[:2], s, d, mode, ex)
    kw = dict(strides=[1, 1, *s] if fmt == "NCHW" else [1, *s, 1], padding=padding,
              dilations=[1, 1, *d] if fmt == "NCHW" else [1, *d, 1], data_format=fmt)
    rk = dict(s=s, padding=mode, d=d, explicit=ex, fmt=fmt)
    return name, _xshape(xs, fmt), ws, _xshape((xs[0], oh, ow, ws[2] * ws[3]), fmt), kw, rk


@samples("DepthwiseConv2dNative")
def _depthwise():
    out = []
    for spec in _DEPTHWISE:
        name, xs, ws, _, kw, rk = _dw_args(spec)
        out.append(Case(lambda x, w, kw=kw: depthwise_conv.depthwise_conv2d_native(x, w, **kw),
                        [R.randn(*xs), R.randn(*ws)], lambda x, w, rk=rk: ref_depthwise(x, w, **rk), dtypes=HALF,
                        name=name))
    out.append(Case(lambda x, w: depthwise_conv.depthwise_conv2d(x, w, [1, 1, 1, 1], "SAME", rate=[2, 2]),
                    [R.randn(1, 7, 7, 2), R.randn(3, 3, 2, 2)],
                    lambda x, w: ref_depthwise(x, w, d=(2, 2)), name="depthwise_conv2d_rate"))
    return out


@samples("DepthwiseConv2dNativeBackpropInput")
def _depthwise_backprop_input():
    out = []
    for spec in _DEPTHWISE:
        name, xs, ws, ys, kw, rk = _dw_args(spec)
        out.append(Case(lambda w, dy, xs=xs, kw=kw: depthwise_conv.depthwise_conv2d_native_backprop_input(
            list(xs), w, dy, **kw), [R.randn(*ws), R.randn(*ys)],
            lambda w, dy, xs=xs, rk=rk: ref_depthwise_backprop_input(xs, w, dy, **rk), dtypes=HALF, name=name))
    return out


@samples("DepthwiseConv2dNativeBackpropFilter")
def _depthwise_backprop_filter():
    out = []
    for spec in _DEPTHWISE:
        name, xs, ws, ys, kw, rk = _dw_args(spec)
        out.append(Case(lambda x, dy, ws=ws, kw=kw: depthwise_conv.depthwise_conv2d_native_backprop_filter(
            x, list(ws), dy, **kw), [R.randn(*xs), R.randn(*ys)],
            lambda x, dy, ws=ws, rk=rk: ref_depthwise_backprop_filter(x, ws, dy, **rk), dtypes=HALF, name=name))
    return out


# -- Conv3D -----------------------------------------------------------------------------------------
def _geom3(sizes, k, s, d, padding):
    outs, before = zip(*[_geom(*dim, padding) for dim in zip(sizes, k, s, d)])
    return list(outs), list(before)


def _windows3(sizes, k, s, d, padding):
    """Yields (out index, [(filter offset, input index) for each in-bounds window element, row-major])."""
    outs, before = _geom3(sizes, k, s, d, padding)
    for o in itertools.product(*[range(v) for v in outs]):
        els = []
        for off in itertools.product(*[range(v) for v in k]):
            idx = tuple(o[i] * s[i] - before[i] + off[i] * d[i] for i in range(3))
            if all(0 <= idx[i] < sizes[i] for i in range(3)):
                els.append((off, idx))
        yield o, els


def _ndhwc(a, fmt):
    return a.transpose(0, 2, 3, 4, 1) if fmt == "NCDHW" else a


def _back3(a, fmt):
    return a.transpose(0, 4, 1, 2, 3) if fmt == "NCDHW" else a


def ref_conv3d(x, w, s, padding, d=(1, 1, 1), fmt="NDHWC"):
    xn = _ndhwc(x, fmt).astype(np.float64)
    outs, _ = _geom3(xn.shape[1:4], w.shape[:3], s, d, padding)
    out = np.zeros((xn.shape[0], *outs, w.shape[4]))
    for o, els in _windows3(xn.shape[1:4], w.shape[:3], s, d, padding):
        for off, idx in els:
            out[(slice(None),) + o] += xn[(slice(None),) + idx] @ w[off].astype(np.float64)
    return _back3(out, fmt).astype(x.dtype)


def ref_conv3d_backprop_input(xshape, w, dy, s, padding, d=(1, 1, 1), fmt="NDHWC"):
    dyn = _ndhwc(dy, fmt).astype(np.float64)
    xs = _ndhwc(np.empty(xshape), fmt).shape
    dx = np.zeros(xs)
    for o, els in _windows3(xs[1:4], w.shape[:3], s, d, padding):
        for off, idx in els:
            dx[(slice(None),) + idx] += dyn[(slice(None),) + o] @ w[off].astype(np.float64).T
    return _back3(dx, fmt).astype(dy.dtype)


def ref_conv3d_backprop_filter(x, fshape, dy, s, padding, d=(1, 1, 1), fmt="NDHWC"):
    xn, dyn = _ndhwc(x, fmt).astype(np.float64), _ndhwc(dy, fmt).astype(np.float64)
    dw = np.zeros(fshape)
    for o, els in _windows3(xn.shape[1:4], fshape[:3], s, d, padding):
        for off, idx in els:
            dw[off] += xn[(slice(None),) + idx].T @ dyn[(slice(None),) + o]
    return dw.astype(x.dtype)


def _fmt5(shape, fmt):
    return (shape[0], shape[4], shape[1], shape[2], shape[3]) if fmt == "NCDHW" else tuple(shape)


def _full5(v, fmt):
    return [1, 1, *v] if fmt == "NCDHW" else [1, *v, 1]


# (name, x shape NDHWC, filter shape, strides, padding, dilations, data_format)
_CONV3D = [
    ("same_s1", (2, 4, 5, 3, 2), (2, 3, 2, 2, 3), (1, 1, 1), "SAME", (1, 1, 1), "NDHWC"),
    ("same_s2", (1, 5, 4, 5, 2), (3, 2, 3, 2, 2), (2, 2, 1), "SAME", (1, 1, 1), "NDHWC"),
    ("valid_leftover", (2, 5, 5, 4, 1), (2, 2, 2, 1, 2), (2, 1, 2), "VALID", (1, 1, 1), "NDHWC"),
    ("dilated", (1, 5, 5, 4, 2), (2, 2, 2, 2, 2), (1, 1, 1), "SAME", (2, 1, 2), "NDHWC"),
    ("ncdhw", (2, 3, 4, 3, 2), (2, 2, 2, 2, 3), (1, 2, 1), "SAME", (1, 1, 1), "NCDHW"),
]


def _c3_args(spec):
    name, xs, ws, s, padding, d, fmt = spec
    outs, _ = _geom3(xs[1:4], ws[:3], s, d, padding)
    kw = dict(strides=_full5(s, fmt), padding=padding, dilations=_full5(d, fmt), data_format=fmt)
    rk = dict(s=s, padding=padding, d=d, fmt=fmt)
    return name, _fmt5(xs, fmt), ws, _fmt5((xs[0], *outs, ws[4]), fmt), kw, rk


@samples("Conv3D")
def _conv3d():
    out = []
    for spec in _CONV3D:
        name, xs, ws, _, kw, rk = _c3_args(spec)
        out.append(Case(lambda x, w, kw=kw: conv3d_conv.conv3d(x, w, **kw), [R.randn(*xs), R.randn(*ws)],
                        lambda x, w, rk=rk: ref_conv3d(x, w, **rk), dtypes=HALF, name=name))
    return out


@samples("Conv3DBackpropInputV2")
def _conv3d_backprop_input():
    out = []
    for spec in _CONV3D:
        name, xs, ws, ys, kw, rk = _c3_args(spec)
        out.append(Case(lambda w, dy, xs=xs, kw=kw: make_tensor(
            "Conv3DBackpropInputV2", [tf.constant(list(xs)), w, dy], kw),
            [R.randn(*ws), R.randn(*ys)], lambda w, dy, xs=xs, rk=rk: ref_conv3d_backprop_input(xs, w, dy, **rk),
            dtypes=HALF, name=name))
    out.append(Case(lambda x, w: tf.nn.conv3d_transpose(x, w, [1, 4, 6, 5, 2], [1, 2, 2, 2, 1], "SAME"),
                    [R.randn(1, 2, 3, 3, 3), R.randn(2, 3, 3, 2, 3)],
                    lambda x, w: ref_conv3d_backprop_input((1, 4, 6, 5, 2), w, x, (2, 2, 2), "SAME"),
                    name="conv3d_transpose"))
    return out


@samples("Conv3DBackpropFilterV2")
def _conv3d_backprop_filter():
    out = []
    for spec in _CONV3D:
        name, xs, ws, ys, kw, rk = _c3_args(spec)
        out.append(Case(lambda x, dy, ws=ws, kw=kw: conv3d_conv.conv3d_backprop_filter_v2(x, list(ws), dy, **kw),
                        [R.randn(*xs), R.randn(*ys)],
                        lambda x, dy, ws=ws, rk=rk: ref_conv3d_backprop_filter(x, ws, dy, **rk), dtypes=HALF,
                        name=name))
    return out


# -- 3-D pooling ------------------------------------------------------------------------------------
def _pool3_loop(x, k, s, padding, fmt, fn):
    xn = _ndhwc(x, fmt).astype(np.float64)
    outs, _ = _geom3(xn.shape[1:4], k, s, (1, 1, 1), padding)
    out = np.zeros((xn.shape[0], *outs, xn.shape[4]))
    for o, els in _windows3(xn.shape[1:4], k, s, (1, 1, 1), padding):
        vals = np.stack([xn[(slice(None),) + idx] for _, idx in els])
        out[(slice(None),) + o] = fn(vals, els, o)
    return _back3(out, fmt)


def ref_max_pool3d(x, k, s, padding, fmt="NDHWC"):
    return _pool3_loop(x, k, s, padding, fmt, lambda v, *_: v.max(axis=0)).astype(x.dtype)


def ref_avg_pool3d(x, k, s, padding, fmt="NDHWC"):
    return _pool3_loop(x, k, s, padding, fmt, lambda v, *_: v.mean(axis=0)).astype(x.dtype)


def ref_max_pool3d_grad(x, g, k, s, padding, fmt="NDHWC"):
    """TF's CPU rule: each window's gradient goes to every element equal to its max."""
    xn, gn = _ndhwc(x, fmt).astype(np.float64), _ndhwc(g, fmt).astype(np.float64)
    dx = np.zeros(xn.shape)
    for o, els in _windows3(xn.shape[1:4], k, s, (1, 1, 1), padding):
        vals = np.stack([xn[(slice(None),) + idx] for _, idx in els])
        m = vals.max(axis=0)
        for (_, idx), v in zip(els, vals):
            dx[(slice(None),) + idx] += np.where(v == m, gn[(slice(None),) + o], 0)
    return _back3(dx, fmt).astype(g.dtype)


def ref_max_pool3d_grad_grad(x, gg, k, s, padding, fmt="NDHWC"):
    ggn = _ndhwc(gg, fmt).astype(np.float64)

    def pick(vals, els, o):
        m = vals.max(axis=0)
        return sum(np.where(v == m, ggn[(slice(None),) + idx], 0) for (_, idx), v in zip(els, vals))
    return _pool3_loop(x, k, s, padding, fmt, pick).astype(gg.dtype)


def ref_avg_pool3d_grad(xshape, g, k, s, padding, fmt="NDHWC"):
    gn = _ndhwc(g, fmt).astype(np.float64)
    xs = _ndhwc(np.empty(xshape), fmt).shape
    dx = np.zeros(xs)
    for o, els in _windows3(xs[1:4], k, s, (1, 1, 1), padding):
        for _, idx in els:
            dx[(slice(None),) + idx] += gn[(slice(None),) + o] / len(els)
    return _back3(dx, fmt).astype(g.dtype)


# (name, x shape NDHWC, ksize, strides, padding, data_format)
_POOL3D = [
    ("2_s2_same", (2, 4, 5, 3, 2), (2, 2, 2), (2, 2, 2), "SAME", "NDHWC"),
    ("3_s12_same", (1, 5, 4, 4, 2), (3, 2, 3), (1, 2, 2), "SAME", "NDHWC"),
    ("valid_leftover", (2, 5, 4, 5, 1), (2, 3, 2), (2, 1, 3), "VALID", "NDHWC"),
    ("ncdhw", (1, 4, 3, 4, 3), (2, 2, 2), (1, 1, 2), "SAME", "NCDHW"),
]


def _p3_args(spec):
    name, xs, k, s, padding, fmt = spec
    outs, _ = _geom3(xs[1:4], k, s, (1, 1, 1), padding)
    kw = dict(ksize=_full5(k, fmt), strides=_full5(s, fmt), padding=padding, data_format=fmt)
    return name, _fmt5(xs, fmt), _fmt5((xs[0], *outs, xs[4]), fmt), kw, (k, s, padding, fmt)


@samples("MaxPool3D")
def _max_pool3d():
    out = []
    for spec in _POOL3D:
        name, xs, _, kw, ra = _p3_args(spec)
        out.append(Case(lambda x, kw=kw: pool3d.max_pool3d(x, **kw), [_distinct(xs, R) / 10],
                        lambda x, ra=ra: ref_max_pool3d(x, *ra), dtypes=HALF, name=name))
    return out


def _mp3(x, kw):
    return pool3d.max_pool3d(x, **kw)


@samples("MaxPool3DGrad")
def _max_pool3d_grad():
    out = []
    for spec in _POOL3D:
        name, xs, ys, kw, ra = _p3_args(spec)
        out.append(Case(lambda x, g, kw=kw: pool3d.max_pool3d_grad(x, _mp3(x, kw), g, **kw),
                        [_distinct(xs, R), R.randn(*ys)], lambda x, g, ra=ra: ref_max_pool3d_grad(x, g, *ra),
                        dtypes=HALF, name=name, wrt=[1]))
    ties = np.ones((1, 2, 4, 4, 1))
    kw = dict(ksize=[1, 2, 2, 2, 1], strides=[1, 2, 2, 2, 1], padding="VALID")
    out.append(Case(lambda x, g: pool3d.max_pool3d_grad(x, _mp3(x, kw), g, **kw), [ties, R.randn(1, 1, 2, 2, 1)],
                    lambda x, g: ref_max_pool3d_grad(x, g, (2, 2, 2), (2, 2, 2), "VALID"), grad=False,
                    name="ties_all_take"))
    return out


@samples("MaxPool3DGradGrad")
def _max_pool3d_grad_grad():
    out = []
    for spec in _POOL3D:
        name, xs, _, kw, ra = _p3_args(spec)
        out.append(Case(lambda x, gg, kw=kw: pool3d.max_pool3d_grad_grad(x, _mp3(x, kw), gg, **kw),
                        [_distinct(xs, R), R.randn(*xs)], lambda x, gg, ra=ra: ref_max_pool3d_grad_grad(x, gg, *ra),
                        dtypes=HALF, name=name, wrt=[1]))
    return out


@samples("AvgPool3D")
def _avg_pool3d():
    out = []
    for spec in _POOL3D:
        name, xs, _, kw, ra = _p3_args(spec)
        out.append(Case(lambda x, kw=kw: pool3d.avg_pool3d(x, **kw), [R.randn(*xs)],
                        lambda x, ra=ra: ref_avg_pool3d(x, *ra), dtypes=HALF, name=name))
    return out


@samples("AvgPool3DGrad")
def _avg_pool3d_grad():
    out = []
    for spec in _POOL3D:
        name, xs, ys, kw, ra = _p3_args(spec)
        out.append(Case(lambda g, xs=xs, kw=kw: pool3d.avg_pool3d_grad(list(xs), g, **kw), [R.randn(*ys)],
                        lambda g, xs=xs, ra=ra: ref_avg_pool3d_grad(xs, g, *ra), dtypes=HALF, name=name))
    return out


# -- MaxPoolWithArgmax ------------------------------------------------------------------------------
def ref_max_pool_with_argmax(x, k, s, padding, include_batch=False):
    n, h, w, c = x.shape

    def flat_index(v, els, b, ch):
        _, _, r, cc = els[_first_max(v)]
        return ((b * h + r) * w + cc) * c + ch if include_batch else (r * w + cc) * c + ch
    return ref_max_pool(x, k, s, padding), _pool_loop(x, k, s, padding, "NHWC", flat_index, np.int64)


# (name, x shape, ksize, strides, padding, include_batch_in_index)
_ARGMAX = [
    ("2x2_s2_same", (2, 5, 4, 3), (2, 2), (2, 2), "SAME", False),
    ("3x3_s2_overlap_batch", (2, 5, 6, 2), (3, 3), (2, 2), "SAME", True),
    ("2x3_valid", (1, 5, 7, 2), (2, 3), (1, 2), "VALID", False),
]


@samples("MaxPoolWithArgmax")
def _max_pool_with_argmax():
    out = []
    for name, xs, k, s, padding, inc in _ARGMAX:
        out.append(Case(lambda x, k=k, s=s, p=padding, inc=inc: list(pool_argmax.max_pool_with_argmax(
            x, k, s, p, include_batch_in_index=inc)), [_distinct(xs, R)],
            lambda x, k=k, s=s, p=padding, inc=inc: list(ref_max_pool_with_argmax(x, k, s, p, inc)), dtypes=HALF,
            name=name))
    ties = np.array([[1, 1, 0, 2], [1, 1, 2, 2], [3, 0, 5, 5], [0, 3, 5, 5]], np.float64).reshape(1, 4, 4, 1)
    out.append(Case(lambda x: list(pool_argmax.max_pool_with_argmax(x, 2, 2, "VALID", Targmax=tf.int32)), [ties],
                    lambda x: [a.astype(t) for a, t in zip(ref_max_pool_with_argmax(x, (2, 2), (2, 2), "VALID"),
                                                           (x.dtype, np.int32))],
                    grad=False, name="ties_int32"))
    out.append(Case(lambda x: pool_argmax.max_pool_with_argmax(x, 2, 2, "SAME")[0],
                    [R.randint(-50, 50, (1, 3, 3, 2)).astype(np.int32)],
                    lambda x: ref_max_pool_with_argmax(x, (2, 2), (2, 2), "SAME")[0], grad=False, name="int32"))
    return out


def _argmax_grad_ref(x, g, k, s, padding, inc):
    _, arg = ref_max_pool_with_argmax(x, k, s, padding, inc)
    n = x.shape[0]
    per = x[0].size
    idx = arg if inc else arg + (np.arange(n) * per)[:, None, None, None]
    dx = np.zeros(x.size)
    np.add.at(dx, idx.ravel(), g.astype(np.float64).ravel())
    return dx.reshape(x.shape).astype(g.dtype)


@samples("MaxPoolGradWithArgmax")
def _max_pool_grad_with_argmax():
    out = []
    for name, xs, k, s, padding, inc in _ARGMAX:
        oh, ow = _out_hw(xs[1:3], k, s, (1, 1), padding)

        def build(x, g, k=k, s=s, p=padding, inc=inc):
            y = pool_argmax.max_pool_with_argmax(x, k, s, p, include_batch_in_index=inc)[0]
            return tf.gradients(y, x, grad_ys=g)[0]
        out.append(Case(build, [_distinct(xs, R), R.randn(xs[0], oh, ow, xs[3])],
                        lambda x, g, k=k, s=s, p=padding, inc=inc: _argmax_grad_ref(x, g, k, s, p, inc),
                        dtypes=HALF, name=name, wrt=[1]))
    return out


@samples("MaxPoolGradGradWithArgmax")
def _max_pool_grad_grad_with_argmax():
    out = []
    for name, xs, k, s, padding, inc in _ARGMAX:
        def build(x, gg, k=k, s=s, p=padding, inc=inc):
            y, arg = pool_argmax.max_pool_with_argmax(x, k, s, p, include_batch_in_index=inc)
            g = tf.zeros_like(y)
            dx = make_tensor("MaxPoolGradWithArgmax", [x, g, arg], {
                "ksize": y.op.get_attr("ksize"), "strides": y.op.get_attr("strides"), "padding": p,
                "include_batch_in_index": inc, "Targmax": tf.int64})
            return tf.gradients(dx, g, grad_ys=gg)[0]

        def ref(x, gg, k=k, s=s, p=padding, inc=inc):
            _, arg = ref_max_pool_with_argmax(x, k, s, p, inc)
            idx = arg if inc else arg + (np.arange(x.shape[0]) * x[0].size)[:, None, None, None]
            return gg.ravel()[idx]
        out.append(Case(build, [_distinct(xs, R), R.randn(*xs)], ref, dtypes=HALF, name=name, wrt=[1]))
    return out
