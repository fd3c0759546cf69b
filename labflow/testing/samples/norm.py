"""Samples for the normalization ops: LRN / LRNGrad and FusedBatchNorm (V1, V2, V3) with their grad ops.

References are written from the formulas (loops over the depth window for LRN; NumPy moments for batch norm).
"""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow import dtypes as _dt
from labflow.ops import norm_ops
from labflow.ops.common import make_op
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(23)
HALF = (_dt.float16, _dt.float32, _dt.float64)


# -- LRN --------------------------------------------------------------------------------------------
def _sqr_sum(x, r):
    c = x.shape[-1]
    out = np.zeros_like(x)
    for d in range(c):
        out[..., d] = np.sum(x[..., max(0, d - r):min(c, d + r + 1)] ** 2, axis=-1)
    return out


def ref_lrn(x, r=5, bias=1.0, alpha=1.0, beta=0.5):
    x64 = x.astype(np.float64)
    return (x64 / (bias + alpha * _sqr_sum(x64, r)) ** beta).astype(x.dtype)


def ref_lrn_grad(g, x, r=5, bias=1.0, alpha=1.0, beta=0.5):
    """TF's LRNGradOp loop: each output j spreads its gradient over the inputs k of its window."""
    g64, x64 = g.astype(np.float64), x.astype(np.float64)
    norm = bias + alpha * _sqr_sum(x64, r)
    y = x64 / norm ** beta
    dx = np.zeros_like(x64)
    c = x.shape[-1]
    for j in range(c):
        for k in range(max(0, j - r), min(c, j + r + 1)):
            d = -2 * alpha * beta * x64[..., k] * y[..., j] / norm[..., j]
            if k == j:
                d = d + norm[..., j] ** -beta
            dx[..., k] += d * g64[..., j]
    return dx.astype(g.dtype)


_LRNS = [("defaults", {}), ("r2_alexnet", dict(depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75)),
         ("r1_wide", dict(depth_radius=1, bias=1.0, alpha=0.5, beta=0.6)),
         ("r0", dict(depth_radius=0, bias=0.5, alpha=2.0, beta=1.0))]


def _ref_kw(kw):
    return dict(r=kw.get("depth_radius", 5), bias=kw.get("bias", 1.0), alpha=kw.get("alpha", 1.0),
                beta=kw.get("beta", 0.5))


@samples("LRN")
def _lrn():
    out = [Case(lambda x, kw=kw: norm_ops.lrn(x, **kw), [R.randn(2, 3, 4, 7)],
                lambda x, kw=kw: ref_lrn(x, **_ref_kw(kw)), dtypes=HALF, name=name, rtol=1e-4, atol=1e-5)
           for name, kw in _LRNS]
    out.append(Case(lambda x: norm_ops.local_response_normalization(x, 3), [R.randn(1, 2, 2, 3)],
                    lambda x: ref_lrn(x, 3), name="alias_radius_over_depth"))
    return out


@samples("LRNGrad")
def _lrn_grad():
    def build(g, x, kw):
        return tf.gradients(norm_ops.lrn(x, **kw), x, grad_ys=g)[0]
    return [Case(lambda g, x, kw=kw: build(g, x, kw), [R.randn(2, 2, 3, 6), R.randn(2, 2, 3, 6)],
                 lambda g, x, kw=kw: ref_lrn_grad(g, x, **_ref_kw(kw)), dtypes=HALF, name=name, grad=False,
                 rtol=1e-4, atol=1e-5)
            for name, kw in _LRNS]


# -- FusedBatchNorm ---------------------------------------------------------------------------------
def _c_last(a, fmt):
    return np.moveaxis(a, 1, -1) if fmt.startswith("NC") else a


def _c_back(a, fmt):
    return np.moveaxis(a, -1, 1) if fmt.startswith("NC") else a


