"""The 8-bit ops (QuantizeV2, Dequantize, QuantizedMatMul, QuantizedConv2D, ...) against scalar
transcriptions of TF's C++ formulas (labflow/testing/samples/quantized_reference.py), on arrays large
enough to take the kernels' fast paths (blocked pipelines, 256-entry lookups, K split into float32-exact
runs, the float64 fallback); round trips, fake quantization's gradients, and the errors users see.
"""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow import errors
from labflow.testing.samples import quantized_reference as ref
from labflow.testing.samples.conv import ref_conv2d

R = np.random.RandomState(5)
NP = {tf.quint8: np.uint8, tf.qint8: np.int8, tf.qint32: np.int32, tf.quint16: np.uint16}


def run(fetches, feeds=None):
    with tf.Session() as s:
        return s.run(fetches, feeds)


def q_const(values, dt):
    return tf.constant(np.asarray(values, NP[dt]), dtype=dt)


# -- dtypes -------------------------------------------------------------------------------------------------
def test_quantized_dtypes_map_to_plain_integers_without_stealing_them():
    assert tf.quint8.is_quantized and tf.qint32.is_quantized and not tf.uint8.is_quantized
    assert tf.quint8.as_numpy_dtype is np.uint8 and tf.qint8.as_numpy_dtype is np.int8
    assert tf.as_dtype(np.uint8) == tf.uint8 and tf.as_dtype("quint8") == tf.quint8 and tf.as_dtype(12) == tf.quint8
    assert tf.quint8.as_datatype_enum == 12 and tf.qint8.as_datatype_enum == 11 and tf.qint32.as_datatype_enum == 13
    assert not tf.quint8.is_integer  # TF's rule: quantized types are not integer types
    with pytest.raises(TypeError):
        tf.quint8.max  # noqa: B018


def test_quantized_constant_survives_a_graphdef_round_trip():
    c = q_const([[0, 7, 255]], tf.quint8)
    gd = tf.get_default_graph().as_graph_def()
    g = tf.Graph()
    with g.as_default():
        tf.import_graph_def(gd, name="")
        t = g.get_tensor_by_name(c.name)
        assert t.dtype == tf.quint8
        np.testing.assert_array_equal(run(t), [[0, 7, 255]])


# -- QuantizeV2 / Dequantize --------------------------------------------------------------------------------
_BIG = np.concatenate([R.randn(30000) * 1.3, np.arange(-600, 601) / 256.0]).astype(np.float32)


@pytest.mark.parametrize("mode", ["MIN_COMBINED", "MIN_FIRST", "SCALED"])
@pytest.mark.parametrize("dt", [tf.quint8, tf.qint8, tf.qint32])
def test_quantize_v2_matches_tf_formulas_exactly(dt, mode):
    # 31k values (random plus exact ties every 1/256), tiled 10x so the blocked pipeline runs; the scalar
    # reference (elementwise) runs once on the 31k
    for lo, hi in ((-2.0, 2.5), (0.25, 1.0), (-1e-4, 1e-4)):
        got = run(tf.quantize(np.tile(_BIG, 10), lo, hi, dt, mode=mode))
        want = ref.quantize_v2(_BIG, lo, hi, NP[dt], mode)
        np.testing.assert_array_equal(got.output, np.tile(want[0], 10))
        assert got.output.dtype == NP[dt]
        assert (got.output_min, got.output_max) == (want[1], want[2])


def test_quantize_v2_adjusts_the_range_like_tf():
    q = run(tf.quantize([3.0, 4.0], 3.0, 4.0, tf.quint8))  # the range is made to hold 0
    assert (q.output_min, q.output_max) == (0.0, 4.0)
    q = run(tf.quantize([0.0], 0.0, 0.0, tf.quint8))  # an empty range is widened to 0.01
    assert q.output_max == np.float32(0.01)
    q = run(tf.quantize([3.0], 0.0, 6.0, tf.quint8))  # TF's documented MIN_COMBINED example: 3 * 255/6
    assert q.output[0] == 128


def test_scaled_half_to_even_rounds_ties_to_even():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5], np.float32) / 127
    even = run(tf.quantize(x, -1.0, 1.0, tf.qint8, mode="SCALED", round_mode="HALF_TO_EVEN")).output
    away = run(tf.quantize(x, -1.0, 1.0, tf.qint8, mode="SCALED")).output
    np.testing.assert_array_equal(even, [0, 2, 2, 0, -2])
    np.testing.assert_array_equal(away, [1, 2, 3, -1, -2])


