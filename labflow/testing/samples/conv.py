"""Samples for the convolution and pooling ops, against slow, obviously-correct loop references.

The references below loop over every output position and window element (fine for the tiny shapes
here, and independent of the strided-view kernels they check). Geometry follows TF's documented
rules: SAME gives ceil(in / stride) with the odd pad element at the bottom/right; VALID gives
ceil((in - eff + 1) / stride), eff = (k - 1) * dilation + 1.
"""

from __future__ import annotations

import math

import numpy as np

from labflow import dtypes as _dt
from labflow.ops import conv_ops, pool_ops
from labflow.ops.common import make_op
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(7)
HALF = (_dt.float16, _dt.float32, _dt.float64)


# -- references ------------------------------------------------------------------------------------
def _geom(size, k, s, d, padding, explicit=(0, 0)):
    eff = (k - 1) * d + 1
    if padding == "VALID":
        return math.ceil((size - eff + 1) / s), 0
    if padding == "SAME":
        out = math.ceil(size / s)
        return out, max((out - 1) * s + eff - size, 0) // 2
    return (size + explicit[0] + explicit[1] - eff) // s + 1, explicit[0]


def _windows(shape_hw, k, s, d, padding, explicit=((0, 0), (0, 0))):
    """Yields (i, j, [(a, b, r, c) for each in-bounds window element, row-major])."""
    (oh, pt), (ow, pl) = (_geom(shape_hw[0], k[0], s[0], d[0], padding, explicit[0]),
                          _geom(shape_hw[1], k[1], s[1], d[1], padding, explicit[1]))
    for i in range(oh):
        for j in range(ow):
            els = []
            for a in range(k[0]):
                for b in range(k[1]):
                    r, c = i * s[0] - pt + a * d[0], j * s[1] - pl + b * d[1]
                    if 0 <= r < shape_hw[0] and 0 <= c < shape_hw[1]:
                        els.append((a, b, r, c))
            yield i, j, els


def _out_hw(shape_hw, k, s, d, padding, explicit=((0, 0), (0, 0))):
    return (_geom(shape_hw[0], k[0], s[0], d[0], padding, explicit[0])[0],
            _geom(shape_hw[1], k[1], s[1], d[1], padding, explicit[1])[0])


def _nhwc(a, fmt):
    return a.transpose(0, 2, 3, 1) if fmt == "NCHW" else a


def _back(a, fmt):
    return a.transpose(0, 3, 1, 2) if fmt == "NCHW" else a


def ref_conv2d(x, w, s=(1, 1), padding="SAME", d=(1, 1), explicit=((0, 0), (0, 0)), fmt="NHWC"):
    xn = _nhwc(x, fmt).astype(np.float64)
    n, h, wd, _ = xn.shape
    oh, ow = _out_hw((h, wd), w.shape[:2], s, d, padding, explicit)
    out = np.zeros((n, oh, ow, w.shape[3]))
    for i, j, els in _windows((h, wd), w.shape[:2], s, d, padding, explicit):
        for a, b, r, c in els:
            out[:, i, j] += xn[:, r, c] @ w[a, b].astype(np.float64)
    return _back(out, fmt).astype(x.dtype)


def ref_conv2d_backprop_input(xshape, w, dy, s=(1, 1), padding="SAME", d=(1, 1),
                              explicit=((0, 0), (0, 0)), fmt="NHWC"):
    dyn = _nhwc(dy, fmt).astype(np.float64)
    n, h, wd, c = _nhwc(np.empty(xshape), fmt).shape
    dx = np.zeros((n, h, wd, c))
    for i, j, els in _windows((h, wd), w.shape[:2], s, d, padding, explicit):
        for a, b, r, cc in els:
            dx[:, r, cc] += dyn[:, i, j] @ w[a, b].astype(np.float64).T
    return _back(dx, fmt).astype(dy.dtype)


def ref_conv2d_backprop_filter(x, fshape, dy, s=(1, 1), padding="SAME", d=(1, 1),
                               explicit=((0, 0), (0, 0)), fmt="NHWC"):
    xn, dyn = _nhwc(x, fmt).astype(np.float64), _nhwc(dy, fmt).astype(np.float64)
    dw = np.zeros(fshape)
    for i, j, els in _windows(xn.shape[1:3], fshape[:2], s, d, padding, explicit):
        for a, b, r, c in els:
            dw[a, b] += xn[:, r, c].T @ dyn[:, i, j]
    return dw.astype(x.dtype)


