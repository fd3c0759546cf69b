"""tf.signal's framing, windows, STFT / inverse STFT, DCTs and mel features: values against NumPy / SciPy
references, static shapes, gradients and errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft
import scipy.signal

import labflow as tf
from labflow.testing.gradient_check import gradient_check

R = np.random.RandomState(3)


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


def _np_frame(x, length, step, pad_end=False, pad_value=0.0):
    n = x.shape[-1]
    frames = -(-n // step) if pad_end else max(0, 1 + (n - length) // step)
    need = (frames - 1) * step + length if frames else 0
    if need > n:
        x = np.concatenate([x, np.full(x.shape[:-1] + (need - n,), pad_value, x.dtype)], -1)
    return np.stack([x[..., i * step:i * step + length] for i in range(frames)], -2)


@pytest.mark.parametrize("pad_end", [False, True])
def test_frame_values_static_and_dynamic_shapes(pad_end):
    x = R.randn(2, 11)
    want = _np_frame(x, 4, 3, pad_end, 9.0)
    out = tf.signal.frame(tf.constant(x), 4, 3, pad_end=pad_end, pad_value=9.0)
    assert out.get_shape().as_list() == list(want.shape)
    np.testing.assert_array_equal(_run(out), want)
    ph = tf.placeholder(tf.float64, [2, None])
    dyn = tf.signal.frame(ph, 4, 3, pad_end=pad_end, pad_value=9.0)
    assert dyn.get_shape().as_list() == [2, None, 4]
    np.testing.assert_array_equal(_run(dyn, {ph: x}), want)
    n = tf.placeholder(tf.int32, [])
    np.testing.assert_array_equal(_run(tf.signal.frame(tf.constant(x), n, 3, pad_end=pad_end, pad_value=9.0),
                                       {n: 4}), want)


def test_frame_other_axis_short_signal_and_gradient():
    x = R.randn(7, 2)
    out = tf.signal.frame(tf.constant(x), 3, 2, axis=0)
    assert out.get_shape().as_list() == [3, 3, 2]
    np.testing.assert_array_equal(_run(out), np.moveaxis(_np_frame(x.T, 3, 2), 0, -1))
    assert tf.signal.frame(tf.zeros([2, 3]), 5, 1).get_shape().as_list() == [2, 0, 5]
    gradient_check(lambda a: tf.signal.frame(a, 4, 2, pad_end=True), [R.randn(2, 9)])


def test_overlap_and_add_is_frames_adjoint():
    x = R.randn(2, 4, 6)
    out = tf.signal.overlap_and_add(tf.constant(x), 2)
    assert out.get_shape().as_list() == [2, 12]
    want = np.zeros((2, 12))
    for i in range(4):
        want[:, 2 * i:2 * i + 6] += x[:, i]
    np.testing.assert_allclose(_run(out), want)
    ph = tf.placeholder(tf.float64, [None, None, 6])
    np.testing.assert_allclose(_run(tf.signal.overlap_and_add(ph, 2), {ph: x}), want)
    gradient_check(lambda a: tf.signal.overlap_and_add(a, 3), [R.randn(3, 5)])


def test_windows_follow_tfs_periodic_rule():
    got = _run([tf.signal.hann_window(8), tf.signal.hann_window(8, periodic=False), tf.signal.hann_window(7),
                tf.signal.hamming_window(6), tf.signal.hann_window(1), tf.signal.hann_window(0)])
    np.testing.assert_allclose(got[0], scipy.signal.get_window("hann", 8), atol=1e-7)   # periodic
    np.testing.assert_allclose(got[1], scipy.signal.windows.hann(8, sym=True), atol=1e-7)
    np.testing.assert_allclose(got[2], scipy.signal.windows.hann(7, sym=True), atol=1e-7)  # odd: TF's symmetric
    np.testing.assert_allclose(got[3], scipy.signal.get_window("hamming", 6), atol=1e-7)
    np.testing.assert_array_equal(got[4], [1.0])
    assert got[5].shape == (0,) and got[0].dtype == np.float32
    n = tf.placeholder(tf.int32, [])
    np.testing.assert_allclose(_run(tf.signal.hann_window(n, dtype=tf.float64), {n: 8}), got[0], atol=1e-7)
    np.testing.assert_array_equal(_run(tf.signal.hamming_window(n), {n: 1}), [1.0])
    with pytest.raises(ValueError, match="floating point"):
        tf.signal.hann_window(4, dtype=tf.int32)
    with pytest.raises(ValueError, match="non-negative"):
        tf.signal.hann_window(-1)


def test_stft_matches_scipy_and_inverse_reconstructs():
    sig = R.randn(3, 200).astype(np.float32)
    st = tf.signal.stft(sig, 32, 8)
    assert st.dtype == tf.complex64 and st.get_shape().as_list() == [3, 22, 17]
    win = scipy.signal.get_window("hann", 32)
    _, _, z = scipy.signal.stft(sig, nperseg=32, noverlap=24, nfft=32, window=win, boundary=None, padded=False)
    np.testing.assert_allclose(_run(st), np.swapaxes(z, -1, -2) * win.sum(), rtol=1e-4, atol=1e-4)
    inv = tf.signal.inverse_stft(st, 32, 8, window_fn=tf.signal.inverse_stft_window_fn(8))
    assert inv.get_shape().as_list() == [3, 200]
    np.testing.assert_allclose(_run(inv)[:, 32:-32], sig[:, 32:-32], atol=1e-5)


def test_stft_options_and_gradient():
    sig = R.randn(50)
    st = tf.signal.stft(tf.constant(sig), 10, 4, fft_length=12, window_fn=None, pad_end=True)
    want = np.fft.rfft(_np_frame(sig, 10, 4, pad_end=True), 12)
    assert st.get_shape().as_list() == list(want.shape) and st.dtype == tf.complex128
    np.testing.assert_allclose(_run(st), want, rtol=1e-10, atol=1e-10)
    # frame_length above and below fft_length: the IRFFT output is cropped or zero-padded to frame_length
    for fl in (9, 14):
        inv = tf.signal.inverse_stft(st, fl, 4, fft_length=12, window_fn=None)
        frames = np.fft.irfft(want, 12)
        frames = frames[:, :fl] if fl < 12 else np.pad(frames, [(0, 0), (0, fl - 12)])
        assert inv.get_shape().as_list() == [(want.shape[0] - 1) * 4 + fl]
        want_inv = np.zeros((frames.shape[0] - 1) * 4 + fl)
        for i, f in enumerate(frames):
            want_inv[4 * i:4 * i + fl] += f
        np.testing.assert_allclose(_run(inv), want_inv, atol=1e-10)
    gradient_check(lambda a: [tf.abs(tf.real(tf.signal.stft(a, 8, 4))), tf.imag(tf.signal.stft(a, 8, 4))],
                   [R.randn(2, 30)])


def test_dct_and_idct_match_scipy():
    x = R.randn(3, 9)
    for t in (1, 2, 3, 4):
        for norm in (None, "ortho") if t != 1 else (None,):
            np.testing.assert_allclose(_run(tf.signal.dct(tf.constant(x), type=t, norm=norm)),
                                       scipy.fft.dct(x, type=t, norm=norm), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(_run(tf.signal.idct(tf.signal.dct(tf.constant(x), norm="ortho"), norm="ortho")), x,
                               atol=1e-12)
    np.testing.assert_allclose(_run(tf.spectral.idct(tf.constant(x))), scipy.fft.dct(x, type=3), atol=1e-10)
    np.testing.assert_allclose(_run(tf.signal.dct(tf.constant(x), n=5)), scipy.fft.dct(x, n=5), atol=1e-10)
    np.testing.assert_allclose(_run(tf.signal.dct(tf.constant(x), n=12)), scipy.fft.dct(x, n=12), atol=1e-10)
    gradient_check(lambda a: tf.signal.dct(a, norm="ortho"), [R.randn(2, 6)])
    gradient_check(lambda a: tf.signal.dct(a, type=3), [R.randn(2, 6)])


def test_dct_errors():
    x = tf.zeros([2, 4])
    with pytest.raises(ValueError, match="Types I, II, III and IV"):
        tf.signal.dct(x, type=5)
    with pytest.raises(NotImplementedError, match="axis must be -1"):
        tf.signal.dct(x, axis=0)
    with pytest.raises(ValueError, match="Normalization is not supported for the Type-I"):
        tf.signal.dct(x, type=1, norm="ortho")
    with pytest.raises(ValueError, match="Unknown normalization"):
        tf.signal.dct(x, norm="forward")
    with pytest.raises(ValueError, match="must be known"):
        tf.signal.dct(tf.placeholder(tf.float32, [2, None]))


def _np_mel(num_mel, num_bins, rate, lo, hi):
    def mel(f):
        return 1127.0 * np.log(1.0 + f / 700.0)
    freqs = mel(np.linspace(0.0, rate / 2, num_bins))
    edges = np.linspace(mel(lo), mel(hi), num_mel + 2)
    w = np.zeros((num_bins, num_mel))
    for m in range(num_mel):
        lower, center, upper = edges[m:m + 3]
        up = (freqs - lower) / (center - lower)
        down = (upper - freqs) / (upper - center)
        w[:, m] = np.maximum(0.0, np.minimum(up, down))
    w[0] = 0.0  # the DC bin
    return w


def test_linear_to_mel_weight_matrix():
    m = tf.signal.linear_to_mel_weight_matrix(40, 257, 16000, 20.0, 8000.0)
    assert m.get_shape().as_list() == [257, 40] and m.dtype == tf.float32
    np.testing.assert_allclose(_run(m), _np_mel(40, 257, 16000, 20.0, 8000.0), atol=1e-6)
    np.testing.assert_allclose(_run(tf.signal.linear_to_mel_weight_matrix(dtype=tf.float64)),
                               _np_mel(20, 129, 8000, 125.0, 3800.0), atol=1e-12)
    with pytest.raises(ValueError, match="num_mel_bins must be positive"):
        tf.signal.linear_to_mel_weight_matrix(0)
    with pytest.raises(ValueError, match="Nyquist"):
        tf.signal.linear_to_mel_weight_matrix(upper_edge_hertz=5000.0)
    with pytest.raises(ValueError, match=">= upper_edge_hertz"):
        tf.signal.linear_to_mel_weight_matrix(lower_edge_hertz=3000.0, upper_edge_hertz=2000.0)


def test_mfcc_pipeline():
    x = R.randn(2, 13)
    got = _run(tf.signal.mfccs_from_log_mel_spectrograms(tf.constant(x)))
    np.testing.assert_allclose(got, scipy.fft.dct(x, type=2) / np.sqrt(2 * 13), atol=1e-10)
    # a whole tutorial pipeline: |stft| -> mel -> log -> mfcc, differentiable end to end
    pcm = tf.placeholder(tf.float32, [None, 400])
    spec = tf.abs(tf.real(tf.signal.stft(pcm, 64, 32)))
    mel = tf.tensordot(spec, tf.signal.linear_to_mel_weight_matrix(16, 33, 8000, 50.0, 4000.0), 1)
    mfcc = tf.signal.mfccs_from_log_mel_spectrograms(tf.log(mel + 1e-6))[..., :13]
    assert mfcc.get_shape().as_list() == [None, 11, 13]
    g = tf.gradients(tf.reduce_sum(mfcc), pcm)[0]
    out, gv = _run([mfcc, g], {pcm: R.randn(2, 400)})
    assert out.shape == (2, 11, 13) and np.isfinite(gv).all()
    with pytest.raises(ValueError, match="known, non-zero last dimension"):
        tf.signal.mfccs_from_log_mel_spectrograms(tf.placeholder(tf.float32, [2, None]))


def test_kaiser_kbd_and_vorbis_windows():
    n = tf.placeholder(tf.int32, [])
    got = _run([tf.signal.kaiser_window(9, 5.0), tf.signal.kaiser_window(n, 14.0, dtype=tf.float64),
                tf.signal.kaiser_bessel_derived_window(10, 6.0), tf.signal.vorbis_window(8),
                tf.signal.kaiser_window(1)], {n: 10})
    np.testing.assert_allclose(got[0], np.kaiser(9, 5.0), atol=1e-6)
    np.testing.assert_allclose(got[1], np.kaiser(10, 14.0), atol=1e-12)
    np.testing.assert_allclose(got[2], scipy.signal.windows.kaiser_bessel_derived(10, 6.0), atol=1e-6)
    np.testing.assert_allclose(got[3], np.sin(np.pi / 2 * np.sin(np.pi * (np.arange(8) + 0.5) / 8) ** 2), atol=1e-6)
    np.testing.assert_array_equal(got[4], [1.0])
    with pytest.raises(ValueError, match="floating point"):
        tf.signal.vorbis_window(4, dtype=tf.int64)


def test_mdct_matches_the_definition_and_inverts():
    x = R.randn(2, 48)
    fl = 16
    half = fl // 2
    out = tf.signal.mdct(tf.constant(x), fl, window_fn=None)
    frames = _np_frame(x, fl, half) / np.sqrt(2)
    n, k = np.arange(fl), np.arange(half)
    basis = np.cos(np.pi / half * (n[:, None] + 0.5 + half / 2) * (k[None, :] + 0.5))
    assert out.get_shape().as_list() == [2, 5, 8]
    np.testing.assert_allclose(_run(out), 2 * frames @ basis, atol=1e-10)  # the type-IV DCT doubles, like TF
    for norm in (None, "ortho"):
        for win in (tf.signal.vorbis_window, tf.signal.kaiser_bessel_derived_window):
            back = tf.signal.inverse_mdct(tf.signal.mdct(tf.constant(x), fl, window_fn=win, norm=norm),
                                          window_fn=win, norm=norm)
            np.testing.assert_allclose(_run(back)[:, half:-half], x[:, half:-half], atol=1e-6)
    gradient_check(lambda a: tf.signal.mdct(a, 8, norm="ortho"), [R.randn(2, 24)])
    with pytest.raises(ValueError, match="multiple of 4"):
        tf.signal.mdct(tf.constant(x), 10)
