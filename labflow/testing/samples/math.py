"""Sweep samples for the elementwise math ops: arithmetic, comparisons, logical ops, casts, unary functions.

Reductions, scans, matmul and the broadcasting helpers are in math_reduce.py. String inputs (CPU-only
in TF too) are tested in tests/ops/test_math_ops.py, since every sample here also runs on the GPU.
Inputs are chosen away from the points where an op is not differentiable (|x| near 0, ties of
max/min, log/sqrt of non-positives, floor/mod jumps), so the numerical gradient checks are meaningful.
"""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow import dtypes as _dt
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(11)
F16 = (_dt.float16, _dt.float32, _dt.float64)


def _away(shape, margin=0.2):
    """Random values with |x| > margin."""
    x = R.randn(*shape)
    return np.where(x >= 0, x + margin, x - margin)


def _pos(shape, lo=0.5, hi=2.0):
    return R.uniform(lo, hi, shape)


# -- Add / Sub / Mul / AddN -------------------------------------------------------------------------
@samples("Add")
def _add():
    return [
        Case(tf.add, [R.randn(3, 1), R.randn(4)], np.add, dtypes=F16, name="broadcast_3x1_4"),
        Case(lambda a, b: a + b, [R.randn(2, 3), R.randn(2, 3)], np.add, dtypes=F16, name="operator"),
        Case(lambda a: 2.5 + a, [R.randn(2, 3)], lambda a: 2.5 + a, name="radd_python_scalar"),
        Case(tf.add, [R.randn(), R.randn(2, 2, 3)], np.add, name="scalar_and_rank3"),
        Case(tf.add, [np.array([[1, -2]], np.int32), np.array([[3], [4]], np.int32)], np.add,
             grad=False, name="int32"),
    ]


@samples("Sub")
def _sub():
    return [
        Case(tf.subtract, [R.randn(3, 1), R.randn(4)], np.subtract, dtypes=F16, name="broadcast"),
        Case(lambda a, b: a - b, [R.randn(2, 3), R.randn(3)], np.subtract, name="operator"),
        Case(lambda a: 1 - a, [R.randn(2, 3)], lambda a: 1 - a, name="rsub"),
        Case(tf.subtract, [np.array([5, -1], np.int64), np.array([7, 2], np.int64)], np.subtract,
             grad=False, name="int64"),
    ]


@samples("Mul")
def _mul():
    return [
        Case(tf.multiply, [R.randn(3, 1), R.randn(4)], np.multiply, dtypes=F16, name="broadcast"),
        Case(lambda a, b: a * b, [R.randn(2, 3), R.randn(2, 3)], np.multiply, name="operator"),
        Case(lambda a: tf.scalar_mul(3.0, a), [R.randn(4)], lambda a: 3 * a, name="scalar_mul"),
        Case(tf.multiply, [np.array([[2, -3]], np.int32), np.array([4, 5], np.int32)], np.multiply,
             grad=False, name="int32"),
    ]


@samples("AddN")
def _add_n():
    return [
        Case(lambda a, b, c: tf.add_n([a, b, c]), [R.randn(2, 3), R.randn(2, 3), R.randn(2, 3)],
             lambda a, b, c: a + b + c, dtypes=F16, name="three"),
        Case(lambda a, b: tf.add_n([a, b]), [R.randn(), R.randn()], lambda a, b: a + b, name="scalars"),
        Case(lambda a, b: tf.add_n([a, b, a]), [np.array([1, 2], np.int32), np.array([3, 4], np.int32)],
             lambda a, b: a + b + a, grad=False, name="int32"),
    ]


