"""tf.math extras: special functions, zero-safe ops, truncating division, composites, the tf.math namespace."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sp

import labflow as tf


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


X = np.array([-0.7, -0.1, 0.3, 0.8])


@pytest.mark.parametrize("name,ref,op_type", [
    ("acos", np.arccos, "Acos"), ("asin", np.arcsin, "Asin"), ("atan", np.arctan, "Atan"), ("tan", np.tan, "Tan"),
    ("sinh", np.sinh, "Sinh"), ("cosh", np.cosh, "Cosh"), ("asinh", np.arcsinh, "Asinh"),
    ("atanh", np.arctanh, "Atanh"), ("erf", sp.erf, "Erf"), ("erfc", sp.erfc, "Erfc"),
    ("erfinv", sp.erfinv, "Erfinv"), ("bessel_i0e", sp.i0e, "BesselI0e"), ("bessel_i1e", sp.i1e, "BesselI1e")])
def test_unary_functions_in_tf_math(name, ref, op_type):
    y = getattr(tf.math, name)(tf.constant(X))
    assert y.op.type == op_type and y.op.name == op_type
    np.testing.assert_allclose(_run(y), ref(X), rtol=1e-12)


def test_top_level_tf1_names():
    for name in ("acos", "asin", "atan", "atan2", "sinh", "cosh", "tan", "asinh", "acosh", "atanh", "erf", "erfc",
                 "lgamma", "digamma", "igamma", "igammac", "betainc", "zeta", "polygamma", "truncatediv",
                 "truncatemod", "floor_div", "accumulate_n", "lbeta", "is_non_decreasing", "is_strictly_increasing",
                 "invert_permutation", "segment_sum", "unsorted_segment_max", "sparse_segment_mean", "log_sigmoid"):
        assert callable(getattr(tf, name)), name


def test_tf_math_namespace_has_tf_names():
    for name in ("log_softmax", "softmax", "softplus", "top_k", "in_top_k", "l2_normalize", "sigmoid",
                 "divide_no_nan", "reciprocal_no_nan", "multiply_no_nan", "xlogy", "xdivy", "log_sigmoid",
                 "reduce_std", "reduce_variance", "reduce_euclidean_norm", "polyval", "nextafter", "erfinv",
                 "bessel_i0e", "bessel_i1e", "segment_mean", "unsorted_segment_mean", "unsorted_segment_sqrt_n",
                 "unsorted_segment_sum", "invert_permutation", "cumsum", "argmax", "is_finite"):
        assert callable(getattr(tf.math, name)), name


def test_half_precision_special_function_keeps_dtype():
    y = tf.erf(tf.constant(X, tf.float16))
    assert y.dtype == tf.float16
    np.testing.assert_allclose(_run(y), sp.erf(X), atol=2e-3)


def test_gradients_of_special_functions():
    x = tf.constant(np.array([0.4, 1.3, 2.5]))
    g_lgamma, g_digamma, g_erf = _run([tf.gradients(tf.lgamma(x), x)[0], tf.gradients(tf.digamma(x), x)[0],
                                       tf.gradients(tf.erf(x), x)[0]])
    xs = np.array([0.4, 1.3, 2.5])
    np.testing.assert_allclose(g_lgamma, sp.digamma(xs))
    np.testing.assert_allclose(g_digamma, sp.polygamma(1, xs))
    np.testing.assert_allclose(g_erf, 2 / np.sqrt(np.pi) * np.exp(-xs ** 2))


def test_igamma_gradient_in_a_matches_finite_differences():
    a_np, x_np = np.array([0.5, 2.0, 7.5]), np.array([0.3, 2.5, 40.0])
    a, x = tf.constant(a_np), tf.constant(x_np)
    ga, gx = _run(tf.gradients(tf.igamma(a, x), [a, x]))
    h = 1e-6
    # differences of Q, not P: where P is ~1 only Q keeps the digits that the derivative needs
    np.testing.assert_allclose(ga, -(sp.gammaincc(a_np + h, x_np) - sp.gammaincc(a_np - h, x_np)) / (2 * h),
                               rtol=1e-5)
    np.testing.assert_allclose(gx, np.exp(-x_np + (a_np - 1) * np.log(x_np) - sp.gammaln(a_np)))
    gac = _run(tf.gradients(tf.igammac(a, x), a)[0])
    np.testing.assert_allclose(gac, -ga)


def test_betainc_and_zeta_and_polygamma_differentiate_like_tf():
    a, b, x = tf.constant([1.5, 2.0]), tf.constant([2.0, 3.0]), tf.constant([0.3, 0.6])
    ga, gb, gx = tf.gradients(tf.betainc(a, b, x), [a, b, x])
    assert ga is None and gb is None and gx is not None
    gz = tf.gradients(tf.zeta(tf.constant([2.0]), tf.constant([1.5])), [])
    assert gz == []
    s, q = tf.constant([2.0]), tf.constant([1.5])
    gs, gq = tf.gradients(tf.zeta(s, q), [s, q])
    assert gs is None
    np.testing.assert_allclose(_run(gq), -2 * sp.zeta(3.0, 1.5), rtol=1e-6)
    n, v = tf.constant([1.0]), tf.constant([2.0])
    gn, gv = tf.gradients(tf.polygamma(n, v), [n, v])
    assert gn is None
    np.testing.assert_allclose(_run(gv), sp.polygamma(2, 2.0), rtol=1e-6)


def test_betainc_rejects_inconsistent_shapes():
    with pytest.raises(ValueError, match="Shapes of a, b and x are inconsistent"):
        tf.betainc(tf.ones([2]), tf.ones([3]), tf.ones([2]))
    a = tf.placeholder(tf.float32)
    y = tf.betainc(a, tf.ones([2]), tf.constant([0.5, 0.5]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="inconsistent"):
        _run(y, {a: np.ones(3, np.float32)})


def test_zero_safe_ops():
    x = tf.constant([0.0, 0.0, 2.0])
    y = tf.constant([0.0, np.nan, 4.0])
    xl, xd, mn = _run([tf.math.xlogy(x, y), tf.math.xdivy(x, y), tf.math.multiply_no_nan(y, x)])
    np.testing.assert_allclose(xl, [0, 0, 2 * np.log(4)])
    np.testing.assert_allclose(xd, [0, 0, 0.5])
    np.testing.assert_allclose(mn, [0, 0, 8])
    np.testing.assert_allclose(_run(tf.math.reciprocal_no_nan(tf.constant([0.0, 4.0]))), [0, 0.25])
    np.testing.assert_allclose(_run(tf.math.divide_no_nan(1.0, tf.constant([0.0, 4.0]))), [0, 0.25])
    with pytest.raises(TypeError, match="float or complex"):
        tf.math.reciprocal_no_nan(tf.constant([1, 2]))


def test_truncating_division_rounds_toward_zero_and_rejects_int_zero():
    x, y = tf.constant([7, -7, 7, -7]), tf.constant([2, 2, -2, -2])
    q, r, f = _run([tf.truncatediv(x, y), tf.truncatemod(x, y), tf.floor_div(x, y)])
    np.testing.assert_array_equal(q, [3, -3, -3, 3])
    np.testing.assert_array_equal(r, [1, -1, 1, -1])
    np.testing.assert_array_equal(f, [3, -4, -4, 3])
    assert tf.gradients(tf.truncatediv(tf.constant([1.0]), tf.constant([2.0])), []) == []
    with pytest.raises(tf.errors.InvalidArgumentError, match="Integer division by zero"):
        _run(tf.truncatediv(x, tf.constant([1, 0, 1, 1])))


def test_nextafter():
    got = _run(tf.math.nextafter(tf.constant([1.0, 1.0]), tf.constant([2.0, 0.0])))
    np.testing.assert_array_equal(got, np.nextafter(np.float32([1.0, 1.0]), np.float32([2.0, 0.0])))


def test_log_sigmoid_is_stable():
    x = np.array([-800.0, -2.0, 0.0, 3.0, 800.0])
    y = tf.math.log_sigmoid(tf.constant(x))
    np.testing.assert_allclose(_run(y), -np.logaddexp(0, -x))


def test_moments_and_euclidean_norm():
    v = np.random.RandomState(0).randn(3, 4)
    x = tf.constant(v)
    var, std, std_k, en = _run([tf.math.reduce_variance(x), tf.math.reduce_std(x, axis=1),
                                tf.math.reduce_std(x, axis=0, keepdims=True),
                                tf.math.reduce_euclidean_norm(x, axis=[0, 1])])
    np.testing.assert_allclose(var, v.var())
    np.testing.assert_allclose(std, v.std(axis=1))
    np.testing.assert_allclose(std_k, v.std(axis=0, keepdims=True))
    np.testing.assert_allclose(en, np.linalg.norm(v))
    with pytest.raises(TypeError, match="float tensor"):
        tf.math.reduce_variance(tf.constant([1, 2]))


def test_accumulate_n():
    a, b = tf.constant([1.0, 2.0]), tf.constant([3.0, 4.0])
    np.testing.assert_allclose(_run(tf.accumulate_n([a, b])), [4, 6])
    with pytest.raises(ValueError, match="non-empty list"):
        tf.accumulate_n([])
    with pytest.raises(ValueError, match="one shape"):
        tf.accumulate_n([a, tf.constant([1.0, 2.0, 3.0])])
    with pytest.raises(TypeError, match="one dtype"):
        tf.accumulate_n([a, tf.constant([1, 2])])
    with pytest.raises(TypeError, match="tensor_dtype"):
        tf.accumulate_n([a, b], tensor_dtype=tf.float64)


def test_polyval_lbeta_and_monotonicity():
    x = np.array([0.5, 2.0])
    np.testing.assert_allclose(_run(tf.math.polyval([1.0, -2.0, 3.0], tf.constant(x))), np.polyval([1, -2, 3], x))
    with pytest.raises(ValueError, match="list"):
        tf.math.polyval(tf.constant([1.0]), tf.constant(x))
    v = np.array([[1.0, 2.0], [3.0, 0.5]])
    np.testing.assert_allclose(_run(tf.lbeta(tf.constant(v))),
                               sp.gammaln(v).sum(-1) - sp.gammaln(v.sum(-1)))
    nd, si, si2, single = _run([tf.is_non_decreasing(tf.constant([[1, 2], [2, 5]])),
                                tf.is_strictly_increasing(tf.constant([1, 2, 2])),
                                tf.is_strictly_increasing(tf.constant([1.0, 2.0, 3.0])),
                                tf.is_non_decreasing(tf.constant([4]))])
    assert nd and not si and si2 and single
    with pytest.raises(TypeError, match="numeric"):
        tf.is_non_decreasing(tf.constant([True, False]))


def test_atan2_broadcasts():
    y = tf.atan2(tf.constant([[1.0], [-1.0]]), tf.constant([1.0, -1.0, 0.5]))
    assert y.shape.as_list() == [2, 3]
    np.testing.assert_allclose(_run(y), np.arctan2([[1.0], [-1.0]], [1.0, -1.0, 0.5]), rtol=1e-6)


def test_tf_math_only_names_stay_out_of_the_top_level():
    for name in ("erfinv", "xlogy", "xdivy", "multiply_no_nan", "nextafter", "reduce_std", "polyval",
                 "cumulative_logsumexp", "bessel_i0e"):
        assert hasattr(tf.math, name) and not hasattr(tf, name), name
    for name in ("truncatediv", "truncatemod", "floor_div"):
        assert hasattr(tf, name) and not hasattr(tf.math, name), name


def test_cumulative_logsumexp_is_stable_and_differentiable():
    v = np.array([[-800.0, 1.0, 2.0, 700.0]])
    x = tf.constant(v)
    y = tf.math.cumulative_logsumexp(x, axis=1)
    assert y.op.type == "CumulativeLogsumexp"
    ex = tf.math.cumulative_logsumexp(x, axis=1, exclusive=True, reverse=True)
    got, got_ex = _run([y, ex])
    np.testing.assert_allclose(got, np.logaddexp.accumulate(v, axis=1))
    np.testing.assert_allclose(got_ex[0, :3], np.logaddexp.accumulate(v[0, ::-1])[::-1][1:])
    assert got_ex[0, 3] == -np.inf
    s = np.array([0.1, -0.4, 0.3])
    xs = tf.constant(s)
    gs = _run(tf.gradients(tf.reduce_sum(tf.math.cumulative_logsumexp(xs)), xs)[0])
    # d/dx_j sum_i logsumexp(x[:i+1]) = sum_{i >= j} softmax(x[:i+1])_j
    want = sum(np.concatenate([np.exp(s[:i + 1] - np.logaddexp.reduce(s[:i + 1])), np.zeros(2 - i)])
               for i in range(3))
    np.testing.assert_allclose(gs, want)


def test_unscaled_bessel_and_xlog1py():
    x = np.array([-1.5, 0.0, 2.0])
    i0, i1, xl = _run([tf.math.bessel_i0(tf.constant(x)), tf.math.bessel_i1(tf.constant(x)),
                       tf.math.xlog1py(tf.constant([0.0, 2.0]), tf.constant([-1.0, 0.5]))])
    np.testing.assert_allclose(i0, sp.i0(x))
    np.testing.assert_allclose(i1, sp.i1(x))
    np.testing.assert_allclose(xl, [0.0, 2 * np.log1p(0.5)])


def test_special_functions_run_on_the_gpu_through_the_device_special_module():
    from labflow.backend import cuda
    from labflow.testing.emulated_gpu import emulated_gpu
    with emulated_gpu() as emu:
        assert cuda.special_module(emu.module) is emu.module.scipy_special
        g = tf.Graph()
        with g.as_default(), tf.device("/gpu:0"):
            x = tf.placeholder(tf.float32, [3])
            y = tf.igamma(tf.constant([1.5, 2.0, 3.0]), x) + tf.erf(x)
        with tf.Session(graph=g) as sess:
            emu.reset()
            got = sess.run(y, {x: np.array([0.5, 1.0, 4.0], np.float32)})
            placed = {p.node: p.device for p in sess.placements()}
    np.testing.assert_allclose(got, sp.gammainc([1.5, 2.0, 3.0], [0.5, 1.0, 4.0]) + sp.erf([0.5, 1.0, 4.0]),
                               rtol=1e-6)
    assert "GPU" in placed["Igamma"] and "GPU" in placed["Erf"]
    assert emu.by_kind["special.gammainc"] == 1 and emu.by_kind["special.erf"] == 1