@pytest.mark.parametrize("mode", ["MIN_COMBINED", "MIN_FIRST", "SCALED"])
@pytest.mark.parametrize("dt", [tf.quint8, tf.qint8, tf.qint32])
def test_dequantize_matches_tf_formulas_exactly(dt, mode):
    info = np.iinfo(NP[dt])
    codes = R.randint(max(info.min, -10**6), min(info.max, 10**6) + 1, size=20000).astype(NP[dt])
    got = run(tf.dequantize(q_const(codes, dt), -0.7, 2.3, mode=mode))
    np.testing.assert_array_equal(got, ref.dequantize(codes, -0.7, 2.3, mode))


@pytest.mark.parametrize("mode,steps", [("MIN_COMBINED", 0.5), ("SCALED", 0.5), ("MIN_FIRST", 1.0)])
@pytest.mark.parametrize("dt", [tf.quint8, tf.qint8])
def test_round_trip_is_within_half_a_step(dt, mode, steps):
    # MIN_FIRST: QuantizeV2 rounds the range's minimum in double, Dequantize in float32 (TF's code); when
    # min * scale falls on .5 they disagree by one code, so its bound is one step.
    lo, hi = -1.0, 3.0
    x = np.linspace(lo, hi, 5001).astype(np.float32)
    q = tf.quantize(x, lo, hi, dt, mode=mode)
    back, mn, mx = run([tf.dequantize(q.output, q.output_min, q.output_max, mode=mode), q.output_min, q.output_max])
    if mode == "SCALED" and dt == tf.qint8:
        step = max(abs(mn), abs(mx)) / 127
    else:
        step = (mx - mn) / 255
    inside = (x >= mn) & (x <= mx)
    # plus float32 rounding of the scale arithmetic (a few ulps of the range's magnitude)
    assert np.abs(back - x)[inside].max() <= steps * step + 8 * np.finfo(np.float32).eps * hi


# -- products ---------------------------------------------------------------------------------------------------
def _codes(dt, *shape, lo=None, hi=None):
    info = np.iinfo(NP[dt])
    return R.randint(info.min if lo is None else lo, (info.max if hi is None else hi) + 1, size=shape).astype(NP[dt])


@pytest.mark.parametrize("k", [7, 300, 3000])  # 3000 full-range codes: K split into exact float32 runs
@pytest.mark.parametrize("ta,tb", [(False, False), (True, True), (False, True)])
def test_quantized_matmul_is_exact(k, ta, tb):
    a = _codes(tf.quint8, *((k, 9) if ta else (9, k)))
    b = _codes(tf.quint8, *((6, k) if tb else (k, 6)))
    got = run(tf.quantization.quantized_mat_mul(q_const(a, tf.quint8), q_const(b, tf.quint8), -1.0, 2.0, -0.4, 0.6,
                                                transpose_a=ta, transpose_b=tb))
    want = ref.quantized_matmul(a, b, -1.0, 2.0, -0.4, 0.6, ta, tb)
    np.testing.assert_array_equal(got.out, want[0])
    assert got.out.dtype == np.int32 and (got.min_out, got.max_out) == (want[1], want[2])


def test_quantized_matmul_16_bit_operands_take_the_float64_path_and_stay_exact():
    a, b = _codes(tf.quint16, 5, 400), _codes(tf.quint16, 400, 3)
    got = run(tf.quantization.quantized_mat_mul(q_const(a, tf.quint16), q_const(b, tf.quint16), -1.0, 1.0, 0.0, 1.0))
    np.testing.assert_array_equal(got.out, ref.quantized_matmul(a, b, -1.0, 1.0, 0.0, 1.0)[0])


