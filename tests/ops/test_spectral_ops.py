"""FFT/IFFT and RFFT/IRFFT in 1-3 dimensions (tf.fft*, tf.spectral.*, tf.signal.*): op types and attrs,
values against numpy.fft, static shapes, default fft_length, TF's gradients (including fft_length crops
and pads), the emulated GPU path, and errors."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow import errors
from labflow.testing.emulated_gpu import emulated_gpu
from labflow.testing.gradient_check import gradient_check

R = np.random.RandomState(7)


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


def _cplx(*shape, dtype=np.complex128):
    return (R.randn(*shape) + 1j * R.randn(*shape)).astype(dtype)


def test_names_op_types_and_attrs():
    z = tf.constant(_cplx(2, 4, dtype=np.complex64))
    for fn, t in [(tf.fft, "FFT"), (tf.ifft, "IFFT"), (tf.fft2d, "FFT2D"), (tf.ifft2d, "IFFT2D")]:
        out = fn(z)
        assert out.op.type == t and out.op.name == t and out.op.get_attr("Tcomplex") == tf.complex64
    assert tf.spectral.fft is tf.signal.fft is tf.fft
    r = tf.spectral.rfft(tf.constant(R.randn(3, 8)))
    assert r.op.type == "RFFT" and r.op.name == "rfft" and r.dtype == tf.complex128
    assert r.op.get_attr("Treal") == tf.float64 and r.op.get_attr("Tcomplex") == tf.complex128
    i = tf.signal.irfft(tf.constant(_cplx(3, 5, dtype=np.complex64)))
    assert i.op.type == "IRFFT" and i.dtype == tf.float32 and i.get_shape().as_list() == [3, 8]
    assert tf.spectral.rfft3d(tf.zeros([2, 3, 4])).op.type == "RFFT3D"


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_complex_transforms_match_numpy(rank):
    x = _cplx(2, 3, 4, 5)
    axes = tuple(range(-rank, 0))
    fwd = {1: tf.fft, 2: tf.fft2d, 3: tf.fft3d}[rank]
    inv = {1: tf.ifft, 2: tf.ifft2d, 3: tf.ifft3d}[rank]
    f, b = _run([fwd(x), inv(x)])
    np.testing.assert_allclose(f, np.fft.fftn(x, axes=axes), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b, np.fft.ifftn(x, axes=axes), rtol=1e-10, atol=1e-12)
    f32 = _run(fwd(x.astype(np.complex64)))
    assert f32.dtype == np.complex64
    np.testing.assert_allclose(f32, np.fft.fftn(x, axes=axes), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_real_transforms_match_numpy_with_crops_and_pads(rank):
    x = R.randn(2, 6, 5, 8)
    axes = tuple(range(-rank, 0))
    rfft = {1: tf.signal.rfft, 2: tf.signal.rfft2d, 3: tf.signal.rfft3d}[rank]
    irfft = {1: tf.signal.irfft, 2: tf.signal.irfft2d, 3: tf.signal.irfft3d}[rank]
    for n in ([8, 5, 6][-rank:], [4, 3, 11][-rank:]):
        spec = rfft(tf.constant(x), n)
        want = np.fft.rfftn(x, s=n, axes=axes)
        assert spec.get_shape().as_list() == list(want.shape)
        np.testing.assert_allclose(_run(spec), want, rtol=1e-10, atol=1e-10)
        back = irfft(tf.constant(want), n)
        assert back.get_shape().as_list() == list(x.shape[:4 - rank]) + n
        np.testing.assert_allclose(_run(back), np.fft.irfftn(want, s=n, axes=axes), rtol=1e-10, atol=1e-10)


def test_default_fft_length_static_and_dynamic():
    x = R.randn(3, 10).astype(np.float32)
    ph = tf.placeholder(tf.float32, [None, None])
    spec = tf.signal.rfft(ph)
    assert spec.get_shape().as_list() == [None, None]
    np.testing.assert_allclose(_run(spec, {ph: x}), np.fft.rfft(x), rtol=1e-5, atol=1e-5)
    s = np.fft.rfft(x)
    cph = tf.placeholder(tf.complex64, [3, None])
    back = tf.signal.irfft(cph)  # fft_length = 2 * (bins - 1)
    np.testing.assert_allclose(_run(back, {cph: s}), x, rtol=1e-5, atol=1e-5)
    n = tf.placeholder(tf.int32, [1])
    fed = tf.signal.rfft(tf.constant(x), n)
    assert fed.get_shape().as_list() == [3, None]
    np.testing.assert_allclose(_run(fed, {n: [7]}), np.fft.rfft(x, 7), rtol=1e-5, atol=1e-5)


def test_numpy_inputs_default_to_single_precision_like_tf():
    assert tf.signal.rfft(np.zeros(4)).dtype == tf.complex64
    assert tf.signal.irfft(np.zeros(3, np.complex128)).dtype == tf.float32
    assert tf.signal.rfft(tf.constant(np.zeros(4))).dtype == tf.complex128


def test_irfft_ignores_imaginary_dc_and_nyquist_like_tf():
    s = np.array([1 + 5j, 2 + 1j, 3 - 7j])
    np.testing.assert_allclose(_run(tf.signal.irfft(tf.constant(s))), np.fft.irfft(s.real + [0, 1j, 0]), atol=1e-12)


def test_fft_gradients_are_tfs():
    x = _cplx(2, 6)
    w = _cplx(2, 6)
    z = tf.constant(x)
    # L = Re(sum(conj(w) * FFT(z))): TF's gradient is n * IFFT(w)
    loss = tf.real(tf.reduce_sum(tf.conj(tf.constant(w)) * tf.fft(z)))
    np.testing.assert_allclose(_run(tf.gradients(loss, z)[0]), 6 * np.fft.ifft(w), rtol=1e-10)
    loss = tf.real(tf.reduce_sum(tf.conj(tf.constant(w)) * tf.ifft(z)))
    np.testing.assert_allclose(_run(tf.gradients(loss, z)[0]), np.fft.fft(w) / 6, rtol=1e-10)


def test_rfft_and_irfft_gradients_match_tfs_formulas():
    n = 8
    x = R.randn(3, n)
    g = _cplx(3, n // 2 + 1)
    xt = tf.constant(x)
    loss = tf.real(tf.reduce_sum(tf.conj(tf.constant(g)) * tf.signal.rfft(xt)))
    got = _run(tf.gradients(loss, xt)[0])
    # TF's formula: 0.5 * (n * irfft(g) + Re(g_0) + Re(g_{n/2}) (-1)^k)
    want = 0.5 * (n * np.fft.irfft(g, n) + g[:, :1].real + g[:, -1:].real * (-1.0) ** np.arange(n))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    c = tf.constant(_cplx(3, n // 2 + 1))
    gy = R.randn(3, n)
    got = _run(tf.gradients(tf.reduce_sum(tf.signal.irfft(c) * gy), c)[0])
    mask = np.array([1.0] + [2.0] * (n // 2 - 1) + [1.0])
    np.testing.assert_allclose(got, np.fft.rfft(gy) * mask / n, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("rank,n", [(1, [5]), (1, [12]), (2, [3, 7]), (2, [5, 4]), (3, [2, 3, 5])])
def test_real_transform_gradients_numerically_with_crops_and_pads(rank, n):
    rfft = {1: tf.signal.rfft, 2: tf.signal.rfft2d, 3: tf.signal.rfft3d}[rank]
    irfft = {1: tf.signal.irfft, 2: tf.signal.irfft2d, 3: tf.signal.irfft3d}[rank]
    gradient_check(lambda a: [tf.real(rfft(a, n)), tf.imag(rfft(a, n))], [R.randn(2, 4, 8)])
    gradient_check(lambda a, b: irfft(tf.complex(a, b), n), [R.randn(2, 4, 4), R.randn(2, 4, 4)])


def test_fftshift_matches_numpy():
    x = R.randn(3, 5)
    got = _run([tf.signal.fftshift(x), tf.signal.ifftshift(x), tf.signal.fftshift(x, axes=1)])
    np.testing.assert_array_equal(got[0], np.fft.fftshift(x))
    np.testing.assert_array_equal(got[1], np.fft.ifftshift(x))
    np.testing.assert_array_equal(got[2], np.fft.fftshift(x, axes=1))


def test_empty_and_zero_length_transforms():
    np.testing.assert_array_equal(_run(tf.fft(np.zeros([0, 4], np.complex64))).shape, [0, 4])
    out = _run(tf.signal.rfft(np.zeros([2, 3], np.float32), [0]))
    assert out.shape == (2, 1) and not out.any()


def test_errors():
    with pytest.raises(TypeError, match="complex64, complex128"):
        tf.fft(tf.constant([1.0, 2.0]))
    with pytest.raises(ValueError, match="at least rank 2"):
        tf.fft2d(tf.constant([1j, 2j]))
    with pytest.raises(ValueError, match="RFFT requires tf.float32 or tf.float64 inputs"):
        tf.signal.rfft(tf.constant([1j]), [1])
    with pytest.raises(ValueError, match="IRFFT requires tf.complex64 or tf.complex128 inputs"):
        tf.signal.irfft2d(tf.zeros([2, 2]))
    with pytest.raises(ValueError, match="vector of 2 lengths"):
        tf.signal.rfft2d(tf.zeros([3, 3]), [3])
    with pytest.raises(ValueError, match="must not be negative"):
        tf.signal.rfft(tf.zeros([3]), [-2])
    n = tf.placeholder(tf.int32, [None])
    with pytest.raises(errors.InvalidArgumentError, match="RFFT: fft_length must hold 1 non-negative"):
        _run(tf.signal.rfft(tf.zeros([3]), n), {n: [2, 3]})
    z = tf.placeholder(tf.complex64)
    with pytest.raises(errors.InvalidArgumentError, match="FFT2D: the input must have rank at least 2"):
        _run(tf.fft2d(z), {z: np.ones(3, np.complex64)})


def test_kernels_run_on_the_emulated_gpu():
    x = _cplx(2, 8)
    r = R.randn(2, 8).astype(np.float32)
    with emulated_gpu() as emu:
        with tf.Graph().as_default():
            xp, rp = tf.placeholder(tf.complex128, [2, 8]), tf.placeholder(tf.float32, [2, 8])
            with tf.device("/gpu:0"):
                outs = [tf.fft(xp), tf.ifft2d(xp), tf.signal.rfft(rp), tf.signal.irfft(xp, [10])]
            with tf.Session() as sess:
                meta = tf.RunMetadata()
                got = sess.run(outs, {xp: x, rp: r}, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE),
                               run_metadata=meta)
    on_gpu = {ns.node_name for ds in meta.step_stats.dev_stats if "GPU" in ds.device for ns in ds.node_stats}
    assert {"FFT", "IFFT2D", "rfft", "irfft"} <= on_gpu
    assert emu.transfers > 0
    np.testing.assert_allclose(got[0], np.fft.fft(x), rtol=1e-10)
    np.testing.assert_allclose(got[1], np.fft.ifft2(x), rtol=1e-10)
    assert got[2].dtype == np.complex64 and got[3].dtype == np.float64
    np.testing.assert_allclose(got[3], np.fft.irfft(x, 10), rtol=1e-10, atol=1e-12)