def _pool_loop(x, k, s, padding, fmt, fn, out_dtype=None):
    xn = _nhwc(x, fmt)
    n, h, w, c = xn.shape
    oh, ow = _out_hw((h, w), k, s, (1, 1), padding)
    out = np.zeros((n, oh, ow, c), dtype=out_dtype or np.float64)
    for i, j, els in _windows((h, w), k, s, (1, 1), padding):
        for b in range(n):
            for ch in range(c):
                out[b, i, j, ch] = fn(np.array([xn[b, r, cc, ch] for _, _, r, cc in els]), els, b, ch)
    return out


def ref_max_pool(x, k, s, padding, fmt="NHWC"):
    return _back(_pool_loop(x, k, s, padding, fmt, lambda v, *_: v.max(), x.dtype), fmt)


def ref_avg_pool(x, k, s, padding, fmt="NHWC"):
    return _back(_pool_loop(x, k, s, padding, fmt, lambda v, *_: v.astype(np.float64).mean()), fmt).astype(
        x.dtype)


def _first_max(v):
    return int(np.argmax(v))  # np.argmax returns the first of tied maxima: TF's row-major rule


def ref_max_pool_grad(x, g, k, s, padding, fmt="NHWC"):
    xn, gn = _nhwc(x, fmt), _nhwc(g, fmt).astype(np.float64)
    dx = np.zeros(xn.shape)
    n, h, w, c = xn.shape
    for i, j, els in _windows((h, w), k, s, (1, 1), padding):
        for b in range(n):
            for ch in range(c):
                v = np.array([xn[b, r, cc, ch] for _, _, r, cc in els])
                _, _, r, cc = els[_first_max(v)]
                dx[b, r, cc, ch] += gn[b, i, j, ch]
    return _back(dx, fmt).astype(g.dtype)


def ref_max_pool_grad_grad(x, gg, k, s, padding, fmt="NHWC"):
    ggn = _nhwc(gg, fmt)

    def pick(v, els, b, ch):
        _, _, r, c = els[_first_max(v)]
        return ggn[b, r, c, ch]
    return _back(_pool_loop(x, k, s, padding, fmt, pick, gg.dtype), fmt)


def ref_avg_pool_grad(xshape, g, k, s, padding, fmt="NHWC"):
    gn = _nhwc(g, fmt).astype(np.float64)
    n, h, w, c = _nhwc(np.empty(xshape), fmt).shape
    dx = np.zeros((n, h, w, c))
    for i, j, els in _windows((h, w), k, s, (1, 1), padding):
        for _, _, r, cc in els:
            dx[:, r, cc] += gn[:, i, j] / len(els)
    return _back(dx, fmt).astype(g.dtype)


# -- conv samples ----------------------------------------------------------------------------------
# (name, x shape NHWC, filter shape, strides, padding, dilations, data_format)
_CONVS = [
    ("same_s1", (2, 7, 9, 3), (3, 3, 3, 4), (1, 1), "SAME", (1, 1), "NHWC"),
    ("same_s2_nonsquare", (2, 7, 9, 3), (3, 2, 3, 4), (2, 2), "SAME", (1, 1), "NHWC"),
    ("valid_s23", (2, 8, 9, 2), (2, 3, 2, 3), (2, 3), "VALID", (1, 1), "NHWC"),
    ("valid_leftover", (1, 8, 8, 2), (3, 3, 2, 2), (2, 2), "VALID", (1, 1), "NHWC"),
    ("dilated_same", (1, 8, 7, 2), (3, 3, 2, 3), (1, 1), "SAME", (2, 2), "NHWC"),
    ("dilated_valid_h", (2, 9, 6, 2), (2, 3, 2, 2), (1, 1), "VALID", (2, 1), "NHWC"),
    ("dilated_strided", (1, 9, 9, 2), (2, 2, 2, 2), (2, 2), "SAME", (2, 2), "NHWC"),
    ("explicit", (2, 6, 7, 2), (3, 3, 2, 3), (2, 1), [[0, 0], [1, 2], [0, 1], [0, 0]], (1, 1), "NHWC"),
    ("one_channel_5x5", (3, 8, 8, 1), (5, 5, 1, 4), (1, 1), "SAME", (1, 1), "NHWC"),
    ("one_channel_s2", (2, 9, 8, 1), (3, 3, 1, 2), (2, 2), "SAME", (1, 1), "NHWC"),
    ("pointwise", (2, 4, 5, 3), (1, 1, 3, 4), (1, 1), "VALID", (1, 1), "NHWC"),
    ("nchw", (2, 6, 5, 3), (3, 3, 3, 2), (1, 2), "SAME", (1, 1), "NCHW"),
    ("big_pad", (1, 3, 3, 2), (2, 2, 2, 2), (1, 1), [[0, 0], [3, 0], [0, 3], [0, 0]], (1, 1), "NHWC"),
    # From 8 input channels a stride-1 input gradient runs as a transposed convolution.
    ("tconv_same", (2, 6, 5, 8), (3, 3, 8, 3), (1, 1), "SAME", (1, 1), "NHWC"),
    ("tconv_dilated_valid", (1, 7, 8, 8), (2, 3, 8, 2), (1, 1), "VALID", (2, 1), "NHWC"),
    ("tconv_explicit", (1, 5, 5, 8), (3, 3, 8, 2), (1, 1), [[0, 0], [2, 0], [1, 1], [0, 0]], (1, 1), "NHWC"),
    ("tconv_big_pad", (1, 3, 3, 8), (2, 2, 8, 2), (1, 1), [[0, 0], [3, 0], [0, 3], [0, 0]], (1, 1), "NHWC"),
    ("tconv_nchw", (2, 5, 6, 8), (5, 3, 8, 2), (1, 1), "SAME", (1, 1), "NCHW"),
]