def ref_bn(x, scale, offset, mean, var, eps, fmt, training, factor=1.0):
    """[y, batch_mean, batch_var, reserve_1, reserve_2] of a fused batch norm."""
    xc = _c_last(x, fmt).astype(np.float64)
    axes = tuple(range(xc.ndim - 1))
    if training:
        bm, bv = xc.mean(axis=axes), xc.var(axis=axes)
        n = xc.size // xc.shape[-1]
        unbiased = bv * n / max(n - 1, 1)
        if factor != 1.0:
            run_m, run_v = (1 - factor) * mean + factor * bm, (1 - factor) * var + factor * unbiased
        else:
            run_m, run_v = bm, unbiased
        use_m, use_v, saved = bm, bv, (bm, bv)
    else:
        use_m, use_v = mean.astype(np.float64), var.astype(np.float64)
        run_m, run_v, saved = use_m, use_v, (use_m, use_v)
    y = (xc - use_m) / np.sqrt(use_v + eps) * scale + offset
    u = scale.dtype
    return [_c_back(y, fmt).astype(x.dtype), run_m.astype(u), run_v.astype(u), saved[0].astype(u),
            saved[1].astype(u)]


def ref_bn_grad(dy, x, scale, mean, var, eps, fmt, training):
    g, xc = _c_last(dy, fmt).astype(np.float64), _c_last(x, fmt).astype(np.float64)
    axes = tuple(range(xc.ndim - 1))
    n = xc.size // xc.shape[-1]
    rstd = 1 / np.sqrt(var.astype(np.float64) + eps)
    xhat = (xc - mean) * rstd
    dscale, doff = (g * xhat).sum(axis=axes), g.sum(axis=axes)
    if training:
        dx = scale * rstd * (g - doff / n - xhat * dscale / n)
    else:
        dx = g * scale * rstd
    u = scale.dtype
    return [_c_back(dx, fmt).astype(x.dtype), dscale.astype(u), doff.astype(u)]


def _bn_inputs(xshape, fmt):
    c = xshape[1] if fmt.startswith("NC") else xshape[-1]
    return [R.randn(*xshape) * 2 + 0.5, R.rand(c) + 0.5, R.randn(c), R.randn(c) * 0.1, R.rand(c) + 0.5]


# (name, op type, x shape, format, is_training, epsilon, exponential_avg_factor)
_BNS = [
    ("train_nhwc", "FusedBatchNormV3", (2, 3, 4, 3), "NHWC", True, 1e-3, 1.0),
    ("train_nchw", "FusedBatchNormV3", (2, 3, 4, 5), "NCHW", True, 1e-3, 1.0),
    ("infer_nhwc", "FusedBatchNormV3", (2, 3, 2, 4), "NHWC", False, 1e-3, 1.0),
    ("infer_nchw", "FusedBatchNormV3", (3, 2, 2, 3), "NCHW", False, 1e-4, 1.0),
    ("train_avg_factor", "FusedBatchNormV3", (2, 2, 3, 3), "NHWC", True, 1e-3, 0.3),
    ("train_ndhwc", "FusedBatchNormV3", (2, 2, 3, 2, 3), "NDHWC", True, 1e-3, 1.0),
    ("train_v1", "FusedBatchNorm", (2, 3, 3, 2), "NHWC", True, 1e-4, 1.0),
    ("infer_v1", "FusedBatchNorm", (2, 3, 3, 2), "NCHW", False, 1e-4, 1.0),
    ("train_v2", "FusedBatchNormV2", (2, 3, 3, 2), "NHWC", True, 1e-3, 1.0),
    ("infer_v2", "FusedBatchNormV2", (2, 2, 3, 2), "NHWC", False, 1e-3, 1.0),
]


def _bn_op(op_type, x, scale, offset, mean, var, fmt, training, eps, factor):
    attrs = {"epsilon": eps, "data_format": fmt, "is_training": training}
    if op_type == "FusedBatchNormV3":
        attrs["exponential_avg_factor"] = factor
    if op_type != "FusedBatchNorm":
        attrs["U"] = scale.dtype.base_dtype
    return make_op(op_type, [x, scale, offset, mean, var], attrs)