# -- division ---------------------------------------------------------------------------------------
@samples("RealDiv")
def _real_div():
    return [
        Case(tf.divide, [R.randn(3, 1), _away((4,), 0.5)], np.divide, dtypes=F16, name="divide_broadcast"),
        Case(lambda a, b: a / b, [R.randn(2, 3), _away((2, 3), 0.5)], np.divide, name="operator"),
        Case(tf.div, [R.randn(3), _away((3,), 0.5)], np.divide, name="tf_div_float"),
        Case(tf.truediv, [np.array([7, -7, 3], np.int32), np.array([2, 2, 4], np.int32)],
             lambda a, b: a / b, grad=False, name="truediv_int32_gives_float64"),
        Case(lambda a, b: a / b, [np.array([7, -7], np.int16), np.array([2, 4], np.int16)],
             lambda a, b: (a / b).astype(np.float32), grad=False, name="operator_int16_gives_float32"),
    ]


@samples("DivNoNan")
def _div_no_nan():
    return [
        Case(tf.div_no_nan, [R.randn(2, 3), np.array([[1.5, 0.0, -2.0], [0.0, 0.5, 3.0]])],
             lambda a, b: np.where(b == 0, 0, a / np.where(b == 0, 1, b)).astype(a.dtype), dtypes=F16,
             grad=False, name="zeros"),
        Case(tf.div_no_nan, [R.randn(3, 1), _away((4,), 0.5)], np.divide, name="grad_away_from_zero"),
    ]


@samples("FloorDiv")
def _floor_div():
    return [
        Case(tf.floordiv, [np.array([7.3, -7.3, 2.2, -0.4]), np.array([2.0, 2.0, -1.5, 3.0])],
             np.floor_divide, dtypes=F16, grad=False, name="float"),
        Case(lambda a, b: a // b, [np.array([7, -7, 6, -1], np.int32), np.array([2, 2, -4, 3], np.int32)],
             np.floor_divide, grad=False, name="operator_int32"),
        Case(tf.div, [np.array([7, -7], np.int64), np.array([2, 2], np.int64)], np.floor_divide,
             grad=False, name="tf_div_int64"),
    ]


@samples("FloorMod")
def _floor_mod():
    return [
        Case(tf.floormod, [np.array([[7.3, -7.3], [2.2, -0.4]]), np.array([2.0, -1.5])], np.mod,
             name="float_broadcast"),
        Case(lambda a, b: a % b, [np.array([7, -7, 6, -1], np.int32), np.array([3, 3, -4, 3], np.int32)],
             np.mod, grad=False, name="operator_int32"),
        Case(tf.mod, [np.array([5.5, -3.25]), np.array([2.0, 2.0])], np.mod, dtypes=F16, name="mod_alias"),
    ]


# -- Pow / Maximum / Minimum / SquaredDifference ----------------------------------------------------
@samples("Pow")
def _pow():
    return [
        Case(tf.pow, [_pos((3, 1)), R.uniform(-1.5, 2.5, (4,))], np.power, dtypes=F16, name="broadcast"),
        Case(lambda a, b: a ** b, [_pos((2, 3)), R.uniform(-2, 2, (2, 3))], np.power, name="operator"),
        Case(lambda a: a ** 2, [R.randn(5)], lambda a: a ** 2, name="negative_base_int_power"),
        Case(tf.pow, [np.array([2, -3, 4], np.int32), np.array([3, 2, 0], np.int32)], np.power,
             grad=False, name="int32"),
    ]


def _no_ties(shape_x, shape_y):
    x, y = R.randn(*shape_x), R.randn(*shape_y)
    bx, by = np.broadcast_arrays(x, y)
    close = np.abs(bx - by) < 0.1
    if close.any():
        return _no_ties(shape_x, shape_y)
    return x, y


@samples("Maximum")
def _maximum():
    x, y = _no_ties((3, 1), (4,))
    return [
        Case(tf.maximum, [x, y], np.maximum, dtypes=F16, name="broadcast"),
        Case(tf.maximum, [np.array([1, -5, 3], np.int32), np.array([2, -6, 3], np.int32)], np.maximum,
             grad=False, name="int32"),
    ]


@samples("Minimum")
def _minimum():
    x, y = _no_ties((2, 3), (2, 3))
    return [
        Case(tf.minimum, [x, y], np.minimum, dtypes=F16, name="same_shape"),
        Case(lambda a: tf.minimum(a, 0.5), [R.randn(4) + 3], lambda a: np.minimum(a, 0.5), name="scalar"),
        Case(tf.minimum, [np.array([1, -5], np.int64), np.array([[2], [-6]], np.int64)], np.minimum,
             grad=False, name="int64"),
    ]