def _explicit(padding):
    if isinstance(padding, str):
        return padding, ((0, 0), (0, 0))
    return "EXPLICIT", (tuple(padding[1]), tuple(padding[2]))


def _xshape(xs, fmt):
    return (xs[0], xs[3], xs[1], xs[2]) if fmt == "NCHW" else xs


def _conv_case_args(spec):
    name, xs, ws, s, padding, d, fmt = spec
    mode, ex = _explicit(padding)
    oh, ow = _out_hw(xs[1:3], ws[:2], s, d, mode, ex)
    kw = dict(strides=list(s), padding=padding, dilations=list(d), data_format=fmt)
    rk = dict(s=s, padding=mode, d=d, explicit=ex, fmt=fmt)
    return name, _xshape(xs, fmt), ws, _xshape((xs[0], oh, ow, ws[3]), fmt), fmt, kw, rk


@samples("Conv2D")
def _conv2d():
    out = []
    for i, spec in enumerate(_CONVS):
        name, xs, ws, _, _, kw, rk = _conv_case_args(spec)
        dts = HALF + ((_dt.bfloat16,) if i == 0 else ())
        out.append(Case(lambda x, w, kw=kw: conv_ops.conv2d(x, w, **kw),
                        [R.randn(*xs), R.randn(*ws)], lambda x, w, rk=rk: ref_conv2d(x, w, **rk),
                        dtypes=dts, name=name, rtol=1e-5, atol=1e-5))
    out.append(Case(lambda x, w: conv_ops.conv2d(x, filters=w, strides=2, padding="SAME"),
                    [R.randn(1, 5, 5, 2), R.randn(3, 3, 2, 2)],
                    lambda x, w: ref_conv2d(x, w, (2, 2)), name="int_strides_filters_kw"))
    return out


@samples("_FusedConv2D")
def _fused_conv2d():
    from labflow.ops.common import make_tensor

    def fused(x, w, b, kw, ops):  # the attrs of the Conv2D the fusion rewrite would replace
        conv = conv_ops.conv2d(x, w, **kw).op
        return make_tensor("_FusedConv2D", [x, w, b], dict(conv_ops._attrs_of(conv), fused_ops=ops))

    out = []
    for spec in [c for c in _CONVS if c[-1] == "NHWC"][:3]:
        name, xs, ws, _, _, kw, rk = _conv_case_args(spec)
        for ops in (["BiasAdd"], ["BiasAdd", "Relu"]):
            def ref(x, w, b, rk=rk, ops=ops):
                y = ref_conv2d(x, w, **rk) + b
                return np.maximum(y, 0) if "Relu" in ops else y
            out.append(Case(lambda x, w, b, kw=kw, ops=ops: fused(x, w, b, kw, ops),
                            [R.randn(*xs), R.randn(*ws), R.randn(ws[3])], ref, name=f"{name}_{'_'.join(ops)}",
                            grad=False, rtol=1e-5, atol=1e-5))
    return out


