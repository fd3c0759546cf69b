"""Sweep samples for the quantized ops (quantized_ops.py, quantized_nn_ops.py, fake_quant_ops.py).

References are the scalar transcriptions of TF's C++ in quantized_reference.py. Quantized inputs enter as
plain integer placeholders and are cast to their quantized dtype inside the build (a quantized tensor's
value is the integer array itself). No numerical gradient cases: the quantized ops are not differentiable
and fake quantization's straight-through gradient is not the derivative of its step function (and it
is float32-only, as in TF); tests/tools/test_quantize.py checks those gradients against TF's rule.
"""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow.ops import quantized_ops as qo
from labflow.testing.op_sweep import Case, samples
from labflow.testing.samples import quantized_reference as ref
from labflow.testing.samples.conv import _pool_loop, ref_conv2d, ref_max_pool

R = np.random.RandomState(11)
F32 = (tf.float32,)
NP = {tf.quint8: np.uint8, tf.qint8: np.int8, tf.qint32: np.int32, tf.quint16: np.uint16, tf.qint16: np.int16}


def s(v: float) -> np.ndarray:
    return np.asarray(v, np.float32)


def codes(dt, *shape: int) -> np.ndarray:
    info = np.iinfo(NP[dt])
    lo, hi = max(int(info.min), -1000), min(int(info.max), 1000)
    return R.randint(lo, hi + 1, size=shape).astype(NP[dt])


def case(build, inputs, reference, name, **kw) -> Case:
    return Case(build, inputs, reference, dtypes=F32, grad=False, name=name, **kw)


# -- QuantizeV2 / Dequantize -------------------------------------------------------------------------------
_X = np.array([[-1.5, -1.0, -0.5, -0.25, 0.0], [0.1, 0.3, 0.5, 1.0, 2.5]], np.float32)


@samples("QuantizeV2")
def _quantize():
    out = []
    for t in (tf.quint8, tf.qint8, tf.qint32):
        for mode in qo.MODES:
            for lo, hi in ((-1.0, 1.0), (-0.3, 2.0), (0.0, 0.0)):
                out.append(case(lambda x, a, b, t=t, m=mode: qo.quantize(x, a, b, t, mode=m),
                                [_X * 1.7, s(lo), s(hi)],
                                lambda x, a, b, t=t, m=mode: ref.quantize_v2(x, float(a), float(b), NP[t], m),
                                f"{t.name}-{mode}-{lo}-{hi}"))
    for t in (tf.quint8, tf.qint8):
        ties = np.arange(-8, 9, dtype=np.float32) / 4  # codes land on .5 exactly: the rounding rule shows
        out.append(case(lambda x, a, b, t=t: qo.quantize(x, a, b, t, mode="SCALED", round_mode="HALF_TO_EVEN"),
                        [ties * 0.5, s(-1.0), s(127 / 64)],
                        lambda x, a, b, t=t: ref.quantize_v2(x, float(a), float(b), NP[t], "SCALED", "HALF_TO_EVEN"),
                        f"{t.name}-half_to_even"))
    return out


@samples("Dequantize")
def _dequantize():
    out = []
    for t in (tf.quint8, tf.qint8, tf.qint32):
        for mode in qo.MODES:
            out.append(case(lambda q, a, b, t=t, m=mode: qo.dequantize(tf.cast(q, t), a, b, mode=m),
                            [codes(t, 3, 4), s(-0.7), s(2.3)],
                            lambda q, a, b, m=mode: ref.dequantize(q, float(a), float(b), m), f"{t.name}-{mode}"))
    return out


# -- QuantizedMatMul, QuantizedBiasAdd, Requantize, RequantizationRange, QuantizedReshape -------------------
@samples("QuantizedMatMul")
def _quantized_matmul():
    out = []
    for ta, tb in ((False, False), (True, False), (False, True), (True, True)):
        a = codes(tf.quint8, *((5, 3) if ta else (3, 5)))
        b = codes(tf.quint8, *((4, 5) if tb else (5, 4)))
        out.append(case(lambda a, b, r0, r1, r2, r3, ta=ta, tb=tb: qo.quantized_mat_mul(
                            tf.cast(a, tf.quint8), tf.cast(b, tf.quint8), r0, r1, r2, r3, transpose_a=ta,
                            transpose_b=tb),
                        [a, b, s(-1.2), s(3.0), s(-0.5), s(0.25)],
                        lambda a, b, r0, r1, r2, r3, ta=ta, tb=tb: ref.quantized_matmul(
                            a, b, float(r0), float(r1), float(r2), float(r3), ta, tb), f"t{int(ta)}{int(tb)}"))
    return out


