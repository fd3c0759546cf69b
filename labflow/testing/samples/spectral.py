"""Sweep samples for the FFT ops (FFT/IFFT, RFFT/IRFFT in 1, 2 and 3 dimensions) against numpy.fft.

Complex inputs are built with tf.complex from two real ones and complex outputs are returned as their
real and imaginary parts, so the sweep's gradient check (real inputs, real outputs) covers the complex
gradients. RFFT/IRFFT samples include fft_length cropping and zero-padding, and fft_length fed at run
time (unknown static lengths).
"""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow.ops import spectral_ops as so
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(29)
_C = {np.dtype(np.float32): np.complex64, np.dtype(np.float64): np.complex128}
_NP = (np.fft.fftn, np.fft.ifftn)
_RNP = (np.fft.rfftn, np.fft.irfftn)
_SFX = {1: "", 2: "2D", 3: "3D"}


def _parts(z):
    return [np.real(z), np.imag(z)]


def _z(a, b):
    return (a + 1j * b).astype(_C[a.dtype])


def _complex_cases(rank, inverse):
    fn = getattr(so, ("ifft" if inverse else "fft") + ("" if rank == 1 else f"{rank}d"))
    ref = _NP[1 if inverse else 0]
    axes = tuple(range(-rank, 0))
    shape = {1: (3, 8), 2: (2, 4, 5), 3: (2, 3, 4, 3)}[rank]

    def build(a, b):
        f = fn(tf.complex(a, b))
        return [tf.real(f), tf.imag(f)]
    return [Case(build, [R.randn(*shape), R.randn(*shape)], lambda a, b: _parts(ref(_z(a, b), axes=axes)),
                 atol=1e-5, name="parts")]


def _real_cases(rank, inverse):
    fn = getattr(so, ("irfft" if inverse else "rfft") + ("" if rank == 1 else f"{rank}d"))
    ref = _RNP[1 if inverse else 0]
    axes = tuple(range(-rank, 0))
    inner = {1: (8,), 2: (4, 6), 3: (2, 3, 4)}[rank]
    lengths = {"same": list(inner), "crop": [max(n - 1, 1) for n in inner], "pad": [n + 3 for n in inner]}
    cases = []
    for label, n in lengths.items():
        n = np.array(n, np.int32)
        if inverse:
            shape = (2,) + inner[:-1] + (inner[-1] // 2 + 1,)

            def build(a, b, n=n):
                return fn(tf.complex(a, b), n)

            def want(a, b, n=n):
                return ref(_z(a, b), s=list(n), axes=axes).astype(a.dtype)
            inputs = [R.randn(*shape), R.randn(*shape)]
        else:
            shape = (2,) + inner

            def build(a, n=n):
                f = fn(a, n)
                return [tf.real(f), tf.imag(f)]

            def want(a, n=n):
                return _parts(ref(a, s=list(n), axes=axes))
            inputs = [R.randn(*shape)]
        cases.append(Case(build, inputs, want, atol=1e-5, name=label))
    # fft_length fed at run time: no static inner dims, and the gradient pads/crops dynamically
    n = np.array([n + 1 for n in inner], np.int32)
    if inverse:
        shape = (2,) + inner[:-1] + (inner[-1] // 2 + 1,)
        cases.append(Case(lambda a, b, m: fn(tf.complex(a, b), m), [R.randn(*shape), R.randn(*shape), n],
                          lambda a, b, m: ref(_z(a, b), s=list(m), axes=axes).astype(a.dtype), atol=1e-5,
                          name="fed_length"))
    else:
        cases.append(Case(lambda a, m: [tf.real(fn(a, m)), tf.imag(fn(a, m))], [R.randn(2, *inner), n],
                          lambda a, m: _parts(ref(a, s=list(m), axes=axes)), atol=1e-5, name="fed_length"))
    return cases


for _rank in (1, 2, 3):
    for _inv in (False, True):
        samples(("IFFT" if _inv else "FFT") + _SFX[_rank])(lambda r=_rank, i=_inv: _complex_cases(r, i))
        samples(("IRFFT" if _inv else "RFFT") + _SFX[_rank])(lambda r=_rank, i=_inv: _real_cases(r, i))