@samples("SquaredDifference")
def _squared_difference():
    return [
        Case(tf.squared_difference, [R.randn(3, 1), R.randn(4)], lambda a, b: (a - b) ** 2, dtypes=F16,
             name="broadcast"),
        Case(tf.squared_difference, [np.array([1, -2], np.int32), np.array([4, 3], np.int32)],
             lambda a, b: (a - b) ** 2, grad=False, name="int32"),
    ]


# -- comparisons and logical ops --------------------------------------------------------------------
_CMP = {"Equal": (tf.equal, np.equal), "NotEqual": (tf.not_equal, np.not_equal), "Less": (tf.less, np.less),
        "LessEqual": (tf.less_equal, np.less_equal), "Greater": (tf.greater, np.greater),
        "GreaterEqual": (tf.greater_equal, np.greater_equal)}
_CMP_OPERATOR = {"Less": lambda a, b: a < b, "LessEqual": lambda a, b: a <= b, "Greater": lambda a, b: a > b,
                 "GreaterEqual": lambda a, b: a >= b}


def _cmp_samples(op_type):
    fn, ref = _CMP[op_type]
    x = np.array([[1.0, 2.0, 3.5], [-1.0, 0.0, 2.0]])
    y = np.array([2.0, 2.0, 0.5])
    cases = [
        Case(fn, [x, y], ref, dtypes=F16, grad=False, name="broadcast"),
        Case(fn, [np.array([[1, 5, -2]], np.int32), np.array([[1], [5]], np.int32)], ref, grad=False,
             name="int32"),
        Case(lambda a: fn(a, 2), [np.array([1, 2, 3], np.int64)], lambda a: ref(a, 2), grad=False,
             name="python_int"),
    ]
    if op_type in _CMP_OPERATOR:
        cases.append(Case(_CMP_OPERATOR[op_type], [x, y], ref, grad=False, name="operator"))
    if op_type in ("Equal", "NotEqual"):
        cases.append(Case(fn, [np.array([True, False, True]), np.array([True, True, False])], ref, grad=False,
                          name="bool"))
    return cases


for _t in _CMP:
    samples(_t)(lambda _t=_t: _cmp_samples(_t))

@samples("_CastGreaterEqual")
def _cast_greater_equal():
    # What runtime/elementwise_fusion.py makes of Cast(GreaterEqual(x, y)): x's float type out, ties keep.
    from labflow.ops.common import make_op
    x = np.array([[1.0, 2.0, 3.5], [-1.0, 0.0, 2.0]])
    y = np.array([2.0, 2.0, 0.5])
    build = lambda a, b: make_op("_CastGreaterEqual", [a, b, tf.ones([], a.dtype)]).outputs[0]  # noqa: E731
    return [Case(build, [x, y], lambda a, b: (a >= b).astype(a.dtype), dtypes=F16, grad=False, name="broadcast"),
            Case(build, [x, np.array(2.0)], lambda a, b: (a >= b).astype(a.dtype), dtypes=F16, grad=False,
                 name="scalar")]


_B1 = np.array([[True, False], [True, True]])
_B2 = np.array([True, False])


@samples("LogicalAnd")
def _logical_and():
    return [Case(tf.logical_and, [_B1, _B2], np.logical_and, grad=False, name="broadcast"),
            Case(lambda a, b: a & b, [_B1, _B2], np.logical_and, grad=False, name="operator"),
            Case(tf.logical_xor, [_B1, _B2], np.logical_xor, grad=False, name="logical_xor"),
            Case(lambda a, b: a ^ b, [_B1, _B2], np.logical_xor, grad=False, name="xor_operator")]


@samples("LogicalOr")
def _logical_or():
    return [Case(tf.logical_or, [_B1, _B2], np.logical_or, grad=False, name="broadcast"),
            Case(lambda a, b: a | b, [_B1, _B2], np.logical_or, grad=False, name="operator")]