@samples("QuantizedBiasAdd")
def _quantized_bias_add():
    out = []
    for shape in ((3, 4), (2, 3, 3, 4)):
        out.append(case(lambda x, b, r0, r1, r2, r3: qo.quantized_bias_add(
                            tf.cast(x, tf.quint8), tf.cast(b, tf.quint8), r0, r1, r2, r3, tf.qint32),
                        [codes(tf.quint8, *shape), codes(tf.quint8, 4), s(-1.0), s(5.0), s(-0.2), s(0.3)],
                        lambda x, b, r0, r1, r2, r3: ref.bias_add(x, b, float(r0), float(r1), float(r2), float(r3)),
                        f"rank{len(shape)}"))
    return out


@samples("RequantizationRange")
def _requantization_range():
    return [case(lambda q, a, b: qo.requantization_range(tf.cast(q, tf.qint32), a, b),
                 [codes(tf.qint32, 4, 6) * 1000, s(-(2.0 ** 20)), s(2.0 ** 20)],
                 lambda q, a, b: ref.requantization_range(q, float(a), float(b)), "qint32")]


@samples("Requantize")
def _requantize():
    out = []
    for t in (tf.quint8, tf.qint8):
        for lo, hi in ((-3.0, 5.0), (0.0, 1.5)):
            out.append(case(lambda q, a, b, c, d, t=t: qo.requantize(tf.cast(q, tf.qint32), a, b, c, d, t),
                            [codes(tf.qint32, 4, 6) * 3000, s(-(2.0 ** 10)), s(2.0 ** 10), s(lo), s(hi)],
                            lambda q, a, b, c, d, t=t: (
                                ref.requantize(q, float(a), float(b), float(c), float(d), NP[t]), c, d),
                            f"{t.name}-{lo}-{hi}"))
    return out


@samples("QuantizedReshape")
def _quantized_reshape():
    return [case(lambda q, a, b: qo.quantized_reshape(tf.cast(q, tf.quint8), [3, -1], a, b),
                 [codes(tf.quint8, 2, 3, 2), s(-1.0), s(1.0)], lambda q, a, b: (q.reshape(3, -1), a, b), "reshape")]


# -- QuantizedConv2D, the ReLUs, the pools ------------------------------------------------------------------
def _ref_qconv(x, w, lo_x, hi_x, lo_w, hi_w, strides, padding):
    ox = ref.f2q_unclamped(0.0, lo_x, hi_x, x.dtype)
    ow = ref.f2q_unclamped(0.0, lo_w, hi_w, w.dtype)
    y = ref_conv2d(x.astype(np.int64) - ox, w.astype(np.int64) - ow, strides, padding)
    return (y.astype(np.int32), *ref.mult_range(lo_x, hi_x, x.dtype, lo_w, hi_w, w.dtype))


@samples("QuantizedConv2D")
def _quantized_conv2d():
    out = []
    for strides, padding in (((1, 1), "SAME"), ((2, 2), "SAME"), ((1, 1), "VALID"), ((2, 1), "VALID")):
        x, w = codes(tf.quint8, 2, 5, 6, 3), codes(tf.quint8, 3, 2, 3, 4)
        out.append(case(lambda x, w, r0, r1, r2, r3, st=strides, p=padding: qo.quantized_conv2d(
                            tf.cast(x, tf.quint8), tf.cast(w, tf.quint8), r0, r1, r2, r3, list(st), p),
                        [x, w, s(-0.4), s(6.0), s(-1.0), s(1.0)],
                        lambda x, w, r0, r1, r2, r3, st=strides, p=padding: _ref_qconv(
                            x, w, float(r0), float(r1), float(r2), float(r3), st, p), f"{padding}-{strides}"))
    return out


def _relu_cases(op_type, build, ref_hi):
    out = []
    for t in (tf.quint8, tf.qint32):
        out.append(case(lambda q, a, b, t=t: build(tf.cast(q, t), a, b, t),
                        [codes(t, 3, 5), s(-2.0), s(8.0)],
                        lambda q, a, b: (ref.relu(q, float(a), float(b), 0.0, ref_hi), a, b), f"{op_type}-{t.name}"))
    return out


@samples("QuantizedRelu")
def _quantized_relu():
    return _relu_cases("QuantizedRelu", lambda q, a, b, t: qo.quantized_relu(q, a, b, out_type=t), None)


@samples("QuantizedRelu6")
def _quantized_relu6():
    return _relu_cases("QuantizedRelu6", lambda q, a, b, t: qo.quantized_relu6(q, a, b, out_type=t), 6.0)


@samples("QuantizedReluX")
def _quantized_relu_x():
    return _relu_cases("QuantizedReluX", lambda q, a, b, t: qo.quantized_relu_x(q, 2.5, a, b, out_type=t), 2.5)


_POOLS = (((2, 2), (2, 2), "SAME", (2, 5, 5, 3)), ((3, 3), (2, 2), "SAME", (1, 6, 7, 2)),
          ((2, 3), (1, 2), "VALID", (2, 4, 5, 2)))