@samples("Conv2DBackpropInput")
def _conv2d_backprop_input():
    out = []
    for spec in _CONVS:
        name, xs, ws, ys, _, kw, rk = _conv_case_args(spec)
        out.append(Case(lambda w, dy, xs=xs, kw=kw: conv_ops.conv2d_backprop_input(list(xs), w, dy, **kw),
                        [R.randn(*ws), R.randn(*ys)],
                        lambda w, dy, xs=xs, rk=rk: ref_conv2d_backprop_input(xs, w, dy, **rk),
                        dtypes=HALF, name=name))
    out.append(Case(lambda x, w: conv_ops.conv2d_transpose(x, w, [2, 8, 7, 3], strides=2, padding="SAME"),
                    [R.randn(2, 4, 4, 5), R.randn(3, 3, 3, 5)],
                    lambda x, w: ref_conv2d_backprop_input((2, 8, 7, 3), w, x, (2, 2)),
                    name="conv2d_transpose"))
    return out


@samples("Conv2DBackpropFilter")
def _conv2d_backprop_filter():
    out = []
    for spec in _CONVS:
        name, xs, ws, ys, _, kw, rk = _conv_case_args(spec)
        out.append(Case(lambda x, dy, ws=ws, kw=kw: conv_ops.conv2d_backprop_filter(x, list(ws), dy, **kw),
                        [R.randn(*xs), R.randn(*ys)],
                        lambda x, dy, ws=ws, rk=rk: ref_conv2d_backprop_filter(x, ws, dy, **rk),
                        dtypes=HALF, name=name))
    return out


# -- pool samples ----------------------------------------------------------------------------------
# (name, x shape NHWC, ksize, strides, padding, data_format)
_POOLS = [
    ("2x2_s2_same_even", (2, 6, 8, 3), (2, 2), (2, 2), "SAME", "NHWC"),
    ("2x2_s2_same_odd", (2, 7, 5, 2), (2, 2), (2, 2), "SAME", "NHWC"),
    ("3x3_s2_same_overlap", (2, 7, 6, 2), (3, 3), (2, 2), "SAME", "NHWC"),
    ("2x3_s12_valid", (1, 5, 8, 3), (2, 3), (1, 2), "VALID", "NHWC"),
    ("3x3_s3_valid_leftover", (1, 8, 7, 2), (3, 3), (3, 3), "VALID", "NHWC"),
    ("1x1_s3_gaps", (1, 7, 7, 2), (1, 1), (3, 3), "SAME", "NHWC"),
    ("nchw_same", (2, 5, 6, 3), (2, 2), (2, 1), "SAME", "NCHW"),
]


def _pool_args(spec):
    name, xs, k, s, padding, fmt = spec
    oh, ow = _out_hw(xs[1:3], k, s, (1, 1), padding)
    return name, _xshape(xs, fmt), _xshape((xs[0], oh, ow, xs[3]), fmt), dict(
        ksize=list(k), strides=list(s), padding=padding, data_format=fmt), (k, s, padding, fmt)


def _distinct(shape, rng=R):
    # Distinct values: no ties, so numerical gradients never cross a max switch.
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.25 + rng.rand(*shape) * 0.01


@samples("MaxPool")
def _max_pool():
    out = []
    for i, spec in enumerate(_POOLS):
        name, xs, _, kw, ra = _pool_args(spec)
        dts = HALF + ((_dt.bfloat16,) if i == 0 else ())
        out.append(Case(lambda x, kw=kw: conv_ops.max_pool(x, **kw), [_distinct(xs) / 10],
                        lambda x, ra=ra: ref_max_pool(x, *ra), dtypes=dts, name=name))
    out.append(Case(lambda x: conv_ops.max_pool2d(x, 2, 2, "SAME"),
                    [R.randint(-50, 50, (2, 5, 4, 3)).astype(np.int32)],
                    lambda x: ref_max_pool(x, (2, 2), (2, 2), "SAME"), grad=False, name="int32"))
    out.append(Case(lambda x: conv_ops.max_pool(x, [3], [1, 2], "VALID"),
                    [R.randint(-50, 50, (1, 6, 7, 2)).astype(np.int64)],
                    lambda x: ref_max_pool(x, (3, 3), (1, 2), "VALID"), grad=False, name="int64_list_forms"))
    return out


def _mpg(x, g, ksize, strides, padding, data_format="NHWC"):
    y = conv_ops.max_pool(x, ksize, strides, padding, data_format)
    return pool_ops.max_pool_grad(x, y, g, ksize, strides, padding, data_format)


