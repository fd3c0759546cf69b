"""Sweep samples for the tf.math extras: trigonometric/hyperbolic inverses, erf family, gamma family,
Bessel, incomplete gamma/beta, zeta/polygamma, zero-safe products, truncating division, NextAfter and
EuclideanNorm. References are NumPy/SciPy."""

from __future__ import annotations

import numpy as np
import scipy.special as sp

import labflow as tf
from labflow import dtypes as _dt
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(23)
F16 = (_dt.float16, _dt.float32, _dt.float64)
F32_64 = (_dt.float32, _dt.float64)


def u(lo, hi, *shape):
    return R.uniform(lo, hi, size=shape)


def _cast(fn):
    return lambda *a: np.asarray(fn(*a)).astype(a[-1].dtype)


def _unary(fn, ref, lo, hi, dtypes=F16, rtol=1e-5):
    return [Case(fn, [u(lo, hi, 3, 4)], _cast(ref), dtypes=dtypes, name="2d", rtol=rtol),
            Case(fn, [u(lo, hi, 5)], _cast(ref), dtypes=(_dt.float64,), name="1d", rtol=rtol)]


@samples("Acos")
def _acos():
    return _unary(tf.acos, np.arccos, -0.9, 0.9)


@samples("Asin")
def _asin():
    return _unary(tf.asin, np.arcsin, -0.9, 0.9)


@samples("Atan")
def _atan():
    return _unary(tf.atan, np.arctan, -3, 3)


@samples("Tan")
def _tan():
    return _unary(tf.tan, np.tan, -1.2, 1.2)


@samples("Sinh")
def _sinh():
    return _unary(tf.sinh, np.sinh, -3, 3)


@samples("Cosh")
def _cosh():
    return _unary(tf.cosh, np.cosh, -3, 3)


@samples("Asinh")
def _asinh():
    return _unary(tf.asinh, np.arcsinh, -3, 3)


@samples("Acosh")
def _acosh():
    return _unary(tf.acosh, np.arccosh, 1.2, 4)


@samples("Atanh")
def _atanh():
    return _unary(tf.atanh, np.arctanh, -0.9, 0.9)


@samples("Erf")
def _erf():
    return _unary(tf.erf, sp.erf, -2.5, 2.5)


@samples("Erfc")
def _erfc():
    return _unary(tf.erfc, sp.erfc, -2.5, 2.5)


@samples("Erfinv")
def _erfinv():
    return _unary(tf.math.erfinv, sp.erfinv, -0.95, 0.95, rtol=1e-4)


@samples("Lgamma")
def _lgamma():
    return _unary(tf.lgamma, sp.gammaln, 0.3, 6, rtol=1e-4)


@samples("Digamma")
def _digamma():
    return _unary(tf.digamma, sp.digamma, 0.5, 6, dtypes=F32_64, rtol=1e-4)


@samples("BesselI0e")
def _bessel_i0e():
    return _unary(tf.math.bessel_i0e, sp.i0e, -4, 4, dtypes=F32_64)


@samples("BesselI1e")
def _bessel_i1e():
    x = np.array([-2.0, -0.5, 0.3, 1.7, 3.1])
    return _unary(tf.math.bessel_i1e, sp.i1e, -4, 4, dtypes=F32_64) + [
        Case(tf.math.bessel_i1e, [np.array([0.0])], _cast(sp.i1e), grad=False, name="at_zero"),
        Case(lambda x: tf.gradients(tf.math.bessel_i1e(x), x)[0], [np.concatenate([x, [0.0]])],
             lambda x: np.where(x == 0, 0.5, sp.i0e(x) - sp.i1e(x) * (np.sign(x) + 1 / np.where(x == 0, 1, x))),
             dtypes=(_dt.float64,), grad=False, name="slope_at_zero_is_half")]


# -- binary -----------------------------------------------------------------------------------------
@samples("Atan2")
def _atan2():
    return [Case(tf.atan2, [u(-2, 2, 3, 4), u(0.5, 2, 3, 4) * np.sign(u(-1, 1, 3, 4))], _cast(np.arctan2),
                 dtypes=F16),
            Case(tf.atan2, [u(-2, 2, 2, 3), u(0.5, 2, 3)], _cast(np.arctan2), name="broadcast")]


@samples("Igamma")
def _igamma():
    return [Case(tf.igamma, [u(0.5, 4, 3, 4), u(0.2, 5, 3, 4)], _cast(sp.gammainc), dtypes=F32_64, rtol=1e-4,
                 grad_rtol=1e-4),
            Case(tf.igamma, [u(0.5, 4, 3, 1), u(0.2, 5, 4)], _cast(sp.gammainc), name="broadcast", rtol=1e-4,
                 grad_rtol=1e-4)]