def _ref_avg(q, k, st, padding):
    trunc = lambda v, *_: int(v.astype(np.int64).sum() / len(v))  # noqa: E731 - C++ integer division
    return _pool_loop(q, k, st, padding, "NHWC", trunc, q.dtype)


def _pool_cases(op_type, wrapper, reference):
    out = []
    for t in (tf.quint8, tf.qint8):
        for k, st, padding, shape in _POOLS:
            out.append(case(lambda q, a, b, t=t, k=k, st=st, p=padding: wrapper(tf.cast(q, t), a, b, list(k),
                                                                                list(st), p),
                            [codes(t, *shape), s(-1.0), s(3.0)],
                            lambda q, a, b, k=k, st=st, p=padding: (reference(q, k, st, p), a, b),
                            f"{op_type}-{t.name}-{padding}-{k}"))
    return out


@samples("QuantizedMaxPool")
def _quantized_max_pool():
    return _pool_cases("QuantizedMaxPool", qo.quantized_max_pool, ref_max_pool)


@samples("QuantizedAvgPool")
def _quantized_avg_pool():
    return _pool_cases("QuantizedAvgPool", qo.quantized_avg_pool, _ref_avg)


# -- fake quantization ----------------------------------------------------------------------------------------
_FQ = np.concatenate([np.linspace(-7, 7, 29), [-0.05, 0.0, 0.0234, 5.99, 6.0, 6.01]]).astype(np.float32).reshape(5, 7)


@samples("FakeQuantWithMinMaxArgs")
def _fq_args():
    out = []
    for mn, mx, bits, narrow in ((-6.0, 6.0, 8, False), (-1.0, 3.5, 4, True), (0.5, 2.0, 8, False)):
        out.append(case(lambda x, mn=mn, mx=mx, b=bits, n=narrow: qo.fake_quant_with_min_max_args(x, mn, mx, b, n),
                        [_FQ], lambda x, mn=mn, mx=mx, b=bits, n=narrow: ref.fake_quant(x, mn, mx, b, n),
                        f"{mn}-{mx}-{bits}-{narrow}"))
    return out


@samples("FakeQuantWithMinMaxArgsGradient")
def _fq_args_grad():
    return [case(lambda g, x: qo.fake_quant_with_min_max_args_gradient(g, x, -1.0, 3.5, 4, True),
                 [R.randn(5, 7), _FQ], lambda g, x: ref.fake_quant_grad(g, x, -1.0, 3.5, 4, True)[0], "grad")]


_VARS = ((-6.0, 6.0, 8, False), (-1.0, 3.5, 4, True))


@samples("FakeQuantWithMinMaxVars")
def _fq_vars():
    return [case(lambda x, a, b, bits=bits, n=narrow: qo.fake_quant_with_min_max_vars(x, a, b, bits, n),
                 [_FQ, s(mn), s(mx)],
                 lambda x, a, b, bits=bits, n=narrow: ref.fake_quant(x, float(a), float(b), bits, n, False),
                 f"vars-{bits}") for mn, mx, bits, narrow in _VARS]


@samples("FakeQuantWithMinMaxVarsGradient")
def _fq_vars_grad():
    return [case(lambda g, x, a, b, bits=bits, n=narrow: qo.fake_quant_with_min_max_vars_gradient(g, x, a, b, bits, n),
                 [R.randn(5, 7), _FQ, s(mn), s(mx)],
                 lambda g, x, a, b, bits=bits, n=narrow: ref.fake_quant_grad(g, x, float(a), float(b), bits, n),
                 f"vars-grad-{bits}") for mn, mx, bits, narrow in _VARS]


def _per_channel_ref(x, mn, mx, g=None):
    cols = range(x.shape[-1])
    if g is None:
        return np.stack([ref.fake_quant(x[..., c], float(mn[c]), float(mx[c]), reciprocal=False) for c in cols], -1)
    parts = [ref.fake_quant_grad(g[..., c], x[..., c], float(mn[c]), float(mx[c])) for c in cols]
    return (np.stack([p[0] for p in parts], -1), np.array([p[1] for p in parts], np.float32),
            np.array([p[2] for p in parts], np.float32))


_MN = np.linspace(-6, -0.5, 7).astype(np.float32)
_MX = np.linspace(0.5, 6.5, 7).astype(np.float32)


@samples("FakeQuantWithMinMaxVarsPerChannel")
def _fq_per_channel():
    return [case(lambda x, a, b: qo.fake_quant_with_min_max_vars_per_channel(x, a, b), [_FQ, _MN, _MX],
                 _per_channel_ref, "per_channel")]


@samples("FakeQuantWithMinMaxVarsPerChannelGradient")
def _fq_per_channel_grad():
    return [case(lambda g, x, a, b: qo.fake_quant_with_min_max_vars_per_channel_gradient(g, x, a, b),
                 [R.randn(5, 7), _FQ, _MN, _MX], lambda g, x, a, b: _per_channel_ref(x, a, b, g), "per_channel_grad")]