def _mpgg(x, gg, ksize, strides, padding, data_format="NHWC"):
    y = conv_ops.max_pool(x, ksize, strides, padding, data_format)
    return pool_ops.max_pool_grad_grad(x, y, gg, ksize, strides, padding, data_format)


@samples("MaxPoolGrad")
def _max_pool_grad():
    out = []
    for spec in _POOLS:
        name, xs, ys, kw, ra = _pool_args(spec)
        out.append(Case(lambda x, g, kw=kw: _mpg(x, g, **kw),
                        [_distinct(xs), R.randn(*ys)], lambda x, g, ra=ra: ref_max_pool_grad(x, g, *ra),
                        dtypes=HALF, name=name))
    # Ties: the first max of each window (row-major) takes the whole gradient, as in TF.
    ties = np.array([[1, 1, 0, 2], [1, 1, 2, 2], [3, 0, 5, 5], [0, 3, 5, 5]], np.float64).reshape(1, 4, 4, 1)
    out.append(Case(lambda x, g: _mpg(x, g, 2, 2, "VALID"), [ties, R.randn(1, 2, 2, 1)],
                    lambda x, g: ref_max_pool_grad(x, g, (2, 2), (2, 2), "VALID"),
                    grad=False, name="ties"))
    overlap_ties = np.ones((1, 5, 5, 2))
    out.append(Case(lambda x, g: _mpg(x, g, 3, 2, "SAME"), [overlap_ties, R.randn(1, 3, 3, 2)],
                    lambda x, g: ref_max_pool_grad(x, g, (3, 3), (2, 2), "SAME"), grad=False,
                    name="overlap_ties"))
    return out


def _fused_mpg(x, g, ksize, strides, padding, data_format="NHWC"):
    y = conv_ops.max_pool(x, ksize, strides, padding, data_format)
    attrs = dict(ksize=conv_ops.get_sequence(ksize, data_format, "ksize"),
                 strides=conv_ops.get_sequence(strides, data_format, "strides"), padding=padding,
                 data_format=data_format, fused_ops=["ReluGrad"])
    return make_op("_FusedMaxPoolGrad", [x, y, g], attrs).outputs[0]


@samples("_FusedMaxPoolGrad")
def _fused_max_pool_grad():
    # MaxPoolGrad then ReluGrad against x (what runtime/fusion.py fuses): x half negative, so the mask bites.
    out = []
    for spec in _POOLS:
        name, xs, ys, kw, ra = _pool_args(spec)
        x = _distinct(xs) - 0.125 * int(np.prod(xs))
        out.append(Case(lambda x, g, kw=kw: _fused_mpg(x, g, **kw), [x, R.randn(*ys)],
                        lambda x, g, ra=ra: ref_max_pool_grad(x, g, *ra) * (x > 0),
                        dtypes=HALF, name=name, grad=False))
    return out


@samples("MaxPoolGradGrad")
def _max_pool_grad_grad():
    out = []
    for spec in _POOLS:
        name, xs, _, kw, ra = _pool_args(spec)
        out.append(Case(lambda x, gg, kw=kw: _mpgg(x, gg, **kw), [_distinct(xs), R.randn(*xs)],
                        lambda x, gg, ra=ra: ref_max_pool_grad_grad(x, gg, *ra),
                        dtypes=HALF, name=name))
    return out


@samples("AvgPool")
def _avg_pool():
    out = []
    for spec in _POOLS:
        name, xs, _, kw, ra = _pool_args(spec)
        out.append(Case(lambda x, kw=kw: conv_ops.avg_pool(x, **kw), [R.randn(*xs)],
                        lambda x, ra=ra: ref_avg_pool(x, *ra), dtypes=HALF, name=name))
    out.append(Case(lambda x: conv_ops.avg_pool2d(x, [3, 2], 1, "SAME"), [R.randn(1, 4, 5, 2)],
                    lambda x: ref_avg_pool(x, (3, 2), (1, 1), "SAME"), name="avg_pool2d"))
    return out


@samples("AvgPoolGrad")
def _avg_pool_grad():
    out = []
    for spec in _POOLS:
        name, xs, ys, kw, ra = _pool_args(spec)
        out.append(Case(lambda g, xs=xs, kw=kw: pool_ops.avg_pool_grad(list(xs), g, **kw), [R.randn(*ys)],
                        lambda g, xs=xs, ra=ra: ref_avg_pool_grad(xs, g, *ra), dtypes=HALF, name=name))
    return out