@samples("Igammac")
def _igammac():
    return [Case(tf.igammac, [u(0.5, 4, 3, 4), u(0.2, 5, 3, 4)], _cast(sp.gammaincc), dtypes=F32_64, rtol=1e-4,
                 grad_rtol=1e-4)]


def _np_igamma_grad_a(a, x):
    a64, x64, h = a.astype(np.float64), x.astype(np.float64), 1e-5
    return ((sp.gammainc(a64 + h, x64) - sp.gammainc(a64 - h, x64)) / (2 * h)).astype(a.dtype)


@samples("IgammaGradA")
def _igamma_grad_a():
    from labflow.ops.math_helpers import T, apply
    return [Case(lambda a, x: apply("IgammaGradA", [("a", a, T), ("x", x, T)]),
                 [u(0.3, 6, 3, 4), np.concatenate([u(0.1, 20, 2, 4), np.zeros((1, 4))])],
                 _np_igamma_grad_a, dtypes=F32_64, rtol=1e-6, grad=False)]


@samples("Betainc")
def _betainc():
    return [Case(tf.betainc, [u(0.5, 3, 3, 4), u(0.5, 3, 3, 4), u(0.05, 0.95, 3, 4)], _cast(sp.betainc),
                 dtypes=F32_64, rtol=1e-4, wrt=[2]),
            Case(tf.betainc, [np.float64(2.0), np.float64(3.0), u(0.05, 0.95, 5)], _cast(sp.betainc),
                 name="scalar_ab", wrt=[2])]


@samples("Zeta")
def _zeta():
    return [Case(tf.zeta, [u(1.5, 4, 3, 4), u(0.5, 3, 3, 4)], _cast(sp.zeta), dtypes=F32_64, rtol=1e-4, wrt=[1])]


def _np_polygamma(a, x):
    return sp.polygamma(a.astype(int), x).astype(x.dtype)


@samples("Polygamma")
def _polygamma():
    return [Case(tf.polygamma, [np.array([[0.0], [1.0], [2.0]]), u(0.5, 4, 3, 4)], _np_polygamma,
                 dtypes=F32_64, rtol=1e-4, wrt=[1]),
            Case(tf.polygamma, [np.array([0.5, -1.0, 3.0]), np.array([1.0, 1.0, 2.0])],
                 lambda a, x: np.array([np.nan, np.nan, sp.polygamma(3, 2.0)], x.dtype), grad=False,
                 name="invalid_orders_nan", dtypes=(_dt.float64,))]


def _zero_at(x, frac=0.3):
    x = x.copy()
    x[R.uniform(size=x.shape) < frac] = 0
    return x


@samples("Xlogy")
def _xlogy():
    x = _zero_at(u(-2, 2, 3, 4))
    # d/dx is 0 where x == 0 by TF's definition, which a finite difference across 0 does not see
    return [Case(tf.math.xlogy, [x, u(0.5, 3, 3, 4)], _cast(sp.xlogy), dtypes=F16, wrt=[1]),
            Case(tf.math.xlogy, [u(-2, 2, 3, 4), u(0.5, 3, 4)], _cast(sp.xlogy), name="broadcast"),
            Case(tf.math.xlogy, [np.array([0.0, 0.0, 2.0]), np.array([0.0, np.nan, 3.0])],
                 lambda x, y: np.array([0, 0, 2 * np.log(3)], x.dtype), grad=False, name="zero_x")]


@samples("Xdivy")
def _xdivy():
    x = _zero_at(u(-2, 2, 3, 4))
    return [Case(tf.math.xdivy, [x, u(0.5, 3, 4)], _cast(lambda x, y: np.where(x == 0, 0, x / y)), dtypes=F16,
                 wrt=[1]),
            Case(tf.math.xdivy, [u(-2, 2, 3, 4), u(0.5, 3, 3, 4)], _cast(lambda x, y: x / y), name="nonzero"),
            Case(tf.math.xdivy, [np.array([0.0, 1.0]), np.array([0.0, 4.0])],
                 lambda x, y: np.array([0, 0.25], x.dtype), grad=False, name="zero_x")]