def _bn_samples(op_type):
    out = []
    for name, t, xs, fmt, training, eps, factor in _BNS:
        if t != op_type:
            continue
        dts = (_dt.float32, _dt.float64) if t == "FusedBatchNorm" else HALF
        ins = _bn_inputs(xs, fmt)
        if training and factor == 1.0:
            ins[3], ins[4] = np.zeros(0), np.zeros(0)

        def build(x, s, o, m, v, t=t, fmt=fmt, training=training, eps=eps, factor=factor):
            return _bn_op(t, x, s, o, m, v, fmt, training, eps, factor).outputs[:5]

        def ref(x, s, o, m, v, fmt=fmt, training=training, eps=eps, factor=factor):
            return ref_bn(x, s, o, m, v, eps, fmt, training, factor)

        def build_y(x, s, o, m, v, t=t, fmt=fmt, training=training, eps=eps, factor=factor):
            return _bn_op(t, x, s, o, m, v, fmt, training, eps, factor).outputs[0]

        out.append(Case(build, ins, ref, dtypes=dts, name=name, grad=False, rtol=1e-4, atol=1e-5))
        out.append(Case(build_y, ins, lambda *a, ref=ref: ref(*a)[0], dtypes=(_dt.float64,), name=name + "_y",
                        wrt=[0, 1, 2], rtol=1e-4, atol=1e-5))
    return out


@samples("FusedBatchNorm")
def _fused_batch_norm_v1():
    return _bn_samples("FusedBatchNorm")


@samples("FusedBatchNormV2")
def _fused_batch_norm_v2():
    return _bn_samples("FusedBatchNormV2")


@samples("FusedBatchNormV3")
def _fused_batch_norm_v3():
    out = _bn_samples("FusedBatchNormV3")
    out.append(Case(lambda x, s, o: norm_ops.fused_batch_norm(x, s, o, epsilon=1e-7),
                    _bn_inputs((2, 3, 3, 4), "NHWC")[:3],
                    lambda x, s, o: ref_bn(x, s, o, None, None, 1.001e-5, "NHWC", True)[:3],
                    name="public_min_epsilon", grad=False, rtol=1e-4, atol=1e-5))
    return out


_GRADS = {"FusedBatchNormGrad": "FusedBatchNorm", "FusedBatchNormGradV2": "FusedBatchNormV2",
          "FusedBatchNormGradV3": "FusedBatchNormV3"}


def _bn_grad_samples(grad_type):
    fwd = _GRADS[grad_type]
    out = []
    for name, t, xs, fmt, training, eps, factor in _BNS:
        if t != fwd or factor != 1.0:
            continue
        dts = (_dt.float32, _dt.float64) if t == "FusedBatchNorm" else HALF
        ins = [R.randn(*xs)] + _bn_inputs(xs, fmt)
        if training:
            ins[4], ins[5] = np.zeros(0), np.zeros(0)

        def build(dy, x, s, o, m, v, t=t, fmt=fmt, training=training, eps=eps):
            y = _bn_op(t, x, s, o, m, v, fmt, training, eps, 1.0).outputs[0]
            return tf.gradients(y, [x, s, o], grad_ys=dy)

        def ref(dy, x, s, o, m, v, fmt=fmt, training=training, eps=eps):
            if training:
                xc = _c_last(x, fmt).astype(np.float64)
                axes = tuple(range(xc.ndim - 1))
                m, v = xc.mean(axis=axes), xc.var(axis=axes)
            return ref_bn_grad(dy, x, s, m, v, eps, fmt, training)

        # second derivatives (TF's _BatchNormGradGrad), w.r.t. dy, x, scale and offset
        out.append(Case(build, ins, ref, dtypes=dts, name=name, wrt=[0, 1, 2, 3], rtol=1e-4, atol=1e-4,
                        grad_rtol=1e-4, grad_atol=1e-6))
    return out


@samples("FusedBatchNormGrad")
def _fused_batch_norm_grad_v1():
    return _bn_grad_samples("FusedBatchNormGrad")


@samples("FusedBatchNormGradV2")
def _fused_batch_norm_grad_v2():
    return _bn_grad_samples("FusedBatchNormGradV2")


@samples("FusedBatchNormGradV3")
def _fused_batch_norm_grad_v3():
    return _bn_grad_samples("FusedBatchNormGradV3")
