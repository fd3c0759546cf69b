"""`tf.signal`: FFTs, framing, windows, short-time Fourier transforms, DCTs and mel features."""

from labflow.ops.signal_dct import dct, idct
from labflow.ops.signal_framing import frame, overlap_and_add
from labflow.ops.signal_mdct import inverse_mdct, mdct
from labflow.ops.signal_mel import linear_to_mel_weight_matrix, mfccs_from_log_mel_spectrograms
from labflow.ops.signal_stft import inverse_stft, inverse_stft_window_fn, stft
from labflow.ops.signal_windows import (
    hamming_window,
    hann_window,
    kaiser_bessel_derived_window,
    kaiser_window,
    vorbis_window,
)
from labflow.ops.spectral_ops import (
    fft,
    fft2d,
    fft3d,
    fftshift,
    ifft,
    ifft2d,
    ifft3d,
    ifftshift,
    irfft,
    irfft2d,
    irfft3d,
    rfft,
    rfft2d,
    rfft3d,
)

__all__ = ["dct", "idct", "frame", "overlap_and_add", "linear_to_mel_weight_matrix", "mfccs_from_log_mel_spectrograms",
           "inverse_stft", "inverse_stft_window_fn", "stft", "hamming_window", "hann_window", "fft", "fft2d", "fft3d",
           "fftshift", "ifft", "ifft2d", "ifft3d", "ifftshift", "irfft", "irfft2d", "irfft3d", "rfft", "rfft2d",
           "rfft3d", "mdct", "inverse_mdct", "kaiser_window", "kaiser_bessel_derived_window", "vorbis_window"]