@samples("MulNoNan")
def _mul_no_nan():
    y = _zero_at(u(-2, 2, 3, 4))
    return [Case(tf.math.multiply_no_nan, [u(-2, 2, 3, 4), y], _cast(lambda x, y: np.where(y == 0, 0, x * y)),
                 dtypes=F16),
            Case(tf.math.multiply_no_nan, [np.array([np.inf, np.nan, 2.0]), np.array([0.0, 0.0, 3.0])],
                 lambda x, y: np.array([0, 0, 6], x.dtype), grad=False, name="nan_times_zero")]


@samples("TruncateDiv")
def _truncate_div():
    x, y = np.array([7, -7, 7, -7, 0], np.int32), np.array([2, 2, -2, -2, 3], np.int32)
    return [Case(tf.truncatediv, [x, y], lambda x, y: np.array([3, -3, -3, 3, 0], np.int32), grad=False),
            Case(tf.truncatediv, [u(-5, 5, 3, 4), u(0.5, 2, 3, 4)], _cast(lambda x, y: np.trunc(x / y)),
                 grad=False, name="float"),
            Case(tf.truncatediv, [x.astype(np.int64), np.int64(-3)],
                 lambda x, y: np.trunc(x / y).astype(np.int64), grad=False, name="int64_broadcast")]


@samples("TruncateMod")
def _truncate_mod():
    return [Case(tf.truncatemod, [np.array([7, -7, 7, -7], np.int32), np.array([3, 3, -3, -3], np.int32)],
                 lambda x, y: np.array([1, -1, 1, -1], np.int32), grad=False),
            Case(tf.truncatemod, [u(-5, 5, 3, 4), u(0.5, 2, 4)], _cast(np.fmod), grad=False, name="float")]


@samples("NextAfter")
def _next_after():
    return [Case(tf.math.nextafter, [u(-2, 2, 3, 4), u(-2, 2, 3, 4)], _cast(np.nextafter), dtypes=F32_64,
                 rtol=0, atol=0)]


@samples("EuclideanNorm")
def _euclidean_norm():
    x = u(-2, 2, 3, 4)
    return [Case(tf.math.reduce_euclidean_norm, [x], lambda x: np.sqrt(np.sum(x * x)).astype(x.dtype),
                 dtypes=F16, name="all"),
            Case(lambda x: tf.math.reduce_euclidean_norm(x, axis=1), [x],
                 lambda x: np.sqrt(np.sum(x * x, axis=1)).astype(x.dtype), name="axis1"),
            Case(lambda x: tf.math.reduce_euclidean_norm(x, axis=[0], keepdims=True), [x],
                 lambda x: np.sqrt(np.sum(x * x, axis=0, keepdims=True)).astype(x.dtype), name="keepdims")]


@samples("Xlog1py")
def _xlog1py():
    x = _zero_at(u(-2, 2, 3, 4))
    return [Case(tf.math.xlog1py, [x, u(-0.5, 3, 3, 4)], _cast(sp.xlog1py), dtypes=F16, wrt=[1]),
            Case(tf.math.xlog1py, [u(-2, 2, 3, 4), u(-0.5, 3, 4)], _cast(sp.xlog1py), name="broadcast")]


def _np_cumulative_logsumexp(x, axis=0, exclusive=False, reverse=False):
    y = np.flip(x, axis) if reverse else x
    out = np.logaddexp.accumulate(y.astype(np.float64), axis=axis)
    if exclusive:
        out = np.moveaxis(out, axis, 0)
        out = np.concatenate([np.full((1,) + out.shape[1:], -np.inf), out[:-1]])
        out = np.moveaxis(out, 0, axis)
    return (np.flip(out, axis) if reverse else out).astype(x.dtype)


@samples("CumulativeLogsumexp")
def _cumulative_logsumexp():
    x = u(-3, 3, 3, 5)
    wide = np.array([[-800.0, 1.0, 2.0, 700.0, 3.0]])
    return [Case(tf.math.cumulative_logsumexp, [x], _np_cumulative_logsumexp, dtypes=F16),
            Case(lambda x: tf.math.cumulative_logsumexp(x, axis=1, reverse=True), [x],
                 lambda x: _np_cumulative_logsumexp(x, 1, reverse=True), name="reverse"),
            Case(lambda x: tf.math.cumulative_logsumexp(x, axis=-1, exclusive=True), [x],
                 lambda x: _np_cumulative_logsumexp(x, 1, exclusive=True), name="exclusive", grad=False),
            Case(lambda x: tf.math.cumulative_logsumexp(x, axis=1), [wide],
                 lambda x: _np_cumulative_logsumexp(x, 1), name="wide_range", grad=False)]
