"""tf.complex / real / imag / angle / conj / ComplexAbs and to_complex64/128: TF1 names, op types, dtype rules,
values, gradients (TF's convention: dL/dRe + i dL/dIm, checked by differentiating real functions of the
real and imaginary parts) and errors."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.ops import complex_ops
from labflow.testing.gradient_check import gradient_check

R = np.random.RandomState(5)


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


def test_public_names_and_op_types():
    re, im = tf.constant([1.0, 2.0]), tf.constant([3.0, -4.0])
    z = tf.complex(re, im)
    assert z.op.type == "Complex" and z.dtype == tf.complex64
    assert z.op.get_attr("Tout") == tf.complex64
    assert tf.real(z).op.type == "Real" and tf.real(z).dtype == tf.float32
    assert tf.imag(z).op.type == "Imag" and tf.angle(z).op.type == "Angle"
    assert tf.conj(z).op.type == "Conj"
    a = complex_ops.complex_abs(z)
    assert a.op.type == "ComplexAbs" and a.op.name == "Abs" and a.dtype == tf.float32
    assert tf.complex(re, im, name="zz").op.name == "zz"
    c = tf.to_complex64(re)
    assert c.dtype == tf.complex64 and c.op.type == "Cast" and c.op.name == "ToComplex64"
    assert tf.to_complex128(re).dtype == tf.complex128


def test_complex_dtype_rules_and_broadcasting():
    z = tf.complex(tf.constant([[1.0], [2.0]], tf.float64), tf.constant([0.5, -1.0, 2.0], tf.float64))
    assert z.dtype == tf.complex128 and z.get_shape().as_list() == [2, 3]
    got = _run(z)
    np.testing.assert_array_equal(got, np.array([[1.0], [2.0]]) + 1j * np.array([0.5, -1.0, 2.0]))
    assert got.dtype == np.complex128
    with pytest.raises(TypeError, match="real and imag have incorrect types: float32 float64"):
        tf.complex(tf.constant(1.0), tf.constant(1.0, tf.float64))
    with pytest.raises(TypeError, match="incorrect types: int32 int32"):
        tf.complex(tf.constant(1), tf.constant(2))
    with pytest.raises(ValueError):
        tf.complex(tf.zeros([2]), tf.zeros([3]))


def test_parts_values_and_real_inputs():
    x = (R.randn(3, 4) + 1j * R.randn(3, 4)).astype(np.complex64)
    z = tf.constant(x)
    re, im, ang, mag = _run([tf.real(z), tf.imag(z), tf.angle(z), complex_ops.complex_abs(z)])
    np.testing.assert_array_equal(re, x.real)
    np.testing.assert_array_equal(im, x.imag)
    np.testing.assert_allclose(ang, np.angle(x), rtol=1e-6)
    np.testing.assert_allclose(mag, np.abs(x), rtol=1e-6)
    assert re.dtype == im.dtype == ang.dtype == mag.dtype == np.float32
    r = tf.constant([-2.0, 0.0, 3.0])
    assert tf.real(r) is r  # TF returns a real input unchanged
    np.testing.assert_array_equal(_run(tf.imag(r)), [0.0, 0.0, 0.0])
    np.testing.assert_allclose(_run(tf.angle(r)), [np.pi, 0.0, 0.0])
    with pytest.raises(TypeError, match="numeric"):
        tf.real(tf.constant([True]))


def test_cast_to_and_from_complex():
    x = tf.constant([1.5, -2.0])
    c = tf.cast(x, tf.complex64)
    np.testing.assert_array_equal(_run(c), np.array([1.5, -2.0], np.complex64))
    back = tf.cast(tf.constant([1.5 + 2j]), tf.float32)  # TF keeps the real part
    np.testing.assert_array_equal(_run(back), [1.5])
    g = tf.gradients(tf.reduce_sum(tf.real(c * c)), x)[0]
    np.testing.assert_allclose(_run(g), [3.0, -4.0])


def test_gradients_follow_tfs_conjugate_convention():
    # L = sum(w * Re(z^2)): dL/dz in TF's convention is dL/dRe + i dL/dIm = 2 w conj(z)
    x = R.randn(2, 3) + 1j * R.randn(2, 3)
    w = R.randn(2, 3)
    z = tf.constant(x)
    loss = tf.reduce_sum(tf.real(z * z) * w)
    np.testing.assert_allclose(_run(tf.gradients(loss, z)[0]), 2 * w * np.conj(x), rtol=1e-12)
    # angle: d/dRe atan2(b, a) = -b / |z|^2, d/dIm = a / |z|^2
    g = _run(tf.gradients(tf.reduce_sum(tf.angle(z) * w), z)[0])
    np.testing.assert_allclose(g, w * (-x.imag + 1j * x.real) / np.abs(x) ** 2, rtol=1e-10)
    # |z|: z / |z| (and 0 at z = 0, not NaN)
    z0 = tf.constant(np.array([3 + 4j, 0j]))
    g = _run(tf.gradients(tf.reduce_sum(complex_ops.complex_abs(z0)), z0)[0])
    np.testing.assert_allclose(g, [0.6 + 0.8j, 0.0])
    # imag and conj
    g = _run(tf.gradients(tf.reduce_sum(tf.imag(tf.conj(z)) * w), z)[0])
    np.testing.assert_allclose(g, -1j * w)


@pytest.mark.parametrize("fn", [
    lambda a, b: tf.angle(tf.complex(a, b)),
    lambda a, b: complex_ops.complex_abs(tf.complex(a, b) * tf.complex(b, a)),
    lambda a, b: [tf.real(tf.conj(tf.complex(a, b)) * tf.complex(a, a)), tf.imag(tf.complex(b, a) * tf.complex(a, b))],
], ids=["angle", "abs_of_product", "conj_products"])
def test_numerical_gradients_through_real_and_imag_parts(fn):
    gradient_check(fn, [R.uniform(0.5, 2, (3, 4)), R.uniform(0.5, 2, (3, 4))])


def test_complex_abs_rejects_real_input():
    with pytest.raises(TypeError, match="ComplexAbs expects complex64 or complex128"):
        complex_ops.complex_abs(tf.constant([1.0]))
    with pytest.raises(TypeError, match="not in list of allowed values"):
        tf.get_default_graph().create_op("Real", [tf.constant([1.0])])


def test_abs_of_complex_is_complex_abs_with_a_real_result():
    z = tf.constant([3 + 4j, -1 - 0j], tf.complex64)
    a = tf.abs(z)
    assert a.op.type == "ComplexAbs" and a.dtype == tf.float32
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(a), [5.0, 1.0])
    assert tf.abs(tf.constant([-2.0])).op.type == "Abs"
