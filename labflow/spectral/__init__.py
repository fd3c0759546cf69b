"""`tf.spectral`: TF 1.x's namespace for the FFTs and DCTs (the same functions as tf.signal's)."""

from labflow import signal as _signal

__all__ = ["dct", "idct", "fft", "fft2d", "fft3d", "ifft", "ifft2d", "ifft3d", "irfft", "irfft2d", "irfft3d", "rfft",
           "rfft2d", "rfft3d"]

globals().update({n: getattr(_signal, n) for n in __all__})