@samples("LogicalNot")
def _logical_not():
    return [Case(tf.logical_not, [_B1], np.logical_not, grad=False, name="2d"),
            Case(lambda a: ~a, [_B2], np.logical_not, grad=False, name="operator")]


_SPECIAL = np.array([1.0, np.nan, np.inf, -np.inf, -2.5, 0.0])


@samples("IsNan")
def _is_nan():
    return [Case(tf.is_nan, [_SPECIAL], np.isnan, dtypes=F16, grad=False)]


@samples("IsInf")
def _is_inf():
    return [Case(tf.is_inf, [_SPECIAL], np.isinf, dtypes=F16, grad=False)]


@samples("IsFinite")
def _is_finite():
    return [Case(tf.is_finite, [_SPECIAL], np.isfinite, dtypes=F16, grad=False)]


# -- Cast -------------------------------------------------------------------------------------------
@samples("Cast")
def _cast():
    ints = np.array([[1, -2], [3, 0]], np.int32)
    return [
        Case(lambda a: tf.cast(a, tf.int32), [np.array([1.7, -1.7, 0.2, -3.0])],
             lambda a: a.astype(np.int32), dtypes=F16, grad=False, name="float_to_int32_truncates"),
        Case(tf.to_float, [ints], lambda a: a.astype(np.float32), grad=False, name="to_float"),
        Case(tf.to_double, [ints], lambda a: a.astype(np.float64), grad=False, name="to_double"),
        Case(tf.to_int64, [ints], lambda a: a.astype(np.int64), grad=False, name="to_int64"),
        Case(lambda a: tf.cast(a, tf.bool), [np.array([0, 2, -1], np.int32)], lambda a: a != 0, grad=False,
             name="int_to_bool"),
        Case(lambda a: tf.cast(a, tf.float32), [np.array([True, False])], lambda a: a.astype(np.float32),
             grad=False, name="bool_to_float"),
        Case(lambda a: tf.saturate_cast(a, tf.uint8), [np.array([-5.0, 17.0, 300.0])],
             lambda a: np.clip(a, 0, 255).astype(np.uint8), grad=False, name="saturate_cast"),
        # float64 -> float32 -> float64: the float32 rounding needs loose gradient tolerances.
        Case(lambda a: tf.cast(tf.cast(a, tf.float32), tf.float64), [R.randn(2, 3)],
             lambda a: a.astype(np.float32).astype(np.float64), dtypes=(_dt.float64,), grad_rtol=1e-2,
             grad_atol=1e-3, name="float_roundtrip"),
    ]


# -- unary functions --------------------------------------------------------------------------------
def _unary(fn, ref, x, dtypes=F16, grad=True, name="", **kw):
    return Case(fn, [x], ref, dtypes=dtypes, grad=grad, name=name, **kw)


@samples("Neg")
def _neg():
    return [_unary(tf.negative, np.negative, R.randn(2, 3), name="negative"),
            _unary(lambda a: -a, np.negative, R.randn(4), name="operator"),
            _unary(tf.negative, np.negative, np.array([1, -2], np.int32), grad=False, name="int32")]


@samples("Abs")
def _abs():
    return [_unary(tf.abs, np.abs, _away((2, 3)), name="2d"),
            _unary(lambda a: abs(a), np.abs, _away((4,)), name="operator"),
            _unary(tf.abs, np.abs, np.array([3, -4, 0], np.int64), grad=False, name="int64")]


@samples("Sign")
def _sign():
    return [_unary(tf.sign, np.sign, np.array([[2.5, -0.5], [-1.0, 3.0]]), name="2d"),
            _unary(tf.sign, np.sign, np.array([0.0, -0.0, 1e-3]), grad=False, name="zero"),
            _unary(tf.sign, np.sign, np.array([-7, 0, 9], np.int32), grad=False, name="int32")]


@samples("Square")
def _square():
    return [_unary(tf.square, np.square, R.randn(2, 3), name="2d"),
            _unary(tf.square, np.square, np.array([-3, 4], np.int32), grad=False, name="int32")]


