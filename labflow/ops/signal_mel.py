"""Mel-scale features: tf.signal.linear_to_mel_weight_matrix and mfccs_from_log_mel_spectrograms."""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.tensor import Tensor
from labflow.ops.common import convert_to_tensor, dims
from labflow.ops.math_helpers import op_scope

# HTK's mel scale, TF's constants
_MEL_BREAK_FREQUENCY_HERTZ = 700.0
_MEL_HIGH_FREQUENCY_Q = 1127.0


def _hertz_to_mel(hz: Any) -> Any:
    return _MEL_HIGH_FREQUENCY_Q * np.log(1.0 + np.asarray(hz, np.float64) / _MEL_BREAK_FREQUENCY_HERTZ)


def linear_to_mel_weight_matrix(num_mel_bins: int = 20, num_spectrogram_bins: int = 129, sample_rate: float = 8000,
                                lower_edge_hertz: float = 125.0, upper_edge_hertz: float = 3800.0,
                                dtype: Any = _dt.float32, name: str | None = None) -> Tensor:
    """A `[num_spectrogram_bins, num_mel_bins]` matrix of triangular mel filters (HTK's mel scale).

    Multiplying a linear-frequency magnitude spectrogram `[..., num_spectrogram_bins]` by it gives a mel
    spectrogram. The DC bin gets no weight, like TF.

    Args:
        num_mel_bins: the number of mel bands.
        num_spectrogram_bins: the number of spectrogram bins (fft_length // 2 + 1).
        sample_rate: the sample rate of the signal, in Hz.
        lower_edge_hertz: the lower edge of the lowest band.
        upper_edge_hertz: the upper edge of the highest band (at most sample_rate / 2).
        dtype: the floating-point dtype of the result.
        name: a name for the operation.

    Raises:
        ValueError: a non-positive count or rate, or band edges out of order or above the Nyquist frequency.
    """
    dtype = _dt.as_dtype(dtype).base_dtype
    if not dtype.is_floating:
        raise ValueError(f"linear_to_mel_weight_matrix: dtype must be a floating point type, got {dtype.name}")
    if int(num_mel_bins) <= 0:
        raise ValueError(f"num_mel_bins must be positive. Got: {num_mel_bins}")
    if int(num_spectrogram_bins) <= 0:
        raise ValueError(f"num_spectrogram_bins must be positive. Got: {num_spectrogram_bins}")
    if sample_rate <= 0.0:
        raise ValueError(f"sample_rate must be positive. Got: {sample_rate}")
    if lower_edge_hertz < 0.0:
        raise ValueError(f"lower_edge_hertz must be non-negative. Got: {lower_edge_hertz}")
    if lower_edge_hertz >= upper_edge_hertz:
        raise ValueError(f"lower_edge_hertz {lower_edge_hertz} >= upper_edge_hertz {upper_edge_hertz}")
    if upper_edge_hertz > sample_rate / 2:
        raise ValueError(f"upper_edge_hertz must not be larger than the Nyquist frequency (sample_rate / 2). "
                         f"Got {upper_edge_hertz} for sample_rate: {sample_rate}")
    with op_scope(name, "linear_to_mel_weight_matrix", []) as scope:
        nyquist = sample_rate / 2.0
        freqs = np.linspace(0.0, nyquist, int(num_spectrogram_bins))[1:]
        mels = _hertz_to_mel(freqs)[:, None]
        edges = np.linspace(_hertz_to_mel(lower_edge_hertz), _hertz_to_mel(upper_edge_hertz), int(num_mel_bins) + 2)
        lower, center, upper = edges[None, :-2], edges[None, 1:-1], edges[None, 2:]
        lower_slopes = (mels - lower) / (center - lower)
        upper_slopes = (upper - mels) / (upper - center)
        w = np.maximum(0.0, np.minimum(lower_slopes, upper_slopes))
        w = np.concatenate([np.zeros((1, int(num_mel_bins))), w], 0)
        return convert_to_tensor(w.astype(dtype.as_numpy_dtype), dtype=dtype, name=scope.rstrip("/"))


def mfccs_from_log_mel_spectrograms(log_mel_spectrograms: Any, name: str | None = None) -> Tensor:
    """Mel-frequency cepstral coefficients: the orthonormal-scaled type-II DCT of log-mel spectrograms.

    Args:
        log_mel_spectrograms: a `[..., num_mel_bins]` float32/float64 tensor (last dimension known).
        name: a name for the operation.

    Returns:
        A `[..., num_mel_bins]` tensor: dct(x, type=2) * rsqrt(2 * num_mel_bins), like TF (keep the first
        12-13 coefficients as features).

    Raises:
        ValueError: the last dimension is unknown or zero.
    """
    from labflow.ops import math_ops
    from labflow.ops.signal_dct import dct
    with op_scope(name, "mfccs_from_log_mel_spectrograms", [log_mel_spectrograms]):
        x = convert_to_tensor(log_mel_spectrograms, name="log_mel_spectrograms")
        d = dims(x)
        if d is None or len(d) < 1 or not d[-1]:
            raise ValueError("mfccs_from_log_mel_spectrograms: the input needs a known, non-zero last "
                             f"dimension (num_mel_bins), got shape {d}")
        out = dct(x, type=2)
        return math_ops.multiply(out, convert_to_tensor(1.0 / np.sqrt(2.0 * d[-1]), dtype=x.dtype))