@pytest.mark.parametrize("c", [3, 64])  # 5x5x64 full-range codes: channels split into exact runs
@pytest.mark.parametrize("strides,padding", [((1, 1), "SAME"), ((2, 2), "SAME"), ((1, 2), "VALID")])
def test_quantized_conv2d_is_exact(c, strides, padding):
    x, w = _codes(tf.quint8, 2, 7, 8, c), _codes(tf.quint8, 5, 5, c, 4)
    got = run(tf.quantization.quantized_conv2d(q_const(x, tf.quint8), q_const(w, tf.quint8), -0.5, 4.0, -1.0, 1.0,
                                               list(strides), padding))
    ox, ow = ref.f2q_unclamped(0.0, -0.5, 4.0, np.uint8), ref.f2q_unclamped(0.0, -1.0, 1.0, np.uint8)
    want = ref_conv2d(x.astype(np.int64) - ox, w.astype(np.int64) - ow, strides, padding)
    np.testing.assert_array_equal(got.output, want)
    assert (got.min_output, got.max_output) == ref.mult_range(-0.5, 4.0, np.uint8, -1.0, 1.0, np.uint8)


def test_quantized_bias_add_matches_tf():
    # 8-bit input: the blocked lookup path; the reference covers every code (as one row per code)
    x, b = _codes(tf.quint8, 40, 30, 30, 16), _codes(tf.quint8, 16)
    got = run(tf.quantization.quantized_bias_add(q_const(x, tf.quint8), q_const(b, tf.quint8), -3.0, 7.0, -0.2, 0.1,
                                                 tf.qint32))
    every = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 16, axis=1)
    want = ref.bias_add(every, b, -3.0, 7.0, -0.2, 0.1)
    np.testing.assert_array_equal(got.output, np.take_along_axis(want[0], x.reshape(-1, 16).astype(np.intp), 0)
                                  .reshape(x.shape))
    assert (got.min_out, got.max_out) == (want[1], want[2])


def test_requantize_and_requantization_range_match_tf():
    q = R.randint(-(2**28), 2**28, size=(300, 999)).astype(np.int32)
    lo, hi = -(2.0 ** 12), 2.0 ** 12
    rng = run(tf.quantization.requantization_range(q_const(q, tf.qint32), lo, hi))
    assert tuple(rng) == ref.requantization_range(q, lo, hi)
    for out_lo, out_hi, dt in ((float(rng[0]), float(rng[1]), tf.quint8), (-2.0, 3.0, tf.quint8),
                               (-4.0, 4.0, tf.qint8)):
        got = run(tf.quantization.requantize(q_const(q, tf.qint32), lo, hi, out_lo, out_hi, dt))
        np.testing.assert_array_equal(got.output, ref.requantize(q, lo, hi, out_lo, out_hi, NP[dt]))
        assert (got.output_min, got.output_max) == (np.float32(out_lo), np.float32(out_hi))


def test_relus_and_pools_work_on_codes():
    x = _codes(tf.quint8, 4, 9, 9, 3)
    relu6 = run(tf.quantization.quantized_relu6(q_const(x, tf.quint8), -3.0, 9.0))
    np.testing.assert_array_equal(relu6.activations, ref.relu(x, -3.0, 9.0, 0.0, 6.0))
    mp = run(tf.quantization.quantized_max_pool(q_const(x, tf.quint8), -3.0, 9.0, [1, 3, 3, 1], [1, 2, 2, 1], "SAME"))
    ap = run(tf.quantization.quantized_avg_pool(q_const(x, tf.quint8), -3.0, 9.0, 3, 2, "SAME"))
    with tf.Graph().as_default():
        fx = tf.constant(x.astype(np.float64))
        fmax, fsum = run([tf.nn.max_pool(fx, [1, 3, 3, 1], [1, 2, 2, 1], "SAME"),
                          tf.nn.avg_pool(fx, [1, 3, 3, 1], [1, 2, 2, 1], "SAME")])
    np.testing.assert_array_equal(mp.output, fmax)
    np.testing.assert_array_equal(ap.output, np.trunc(fsum + 1e-9))  # TF's integer mean truncates
    assert (mp.min_output, mp.max_output) == (-3.0, 9.0)


# -- fake quantization --------------------------------------------------------------------------------------------
def test_fake_quant_args_forward_and_straight_through_gradient():
    x = tf.constant(np.linspace(-8, 8, 401).astype(np.float32))
    y = tf.fake_quant_with_min_max_args(x, min=-6.0, max=6.0)
    (g,) = tf.gradients(tf.reduce_sum(y * 3.0), [x])
    yv, gv, xv = run([y, g, x])
    np.testing.assert_array_equal(yv, ref.fake_quant(xv, -6.0, 6.0))
    nmin, nmax, _ = ref.nudge(-6.0, 6.0, 8, False)
    np.testing.assert_array_equal(gv, np.where((xv >= nmin) & (xv <= nmax), 3.0, 0.0))
    assert len(np.unique(yv)) <= 256