@samples("Sqrt")
def _sqrt():
    return [_unary(tf.sqrt, np.sqrt, _pos((2, 3)))]


@samples("Rsqrt")
def _rsqrt():
    return [_unary(tf.rsqrt, lambda a: 1 / np.sqrt(a), _pos((2, 3))),
            _unary(tf.rsqrt, lambda a: 1 / np.sqrt(a), np.float64(2.0), name="scalar")]


@samples("Reciprocal")
def _reciprocal():
    return [_unary(tf.reciprocal, np.reciprocal, _away((2, 3), 0.5)),
            _unary(tf.reciprocal, np.reciprocal, np.array([1, -1, 2], np.int32), grad=False, name="int32")]


@samples("Exp")
def _exp():
    return [_unary(tf.exp, np.exp, R.randn(2, 3))]


@samples("Expm1")
def _expm1():
    return [_unary(tf.expm1, np.expm1, R.randn(2, 3) * 0.1)]


@samples("Log")
def _log():
    return [_unary(tf.log, np.log, _pos((2, 3)))]


@samples("Log1p")
def _log1p():
    return [_unary(tf.log1p, np.log1p, R.uniform(-0.5, 2.0, (2, 3)))]


def _np_sigmoid(a):
    with np.errstate(over="ignore"):
        return (1 / (1 + np.exp(-a.astype(np.float64)))).astype(a.dtype)


@samples("Sigmoid")
def _sigmoid():
    return [_unary(tf.sigmoid, _np_sigmoid, R.randn(3, 4) * 3, name="2d"),
            _unary(tf.sigmoid, _np_sigmoid, np.array([-800.0, -30.0, 0.0, 30.0, 800.0]), grad=False,
                   name="saturates"),
            _unary(tf.sigmoid, _np_sigmoid, np.float64(0.3), name="scalar")]


@samples("Tanh")
def _tanh():
    return [_unary(tf.tanh, np.tanh, R.randn(3, 4))]


def _via_gradients(fn):
    def build(g, x):
        return tf.gradients(fn(x), x, grad_ys=g)[0]
    return build


@samples("SigmoidGrad")
def _sigmoid_grad():
    def ref(g, x):
        s = 1 / (1 + np.exp(-x.astype(np.float64)))
        return (g * s * (1 - s)).astype(g.dtype)
    return [Case(_via_gradients(tf.sigmoid), [R.randn(2, 3), R.randn(2, 3)], ref, dtypes=F16,
                 name="second_order")]


@samples("TanhGrad")
def _tanh_grad():
    def ref(g, x):
        t = np.tanh(x.astype(np.float64))
        return (g * (1 - t * t)).astype(g.dtype)
    return [Case(_via_gradients(tf.tanh), [R.randn(2, 3), R.randn(2, 3)], ref, dtypes=F16,
                 name="second_order")]


_FRAC = np.array([[1.3, -2.7, 0.2], [-0.2, 3.8, -5.1]])
_HALVES = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6])


@samples("Floor")
def _floor():
    return [_unary(tf.floor, np.floor, _FRAC, grad=False)]


@samples("Ceil")
def _ceil():
    return [_unary(tf.ceil, np.ceil, _FRAC, grad=False)]


@samples("Round")
def _round():
    return [_unary(tf.round, np.round, _HALVES, grad=False, name="half_to_even")]


@samples("Rint")
def _rint():
    return [_unary(tf.rint, np.rint, _HALVES, grad=False, name="half_to_even")]


@samples("Sin")
def _sin():
    return [_unary(tf.sin, np.sin, R.randn(2, 3))]


@samples("Cos")
def _cos():
    return [_unary(tf.cos, np.cos, R.randn(2, 3))]


@samples("Conj")
def _conj():
    z = R.randn(2, 3) + 1j * R.randn(2, 3)
    return [Case(tf.conj, [z], np.conj, grad=False, name="complex128"),
            Case(tf.conj, [z.astype(np.complex64)], np.conj, grad=False, name="complex64")]