def test_fake_quant_vars_learns_its_range():
    x = tf.constant(np.array([-3.0, -1.0, 0.2, 1.0, 2.0, 5.0], np.float32))
    mn, mx = tf.Variable(-1.5), tf.Variable(1.5)
    y = tf.fake_quant_with_min_max_vars(x, mn, mx, num_bits=4, narrow_range=True)
    gx, gmin, gmax = tf.gradients(tf.reduce_sum(y * tf.constant([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])), [x, mn, mx])
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        yv, gxv, gminv, gmaxv = s.run([y, gx, gmin, gmax])
    np.testing.assert_array_equal(yv, ref.fake_quant(x_ := np.array([-3, -1, .2, 1, 2, 5], np.float32), -1.5, 1.5, 4,
                                                     True, reciprocal=False))
    want = ref.fake_quant_grad(np.arange(1, 7, dtype=np.float32), x_, -1.5, 1.5, 4, True)
    np.testing.assert_array_equal(gxv, want[0])
    assert (gminv, gmaxv) == (1.0, 11.0) == (want[1], want[2])


# -- errors ---------------------------------------------------------------------------------------------------------
def test_reversed_ranges_fail_at_run_time_naming_the_op_and_arguments():
    with pytest.raises(errors.InvalidArgumentError, match="QuantizeV2.*max_range.*min_range"):
        run(tf.quantize([1.0], 2.0, 1.0, tf.quint8))
    with pytest.raises(errors.InvalidArgumentError, match="Dequantize"):
        run(tf.dequantize(q_const([1], tf.quint8), 1.0, -1.0))
    with pytest.raises(errors.InvalidArgumentError, match="max_a must be larger than min_a"):
        run(tf.quantization.quantized_mat_mul(q_const([[1]], tf.quint8), q_const([[1]], tf.quint8), 1.0, 1.0, 0, 1))
    with pytest.raises(errors.InvalidArgumentError, match="requested_output_min must be <= 0"):
        run(tf.quantization.requantize(q_const([1], tf.qint32), -1.0, 1.0, 0.5, 1.0, tf.quint8))
    with pytest.raises(errors.InvalidArgumentError, match="min must be smaller than max"):
        run(tf.fake_quant_with_min_max_vars([1.0], 1.0, -1.0))


def test_bad_types_and_attrs_fail_at_construction():
    with pytest.raises(TypeError, match="'input' has DataType float64"):
        tf.quantize(tf.constant([1.0], tf.float64), 0.0, 1.0, tf.quint8)
    with pytest.raises(TypeError, match="T must be a quantized type"):
        tf.quantize([1.0], 0.0, 1.0, tf.uint8)
    with pytest.raises(ValueError, match="mode.*'MIN_COMBINED', 'MIN_FIRST', 'SCALED'.*'BEST'"):
        tf.quantize([1.0], 0.0, 1.0, tf.quint8, mode="BEST")
    with pytest.raises(ValueError, match="HALF_TO_EVEN' is only supported for mode 'SCALED'"):
        tf.quantize([1.0], 0.0, 1.0, tf.quint8, mode="MIN_FIRST", round_mode="HALF_TO_EVEN")
    with pytest.raises(TypeError, match="Dequantize"):
        tf.dequantize(tf.constant([1.0]), 0.0, 1.0)
    with pytest.raises(ValueError, match="rank 0"):
        tf.dequantize(q_const([1], tf.quint8), [0.0, 1.0], 1.0)
    with pytest.raises(ValueError, match="dilations"):
        tf.quantization.quantized_conv2d(q_const(np.zeros((1, 4, 4, 1)), tf.quint8),
                                         q_const(np.zeros((2, 2, 1, 1)), tf.quint8), 0, 1, 0, 1, 1, "SAME",
                                         dilations=[1, 2, 2, 1])
    with pytest.raises(ValueError, match="min has to be smaller than max"):
        tf.fake_quant_with_min_max_args([1.0], min=1.0, max=1.0)
    with pytest.raises(ValueError, match="num_bits must be between 2 and 16"):
        tf.fake_quant_with_min_max_args([1.0], num_bits=1)
